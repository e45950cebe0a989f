//! Expiry reminders: some days before a key expires (7 by default), one reminder per key and
//! channel, by mail to the tenant's contact address and/or a signed webhook POST.
//!
//! A scan ([`scan`]) lists the keys that expire within the lead time and are neither revoked
//! nor rotated, claims each reminder in the store (a compare-and-swap record, durable before
//! anything is sent), delivers it, and records it as sent or failed. However many processes
//! scan one data dir, and however often they restart, one claim wins: see
//! `docs/reminders.md`. `docward serve --http` scans on an interval; `docward reminders run`
//! scans once, for cron.

mod error;
mod mail;
mod message;
mod secret;
pub mod tls;
mod webhook;

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

pub use error::{ReminderError, ReminderResult};
pub use mail::{Mailer, parse_address};
pub use message::Reminder;
pub use secret::{WebhookKey, key_path};
pub use webhook::{RetryPolicy, WebhookTarget, parse_url as parse_webhook_url, signature};

use crate::clock::{self, Timestamp};
use crate::store::{
    Channel, ContactRecord, KeyRecord, KeyStore, ReminderClaim, ReminderFinish, ReminderState,
    StoreResult,
};

/// The default lead time: reminders go out this long before expiry.
pub const DEFAULT_LEAD: Duration = Duration::from_secs(7 * 86_400);

/// How reminders are delivered.
pub struct Settings {
    /// The data dir (for the webhook key).
    pub data_dir: PathBuf,
    /// How long before expiry a reminder goes out.
    pub lead: Duration,
    /// Mail, if an SMTP server is configured.
    pub mailer: Option<Mailer>,
    /// The server's own webhook, if configured.
    pub server_webhook: Option<WebhookTarget>,
    /// Attempts and backoff for each delivery.
    pub retry: RetryPolicy,
}

/// What one scan did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct ScanReport {
    /// Reminders delivered.
    pub sent: u32,
    /// Reminders given up on.
    pub failed: u32,
    /// Reminders due but already claimed or done (by this or another process).
    pub skipped: u32,
    /// Keys due whose tenant has no channel configured.
    pub unreachable: u32,
}

/// Runs blocking store calls off the async threads.
async fn on_store<T: Send + 'static>(
    store: &Arc<dyn KeyStore>,
    call: impl FnOnce(&dyn KeyStore) -> StoreResult<T> + Send + 'static,
) -> ReminderResult<T> {
    let store = Arc::clone(store);
    tokio::task::spawn_blocking(move || call(store.as_ref()))
        .await
        .map_err(|e| ReminderError::MailConfig(format!("a store call panicked: {e}")))?
        .map_err(ReminderError::from)
}

/// Whether `key` is due a reminder at `now`: it expires within `lead`, not yet, and is still
/// the key in use (not revoked, not replaced by rotation).
pub fn due(key: &KeyRecord, now: Timestamp, lead: Duration) -> Option<Timestamp> {
    let expires_at = key.expires_at?;
    let lead = i64::try_from(lead.as_secs()).unwrap_or(i64::MAX);
    let in_use = key.revoked_at.is_none() && key.rotated_to.is_none();
    (in_use && expires_at > now && expires_at - now <= lead).then_some(expires_at)
}

/// One pass over every key: claims, sends and records the reminders due now.
pub async fn scan(store: &Arc<dyn KeyStore>, settings: &Settings) -> ReminderResult<ScanReport> {
    let now = clock::now();
    let keys = on_store(store, |s| s.keys(None)).await?;
    let due_keys: Vec<(KeyRecord, Timestamp)> = keys
        .into_iter()
        .filter_map(|k| due(&k, now, settings.lead).map(|at| (k, at)))
        .collect();
    let mut report = ScanReport::default();
    if due_keys.is_empty() {
        return Ok(report);
    }
    let contacts: HashMap<String, ContactRecord> = on_store(store, |s| s.contacts())
        .await?
        .into_iter()
        .map(|c| (c.tenant.clone(), c))
        .collect();
    let claimant = format!("{}-{:016x}", std::process::id(), rand::random::<u64>());
    let lease_secs = lease(settings.retry);
    let client = webhook::client();
    let mut webhook_key: Option<WebhookKey> = None;
    for (key, expires_at) in due_keys {
        let contact = contacts.get(&key.tenant);
        let mut channels = Vec::new();
        if let (Some(_), Some(email)) = (&settings.mailer, contact.and_then(|c| c.email.clone())) {
            channels.push((Channel::Email, Target::Mail(email)));
        }
        if let Some(c) = contact
            && let Some(url) = &c.webhook_url
        {
            let key_file = match &webhook_key {
                Some(k) => k,
                None => webhook_key.insert(WebhookKey::load_or_create(&settings.data_dir)?),
            };
            match webhook::parse_url(url) {
                Ok(url) => channels.push((
                    Channel::TenantWebhook,
                    Target::Webhook(WebhookTarget {
                        url,
                        secret: key_file.tenant_secret(&c.tenant, c.webhook_generation),
                    }),
                )),
                Err(e) => {
                    tracing::warn!(tenant = %key.tenant, "skipping the tenant's webhook: {e}")
                }
            }
        }
        if let Some(target) = &settings.server_webhook {
            channels.push((Channel::ServerWebhook, Target::Webhook(target.clone())));
        }
        if channels.is_empty() {
            report.unreachable += 1;
            continue;
        }
        for (channel, target) in channels {
            let claim = ReminderClaim {
                key_id: key.id.clone(),
                tenant: key.tenant.clone(),
                expires_at,
                channel,
                claimant: claimant.clone(),
                now: clock::now(),
                lease_secs,
            };
            let attempt = claim.clone();
            if !on_store(store, move |s| s.claim_reminder(&attempt)).await? {
                report.skipped += 1;
                continue;
            }
            let reminder = Reminder::new(&key, expires_at, now, channel.as_str());
            let (attempts, outcome) = deliver(settings, &client, &target, &reminder).await;
            let state = match &outcome {
                Ok(()) => {
                    report.sent += 1;
                    tracing::info!(key = %key.display(), tenant = %key.tenant, channel = channel.as_str(), attempts, "sent an expiry reminder");
                    ReminderState::Sent {
                        at: clock::now(),
                        attempts,
                    }
                }
                Err(error) => {
                    report.failed += 1;
                    tracing::warn!(key = %key.display(), tenant = %key.tenant, channel = channel.as_str(), attempts, "gave up on an expiry reminder: {error}");
                    ReminderState::Failed {
                        at: clock::now(),
                        attempts,
                        error: error.clone(),
                    }
                }
            };
            let finish = ReminderFinish { claim, state };
            if !on_store(store, move |s| s.finish_reminder(&finish)).await? {
                tracing::warn!(key = %key.display(), channel = channel.as_str(), "an expiry reminder's claim was taken over while it was being sent");
            }
        }
    }
    Ok(report)
}

