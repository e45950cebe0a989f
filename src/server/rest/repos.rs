//! Repository endpoints: list, read, change settings, sync, and the sync jobs.

use std::sync::Arc;

use axum::Json;
use axum::body::Bytes;
use axum::extract::rejection::PathRejection;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};

use super::access::{self, Need, enter, finish};
use super::api::{KeyRefusals, NotFound, ScopeRefusal};
use super::jobs::Job;
use super::problem::{PROBLEM_JSON, Problem};
use super::types::{JobView, RepoDetail, RepoList, RepoPatch, RepoPatched};
use super::{RestState, blocking, ops};
use crate::domain::Scope;

/// The largest settings body read.
const MAX_PATCH_BYTES: usize = 64 * 1024;

fn path_problem(rejection: PathRejection) -> Problem {
    Problem::bad_request(format!(
        "the URL path cannot be read: {}",
        rejection.body_text()
    ))
}

/// Lists the repositories of the key's tenant in the server's environment.
#[utoipa::path(
    get, path = "/v1/repos", tag = "repos", operation_id = "listRepos",
    responses(
        (status = 200, description = "The repositories, sorted by name", body = RepoList),
        ScopeRefusal, KeyRefusals,
    ),
    security(("bearer" = ["repo:read"]))
)]
pub async fn list(State(state): State<Arc<RestState>>, headers: HeaderMap, uri: Uri) -> Response {
    let caller = match enter(&state, &headers, &uri, Need::Counted(Scope::RepoRead)).await {
        Ok(c) => c,
        Err(p) => return p.into_response(),
    };
    let (tenant, env) = (caller.principal.tenant.clone(), caller.principal.env);
    let s = Arc::clone(&state);
    let outcome = blocking(move || ops::repos(&s.server.libraries, &tenant, env))
        .await
        .map(|repos| Json(RepoList { repos }).into_response());
    finish(&state, caller, outcome).await
}

/// One repository: counts, last indexed, source kind and settings.
#[utoipa::path(
    get, path = "/v1/repos/{name}", tag = "repos", operation_id = "getRepo",
    params(("name" = String, Path, description = "The repository name")),
    responses(
        (status = 200, description = "The repository", body = RepoDetail),
        NotFound, ScopeRefusal, KeyRefusals,
    ),
    security(("bearer" = ["repo:read"]))
)]
pub async fn get(
    State(state): State<Arc<RestState>>,
    name: Result<Path<String>, PathRejection>,
    headers: HeaderMap,
    uri: Uri,
) -> Response {
    let caller = match enter(&state, &headers, &uri, Need::Counted(Scope::RepoRead)).await {
        Ok(c) => c,
        Err(p) => return p.into_response(),
    };
    let outcome = match name {
        Err(rejection) => Err(path_problem(rejection)),
        Ok(Path(name)) => {
            let (tenant, env) = (caller.principal.tenant.clone(), caller.principal.env);
            let s = Arc::clone(&state);
            blocking(move || ops::repo(&s.server.libraries, &tenant, env, &name))
                .await
                .map(|repo| Json(repo).into_response())
        }
    };
    finish(&state, caller, outcome).await
}

/// Changes a repository's settings (today: extra ignore patterns); they apply from the next sync.
#[utoipa::path(
    patch, path = "/v1/repos/{name}", tag = "repos", operation_id = "updateRepo",
    params(("name" = String, Path, description = "The repository name")),
    request_body(content = RepoPatch, content_type = "application/json"),
    responses(
        (status = 200, description = "The repository with its new settings", body = RepoPatched),
        (status = 409, description = "The repository is being indexed; retry after `Retry-After` seconds", body = Problem, content_type = PROBLEM_JSON),
        (status = 422, description = "A setting is refused; the detail says which and why", body = Problem, content_type = PROBLEM_JSON),
        NotFound, ScopeRefusal, KeyRefusals,
    ),
    security(("bearer" = ["repo:write"]))
)]
pub async fn patch(
    State(state): State<Arc<RestState>>,
    name: Result<Path<String>, PathRejection>,
    headers: HeaderMap,
    uri: Uri,
    body: axum::body::Body,
) -> Response {
    let caller = match enter(&state, &headers, &uri, Need::Counted(Scope::RepoWrite)).await {
        Ok(c) => c,
        Err(p) => return p.into_response(),
    };
    let outcome = async {
        let Path(name) = name.map_err(path_problem)?;
        let bytes = read_body(&state, body).await?;
        let change: RepoPatch = serde_json::from_slice(&bytes).map_err(|e| {
            Problem::bad_request(format!(
                "the body is not a settings change ({e}); send JSON such as {{\"ignore\": [\"drafts/\"]}}"
            ))
        })?;
        let (tenant, env) = (caller.principal.tenant.clone(), caller.principal.env);
        let s = Arc::clone(&state);
        let repo = blocking(move || {
            ops::update_settings(&s.server.libraries, &tenant, env, &name, change.ignore)
        })
        .await?;
        let note = format!(
            "settings saved; they apply from the next sync: POST /v1/repos/{}/sync",
            repo.name
        );
        Ok(Json(RepoPatched { repo, note }).into_response())
    }
    .await;
    finish(&state, caller, outcome).await
}

