//! Open routes: the RFC 9728 protected-resource metadata, one document per resource. A client
//! derives the metadata URL from the URL it was given (`/mcp` → `…/oauth-protected-resource/mcp`,
//! `/sse` → `…/sse`) and rejects a document whose `resource` is another one; the document at the
//! bare well-known path describes the origin.

use std::sync::Arc;

use axum::Json;
use axum::extract::State;
use serde_json::{Value, json};

use super::HttpState;
use crate::domain::Scope;

/// The metadata of `resource` (a URL).
fn document(resource: String) -> Json<Value> {
    Json(json!({
        "resource": resource,
        "bearer_methods_supported": ["header"],
        "scopes_supported": Scope::ALL.map(Scope::as_str),
        "resource_name": "docward documentation search",
        "resource_documentation": "Send `Authorization: Bearer <docward API key>`; an administrator creates keys with `docward key create`. There is no OAuth authorization server.",
    }))
}

/// `GET /.well-known/oauth-protected-resource`: the origin as a whole.
pub(crate) async fn origin(State(state): State<Arc<HttpState>>) -> Json<Value> {
    document(state.config.public_url.clone())
}

/// `GET /.well-known/oauth-protected-resource/mcp`: the streamable HTTP endpoint.
pub(crate) async fn streamable(State(state): State<Arc<HttpState>>) -> Json<Value> {
    document(state.config.resource_url())
}

/// `GET /.well-known/oauth-protected-resource/sse`: the legacy SSE endpoint.
pub(crate) async fn legacy_sse(State(state): State<Arc<HttpState>>) -> Json<Value> {
    document(format!("{}/sse", state.config.public_url))
}
