//! The gate in front of every REST endpoint: the same keys, checks, limits and refusal codes
//! as MCP, and the refund of a counted call that did not succeed.
//!
//! What counts against the daily quota (live keys only, as for MCP): one call for each request
//! to an endpoint that reads or changes documentation (`search`, `docs`, `repos`, `sync`,
//! `PATCH`), and only when it succeeds: any non-2xx answer is refunded. Polling a job, reading
//! usage and the OpenAPI document are not counted; they still pass the key checks and a
//! burst limit of the server's `--burst` per key per second.

use std::num::NonZeroU32;
use std::sync::Arc;

use axum::http::{HeaderMap, HeaderValue, Uri, header};
use axum::response::{IntoResponse, Response};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};

use super::RestState;
use super::problem::Problem;
use crate::auth::Principal;
use crate::clock;
use crate::domain::Scope;
use crate::gate::{Admission, Code, Refusal};
use crate::server::http::{bearer, key_in_url};

/// What an endpoint needs of the caller's key.
#[derive(Debug, Clone, Copy)]
pub enum Need {
    /// This scope, and one call of the daily quota.
    Counted(Scope),
    /// Any one of these scopes (none: any valid key), and no quota.
    Uncounted(&'static [Scope]),
}

/// An admitted caller.
pub struct Caller {
    /// Who is calling.
    pub principal: Principal,
    /// The counted call, refunded if the answer is not a success.
    admission: Option<Admission>,
    /// Limit, remaining, seconds to reset: for the RateLimit headers.
    rate: Option<(u64, u64, i64)>,
}

impl Caller {
    /// Takes the counted call out, for work that outlives the request (a sync job refunds it
    /// itself if it fails).
    pub fn take_admission(&mut self) -> Option<Admission> {
        self.admission.take()
    }
}

/// Burst limits for uncounted endpoints, kept in this process.
pub struct UncountedBurst {
    limiter: DefaultKeyedRateLimiter<String>,
    per_second: u32,
}

impl UncountedBurst {
    /// `per_second` calls per second per key.
    pub fn new(per_second: u32) -> UncountedBurst {
        let rate = NonZeroU32::new(per_second).unwrap_or(NonZeroU32::MIN);
        UncountedBurst {
            limiter: RateLimiter::keyed(Quota::per_second(rate)),
            per_second: rate.get(),
        }
    }

    fn check(&self, key_id: &str) -> Result<(), Refusal> {
        use governor::clock::{Clock, DefaultClock};
        self.limiter
            .check_key(&key_id.to_owned())
            .map_err(|not_until| {
                let wait = not_until.wait_time_from(DefaultClock::default().now());
                Refusal {
                    code: Code::RateLimited,
                    message: format!(
                        "rate limit: at most {} calls per second per key; retry in {} ms",
                        self.per_second,
                        wait.as_millis()
                    ),
                    scope: None,
                    retry_after_secs: Some(wait.as_secs().max(1)),
                    limit: None,
                    resets_at: None,
                }
            })
    }
}

fn missing_scope(principal: &Principal, wanted: &[Scope]) -> Refusal {
    let names: Vec<&str> = wanted.iter().map(|s| s.as_str()).collect();
    Refusal {
        code: Code::MissingScope,
        message: format!(
            "API key {} lacks the scope {}; create a key with `--scope {}` (it has: {})",
            principal.key_display,
            names.join(" or "),
            names[0],
            principal
                .scopes
                .iter()
                .map(|s| s.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        ),
        scope: wanted.first().copied(),
        retry_after_secs: None,
        limit: None,
        resets_at: None,
    }
}

/// Checks the request's key against `need`; a refusal comes back as its problem response.
pub async fn enter(
    state: &Arc<RestState>,
    headers: &HeaderMap,
    uri: &Uri,
    need: Need,
) -> Result<Caller, Problem> {
    if key_in_url(uri) {
        return Err(Problem::new(
            axum::http::StatusCode::BAD_REQUEST,
            "key_in_url",
            "API keys in the URL are refused (URLs end up in logs and histories)",
            "send the key as `Authorization: Bearer <key>`",
        ));
    }
    if headers
        .get_all(header::AUTHORIZATION)
        .iter()
        .nth(1)
        .is_some()
    {
        return Err(Problem::new(
            axum::http::StatusCode::BAD_REQUEST,
            "duplicate_authorization",
            "the request carries more than one Authorization header",
            "send exactly one, `Authorization: Bearer <key>`",
        ));
    }
    let presented = bearer(headers);
    let gate_state = Arc::clone(state);
    let decided =
        tokio::task::spawn_blocking(move || -> Result<(Principal, Option<Admission>), Refusal> {
            let gate = &gate_state.server.gate;
            let now = clock::now();
            let principal = gate.authenticate(presented.as_deref(), now)?;
            match need {
                Need::Counted(scope) => {
                    let admission = gate.admit_principal(principal, scope, now)?;
                    Ok((admission.principal.clone(), Some(admission)))
                }
                Need::Uncounted(scopes) => {
                    if !scopes.is_empty() && !scopes.iter().any(|s| principal.has_scope(*s)) {
                        return Err(missing_scope(&principal, scopes));
                    }
                    gate_state.uncounted_burst.check(&principal.key_id)?;
                    Ok((principal, None))
                }
            }
        })
        .await
        .unwrap_or_else(|_| Err(Refusal::internal("the gate failed; see the server's log")));
    match decided {
        Ok((principal, admission)) => {
            let now = clock::now();
            let rate = admission.as_ref().and_then(|a| {
                a.admitted.limit.map(|limit| {
                    (
                        limit,
                        limit.saturating_sub(a.admitted.used),
                        a.admitted.resets_at - now,
                    )
                })
            });
            Ok(Caller {
                principal,
                admission,
                rate,
            })
        }
        Err(refusal) => {
            crate::refusal_log::refused("REST request", &refusal);
            Err(Problem::from_refusal(&refusal))
        }
    }
}

/// Turns an endpoint's outcome into the response: a counted call whose answer is not a
/// success is refunded; a success carries the RateLimit headers.
pub async fn finish(
    state: &Arc<RestState>,
    mut caller: Caller,
    outcome: Result<Response, Problem>,
) -> Response {
    let mut response = outcome.unwrap_or_else(IntoResponse::into_response);
    if !response.status().is_success() {
        if let Some(admission) = caller.take_admission() {
            refund(state, admission).await;
        }
        return response;
    }
    if let Some((limit, remaining, reset)) = caller.rate {
        let headers = response.headers_mut();
        headers.insert("ratelimit-limit", HeaderValue::from(limit));
        headers.insert("ratelimit-remaining", HeaderValue::from(remaining));
        headers.insert("ratelimit-reset", HeaderValue::from(reset.max(0) as u64));
    }
    response
}

/// Takes back a counted call that did not succeed.
pub async fn refund(state: &Arc<RestState>, admission: Admission) {
    let gate_state = Arc::clone(state);
    let refunded =
        tokio::task::spawn_blocking(move || gate_state.server.gate.refund(&admission)).await;
    match refunded {
        Ok(Ok(_)) => tracing::debug!("refunded a REST call that did not succeed"),
        Ok(Err(e)) => tracing::error!(error = %e, "could not refund a REST call"),
        Err(e) => tracing::error!(error = %e, "could not refund a REST call"),
    }
}
