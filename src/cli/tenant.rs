//! `docward tenant ...`

use std::process::ExitCode;

use anyhow::{Result, bail};
use clap::Subcommand;
use serde::Serialize;

use docward::clock;
use docward::domain::{Plan, validate_tenant_name};
use docward::store::{KeyStore, TenantRecord};

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
        /// Print the tenant as JSON
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
}

impl From<&TenantRecord> for TenantView {
    fn from(t: &TenantRecord) -> Self {
        TenantView {
            name: t.name.clone(),
            plan: t.plan,
            daily_limit: t.effective_daily_limit(),
            max_keys: t.effective_max_keys(),
            created_at: clock::format(t.created_at),
        }
    }
}

pub fn run(cmd: TenantCommand, store: &dyn KeyStore) -> Result<ExitCode> {
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
            json,
        } => {
            let Some(mut tenant) = store.tenant(&name)? else {
                bail!("no tenant named '{name}': see `docward tenant list`");
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
            store.update_tenant(&tenant)?;
            if json {
                print_json(&TenantView::from(&tenant))?;
            } else {
                println!(
                    "Updated tenant '{}': {} plan (keys: {}, live requests/day: {}); running servers apply it on their next request",
                    tenant.name,
                    tenant.plan,
                    limit(tenant.effective_max_keys()),
                    limit(tenant.effective_daily_limit())
                );
            }
        }
        TenantCommand::List { json } => {
            let tenants = store.tenants()?;
            if json {
                let views: Vec<TenantView> = tenants.iter().map(TenantView::from).collect();
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
                        ]
                    })
                    .collect();
                print_table(
                    &["NAME", "PLAN", "MAX KEYS", "REQUESTS/DAY", "CREATED"],
                    &rows,
                )?;
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}
