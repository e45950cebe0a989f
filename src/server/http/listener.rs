//! The accept loop: one hyper HTTP/1 connection per socket, at most
//! [`ConnectionLimits::max_connections`] at once, each with a header read timeout, and a
//! shutdown that lets in-flight requests finish for a bounded time. `axum::serve` offers none
//! of these limits.

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::Router;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;

/// What keeps slow, idle or endless clients from holding the server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConnectionLimits {
    /// Open connections at most; more are answered 503 and closed at once.
    pub max_connections: usize,
    /// How long a client may take to send a request's headers (also the idle time allowed
    /// between two requests on one connection).
    pub header_timeout: Duration,
    /// How long a client may take to send a request's body.
    pub body_timeout: Duration,
    /// After SIGTERM, how long in-flight requests may run before the server exits anyway.
    pub shutdown_deadline: Duration,
}

impl Default for ConnectionLimits {
    fn default() -> Self {
        ConnectionLimits {
            max_connections: 1024,
            header_timeout: Duration::from_secs(10),
            body_timeout: Duration::from_secs(30),
            shutdown_deadline: Duration::from_secs(10),
        }
    }
}

/// A pause after a failed accept (for example out of file descriptors), so that the loop does
/// not spin.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(50);

/// Serves `app` on `listener` until `shutdown` is cancelled, then waits for open connections
/// for at most the shutdown deadline.
pub(crate) async fn serve(
    listener: TcpListener,
    app: Router,
    limits: ConnectionLimits,
    shutdown: CancellationToken,
) {
    let max = limits.max_connections.clamp(1, u32::MAX as usize);
    let slots = Arc::new(Semaphore::new(max));
    let busy = busy_response(max);
    let mut http = http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(limits.header_timeout);
    let mut refused = Refusals::default();
    loop {
        let stream = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => stream,
                Err(e) => {
                    tracing::warn!("could not accept a connection: {e}");
                    tokio::time::sleep(ACCEPT_BACKOFF).await;
                    continue;
                }
            },
            _ = shutdown.cancelled() => break,
        };
        let Ok(slot) = Arc::clone(&slots).try_acquire_owned() else {
            refuse(stream, &busy);
            refused.count(max);
            continue;
        };
        // Responses go out in several small writes; without TCP_NODELAY, Nagle's algorithm and
        // the client's delayed ACK hold each one back about 40 ms.
        let _ = stream.set_nodelay(true);
        let connection =
            http.serve_connection(TokioIo::new(stream), TowerToHyperService::new(app.clone()));
        let shutdown = shutdown.clone();
        tokio::spawn(async move {
            let _slot = slot;
            let mut connection = std::pin::pin!(connection);
            let ended = tokio::select! {
                ended = connection.as_mut() => ended,
                _ = shutdown.cancelled() => {
                    // Idle connections close now; a request in flight finishes first.
                    connection.as_mut().graceful_shutdown();
                    connection.await
                }
            };
            if let Err(e) = ended {
                tracing::debug!("connection ended: {e}");
            }
        });
    }
    drop(listener);
    // Every slot back means every connection closed.
    let all_closed = slots.acquire_many(max as u32);
    match tokio::time::timeout(limits.shutdown_deadline, all_closed).await {
        Ok(_) => tracing::info!("all connections closed"),
        Err(_) => tracing::warn!(
            open = max - slots.available_permits(),
            "connections still open {} s after the shutdown began: closing them",
            limits.shutdown_deadline.as_secs_f64()
        ),
    }
}

/// The answer to a connection over the cap: a JSON-RPC error that MCP clients show.
fn busy_response(max: usize) -> Vec<u8> {
    let body = serde_json::json!({
        "jsonrpc": "2.0",
        "id": null,
        "error": {
            "code": -32042,
            "message": format!("the server has {max} open connections, its limit: retry in a moment (the operator can raise `serve --max-connections`)"),
            "data": { "code": "too_many_connections" },
        },
    })
    .to_string();
    format!(
        "HTTP/1.1 503 Service Unavailable\r\ncontent-type: application/json\r\nretry-after: 1\r\nconnection: close\r\ncontent-length: {}\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

/// Answers a connection over the cap without waiting for it: one write straight to the
/// socket (tokio's `try_write` would skip it until the reactor has seen the socket writable),
/// which a fresh socket's buffer takes whole; then close.
fn refuse(stream: tokio::net::TcpStream, busy: &[u8]) {
    use std::io::Write;
    if let Ok(mut socket) = stream.into_std() {
        let _ = socket.write(busy);
    }
}

/// Connections refused at the cap (each answered with one write that fits in a fresh socket's
/// buffer, then closed), logged at most once a second.
#[derive(Default)]
struct Refusals {
    since_warning: u64,
    warned_at: Option<Instant>,
}

impl Refusals {
    fn count(&mut self, max: usize) {
        self.since_warning += 1;
        if self
            .warned_at
            .is_none_or(|at| at.elapsed() >= Duration::from_secs(1))
        {
            tracing::warn!(
                refused = self.since_warning,
                "refused connections: {max} are open, the limit (`serve --max-connections`)"
            );
            self.since_warning = 0;
            self.warned_at = Some(Instant::now());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_busy_answer_is_a_complete_http_response_with_a_jsonrpc_body() {
        let text = String::from_utf8(busy_response(20)).unwrap();
        let (head, body) = text.split_once("\r\n\r\n").unwrap();
        assert!(head.starts_with("HTTP/1.1 503 "), "{head}");
        assert!(
            head.contains(&format!("content-length: {}", body.len())),
            "{head}"
        );
        let body: serde_json::Value = serde_json::from_str(body).unwrap();
        assert_eq!(body["error"]["data"]["code"], "too_many_connections");
        assert!(body["error"]["message"].as_str().unwrap().contains("20"));
    }
}
