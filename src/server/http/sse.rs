//! The legacy HTTP+SSE transport (protocol 2024-11-05), which rmcp no longer ships: `GET /sse`
//! opens an event stream whose first event names the POST endpoint; `POST /message?sessionId=…`
//! carries each client message. Both sit behind the same auth layer as `/mcp`, and the same
//! [`DocServer`] answers.

use std::collections::HashMap;
use std::convert::Infallible;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use futures::Stream;
use rmcp::model::{ClientJsonRpcMessage, GetExtensions};
use rmcp::service::{RxJsonRpcMessage, TxJsonRpcMessage};
use rmcp::transport::Transport;
use rmcp::{RoleServer, ServiceExt};
use tokio::sync::mpsc;

use super::auth::HttpAuth;
use super::{HttpState, reply};
use crate::server::{Credential, DocServer};
use crate::token;

/// Messages waiting for a session's server, and for its client.
const CHANNEL_DEPTH: usize = 64;

/// Open legacy SSE sessions: id → the channel into the session's server.
#[derive(Default)]
pub(crate) struct SseSessions {
    inbound: Mutex<HashMap<String, mpsc::Sender<ClientJsonRpcMessage>>>,
}

impl SseSessions {
    fn insert(&self, id: &str, sender: mpsc::Sender<ClientJsonRpcMessage>) {
        self.inbound
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(id.to_owned(), sender);
    }

    fn sender(&self, id: &str) -> Option<mpsc::Sender<ClientJsonRpcMessage>> {
        self.inbound
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(id)
            .cloned()
    }

    fn remove(&self, id: &str) {
        self.inbound
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(id);
    }
}

/// rmcp transport over two channels: client messages in, server messages out to the stream.
struct ChannelTransport {
    inbound: mpsc::Receiver<ClientJsonRpcMessage>,
    outbound: mpsc::Sender<TxJsonRpcMessage<RoleServer>>,
}

impl Transport<RoleServer> for ChannelTransport {
    type Error = std::io::Error;

    fn send(
        &mut self,
        item: TxJsonRpcMessage<RoleServer>,
    ) -> impl Future<Output = Result<(), Self::Error>> + Send + 'static {
        let outbound = self.outbound.clone();
        async move {
            outbound.send(item).await.map_err(|_| {
                std::io::Error::new(std::io::ErrorKind::BrokenPipe, "the SSE stream was closed")
            })
        }
    }

    fn receive(&mut self) -> impl Future<Output = Option<RxJsonRpcMessage<RoleServer>>> + Send {
        self.inbound.recv()
    }

    async fn close(&mut self) -> Result<(), Self::Error> {
        self.inbound.close();
        Ok(())
    }
}

/// Ends a session's bookkeeping when its event stream is dropped (the client went away).
struct SessionGuard {
    state: Arc<HttpState>,
    id: String,
}

impl Drop for SessionGuard {
    fn drop(&mut self) {
        self.state.sse.remove(&self.id);
        self.state.sessions.forget(&self.id);
        tracing::debug!(session = %self.id, "legacy SSE session closed");
    }
}

/// `GET /sse`: opens a session and its event stream.
pub(crate) async fn open(State(state): State<Arc<HttpState>>, request: Request) -> Response {
    let key_id = match request.extensions().get::<HttpAuth>() {
        Some(HttpAuth::Authenticated(p)) => p.key_id.clone(),
        Some(HttpAuth::Admitted(a)) => a.principal.key_id.clone(),
        _ => return reply::bad_request("not authenticated"),
    };
    let Ok(id) = token::random_base62(24) else {
        return reply::bad_request("could not create a session id");
    };
    let (inbound_tx, inbound_rx) = mpsc::channel(CHANNEL_DEPTH);
    let (outbound_tx, outbound_rx) = mpsc::channel(CHANNEL_DEPTH);
    state.sse.insert(&id, inbound_tx);
    state
        .sessions
        .bind(&id, &key_id, super::sessions::Transport::LegacySse);
    let server = DocServer::new(Arc::clone(&state.server), Credential::Http);
    let transport = ChannelTransport {
        inbound: inbound_rx,
        outbound: outbound_tx,
    };
    let shutdown = state.shutdown.clone();
    tokio::spawn(async move {
        match server.serve(transport).await {
            Ok(running) => {
                tokio::select! {
                    _ = running.waiting() => {}
                    _ = shutdown.cancelled() => {}
                }
            }
            Err(e) => tracing::warn!("legacy SSE session failed to start: {e}"),
        }
    });
    let guard = SessionGuard {
        state: Arc::clone(&state),
        id: id.clone(),
    };
    Sse::new(event_stream(id, outbound_rx, guard, state.shutdown.clone()))
        .keep_alive(KeepAlive::new().interval(Duration::from_secs(15)))
        .into_response()
}

fn event_stream(
    id: String,
    outbound: mpsc::Receiver<TxJsonRpcMessage<RoleServer>>,
    guard: SessionGuard,
    shutdown: tokio_util::sync::CancellationToken,
) -> impl Stream<Item = Result<Event, Infallible>> {
    let endpoint = Event::default()
        .event("endpoint")
        .data(format!("/message?sessionId={id}"));
    let messages = futures::stream::unfold(
        (outbound, guard, shutdown),
        |(mut outbound, guard, shutdown)| async move {
            let message = tokio::select! {
                m = outbound.recv() => m?,
                _ = shutdown.cancelled() => return None,
            };
            let data = serde_json::to_string(&message).unwrap_or_default();
            Some((
                Ok(Event::default().event("message").data(data)),
                (outbound, guard, shutdown),
            ))
        },
    );
    futures::StreamExt::chain(futures::stream::once(async { Ok(endpoint) }), messages)
}

/// Decodes one client message from a `POST /message` body, as rmcp decodes a `POST /mcp` body.
pub fn decode_message(body: &[u8]) -> serde_json::Result<ClientJsonRpcMessage> {
    serde_json::from_slice(body)
}

/// `POST /message?sessionId=…`: hands one client message to its session; the answer goes out
/// on the session's event stream.
pub(crate) async fn message(State(state): State<Arc<HttpState>>, request: Request) -> Response {
    let Some(id) = super::auth::query_session(request.uri()) else {
        return reply::bad_request("missing sessionId: use the endpoint announced by GET /sse");
    };
    let Some(sender) = state.sse.sender(&id) else {
        return reply::unknown_session();
    };
    let (parts, body) = request.into_parts();
    let Ok(bytes) = axum::body::to_bytes(body, 4 * 1024 * 1024).await else {
        return reply::bad_request("the request body is too large or unreadable");
    };
    let mut message = match decode_message(&bytes) {
        Ok(m) => m,
        Err(e) => return reply::bad_request(&format!("not a JSON-RPC message: {e}")),
    };
    match &mut message {
        ClientJsonRpcMessage::Request(req) => {
            req.request.extensions_mut().insert(parts);
        }
        ClientJsonRpcMessage::Notification(n) => {
            n.notification.extensions_mut().insert(parts);
        }
        _ => {}
    }
    if sender.send(message).await.is_err() {
        return reply::unknown_session();
    }
    (StatusCode::ACCEPTED, Bytes::from_static(b"Accepted")).into_response()
}
