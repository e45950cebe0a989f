//! MCP over stdio: what Claude Desktop, VS Code, Cursor, Windsurf and Zed launch.

use std::sync::Arc;

use rmcp::transport::async_rw::AsyncRwTransport;
use rmcp::{RoleServer, ServiceExt};
use tokio::io::{AsyncRead, AsyncWrite};

use super::{Credential, DocServer, ServerState, stdio_framing};
use crate::clock;

/// Bytes buffered between the framing and rmcp in each direction.
const PIPE_BYTES: usize = 64 * 1024;

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
    // stdin → framing → rmcp → framing → stdout: lines that are not JSON get a parse error.
    let (to_rmcp, rmcp_input) = tokio::io::duplex(PIPE_BYTES);
    let (rmcp_output, from_rmcp) = tokio::io::duplex(PIPE_BYTES);
    let (errors, error_replies) = tokio::sync::mpsc::channel(16);
    let input = tokio::spawn(stdio_framing::pump_input(
        tokio::io::stdin(),
        to_rmcp,
        errors,
    ));
    let output = tokio::spawn(stdio_framing::pump_output(
        from_rmcp,
        tokio::io::stdout(),
        error_replies,
    ));
    let running = server
        .serve(line_transport(rmcp_input, rmcp_output))
        .await?;
    running.waiting().await?;
    input.abort();
    let _ = output.await;
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
