//! The web console at `/console`: keys, repos, usage and plans for people, in server-rendered
//! HTML (askama templates compiled into the binary, one small CSS file and a few lines of JS for
//! the copy button, no CDN).
//!
//! Sign-in has no password: `docward console link` stores the blake3 hash of a one-time secret
//! and prints a URL holding it. Its first visit takes the link out of the store and sets a session
//! cookie (HttpOnly, SameSite=Strict, Path=/console, Secure behind https), whose secret is also
//! kept only as a hash. An operator link sees every tenant, a tenant link only its own. Every form
//! carries a CSRF token derived from the session secret, every POST must come from the console's
//! own origin, and every page is `Cache-Control: no-store`. API keys never sign in here.

// Handlers return the page to answer with as their `Err` (an axum `Response`, 128 bytes): it is
// built once per request on a refusal path, so boxing it would only add noise.
#![allow(clippy::result_large_err)]

mod assets;
mod guard;
mod keys;
mod pages;
mod plan;
mod repos;
mod session;
mod snippets;
mod usage;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use axum::Router;
use axum::middleware;
use axum::response::Redirect;
use axum::routing::{get, post};
use tokio_util::sync::CancellationToken;

use super::ServerState;

pub use session::{COOKIE_NAME, DEFAULT_LINK_TTL_SECS, SESSION_TTL_SECS, SignInLink, create_link};

/// How client snippets on the show-once page reach docward.
#[derive(Debug, Clone)]
pub enum SnippetTarget {
    /// A `docward serve --http` at this MCP URL.
    Http(String),
    /// `docward serve --stdio` launched by the client: this executable on this data dir.
    Stdio {
        /// The docward executable.
        exe: PathBuf,
        /// The data dir.
        data_dir: PathBuf,
    },
}

/// Where the console is reached and what it accepts.
#[derive(Debug, Clone)]
pub struct ConsoleConfig {
    /// The URL people open, without a trailing slash (its scheme decides the Secure flag).
    pub public_url: String,
    /// Host headers accepted (`host` or `host:port`).
    pub allowed_hosts: Vec<String>,
    /// Origins accepted on POST besides the public URL's own.
    pub allowed_origins: Vec<String>,
    /// What the client snippets point at.
    pub snippets: SnippetTarget,
}

/// What the console's handlers share.
pub(crate) struct ConsoleState {
    pub(crate) server: Arc<ServerState>,
    pub(crate) config: ConsoleConfig,
}

impl ConsoleState {
    fn store(&self) -> &dyn crate::store::KeyStore {
        self.server.gate.store().as_ref()
    }

    /// Whether cookies must be marked Secure.
    fn secure(&self) -> bool {
        self.config.public_url.starts_with("https://")
    }
}

/// The console's routes, all under `/console`, with their own host, origin and header checks.
pub fn router(server: Arc<ServerState>, config: ConsoleConfig) -> Router {
    let state = Arc::new(ConsoleState { server, config });
    Router::new()
        .route("/console", get(|| async { Redirect::to("/console/keys") }))
        .route("/console/", get(|| async { Redirect::to("/console/keys") }))
        .route("/console/link/{secret}", get(session::redeem))
        .route("/console/logout", post(session::logout))
        .route("/console/assets/{name}", get(assets::serve))
        .route("/console/keys", get(keys::list).post(keys::create))
        .route("/console/keys/{id}/rotate", post(keys::rotate))
        .route(
            "/console/keys/{id}/revoke",
            get(keys::confirm_revoke).post(keys::revoke),
        )
        .route("/console/repos", get(repos::list).post(repos::add))
        .route("/console/repos/sync", post(repos::sync))
        .route("/console/usage", get(usage::page))
        .route("/console/plan", get(plan::show).post(plan::change))
        .route("/console/{*rest}", get(|| async { pages::not_found() }))
        // route_layer, not layer: merged into the HTTP app, a layer would also wrap the app's
        // fallback, and what does not exist would get the console's 403 instead of a 404.
        .route_layer(middleware::from_fn_with_state(
            Arc::clone(&state),
            guard::check,
        ))
        .with_state(state)
}

/// Serves only the console on `listen` until `shutdown` is cancelled (`docward console`).
/// Returns once the listener is bound, with the address it got, and a task to await.
pub async fn bind_console(
    server: Arc<ServerState>,
    listen: SocketAddr,
    public_url: Option<String>,
    snippets: SnippetTarget,
    shutdown: CancellationToken,
) -> anyhow::Result<(String, tokio::task::JoinHandle<std::io::Result<()>>)> {
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .map_err(|e| anyhow::anyhow!("could not listen on {listen}: {e}"))?;
    let local = listener.local_addr()?;
    let public_url = public_url
        .map(|u| u.trim_end_matches('/').to_owned())
        .unwrap_or_else(|| format!("http://{local}"));
    let mut allowed_hosts = vec![
        "localhost".to_owned(),
        "127.0.0.1".to_owned(),
        "::1".to_owned(),
        local.ip().to_string(),
    ];
    if let Ok(uri) = public_url.parse::<axum::http::Uri>()
        && let Some(host) = uri.host()
    {
        allowed_hosts.push(host.trim_matches(['[', ']']).to_owned());
    }
    let config = ConsoleConfig {
        public_url: public_url.clone(),
        allowed_hosts,
        allowed_origins: Vec::new(),
        snippets,
    };
    let app = router(server, config);
    let task = tokio::spawn(async move {
        axum::serve(listener, app)
            .with_graceful_shutdown(async move { shutdown.cancelled().await })
            .await
    });
    Ok((public_url, task))
}
