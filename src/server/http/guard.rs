//! Host and Origin checks on the MCP routes (DNS-rebinding protection).

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::header::{HOST, ORIGIN};
use axum::middleware::Next;
use axum::response::Response;

use super::HttpState;
use super::reply;

/// Refuses requests whose `Host` is not an allowed host, or whose `Origin` is not allowed.
pub(crate) async fn check_host_and_origin(
    State(state): State<Arc<HttpState>>,
    request: Request,
    next: Next,
) -> Response {
    let config = &state.config;
    let host = request
        .headers()
        .get(HOST)
        .and_then(|h| h.to_str().ok())
        .map(str::to_owned)
        .or_else(|| request.uri().authority().map(|a| a.to_string()));
    if !config.allowed_hosts.is_empty() {
        let allowed = host
            .as_deref()
            .is_some_and(|h| host_allowed(h, &config.allowed_hosts));
        if !allowed {
            return reply::forbidden_host(host.as_deref().unwrap_or("(none)"));
        }
    }
    if let Some(origin) = request.headers().get(ORIGIN).and_then(|o| o.to_str().ok()) {
        // A browser origin is accepted when its host is an allowed host, or when it is one of
        // the --allowed-origin values.
        let on_allowed_host = origin
            .parse::<axum::http::Uri>()
            .ok()
            .and_then(|u| u.authority().map(|a| a.to_string()))
            .is_some_and(|a| {
                config.allowed_hosts.is_empty() || host_allowed(&a, &config.allowed_hosts)
            });
        let listed = config
            .allowed_origins
            .iter()
            .any(|o| o.trim_end_matches('/').eq_ignore_ascii_case(origin));
        if !on_allowed_host && !listed {
            return reply::forbidden_origin(origin);
        }
    }
    next.run(request).await
}

/// Whether `host` (`name` or `name:port`) matches an entry (`name`: any port; `name:port`: that
/// port). An empty host matches nothing. The web console checks its hosts with it too.
pub(crate) fn host_allowed(host: &str, allowed: &[String]) -> bool {
    let (name, port) = split_host(host);
    !name.is_empty()
        && allowed.iter().any(|entry| {
            let (a_name, a_port) = split_host(entry);
            a_name.eq_ignore_ascii_case(name) && (a_port.is_none() || a_port == port)
        })
}

fn split_host(host: &str) -> (&str, Option<&str>) {
    let host = host.trim();
    if let Some(rest) = host.strip_prefix('[') {
        // [::1]:8700
        return match rest.split_once(']') {
            Some((name, tail)) => (name, tail.strip_prefix(':')),
            None => (rest, None),
        };
    }
    match host.rsplit_once(':') {
        Some((name, port)) if !name.contains(':') => (name, Some(port)),
        _ => (host, None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hosts_match_with_or_without_ports() {
        let allowed = vec![
            "localhost".to_owned(),
            "docs.example.com:443".to_owned(),
            "::1".to_owned(),
        ];
        assert!(host_allowed("localhost:8700", &allowed));
        assert!(host_allowed("LOCALHOST", &allowed));
        assert!(host_allowed("docs.example.com:443", &allowed));
        assert!(!host_allowed("docs.example.com:8443", &allowed));
        assert!(host_allowed("[::1]:8700", &allowed));
        assert!(!host_allowed("evil.example", &allowed));
    }
}
