//! Checks the `--url` of `docward config`: a full http(s) URL with no key in it. The key goes
//! only in the `Authorization` header, and a URL that carries one is refused by the server too.

use anyhow::{Result, bail};
use axum::http::Uri;

use docward::server::http::fuzzing::key_in_url;

/// What was wrong with a URL, and how the person fixes it.
fn example(client: &str) -> String {
    format!("`docward config {client} --url https://docs.example.com/mcp`")
}

/// Accepts `url` when it is an absolute `http://` or `https://` URL with a host and nothing
/// that looks like a key (userinfo, a key-like query parameter, a docward token anywhere).
/// Returns a warning to print when the URL is plain HTTP to a host other than this machine.
/// Errors never repeat the URL, which may hold a secret.
pub fn check(url: &str, client: &str) -> Result<Option<String>> {
    let url = url.trim();
    let scheme_end = url.find("://");
    let scheme = scheme_end.map(|i| url[..i].to_ascii_lowercase());
    match scheme.as_deref() {
        Some("http" | "https") => {}
        Some(other) => bail!(
            "--url must start with https:// or http://, not {other}://; for example {}",
            example(client)
        ),
        None => bail!(
            "--url needs a scheme: give the full URL of the server's MCP endpoint, starting with https:// (or http:// on this machine), for example {}",
            example(client)
        ),
    }
    let rest = &url[scheme_end.map_or(0, |i| i + 3)..];
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    if authority.contains('@') {
        bail!(
            "--url must not carry credentials before the host (user:key@host): the key goes in the Authorization header, which the snippet sets for you; give the URL without them, for example {}. If that was a real key, it may now be in your shell history: replace it with `docward key rotate ID`",
            example(client)
        );
    }
    let uri: Uri = match url.parse() {
        Ok(uri) => uri,
        Err(_) => bail!("--url is not a valid URL; for example {}", example(client)),
    };
    let Some(host) = uri.host().filter(|h| !h.is_empty()) else {
        bail!("--url has no host; for example {}", example(client));
    };
    if key_in_url(&uri) {
        bail!(
            "--url must not carry an API key (in its path or a query parameter such as ?api_key=): docward refuses keys in URLs, since they end up in logs and browser history; the key goes in the Authorization header, which the snippet sets for you. Give the URL without it, for example {}. If that was a real key, it may now be in your shell history: replace it with `docward key rotate ID`",
            example(client)
        );
    }
    let loopback = matches!(host, "localhost" | "127.0.0.1" | "[::1]" | "::1");
    Ok((uri.scheme_str() == Some("http") && !loopback).then(|| {
        format!(
            "warning: {host} is reached over plain http://, so the key crosses the network in clear; put the server behind https:// (e.g. a reverse proxy) unless this network is private"
        )
    }))
}

#[cfg(test)]
mod tests {
    use super::check;

    #[test]
    fn accepts_full_urls_and_warns_on_remote_plain_http() {
        assert_eq!(
            check("https://docs.example.com/mcp", "cursor").unwrap(),
            None
        );
        assert_eq!(check("http://127.0.0.1:8700/mcp", "cursor").unwrap(), None);
        assert_eq!(check("http://localhost:8700/sse", "zed").unwrap(), None);
        let warning = check("http://docs.internal:8700/mcp", "cursor").unwrap();
        assert!(warning.unwrap().contains("in clear"));
    }

    #[test]
    fn refuses_missing_or_odd_schemes() {
        for url in [
            "docs.example.com/mcp",
            "localhost:8700/mcp",
            "ftp://x/mcp",
            "",
        ] {
            let err = check(url, "cursor").unwrap_err().to_string();
            assert!(err.contains("https://"), "{url}: {err}");
            assert!(err.ends_with('`'), "{url}: {err}");
        }
    }

    #[test]
    fn refuses_keys_without_repeating_them() {
        let token = "dw_live_secretsecretsecret";
        for url in [
            format!("https://{token}@docs.example.com/mcp"),
            format!("https://user:{token}@docs.example.com/mcp"),
            format!("https://docs.example.com/mcp?api_key={token}"),
            "https://docs.example.com/mcp?token=abc".to_owned(),
            format!("https://docs.example.com/{token}/mcp"),
        ] {
            let err = check(&url, "vscode").unwrap_err().to_string();
            assert!(!err.contains("secret"), "{err}");
            assert!(err.contains("Authorization header"), "{url}: {err}");
        }
    }
}
