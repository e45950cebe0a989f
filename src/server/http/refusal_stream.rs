//! Refusals a legacy SSE client can read. Its event stream is an `EventSource`, which cannot
//! read the body of a 401 on `GET /sse` (the person sees "Non-200 status code (401)"), so a
//! refused `GET /sse` gets a short-lived event stream instead: it announces an endpoint, and
//! every request posted there with the same credential is answered on the stream with the
//! refusal as a JSON-RPC error, which the clients show. The stream carries nothing else and
//! ends after [`LIFETIME`]; at most [`MAX_STREAMS`] are open at once, beyond that the 401 stays.

use std::collections::HashMap;
use std::convert::Infallible;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use axum::http::StatusCode;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use futures::Stream;
use tokio::sync::mpsc;

use super::{HttpState, reply};
use crate::gate::Refusal;
use crate::token;

/// How long a refusal stream stays open: long enough for a client to post its `initialize`.
pub(crate) const LIFETIME: Duration = Duration::from_secs(30);
/// Refusal streams open at once, across all callers.
pub(crate) const MAX_STREAMS: usize = 256;

struct Entry {
    /// blake3 of the `Authorization` header's bearer token ("" when none was sent): only the
    /// same credential is answered on the stream.
    credential: blake3::Hash,
    refusal: Refusal,
    outbound: mpsc::Sender<String>,
}

/// The open refusal streams: session id → what to answer.
#[derive(Default)]
pub(crate) struct RefusalStreams {
    open: Mutex<HashMap<String, Entry>>,
}

fn credential(presented: Option<&str>) -> blake3::Hash {
    blake3::hash(presented.unwrap_or("").as_bytes())
}

impl RefusalStreams {
    /// Whether `session` names an open refusal stream.
    pub(crate) fn contains(&self, session: &str) -> bool {
        self.lock().contains_key(session)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Entry>> {
        self.open.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// Removes a refusal stream's entry when its stream ends.
struct Guard {
    state: Arc<HttpState>,
    id: String,
}

impl Drop for Guard {
    fn drop(&mut self) {
        self.state.refusal_streams.lock().remove(&self.id);
    }
}

/// Answers a refused `GET /sse` with a refusal stream, or `None` when too many are open.
pub(crate) fn open(
    state: &Arc<HttpState>,
    presented: Option<&str>,
    refusal: Refusal,
) -> Option<Response> {
    let id = token::random_base62(24).ok()?;
    let (outbound, inbound) = mpsc::channel(8);
    {
        let mut open = state.refusal_streams.lock();
        if open.len() >= MAX_STREAMS {
            return None;
        }
        open.insert(
            id.clone(),
            Entry {
                credential: credential(presented),
                refusal,
                outbound,
            },
        );
    }
    let guard = Guard {
        state: Arc::clone(state),
        id: id.clone(),
    };
    let stream = events(id, inbound, guard, state.shutdown.clone());
    Some(
        Sse::new(stream)
            .keep_alive(KeepAlive::new().interval(Duration::from_secs(15)))
            .into_response(),
    )
}

fn events(
    id: String,
    inbound: mpsc::Receiver<String>,
    guard: Guard,
    shutdown: tokio_util::sync::CancellationToken,
) -> impl Stream<Item = Result<Event, Infallible>> {
    let endpoint = Event::default()
        .event("endpoint")
        .data(format!("/message?sessionId={id}"));
    let deadline = tokio::time::Instant::now() + LIFETIME;
    let messages = futures::stream::unfold(
        (inbound, guard, shutdown),
        move |(mut inbound, guard, shutdown)| async move {
            let data = tokio::select! {
                m = inbound.recv() => m?,
                _ = tokio::time::sleep_until(deadline) => return None,
                _ = shutdown.cancelled() => return None,
            };
            Some((
                Ok(Event::default().event("message").data(data)),
                (inbound, guard, shutdown),
            ))
        },
    );
    futures::StreamExt::chain(futures::stream::once(async { Ok(endpoint) }), messages)
}

/// Answers a `POST /message` to a refusal stream: the refusal goes out on the stream for a
/// request (a notification needs no answer), and the POST gets 202 like any legacy message.
/// `None` when `session` is no refusal stream of this credential.
pub(crate) fn answer(
    state: &HttpState,
    session: &str,
    presented: Option<&str>,
    body: &Bytes,
) -> Option<Response> {
    let open = state.refusal_streams.lock();
    let entry = open.get(session)?;
    // blake3::Hash compares in constant time.
    if entry.credential != credential(presented) {
        return None;
    }
    let peek = super::auth::peek(body);
    if let (Some(id), Some(_)) = (peek.id.filter(|id| !id.is_null()), peek.method) {
        let _ = entry
            .outbound
            .try_send(reply::in_band_message(&entry.refusal, id));
    }
    Some((StatusCode::ACCEPTED, Bytes::from_static(b"Accepted")).into_response())
}
