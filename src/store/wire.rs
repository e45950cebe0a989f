//! The protocol between a store's owner and its clients: one JSON request per line, one JSON
//! response per line, over a Unix socket in the data dir. Each request is one [`KeyStore`] call.
//!
//! [`KeyStore`]: super::KeyStore

use serde::{Deserialize, Serialize};

use super::console::{ConsoleGrant, ConsoleSecret};
use super::error::StoreError;
use super::records::{Charge, ChargeRequest, KeyRecord, TenantRecord, UsageRow};
use super::reminders::{ContactRecord, ReminderClaim, ReminderFinish, ReminderRecord};
use crate::clock::Timestamp;
use crate::domain::Plan;

/// The version of this protocol. A client checks the owner's before its first request, so that
/// processes of different docward versions on one data dir fail with a clear message.
pub const PROTOCOL: u32 = 1;

/// One call of the store interface.
#[derive(Debug, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum Request {
    /// The first request on a connection: which protocol the client speaks.
    Hello {
        protocol: u32,
    },
    CreateTenant {
        tenant: TenantRecord,
    },
    UpdateTenant {
        tenant: TenantRecord,
    },
    Tenant {
        name: String,
    },
    Tenants,
    InsertKey {
        key: KeyRecord,
        hash: [u8; 32],
        replacing: Option<String>,
        now: Timestamp,
    },
    Key {
        id: String,
    },
    Credential {
        hash: [u8; 32],
    },
    KeyByHash {
        hash: [u8; 32],
    },
    Keys {
        tenant: Option<String>,
    },
    RevokeKey {
        id: String,
        at: Timestamp,
    },
    RetireKey {
        id: String,
        at: Timestamp,
        successor: String,
    },
    TouchKey {
        id: String,
        at: Timestamp,
    },
    Charge {
        /// Chosen by the sender, the same on every attempt: a retried live call is counted once.
        #[serde(with = "hex_id")]
        id: u128,
        request: ChargeRequest,
    },
    QuotaUsed {
        tenant: String,
        day: u32,
    },
    Usage {
        tenant: Option<String>,
    },
    Flush,
    /// Whether the owner can write: it writes and flushes a small record.
    Health,
    /// Takes back a charged call that never reached its tool (added in protocol 1 without a
    /// bump: an owner that does not know it answers with an error, and the call stays billed).
    Refund {
        #[serde(with = "hex_id")]
        id: u128,
        request: ChargeRequest,
    },
    /// Console sign-in links and sessions (added in protocol 1 without a bump, as `Refund`).
    PutConsoleGrant {
        kind: ConsoleSecret,
        hash: [u8; 32],
        grant: ConsoleGrant,
    },
    ConsoleGrant {
        kind: ConsoleSecret,
        hash: [u8; 32],
        now: Timestamp,
        take: bool,
    },
    EndConsoleGrants {
        hash: Option<[u8; 32]>,
    },
    // Expiry reminders (added in protocol 1 without a bump, like `Refund`: an older owner
    // answers with an error and no reminder is sent).
    SetContact {
        contact: ContactRecord,
    },
    Contact {
        tenant: String,
    },
    Contacts,
    ClaimReminder {
        claim: ReminderClaim,
    },
    FinishReminder {
        finish: ReminderFinish,
    },
    Reminders,
}

/// The answer to one request.
#[derive(Debug, Serialize, Deserialize)]
#[serde(tag = "result", rename_all = "snake_case")]
pub enum Response {
    /// The owner's protocol, docward version and process id.
    Hello {
        protocol: u32,
        version: String,
        pid: u32,
    },
    Unit,
    Tenant {
        tenant: Option<TenantRecord>,
    },
    Tenants {
        tenants: Vec<TenantRecord>,
    },
    Key {
        key: Option<KeyRecord>,
    },
    Credential {
        credential: Option<(KeyRecord, Option<TenantRecord>)>,
    },
    Keys {
        keys: Vec<KeyRecord>,
    },
    Charge {
        charge: Charge,
    },
    Count {
        count: u64,
    },
    Usage {
        rows: Vec<UsageRow>,
    },
    Error {
        error: WireError,
    },
    /// Whether a refund took a call back.
    Refunded {
        refunded: bool,
    },
    /// A console link or session, if it exists and has not expired.
    ConsoleGrant {
        grant: Option<ConsoleGrant>,
    },
    Contact {
        contact: Option<ContactRecord>,
    },
    Contacts {
        contacts: Vec<ContactRecord>,
    },
    /// Whether a reminder claim (or its finish) took effect.
    Claimed {
        claimed: bool,
    },
    Reminders {
        reminders: Vec<ReminderRecord>,
    },
}

