//! What a reminder says: which key (name, prefix and id, never the secret), when it expires, and
//! the command that rotates it. The same facts go into the mail and the webhook's JSON.

use serde::Serialize;

use crate::clock::{self, Timestamp};
use crate::domain::Env;
use crate::store::KeyRecord;

/// The facts of one reminder.
#[derive(Debug, Clone, Serialize)]
pub struct Reminder {
    /// Always `key.expiring`.
    #[serde(rename = "type")]
    pub kind: &'static str,
    /// Stable per key, expiry and channel: receivers can drop a repeated delivery by it.
    pub delivery_id: String,
    /// The key's tenant.
    pub tenant: String,
    /// The key.
    pub key: KeyFacts,
    /// Whole days left, rounded down.
    pub days_left: i64,
    /// The command that replaces the key.
    pub rotate_command: String,
}

/// The parts of a key a reminder may show.
#[derive(Debug, Clone, Serialize)]
pub struct KeyFacts {
    /// Key id.
    pub id: String,
    /// Its label.
    pub name: String,
    /// Display prefix, e.g. `dw_live_AbCd1234…`.
    pub prefix: String,
    /// Environment.
    pub env: Env,
    /// Expiry, RFC 3339.
    pub expires_at: String,
}

impl Reminder {
    /// The reminder of `key`'s expiry at `expires_at`, as of `now`.
    pub fn new(key: &KeyRecord, expires_at: Timestamp, now: Timestamp, channel: &str) -> Reminder {
        Reminder {
            kind: "key.expiring",
            delivery_id: format!("{}-{}-{}", key.id, expires_at, channel),
            tenant: key.tenant.clone(),
            key: KeyFacts {
                id: key.id.clone(),
                name: key.name.clone(),
                prefix: key.display(),
                env: key.env,
                expires_at: clock::format(expires_at),
            },
            days_left: (expires_at - now).max(0) / 86_400,
            rotate_command: format!("docward key rotate {}", key.id),
        }
    }

    /// The mail's subject line.
    pub fn subject(&self) -> String {
        format!(
            "docward: API key \"{}\" ({}) expires {}",
            self.key.name,
            self.key.prefix,
            self.when()
        )
    }

    /// The mail's plain-text body.
    pub fn body(&self) -> String {
        format!(
            "The docward API key \"{name}\" of tenant {tenant} expires {when} ({expires_at}).\n\
             \n\
             Key:          {prefix} (id {id}, {env})\n\
             Expires at:   {expires_at}\n\
             \n\
             Replace it before then, so that the assistants using it keep working:\n\
             \n\
             \x20   {rotate}\n\
             \n\
             The new key is shown once; the old one keeps working for a grace period (24h by\n\
             default, `--grace` to change it). Put the new key in each client's configuration\n\
             (`docward config`), then revoke the old one.\n\
             \n\
             This is the only reminder docward sends for this key and expiry.\n",
            name = self.key.name,
            tenant = self.tenant,
            when = self.when(),
            expires_at = self.key.expires_at,
            prefix = self.key.prefix,
            id = self.key.id,
            env = self.key.env,
            rotate = self.rotate_command,
        )
    }

    fn when(&self) -> String {
        match self.days_left {
            0 => "within a day".to_owned(),
            1 => "in 1 day".to_owned(),
            n => format!("in {n} days"),
        }
    }
}
