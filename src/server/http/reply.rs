//! HTTP refusals: the status, the `WWW-Authenticate` / `Retry-After` / RateLimit headers, and a
//! JSON-RPC error body (MCP clients show a JSON-RPC body's message; a plain-text body is lost).

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use super::HttpConfig;
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

/// Quotes a value for an auth-param: no quotes or backslashes, printable ASCII only.
fn param(value: &str) -> String {
    value
        .chars()
        .map(|c| {
            if c == '"' || c == '\\' || !(' '..='~').contains(&c) {
                '\''
            } else {
                c
            }
        })
        .collect()
}

/// The `WWW-Authenticate` challenge for an error.
fn challenge(config: &HttpConfig, error: &str, description: &str, scope: Option<&str>) -> String {
    let mut value = format!(
        "Bearer realm=\"docward\", error=\"{error}\", error_description=\"{}\"",
        param(description)
    );
    if let Some(scope) = scope {
        value.push_str(&format!(", scope=\"{scope}\""));
    }
    value.push_str(&format!(
        ", resource_metadata=\"{}\"",
        config.resource_metadata_url()
    ));
    value
}

/// A refusal from the gate as its HTTP response: 401, 403 or 429 (500 for internal failures).
pub(crate) fn refusal(refusal: &Refusal, id: Option<Value>, config: &HttpConfig) -> Response {
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
        code if code.is_invalid_token() => {
            Some(challenge(config, "invalid_token", &refusal.message, None))
        }
        Code::MissingScope => Some(challenge(
            config,
            "insufficient_scope",
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
        if let Some(limit) = refusal.limit {
            headers.insert("ratelimit-limit", HeaderValue::from(limit));
        }
        headers.insert("ratelimit-remaining", HeaderValue::from(0u64));
        headers.insert("ratelimit-reset", HeaderValue::from(secs));
    }
    response
}

/// 400 for a key sent in the URL, where it would leak into logs and browser history.
pub(crate) fn key_in_url(config: &HttpConfig) -> Response {
    let message = "API keys in the URL are refused (URLs end up in logs and histories): send the key as `Authorization: Bearer <key>`";
    let mut response = jsonrpc_error(
        StatusCode::BAD_REQUEST,
        None,
        -32600,
        message,
        json!({ "code": "key_in_url" }),
    );
    if let Ok(value) = HeaderValue::from_str(&challenge(config, "invalid_request", message, None)) {
        response
            .headers_mut()
            .insert(header::WWW_AUTHENTICATE, value);
    }
    response
}

/// 400 for a request with more than one `Authorization` header: docward does not guess which
/// one was meant.
pub(crate) fn duplicate_authorization(config: &HttpConfig) -> Response {
    let message = "the request carries more than one Authorization header: send exactly one, `Authorization: Bearer <key>`";
    let mut response = jsonrpc_error(
        StatusCode::BAD_REQUEST,
        None,
        -32600,
        message,
        json!({ "code": "duplicate_authorization" }),
    );
    if let Ok(value) = HeaderValue::from_str(&challenge(config, "invalid_request", message, None)) {
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
            param(host),
            param(host)
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
            param(origin),
            param(origin)
        ),
        json!({ "code": "origin_not_allowed" }),
    )
}
