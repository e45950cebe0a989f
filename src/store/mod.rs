//! The key store: tenants, keys, usage and quotas.
//!
//! Everything above this module sees only the [`KeyStore`] trait, so that a later transport can serve
//! the same interface from another process (sled lets only one process open a database). The one
//! implementation today is [`SledStore`], an embedded sled database with typed trees:
//!
//! | tree | key | value |
//! |---|---|---|
//! | `meta` | `schema_version` | u32 BE |
//! | `tenants` | tenant name | [`TenantRecord`] |
//! | `keys` | key id | [`KeyRecord`] |
//! | `key_by_hash` | blake3(token), 32 bytes | key id |
//! | `last_used` | key id | i64 BE |
//! | `quota` | tenant 0x00 day (u32 BE) | live calls, u64 BE |
//! | `usage` | tenant 0x00 day (u32 BE) key id | calls, u64 BE |
//! | `console_links`, `console_sessions` | blake3(secret) | [`ConsoleGrant`] |
//!
//! Expiry reminders keep their own trees (`contacts`, `reminders`): see [`reminders`](self::reminders).
//!
//! Values are a version byte followed by JSON. No token is ever stored, only its hash.
//!
//! sled lets one process open a database. [`SharedStore`] makes that one process the *owner*,
//! serving the same interface to every other docward process on a Unix socket in the data dir
//! (see `docs/store-sharing.md`).

mod burst;
mod console;
mod durability;
mod error;
mod liveness;
mod owner;
mod records;
mod reminders;
mod remote;
mod shared;
mod sled_store;
mod touches;
mod wire;

pub use console::{ConsoleGrant, ConsoleSecret};
pub use error::{StoreError, StoreResult};
pub use owner::socket_path;
pub use records::{
    CHARGE_ID_RETENTION_MS, Charge, ChargeRequest, KeyRecord, KeyStatus, TenantRecord, UsageRow,
    new_charge_id,
};
pub use reminders::{
    Channel, ContactRecord, ReminderClaim, ReminderFinish, ReminderRecord, ReminderState,
};
pub use shared::SharedStore;
pub use sled_store::{SCHEMA_VERSION, SledStore};

use crate::clock::Timestamp;
use crate::token::TokenHash;

