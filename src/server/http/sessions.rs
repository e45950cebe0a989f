//! Which key opened which session: a session id works only with the key that opened it.

use std::collections::HashMap;
use std::sync::Mutex;

/// Session id → key id, for streamable HTTP and legacy SSE sessions alike.
#[derive(Default)]
pub(crate) struct SessionKeys {
    owners: Mutex<HashMap<String, String>>,
}

impl SessionKeys {
    /// Records that `key_id` opened `session`.
    pub(crate) fn bind(&self, session: &str, key_id: &str) {
        self.owners
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(session.to_owned(), key_id.to_owned());
    }

    /// Whether `key_id` may use `session`: true for its own sessions and for sessions docward
    /// has not seen opened (the MCP layer then answers for unknown sessions).
    pub(crate) fn allows(&self, session: &str, key_id: &str) -> bool {
        self.owners
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(session)
            .is_none_or(|owner| owner == key_id)
    }

    /// Forgets a session that ended.
    pub(crate) fn forget(&self, session: &str) {
        self.owners
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(session);
    }
}
