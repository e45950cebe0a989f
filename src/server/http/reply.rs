//! HTTP refusals: the status, the `WWW-Authenticate` / `Retry-After` / RateLimit headers, and a
//! JSON-RPC error body (MCP clients show a JSON-RPC body's message; a plain-text body is lost).

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use crate::gate::{Code, Refusal};

/// A JSON-RPC error response with an HTTP status.
fn jsonrpc_error(
    status: StatusCode,
    id: Option<Value>,
    code: i32,
    message: &str,
    data: Value,
) -> Response {
    let body = json!({
        "jsonrpc": "2.0",
        "id": id.unwrap_or(Value::Null),
        "error": { "code": code, "message": message, "data": data },
    });
    (
        status,
        [(header::CONTENT_TYPE, "application/json")],
        body.to_string(),
    )
        .into_response()
}

/// The inside of a quoted-string (RFC 9110 §5.6.4) for an auth-param: `"` and `\\` escaped,
/// `…` spelled `...`, any other character outside printable ASCII replaced by `?` (header values
/// are ASCII).
fn quoted(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for c in value.chars() {
        match c {
            '"' | '\\' => {
                out.push('\\');
                out.push(c);
            }
            '…' => out.push_str("..."),
            ' '..='~' => out.push(c),
            _ => out.push('?'),
        }
    }
    out
}

/// The `WWW-Authenticate` challenge. RFC 6750 §3.1: a request without credentials gets the bare
/// challenge, with no error code; `resource_metadata` is left out on purpose (docward has no
/// authorization server, and the measured clients start OAuth on any 401 anyway; see
/// docs/http.md).
fn challenge(error: Option<&str>, description: &str, scope: Option<&str>) -> String {
    let mut value = "Bearer realm=\"docward\"".to_owned();
    if let Some(error) = error {
        value.push_str(&format!(
            ", error=\"{error}\", error_description=\"{}\"",
            quoted(description)
        ));
    }
    if let Some(scope) = scope {
        value.push_str(&format!(", scope=\"{scope}\""));
    }
    value
}

/// A refusal from the gate as its HTTP response: 401, 403 or 429 (500 for internal failures).
/// For requests that are not JSON-RPC requests (an event stream, a DELETE, a notification);
/// JSON-RPC requests get [`in_band`].
pub(crate) fn refusal(refusal: &Refusal, id: Option<Value>) -> Response {
    let status = StatusCode::from_u16(refusal.code.http_status())
        .unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let mut response = jsonrpc_error(
        status,
        id,
        refusal.code.jsonrpc_code(),
        &refusal.message,
        json!(refusal),
    );
    let headers = response.headers_mut();
    let www = match refusal.code {
        Code::MissingKey => Some(challenge(None, "", None)),
        code if code.is_invalid_token() => {
            Some(challenge(Some("invalid_token"), &refusal.message, None))
        }
        Code::MissingScope => Some(challenge(
            Some("insufficient_scope"),
            &refusal.message,
            refusal.scope.map(|s| s.as_str()),
        )),
        _ => None,
    };
    if let Some(value) = www.and_then(|w| HeaderValue::from_str(&w).ok()) {
        headers.insert(header::WWW_AUTHENTICATE, value);
    }
    if let Some(secs) = refusal.retry_after_secs {
        headers.insert(header::RETRY_AFTER, HeaderValue::from(secs));
    }
    rate_limit_headers(refusal, headers);
    response
}

/// `RateLimit-*` headers for a limit refusal (nothing for other refusals).
pub(crate) fn rate_limit_headers(refusal: &Refusal, headers: &mut axum::http::HeaderMap) {
    if let Some(secs) = refusal.retry_after_secs {
        if let Some(limit) = refusal.limit {
            headers.insert("ratelimit-limit", HeaderValue::from(limit));
        }
        headers.insert("ratelimit-remaining", HeaderValue::from(0u64));
        headers.insert("ratelimit-reset", HeaderValue::from(secs));
    }
}

/// A key refusal answered to a JSON-RPC request as a JSON-RPC error with HTTP 200: the measured
/// clients show such an error's message to the person, while any 401 makes OAuth-capable
/// clients start an OAuth flow that hides it (docs/http.md has the table).
pub(crate) fn in_band(refusal: &Refusal, id: Value) -> Response {
    let mut response = jsonrpc_error(
        StatusCode::OK,
        Some(id),
        refusal.code.jsonrpc_code(),
        &refusal.message,
        json!(refusal),
    );
    let headers = response.headers_mut();
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    rate_limit_headers(refusal, headers);
    response
}

