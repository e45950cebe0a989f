//! Expiry-reminder records: each tenant's contact (mail address, webhook URL) and one claim record
//! per (key, expiry, channel), so that a reminder is sent once however many processes scan.
//!
//! | tree | key | value |
//! |---|---|---|
//! | `contacts` | tenant name | [`ContactRecord`] |
//! | `reminders` | key id 0x00 expires_at (i64 BE) channel (u8) | [`ReminderRecord`] |
//!
//! A reminder moves `claimed` → `sent` or `failed`, each step a compare-and-swap. A claim whose
//! process died before finishing (older than its lease) may be taken over, so a crash between
//! sending and recording can repeat one reminder; nothing can send it twice otherwise.

use serde::{Deserialize, Serialize};

use super::error::StoreResult;
use super::records::{decode, encode};
use crate::clock::Timestamp;

/// Where a tenant's expiry reminders go. Holds no secret: a webhook's signing secret is derived
/// when needed from the server's webhook key (see `docs/reminders.md`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ContactRecord {
    /// The tenant.
    pub tenant: String,
    /// Contact mail address.
    #[serde(default)]
    pub email: Option<String>,
    /// The tenant's webhook URL.
    #[serde(default)]
    pub webhook_url: Option<String>,
    /// Bumped to change the tenant's webhook signing secret.
    #[serde(default)]
    pub webhook_generation: u32,
}

impl ContactRecord {
    /// A tenant with no contact yet.
    pub fn empty(tenant: &str) -> ContactRecord {
        ContactRecord {
            tenant: tenant.to_owned(),
            email: None,
            webhook_url: None,
            webhook_generation: 0,
        }
    }
}

/// One way of delivering a reminder; each is claimed and recorded on its own.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Channel {
    /// Mail to the tenant's contact address.
    Email,
    /// POST to the tenant's webhook.
    TenantWebhook,
    /// POST to the server's webhook (`--webhook-url`).
    ServerWebhook,
}

impl Channel {
    /// The name used in output and logs.
    pub fn as_str(self) -> &'static str {
        match self {
            Channel::Email => "email",
            Channel::TenantWebhook => "tenant_webhook",
            Channel::ServerWebhook => "server_webhook",
        }
    }

    fn byte(self) -> u8 {
        match self {
            Channel::Email => 1,
            Channel::TenantWebhook => 2,
            Channel::ServerWebhook => 3,
        }
    }
}

/// Where a reminder is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum ReminderState {
    /// A process is sending it.
    Claimed {
        /// Random id of the claiming process's scan.
        claimant: String,
        /// When it was claimed.
        at: Timestamp,
    },
    /// Delivered.
    Sent {
        /// When.
        at: Timestamp,
        /// Attempts it took.
        attempts: u32,
    },
    /// Given up on.
    Failed {
        /// When.
        at: Timestamp,
        /// Attempts made.
        attempts: u32,
        /// The last error (never a secret).
        error: String,
    },
}

/// One reminder of one key's expiry on one channel.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReminderRecord {
    /// The key.
    pub key_id: String,
    /// Its tenant.
    pub tenant: String,
    /// The expiry the reminder is about (a new expiry gets a new reminder).
    pub expires_at: Timestamp,
    /// How it is delivered.
    pub channel: Channel,
    /// Where it is.
    #[serde(flatten)]
    pub state: ReminderState,
}

/// A request to claim one reminder before sending it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReminderClaim {
    /// The key.
    pub key_id: String,
    /// Its tenant.
    pub tenant: String,
    /// The expiry the reminder is about.
    pub expires_at: Timestamp,
    /// The channel.
    pub channel: Channel,
    /// Random id of this scan.
    pub claimant: String,
    /// The time now.
    pub now: Timestamp,
    /// After how many seconds an unfinished claim is presumed dead and may be taken over.
    pub lease_secs: i64,
}

/// The outcome of a claimed reminder.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReminderFinish {
    /// The claim being finished (its `claimant` must still hold it).
    pub claim: ReminderClaim,
    /// `Sent` or `Failed`.
    pub state: ReminderState,
}

fn reminder_key(key_id: &str, expires_at: Timestamp, channel: Channel) -> Vec<u8> {
    let mut key = Vec::with_capacity(key_id.len() + 10);
    key.extend_from_slice(key_id.as_bytes());
    key.push(0);
    key.extend_from_slice(&expires_at.to_be_bytes());
    key.push(channel.byte());
    key
}

