//! How the HTTP transports read a request, on arbitrary bytes split at the first two NULs into
//! an `Authorization` header value, a request target and a body.
//!
//! Checks: no panic; `bearer` returns the trimmed text after a case-insensitive `Bearer `;
//! `percent_decode` never grows its input and leaves text without `%` or `+` alone;
//! `key_in_url` spots a raw token prefix or a key-like parameter name; `query_session` returns a
//! real `sessionId` pair; `peek` finds nothing in a body that is not JSON, and whenever the body
//! decodes as a message, `peek` (which the auth layer charges and scopes by) sees the same
//! method and tool name as the decoder the session gets it from; heap at its peak is linear in
//! the body.

#![no_main]

mod peak_alloc;

use axum::http::{HeaderMap, HeaderValue, Uri, header};
use docward::server::http::fuzzing::{
    KEY_PARAMETER_NAMES, bearer, decode_message, key_in_url, peek, percent_decode, query_session,
};
use libfuzzer_sys::fuzz_target;
use peak_alloc::{PeakAlloc, assert_linear, peak_during};
use serde_json::Value;

#[global_allocator]
static ALLOC: PeakAlloc = PeakAlloc;

/// Heap per body byte a parsed message may take (JSON values are larger than their text).
const HEAP_PER_BYTE: usize = 128;
/// Fixed heap for small bodies.
const HEAP_FIXED: usize = 64 * 1024;

fuzz_target!(|data: &[u8]| {
    let mut parts = data.splitn(3, |&b| b == 0);
    let authorization = parts.next().unwrap_or_default();
    let target = parts.next().unwrap_or_default();
    let body = parts.next().unwrap_or_default();
    check_bearer(authorization);
    check_target(target);
    check_body(body);
});

fn check_bearer(value: &[u8]) {
    let Ok(value) = HeaderValue::from_bytes(value) else {
        return;
    };
    let mut headers = HeaderMap::new();
    headers.insert(header::AUTHORIZATION, value.clone());
    let Some(token) = bearer(&headers) else {
        return;
    };
    let text = value
        .to_str()
        .expect("bearer only reads visible ASCII")
        .trim();
    assert!(
        text.get(..7)
            .is_some_and(|s| s.eq_ignore_ascii_case("bearer ")),
        "{text:?}"
    );
    assert_eq!(token, text[7..].trim());
}

fn check_target(target: &[u8]) {
    let Ok(uri) = Uri::try_from(target) else {
        return;
    };
    let flagged = key_in_url(&uri);
    for part in [Some(uri.path()), uri.query()].into_iter().flatten() {
        let decoded = percent_decode(part);
        assert!(
            decoded.len() <= part.len(),
            "{part:?} decoded to {decoded:?}"
        );
        if !part.contains(['%', '+']) {
            assert_eq!(decoded, part);
        }
        if part.contains("dw_live_") || part.contains("dw_test_") {
            assert!(flagged, "token prefix in {uri} not spotted");
        }
    }
    let pairs: Vec<(&str, &str)> = uri
        .query()
        .unwrap_or_default()
        .split('&')
        .map(|pair| pair.split_once('=').unwrap_or((pair, "")))
        .collect();
    if pairs.iter().any(|(name, _)| {
        KEY_PARAMETER_NAMES
            .iter()
            .any(|k| k.eq_ignore_ascii_case(name))
    }) {
        assert!(flagged, "key-like parameter in {uri} not spotted");
    }
    if let Some(session) = query_session(&uri) {
        assert!(pairs.contains(&("sessionId", session.as_str())), "{uri}");
    }
}

fn check_body(body: &[u8]) {
    let ((seen, decoded), peak) = peak_during(|| (peek(body), decode_message(body)));
    assert_linear("body read", peak, body.len(), HEAP_PER_BYTE, HEAP_FIXED);

    if serde_json::from_slice::<Value>(body).is_err() {
        assert!(seen.id.is_none() && seen.method.is_none() && seen.tool_call.is_none());
        assert!(!seen.batch_with_tool_call);
    }
    if seen.tool_call.is_some() {
        assert_eq!(seen.method.as_deref(), Some("tools/call"));
    }
    if seen.batch_with_tool_call {
        assert!(seen.method.is_none());
    }

    let Ok(message) = decoded else {
        return;
    };
    let message = serde_json::to_value(&message).expect("a decoded message serialises");
    let method = message.get("method").and_then(Value::as_str);
    assert_eq!(
        seen.method.as_deref(),
        method,
        "the auth layer and the session see different methods in {}",
        String::from_utf8_lossy(body)
    );
    if method == Some("tools/call") {
        let name = message.pointer("/params/name").and_then(Value::as_str);
        assert_eq!(
            seen.tool_call.as_deref(),
            Some(name.unwrap_or_default()),
            "the auth layer and the session see different tools in {}",
            String::from_utf8_lossy(body)
        );
    }
    if message.get("id").is_some() {
        assert!(seen.id.is_some());
    }
}
