//! The repos page: each environment's repos with counts and last index time, "Sync now", and
//! for the operator "Add from a server folder". Read through the docs library directly.

use std::path::Path;
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
use crate::docs::{NoProgress, SyncReport};
use crate::domain::Env;

type Fields = Vec<(String, String)>;

struct RepoRow {
    name: String,
    env: &'static str,
    documents: u64,
    sections: u64,
    indexed: String,
    /// The server folder, shown to the operator only.
    source: String,
}

#[derive(Template)]
#[template(path = "repos.html")]
struct ReposPage {
    frame: Frame,
    rows: Vec<RepoRow>,
    has_tenant: bool,
}

fn page(
    state: &ConsoleState,
    session: &Session,
    tenant_asked: Option<&str>,
) -> Result<ReposPage, Response> {
    let (tenant, tenants) = pick_tenant(state.store(), session, tenant_asked)?;
    let mut rows = Vec::new();
    if !tenant.is_empty() {
        for env in [Env::Test, Env::Live] {
            let repos = state
                .server
                .libraries
                .get(&tenant, env)
                .and_then(|lib| lib.repos())
                .map_err(|e| docs_error(&e))?;
            rows.extend(repos.into_iter().map(|r| RepoRow {
                name: r.name,
                env: env.as_str(),
                documents: r.documents,
                sections: r.sections,
                indexed: clock::format_short(r.indexed_at),
                source: if session.is_operator() {
                    r.source.display().to_string()
                } else {
                    String::new()
                },
            }));
        }
    }
    Ok(ReposPage {
        frame: Frame::new("Repos", "repos", session, tenants, &tenant),
        rows,
        has_tenant: !tenant.is_empty(),
    })
}

fn docs_error(e: &crate::docs::DocsError) -> Response {
    tracing::warn!(error = %e, "console: docs library failed");
    pages::message(
        StatusCode::SERVICE_UNAVAILABLE,
        "The docs library is not available",
        "The server could not read this tenant's docs library; its log says why.",
    )
}

/// `GET /console/repos`
pub(crate) async fn list(
    State(state): State<Arc<ConsoleState>>,
    headers: HeaderMap,
    Query(query): Query<Fields>,
) -> Response {
    blocking(move || {
        let session = match session::require(&state, &headers) {
            Ok(s) => s,
            Err(page) => return page,
        };
        match page(&state, &session, field(&query, "tenant")) {
            Ok(p) => render(StatusCode::OK, &p),
            Err(p) => p,
        }
    })
    .await
}

fn checked(state: &ConsoleState, headers: &HeaderMap, form: &Fields) -> Result<Session, Response> {
    let session = session::require(state, headers)?;
    if !session.check_csrf(field(form, "csrf")) {
        return Err(pages::csrf_refused());
    }
    Ok(session)
}

/// The repos page again with a notice or an error.
fn after(
    state: &ConsoleState,
    session: &Session,
    tenant: &str,
    outcome: Result<String, String>,
) -> Response {
    match page(state, session, Some(tenant)) {
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
}

fn summary(verb: &str, r: &SyncReport) -> String {
    format!(
        "{verb} {}: {} added, {} changed, {} removed, {} unchanged, {} skipped; {} documents, {} sections.",
        r.repo,
        r.added,
        r.changed,
        r.removed,
        r.unchanged,
        r.skipped.len(),
        r.documents,
        r.sections
    )
}

/// `POST /console/repos/sync`: re-indexes one repo now.
pub(crate) async fn sync(
    State(state): State<Arc<ConsoleState>>,
    headers: HeaderMap,
    Form(form): Form<Fields>,
) -> Response {
    blocking(move || {
        let session = match checked(&state, &headers, &form) {
            Ok(s) => s,
            Err(p) => return p,
        };
        let (tenant, _) = match pick_tenant(state.store(), &session, field(&form, "tenant")) {
            Ok(t) => t,
            Err(p) => return p,
        };
        let Ok(env) = field(&form, "env").unwrap_or("").parse::<Env>() else {
            return after(
                &state,
                &session,
                &tenant,
                Err("Unknown environment.".into()),
            );
        };
        let name = field(&form, "name").unwrap_or("");
        let outcome = state
            .server
            .libraries
            .get(&tenant, env)
            .and_then(|lib| lib.sync_repo(name, &NoProgress))
            .map(|r| summary("Synced", &r))
            .map_err(|e| e.to_string());
        after(&state, &session, &tenant, outcome)
    })
    .await
}

/// `POST /console/repos`: indexes a server folder as a new repo (operator only).
pub(crate) async fn add(
    State(state): State<Arc<ConsoleState>>,
    headers: HeaderMap,
    Form(form): Form<Fields>,
) -> Response {
    blocking(move || {
        let session = match checked(&state, &headers, &form) {
            Ok(s) => s,
            Err(p) => return p,
        };
        if !session.is_operator() {
            return pages::message(
                StatusCode::FORBIDDEN,
                "Operators only",
                "Adding a repo reads a folder on the server, so only an operator link may do it. Ask your operator, or use `docward repo add` on the server.",
            );
        }
        let (tenant, _) = match pick_tenant(state.store(), &session, field(&form, "tenant")) {
            Ok(t) => t,
            Err(p) => return p,
        };
        let Ok(env) = field(&form, "env").unwrap_or("").parse::<Env>() else {
            return after(&state, &session, &tenant, Err("Choose test or live.".into()));
        };
        let folder = field(&form, "folder").unwrap_or("").trim();
        if folder.is_empty() || !Path::new(folder).is_absolute() {
            return after(
                &state,
                &session,
                &tenant,
                Err("Give the folder as an absolute path on the server, e.g. /srv/docs/handbook.".into()),
            );
        }
        let name = match field(&form, "name").map(str::trim).filter(|n| !n.is_empty()) {
            Some(name) => name.to_owned(),
            None => match crate::docs::default_repo_name(Path::new(folder)) {
                Ok(name) => name,
                Err(e) => return after(&state, &session, &tenant, Err(e.to_string())),
            },
        };
        let outcome = state
            .server
            .libraries
            .get(&tenant, env)
            .and_then(|lib| lib.add_repo(&name, Path::new(folder), &NoProgress))
            .map(|r| summary("Added", &r))
            .map_err(|e| e.to_string());
        after(&state, &session, &tenant, outcome)
    })
    .await
}
