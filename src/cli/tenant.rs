//! `docward tenant ...`

use std::path::Path;
use std::process::ExitCode;

use anyhow::{Result, bail};
use clap::Subcommand;
use serde::Serialize;

use docward::clock;
use docward::domain::{Plan, validate_tenant_name};
use docward::reminders::{WebhookKey, parse_address, parse_webhook_url};
use docward::store::{ContactRecord, KeyStore, TenantRecord};

use super::output::{limit, print_json, print_table};

#[derive(Debug, Subcommand)]
pub enum TenantCommand {
    /// Create a tenant on a plan
    Create {
        /// Tenant name: a-z, 0-9, '-' and '_'
        name: String,
        /// free (3 keys, 100 requests/day), pro (10 keys, 10,000/day) or enterprise (no key cap)
        #[arg(long, default_value = "free")]
        plan: Plan,
        /// Override the plan's daily limit on live tool calls
        #[arg(long, value_name = "N")]
        daily_limit: Option<u64>,
        /// Override the plan's cap on active keys
        #[arg(long, value_name = "N")]
        max_keys: Option<u64>,
        /// Print the tenant as JSON
        #[arg(long)]
        json: bool,
    },
    /// Change a tenant's plan or limits; takes effect on the next request of every session
    Update {
        /// Tenant name
        name: String,
        /// New plan
        #[arg(long)]
        plan: Option<Plan>,
        /// Override the plan's daily limit on live tool calls
        #[arg(long, value_name = "N", conflicts_with = "plan_daily_limit")]
        daily_limit: Option<u64>,
        /// Go back to the plan's own daily limit
        #[arg(long)]
        plan_daily_limit: bool,
        /// Override the plan's cap on active keys
        #[arg(long, value_name = "N", conflicts_with = "plan_max_keys")]
        max_keys: Option<u64>,
        /// Go back to the plan's own key cap
        #[arg(long)]
        plan_max_keys: bool,
        /// Where expiry reminders are mailed (with `serve --smtp-url`)
        #[arg(long, value_name = "ADDR", conflicts_with = "no_email")]
        email: Option<String>,
        /// Stop mailing this tenant's reminders
        #[arg(long)]
        no_email: bool,
        /// POST this tenant's expiry reminders here, signed; prints the signing secret once
        #[arg(long, value_name = "URL", conflicts_with = "no_webhook")]
        webhook_url: Option<String>,
        /// Stop POSTing this tenant's reminders
        #[arg(long)]
        no_webhook: bool,
        /// Replace the webhook's signing secret (the old one stops working) and print the new one
        #[arg(long, conflicts_with = "no_webhook")]
        rotate_webhook_secret: bool,
        /// Print the tenant as JSON
        #[arg(long)]
        json: bool,
    },
    /// Show one tenant: plan, limits and where its reminders go
    Show {
        /// Tenant name
        name: String,
        /// Print JSON
        #[arg(long)]
        json: bool,
    },
    /// List tenants
    List {
        /// Print a JSON array
        #[arg(long)]
        json: bool,
    },
}

#[derive(Serialize)]
struct TenantView {
    name: String,
    plan: Plan,
    daily_limit: Option<u64>,
    max_keys: Option<u64>,
    created_at: String,
    email: Option<String>,
    webhook_url: Option<String>,
    /// Only right after it was set or rotated: the one time it is shown.
    #[serde(skip_serializing_if = "Option::is_none")]
    webhook_secret: Option<String>,
}

impl TenantView {
    fn new(t: &TenantRecord, contact: Option<&ContactRecord>) -> Self {
        TenantView {
            name: t.name.clone(),
            plan: t.plan,
            daily_limit: t.effective_daily_limit(),
            max_keys: t.effective_max_keys(),
            created_at: clock::format(t.created_at),
            email: contact.and_then(|c| c.email.clone()),
            webhook_url: contact.and_then(|c| c.webhook_url.clone()),
            webhook_secret: None,
        }
    }
}

