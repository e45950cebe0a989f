//! Typed records kept in the store, and their on-disk encoding.

use serde::{Deserialize, Serialize, de::DeserializeOwned};

use super::error::{StoreError, StoreResult};
use crate::clock::Timestamp;
use crate::domain::{Env, Plan, Scope, TokenType};

/// Encoding version written before every value.
const VALUE_VERSION: u8 = 1;

/// A tenant: the owner of keys and repos, and the unit of billing.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TenantRecord {
    /// Unique, path-safe name.
    pub name: String,
    /// The plan.
    pub plan: Plan,
    /// Overrides the plan's daily request limit.
    pub daily_limit: Option<u64>,
    /// Overrides the plan's cap on active keys.
    pub max_keys: Option<u64>,
    /// When it was created.
    pub created_at: Timestamp,
}

impl TenantRecord {
    /// The daily live-request limit in force (`None`: unlimited).
    pub fn effective_daily_limit(&self) -> Option<u64> {
        self.daily_limit.or(self.plan.default_daily_limit())
    }

    /// The active-key cap in force (`None`: unlimited).
    pub fn effective_max_keys(&self) -> Option<u64> {
        self.max_keys.or(self.plan.default_max_keys())
    }
}

/// Whether a key can be used now. Derived from the record and the clock, never stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum KeyStatus {
    /// Usable.
    Active,
    /// Past its expiry.
    Expired,
    /// Revoked.
    Revoked,
}

impl KeyStatus {
    /// The lowercase name used in output.
    pub fn as_str(self) -> &'static str {
        match self {
            KeyStatus::Active => "active",
            KeyStatus::Expired => "expired",
            KeyStatus::Revoked => "revoked",
        }
    }
}

/// An API key as stored: everything but the token, which is kept only as a hash elsewhere.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct KeyRecord {
    /// Stable id, `key_` and 16 base62 characters.
    pub id: String,
    /// Owning tenant.
    pub tenant: String,
    /// A label chosen by the owner ("Production Claude Desktop").
    pub name: String,
    /// Environment the key works in.
    pub env: Env,
    /// Restricted or unrestricted.
    pub token_type: TokenType,
    /// Scopes of a restricted key (empty for unrestricted keys, which hold all).
    pub scopes: Vec<Scope>,
    /// First characters of the secret, safe to show.
    pub prefix: String,
    /// When it was created.
    pub created_at: Timestamp,
    /// When it stops working, if ever.
    pub expires_at: Option<Timestamp>,
    /// When it was revoked, if it was.
    pub revoked_at: Option<Timestamp>,
    /// The id of the key that replaced this one in a rotation.
    #[serde(default)]
    pub rotated_to: Option<String>,
    /// When it last authenticated (kept in its own tree, not in the record; filled in on read).
    #[serde(default)]
    pub last_used_at: Option<Timestamp>,
}

impl KeyRecord {
    /// Status at `now`. Expiry is inclusive: a key is expired at its `expires_at` second.
    /// Revocation does not depend on the clock: a revoked key stays revoked even if the clock
    /// is stepped back past the moment of revocation.
    pub fn status(&self, now: Timestamp) -> KeyStatus {
        if self.revoked_at.is_some() {
            KeyStatus::Revoked
        } else if self.expires_at.is_some_and(|at| at <= now) {
            KeyStatus::Expired
        } else {
            KeyStatus::Active
        }
    }

    /// Whether the key holds `scope`.
    pub fn has_scope(&self, scope: Scope) -> bool {
        self.token_type == TokenType::Unrestricted || self.scopes.contains(&scope)
    }

    /// The scopes the key holds, expanded for unrestricted keys.
    pub fn effective_scopes(&self) -> Vec<Scope> {
        Scope::ALL
            .into_iter()
            .filter(|s| self.has_scope(*s))
            .collect()
    }

    /// How the key is shown in listings and logs: `dw_live_AbCd1234…`.
    pub fn display(&self) -> String {
        format!("dw_{}_{}…", self.env, self.prefix)
    }
}

/// One row of the usage report: calls by one key on one UTC day.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct UsageRow {
    /// Tenant.
    pub tenant: String,
    /// Key id.
    pub key_id: String,
    /// Day as `YYYYMMDD`.
    pub day: u32,
    /// Number of `tools/call` requests.
    pub calls: u64,
}

/// One tool call to charge: whose it is, on which UTC day, and under which limits.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChargeRequest {
    /// The tenant whose daily quota counts the call.
    pub tenant: String,
    /// The key that made the call (its burst limit and usage row).
    pub key_id: String,
    /// Live calls count against the quota; test calls are free.
    pub env: Env,
    /// The UTC day, as `YYYYMMDD`.
    pub day: u32,
    /// The tenant's daily limit of live calls (`None`: unlimited).
    pub limit: Option<u64>,
    /// The key's burst limit in calls per second.
    pub burst_per_second: u32,
}

