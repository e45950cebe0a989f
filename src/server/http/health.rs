//! `GET /healthz`: `ok` only when the store answers and can write, within [`CHECK_TIMEOUT`].

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use axum::extract::State;
use axum::http::StatusCode;

use super::HttpState;
use crate::store::KeyStore;

/// How long a health check waits for the store: a stopped store owner must not hang a load
/// balancer's probe.
pub(crate) const CHECK_TIMEOUT: Duration = Duration::from_secs(2);

/// One store check at a time: a check stuck on a store that does not answer is not joined by
/// more blocked threads, each probe meanwhile answers 503 at once.
#[derive(Default)]
pub(crate) struct StoreProbe {
    in_flight: Arc<AtomicBool>,
}

/// Clears the in-flight mark when the check returns, even by panicking.
struct InFlight(Arc<AtomicBool>);

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.store(false, Ordering::SeqCst);
    }
}

impl StoreProbe {
    /// Asks the store to write and flush a small record (through the owner when this process is
    /// not the owner); the cause in one line when it fails or takes longer than
    /// [`CHECK_TIMEOUT`].
    pub(crate) async fn check(&self, store: &Arc<dyn KeyStore>) -> Result<(), String> {
        if self.in_flight.swap(true, Ordering::SeqCst) {
            return Err(format!(
                "the store has not answered the previous check for over {} s",
                CHECK_TIMEOUT.as_secs()
            ));
        }
        let guard = InFlight(Arc::clone(&self.in_flight));
        let store = Arc::clone(store);
        let check = tokio::task::spawn_blocking(move || {
            let _guard = guard;
            store.health()
        });
        match tokio::time::timeout(CHECK_TIMEOUT, check).await {
            Ok(Ok(Ok(_))) => Ok(()),
            Ok(Ok(Err(e))) => Err(format!("the store failed: {e}")),
            Ok(Err(_)) => Err("the store check crashed; see the server's log".to_owned()),
            Err(_) => Err(format!(
                "the store did not answer within {} s (is the process that owns it stopped?)",
                CHECK_TIMEOUT.as_secs()
            )),
        }
    }
}

/// `GET /healthz`: 200 `ok`, or 503 with the cause in one line.
pub(crate) async fn healthz(State(state): State<Arc<HttpState>>) -> (StatusCode, String) {
    match state.probe.check(state.server.gate.store()).await {
        Ok(()) => (StatusCode::OK, "ok".to_owned()),
        Err(cause) => {
            tracing::warn!("health check failed: {cause}");
            (
                StatusCode::SERVICE_UNAVAILABLE,
                format!("unhealthy: {cause}"),
            )
        }
    }
}
