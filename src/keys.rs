//! Key administration: create, find, revoke and rotate, with the rules that guard them.

use crate::clock::{self, Timestamp};
use crate::domain::{Env, Scope, TokenType};
use crate::store::{KeyRecord, KeyStatus, KeyStore, StoreError};
use crate::token::{self, Token, TokenError};

/// Result of a key administration call.
pub type KeyResult<T> = Result<T, KeyError>;

/// Why a key operation was refused.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    /// The request breaks a rule (scopes, expiry, name); the message says which.
    #[error("{0}")]
    Invalid(String),
    /// Token generation failed.
    #[error(transparent)]
    Token(#[from] TokenError),
    /// The store refused or failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl KeyError {
    /// A stable snake_case code.
    pub fn code(&self) -> &'static str {
        match self {
            KeyError::Invalid(_) => "invalid_request",
            KeyError::Token(_) => "internal",
            KeyError::Store(e) => e.code(),
        }
    }
}

/// What the caller asks for when creating a key.
#[derive(Debug, Clone)]
pub struct NewKey {
    /// Owning tenant.
    pub tenant: String,
    /// A label for people.
    pub name: String,
    /// test or live.
    pub env: Env,
    /// Restricted (needs scopes) or unrestricted (takes none).
    pub token_type: TokenType,
    /// Scopes for a restricted key.
    pub scopes: Vec<Scope>,
    /// When it stops working, if ever.
    pub expires_at: Option<Timestamp>,
}

/// A freshly made key: the clear token, shown once, and the stored record.
#[derive(Debug)]
pub struct CreatedKey {
    /// The token in clear. Show it once, then drop it.
    pub token: Token,
    /// The stored record.
    pub record: KeyRecord,
}

/// Creates a key after checking the rules: a name, scopes only on restricted keys, an expiry in the
/// future, and the plan's cap on active keys (checked by the store).
pub fn create_key(store: &dyn KeyStore, new: NewKey, now: Timestamp) -> KeyResult<CreatedKey> {
    create_key_replacing(store, new, None, now)
}

fn create_key_replacing(
    store: &dyn KeyStore,
    mut new: NewKey,
    replacing: Option<&str>,
    now: Timestamp,
) -> KeyResult<CreatedKey> {
    let name = new.name.trim();
    if name.is_empty() || name.chars().count() > 100 || name.chars().any(char::is_control) {
        return Err(KeyError::Invalid(
            "a key needs a name of 1-100 printable characters, e.g. --name \"Claude Desktop\""
                .into(),
        ));
    }
    match new.token_type {
        TokenType::Restricted if new.scopes.is_empty() => {
            return Err(KeyError::Invalid(format!(
                "a restricted key needs at least one --scope (valid scopes: {}), or use --type unrestricted",
                Scope::valid_list()
            )));
        }
        TokenType::Unrestricted if !new.scopes.is_empty() => {
            return Err(KeyError::Invalid(
                "an unrestricted key holds every scope: drop --scope, or use --type restricted"
                    .into(),
            ));
        }
        _ => {}
    }
    if let Some(at) = new.expires_at
        && at <= now
    {
        return Err(KeyError::Invalid(format!(
            "expiry {} is in the past: choose a later time",
            clock::format(at)
        )));
    }
    new.scopes.sort();
    new.scopes.dedup();
    let token = Token::generate(new.env)?;
    let record = KeyRecord {
        id: format!("key_{}", token::random_base62(16)?),
        tenant: new.tenant,
        name: name.to_owned(),
        env: new.env,
        token_type: new.token_type,
        scopes: new.scopes,
        prefix: token.display_prefix().to_owned(),
        created_at: now,
        expires_at: new.expires_at,
        revoked_at: None,
        rotated_to: None,
        last_used_at: None,
    };
    store.insert_key(&record, &token.hash(), replacing, now)?;
    Ok(CreatedKey { token, record })
}

