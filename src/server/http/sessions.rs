//! Which key opened which session: a session id works only with the key that opened it, and a
//! key may hold at most [`MAX_SESSIONS_PER_KEY`] sessions at once.
//!
//! A binding lives exactly as long as its session: a streamable HTTP session's binding goes
//! when rmcp no longer has the session (it ended idle sessions, or answered a DELETE with a
//! 2xx); a legacy SSE session's binding goes when its event stream closes. docward never
//! forgets a binding on its own clock, since a session without a binding would take requests
//! from any key.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use rmcp::transport::streamable_http_server::session::SessionManager;
use rmcp::transport::streamable_http_server::session::local::{LocalSessionManager, SessionConfig};

/// How long rmcp keeps an idle streamable HTTP session by default (`serve
/// --session-idle-timeout`); the same value drives the too-many-sessions `Retry-After`.
pub const DEFAULT_SESSION_IDLE: Duration = SessionConfig::DEFAULT_KEEP_ALIVE;
/// Open sessions one key may hold.
pub(crate) const MAX_SESSIONS_PER_KEY: usize = 64;

/// Which transport a session belongs to, which decides when it ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Transport {
    /// `/mcp`: rmcp's session manager holds it until it idles out or is deleted.
    Streamable,
    /// `/sse`: it lives while its event stream is open.
    LegacySse,
}

struct Owner {
    key_id: String,
    transport: Transport,
    last_seen: Instant,
}

#[derive(Default)]
struct Bindings {
    owners: HashMap<String, Owner>,
    /// Sessions being opened per key (counted against the cap until they are bound or fail).
    opening: HashMap<String, usize>,
}

/// Session id → owning key, for streamable HTTP and legacy SSE sessions alike.
pub(crate) struct SessionKeys {
    bindings: Mutex<Bindings>,
    /// How long rmcp keeps an idle streamable session.
    idle_timeout: Duration,
}

impl SessionKeys {
    /// Bindings for sessions that rmcp ends after `idle_timeout` without use.
    pub(crate) fn new(idle_timeout: Duration) -> SessionKeys {
        SessionKeys {
            bindings: Mutex::default(),
            idle_timeout,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Bindings> {
        self.bindings.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Records that `key_id` opened `session`.
    pub(crate) fn bind(&self, session: &str, key_id: &str, transport: Transport) {
        self.lock().owners.insert(
            session.to_owned(),
            Owner {
                key_id: key_id.to_owned(),
                transport,
                last_seen: Instant::now(),
            },
        );
    }

    /// Whether `session` is known and was opened by `key_id`; marks it used.
    pub(crate) fn owned_by(&self, session: &str, key_id: &str) -> bool {
        match self.lock().owners.get_mut(session) {
            Some(owner) if owner.key_id == key_id => {
                owner.last_seen = Instant::now();
                true
            }
            _ => false,
        }
    }

    /// Whether `session` is known at all.
    pub(crate) fn is_known(&self, session: &str) -> bool {
        self.lock().owners.contains_key(session)
    }

    /// Forgets a session that ended.
    pub(crate) fn forget(&self, session: &str) {
        self.lock().owners.remove(session);
    }

    /// Forgets the streamable sessions (of `key_id`, or of every key) that rmcp no longer has.
    pub(crate) async fn forget_ended(&self, rmcp: &LocalSessionManager, key_id: Option<&str>) {
        let streamable: Vec<String> = self
            .lock()
            .owners
            .iter()
            .filter(|(_, o)| {
                o.transport == Transport::Streamable && key_id.is_none_or(|k| o.key_id == k)
            })
            .map(|(id, _)| id.clone())
            .collect();
        for id in streamable {
            // An error of the session manager is not proof that the session ended.
            if let Ok(false) = rmcp.has_session(&id.as_str().into()).await {
                self.forget(&id);
            }
        }
    }

    /// Reserves a place for one more session of `key_id`, counted against the cap until
    /// [`SessionKeys::opened`] (so that concurrent opens cannot pass it together); if there is
    /// none, how long until one of its sessions idles out (`None` when all of them are open
    /// event streams, which end only when closed). Call [`SessionKeys::forget_ended`] first,
    /// so that only live sessions count.
    pub(crate) fn reserve(&self, key_id: &str) -> Result<(), Option<Duration>> {
        let mut bindings = self.lock();
        let opening = bindings.opening.get(key_id).copied().unwrap_or(0);
        let held: Vec<&Owner> = bindings
            .owners
            .values()
            .filter(|o| o.key_id == key_id)
            .collect();
        if held.len() + opening < MAX_SESSIONS_PER_KEY {
            *bindings.opening.entry(key_id.to_owned()).or_default() += 1;
            return Ok(());
        }
        let now = Instant::now();
        Err(held
            .iter()
            .filter(|o| o.transport == Transport::Streamable)
            .map(|o| {
                self.idle_timeout
                    .saturating_sub(now.duration_since(o.last_seen))
            })
            .min())
    }

    /// Gives back a place taken by [`SessionKeys::reserve`]: the session is bound, or failed.
    pub(crate) fn opened(&self, key_id: &str) {
        let mut bindings = self.lock();
        if let Some(n) = bindings.opening.get_mut(key_id) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                bindings.opening.remove(key_id);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sessions_belong_to_their_key_and_keys_have_a_cap() {
        let sessions = SessionKeys::new(Duration::from_secs(300));
        sessions.bind("s1", "k1", Transport::Streamable);
        assert!(sessions.owned_by("s1", "k1"));
        assert!(!sessions.owned_by("s1", "k2"));
        assert!(!sessions.owned_by("unknown", "k1"));
        for i in 0..MAX_SESSIONS_PER_KEY {
            sessions.bind(&format!("many{i}"), "k2", Transport::Streamable);
        }
        let wait = sessions.reserve("k2").unwrap_err().unwrap();
        assert!(wait <= Duration::from_secs(300) && wait > Duration::from_secs(290));
        assert!(sessions.reserve("k1").is_ok());
        sessions.opened("k1");
        sessions.forget("s1");
        assert!(!sessions.is_known("s1"));
    }

    #[test]
    fn open_event_streams_do_not_idle_out() {
        let sessions = SessionKeys::new(Duration::from_secs(300));
        for i in 0..MAX_SESSIONS_PER_KEY {
            sessions.bind(&format!("sse{i}"), "k1", Transport::LegacySse);
        }
        assert_eq!(sessions.reserve("k1"), Err(None));
    }

    #[test]
    fn sessions_being_opened_count_against_the_cap() {
        let sessions = SessionKeys::new(Duration::from_secs(300));
        for _ in 0..MAX_SESSIONS_PER_KEY {
            sessions.reserve("k1").unwrap();
        }
        assert!(sessions.reserve("k1").is_err());
        sessions.opened("k1");
        assert!(sessions.reserve("k1").is_ok());
    }

    #[tokio::test]
    async fn bindings_of_sessions_rmcp_does_not_have_are_forgotten() {
        let sessions = SessionKeys::new(Duration::from_secs(300));
        sessions.bind("gone", "k1", Transport::Streamable);
        sessions.bind("stream", "k1", Transport::LegacySse);
        sessions
            .forget_ended(&LocalSessionManager::default(), Some("k1"))
            .await;
        assert!(!sessions.is_known("gone"));
        assert!(sessions.is_known("stream"), "not rmcp's to end");
    }
}
