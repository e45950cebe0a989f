//! The MCP server: one [`DocServer`] type behind every transport, with the auth gate in front of
//! every tool.
//!
//! `tools/call` → [`Gate::admit`] (key, scope, burst, daily quota) → the tool, which receives the
//! [`Admission`] (and so the principal) through the request's extensions and never sees a token.

mod render;
mod stdio;
mod tools;

use std::sync::Arc;

use rmcp::handler::server::router::tool::ToolRouter;
use rmcp::handler::server::tool::ToolCallContext;
use rmcp::model::{
    CacheScope, CallToolRequestParams, CallToolResponse, CallToolResult, ContentBlock,
    Implementation, ListToolsResult, PaginatedRequestParams, ServerCapabilities, ServerConfig,
};
use rmcp::service::RequestContext;
use rmcp::{ErrorData as McpError, RoleServer, ServerHandler};
use serde_json::json;

pub use stdio::serve_stdio;
pub use tools::{GetDocArgs, ListReposArgs, SearchArgs, TOOL_SCOPES, scope_for};

use crate::clock;
use crate::gate::{Admission, Gate, Refusal};
use crate::libraries::Libraries;

/// What a server process shares between its sessions.
pub struct ServerState {
    /// The auth gate.
    pub gate: Gate,
    /// The docs libraries.
    pub libraries: Libraries,
}

/// Where a session's API key comes from.
#[derive(Clone)]
pub enum Credential {
    /// Given once when the process started (stdio: `DOCWARD_API_KEY`), checked again on every call.
    Fixed(Option<Arc<str>>),
}

/// The MCP server of one session.
#[derive(Clone)]
pub struct DocServer {
    state: Arc<ServerState>,
    credential: Credential,
    tool_router: ToolRouter<DocServer>,
}

const INSTRUCTIONS: &str = "Documentation search over this organisation's repositories. Use `search` first; then `get_doc` with a result's repo and path to read the whole document. `list_repos` shows what is indexed.";

impl DocServer {
    /// A session of the server in `state`, authenticating with `credential`.
    pub fn new(state: Arc<ServerState>, credential: Credential) -> DocServer {
        DocServer {
            state,
            credential,
            tool_router: DocServer::router(),
        }
    }

    fn libraries(&self) -> &Libraries {
        &self.state.libraries
    }

    fn presented_key(&self) -> Option<&str> {
        match &self.credential {
            Credential::Fixed(key) => key.as_deref(),
        }
    }
}

/// A refusal as a tool result the client shows to the user and the model (`isError: true`),
/// with the machine-readable details in structured content.
fn refusal_result(refusal: &Refusal) -> CallToolResult {
    let mut result = CallToolResult::error(vec![ContentBlock::text(format!(
        "Refused ({}): {}",
        refusal.code.as_str(),
        refusal.message
    ))]);
    result.structured_content = Some(json!({ "error": refusal }));
    result
}

impl ServerHandler for DocServer {
    fn get_info(&self) -> ServerConfig {
        ServerConfig::new(ServerCapabilities::builder().enable_tools().build())
            .with_server_info(
                Implementation::new("docward", env!("CARGO_PKG_VERSION"))
                    .with_title("docward documentation search"),
            )
            .with_instructions(INSTRUCTIONS)
    }

    async fn list_tools(
        &self,
        _request: Option<PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> Result<ListToolsResult, McpError> {
        let all = self.tool_router.list_all();
        let tools = match self
            .state
            .gate
            .authenticate(self.presented_key(), clock::now())
        {
            Ok(principal) => all
                .into_iter()
                .filter(|t| scope_for(&t.name).is_some_and(|s| principal.has_scope(s)))
                .collect(),
            // An unusable key still sees the tools, so that a call can tell the user why it fails.
            Err(refusal) => {
                tracing::warn!(
                    code = refusal.code.as_str(),
                    "tools/list with an unusable key: {}",
                    refusal.message
                );
                all
            }
        };
        Ok(ListToolsResult::with_all_items(tools)
            .with_ttl_ms(0)
            .with_cache_scope(CacheScope::Private))
    }

    fn get_tool(&self, name: &str) -> Option<rmcp::model::Tool> {
        self.tool_router.get(name).cloned()
    }

    async fn call_tool(
        &self,
        request: CallToolRequestParams,
        mut context: RequestContext<RoleServer>,
    ) -> Result<CallToolResponse, McpError> {
        let Some(scope) = scope_for(&request.name) else {
            return Err(McpError::invalid_params(
                format!(
                    "unknown tool '{}': the tools are search, get_doc and list_repos",
                    request.name
                ),
                None,
            ));
        };
        let admission: Admission =
            match self
                .state
                .gate
                .admit(self.presented_key(), scope, clock::now())
            {
                Ok(admission) => admission,
                Err(refusal) => {
                    tracing::warn!(
                        tool = %request.name,
                        code = refusal.code.as_str(),
                        "tool call refused: {}",
                        refusal.message
                    );
                    return Ok(CallToolResponse::Complete(refusal_result(&refusal)));
                }
            };
        tracing::debug!(
            tool = %request.name,
            tenant = %admission.principal.tenant,
            key = %admission.principal.key_display,
            used = admission.admitted.used,
            "tool call admitted"
        );
        context.extensions.insert(admission);
        self.tool_router
            .call(ToolCallContext::new(self, request, context))
            .await
    }
}
