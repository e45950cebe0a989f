//! Reading documentation: search and whole documents, as the MCP tools `search` and `get_doc`
//! do, with the same scopes and the same paging.

use std::sync::Arc;

use axum::Json;
use axum::extract::rejection::{PathRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, Uri};
use axum::response::{IntoResponse, Response};

use super::access::{Need, enter, finish};
use super::api::{KeyRefusals, NotFound, ScopeRefusal};
use super::problem::{PROBLEM_JSON, Problem};
use super::types::{
    DocPageView, DocParams, SearchParams, SearchResult, SearchResults, SectionPlace,
};
use super::{RestState, blocking};
use crate::docs::{DocPage, SearchHit};
use crate::domain::Scope;

/// Longest query, in characters (as the MCP tool's schema says).
const MAX_QUERY_CHARS: usize = 2000;

fn query_problem(rejection: QueryRejection) -> Problem {
    Problem::bad_request(format!(
        "the query string cannot be read: {}",
        rejection.body_text()
    ))
}

fn hit(h: SearchHit) -> SearchResult {
    SearchResult {
        repo: h.repo,
        path: h.path,
        title: h.title,
        headings: h.headings,
        section: h.section as u64,
        snippet: h.snippet,
        score: f64::from(h.score),
        also_in: h
            .also_in
            .into_iter()
            .map(|r| SectionPlace {
                repo: r.repo,
                path: r.path,
                section: r.section as u64,
            })
            .collect(),
        more_copies: h.more_copies as u64,
    }
}

/// Searches the documentation of the key's tenant: the best sections, with snippets.
#[utoipa::path(
    get, path = "/v1/search", tag = "docs", operation_id = "search",
    params(SearchParams),
    responses(
        (status = 200, description = "The best-matching sections, best first", body = SearchResults),
        (status = 404, description = "The repository named in `repo` does not exist", body = Problem, content_type = PROBLEM_JSON),
        ScopeRefusal, KeyRefusals,
    ),
    security(("bearer" = ["mcp:search"]))
)]
pub async fn search(
    State(state): State<Arc<RestState>>,
    params: Result<Query<SearchParams>, QueryRejection>,
    headers: HeaderMap,
    uri: Uri,
) -> Response {
    let caller = match enter(&state, &headers, &uri, Need::Counted(Scope::McpSearch)).await {
        Ok(c) => c,
        Err(p) => return p.into_response(),
    };
    let outcome = async {
        let Query(params) = params.map_err(query_problem)?;
        let limit = params.limit.unwrap_or(5);
        if !(1..=20).contains(&limit) {
            return Err(Problem::bad_request(format!(
                "limit {limit} is out of range: use 1 to 20"
            )));
        }
        let chars = params.q.chars().count();
        if chars > MAX_QUERY_CHARS {
            return Err(Problem::bad_request(format!(
                "q is {chars} characters long; at most {MAX_QUERY_CHARS} are allowed: search with the few words that matter most"
            )));
        }
        let (tenant, env) = (caller.principal.tenant.clone(), caller.principal.env);
        let s = Arc::clone(&state);
        let (q, repo) = (params.q.clone(), params.repo.clone());
        let hits = blocking(move || {
            s.server
                .libraries
                .get(&tenant, env)?
                .search(&q, repo.as_deref(), limit as usize)
        })
        .await?;
        Ok(Json(SearchResults {
            query: params.q,
            repo: params.repo,
            results: hits.into_iter().map(hit).collect(),
        })
        .into_response())
    }
    .await;
    finish(&state, caller, outcome).await
}

fn page(p: DocPage) -> DocPageView {
    DocPageView {
        repo: p.repo,
        path: p.path,
        title: p.title,
        content: p.content,
        first_section: p.first_section as u64,
        total_sections: p.total_sections as u64,
        next_section: p.next_section.map(|n| n as u64),
    }
}

/// Reads one document. Long documents come in pages cut at section boundaries: follow
/// `next_section` with `?section=`.
#[utoipa::path(
    get, path = "/v1/docs/{repo}/{path}", tag = "docs", operation_id = "getDoc",
    params(
        ("repo" = String, Path, description = "The repository name"),
        ("path" = String, Path, description = "The document path, exactly as search returns it (its `/` may be sent as is or as %2F)"),
        DocParams,
    ),
    responses(
        (status = 200, description = "A page of the document", body = DocPageView),
        NotFound, ScopeRefusal, KeyRefusals,
    ),
    security(("bearer" = ["mcp:get_doc"]))
)]
pub async fn doc(
    State(state): State<Arc<RestState>>,
    target: Result<Path<(String, String)>, PathRejection>,
    params: Result<Query<DocParams>, QueryRejection>,
    headers: HeaderMap,
    uri: Uri,
) -> Response {
    let caller = match enter(&state, &headers, &uri, Need::Counted(Scope::McpGetDoc)).await {
        Ok(c) => c,
        Err(p) => return p.into_response(),
    };
    let outcome = async {
        let Path((repo, path)) = target.map_err(|r| {
            Problem::bad_request(format!("the URL path cannot be read: {}", r.body_text()))
        })?;
        let Query(params) = params.map_err(query_problem)?;
        let from = params.section.unwrap_or(0) as usize;
        let (tenant, env) = (caller.principal.tenant.clone(), caller.principal.env);
        let s = Arc::clone(&state);
        let found = blocking(move || {
            s.server
                .libraries
                .get(&tenant, env)?
                .get_doc(&repo, &path, from)
        })
        .await?;
        Ok(Json(page(found)).into_response())
    }
    .await;
    finish(&state, caller, outcome).await
}
