//! MCP over stdio: what Claude Desktop, VS Code, Cursor, Windsurf and Zed launch.

use std::sync::Arc;

use rmcp::transport::async_rw::AsyncRwTransport;
use rmcp::{RoleServer, ServiceExt};
use tokio::io::{AsyncRead, AsyncWrite};

use super::{Credential, DocServer, ServerState};
use crate::clock;

/// A key that expires within this many seconds draws a warning when a session starts.
const EXPIRY_WARNING_SECS: i64 = 7 * 86_400;

/// Serves one MCP session on stdin/stdout until the client closes stdin.
///
/// A missing or unusable key does not stop the server: the client can then show the refusal
/// that every tool call returns.
pub async fn serve_stdio(state: Arc<ServerState>, key: Option<String>) -> anyhow::Result<()> {
    let now = clock::now();
    match state.gate.authenticate(key.as_deref(), now) {
        Ok(p) => {
            tracing::info!(
                tenant = %p.tenant,
                key = %p.key_display,
                env = %p.env,
                "docward serving over stdio"
            );
            if let Some(at) = p.expires_at.filter(|at| at - now <= EXPIRY_WARNING_SECS) {
                tracing::warn!(
                    key = %p.key_display,
                    "API key expires on {}: rotate it with `docward key rotate {}`",
                    clock::format_short(at),
                    p.key_id
                );
            }
        }
        Err(refusal) => tracing::error!(
            code = refusal.code.as_str(),
            "every tool call will be refused: {}",
            refusal.message
        ),
    }
    let server = DocServer::new(state, Credential::Fixed(key.map(Arc::from)));
    let (stdin, stdout) = rmcp::transport::stdio();
    let running = server.serve(line_transport(stdin, stdout)).await?;
    running.waiting().await?;
    Ok(())
}

/// The stdio framing: one JSON-RPC message per `\n`-terminated line, with rmcp's line cap
/// ([`rmcp::transport::async_rw::DEFAULT_MAX_LINE_LENGTH`]).
pub fn line_transport<R, W>(read: R, write: W) -> AsyncRwTransport<RoleServer, R, W>
where
    R: AsyncRead + Send + Unpin,
    W: AsyncWrite + Send + Unpin + 'static,
{
    AsyncRwTransport::new_server(read, write)
}