/// How long the store remembers a live call's id: long enough for the process that sent it to
/// send it again after an owner died, or to refund it when the MCP layer refuses the call.
pub const CHARGE_ID_RETENTION_MS: u64 = 10 * 60 * 1000;

/// A fresh id for one tool call: the current Unix time in milliseconds in the top 48 bits and
/// 80 random bits below, so that the store's records of ids sort by time and old ones can be
/// dropped as a range.
pub fn new_charge_id() -> u128 {
    charge_id_at(crate::clock::now_ms())
}

/// The id of a call made at `unix_ms`, with fresh random low bits.
pub(crate) fn charge_id_at(unix_ms: u64) -> u128 {
    let random: u128 = rand::random::<u128>() & ((1u128 << 80) - 1);
    (u128::from(unix_ms) << 80) | random
}

/// What the store remembers of a counted live call sent with an id: enough to answer the same
/// call again without counting it twice.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct ChargeRecord {
    pub tenant: String,
    pub key_id: String,
    pub charge: Charge,
    /// Taken back because the call never reached its tool (see [`super::KeyStore::refund`]).
    #[serde(default)]
    pub refunded: bool,
}

/// The outcome of charging one request against the daily quota.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Charge {
    /// Counted; `used` includes this request.
    Allowed {
        /// Live requests used today, this one included (0 for a test call).
        used: u64,
        /// Daily limit that applies to this call (`None` for unlimited tenants and test calls).
        limit: Option<u64>,
    },
    /// Refused: the tenant has used its daily limit.
    Refused {
        /// The limit.
        limit: u64,
    },
    /// Refused: the key is over its burst limit; nothing was counted.
    Throttled {
        /// The burst limit in calls per second.
        per_second: u32,
        /// How long until a call can pass.
        retry_after_ms: u64,
    },
}

/// Encodes a record as a version byte followed by JSON.
pub(crate) fn encode<T: Serialize>(value: &T) -> StoreResult<Vec<u8>> {
    let mut out = vec![VALUE_VERSION];
    serde_json::to_writer(&mut out, value).map_err(|e| StoreError::Corrupt(e.to_string()))?;
    Ok(out)
}

/// Decodes a record written by [`encode`].
pub(crate) fn decode<T: DeserializeOwned>(bytes: &[u8], what: &str) -> StoreResult<T> {
    match bytes.split_first() {
        Some((&VALUE_VERSION, body)) => {
            serde_json::from_slice(body).map_err(|e| StoreError::Corrupt(format!("{what}: {e}")))
        }
        Some((v, _)) => Err(StoreError::Corrupt(format!(
            "{what}: unknown value version {v}"
        ))),
        None => Err(StoreError::Corrupt(format!("{what}: empty value"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(expires_at: Option<i64>, revoked_at: Option<i64>) -> KeyRecord {
        KeyRecord {
            id: "key_x".into(),
            tenant: "acme".into(),
            name: "n".into(),
            env: Env::Live,
            token_type: TokenType::Restricted,
            scopes: vec![Scope::McpSearch],
            prefix: "AbCd1234".into(),
            created_at: 0,
            expires_at,
            revoked_at,
            rotated_to: None,
            last_used_at: None,
        }
    }

    #[test]
    fn status_at_the_edges_of_expiry() {
        let k = key(Some(100), None);
        assert_eq!(k.status(99), KeyStatus::Active);
        assert_eq!(k.status(100), KeyStatus::Expired);
        assert_eq!(k.status(101), KeyStatus::Expired);
        assert_eq!(key(None, None).status(i64::MAX), KeyStatus::Active);
    }

    #[test]
    fn revocation_wins_over_expiry_and_ignores_the_clock() {
        let k = key(Some(100), Some(50));
        assert_eq!(
            k.status(49),
            KeyStatus::Revoked,
            "a clock stepped back does not undo it"
        );
        assert_eq!(k.status(50), KeyStatus::Revoked);
        assert_eq!(k.status(200), KeyStatus::Revoked);
    }

    #[test]
    fn unrestricted_keys_hold_every_scope() {
        let mut k = key(None, None);
        assert!(k.has_scope(Scope::McpSearch));
        assert!(!k.has_scope(Scope::McpGetDoc));
        k.token_type = TokenType::Unrestricted;
        k.scopes.clear();
        assert_eq!(k.effective_scopes(), Scope::ALL.to_vec());
    }

    #[test]
    fn encoding_is_versioned() {
        let k = key(Some(1), None);
        let bytes = encode(&k).unwrap();
        assert_eq!(bytes[0], VALUE_VERSION);
        assert_eq!(decode::<KeyRecord>(&bytes, "key").unwrap(), k);
        let mut future = bytes.clone();
        future[0] = 9;
        assert!(matches!(
            decode::<KeyRecord>(&future, "key"),
            Err(StoreError::Corrupt(_))
        ));
        assert!(matches!(
            decode::<KeyRecord>(&[], "key"),
            Err(StoreError::Corrupt(_))
        ));
    }
}
