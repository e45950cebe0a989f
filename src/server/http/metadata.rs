//! Open routes: health for load balancers and the RFC 9728 protected-resource metadata.

use std::sync::Arc;

use axum::Json;
use axum::extract::State;
use serde_json::{Value, json};

use super::HttpState;
use crate::domain::Scope;

/// `GET /healthz`: 200 while the server runs.
pub(crate) async fn healthz() -> &'static str {
    "ok"
}

/// `GET /.well-known/oauth-protected-resource`: where the resource is and how to present a key.
pub(crate) async fn protected_resource(State(state): State<Arc<HttpState>>) -> Json<Value> {
    Json(json!({
        "resource": state.config.resource_url(),
        "bearer_methods_supported": ["header"],
        "scopes_supported": Scope::ALL.map(Scope::as_str),
        "resource_name": "docward documentation search",
        "resource_documentation": "Send `Authorization: Bearer <docward API key>`; create keys with `docward key create`.",
    }))
}
