//! The auth gate every transport calls before any tool runs: key → scope → limits.
//!
//! It turns every refusal into a [`Refusal`] carrying a stable [`Code`], which maps to an HTTP
//! status and a JSON-RPC code, and a message that names the cause and the fix without echoing the key.

use std::sync::Arc;

use serde::Serialize;

use crate::auth::{AuthError, Principal, authenticate};
use crate::clock::{self, Timestamp};
use crate::domain::{Env, Scope};
use crate::quota::{Admitted, ChargeTicket, Limits, QuotaError};
use crate::store::{KeyStore, StoreResult};

/// Every reason a request can be refused, and how each is reported on each transport.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Code {
    /// No key was presented.
    MissingKey,
    /// The key's shape is wrong.
    MalformedKey,
    /// The key's checksum does not match.
    BadChecksum,
    /// The key is not in this store.
    UnknownKey,
    /// The key was revoked.
    KeyRevoked,
    /// The key expired.
    KeyExpired,
    /// The key is for the other environment.
    WrongEnv,
    /// The key lacks the tool's scope.
    MissingScope,
    /// Too many calls per second.
    RateLimited,
    /// The daily quota is used up.
    QuotaExceeded,
    /// Something failed on our side.
    Internal,
}

impl Code {
    /// The snake_case name.
    pub fn as_str(self) -> &'static str {
        match self {
            Code::MissingKey => "missing_key",
            Code::MalformedKey => "malformed_key",
            Code::BadChecksum => "bad_checksum",
            Code::UnknownKey => "unknown_key",
            Code::KeyRevoked => "key_revoked",
            Code::KeyExpired => "key_expired",
            Code::WrongEnv => "wrong_env",
            Code::MissingScope => "missing_scope",
            Code::RateLimited => "rate_limited",
            Code::QuotaExceeded => "quota_exceeded",
            Code::Internal => "internal",
        }
    }

    /// The HTTP status: 401 for any key problem, 403 for scope, 429 for limits.
    pub fn http_status(self) -> u16 {
        match self {
            Code::MissingScope => 403,
            Code::RateLimited | Code::QuotaExceeded => 429,
            Code::Internal => 500,
            _ => 401,
        }
    }

    /// The JSON-RPC error code, in the implementation-defined server range (-32000..-32099) and
    /// clear of -32001, which the official clients use for their own timeouts.
    pub fn jsonrpc_code(self) -> i32 {
        match self.http_status() {
            401 => -32040,
            403 => -32041,
            429 => -32042,
            _ => -32603,
        }
    }

    /// Whether the refusal is about the key itself (HTTP `error="invalid_token"`).
    pub fn is_invalid_token(self) -> bool {
        self.http_status() == 401
    }
}

/// A refused request: what to tell the caller.
#[derive(Debug, Clone, Serialize)]
pub struct Refusal {
    /// Stable code.
    pub code: Code,
    /// One sentence naming the cause and the fix.
    pub message: String,
    /// The scope that was missing, for `missing_scope`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scope: Option<Scope>,
    /// Seconds until a retry can succeed, for limits.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub retry_after_secs: Option<u64>,
    /// The daily limit, for `quota_exceeded`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub limit: Option<u64>,
    /// When the daily quota resets (RFC 3339), for `quota_exceeded`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub resets_at: Option<String>,
}

impl Refusal {
    /// Too many open sessions for one key. `next_free`: how long until the least recently used
    /// of them idles out (`None` when all are open event streams, which end only when closed).
    pub fn too_many_sessions(max: usize, next_free: Option<std::time::Duration>) -> Refusal {
        // A second more than our estimate: rmcp's idle clock starts a moment after ours.
        let retry_after_secs = next_free.map(|wait| wait.as_secs() + 1);
        let when = match retry_after_secs {
            Some(secs) => format!("the least recently used one ends in {secs} s if it stays idle"),
            None => "they are all open event streams, which end when closed".to_owned(),
        };
        Refusal {
            retry_after_secs,
            ..Refusal::new(
                Code::RateLimited,
                format!(
                    "this API key already holds {max} open sessions: close some (DELETE /mcp with the session id, or close the event stream) before opening more; {when}"
                ),
            )
        }
    }

    /// A failure on our side, with a message safe to show.
    pub fn internal(message: &str) -> Refusal {
        Refusal::new(Code::Internal, message.to_owned())
    }

    fn new(code: Code, message: String) -> Refusal {
        Refusal {
            code,
            message,
            scope: None,
            retry_after_secs: None,
            limit: None,
            resets_at: None,
        }
    }
}

impl From<AuthError> for Refusal {
    fn from(err: AuthError) -> Self {
        let code = match &err {
            AuthError::Missing => Code::MissingKey,
            AuthError::Malformed(_) => Code::MalformedKey,
            AuthError::BadChecksum => Code::BadChecksum,
            AuthError::Unknown { .. } | AuthError::TenantGone { .. } => Code::UnknownKey,
            AuthError::Revoked { .. } => Code::KeyRevoked,
            AuthError::Expired { .. } => Code::KeyExpired,
            AuthError::WrongEnv { .. } => Code::WrongEnv,
            AuthError::Store(_) => Code::Internal,
        };
        let message = match err {
            AuthError::Missing => "no API key was given: set DOCWARD_API_KEY in the MCP client's server config (stdio) or send `Authorization: Bearer <key>` (HTTP); create a key with `docward key create`".to_owned(),
            AuthError::Store(e) => {
                tracing::error!(error = %e, "store failed during authentication");
                "the server could not check the API key; see the server's log".to_owned()
            }
            other => other.to_string(),
        };
        Refusal::new(code, message)
    }
}

