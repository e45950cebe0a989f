//! Checks in front of every console route: an allowed `Host` (DNS rebinding), the console's own
//! `Origin` on every POST (cross-site requests), and the headers every answer carries.

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::header::{
    CACHE_CONTROL, CONTENT_SECURITY_POLICY, HOST, ORIGIN, REFERRER_POLICY, X_CONTENT_TYPE_OPTIONS,
    X_FRAME_OPTIONS,
};
use axum::http::{HeaderValue, Method};
use axum::middleware::Next;
use axum::response::Response;

use super::{ConsoleState, pages};
use crate::server::http::guard::host_allowed;

const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; \
                   form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

/// Refuses a foreign Host or a POST from another origin, and adds the console's headers.
pub(crate) async fn check(
    State(state): State<Arc<ConsoleState>>,
    request: Request,
    next: Next,
) -> Response {
    let host = request
        .headers()
        .get(HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or("");
    let mut response = if !host_allowed(host, &state.config.allowed_hosts) {
        pages::refused_host()
    } else if request.method() != Method::GET && request.method() != Method::HEAD {
        let origin = request
            .headers()
            .get(ORIGIN)
            .and_then(|o| o.to_str().ok())
            .map(|o| o.trim_end_matches('/'));
        match origin {
            Some(origin) if origin_allowed(origin, &state) => next.run(request).await,
            _ => pages::refused_origin(),
        }
    } else {
        next.run(request).await
    };
    let headers = response.headers_mut();
    headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(CONTENT_SECURITY_POLICY, HeaderValue::from_static(CSP));
    // Not `no-referrer`: under it Chromium sends `Origin: null` on the console's own forms.
    // `same-origin` still keeps every console URL out of requests to other sites.
    headers.insert(REFERRER_POLICY, HeaderValue::from_static("same-origin"));
    headers.insert(X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.insert(X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    response
}

/// The console's own origin (`scheme://host[:port]` of the public URL) or a listed one.
fn origin_allowed(origin: &str, state: &ConsoleState) -> bool {
    let own = own_origin(&state.config.public_url);
    origin.eq_ignore_ascii_case(&own)
        || state
            .config
            .allowed_origins
            .iter()
            .any(|o| o.trim_end_matches('/').eq_ignore_ascii_case(origin))
}

fn own_origin(public_url: &str) -> String {
    match public_url.parse::<axum::http::Uri>() {
        Ok(uri) => match (uri.scheme_str(), uri.authority()) {
            (Some(scheme), Some(authority)) => format!("{scheme}://{authority}"),
            _ => public_url.to_owned(),
        },
        Err(_) => public_url.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_own_origin_drops_the_path() {
        assert_eq!(own_origin("http://127.0.0.1:8700"), "http://127.0.0.1:8700");
        assert_eq!(
            own_origin("https://docs.example.com/base"),
            "https://docs.example.com"
        );
    }

    #[test]
    fn hosts_are_matched_by_name_and_optional_port() {
        let allowed = vec!["127.0.0.1".to_owned(), "docs.example.com:443".to_owned()];
        assert!(host_allowed("127.0.0.1:9000", &allowed));
        assert!(host_allowed("docs.example.com:443", &allowed));
        assert!(!host_allowed("docs.example.com:444", &allowed));
        assert!(!host_allowed("evil.example:9000", &allowed));
        assert!(!host_allowed("", &allowed));
    }
}