/// Finds a key by its id (`key_…`) or its display prefix (with or without `dw_<env>_`).
pub fn find_key(store: &dyn KeyStore, id_or_prefix: &str) -> KeyResult<KeyRecord> {
    let wanted = id_or_prefix.trim().trim_end_matches('…');
    if let Some(key) = store.key(wanted)? {
        return Ok(key);
    }
    // A display prefix may name its environment: `dw_live_AbCd1234` must not match a test key.
    let (env, prefix) = match wanted.split_at_checked(8) {
        Some(("dw_live_", rest)) => (Some(Env::Live), rest),
        Some(("dw_test_", rest)) => (Some(Env::Test), rest),
        _ => (None, wanted),
    };
    if prefix.is_empty() {
        return Err(StoreError::UnknownKey(id_or_prefix.to_owned()).into());
    }
    let mut matches = store
        .keys(None)?
        .into_iter()
        .filter(|k| k.prefix == prefix && env.is_none_or(|e| e == k.env));
    match (matches.next(), matches.next()) {
        (Some(key), None) => Ok(key),
        (Some(_), Some(_)) => Err(StoreError::AmbiguousKey(id_or_prefix.to_owned()).into()),
        _ => Err(StoreError::UnknownKey(id_or_prefix.to_owned()).into()),
    }
}

/// Revokes a key now. Final and immediate: the next authentication fails.
pub fn revoke_key(
    store: &dyn KeyStore,
    id_or_prefix: &str,
    now: Timestamp,
) -> KeyResult<KeyRecord> {
    let key = find_key(store, id_or_prefix)?;
    Ok(store.revoke_key(&key.id, now)?)
}

/// A rotation's outcome: the new key (shown once) and the old key as it now stands.
#[derive(Debug)]
pub struct Rotation {
    /// The replacement.
    pub new: CreatedKey,
    /// The old key, now ending at `now + grace`.
    pub old: KeyRecord,
}