impl From<QuotaError> for Refusal {
    fn from(err: QuotaError) -> Self {
        let message = err.to_string();
        match err {
            QuotaError::Burst { retry_after, .. } => Refusal {
                retry_after_secs: Some(retry_after.as_secs().max(1)),
                ..Refusal::new(Code::RateLimited, message)
            },
            QuotaError::Daily {
                limit, resets_at, ..
            } => Refusal {
                retry_after_secs: Some((resets_at - clock::now()).max(1) as u64),
                limit: Some(limit),
                resets_at: Some(clock::format(resets_at)),
                ..Refusal::new(Code::QuotaExceeded, message)
            },
            QuotaError::Store(e) => {
                tracing::error!(error = %e, "store failed while counting a call");
                Refusal::new(
                    Code::Internal,
                    "the server could not count the call; see the server's log".to_owned(),
                )
            }
        }
    }
}

/// The command an administrator runs for a key like `principal`'s with `more` scopes too.
pub fn key_create_command(principal: &Principal, more: &[Scope]) -> String {
    let mut scopes: Vec<Scope> = principal.scopes.clone();
    scopes.extend(more.iter().filter(|s| !principal.scopes.contains(s)));
    let flags: Vec<String> = scopes.iter().map(|s| format!("--scope {s}")).collect();
    format!(
        "docward key create --tenant {} --name NAME --env {} {}",
        principal.tenant,
        principal.env,
        flags.join(" ")
    )
}

/// The scopes a key holds, for messages.
pub fn scope_list(principal: &Principal) -> String {
    if principal.scopes.is_empty() {
        return "no scopes".to_owned();
    }
    let names: Vec<&str> = principal.scopes.iter().map(|s| s.as_str()).collect();
    names.join(", ")
}

/// Names the scope a key lacks, the tools it hides, and the command that creates a key with it.
pub fn missing_scope_message(principal: &Principal, scope: Scope) -> String {
    let tools: Vec<&str> = crate::server::TOOL_SCOPES
        .iter()
        .filter(|(_, s)| *s == scope)
        .map(|(name, _)| *name)
        .collect();
    format!(
        "API key {} lacks the scope {scope}, so {} is hidden from it and refused (it has: {}). An administrator creates a key with it: `{}`",
        principal.key_display,
        if tools.is_empty() {
            "the tool".to_owned()
        } else {
            tools.join(", ")
        },
        scope_list(principal),
        key_create_command(principal, &[scope])
    )
}

/// A call that passed the gate.
#[derive(Debug, Clone)]
pub struct Admission {
    /// Who is calling.
    pub principal: Principal,
    /// Where the caller stands against its daily quota.
    pub admitted: Admitted,
    /// How to take the call back if it never reaches its tool ([`Gate::refund`]).
    pub ticket: ChargeTicket,
}

/// The gate of one server: its store, its environment and its limits.
pub struct Gate {
    store: Arc<dyn KeyStore>,
    env: Env,
    limits: Limits,
}

impl Gate {
    /// A gate for a server running in `env`.
    pub fn new(store: Arc<dyn KeyStore>, env: Env, limits: Limits) -> Gate {
        Gate { store, env, limits }
    }

    /// The server's environment.
    pub fn env(&self) -> Env {
        self.env
    }

    /// The limits every call passes.
    pub fn limits(&self) -> &Limits {
        &self.limits
    }

    /// The store behind the gate.
    pub fn store(&self) -> &Arc<dyn KeyStore> {
        &self.store
    }

    /// Authenticates a presented key (no scope, no counting): for listing tools and opening sessions.
    pub fn authenticate(
        &self,
        presented: Option<&str>,
        now: Timestamp,
    ) -> Result<Principal, Refusal> {
        Ok(authenticate(
            self.store.as_ref(),
            presented.unwrap_or(""),
            self.env,
            now,
        )?)
    }

    /// Admits one tool call needing `scope`: authenticates again (so revocation and expiry bite at
    /// once), checks the scope, then the burst limit and the daily quota.
    pub fn admit(
        &self,
        presented: Option<&str>,
        scope: Scope,
        now: Timestamp,
    ) -> Result<Admission, Refusal> {
        let principal = self.authenticate(presented, now)?;
        self.admit_principal(principal, scope, now)
    }

    /// Like [`Gate::admit`] for a caller authenticated already in this request.
    pub fn admit_principal(
        &self,
        principal: Principal,
        scope: Scope,
        now: Timestamp,
    ) -> Result<Admission, Refusal> {
        if !principal.has_scope(scope) {
            return Err(Refusal {
                scope: Some(scope),
                ..Refusal::new(Code::MissingScope, missing_scope_message(&principal, scope))
            });
        }
        let (admitted, ticket) = self.limits.admit(self.store.as_ref(), &principal, now)?;
        Ok(Admission {
            principal,
            admitted,
            ticket,
        })
    }

    /// Takes back an admitted call that never reached its tool (the transport refused it after
    /// the gate counted it): it leaves the quota and the usage report. Idempotent for live calls.
    pub fn refund(&self, admission: &Admission) -> StoreResult<bool> {
        self.store
            .refund(admission.ticket.id, &admission.ticket.request)
    }
}
