//! The usage page: calls per key per day over the last two weeks, as server-drawn SVG bars,
//! with the same numbers in a table.

use std::collections::HashMap;
use std::sync::Arc;

use askama::Template;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;

use super::ConsoleState;
use super::pages::{self, Frame, blocking, pick_tenant, render};
use super::session::{self, field};
use crate::clock;

/// Days shown.
const DAYS: usize = 14;
const BAR_WIDTH: u32 = 20;
const BAR_GAP: u32 = 4;
const CHART_HEIGHT: u32 = 100;

struct Bar {
    x: u32,
    y: u32,
    height: u32,
    label: String,
}

struct KeyChart {
    name: String,
    display: String,
    env: &'static str,
    total: u64,
    bars: Vec<Bar>,
    /// (day, calls) for the table.
    days: Vec<(String, u64)>,
}

#[derive(Template)]
#[template(path = "usage.html")]
struct UsagePage {
    frame: Frame,
    charts: Vec<KeyChart>,
    width: u32,
    height: u32,
    first_day: String,
    last_day: String,
    today_live: u64,
    daily_limit: String,
}

/// `GET /console/usage`
pub(crate) async fn page(
    State(state): State<Arc<ConsoleState>>,
    headers: HeaderMap,
    Query(query): Query<Vec<(String, String)>>,
) -> Response {
    blocking(move || {
        let session = match session::require(&state, &headers) {
            Ok(s) => s,
            Err(p) => return p,
        };
        let store = state.store();
        let (tenant, tenants) = match pick_tenant(store, &session, field(&query, "tenant")) {
            Ok(t) => t,
            Err(p) => return p,
        };
        let now = clock::now();
        let today = clock::utc_day(now);
        let mut days = vec![today];
        while days.len() < DAYS {
            let before = clock::day_before(days[days.len() - 1]);
            days.push(before);
        }
        days.reverse();
        let (rows, keys, record) = match (
            store.usage(Some(&tenant)),
            store.keys(Some(&tenant)),
            store.tenant(&tenant),
        ) {
            (Ok(r), Ok(k), Ok(t)) => (r, k, t),
            (Err(e), _, _) | (_, Err(e), _) | (_, _, Err(e)) => return pages::store_error(&e),
        };
        let mut calls: HashMap<(&str, u32), u64> = HashMap::new();
        for row in &rows {
            *calls.entry((row.key_id.as_str(), row.day)).or_default() += row.calls;
        }
        let max = days
            .iter()
            .flat_map(|d| keys.iter().map(move |k| (k.id.as_str(), *d)))
            .filter_map(|k| calls.get(&k))
            .copied()
            .max()
            .unwrap_or(0)
            .max(1);
        let charts = keys
            .iter()
            .map(|key| {
                let counts: Vec<u64> = days
                    .iter()
                    .map(|d| calls.get(&(key.id.as_str(), *d)).copied().unwrap_or(0))
                    .collect();
                let bars = counts
                    .iter()
                    .zip(&days)
                    .enumerate()
                    .map(|(i, (&n, &day))| {
                        let height = ((n * u64::from(CHART_HEIGHT)) / max) as u32;
                        let height = if n > 0 { height.max(2) } else { 0 };
                        Bar {
                            x: i as u32 * (BAR_WIDTH + BAR_GAP),
                            y: CHART_HEIGHT - height,
                            height,
                            label: format!("{}: {n} calls", clock::format_day(day)),
                        }
                    })
                    .collect();
                KeyChart {
                    name: key.name.clone(),
                    display: key.display(),
                    env: key.env.as_str(),
                    total: counts.iter().sum(),
                    bars,
                    days: days
                        .iter()
                        .zip(&counts)
                        .filter(|(_, n)| **n > 0)
                        .map(|(d, n)| (clock::format_day(*d), *n))
                        .collect(),
                }
            })
            .collect();
        let today_live = store.quota_used(&tenant, today).unwrap_or(0);
        let daily_limit = record
            .and_then(|t| t.effective_daily_limit())
            .map_or_else(|| "unlimited".to_owned(), |l| l.to_string());
        render(
            StatusCode::OK,
            &UsagePage {
                frame: Frame::new("Usage", "usage", &session, tenants, &tenant),
                charts,
                width: DAYS as u32 * (BAR_WIDTH + BAR_GAP),
                height: CHART_HEIGHT,
                first_day: clock::format_day(days[0]),
                last_day: clock::format_day(today),
                today_live,
                daily_limit,
            },
        )
    })
    .await
}
