//! The plan and limits page: what a tenant's plan allows and how much of it is used; the
//! operator changes a tenant's plan and overrides here.

use std::sync::Arc;

use askama::Template;
use axum::Form;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;

use super::ConsoleState;
use super::pages::{self, Frame, blocking, pick_tenant, render};
use super::session::{self, Session, field};
use crate::clock;
use crate::domain::Plan;
use crate::store::KeyStatus;

type Fields = Vec<(String, String)>;

struct PlanChoice {
    name: &'static str,
    selected: bool,
    summary: String,
}

#[derive(Template)]
#[template(path = "plan.html")]
struct PlanPage {
    frame: Frame,
    has_tenant: bool,
    plan: String,
    max_keys: String,
    active_keys: usize,
    daily_limit: String,
    today_live: u64,
    daily_override: String,
    keys_override: String,
    choices: Vec<PlanChoice>,
}

fn limit(value: Option<u64>) -> String {
    value.map_or_else(|| "unlimited".to_owned(), |v| v.to_string())
}

fn page(
    state: &ConsoleState,
    session: &Session,
    asked: Option<&str>,
) -> Result<PlanPage, Response> {
    let store = state.store();
    let (tenant, tenants) = pick_tenant(store, session, asked)?;
    let frame = Frame::new("Plan and limits", "plan", session, tenants, &tenant);
    let record = if tenant.is_empty() {
        None
    } else {
        store.tenant(&tenant).map_err(|e| pages::store_error(&e))?
    };
    let Some(record) = record else {
        return Ok(PlanPage {
            frame,
            has_tenant: false,
            plan: String::new(),
            max_keys: String::new(),
            active_keys: 0,
            daily_limit: String::new(),
            today_live: 0,
            daily_override: String::new(),
            keys_override: String::new(),
            choices: Vec::new(),
        });
    };
    let now = clock::now();
    let active_keys = store
        .keys(Some(&tenant))
        .map_err(|e| pages::store_error(&e))?
        .iter()
        .filter(|k| k.status(now) == KeyStatus::Active && k.rotated_to.is_none())
        .count();
    let today_live = store
        .quota_used(&tenant, clock::utc_day(now))
        .map_err(|e| pages::store_error(&e))?;
    Ok(PlanPage {
        frame,
        has_tenant: true,
        plan: record.plan.to_string(),
        max_keys: limit(record.effective_max_keys()),
        active_keys,
        daily_limit: limit(record.effective_daily_limit()),
        today_live,
        daily_override: record
            .daily_limit
            .map(|v| v.to_string())
            .unwrap_or_default(),
        keys_override: record.max_keys.map(|v| v.to_string()).unwrap_or_default(),
        choices: [Plan::Free, Plan::Pro, Plan::Enterprise]
            .into_iter()
            .map(|p| PlanChoice {
                name: p.as_str(),
                selected: p == record.plan,
                summary: format!(
                    "{} keys, {} live calls a day",
                    limit(p.default_max_keys()),
                    limit(p.default_daily_limit())
                ),
            })
            .collect(),
    })
}

/// `GET /console/plan`
pub(crate) async fn show(
    State(state): State<Arc<ConsoleState>>,
    headers: HeaderMap,
    Query(query): Query<Fields>,
) -> Response {
    blocking(move || {
        let session = match session::require(&state, &headers) {
            Ok(s) => s,
            Err(p) => return p,
        };
        match page(&state, &session, field(&query, "tenant")) {
            Ok(p) => render(StatusCode::OK, &p),
            Err(p) => p,
        }
    })
    .await
}

/// An optional positive number from a form field (empty: the plan's default).
fn optional_number(form: &Fields, name: &str) -> Result<Option<u64>, String> {
    match field(form, name).map(str::trim).unwrap_or("") {
        "" => Ok(None),
        text => text.parse::<u64>().map(Some).map_err(|_| {
            format!("'{text}' is not a whole number: leave it empty for the plan's default")
        }),
    }
}

/// `POST /console/plan`: the operator changes a tenant's plan and overrides.
pub(crate) async fn change(
    State(state): State<Arc<ConsoleState>>,
    headers: HeaderMap,
    Form(form): Form<Fields>,
) -> Response {
    blocking(move || {
        let session = match session::require(&state, &headers) {
            Ok(s) => s,
            Err(p) => return p,
        };
        if !session.check_csrf(field(&form, "csrf")) {
            return pages::csrf_refused();
        }
        if !session.is_operator() {
            return pages::message(
                StatusCode::FORBIDDEN,
                "Operators only",
                "Only the operator changes plans. Ask your operator for an upgrade.",
            );
        }
        let store = state.store();
        let (tenant, _) = match pick_tenant(store, &session, field(&form, "tenant")) {
            Ok(t) => t,
            Err(p) => return p,
        };
        let outcome = (|| -> Result<String, String> {
            let mut record = store
                .tenant(&tenant)
                .map_err(|e| e.to_string())?
                .ok_or_else(|| format!("There is no tenant named '{tenant}'."))?;
            record.plan = field(&form, "plan").unwrap_or("").parse()?;
            record.daily_limit = optional_number(&form, "daily_limit")?;
            record.max_keys = optional_number(&form, "max_keys")?;
            store.update_tenant(&record).map_err(|e| e.to_string())?;
            Ok(format!(
                "{tenant} is now on the {} plan: {} keys, {} live calls a day. Running servers apply it on their next request.",
                record.plan,
                limit(record.effective_max_keys()),
                limit(record.effective_daily_limit())
            ))
        })();
        match page(&state, &session, Some(&tenant)) {
            Ok(mut p) => {
                let status = match outcome {
                    Ok(notice) => {
                        p.frame.notice = Some(notice);
                        StatusCode::OK
                    }
                    Err(error) => {
                        p.frame.error = Some(error);
                        StatusCode::UNPROCESSABLE_ENTITY
                    }
                };
                render(status, &p)
            }
            Err(p) => p,
        }
    })
    .await
}
