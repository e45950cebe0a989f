//! Read and settings operations on a tenant's repos and usage, as key holders see them (no
//! server paths). The REST handlers call these; the web console can too.

use std::collections::HashMap;

use crate::clock::{self, Timestamp};
use crate::docs::{self, RepoInfo, RepoSettings};
use crate::domain::Env;
use crate::libraries::Libraries;
use crate::store::{KeyStore, StoreError};

use super::types::{
    PlanLimits, QuotaToday, RepoDetail, RepoSettingsView, RepoSummary, UsageDay, UsageReport,
};

/// A repo's summary.
pub fn summary(info: &RepoInfo) -> RepoSummary {
    RepoSummary {
        name: info.name.clone(),
        source_kind: "folder".to_owned(),
        documents: info.documents,
        sections: info.sections,
        indexed_at: clock::format(info.indexed_at),
    }
}

/// The repos of `tenant` in `env`, sorted by name.
pub fn repos(libraries: &Libraries, tenant: &str, env: Env) -> docs::Result<Vec<RepoSummary>> {
    Ok(libraries
        .get(tenant, env)?
        .repos()?
        .iter()
        .map(summary)
        .collect())
}

/// One repo of `tenant` in `env` with its settings.
pub fn repo(libraries: &Libraries, tenant: &str, env: Env, name: &str) -> docs::Result<RepoDetail> {
    let library = libraries.get(tenant, env)?;
    let info = library.repo(name)?;
    let settings = library.repo_settings(name)?;
    Ok(detail(&info, settings))
}

fn detail(info: &RepoInfo, settings: RepoSettings) -> RepoDetail {
    let s = summary(info);
    RepoDetail {
        name: s.name,
        source_kind: s.source_kind,
        documents: s.documents,
        sections: s.sections,
        indexed_at: s.indexed_at,
        settings: RepoSettingsView {
            ignore: settings.ignore,
        },
    }
}

/// Changes the settings of one repo: `ignore` replaces the extra ignore patterns when given.
pub fn update_settings(
    libraries: &Libraries,
    tenant: &str,
    env: Env,
    name: &str,
    ignore: Option<Vec<String>>,
) -> docs::Result<RepoDetail> {
    let library = libraries.get(tenant, env)?;
    let mut settings = library.repo_settings(name)?;
    if let Some(ignore) = ignore {
        settings.ignore = ignore;
    }
    let settings = library.set_repo_settings(name, &settings)?;
    Ok(detail(&library.repo(name)?, settings))
}

/// `YYYYMMDD` as `YYYY-MM-DD`.
pub fn day_text(day: u32) -> String {
    format!(
        "{:04}-{:02}-{:02}",
        day / 10_000,
        day / 100 % 100,
        day % 100
    )
}

/// Why a usage report could not be made.
#[derive(Debug, thiserror::Error)]
pub enum UsageError {
    /// The tenant is gone.
    #[error("tenant '{0}' does not exist")]
    NoTenant(String),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// The usage of `tenant`: plan limits, today's quota, and calls per key per day (newest first).
pub fn usage(
    store: &dyn KeyStore,
    tenant: &str,
    burst_per_second: u32,
    now: Timestamp,
) -> Result<UsageReport, UsageError> {
    let record = store
        .tenant(tenant)?
        .ok_or_else(|| UsageError::NoTenant(tenant.to_owned()))?;
    let today = clock::utc_day(now);
    let used = store.quota_used(tenant, today)?;
    let daily = record.effective_daily_limit();
    let keys: HashMap<String, _> = store
        .keys(Some(tenant))?
        .into_iter()
        .map(|k| (k.id.clone(), k))
        .collect();
    let mut days: Vec<UsageDay> = store
        .usage(Some(tenant))?
        .into_iter()
        .filter(|row| row.tenant == tenant)
        .map(|row| {
            let key = keys.get(&row.key_id);
            UsageDay {
                day: day_text(row.day),
                key_name: key.map(|k| k.name.clone()).unwrap_or_default(),
                key_display: key.map(|k| k.display()).unwrap_or_default(),
                env: key.map_or("", |k| k.env.as_str()).to_owned(),
                key_id: row.key_id,
                calls: row.calls,
            }
        })
        .collect();
    days.sort_by(|a, b| b.day.cmp(&a.day).then_with(|| a.key_id.cmp(&b.key_id)));
    Ok(UsageReport {
        tenant: record.name.clone(),
        plan: record.plan.to_string(),
        limits: PlanLimits {
            daily_live_calls: daily,
            max_keys: record.effective_max_keys(),
            burst_per_second,
        },
        today: QuotaToday {
            day: day_text(today),
            live_calls: used,
            remaining: daily.map(|d| d.saturating_sub(used)),
            resets_at: clock::format(clock::next_utc_midnight(now)),
        },
        days,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn days_are_written_with_dashes() {
        assert_eq!(day_text(20261202), "2026-12-02");
    }
}
