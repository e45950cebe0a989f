//! MCP over HTTP: streamable HTTP at `/mcp` (rmcp's service) and the legacy HTTP+SSE transport
//! (`GET /sse`, `POST /message`) for older clients, behind one auth layer and one tool
//! implementation. `/healthz` and the RFC 9728 metadata stay outside the auth layer, and so does
//! the web console at `/console` (its own session cookies; see `server::console`).

mod auth;
pub(crate) mod guard;
mod health;
mod listener;
mod metadata;
mod refusal_stream;
mod reply;
mod sessions;
mod sse;

use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use axum::middleware;
use axum::routing::{get, post};
use rmcp::transport::StreamableHttpServerConfig;
use rmcp::transport::streamable_http_server::StreamableHttpService;
use rmcp::transport::streamable_http_server::session::local::LocalSessionManager;
use tokio_util::sync::CancellationToken;

pub use auth::HttpAuth;
pub(crate) use auth::{bearer, key_in_url};
pub use listener::ConnectionLimits;
pub use sessions::DEFAULT_SESSION_IDLE;

/// The request-reading helpers of the auth layer and the legacy message endpoint, exposed only
/// for the fuzz targets in `fuzz/`: not a supported API.
#[doc(hidden)]
pub mod fuzzing {
    pub use super::auth::{
        KEY_PARAMETER_NAMES, Peek, bearer, key_in_url, peek, percent_decode, query_session,
    };
    pub use super::sse::decode_message;
}

use super::{Credential, DocServer, ServerState};
use sessions::SessionKeys;

/// How an HTTP server is reached and protected.
#[derive(Debug, Clone)]
pub struct HttpConfig {
    /// Where to listen.
    pub listen: SocketAddr,
    /// The URL clients use to reach the server (for metadata and `WWW-Authenticate`), without a
    /// trailing slash, e.g. `https://docs.example.com`. Defaults to `http://<listen>`.
    pub public_url: String,
    /// Host headers accepted on MCP routes (`host` or `host:port`); empty allows any host.
    pub allowed_hosts: Vec<String>,
    /// Origin headers accepted on MCP routes (`scheme://host[:port]`); empty accepts any origin
    /// whose host is an allowed host.
    pub allowed_origins: Vec<String>,
    /// Connection cap, header and body timeouts, shutdown deadline.
    pub limits: ConnectionLimits,
    /// How long an unused streamable HTTP session lives (rmcp ends it; docward forgets its key).
    pub session_idle_timeout: std::time::Duration,
}

impl HttpConfig {
    /// A config for `listen` with defaults: loopback hosts plus the public URL's host.
    pub fn new(listen: SocketAddr, public_url: Option<String>) -> HttpConfig {
        let public_url = public_url
            .map(|u| u.trim_end_matches('/').to_owned())
            .unwrap_or_else(|| format!("http://{listen}"));
        let mut allowed_hosts: Vec<String> = ["localhost", "127.0.0.1", "::1"]
            .map(str::to_owned)
            .to_vec();
        if let Ok(uri) = public_url.parse::<axum::http::Uri>()
            && let Some(host) = uri.host()
        {
            allowed_hosts.push(host.trim_matches(['[', ']']).to_owned());
        }
        allowed_hosts.push(listen.ip().to_string());
        allowed_hosts.sort();
        allowed_hosts.dedup();
        HttpConfig {
            listen,
            public_url,
            allowed_hosts,
            allowed_origins: Vec::new(),
            limits: ConnectionLimits::default(),
            session_idle_timeout: DEFAULT_SESSION_IDLE,
        }
    }

    /// The URL of the protected-resource metadata.
    pub fn resource_metadata_url(&self) -> String {
        format!("{}/.well-known/oauth-protected-resource", self.public_url)
    }

    /// The MCP endpoint, the resource that keys grant access to.
    pub fn resource_url(&self) -> String {
        format!("{}/mcp", self.public_url)
    }
}

/// What the HTTP handlers share.
pub(crate) struct HttpState {
    pub(crate) server: Arc<ServerState>,
    pub(crate) config: HttpConfig,
    pub(crate) sessions: SessionKeys,
    /// rmcp's streamable HTTP sessions: the authority on which of them still exist.
    pub(crate) rmcp_sessions: Arc<LocalSessionManager>,
    pub(crate) sse: sse::SseSessions,
    /// Event streams opened only to tell a refused legacy SSE client why.
    pub(crate) refusal_streams: refusal_stream::RefusalStreams,
    pub(crate) probe: health::StoreProbe,
    pub(crate) shutdown: CancellationToken,
}

/// Builds the HTTP application: MCP routes behind the guard and the auth layer, and the open
/// `/healthz` and metadata routes.
pub fn app(server: Arc<ServerState>, config: HttpConfig, shutdown: CancellationToken) -> Router {
    app_and_state(server, config, shutdown).0
}