/// Reads a request body within the size cap and the body timeout.
async fn read_body(state: &RestState, body: axum::body::Body) -> Result<Bytes, Problem> {
    match tokio::time::timeout(
        state.body_timeout,
        axum::body::to_bytes(body, MAX_PATCH_BYTES),
    )
    .await
    {
        Ok(Ok(bytes)) => Ok(bytes),
        Ok(Err(_)) => Err(Problem::bad_request(format!(
            "the body is too large ({} KiB at most) or unreadable",
            MAX_PATCH_BYTES / 1024
        ))),
        Err(_) => Err(Problem::new(
            StatusCode::REQUEST_TIMEOUT,
            "body_timeout",
            "the request body did not arrive in time",
            "send the whole body at once",
        )),
    }
}

/// Starts indexing a repository again from its source (the hook for CI jobs and push webhooks).
/// Answers at once with a job to poll; a sync already queued or running for the repository is
/// returned instead of starting another.
#[utoipa::path(
    post, path = "/v1/repos/{name}/sync", tag = "repos", operation_id = "syncRepo",
    params(("name" = String, Path, description = "The repository name")),
    responses(
        (status = 202, description = "Accepted; poll the job at `Location`", body = JobView,
            headers(("Location" = String, description = "The job's URL"))),
        (status = 409, description = "The repository's source folder is missing on the server", body = Problem, content_type = PROBLEM_JSON),
        NotFound, ScopeRefusal, KeyRefusals,
    ),
    security(("bearer" = ["repo:write"]))
)]
pub async fn sync(
    State(state): State<Arc<RestState>>,
    name: Result<Path<String>, PathRejection>,
    headers: HeaderMap,
    uri: Uri,
) -> Response {
    let mut caller = match enter(&state, &headers, &uri, Need::Counted(Scope::RepoWrite)).await {
        Ok(c) => c,
        Err(p) => return p.into_response(),
    };
    let outcome = async {
        let Path(name) = name.map_err(path_problem)?;
        let (tenant, env) = (caller.principal.tenant.clone(), caller.principal.env);
        let s = Arc::clone(&state);
        let (t, n) = (tenant.clone(), name.clone());
        let (library, info) = blocking(move || {
            let library = s.server.libraries.get(&t, env)?;
            let info = library.repo(&n)?;
            Ok((library, info))
        })
        .await?;
        if !info.source.is_dir() {
            return Err(Problem::from_docs(&crate::docs::DocsError::SourceMissing(
                info.source,
            )));
        }
        let (job, new) = state.jobs.start(&tenant, env, &name);
        if new {
            let admission = caller.take_admission();
            let source = info.source.to_string_lossy().into_owned();
            let refund_state = Arc::clone(&state);
            tokio::spawn(run_sync(
                refund_state,
                library,
                Arc::clone(&job),
                name,
                source,
                admission,
            ));
        }
        let mut response = (StatusCode::ACCEPTED, Json(job.view())).into_response();
        if let Ok(location) = HeaderValue::from_str(&format!("/v1/jobs/{}", job.id())) {
            response.headers_mut().insert(header::LOCATION, location);
        }
        Ok(response)
    }
    .await;
    finish(&state, caller, outcome).await
}

/// Runs one sync job to its end; a failed sync gives its counted call back.
async fn run_sync(
    state: Arc<RestState>,
    library: Arc<crate::docs::Library>,
    job: Arc<Job>,
    repo: String,
    source: String,
    admission: Option<crate::gate::Admission>,
) {
    let worker = Arc::clone(&job);
    let ran = tokio::task::spawn_blocking(move || {
        worker.started();
        library.sync_repo(&repo, worker.as_ref())
    })
    .await;
    let failed = match ran {
        Ok(Ok(report)) => {
            job.succeeded(&report, &source);
            false
        }
        Ok(Err(err)) => {
            let problem = Problem::from_docs(&err);
            job.failed(&problem.code, &problem.detail);
            true
        }
        Err(e) => {
            let problem = Problem::internal(&e);
            job.failed(&problem.code, &problem.detail);
            true
        }
    };
    if failed && let Some(admission) = admission {
        access::refund(&state, admission).await;
    }
}

/// A sync job of the key's tenant: status, progress and result.
#[utoipa::path(
    get, path = "/v1/jobs/{id}", tag = "repos", operation_id = "getJob",
    params(("id" = String, Path, description = "The job id from POST /v1/repos/{name}/sync")),
    responses(
        (status = 200, description = "The job", body = JobView),
        NotFound, ScopeRefusal, KeyRefusals,
    ),
    security(("bearer" = ["repo:read"]), ("bearer" = ["repo:write"]))
)]
pub async fn job(
    State(state): State<Arc<RestState>>,
    id: Result<Path<String>, PathRejection>,
    headers: HeaderMap,
    uri: Uri,
) -> Response {
    const SCOPES: &[Scope] = &[Scope::RepoRead, Scope::RepoWrite];
    let caller = match enter(&state, &headers, &uri, Need::Uncounted(SCOPES)).await {
        Ok(c) => c,
        Err(p) => return p.into_response(),
    };
    let outcome = match id {
        Err(rejection) => Err(path_problem(rejection)),
        Ok(Path(id)) => state
            .jobs
            .get(&caller.principal.tenant, caller.principal.env, &id)
            .map(|view| Json(view).into_response())
            .ok_or_else(|| {
                Problem::new(
                    StatusCode::NOT_FOUND,
                    "unknown_job",
                    format!("no job `{id}` for this tenant; jobs are kept for an hour after they end, in the server process that ran them"),
                    "start a sync with POST /v1/repos/{name}/sync and poll the id it returns",
                )
            }),
    };
    finish(&state, caller, outcome).await
}
