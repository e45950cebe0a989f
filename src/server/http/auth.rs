//! The auth layer in front of every MCP route, before any MCP processing: the key comes only
//! from `Authorization: Bearer`; every request is authenticated; a `tools/call` also passes the
//! scope, burst and quota checks here, so that refusals carry their HTTP status.

use std::sync::Arc;

use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, header};
use axum::middleware::Next;
use axum::response::Response;
use serde_json::Value;

use super::{HttpState, reply};
use crate::auth::Principal;
use crate::clock;
use crate::gate::{Admission, Refusal};
use crate::server::scope_for;

/// The largest request body read (as rmcp's default).
const MAX_BODY_BYTES: usize = 4 * 1024 * 1024;

/// What the auth layer concluded about a request, for the tools to read.
#[derive(Debug, Clone)]
pub enum HttpAuth {
    /// A `tools/call` that passed the whole gate.
    Admitted(Admission),
    /// Any other request with a valid key.
    Authenticated(Principal),
    /// A refused request that is passed on to answer on the event stream (legacy SSE only,
    /// whose clients ignore HTTP errors on `POST /message`).
    Refused(Refusal),
}

/// The parts of a JSON-RPC body the layer needs.
struct Peek {
    id: Option<Value>,
    tool_call: Option<String>,
    batch_with_tool_call: bool,
}

fn peek(body: &[u8]) -> Peek {
    let value: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
    let is_tool_call = |v: &Value| v.get("method").and_then(Value::as_str) == Some("tools/call");
    Peek {
        id: value.get("id").cloned(),
        tool_call: is_tool_call(&value).then(|| {
            value
                .pointer("/params/name")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned()
        }),
        batch_with_tool_call: value
            .as_array()
            .is_some_and(|items| items.iter().any(is_tool_call)),
    }
}

/// The bearer token, if the header is present and well formed.
fn bearer(headers: &HeaderMap) -> Option<String> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?.trim();
    let (scheme, token) = value.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| token.trim().to_owned())
}

/// Whether the query string carries something that looks like a key.
fn key_in_query(query: Option<&str>) -> bool {
    const NAMES: [&str; 7] = [
        "api_key",
        "apikey",
        "key",
        "token",
        "access_token",
        "auth",
        "authorization",
    ];
    query.is_some_and(|q| {
        q.split('&').any(|pair| {
            let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
            NAMES.iter().any(|n| n.eq_ignore_ascii_case(name))
                || value.contains("dw_live_")
                || value.contains("dw_test_")
        })
    })
}

/// The session a request belongs to: the `Mcp-Session-Id` header, or `sessionId` in the query of
/// a legacy SSE message.
fn session_of(request: &Request) -> Option<String> {
    if let Some(id) = request
        .headers()
        .get("mcp-session-id")
        .and_then(|v| v.to_str().ok())
    {
        return Some(id.to_owned());
    }
    request.uri().query().and_then(|q| {
        q.split('&')
            .filter_map(|pair| pair.split_once('='))
            .find(|(name, _)| *name == "sessionId")
            .map(|(_, value)| value.to_owned())
    })
}

/// The gate's answer for one request.
enum Decision {
    Pass(HttpAuth),
    Refuse(Refusal),
    ForeignSession,
}

/// Authenticates, checks the session's owner and, for a `tools/call`, admits it.
fn decide(
    state: &HttpState,
    presented: Option<&str>,
    tool: Option<&str>,
    session: Option<&str>,
) -> Decision {
    let gate = &state.server.gate;
    let now = clock::now();
    let principal = match gate.authenticate(presented, now) {
        Ok(principal) => principal,
        Err(refusal) => {
            tracing::warn!(code = refusal.code.as_str(), "refused: {}", refusal.message);
            return Decision::Refuse(refusal);
        }
    };
    if let Some(session) = session
        && !state.sessions.allows(session, &principal.key_id)
    {
        tracing::warn!(key = %principal.key_display, "refused a session opened by another key");
        return Decision::ForeignSession;
    }
    match tool.and_then(scope_for) {
        Some(scope) => match gate.admit_principal(principal, scope, now) {
            Ok(admission) => Decision::Pass(HttpAuth::Admitted(admission)),
            Err(refusal) => {
                tracing::warn!(
                    code = refusal.code.as_str(),
                    "tool call refused: {}",
                    refusal.message
                );
                Decision::Refuse(refusal)
            }
        },
        None => Decision::Pass(HttpAuth::Authenticated(principal)),
    }
}