/// The narrow interface every other module uses to reach tenants, keys and counters.
pub trait KeyStore: Send + Sync {
    /// Creates a tenant; fails if the name is taken.
    fn create_tenant(&self, tenant: &TenantRecord) -> StoreResult<()>;
    /// Replaces an existing tenant's plan and limits; fails for an unknown tenant.
    fn update_tenant(&self, tenant: &TenantRecord) -> StoreResult<()>;
    /// A tenant by name.
    fn tenant(&self, name: &str) -> StoreResult<Option<TenantRecord>>;
    /// All tenants, sorted by name.
    fn tenants(&self) -> StoreResult<Vec<TenantRecord>>;
    /// Stores a new key under its token hash, enforcing the tenant's cap on active keys.
    /// `replacing` names a key that this one replaces (rotation) and that does not count.
    fn insert_key(
        &self,
        key: &KeyRecord,
        hash: &TokenHash,
        replacing: Option<&str>,
        now: Timestamp,
    ) -> StoreResult<()>;
    /// A key by id.
    fn key(&self, id: &str) -> StoreResult<Option<KeyRecord>>;
    /// A key by the hash of its token: the lookup behind every authentication.
    fn key_by_hash(&self, hash: &TokenHash) -> StoreResult<Option<KeyRecord>>;
    /// A key by hash together with its tenant: what authentication needs, in one call (one round
    /// trip for a process that reaches the store through its owner).
    fn credential(
        &self,
        hash: &TokenHash,
    ) -> StoreResult<Option<(KeyRecord, Option<TenantRecord>)>> {
        match self.key_by_hash(hash)? {
            Some(key) => {
                let tenant = self.tenant(&key.tenant)?;
                Ok(Some((key, tenant)))
            }
            None => Ok(None),
        }
    }
    /// Whether calls are answered in this process (no socket round trip, never slow but for
    /// a disk flush).
    fn is_local(&self) -> bool {
        true
    }
    /// All keys, or one tenant's, oldest first.
    fn keys(&self, tenant: Option<&str>) -> StoreResult<Vec<KeyRecord>>;
    /// Revokes a key at `at`. Final.
    fn revoke_key(&self, id: &str, at: Timestamp) -> StoreResult<KeyRecord>;
    /// Ends a rotated key: it expires at `at` (or keeps an earlier expiry) and points to its successor.
    fn retire_key(&self, id: &str, at: Timestamp, successor: &str) -> StoreResult<KeyRecord>;
    /// Records a use of the key, writing at most once a second per key.
    fn touch_key(&self, id: &str, at: Timestamp) -> StoreResult<()>;
    /// Counts one `tools/call` of a key on a UTC day. First the key's burst limit
    /// (`burst_per_second`, kept by the store so every process shares it); then live calls count
    /// against `limit` per tenant and are refused once it is reached; test calls are recorded for
    /// usage but never refused by the quota. A refused call is not counted.
    fn charge(&self, request: &ChargeRequest) -> StoreResult<Charge>;
    /// Live calls a tenant has made on a UTC day.
    fn quota_used(&self, tenant: &str, day: u32) -> StoreResult<u64>;
    /// Usage rows, per key per day, for one tenant or all.
    fn usage(&self, tenant: Option<&str>) -> StoreResult<Vec<UsageRow>>;
    /// Makes every write so far durable.
    fn flush(&self) -> StoreResult<()>;
    /// Whether the store can be reached and written now (what `/healthz` reports).
    fn health(&self) -> StoreResult<()> {
        self.tenant("").map(|_| ())
    }
    /// Like [`KeyStore::charge`], under a random 128-bit `id` chosen by the caller: a live call
    /// sent again with the same id is counted once, and the call can be taken back with
    /// [`KeyStore::refund`].
    fn charge_with_id(&self, id: u128, request: &ChargeRequest) -> StoreResult<Charge>;
    /// Takes back a call counted by [`KeyStore::charge_with_id`] that never reached its tool:
    /// one call off the tenant's quota (live) and off the key's usage row. A live refund is
    /// idempotent (the charge's record is marked refunded); refunding an id that was not
    /// counted, or was refunded already, changes nothing. Returns whether it took a call back.
    fn refund(&self, id: u128, request: &ChargeRequest) -> StoreResult<bool>;
    /// Stores a console sign-in link or session under the blake3 hash of its secret.
    fn put_console_grant(
        &self,
        kind: ConsoleSecret,
        hash: &[u8; 32],
        grant: &ConsoleGrant,
    ) -> StoreResult<()>;
    /// The unexpired console grant stored under `hash`; `take` removes it in the same step
    /// (single-use links).
    fn console_grant(
        &self,
        kind: ConsoleSecret,
        hash: &[u8; 32],
        now: Timestamp,
        take: bool,
    ) -> StoreResult<Option<ConsoleGrant>>;
    /// Ends one console session (`Some(hash)`), or every session and unused link (`None`);
    /// returns how many were removed.
    fn end_console_grants(&self, hash: Option<&[u8; 32]>) -> StoreResult<u64>;

    // Expiry reminders (their own trees; see `reminders.rs`).

    /// Sets a tenant's contact (mail address, webhook); fails for an unknown tenant.
    fn set_contact(&self, contact: &ContactRecord) -> StoreResult<()>;
    /// A tenant's contact, if one was set.
    fn contact(&self, tenant: &str) -> StoreResult<Option<ContactRecord>>;
    /// Every tenant's contact.
    fn contacts(&self) -> StoreResult<Vec<ContactRecord>>;
    /// Claims one reminder before it is sent (durably, with a compare-and-swap): true for exactly
    /// one caller, unless a claim is left unfinished past its lease.
    fn claim_reminder(&self, claim: &ReminderClaim) -> StoreResult<bool>;
    /// Records a claimed reminder as sent or failed; false if the claim was taken over.
    fn finish_reminder(&self, finish: &ReminderFinish) -> StoreResult<bool>;
    /// Every reminder record.
    fn reminders(&self) -> StoreResult<Vec<ReminderRecord>>;
}