enum Target {
    Mail(String),
    Webhook(WebhookTarget),
}

async fn deliver(
    settings: &Settings,
    client: &reqwest::Client,
    target: &Target,
    reminder: &Reminder,
) -> (u32, Result<(), String>) {
    match target {
        Target::Mail(to) => {
            let Some(mailer) = &settings.mailer else {
                return (0, Err("no SMTP server is configured".into()));
            };
            match parse_address(to) {
                Ok(to) => mailer.send(&to, reminder, settings.retry).await,
                Err(e) => (0, Err(e.to_string())),
            }
        }
        Target::Webhook(target) => {
            let body = serde_json::to_vec(reminder).expect("a reminder serialises");
            webhook::deliver(client, target, &reminder.delivery_id, &body, settings.retry).await
        }
    }
}

/// How long a claim holds before another process may take it over: well past the longest a
/// delivery can take, so that only a dead claimant loses it.
fn lease(retry: RetryPolicy) -> i64 {
    let worst = retry.worst_case().as_secs() as i64;
    (worst * 2).max(600)
}

/// Scans every `interval` until `stop` is cancelled (what `serve --http` runs).
pub async fn run_every(
    store: Arc<dyn KeyStore>,
    settings: Settings,
    interval: Duration,
    stop: tokio_util::sync::CancellationToken,
) {
    loop {
        match scan(&store, &settings).await {
            Ok(report) if report.sent + report.failed > 0 => tracing::info!(
                sent = report.sent,
                failed = report.failed,
                skipped = report.skipped,
                "expiry reminders scanned"
            ),
            Ok(_) => {}
            Err(e) => tracing::warn!("expiry reminder scan failed (retried next interval): {e}"),
        }
        tokio::select! {
            _ = stop.cancelled() => return,
            _ = tokio::time::sleep(interval) => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{Env, Scope, TokenType};

    fn key(expires_at: Option<i64>) -> KeyRecord {
        KeyRecord {
            id: "key_1".into(),
            tenant: "acme".into(),
            name: "CI".into(),
            env: Env::Live,
            token_type: TokenType::Restricted,
            scopes: vec![Scope::McpSearch],
            prefix: "AbCd1234".into(),
            created_at: 0,
            expires_at,
            revoked_at: None,
            rotated_to: None,
            last_used_at: None,
        }
    }

    #[test]
    fn due_within_the_lead_time_and_only_for_keys_in_use() {
        let day = 86_400;
        let now = 1_000 * day;
        assert_eq!(
            due(&key(Some(now + 7 * day)), now, DEFAULT_LEAD),
            Some(now + 7 * day)
        );
        assert_eq!(due(&key(Some(now + 7 * day + 1)), now, DEFAULT_LEAD), None);
        assert_eq!(
            due(&key(Some(now)), now, DEFAULT_LEAD),
            None,
            "already expired"
        );
        assert_eq!(due(&key(None), now, DEFAULT_LEAD), None);
        let mut revoked = key(Some(now + day));
        revoked.revoked_at = Some(now);
        assert_eq!(due(&revoked, now, DEFAULT_LEAD), None);
        let mut rotated = key(Some(now + day));
        rotated.rotated_to = Some("key_2".into());
        assert_eq!(due(&rotated, now, DEFAULT_LEAD), None);
    }

    #[test]
    fn the_message_names_the_key_and_the_fix_but_no_secret() {
        let k = key(Some(10 * 86_400));
        let r = Reminder::new(&k, 10 * 86_400, 5 * 86_400, "email");
        assert_eq!(r.days_left, 5);
        let body = r.body();
        for needle in [
            "CI",
            "dw_live_AbCd1234…",
            "key_1",
            "docward key rotate key_1",
            "in 5 days",
        ] {
            assert!(
                body.contains(needle) || r.subject().contains(needle),
                "{needle}: {body}"
            );
        }
        let json = serde_json::to_value(&r).unwrap();
        assert_eq!(json["type"], "key.expiring");
        assert_eq!(json["key"]["prefix"], "dw_live_AbCd1234…");
    }
}
