//! `docward reminders ...` and the reminder options `docward serve` shares.

use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Result, bail};
use clap::{Args, Subcommand};
use serde::Serialize;

use docward::clock;
use docward::reminders::{self, Mailer, RetryPolicy, Settings, WebhookTarget, parse_webhook_url};
use docward::store::{KeyStore, ReminderState};

use super::output::{print_json, print_table};
use super::serve::positive_duration;

/// Where reminders go and how they are retried (shared by `serve` and `reminders run`).
#[derive(Debug, Args)]
pub struct ReminderArgs {
    /// Send expiry reminders by mail through this server: smtp://HOST:PORT (STARTTLS when
    /// offered; add ?tls=required to insist) or smtps://HOST:PORT; USER:PASSWORD@ before the host
    /// to log in
    #[arg(
        long,
        env = "DOCWARD_SMTP_URL",
        hide_env_values = true,
        value_name = "URL"
    )]
    smtp_url: Option<String>,
    /// The From address of reminder mail
    #[arg(
        long,
        env = "DOCWARD_MAIL_FROM",
        default_value = "docward <docward@localhost>",
        value_name = "ADDR"
    )]
    mail_from: String,
    /// Also POST every tenant's reminders to this server-wide webhook (signed with
    /// DOCWARD_WEBHOOK_SECRET)
    #[arg(long, env = "DOCWARD_WEBHOOK_URL", value_name = "URL")]
    webhook_url: Option<String>,
    /// The server-wide webhook's signing secret; prefer the environment variable to the flag
    #[arg(
        long,
        env = "DOCWARD_WEBHOOK_SECRET",
        hide_env_values = true,
        value_name = "SECRET"
    )]
    webhook_secret: Option<String>,
    /// How long before a key expires its reminder goes out
    #[arg(long, default_value = "7d", value_name = "DURATION", value_parser = positive_duration)]
    reminder_lead: Duration,
    /// Delivery attempts per reminder before it is recorded as failed
    #[arg(long, default_value_t = 5, value_name = "N", value_parser = clap::value_parser!(u32).range(1..=20))]
    reminder_attempts: u32,
    /// Pause before the second attempt, doubled after each
    #[arg(long, default_value = "2s", value_name = "DURATION", value_parser = positive_duration)]
    reminder_backoff: Duration,
}

impl ReminderArgs {
    /// The delivery settings, checked.
    pub fn settings(&self, data_dir: &Path) -> Result<Settings> {
        let mailer = match &self.smtp_url {
            Some(url) => Some(Mailer::new(url, &self.mail_from)?),
            None => None,
        };
        let server_webhook = match &self.webhook_url {
            Some(url) => {
                let url = parse_webhook_url(url)?;
                let Some(secret) = self.webhook_secret.clone().filter(|s| !s.is_empty()) else {
                    bail!(
                        "--webhook-url needs a signing secret: set DOCWARD_WEBHOOK_SECRET (e.g. to the output of `openssl rand -hex 32`) and give the same secret to the receiver"
                    );
                };
                Some(WebhookTarget { url, secret })
            }
            None => None,
        };
        Ok(Settings {
            data_dir: data_dir.to_path_buf(),
            lead: self.reminder_lead,
            mailer,
            server_webhook,
            retry: RetryPolicy {
                attempts: self.reminder_attempts,
                backoff: self.reminder_backoff,
            },
        })
    }
}

#[derive(Debug, Subcommand)]
pub enum RemindersCommand {
    /// Send the expiry reminders due now, once (for cron; `serve --http` also does it on a timer)
    Run {
        #[command(flatten)]
        delivery: ReminderArgs,
        /// Print the outcome as JSON
        #[arg(long)]
        json: bool,
    },
    /// Reminders sent, failed or being sent, per key and channel
    List {
        /// Print a JSON array
        #[arg(long)]
        json: bool,
    },
}

#[derive(Serialize)]
struct RunView {
    sent: u32,
    failed: u32,
    skipped: u32,
    unreachable: u32,
}

#[derive(Serialize)]
struct ReminderView {
    key_id: String,
    tenant: String,
    expires_at: String,
    channel: &'static str,
    state: &'static str,
    at: String,
    attempts: Option<u32>,
    error: Option<String>,
}

pub fn run(cmd: RemindersCommand, store: Arc<dyn KeyStore>, data_dir: &Path) -> Result<ExitCode> {
    match cmd {
        RemindersCommand::Run { delivery, json } => {
            let settings = delivery.settings(data_dir)?;
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(1)
                .enable_all()
                .build()?;
            let report = runtime.block_on(reminders::scan(&store, &settings))?;
            if json {
                print_json(&RunView {
                    sent: report.sent,
                    failed: report.failed,
                    skipped: report.skipped,
                    unreachable: report.unreachable,
                })?;
            } else {
                println!(
                    "Expiry reminders: {} sent, {} failed, {} already sent or in progress",
                    report.sent, report.failed, report.skipped
                );
                if report.unreachable > 0 {
                    eprintln!(
                        "note: {} expiring key(s) belong to tenants with no way to reach them: set one with `docward tenant update NAME --email ADDR` (and pass --smtp-url) or --webhook-url",
                        report.unreachable
                    );
                }
            }
            Ok(if report.failed > 0 {
                ExitCode::FAILURE
            } else {
                ExitCode::SUCCESS
            })
        }
        RemindersCommand::List { json } => {
            let views: Vec<ReminderView> = store
                .reminders()?
                .into_iter()
                .map(|r| {
                    let (state, at, attempts, error) = match r.state {
                        ReminderState::Claimed { at, .. } => ("sending", at, None, None),
                        ReminderState::Sent { at, attempts } => ("sent", at, Some(attempts), None),
                        ReminderState::Failed {
                            at,
                            attempts,
                            error,
                        } => ("failed", at, Some(attempts), Some(error)),
                    };
                    ReminderView {
                        key_id: r.key_id,
                        tenant: r.tenant,
                        expires_at: clock::format(r.expires_at),
                        channel: r.channel.as_str(),
                        state,
                        at: clock::format(at),
                        attempts,
                        error,
                    }
                })
                .collect();
            if json {
                print_json(&views)?;
            } else if views.is_empty() {
                eprintln!("No reminders yet: they go out 7 days before a key expires");
            } else {
                let rows: Vec<Vec<String>> = views
                    .iter()
                    .map(|v| {
                        vec![
                            v.key_id.clone(),
                            v.tenant.clone(),
                            v.channel.to_owned(),
                            v.state.to_owned(),
                            v.at.clone(),
                            v.expires_at.clone(),
                            v.error.clone().unwrap_or_default(),
                        ]
                    })
                    .collect();
                print_table(
                    &[
                        "KEY",
                        "TENANT",
                        "CHANNEL",
                        "STATE",
                        "AT",
                        "KEY EXPIRES",
                        "ERROR",
                    ],
                    &rows,
                )?;
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}
