//! The REST API at `/v1`: the same keys, gate, limits and refusal codes as MCP, RFC 9457
//! problem bodies, and an OpenAPI 3.1 document generated from this code at
//! `/v1/openapi.json`. See `docs/rest-api.md`.

mod access;
mod api;
mod jobs;
pub mod ops;
mod problem;
mod reading;
mod repos;
pub mod types;
mod usage;

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;

pub use api::document as openapi_document;
pub use problem::Problem;

use super::ServerState;

/// What the REST handlers share.
pub(crate) struct RestState {
    server: Arc<ServerState>,
    jobs: jobs::Jobs,
    uncounted_burst: access::UncountedBurst,
    body_timeout: Duration,
}

/// The `/v1` router, to be nested at `/v1`; `body_timeout` bounds the wait for a request body.
pub fn router<S: Clone + Send + Sync + 'static>(
    server: Arc<ServerState>,
    body_timeout: Duration,
) -> Router<S> {
    let per_second = server.gate.limits().per_second();
    let state = Arc::new(RestState {
        server,
        jobs: jobs::Jobs::default(),
        uncounted_burst: access::UncountedBurst::new(per_second),
        body_timeout,
    });
    Router::new()
        .route("/openapi.json", get(openapi))
        .route("/repos", get(repos::list))
        .route("/repos/{name}", get(repos::get).patch(repos::patch))
        .route("/repos/{name}/sync", axum::routing::post(repos::sync))
        .route("/jobs/{id}", get(repos::job))
        .route("/search", get(reading::search))
        .route("/docs/{repo}/{*path}", get(reading::doc))
        .route("/usage", get(usage::usage))
        .fallback(|| async { Problem::no_route() })
        .method_not_allowed_fallback(|| async { Problem::method_not_allowed() })
        .with_state(state)
}

/// The OpenAPI document, open without a key.
async fn openapi() -> Response {
    let body = serde_json::to_string(&api::document()).unwrap_or_else(|_| "{}".to_owned());
    let mut response = body.into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    response
}

/// Runs library work on the blocking pool; its error becomes a problem.
async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> crate::docs::Result<T> + Send + 'static,
) -> Result<T, Problem> {
    match tokio::task::spawn_blocking(work).await {
        Ok(Ok(value)) => Ok(value),
        Ok(Err(err)) => Err(Problem::from_docs(&err)),
        Err(e) => Err(Problem::internal(&e)),
    }
}
