//! Refusals rewritten for the person at the terminal: each names the cause and ends with the
//! command that fixes it, filled in with the tenant, key or environment at hand.

use anyhow::Error;

use docward::auth::AuthError;
use docward::domain::Plan;
use docward::keys::KeyError;
use docward::store::{KeyRecord, KeyStore, StoreError, TenantRecord};

/// The plan above `plan`, if there is one.
fn next_plan(plan: Plan) -> Option<Plan> {
    match plan {
        Plan::Free => Some(Plan::Pro),
        Plan::Pro => Some(Plan::Enterprise),
        Plan::Enterprise => None,
    }
}

/// The command that raises a tenant's key cap: the next plan, unless the tenant has its own
/// `--max-keys` (which a plan change would not lift) or is already on the top plan.
fn raise_cap_command(store: &dyn KeyStore, tenant: &str, plan: Plan, cap: u64) -> String {
    let overridden = store
        .tenant(tenant)
        .ok()
        .flatten()
        .is_some_and(|t| t.max_keys.is_some());
    match next_plan(plan) {
        Some(next) if !overridden => format!("`docward tenant update {tenant} --plan {next}`"),
        _ => format!(
            "`docward tenant update {tenant} --max-keys {}`",
            cap.saturating_add(1)
        ),
    }
}

/// A key command's error, with the key cap explained and its fixes spelled out.
pub fn key_error(store: &dyn KeyStore, err: KeyError) -> Error {
    match err {
        KeyError::Store(StoreError::KeyCapReached { tenant, plan, cap }) => anyhow::anyhow!(
            "tenant '{tenant}' already has {cap} active keys, the most its {plan} plan allows (revoked and expired keys do not count). Free a slot with `docward key revoke ID` (IDs: `docward key list --tenant {tenant}`), or raise the cap with {}",
            raise_cap_command(store, &tenant, plan, cap)
        ),
        other => other.into(),
    }
}

/// `key revoke` refused because the key was already revoked: say so, and when the key was
/// rotated, name its successor and how to stop that one too.
pub fn already_revoked(key: &KeyRecord, successor: Option<&KeyRecord>) -> Error {
    match successor {
        Some(next) => anyhow::anyhow!(
            "key {} ({}) is already revoked; it was rotated into {} ({}), which is {}. To stop that one too: `docward key revoke {}`",
            key.id,
            key.display(),
            next.id,
            next.display(),
            next.status(docward::clock::now()).as_str(),
            next.id
        ),
        None => anyhow::anyhow!(
            "key {} ({}) is already revoked; nothing to do. See every key's status with `docward key list --tenant {}`",
            key.id,
            key.display(),
            key.tenant
        ),
    }
}

/// What fixes a refusal of `key verify`, as a line ending with a command. `key` is the record
/// when the token is a real key of this store.
pub fn verify_fix(err: &AuthError, key: Option<&KeyRecord>) -> String {
    let create = |k: &KeyRecord| {
        format!(
            "`docward key create --tenant {} --name \"{}\" --env {}{}`",
            k.tenant,
            k.name.replace('"', "'"),
            k.env,
            scope_args(k)
        )
    };
    match (err, key) {
        (AuthError::Missing, _) => "fix: pass the key on stdin, e.g. `docward key verify < key.txt`, or set DOCWARD_API_KEY and run `docward key verify` (a key typed as an argument would stay in your shell history)".to_owned(),
        (AuthError::Malformed(_) | AuthError::BadChecksum, _) => {
            "fix: copy the whole key again (it starts with dw_live_ or dw_test_) and run `docward key verify`".to_owned()
        }
        (AuthError::Unknown { .. }, _) => "fix: the key may belong to another data dir: `docward key verify --data-dir DIR`; keys of this one are listed by `docward key list`".to_owned(),
        (AuthError::Revoked { .. }, Some(k)) => format!("fix: revocation is final; make a new key with {}", create(k)),
        (AuthError::Expired { rotated_to: Some(id), .. }, _) => {
            format!("fix: the client should use the key it was rotated into; see it with `docward key show {id}`")
        }
        (AuthError::Expired { .. }, Some(k)) => format!("fix: make a new key with {}", create(k)),
        (AuthError::WrongEnv { key_env, .. }, _) => format!(
            "fix: check it against a server of its own environment with `docward key verify --env {key_env}`, and serve with `docward serve --env {key_env}`"
        ),
        (AuthError::TenantGone { .. }, _) => {
            "fix: create the tenant again with `docward tenant create NAME`, then a key with `docward key create`".to_owned()
        }
        _ => "fix: see `docward key list` for the keys of this data dir".to_owned(),
    }
}

/// `--scope` arguments (or `--type unrestricted`) that recreate `key`'s scopes.
fn scope_args(key: &KeyRecord) -> String {
    if key.token_type == docward::domain::TokenType::Unrestricted {
        return " --type unrestricted".to_owned();
    }
    key.scopes
        .iter()
        .map(|s| format!(" --scope {}", s.as_str()))
        .collect()
}

/// The note printed by `docward usage` for a tenant whose daily quota is used up.
/// A tenant with its own `--daily-limit` is told to raise that, since a plan change would not.
pub fn quota_used_up(tenant: &TenantRecord, used: u64, limit: u64, resets_at: &str) -> String {
    let name = &tenant.name;
    let raise = match next_plan(tenant.plan) {
        Some(next) if tenant.daily_limit.is_none() => {
            format!("`docward tenant update {name} --plan {next}`")
        }
        _ => format!(
            "`docward tenant update {name} --daily-limit {}`",
            limit.saturating_mul(2).max(1)
        ),
    };
    format!(
        "tenant '{name}' used its daily quota ({used} of {limit} live calls): its live keys are refused until {resets_at}. Test keys are not counted. To raise the limit now: {raise}"
    )
}