/// The JSON-RPC error message of a refusal, as one SSE `data` line.
pub(crate) fn in_band_message(refusal: &Refusal, id: Value) -> String {
    json!({
        "jsonrpc": "2.0",
        "id": id,
        "error": { "code": refusal.code.jsonrpc_code(), "message": refusal.message, "data": refusal },
    })
    .to_string()
}

/// 400 for a key sent in the URL, where it would leak into logs and browser history.
pub(crate) fn key_in_url() -> Response {
    let message = "API keys in the URL are refused (URLs end up in logs and histories): send the key as `Authorization: Bearer <key>`";
    let mut response = jsonrpc_error(
        StatusCode::BAD_REQUEST,
        None,
        -32600,
        message,
        json!({ "code": "key_in_url" }),
    );
    if let Ok(value) = HeaderValue::from_str(&challenge(Some("invalid_request"), message, None)) {
        response
            .headers_mut()
            .insert(header::WWW_AUTHENTICATE, value);
    }
    response
}

/// 400 for a request with more than one `Authorization` header: docward does not guess which
/// one was meant.
pub(crate) fn duplicate_authorization() -> Response {
    let message = "the request carries more than one Authorization header: send exactly one, `Authorization: Bearer <key>`";
    let mut response = jsonrpc_error(
        StatusCode::BAD_REQUEST,
        None,
        -32600,
        message,
        json!({ "code": "duplicate_authorization" }),
    );
    if let Ok(value) = HeaderValue::from_str(&challenge(Some("invalid_request"), message, None)) {
        response
            .headers_mut()
            .insert(header::WWW_AUTHENTICATE, value);
    }
    response
}

/// 408 for a request body that did not arrive within the body timeout; the connection is
/// closed, since the rest of the body may still be on its way.
pub(crate) fn body_timeout(timeout: std::time::Duration) -> Response {
    let mut response = jsonrpc_error(
        StatusCode::REQUEST_TIMEOUT,
        None,
        -32600,
        &format!(
            "the request body did not arrive within {} s: send the whole body at once, or raise `serve --body-timeout`",
            timeout.as_secs_f64()
        ),
        json!({ "code": "body_timeout" }),
    );
    response
        .headers_mut()
        .insert(header::CONNECTION, HeaderValue::from_static("close"));
    response
}

/// 403 for a session id used with a key other than the one that opened the session.
pub(crate) fn session_of_another_key(id: Option<Value>) -> Response {
    jsonrpc_error(
        StatusCode::FORBIDDEN,
        id,
        -32041,
        "this MCP session was opened with another API key: start a new session with your own key",
        json!({ "code": "session_key_mismatch" }),
    )
}

/// 400 for a request docward cannot read.
pub(crate) fn bad_request(message: &str) -> Response {
    jsonrpc_error(
        StatusCode::BAD_REQUEST,
        None,
        -32600,
        message,
        json!({ "code": "bad_request" }),
    )
}

/// 404 for an unknown legacy SSE session.
pub(crate) fn unknown_session() -> Response {
    jsonrpc_error(
        StatusCode::NOT_FOUND,
        None,
        -32600,
        "unknown or ended session: open a new one with GET /sse",
        json!({ "code": "unknown_session" }),
    )
}

/// 403 for a Host header that is not allowed.
pub(crate) fn forbidden_host(host: &str) -> Response {
    jsonrpc_error(
        StatusCode::FORBIDDEN,
        None,
        -32600,
        &format!(
            "Host '{}' is not allowed: start the server with --allowed-host {}",
            quoted(host),
            quoted(host)
        ),
        json!({ "code": "host_not_allowed" }),
    )
}

/// 403 for an Origin header that is not allowed.
pub(crate) fn forbidden_origin(origin: &str) -> Response {
    jsonrpc_error(
        StatusCode::FORBIDDEN,
        None,
        -32600,
        &format!(
            "Origin '{}' is not allowed: start the server with --allowed-origin {}",
            quoted(origin),
            quoted(origin)
        ),
        json!({ "code": "origin_not_allowed" }),
    )
}