/// A [`StoreError`] that can cross the socket. Errors of the owner's disk become `Remote`.
#[derive(Debug, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum WireError {
    TenantExists {
        name: String,
    },
    UnknownTenant {
        name: String,
        hint: String,
    },
    UnknownKey {
        id: String,
    },
    AmbiguousKey {
        id: String,
    },
    KeyCapReached {
        tenant: String,
        plan: Plan,
        cap: u64,
    },
    AlreadyRevoked {
        id: String,
    },
    DiskFull {
        reason: String,
    },
    /// A failure of the owner's database that needs it reopened (an I/O error).
    Io {
        message: String,
    },
    Remote {
        message: String,
    },
}

impl WireError {
    /// Whether the owner's database failed in a way that needs it reopened.
    pub(crate) fn poisons_the_database(&self) -> bool {
        matches!(self, WireError::DiskFull { .. } | WireError::Io { .. })
    }
}

impl From<StoreError> for WireError {
    fn from(err: StoreError) -> Self {
        match err {
            StoreError::TenantExists(name) => WireError::TenantExists { name },
            StoreError::UnknownTenant { name, hint } => WireError::UnknownTenant { name, hint },
            StoreError::UnknownKey(id) => WireError::UnknownKey { id },
            StoreError::AmbiguousKey(id) => WireError::AmbiguousKey { id },
            StoreError::KeyCapReached { tenant, plan, cap } => {
                WireError::KeyCapReached { tenant, plan, cap }
            }
            StoreError::AlreadyRevoked(id) => WireError::AlreadyRevoked { id },
            StoreError::DiskFull(reason) => WireError::DiskFull { reason },
            other if other.poisons_the_database() => WireError::Io {
                message: other.to_string(),
            },
            other => WireError::Remote {
                message: other.to_string(),
            },
        }
    }
}

impl From<WireError> for StoreError {
    fn from(err: WireError) -> Self {
        match err {
            WireError::TenantExists { name } => StoreError::TenantExists(name),
            WireError::UnknownTenant { name, hint } => StoreError::UnknownTenant { name, hint },
            WireError::UnknownKey { id } => StoreError::UnknownKey(id),
            WireError::AmbiguousKey { id } => StoreError::AmbiguousKey(id),
            WireError::KeyCapReached { tenant, plan, cap } => {
                StoreError::KeyCapReached { tenant, plan, cap }
            }
            WireError::AlreadyRevoked { id } => StoreError::AlreadyRevoked(id),
            WireError::DiskFull { reason } => StoreError::DiskFull(reason),
            WireError::Io { message } | WireError::Remote { message } => {
                StoreError::Remote(message)
            }
        }
    }
}

/// A 128-bit id as 32 hex digits: serde's internally tagged enums cannot carry a bare u128.
mod hex_id {
    use serde::{Deserialize, Deserializer, Serializer, de::Error};

    pub fn serialize<S: Serializer>(id: &u128, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&format!("{id:032x}"))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<u128, D::Error> {
        let text = String::deserialize(deserializer)?;
        u128::from_str_radix(&text, 16).map_err(D::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::Env;

    #[test]
    fn a_charge_keeps_its_whole_id_across_the_socket() {
        for id in [0, 1, u128::MAX, 0x0123_4567_89ab_cdef_0123_4567_89ab_cdef] {
            let line = serde_json::to_string(&Request::Charge {
                id,
                request: ChargeRequest {
                    tenant: "acme".into(),
                    key_id: "key_1".into(),
                    env: Env::Live,
                    day: 20_000,
                    limit: Some(100),
                    burst_per_second: 20,
                },
            })
            .unwrap();
            match serde_json::from_str::<Request>(&line).unwrap() {
                Request::Charge { id: back, .. } => assert_eq!(back, id, "{line}"),
                other => panic!("{other:?}"),
            }
        }
        let bad = r#"{"op":"charge","id":"not hex","request":{"tenant":"a","key_id":"k","env":"live","day":1,"limit":null,"burst_per_second":1}}"#;
        assert!(serde_json::from_str::<Request>(bad).is_err());
    }
}
