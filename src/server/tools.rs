//! The three tools, their inputs (with schemas written for a model) and the scope each needs.

use rmcp::handler::server::tool::Extension;
use rmcp::handler::server::wrapper::Parameters;
use rmcp::model::{CallToolResult, ContentBlock};
use rmcp::schemars::{self, JsonSchema};
use rmcp::{ErrorData as McpError, tool, tool_router};
use serde::Deserialize;
use serde_json::json;

use super::DocServer;
use super::render;
use crate::docs::RepoInfo;
use crate::domain::Scope;
use crate::gate::Admission;

/// Which scope each tool needs. Drives both the `tools/list` filter and call refusal.
pub const TOOL_SCOPES: [(&str, Scope); 3] = [
    ("search", Scope::McpSearch),
    ("get_doc", Scope::McpGetDoc),
    ("list_repos", Scope::McpListRepos),
];

/// The scope a tool needs, or `None` for a name that is not one of ours.
pub fn scope_for(tool: &str) -> Option<Scope> {
    TOOL_SCOPES
        .iter()
        .find(|(name, _)| *name == tool)
        .map(|(_, scope)| *scope)
}

/// Makes the optional properties' schemas portable: schemars writes an `Option<T>` as
/// `"type": [T, "null"]`, which strict clients (MCP Inspector `--strict`) flag; an optional
/// property is simply not `required`, so the `"null"` (and a `null` default) is dropped.
fn optional_without_null(schema: &mut schemars::Schema) {
    let Some(properties) = schema.get_mut("properties").and_then(|p| p.as_object_mut()) else {
        return;
    };
    for property in properties.values_mut() {
        // `#[serde(default)]` on an Option writes `"default": null`, which no longer fits.
        if let Some(object) = property.as_object_mut()
            && object
                .get("default")
                .is_some_and(serde_json::Value::is_null)
        {
            object.remove("default");
        }
        let Some(types) = property.get_mut("type") else {
            continue;
        };
        if let Some(list) = types.as_array() {
            let kept: Vec<serde_json::Value> =
                list.iter().filter(|t| *t != "null").cloned().collect();
            *types = match kept.as_slice() {
                [one] => one.clone(),
                _ => serde_json::Value::Array(kept),
            };
        }
    }
}

/// Input of `search`.
#[derive(Debug, Deserialize, JsonSchema)]
#[schemars(transform = optional_without_null)]
pub struct SearchArgs {
    /// What to look for: keywords or a short natural-language question, e.g. "configure release profile" or "how do I cancel a task". At most 64 words.
    #[schemars(length(min = 1, max = 2000))]
    pub query: String,
    /// Only search this repository (a name from list_repos). Omit to search every repository.
    #[serde(default)]
    pub repo: Option<String>,
    /// How many results to return, 1-20. Default 5.
    #[serde(default)]
    #[schemars(range(min = 1, max = 20))]
    pub limit: Option<u32>,
}

/// Input of `get_doc`.
#[derive(Debug, Deserialize, JsonSchema)]
#[schemars(transform = optional_without_null)]
pub struct GetDocArgs {
    /// The repository name, exactly as returned by search or list_repos.
    pub repo: String,
    /// The document path relative to the repository root, '/'-separated, exactly as returned by search.
    pub path: String,
    /// Section index to start reading from (0 = the beginning). Use the `next_section` given when a long document was cut.
    #[serde(default)]
    pub section: Option<u32>,
}

/// Input of `list_repos` (none).
#[derive(Debug, Deserialize, JsonSchema)]
pub struct ListReposArgs {}

fn tool_error(message: String, code: &str) -> CallToolResult {
    let mut result = CallToolResult::error(vec![ContentBlock::text(message.clone())]);
    result.structured_content = Some(json!({ "error": { "code": code, "message": message } }));
    result
}

fn tool_success(text: String, structured: serde_json::Value) -> CallToolResult {
    let mut result = CallToolResult::success(vec![ContentBlock::text(text)]);
    result.structured_content = Some(structured);
    result
}

/// Repos as key holders see them: no source folder, which is a path on the server that only
/// operators need (`docward repo list` shows it).
fn listed(repos: &[RepoInfo]) -> Vec<serde_json::Value> {
    repos
        .iter()
        .map(|r| {
            json!({
                "name": r.name,
                "documents": r.documents,
                "sections": r.sections,
                "indexed_at": r.indexed_at,
            })
        })
        .collect()
}

