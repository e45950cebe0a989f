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

use super::sessions::{MAX_SESSIONS_PER_KEY, Transport};
use super::{HttpState, refusal_stream, reply};
use crate::auth::Principal;
use crate::clock;
use crate::gate::{Admission, Refusal};
use crate::server::scope_for;
use crate::token::Token;

/// The largest request body read: a tool call is a few KB.
const MAX_BODY_BYTES: usize = 1024 * 1024;
/// The largest body read from a refused caller, only to find the request id to answer.
const REFUSED_BODY_BYTES: usize = 64 * 1024;

/// What the auth layer concluded about a request, for the tools to read.
#[derive(Debug, Clone)]
pub enum HttpAuth {
    /// A `tools/call` that passed the whole gate.
    Admitted(Admission),
    /// Any other request with a valid key.
    Authenticated(Principal),
    /// A refused request, passed on to be answered inside the session as a tool result: a
    /// tool call refused for scope, burst or quota, or any request of a session's own key that
    /// was revoked or expired since (clients show tool results; legacy SSE clients ignore HTTP
    /// errors on `POST /message` altogether).
    Refused(Refusal),
}

/// The parts of a JSON-RPC body the layer needs.
#[derive(Debug)]
pub struct Peek {
    /// The request id, to answer a refusal with.
    pub id: Option<Value>,
    /// The method of a single (non-batch) message.
    pub method: Option<String>,
    /// The tool name when the message is a `tools/call` (empty if it names none).
    pub tool_call: Option<String>,
    /// Whether the body is a batch that contains a `tools/call`.
    pub batch_with_tool_call: bool,
}

/// Reads the parts the layer needs from a request body; anything that is not JSON yields none.
pub fn peek(body: &[u8]) -> Peek {
    let value: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
    let is_tool_call = |v: &Value| v.get("method").and_then(Value::as_str) == Some("tools/call");
    Peek {
        id: value.get("id").cloned(),
        method: value
            .get("method")
            .and_then(Value::as_str)
            .map(str::to_owned),
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
pub fn bearer(headers: &HeaderMap) -> Option<String> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?.trim();
    let (scheme, token) = value.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| token.trim().to_owned())
}

/// Decodes `%XX` escapes (leaving malformed ones as they are).
pub fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |b: u8| (b as char).to_digit(16);
        if bytes[i] == b'%'
            && i + 2 < bytes.len()
            && let (Some(h), Some(l)) = (hex(bytes[i + 1]), hex(bytes[i + 2]))
        {
            out.push((h * 16 + l) as u8);
            i += 3;
        } else {
            out.push(if bytes[i] == b'+' { b' ' } else { bytes[i] });
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Query parameter names that carry a key in the URL, whatever their value.
pub const KEY_PARAMETER_NAMES: [&str; 7] = [
    "api_key",
    "apikey",
    "key",
    "token",
    "access_token",
    "auth",
    "authorization",
];

/// Whether the URL carries something that looks like a key: a key-like parameter name, or a
/// docward token anywhere in the path or the query, percent-encoded or not.
pub fn key_in_url(uri: &axum::http::Uri) -> bool {
    let looks_like_token = |s: &str| s.contains("dw_live_") || s.contains("dw_test_");
    // Raw as well as decoded: a stray escape such as `%3` before `dw_…` hides it when decoded.
    let raw = [Some(uri.path()), uri.query()];
    if raw.into_iter().flatten().any(looks_like_token)
        || looks_like_token(&percent_decode(uri.path()))
    {
        return true;
    }
    uri.query().is_some_and(|q| {
        q.split('&').any(|pair| {
            let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
            let (name, value) = (percent_decode(name), percent_decode(value));
            KEY_PARAMETER_NAMES
                .iter()
                .any(|n| n.eq_ignore_ascii_case(name.trim()))
                || looks_like_token(&name)
                || looks_like_token(&value)
        })
    })
}

/// The `sessionId` query parameter of a legacy SSE message.
pub fn query_session(uri: &axum::http::Uri) -> Option<String> {
    uri.query().and_then(|q| {
        q.split('&')
            .filter_map(|pair| pair.split_once('='))
            .find(|(name, _)| *name == "sessionId")
            .map(|(_, value)| value.to_owned())
    })
}

/// Who is calling, before any body is read.
enum Identity {
    Known(Principal),
    /// Refused; `key_id` is set when the token is a real key of this store (revoked, expired
    /// or of the other environment), so that its own session can be told on its stream.
    Refused {
        refusal: Refusal,
        key_id: Option<String>,
    },
}

/// Authenticates. For a refused request in a session (`want_key_id`), also finds which key the
/// token is, so that its own session can be told inside the session; nothing else pays that
/// lookup.
fn identify(state: &HttpState, presented: Option<&str>, want_key_id: bool) -> Identity {
    let gate = &state.server.gate;
    match gate.authenticate(presented, clock::now()) {
        Ok(principal) => Identity::Known(principal),
        Err(refusal) => {
            crate::refusal_log::refused("HTTP request", &refusal);
            let key_id = presented
                .filter(|_| want_key_id)
                .and_then(|p| Token::parse(p).ok())
                .and_then(|t| gate.store().key_by_hash(&t.hash()).ok().flatten())
                .map(|k| k.id);
            Identity::Refused { refusal, key_id }
        }
    }
}

/// Runs gate work inline when it is only in-memory lookups, else on the blocking pool (a live
/// call waits for the disk; a process that reaches the store through its owner waits on a
/// socket).
async fn run_gate<T: Send + 'static>(
    may_block: bool,
    work: impl FnOnce() -> T + Send + 'static,
) -> Result<T, Refusal> {
    if may_block {
        tokio::task::spawn_blocking(work)
            .await
            .map_err(|_| Refusal::internal("the gate failed; see the server's log"))
    } else {
        Ok(work())
    }
}

