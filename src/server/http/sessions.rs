//! Which key opened which session: a session id works only with the key that opened it. Entries
//! idle for longer than [`IDLE_TTL`] are forgotten, and a key may hold at most
//! [`MAX_SESSIONS_PER_KEY`] sessions at once.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// How long a session may stay unused before docward forgets its owner (rmcp ends idle
/// streamable sessions well before this; legacy SSE sessions are forgotten when they close).
pub(crate) const IDLE_TTL: Duration = Duration::from_secs(3600);
/// Open sessions one key may hold.
pub(crate) const MAX_SESSIONS_PER_KEY: usize = 64;

struct Owner {
    key_id: String,
    last_seen: Instant,
}

/// Session id → owning key, for streamable HTTP and legacy SSE sessions alike.
#[derive(Default)]
pub(crate) struct SessionKeys {
    owners: Mutex<HashMap<String, Owner>>,
}

impl SessionKeys {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Owner>> {
        self.owners.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Records that `key_id` opened `session`, forgetting sessions idle for too long.
    pub(crate) fn bind(&self, session: &str, key_id: &str) {
        let mut owners = self.lock();
        let now = Instant::now();
        owners.retain(|_, o| now.duration_since(o.last_seen) < IDLE_TTL);
        owners.insert(
            session.to_owned(),
            Owner {
                key_id: key_id.to_owned(),
                last_seen: now,
            },
        );
    }

    /// Whether `session` is known and was opened by `key_id`; marks it used.
    pub(crate) fn owned_by(&self, session: &str, key_id: &str) -> bool {
        match self.lock().get_mut(session) {
            Some(owner) if owner.key_id == key_id => {
                owner.last_seen = Instant::now();
                true
            }
            _ => false,
        }
    }

    /// Whether `session` is known at all.
    pub(crate) fn is_known(&self, session: &str) -> bool {
        self.lock().contains_key(session)
    }

    /// Whether `key_id` may open another session.
    pub(crate) fn may_open(&self, key_id: &str) -> bool {
        let now = Instant::now();
        self.lock()
            .values()
            .filter(|o| o.key_id == key_id && now.duration_since(o.last_seen) < IDLE_TTL)
            .count()
            < MAX_SESSIONS_PER_KEY
    }

    /// Forgets a session that ended.
    pub(crate) fn forget(&self, session: &str) {
        self.lock().remove(session);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sessions_belong_to_their_key_and_keys_have_a_cap() {
        let sessions = SessionKeys::default();
        sessions.bind("s1", "k1");
        assert!(sessions.owned_by("s1", "k1"));
        assert!(!sessions.owned_by("s1", "k2"));
        assert!(!sessions.owned_by("unknown", "k1"));
        for i in 0..MAX_SESSIONS_PER_KEY {
            sessions.bind(&format!("many{i}"), "k2");
        }
        assert!(!sessions.may_open("k2"));
        assert!(sessions.may_open("k1"));
        sessions.forget("s1");
        assert!(!sessions.is_known("s1"));
    }
}