#[tool_router]
impl DocServer {
    /// Builds the router of the three tools.
    pub fn router() -> rmcp::handler::server::router::tool::ToolRouter<Self> {
        Self::tool_router()
    }

    #[tool(
        description = "Search the documentation of this organisation's repositories. Returns the best-matching sections, each with repo, path, title, heading trail and a snippet (matched words in **bold**); a section whose text appears in several places (versions, renderings) comes once, listing the other places. Use get_doc with a result's repo and path to read the whole document. Matching is by words (with stemming) and, when the server has its embedding model, by meaning too; if the results miss, search again with the terms the documentation itself would use (e.g. \"opt-level strip\" rather than \"smaller binary\"), and pass repo when you know which repository answers.",
        annotations(read_only_hint = true, open_world_hint = false)
    )]
    async fn search(
        &self,
        Parameters(args): Parameters<SearchArgs>,
        Extension(admission): Extension<Admission>,
    ) -> Result<CallToolResult, McpError> {
        let p = &admission.principal;
        let limit = args.limit.unwrap_or(5).clamp(1, 20) as usize;
        // Off the async workers: a search with the embedding model takes milliseconds of CPU.
        let state = std::sync::Arc::clone(&self.state);
        let (tenant, env) = (p.tenant.clone(), p.env);
        let (query, repo) = (args.query.clone(), args.repo.clone());
        let outcome = tokio::task::spawn_blocking(move || {
            state
                .libraries
                .get(&tenant, env)
                .and_then(|lib| lib.search(&query, repo.as_deref(), limit))
        })
        .await;
        let Ok(outcome) = outcome else {
            tracing::error!("a search task panicked");
            return Ok(tool_error(
                "the search failed on the server; see its log".to_owned(),
                "internal",
            ));
        };
        Ok(match outcome {
            Ok(hits) => tool_success(
                render::search(&args.query, args.repo.as_deref(), &hits),
                json!({ "query": args.query, "repo": args.repo, "results": hits }),
            ),
            Err(e) => tool_error(e.to_string(), e.code()),
        })
    }

    #[tool(
        description = "Read one whole document from a repository, by the repo and path that search or list_repos returned. Very long documents come in parts: the answer then says which `section` to ask for next.",
        annotations(read_only_hint = true, open_world_hint = false)
    )]
    async fn get_doc(
        &self,
        Parameters(args): Parameters<GetDocArgs>,
        Extension(admission): Extension<Admission>,
    ) -> Result<CallToolResult, McpError> {
        let p = &admission.principal;
        let from = args.section.unwrap_or(0) as usize;
        let outcome = self
            .libraries()
            .get(&p.tenant, p.env)
            .and_then(|lib| lib.get_doc(&args.repo, &args.path, from));
        Ok(match outcome {
            Ok(page) => tool_success(render::document(&page), json!(page)),
            Err(e) => tool_error(e.to_string(), e.code()),
        })
    }

    #[tool(
        description = "List the documentation repositories available to you, with their document counts and when each was last indexed.",
        annotations(read_only_hint = true, open_world_hint = false)
    )]
    async fn list_repos(
        &self,
        Parameters(_args): Parameters<ListReposArgs>,
        Extension(admission): Extension<Admission>,
    ) -> Result<CallToolResult, McpError> {
        let p = &admission.principal;
        let outcome = self
            .libraries()
            .get(&p.tenant, p.env)
            .and_then(|lib| lib.repos());
        Ok(match outcome {
            Ok(repos) => tool_success(render::repos(&repos), json!({ "repos": listed(&repos) })),
            Err(e) => tool_error(e.to_string(), e.code()),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schemas_have_no_null_types_and_limit_starts_at_one() {
        let search = serde_json::to_value(schemars::schema_for!(SearchArgs)).unwrap();
        assert_eq!(search["properties"]["repo"]["type"], "string", "{search}");
        assert_eq!(search["properties"]["limit"]["type"], "integer", "{search}");
        assert_eq!(search["properties"]["limit"]["minimum"], 1, "{search}");
        assert_eq!(search["properties"]["limit"]["maximum"], 20, "{search}");
        assert_eq!(search["required"], serde_json::json!(["query"]), "{search}");
        let get_doc = serde_json::to_value(schemars::schema_for!(GetDocArgs)).unwrap();
        assert_eq!(
            get_doc["properties"]["section"]["type"], "integer",
            "{get_doc}"
        );
        assert!(!get_doc.to_string().contains("null"), "{get_doc}");
    }
}