/// The layer itself.
pub(crate) async fn require_key(
    State(state): State<Arc<HttpState>>,
    request: Request,
    next: Next,
) -> Response {
    let config = &state.config;
    if key_in_query(request.uri().query()) {
        tracing::warn!(
            path = request.uri().path(),
            "refused a request with a key in the URL"
        );
        return reply::key_in_url(config);
    }
    // Legacy SSE clients ignore HTTP errors on POST /message: refusals go to the event stream.
    let on_event_stream = request.uri().path() == "/message";
    let presented = bearer(request.headers());
    let session = session_of(&request);
    let (parts, body) = request.into_parts();
    let bytes = if parts.method == Method::POST {
        match axum::body::to_bytes(body, MAX_BODY_BYTES).await {
            Ok(bytes) => bytes,
            Err(_) => return reply::bad_request("the request body is too large or unreadable"),
        }
    } else {
        Bytes::new()
    };
    let peek = peek(&bytes);
    if peek.batch_with_tool_call {
        return reply::bad_request(
            "batched tools/call requests are not supported: send one call per request",
        );
    }
    // A live tool call waits for the disk (it is made durable before it runs), and a process
    // that reaches the store through its owner waits on a socket: those go to the blocking pool.
    // Everything else is a few in-memory lookups, cheaper than the hop.
    let may_block = !state.server.gate.store().is_local()
        || (peek.tool_call.is_some()
            && presented.as_deref().is_some_and(|p| p.contains("dw_live_")));
    let decided = if may_block {
        let state = Arc::clone(&state);
        let tool = peek.tool_call.clone();
        let session = session.clone();
        tokio::task::spawn_blocking(move || {
            decide(
                &state,
                presented.as_deref(),
                tool.as_deref(),
                session.as_deref(),
            )
        })
        .await
    } else {
        Ok(decide(
            &state,
            presented.as_deref(),
            peek.tool_call.as_deref(),
            session.as_deref(),
        ))
    };
    let auth = match decided {
        Ok(Decision::Pass(auth)) => auth,
        Ok(Decision::Refuse(refusal)) if on_event_stream => HttpAuth::Refused(refusal),
        Ok(Decision::Refuse(refusal)) => return reply::refusal(&refusal, peek.id, config),
        Ok(Decision::ForeignSession) => return reply::session_of_another_key(peek.id),
        Err(_) => {
            return reply::refusal(
                &Refusal::internal("the gate failed; see the server's log"),
                peek.id,
                config,
            );
        }
    };
    let key_id = match &auth {
        HttpAuth::Admitted(a) => Some(a.principal.key_id.clone()),
        HttpAuth::Authenticated(p) => Some(p.key_id.clone()),
        HttpAuth::Refused(_) => None,
    };
    let now = clock::now();
    let rate = match &auth {
        HttpAuth::Admitted(a) => a.admitted.limit.map(|limit| {
            (
                limit,
                limit.saturating_sub(a.admitted.used),
                a.admitted.resets_at - now,
            )
        }),
        _ => None,
    };
    let is_delete = parts.method == Method::DELETE;
    let mut request = Request::from_parts(parts, Body::from(bytes));
    request.extensions_mut().insert(auth);
    let mut response = next.run(request).await;
    if let (Some(key_id), None) = (&key_id, &session)
        && let Some(opened) = response
            .headers()
            .get("mcp-session-id")
            .and_then(|v| v.to_str().ok())
    {
        state.sessions.bind(opened, key_id);
    }
    if is_delete && let Some(session) = &session {
        state.sessions.forget(session);
    }
    if let Some((limit, remaining, reset)) = rate {
        let headers = response.headers_mut();
        headers.insert("ratelimit-limit", HeaderValue::from(limit));
        headers.insert("ratelimit-remaining", HeaderValue::from(remaining));
        headers.insert("ratelimit-reset", HeaderValue::from(reset.max(0) as u64));
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_in_the_query_are_spotted() {
        assert!(key_in_query(Some("api_key=abc")));
        assert!(key_in_query(Some("sessionId=1&token=x")));
        assert!(key_in_query(Some("x=dw_live_abc")));
        assert!(!key_in_query(Some("sessionId=abc")));
        assert!(!key_in_query(None));
    }

    #[test]
    fn bearer_is_case_insensitive_and_trimmed() {
        let mut headers = HeaderMap::new();
        headers.insert(
            header::AUTHORIZATION,
            HeaderValue::from_static("bearer  dw_test_x "),
        );
        assert_eq!(bearer(&headers).as_deref(), Some("dw_test_x"));
        headers.insert(header::AUTHORIZATION, HeaderValue::from_static("Basic abc"));
        assert_eq!(bearer(&headers), None);
    }

    #[test]
    fn tool_calls_are_recognised() {
        let p =
            peek(br#"{"jsonrpc":"2.0","id":7,"method":"tools/call","params":{"name":"get_doc"}}"#);
        assert_eq!(p.tool_call.as_deref(), Some("get_doc"));
        assert_eq!(p.id, Some(serde_json::json!(7)));
        assert!(peek(br#"[{"method":"tools/call"}]"#).batch_with_tool_call);
        assert!(peek(b"not json").tool_call.is_none());
    }
}