impl From<&TenantRecord> for TenantView {
    fn from(t: &TenantRecord) -> Self {
        TenantView::new(t, None)
    }
}

/// What `tenant update` asked of the tenant's contact.
struct ContactChange {
    email: Option<String>,
    no_email: bool,
    webhook_url: Option<String>,
    no_webhook: bool,
    rotate_webhook_secret: bool,
}

impl ContactChange {
    fn is_empty(&self) -> bool {
        self.email.is_none()
            && !self.no_email
            && self.webhook_url.is_none()
            && !self.no_webhook
            && !self.rotate_webhook_secret
    }

    /// Applies the change; returns the webhook's new signing secret if it must be shown.
    fn apply(
        self,
        store: &dyn KeyStore,
        tenant: &str,
        data_dir: &Path,
    ) -> Result<(ContactRecord, Option<String>)> {
        let mut contact = store
            .contact(tenant)?
            .unwrap_or_else(|| ContactRecord::empty(tenant));
        if let Some(email) = self.email {
            contact.email = Some(parse_address(&email)?.to_string());
        }
        if self.no_email {
            contact.email = None;
        }
        let mut show_secret = false;
        if let Some(url) = self.webhook_url {
            let url = parse_webhook_url(&url)?;
            show_secret = contact.webhook_url.is_none();
            contact.webhook_url = Some(url.to_string());
        }
        if self.rotate_webhook_secret {
            if contact.webhook_url.is_none() {
                bail!(
                    "tenant '{tenant}' has no webhook: set one with `docward tenant update {tenant} --webhook-url URL`"
                );
            }
            contact.webhook_generation += 1;
            show_secret = true;
        }
        if self.no_webhook {
            contact.webhook_url = None;
            // A webhook set again later gets a new secret.
            contact.webhook_generation += 1;
        }
        let secret = if show_secret {
            let key = WebhookKey::load_or_create(data_dir)?;
            Some(key.tenant_secret(tenant, contact.webhook_generation))
        } else {
            None
        };
        store.set_contact(&contact)?;
        Ok((contact, secret))
    }
}

