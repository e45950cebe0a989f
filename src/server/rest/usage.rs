//! The usage of the key's tenant: plan limits, today's quota and calls per key per day.

use std::sync::Arc;

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, Uri};
use axum::response::{IntoResponse, Response};

use super::access::{Need, enter, finish};
use super::api::KeyRefusals;
use super::problem::Problem;
use super::types::UsageReport;
use super::{RestState, ops};
use crate::clock;

/// The key's tenant: its plan limits, today's use of the daily quota and the calls of each of
/// its keys per day. Any valid key may read it; reading it is not counted.
#[utoipa::path(
    get, path = "/v1/usage", tag = "usage", operation_id = "getUsage",
    responses(
        (status = 200, description = "The tenant's usage", body = UsageReport),
        KeyRefusals,
    ),
    security(("bearer" = []))
)]
pub async fn usage(State(state): State<Arc<RestState>>, headers: HeaderMap, uri: Uri) -> Response {
    let caller = match enter(&state, &headers, &uri, Need::Uncounted(&[])).await {
        Ok(c) => c,
        Err(p) => return p.into_response(),
    };
    let tenant = caller.principal.tenant.clone();
    let s = Arc::clone(&state);
    let report = tokio::task::spawn_blocking(move || {
        let burst = s.server.gate.limits().per_second();
        ops::usage(s.server.gate.store().as_ref(), &tenant, burst, clock::now())
    })
    .await;
    let outcome = match report {
        Ok(Ok(report)) => Ok(Json(report).into_response()),
        Ok(Err(e)) => Err(Problem::internal(&e)),
        Err(e) => Err(Problem::internal(&e)),
    };
    finish(&state, caller, outcome).await
}
