//! The only door: a presented token becomes a [`Principal`] or an [`AuthError`] naming the cause.

use serde::Serialize;

use crate::clock::{self, Timestamp};
use crate::domain::{Env, Plan, Scope, TokenType};
use crate::store::{KeyStatus, KeyStore, StoreError};
use crate::token::{Token, TokenError};

/// Who is calling, once authenticated. Tools receive this and never a token.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Principal {
    /// The tenant that owns the key.
    pub tenant: String,
    /// The key's id.
    pub key_id: String,
    /// The key's name.
    pub key_name: String,
    /// How the key is shown: `dw_live_AbCd1234…`.
    pub key_display: String,
    /// The environment of the key (equal to the server's).
    pub env: Env,
    /// Restricted or unrestricted.
    pub token_type: TokenType,
    /// The scopes the key holds (all of them for unrestricted keys).
    pub scopes: Vec<Scope>,
    /// The tenant's plan.
    pub plan: Plan,
    /// The tenant's daily live-request limit (`None`: unlimited).
    pub daily_limit: Option<u64>,
    /// When the key expires, if it does.
    pub expires_at: Option<Timestamp>,
}

impl Principal {
    /// Whether the key holds `scope`.
    pub fn has_scope(&self, scope: Scope) -> bool {
        self.scopes.contains(&scope)
    }
}

/// Why a presented token was refused. Every message names the cause and what the key's owner can do,
/// and refers to the key by its display prefix only.
#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    /// No token was presented.
    #[error("no API key was given")]
    Missing,
    /// The token's shape is wrong.
    #[error("malformed API key: {0}; copy the whole key, it starts with dw_live_ or dw_test_")]
    Malformed(&'static str),
    /// The checksum does not match.
    #[error(
        "API key checksum does not match: the key was mistyped or cut short; paste it again in full"
    )]
    BadChecksum,
    /// Well-formed, but no such key exists in this store.
    #[error(
        "API key dw_{env}_{prefix}… is not known to this server: it was never created here (check --data-dir) or it was deleted"
    )]
    Unknown {
        /// The environment named in the token.
        env: Env,
        /// Its display prefix.
        prefix: String,
    },
    /// The key was revoked.
    #[error("API key {key} was revoked on {}; create a new one with `docward key create`", clock::format_short(*.at))]
    Revoked {
        /// The key's display.
        key: String,
        /// When.
        at: Timestamp,
    },
    /// The key expired.
    #[error("API key {key} expired on {}{}", clock::format_short(*.at), match .rotated_to { Some(id) => format!("; it was rotated: use the new key ({id})"), None => "; create a new one with `docward key create` or rotate it with `docward key rotate`".to_owned() })]
    Expired {
        /// The key's display.
        key: String,
        /// When.
        at: Timestamp,
        /// The key that replaced it, if it was rotated.
        rotated_to: Option<String>,
    },
    /// The key belongs to the other environment.
    #[error(
        "{key_env} key used against a {server_env} server: start the server with --env {key_env} or use a {server_env} key"
    )]
    WrongEnv {
        /// The key's environment.
        key_env: Env,
        /// The server's environment.
        server_env: Env,
    },
    /// The key's tenant no longer exists.
    #[error("the tenant of API key {key} no longer exists")]
    TenantGone {
        /// The key's display.
        key: String,
    },
    /// The store failed.
    #[error("could not check the API key: {0}")]
    Store(#[from] StoreError),
}

impl AuthError {
    /// A stable snake_case code for machines and logs.
    pub fn code(&self) -> &'static str {
        match self {
            AuthError::Missing => "missing_key",
            AuthError::Malformed(_) => "malformed_key",
            AuthError::BadChecksum => "bad_checksum",
            AuthError::Unknown { .. } => "unknown_key",
            AuthError::Revoked { .. } => "key_revoked",
            AuthError::Expired { .. } => "key_expired",
            AuthError::WrongEnv { .. } => "wrong_env",
            AuthError::TenantGone { .. } => "unknown_key",
            AuthError::Store(_) => "internal",
        }
    }
}

impl From<TokenError> for AuthError {
    fn from(err: TokenError) -> Self {
        match err {
            TokenError::Empty => AuthError::Missing,
            TokenError::Malformed(why) => AuthError::Malformed(why),
            TokenError::BadChecksum => AuthError::BadChecksum,
            TokenError::Rng(_) => AuthError::Malformed("unreadable"),
        }
    }
}

/// Authenticates a presented token for a server running in `server_env` at `now`.
///
/// Trims pasted whitespace and quotes, checks format and checksum (no lookup for a malformed
/// token), hashes, looks the hash up, checks revocation, expiry and environment, and records
/// the use. Lookup is by blake3 hash: the store never compares clear tokens.
pub fn authenticate(
    store: &dyn KeyStore,
    presented: &str,
    server_env: Env,
    now: Timestamp,
) -> Result<Principal, AuthError> {
    let principal = inspect(store, presented, server_env, now)?;
    store.touch_key(&principal.key_id, now)?;
    Ok(principal)
}

/// The checks of [`authenticate`] without recording a use, for `docward key verify`: checking a
/// key must not make a key that no client uses any more look in use. Every request of a client
/// goes through [`authenticate`] instead.
pub fn inspect(
    store: &dyn KeyStore,
    presented: &str,
    server_env: Env,
    now: Timestamp,
) -> Result<Principal, AuthError> {
    let token = Token::parse(presented)?;
    let Some((key, tenant)) = store.credential(&token.hash())? else {
        return Err(AuthError::Unknown {
            env: token.env(),
            prefix: token.display_prefix().to_owned(),
        });
    };
    match key.status(now) {
        KeyStatus::Active => {}
        KeyStatus::Revoked => {
            return Err(AuthError::Revoked {
                key: key.display(),
                at: key.revoked_at.unwrap_or(now),
            });
        }
        KeyStatus::Expired => {
            return Err(AuthError::Expired {
                key: key.display(),
                at: key.expires_at.unwrap_or(now),
                rotated_to: key.rotated_to.clone(),
            });
        }
    }
    if key.env != server_env {
        return Err(AuthError::WrongEnv {
            key_env: key.env,
            server_env,
        });
    }
    let Some(tenant) = tenant else {
        return Err(AuthError::TenantGone { key: key.display() });
    };
    Ok(Principal {
        scopes: key.effective_scopes(),
        key_display: key.display(),
        tenant: key.tenant,
        key_id: key.id,
        key_name: key.name,
        env: key.env,
        token_type: key.token_type,
        plan: tenant.plan,
        daily_limit: tenant.effective_daily_limit(),
        expires_at: key.expires_at,
    })
}