/// Rotates a key: a new key with the same tenant, name, env, type and scopes, while the old one
/// lives on for `grace` seconds (0 ends it now). The new key gets the old one's lifetime from now;
/// the old key does not count against the cap.
pub fn rotate_key(
    store: &dyn KeyStore,
    id_or_prefix: &str,
    grace_secs: i64,
    now: Timestamp,
) -> KeyResult<Rotation> {
    let old = find_key(store, id_or_prefix)?;
    if let Some(successor) = &old.rotated_to {
        return Err(KeyError::Invalid(format!(
            "key {} was already rotated into {successor}; rotate that key instead",
            old.id
        )));
    }
    match old.status(now) {
        KeyStatus::Active => {}
        status => {
            return Err(KeyError::Invalid(format!(
                "key {} is {}: rotation needs an active key; create a new one with `docward key create`",
                old.id,
                status.as_str()
            )));
        }
    }
    // A key still in its grace period stays usable: rotating its successor again would let a
    // chain of rotations keep any number of working keys past the plan's cap.
    if let Some(predecessor) = store
        .keys(Some(&old.tenant))?
        .into_iter()
        .find(|k| k.rotated_to.as_deref() == Some(&old.id) && k.status(now) == KeyStatus::Active)
    {
        return Err(KeyError::Invalid(format!(
            "key {} replaced key {}, which keeps working until {} (its grace period); rotate again after that, or end the grace period now with `docward key revoke {}`",
            old.id,
            predecessor.id,
            predecessor
                .expires_at
                .map_or_else(|| "it expires".to_owned(), clock::format_short),
            predecessor.id
        )));
    }
    let new = create_key_replacing(
        store,
        NewKey {
            tenant: old.tenant.clone(),
            name: old.name.clone(),
            env: old.env,
            token_type: old.token_type,
            scopes: old.scopes.clone(),
            // The new key gets the old key's lifetime, counted from now.
            expires_at: old.expires_at.map(|at| now + (at - old.created_at).max(1)),
        },
        Some(&old.id),
        now,
    )?;
    let old = store.retire_key(&old.id, now + grace_secs.max(0), &new.record.id)?;
    Ok(Rotation { new, old })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::Plan;
    use crate::store::{SledStore, TenantRecord};

    fn free_tenant_with_three_keys() -> (tempfile::TempDir, SledStore, Vec<KeyRecord>) {
        let dir = tempfile::tempdir().unwrap();
        let store = SledStore::open(dir.path()).unwrap();
        store
            .create_tenant(&TenantRecord {
                name: "acme".into(),
                plan: Plan::Free,
                daily_limit: None,
                max_keys: None,
                created_at: 0,
            })
            .unwrap();
        let keys = (0..3)
            .map(|i| {
                let new = NewKey {
                    tenant: "acme".into(),
                    name: format!("k{i}"),
                    env: Env::Live,
                    token_type: TokenType::Restricted,
                    scopes: vec![Scope::McpSearch],
                    expires_at: None,
                };
                create_key(&store, new, 100).unwrap().record
            })
            .collect();
        (dir, store, keys)
    }

    #[test]
    fn every_key_of_a_full_plan_can_be_rotated_in_turn() {
        let (_dir, store, keys) = free_tenant_with_three_keys();
        for key in &keys {
            let rotation = rotate_key(&store, &key.id, 86_400, 200).unwrap();
            assert_eq!(
                rotation.old.rotated_to.as_deref(),
                Some(rotation.new.record.id.as_str())
            );
            assert_eq!(rotation.new.record.scopes, key.scopes);
        }
        // Keys in their grace period do not count, but the three new ones do.
        let extra = NewKey {
            tenant: "acme".into(),
            name: "one too many".into(),
            env: Env::Live,
            token_type: TokenType::Restricted,
            scopes: vec![Scope::McpSearch],
            expires_at: None,
        };
        assert!(matches!(
            create_key(&store, extra, 300),
            Err(KeyError::Store(StoreError::KeyCapReached { cap: 3, .. }))
        ));
    }

    #[test]
    fn a_rotated_key_cannot_be_rotated_again() {
        let (_dir, store, keys) = free_tenant_with_three_keys();
        let first = rotate_key(&store, &keys[0].id, 86_400, 200).unwrap();
        let again = rotate_key(&store, &keys[0].id, 86_400, 201).unwrap_err();
        assert!(again.to_string().contains(&first.new.record.id), "{again}");
    }

    #[test]
    fn a_successor_cannot_be_rotated_while_its_predecessor_still_works() {
        let (_dir, store, keys) = free_tenant_with_three_keys();
        let first = rotate_key(&store, &keys[0].id, 86_400, 200).unwrap();
        let chained = rotate_key(&store, &first.new.record.id, 86_400, 300).unwrap_err();
        let message = chained.to_string();
        assert!(message.contains(&keys[0].id), "{message}");
        assert!(
            message.contains(&format!("docward key revoke {}", keys[0].id)),
            "{message}"
        );
        // Once the grace period is over, the successor rotates as any key.
        rotate_key(&store, &first.new.record.id, 86_400, 200 + 86_400 + 1).unwrap();
        // Usable keys never pass the free plan's three plus the one in its grace period.
        let usable = store
            .keys(Some("acme"))
            .unwrap()
            .iter()
            .filter(|k| k.status(200 + 86_400 + 2) == KeyStatus::Active)
            .count();
        assert!(usable <= 4, "{usable} usable keys");
    }

    #[test]
    fn a_prefix_with_an_environment_only_matches_that_environment() {
        let (_dir, store, keys) = free_tenant_with_three_keys();
        let live = format!("dw_live_{}", keys[0].prefix);
        let test = format!("dw_test_{}", keys[0].prefix);
        assert_eq!(find_key(&store, &live).unwrap().id, keys[0].id);
        assert_eq!(find_key(&store, &keys[0].prefix).unwrap().id, keys[0].id);
        assert!(find_key(&store, &test).is_err());
    }
}
