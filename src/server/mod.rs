//! The MCP server: one [`DocServer`] type behind every transport, with the auth gate in front of
//! every tool.
//!
//! `tools/call` → [`Gate::admit`] (key, scope, burst, daily quota) → the tool, which receives the
//! [`Admission`] (and so the principal) through the request's extensions and never sees a token.

pub mod console;
pub mod http;
mod render;
pub mod rest;
mod stdio;
pub mod stdio_framing;
mod tools;

use std::sync::Arc;

use rmcp::handler::server::router::tool::ToolRouter;
use rmcp::handler::server::tool::ToolCallContext;
use rmcp::model::{
    CacheScope, CallToolRequestParams, CallToolResponse, CallToolResult, ContentBlock,
    DiscoverResult, Implementation, InitializeRequestParams, InitializeResult, ListToolsResult,
    PaginatedRequestParams, ServerCapabilities, ServerConfig,
};
use rmcp::service::RequestContext;
use rmcp::{ErrorData as McpError, RoleServer, ServerHandler};
use serde_json::json;

/// The readable text of a search answer, exactly as the `search` tool returns it.
pub use render::search as search_text;
pub use stdio::serve_stdio;

/// The stdio framing, exposed only for the fuzz targets in `fuzz/`: not a supported API.
#[doc(hidden)]
pub mod fuzzing {
    pub use super::stdio::line_transport;
}
pub use tools::{GetDocArgs, ListReposArgs, SearchArgs, TOOL_SCOPES, scope_for};

use crate::auth::Principal;
use crate::clock;
use crate::domain::Scope;
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
    /// Each HTTP request's own `Authorization` header, checked by the auth layer, which leaves its
    /// verdict ([`http::HttpAuth`]) in the request's extensions.
    Http,
}

/// What the gate says about one request of a session.
enum Verdict {
    Admitted(Admission),
    Authenticated(Principal),
    Refused(Refusal),
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

    /// The instructions for this caller: what the tools are for, and what its key allows.
    async fn instructions(&self, context: &RequestContext<RoleServer>) -> String {
        let verdict = self.caller(context).await;
        format!("{INSTRUCTIONS} {}", key_note(&verdict))
    }

    fn libraries(&self) -> &Libraries {
        &self.state.libraries
    }

    /// Authenticates the caller of a request (for `tools/list`), off the async runtime.
    async fn caller(&self, context: &RequestContext<RoleServer>) -> Verdict {
        match &self.credential {
            Credential::Fixed(key) => {
                let state = Arc::clone(&self.state);
                let key = key.clone();
                blocking(
                    move || match state.gate.authenticate(key.as_deref(), clock::now()) {
                        Ok(p) => Verdict::Authenticated(p),
                        Err(r) => Verdict::Refused(r),
                    },
                )
                .await
                .unwrap_or_else(Verdict::Refused)
            }
            Credential::Http => http_verdict(context),
        }
    }

    /// Admits a tool call needing `scope`. The gate may wait for the disk (a live call is made
    /// durable before it runs), so it runs on the blocking pool.
    async fn admit(
        &self,
        scope: Scope,
        context: &RequestContext<RoleServer>,
    ) -> Result<Admission, Refusal> {
        let state = Arc::clone(&self.state);
        let now = clock::now();
        match &self.credential {
            Credential::Fixed(key) => {
                let key = key.clone();
                blocking(move || state.gate.admit(key.as_deref(), scope, now)).await?
            }
            Credential::Http => match http_verdict(context) {
                Verdict::Admitted(a) if a.principal.has_scope(scope) => Ok(a),
                Verdict::Admitted(Admission { principal, .. })
                | Verdict::Authenticated(principal) => {
                    blocking(move || state.gate.admit_principal(principal, scope, now)).await?
                }
                Verdict::Refused(r) => Err(r),
            },
        }
    }
}

/// Runs `work` on tokio's blocking pool.
async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> T + Send + 'static,
) -> Result<T, Refusal> {
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|_| Refusal::internal("the gate failed; see the server's log"))
}

/// The auth layer's verdict carried in the HTTP request parts of this request.
fn http_verdict(context: &RequestContext<RoleServer>) -> Verdict {
    let auth = context
        .extensions
        .get::<axum::http::request::Parts>()
        .and_then(|parts| parts.extensions.get::<http::HttpAuth>());
    match auth {
        Some(http::HttpAuth::Admitted(a)) => Verdict::Admitted(a.clone()),
        Some(http::HttpAuth::Authenticated(p)) => Verdict::Authenticated(p.clone()),
        Some(http::HttpAuth::Refused(r)) => Verdict::Refused(r.clone()),
        None => Verdict::Refused(crate::auth::AuthError::Missing.into()),
    }
}

/// What the instructions tell the model and the person about the caller's key: its scopes, the
/// tools a missing scope hides and how to get a key with them, or why the key is refused.
fn key_note(verdict: &Verdict) -> String {
    let principal = match verdict {
        Verdict::Admitted(a) => &a.principal,
        Verdict::Authenticated(p) => p,
        Verdict::Refused(r) => {
            return format!(
                "This server refuses the configured API key ({}): {}",
                r.code.as_str(),
                r.message
            );
        }
    };
    let hidden: Vec<(&str, Scope)> = TOOL_SCOPES
        .iter()
        .filter(|(_, scope)| !principal.has_scope(*scope))
        .copied()
        .collect();
    let mut note = format!(
        "This API key ({}) has the scopes: {}.",
        principal.key_display,
        crate::gate::scope_list(principal)
    );
    if !hidden.is_empty() {
        let names: Vec<String> = hidden
            .iter()
            .map(|(tool, scope)| format!("{tool} (needs {scope})"))
            .collect();
        let scopes: Vec<Scope> = hidden.iter().map(|(_, scope)| *scope).collect();
        note.push_str(&format!(
            " Hidden from it: {}. An administrator creates a key with them: `{}`",
            names.join(", "),
            crate::gate::key_create_command(principal, &scopes)
        ));
    }
    note
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

    async fn initialize(
        &self,
        request: InitializeRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<InitializeResult, McpError> {
        context.peer.set_peer_info(request.clone());
        let mut info = self.negotiate_initialize(&request)?;
        info.instructions = Some(self.instructions(&context).await);
        Ok(info)
    }

    async fn discover(
        &self,
        context: RequestContext<RoleServer>,
    ) -> Result<DiscoverResult, McpError> {
        let mut info = self.get_info();
        info.instructions = Some(self.instructions(&context).await);
        Ok(DiscoverResult::from_server_info(
            self.supported_protocol_versions().into_owned(),
            info,
        ))
    }

    async fn list_tools(
        &self,
        _request: Option<PaginatedRequestParams>,
        context: RequestContext<RoleServer>,
    ) -> Result<ListToolsResult, McpError> {
        let all = self.tool_router.list_all();
        let principal = match self.caller(&context).await {
            Verdict::Admitted(a) => Ok(a.principal),
            Verdict::Authenticated(p) => Ok(p),
            Verdict::Refused(r) => Err(r),
        };
        let tools = match principal {
            Ok(principal) => all
                .into_iter()
                .filter(|t| scope_for(&t.name).is_some_and(|s| principal.has_scope(s)))
                .collect(),
            // An unusable key still sees the tools, so that a call can tell the user why it fails.
            Err(refusal) => {
                crate::refusal_log::refused("tools/list", &refusal);
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
        let admission: Admission = match self.admit(scope, &context).await {
            Ok(admission) => admission,
            Err(refusal) => {
                crate::refusal_log::refused(&format!("tools/call {}", request.name), &refusal);
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
