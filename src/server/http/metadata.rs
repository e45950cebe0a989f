//! Open route: the RFC 9728 protected-resource metadata.

use std::sync::Arc;

use axum::Json;
use axum::extract::State;
use serde_json::{Value, json};

use super::HttpState;
use crate::domain::Scope;

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