/// Claims `claim` in `tree` with a compare-and-swap; true if this caller now holds it.
pub(crate) fn claim(tree: &sled::Tree, claim: &ReminderClaim) -> StoreResult<bool> {
    let key = reminder_key(&claim.key_id, claim.expires_at, claim.channel);
    let wanted = encode(&ReminderRecord {
        key_id: claim.key_id.clone(),
        tenant: claim.tenant.clone(),
        expires_at: claim.expires_at,
        channel: claim.channel,
        state: ReminderState::Claimed {
            claimant: claim.claimant.clone(),
            at: claim.now,
        },
    })?;
    loop {
        let current = tree.get(&key)?;
        if let Some(bytes) = &current {
            let record: ReminderRecord = decode(bytes, "reminder")?;
            match record.state {
                ReminderState::Claimed { at, .. } if claim.now - at >= claim.lease_secs => {}
                _ => return Ok(false),
            }
        }
        if tree
            .compare_and_swap(&key, current, Some(wanted.clone()))?
            .is_ok()
        {
            return Ok(true);
        }
    }
}

/// Records the outcome of a claim still held by its claimant; false if another took it over.
pub(crate) fn finish(tree: &sled::Tree, finish: &ReminderFinish) -> StoreResult<bool> {
    let c = &finish.claim;
    let key = reminder_key(&c.key_id, c.expires_at, c.channel);
    let Some(current) = tree.get(&key)? else {
        return Ok(false);
    };
    let record: ReminderRecord = decode(&current, "reminder")?;
    match &record.state {
        ReminderState::Claimed { claimant, .. } if *claimant == c.claimant => {}
        _ => return Ok(false),
    }
    let done = encode(&ReminderRecord {
        state: finish.state.clone(),
        ..record
    })?;
    Ok(tree
        .compare_and_swap(&key, Some(current), Some(done))?
        .is_ok())
}

/// Every reminder record, by key id.
pub(crate) fn list(tree: &sled::Tree) -> StoreResult<Vec<ReminderRecord>> {
    tree.iter()
        .values()
        .map(|v| decode(&v?, "reminder"))
        .collect()
}

/// Writes a tenant's contact.
pub(crate) fn set_contact(tree: &sled::Tree, contact: &ContactRecord) -> StoreResult<()> {
    tree.insert(contact.tenant.as_bytes(), encode(contact)?)?;
    Ok(())
}

/// A tenant's contact, if one was set.
pub(crate) fn contact(tree: &sled::Tree, tenant: &str) -> StoreResult<Option<ContactRecord>> {
    tree.get(tenant.as_bytes())?
        .map(|v| decode(&v, "contact"))
        .transpose()
}

/// Every contact, by tenant.
pub(crate) fn contacts(tree: &sled::Tree) -> StoreResult<Vec<ContactRecord>> {
    tree.iter()
        .values()
        .map(|v| decode(&v?, "contact"))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(claimant: &str, now: Timestamp) -> ReminderClaim {
        ReminderClaim {
            key_id: "key_1".into(),
            tenant: "acme".into(),
            expires_at: 1_000_000,
            channel: Channel::Email,
            claimant: claimant.into(),
            now,
            lease_secs: 600,
        }
    }

    #[test]
    fn one_claimant_wins_and_a_finished_reminder_stays_finished() {
        let db = sled::Config::new().temporary(true).open().unwrap();
        let tree = db.open_tree("reminders").unwrap();
        assert!(claim(&tree, &request("a", 100)).unwrap());
        assert!(!claim(&tree, &request("b", 101)).unwrap(), "claimed twice");
        // Another channel, or another expiry of the same key, is another reminder.
        let mut webhook = request("b", 101);
        webhook.channel = Channel::TenantWebhook;
        assert!(claim(&tree, &webhook).unwrap());
        let sent = ReminderState::Sent {
            at: 102,
            attempts: 1,
        };
        let by_b = ReminderFinish {
            claim: request("b", 102),
            state: sent.clone(),
        };
        assert!(!finish(&tree, &by_b).unwrap(), "b does not hold a's claim");
        let by_a = ReminderFinish {
            claim: request("a", 102),
            state: sent,
        };
        assert!(finish(&tree, &by_a).unwrap());
        // Long after, a sent reminder is never claimed again.
        assert!(!claim(&tree, &request("c", 100_000)).unwrap());
        assert_eq!(list(&tree).unwrap().len(), 2);
    }

    #[test]
    fn a_claim_left_by_a_dead_process_is_taken_over_after_its_lease() {
        let db = sled::Config::new().temporary(true).open().unwrap();
        let tree = db.open_tree("reminders").unwrap();
        assert!(claim(&tree, &request("dead", 100)).unwrap());
        assert!(!claim(&tree, &request("b", 100 + 599)).unwrap());
        assert!(claim(&tree, &request("b", 100 + 600)).unwrap());
        let late = ReminderFinish {
            claim: request("dead", 800),
            state: ReminderState::Sent {
                at: 800,
                attempts: 1,
            },
        };
        assert!(!finish(&tree, &late).unwrap());
    }
}