fn app_and_state(
    server: Arc<ServerState>,
    config: HttpConfig,
    shutdown: CancellationToken,
) -> (Router, Arc<HttpState>) {
    // rmcp ends a streamable session unused for this long; docward forgets its key with it.
    let mut rmcp_sessions = LocalSessionManager::default();
    rmcp_sessions.session_config.keep_alive = Some(config.session_idle_timeout);
    let rmcp_sessions = Arc::new(rmcp_sessions);
    let state = Arc::new(HttpState {
        server: Arc::clone(&server),
        sessions: SessionKeys::new(config.session_idle_timeout),
        rmcp_sessions: Arc::clone(&rmcp_sessions),
        sse: sse::SseSessions::default(),
        refusal_streams: refusal_stream::RefusalStreams::default(),
        probe: health::StoreProbe::default(),
        shutdown: shutdown.clone(),
        config: config.clone(),
    });
    let factory_state = Arc::clone(&server);
    let streamable = StreamableHttpService::new(
        move || Ok(DocServer::new(Arc::clone(&factory_state), Credential::Http)),
        rmcp_sessions,
        StreamableHttpServerConfig::default()
            .with_legacy_session_mode(true)
            .with_allowed_hosts(config.allowed_hosts.clone())
            .with_cancellation_token(shutdown.child_token()),
    );
    let mcp = Router::new()
        .nest_service("/mcp", streamable)
        .route("/sse", get(sse::open))
        .route("/message", post(sse::message))
        // route_layer, not layer: the auth layer covers only these routes, so that what does
        // not exist (`/register`, OAuth discovery documents) is a 404 and not a 401.
        .route_layer(middleware::from_fn_with_state(
            Arc::clone(&state),
            auth::require_key,
        ))
        .route_layer(middleware::from_fn_with_state(
            Arc::clone(&state),
            guard::check_host_and_origin,
        ));
    let app = Router::new()
        .merge(mcp)
        .nest(
            "/v1",
            super::rest::router(Arc::clone(&server), config.limits.body_timeout).layer(
                middleware::from_fn_with_state(Arc::clone(&state), guard::check_host_and_origin),
            ),
        )
        .route("/healthz", get(health::healthz))
        .route(
            "/.well-known/oauth-protected-resource",
            get(metadata::origin),
        )
        .route(
            "/.well-known/oauth-protected-resource/mcp",
            get(metadata::streamable),
        )
        .route(
            "/.well-known/oauth-protected-resource/sse",
            get(metadata::legacy_sse),
        )
        .with_state(Arc::clone(&state))
        .merge(super::console::router(
            Arc::clone(&server),
            super::console::ConsoleConfig {
                public_url: config.public_url.clone(),
                allowed_hosts: config.allowed_hosts.clone(),
                allowed_origins: config.allowed_origins.clone(),
                snippets: super::console::SnippetTarget::Http(config.resource_url()),
            },
        ));
    (app, state)
}

/// Serves HTTP until `shutdown` is cancelled (Ctrl-C or SIGTERM in the CLI); in-flight requests
/// get up to the shutdown deadline to finish.
pub async fn serve_http(
    server: Arc<ServerState>,
    mut config: HttpConfig,
    shutdown: CancellationToken,
) -> anyhow::Result<()> {
    let listener = tokio::net::TcpListener::bind(config.listen)
        .await
        .map_err(|e| anyhow::anyhow!("could not listen on {}: {e}", config.listen))?;
    let local = listener.local_addr()?;
    if config.public_url == format!("http://{}", config.listen) {
        // Port 0 picks a free port: the default public URL names the real one.
        config.public_url = format!("http://{local}");
    }
    tracing::info!(
        listen = %local,
        env = %server.gate.env(),
        mcp = %format!("{}/mcp", config.public_url),
        "docward serving over HTTP (streamable HTTP at /mcp, legacy SSE at /sse)"
    );
    let limits = config.limits;
    let (app, state) = app_and_state(server, config, shutdown.clone());
    tokio::spawn(forget_ended_sessions(state, shutdown.clone()));
    listener::serve(listener, app, limits, shutdown).await;
    Ok(())
}

/// Now and then forgets the keys of sessions rmcp ended, so that the bindings of clients that
/// never come back do not pile up.
async fn forget_ended_sessions(state: Arc<HttpState>, shutdown: CancellationToken) {
    let every = state.config.session_idle_timeout.clamp(
        std::time::Duration::from_secs(1),
        std::time::Duration::from_secs(60),
    );
    loop {
        tokio::select! {
            _ = tokio::time::sleep(every) => {}
            _ = shutdown.cancelled() => return,
        }
        state
            .sessions
            .forget_ended(&state.rmcp_sessions, None)
            .await;
    }
}