pub fn run(cmd: TenantCommand, store: &dyn KeyStore, data_dir: &Path) -> Result<ExitCode> {
    match cmd {
        TenantCommand::Create {
            name,
            plan,
            daily_limit,
            max_keys,
            json,
        } => {
            if let Err(why) = validate_tenant_name(&name) {
                bail!(why);
            }
            if plan != Plan::Enterprise && (daily_limit.is_some() || max_keys.is_some()) {
                eprintln!("note: overriding the {plan} plan's limits for tenant '{name}'");
            }
            let tenant = TenantRecord {
                name,
                plan,
                daily_limit,
                max_keys,
                created_at: clock::now(),
            };
            store.create_tenant(&tenant)?;
            if json {
                print_json(&TenantView::from(&tenant))?;
            } else {
                println!(
                    "Created tenant '{}' on the {} plan (keys: {}, live requests/day: {})",
                    tenant.name,
                    tenant.plan,
                    limit(tenant.effective_max_keys()),
                    limit(tenant.effective_daily_limit())
                );
            }
        }
        TenantCommand::Update {
            name,
            plan,
            daily_limit,
            plan_daily_limit,
            max_keys,
            plan_max_keys,
            email,
            no_email,
            webhook_url,
            no_webhook,
            rotate_webhook_secret,
            json,
        } => {
            let Some(mut tenant) = store.tenant(&name)? else {
                bail!("no tenant named '{name}': see `docward tenant list`");
            };
            let change = ContactChange {
                email,
                no_email,
                webhook_url,
                no_webhook,
                rotate_webhook_secret,
            };
            let limits_changed = plan.is_some()
                || daily_limit.is_some()
                || plan_daily_limit
                || max_keys.is_some()
                || plan_max_keys;
            let contact_asked = !change.is_empty();
            let (contact, secret) = if !contact_asked {
                (store.contact(&name)?, None)
            } else {
                let (contact, secret) = change.apply(store, &name, data_dir)?;
                (Some(contact), secret)
            };
            if let Some(plan) = plan {
                tenant.plan = plan;
            }
            if daily_limit.is_some() || plan_daily_limit {
                tenant.daily_limit = daily_limit;
            }
            if max_keys.is_some() || plan_max_keys {
                tenant.max_keys = max_keys;
            }
            if limits_changed || !contact_asked {
                store.update_tenant(&tenant)?;
            }
            if json {
                let mut view = TenantView::new(&tenant, contact.as_ref());
                view.webhook_secret = secret;
                print_json(&view)?;
            } else {
                println!(
                    "Updated tenant '{}': {} plan (keys: {}, live requests/day: {}); running servers apply it on their next request",
                    tenant.name,
                    tenant.plan,
                    limit(tenant.effective_max_keys()),
                    limit(tenant.effective_daily_limit())
                );
                if let Some(contact) = &contact {
                    println!(
                        "Reminders: mail {}, webhook {}",
                        contact.email.as_deref().unwrap_or("none"),
                        contact.webhook_url.as_deref().unwrap_or("none")
                    );
                }
                if let Some(secret) = secret {
                    println!(
                        "Webhook signing secret (shown once; give it to the receiver, which checks X-Docward-Signature):\n{secret}"
                    );
                }
            }
        }
        TenantCommand::Show { name, json } => {
            let Some(tenant) = store.tenant(&name)? else {
                bail!("no tenant named '{name}': see `docward tenant list`");
            };
            let view = TenantView::new(&tenant, store.contact(&name)?.as_ref());
            if json {
                print_json(&view)?;
            } else {
                let none = || "none".to_owned();
                let rows = vec![
                    vec!["name".to_owned(), view.name.clone()],
                    vec!["plan".to_owned(), view.plan.to_string()],
                    vec!["max keys".to_owned(), limit(view.max_keys)],
                    vec!["requests/day".to_owned(), limit(view.daily_limit)],
                    vec!["created".to_owned(), clock::format_short(tenant.created_at)],
                    vec!["email".to_owned(), view.email.clone().unwrap_or_else(none)],
                    vec![
                        "webhook".to_owned(),
                        view.webhook_url.clone().unwrap_or_else(none),
                    ],
                ];
                print_table(&["FIELD", "VALUE"], &rows)?;
            }
        }
        TenantCommand::List { json } => {
            let tenants = store.tenants()?;
            let contacts: std::collections::HashMap<String, ContactRecord> = store
                .contacts()?
                .into_iter()
                .map(|c| (c.tenant.clone(), c))
                .collect();
            if json {
                let views: Vec<TenantView> = tenants
                    .iter()
                    .map(|t| TenantView::new(t, contacts.get(&t.name)))
                    .collect();
                print_json(&views)?;
            } else if tenants.is_empty() {
                eprintln!(
                    "No tenants yet: create one with `docward tenant create NAME --plan free`"
                );
            } else {
                let rows: Vec<Vec<String>> = tenants
                    .iter()
                    .map(|t| {
                        vec![
                            t.name.clone(),
                            t.plan.to_string(),
                            limit(t.effective_max_keys()),
                            limit(t.effective_daily_limit()),
                            clock::format_short(t.created_at),
                            contacts
                                .get(&t.name)
                                .and_then(|c| c.email.clone())
                                .unwrap_or_else(|| "-".to_owned()),
                            if contacts
                                .get(&t.name)
                                .is_some_and(|c| c.webhook_url.is_some())
                            {
                                "yes".to_owned()
                            } else {
                                "-".to_owned()
                            },
                        ]
                    })
                    .collect();
                print_table(
                    &[
                        "NAME",
                        "PLAN",
                        "MAX KEYS",
                        "REQUESTS/DAY",
                        "CREATED",
                        "EMAIL",
                        "WEBHOOK",
                    ],
                    &rows,
                )?;
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}
