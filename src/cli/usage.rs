//! `docward usage`: tool calls per key per day, for billing and troubleshooting.

use std::collections::HashMap;
use std::process::ExitCode;

use anyhow::{Result, bail};
use clap::Args;
use serde::Serialize;

use docward::clock;
use docward::domain::Env;
use docward::store::KeyStore;

use super::hints;
use super::output::{limit, print_json, print_table};

#[derive(Debug, Args)]
pub struct UsageArgs {
    /// Only this tenant
    #[arg(long)]
    tenant: Option<String>,
    /// Print JSON
    #[arg(long)]
    json: bool,
}

#[derive(Serialize)]
struct UsageView {
    tenant: String,
    day: String,
    key_id: String,
    key_name: String,
    env: Option<Env>,
    calls: u64,
}

#[derive(Serialize)]
struct QuotaView {
    tenant: String,
    day: String,
    live_calls: u64,
    daily_limit: Option<u64>,
    resets_at: String,
}

#[derive(Serialize)]
struct Report {
    today: Vec<QuotaView>,
    usage: Vec<UsageView>,
}

pub fn run(args: UsageArgs, store: &dyn KeyStore) -> Result<ExitCode> {
    if let Some(t) = &args.tenant
        && store.tenant(t)?.is_none()
    {
        bail!("no tenant named '{t}': see `docward tenant list`");
    }
    let keys: HashMap<String, (String, Env)> = store
        .keys(args.tenant.as_deref())?
        .into_iter()
        .map(|k| (k.id, (k.name, k.env)))
        .collect();
    let usage: Vec<UsageView> = store
        .usage(args.tenant.as_deref())?
        .into_iter()
        .map(|row| {
            let key = keys.get(&row.key_id);
            UsageView {
                tenant: row.tenant,
                day: clock::format_day(row.day),
                key_name: key.map_or_else(|| "(deleted)".to_owned(), |k| k.0.clone()),
                env: key.map(|k| k.1),
                key_id: row.key_id,
                calls: row.calls,
            }
        })
        .collect();
    let now = clock::now();
    let today = clock::utc_day(now);
    let mut quotas = Vec::new();
    let mut used_up = Vec::new();
    for t in store.tenants()? {
        if args.tenant.as_ref().is_some_and(|wanted| *wanted != t.name) {
            continue;
        }
        let used = store.quota_used(&t.name, today)?;
        if let Some(limit) = t.effective_daily_limit().filter(|l| used >= *l) {
            let resets = clock::format_short(clock::next_utc_midnight(now));
            used_up.push(hints::quota_used_up(&t, used, limit, &resets));
        }
        quotas.push(QuotaView {
            live_calls: used,
            daily_limit: t.effective_daily_limit(),
            tenant: t.name,
            day: clock::format_day(today),
            resets_at: clock::format(clock::next_utc_midnight(now)),
        });
    }
    for note in &used_up {
        eprintln!("{note}");
    }
    if args.json {
        print_json(&Report {
            today: quotas,
            usage,
        })?;
        return Ok(ExitCode::SUCCESS);
    }
    let quota_rows: Vec<Vec<String>> = quotas
        .iter()
        .map(|q| {
            vec![
                q.tenant.clone(),
                q.live_calls.to_string(),
                limit(q.daily_limit),
                q.resets_at.clone(),
            ]
        })
        .collect();
    print_table(
        &["TENANT", "LIVE CALLS TODAY", "DAILY LIMIT", "RESETS AT"],
        &quota_rows,
    )?;
    println!();
    if usage.is_empty() {
        println!("No tool calls recorded yet.");
    } else {
        let rows: Vec<Vec<String>> = usage
            .iter()
            .map(|u| {
                vec![
                    u.day.clone(),
                    u.tenant.clone(),
                    u.key_id.clone(),
                    u.key_name.clone(),
                    u.env.map_or("?".to_owned(), |e| e.to_string()),
                    u.calls.to_string(),
                ]
            })
            .collect();
        print_table(&["DAY", "TENANT", "KEY", "NAME", "ENV", "CALLS"], &rows)?;
    }
    Ok(ExitCode::SUCCESS)
}