/// The layer itself.
pub(crate) async fn require_key(
    State(state): State<Arc<HttpState>>,
    request: Request,
    next: Next,
) -> Response {
    let config = &state.config;
    if key_in_url(request.uri()) {
        crate::refusal_log::warn("key_in_url", || {
            "refused a request with a key in the URL".to_owned()
        });
        return reply::key_in_url();
    }
    if request
        .headers()
        .get_all(header::AUTHORIZATION)
        .iter()
        .nth(1)
        .is_some()
    {
        crate::refusal_log::warn("duplicate_authorization", || {
            "refused a request with more than one Authorization header".to_owned()
        });
        return reply::duplicate_authorization();
    }
    // A legacy SSE message names its session in the query; streamable HTTP in a header.
    let legacy_message = request.uri().path() == "/message";
    let session = if legacy_message {
        query_session(request.uri())
    } else {
        request
            .headers()
            .get("mcp-session-id")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    };
    let presented = bearer(request.headers());
    let remote_store = !state.server.gate.store().is_local();

    // 0. A message to a stream opened only to tell a refused legacy client why.
    if legacy_message
        && let Some(s) = &session
        && state.refusal_streams.contains(s)
    {
        let bytes = match read_body(request.into_body(), config, REFUSED_BODY_BYTES).await {
            Ok(bytes) => bytes,
            Err(response) => return response,
        };
        return refusal_stream::answer(&state, s, presented.as_deref(), &bytes)
            .unwrap_or_else(reply::unknown_session);
    }

    // 1. Who is calling: decided before any body is read.
    let identity = {
        let state = Arc::clone(&state);
        let presented = presented.clone();
        let in_session = session.is_some();
        run_gate(remote_store, move || {
            identify(&state, presented.as_deref(), in_session)
        })
        .await
    };
    let (principal, refused) = match identity {
        Ok(Identity::Known(principal)) => {
            if let Some(s) = &session
                && state.sessions.is_known(s)
                && !state.sessions.owned_by(s, &principal.key_id)
            {
                tracing::warn!(key = %principal.key_display, "refused a session opened by another key");
                return reply::session_of_another_key(None);
            }
            (Some(principal), None)
        }
        Ok(Identity::Refused { refusal, key_id }) => {
            // Only a session's own key (revoked or expired since it opened the session) hears
            // the refusal inside the session, as tool results; nothing of anyone else's
            // reaches a session.
            let own_session = session
                .as_deref()
                .zip(key_id.as_deref())
                .is_some_and(|(s, k)| state.sessions.owned_by(s, k));
            if !own_session {
                return refuse_outside_a_session(&state, request, refusal, presented).await;
            }
            (None, Some(refusal))
        }
        Err(refusal) => return reply::refusal(&refusal, None),
    };

    // 2. The body, now that the caller is known.
    let (parts, body) = request.into_parts();
    let bytes = if parts.method == Method::POST {
        match read_body(body, config, MAX_BODY_BYTES).await {
            Ok(bytes) => bytes,
            Err(response) => return response,
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

    // 3. Sessions: each key may hold a bounded number.
    let opens_session = session.is_none()
        && ((parts.method == Method::GET && parts.uri.path() == "/sse")
            || peek.method.as_deref() == Some("initialize"));
    let _opening = if let Some(p) = &principal
        && opens_session
    {
        // Only sessions that still exist count: rmcp ends idle ones on its own.
        state
            .sessions
            .forget_ended(&state.rmcp_sessions, Some(&p.key_id))
            .await;
        if let Err(next_free) = state.sessions.reserve(&p.key_id) {
            tracing::warn!(key = %p.key_display, "refused a session: too many open");
            return reply::refusal(
                &Refusal::too_many_sessions(MAX_SESSIONS_PER_KEY, next_free),
                peek.id,
            );
        }
        Some(Opening {
            state: Arc::clone(&state),
            key_id: p.key_id.clone(),
        })
    } else {
        None
    };

    // 4. A tool call passes scope, burst and quota here, before rmcp reads it, so that only
    //    admitted calls are billed. A refusal goes on to the tool layer, which answers it as a
    //    tool result (`isError`), the form every measured client shows. A call in a session
    //    this server does not know (e.g. from before a restart) is not charged: the MCP layer
    //    answers it with 404 and the client opens a new session.
    let mut limit_refusal = None;
    let known_session = session
        .as_deref()
        .is_none_or(|s| state.sessions.is_known(s));
    let auth = match (principal, refused) {
        (_, Some(refusal)) => HttpAuth::Refused(refusal),
        (Some(principal), None) => match peek.tool_call.as_deref().and_then(scope_for) {
            Some(scope) if known_session => {
                let may_block = remote_store || principal.env == crate::domain::Env::Live;
                let gate_state = Arc::clone(&state);
                let decided = run_gate(may_block, move || {
                    gate_state
                        .server
                        .gate
                        .admit_principal(principal, scope, clock::now())
                })
                .await
                .and_then(|r| r);
                match decided {
                    Ok(admission) => HttpAuth::Admitted(admission),
                    Err(refusal) => {
                        limit_refusal = Some(refusal.clone());
                        HttpAuth::Refused(refusal)
                    }
                }
            }
            _ => HttpAuth::Authenticated(principal),
        },
        (None, None) => return reply::refusal(&Refusal::internal("no verdict"), peek.id),
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
    let admission = match &auth {
        HttpAuth::Admitted(a) => Some(a.clone()),
        _ => None,
    };
    let mut request = Request::from_parts(parts, Body::from(bytes));
    request.extensions_mut().insert(auth);
    let mut response = next.run(request).await;
    let succeeded = response.status().is_success();
    if let Some(admission) = admission
        && !succeeded
    {
        // The MCP layer refused the call (no or unknown session, Accept, Content-Type,
        // protocol version): it never reached the tool, so it is not billed.
        refund(&state, admission, response.status()).await;
        return response;
    }
    if let (Some(key_id), None, false) = (&key_id, &session, legacy_message)
        && let Some(opened) = response
            .headers()
            .get("mcp-session-id")
            .and_then(|v| v.to_str().ok())
    {
        state.sessions.bind(opened, key_id, Transport::Streamable);
    }
    // A refused DELETE (405, 404, 400) ended nothing: the session keeps its key.
    if is_delete
        && succeeded
        && let Some(session) = &session
    {
        state.sessions.forget(session);
    }
    if let Some(refusal) = &limit_refusal {
        reply::rate_limit_headers(refusal, response.headers_mut());
    }
    if let Some((limit, remaining, reset)) = rate {
        let headers = response.headers_mut();
        headers.insert("ratelimit-limit", HeaderValue::from(limit));
        headers.insert("ratelimit-remaining", HeaderValue::from(remaining));
        headers.insert("ratelimit-reset", HeaderValue::from(reset.max(0) as u64));
    }
    response
}

/// Reads a request body within the body timeout and `max` bytes.
async fn read_body(body: Body, config: &super::HttpConfig, max: usize) -> Result<Bytes, Response> {
    let body_timeout = config.limits.body_timeout;
    match tokio::time::timeout(body_timeout, axum::body::to_bytes(body, max)).await {
        Ok(Ok(bytes)) => Ok(bytes),
        Ok(Err(_)) => Err(reply::bad_request(&format!(
            "the request body is too large ({} KiB at most) or unreadable",
            max / 1024
        ))),
        Err(_) => {
            crate::refusal_log::warn("body_timeout", || {
                "refused a request whose body did not arrive in time".to_owned()
            });
            Err(reply::body_timeout(body_timeout))
        }
    }
}

/// Answers a refused key outside a session of its own in the form its client shows: a
/// JSON-RPC request (`initialize`, or any call in a session the key does not own) gets the
/// refusal as a JSON-RPC error with HTTP 200; `GET /sse` gets a refusal stream; anything else
/// (`GET /mcp`, `DELETE`, notifications, someone else's legacy session) gets the 401.
async fn refuse_outside_a_session(
    state: &Arc<HttpState>,
    request: Request,
    refusal: Refusal,
    presented: Option<String>,
) -> Response {
    let path = request.uri().path().to_owned();
    let method = request.method().clone();
    if method == Method::GET && path == "/sse" {
        return refusal_stream::open(state, presented.as_deref(), refusal.clone())
            .unwrap_or_else(|| reply::refusal(&refusal, None));
    }
    if method == Method::POST && path == "/mcp" {
        let bytes = match read_body(request.into_body(), &state.config, REFUSED_BODY_BYTES).await {
            Ok(bytes) => bytes,
            Err(response) => return response,
        };
        let peek = peek(&bytes);
        if let (Some(id), Some(_)) = (peek.id.filter(|id| !id.is_null()), peek.method) {
            return reply::in_band(&refusal, id);
        }
    }
    reply::refusal(&refusal, None)
}

/// A place reserved under a key's session cap, given back when the request is done (whether
/// the session was bound, refused, or the client went away).
struct Opening {
    state: Arc<HttpState>,
    key_id: String,
}

impl Drop for Opening {
    fn drop(&mut self) {
        self.state.sessions.opened(&self.key_id);
    }
}

/// Takes back a call the gate counted but the MCP layer answered with `status`.
async fn refund(state: &Arc<HttpState>, admission: Admission, status: axum::http::StatusCode) {
    let gate_state = Arc::clone(state);
    let refunded = run_gate(true, move || gate_state.server.gate.refund(&admission)).await;
    match refunded {
        Ok(Ok(_)) => tracing::debug!(%status, "refunded a tool call the MCP layer refused"),
        Ok(Err(e)) => {
            tracing::error!(%status, error = %e, "could not refund a tool call the MCP layer refused")
        }
        Err(refusal) => tracing::error!(%status, "could not refund: {}", refusal.message),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_in_the_url_are_spotted_even_encoded() {
        let url = |s: &str| s.parse::<axum::http::Uri>().unwrap();
        assert!(key_in_url(&url("/mcp?api_key=abc")));
        assert!(key_in_url(&url("/mcp?api%5Fkey=abc")));
        assert!(key_in_url(&url("/message?sessionId=1&token=x")));
        assert!(key_in_url(&url("/mcp?x=dw_live_abc")));
        assert!(key_in_url(&url("/mcp?x=dw%5Flive%5Fabc")));
        assert!(key_in_url(&url("/mcp/dw_test_abc")));
        assert!(!key_in_url(&url("/message?sessionId=abc")));
        assert!(!key_in_url(&url("/mcp")));
    }

    #[test]
    fn a_token_as_a_query_parameter_name_is_spotted() {
        let url = |s: &str| s.parse::<axum::http::Uri>().unwrap();
        assert!(key_in_url(&url("/mcp?dw_live_abc")));
        assert!(key_in_url(&url("/message?sessionId=1&dw%5Ftest%5Fabc=1")));
        assert!(key_in_url(&url("/message?sessiodw_test_nId=3f2a&x=1")));
    }

    #[test]
    fn a_token_cut_by_a_percent_escape_is_spotted() {
        let url = |s: &str| s.parse::<axum::http::Uri>().unwrap();
        assert!(key_in_url(&url("/mcp?api%3dw_test_d")));
        assert!(key_in_url(&url("/mcp?x=%3dw_live_abc")));
        assert!(key_in_url(&url("/mcp/%3dw_live_abc")));
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
