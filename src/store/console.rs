//! Console sign-in links and sessions: grants kept under the blake3 hash of their secret, never
//! the secret itself. Links are taken (removed) on first use; both expire.
//!
//! | tree | key | value |
//! |---|---|---|
//! | `console_links` | blake3(link secret), 32 bytes | [`ConsoleGrant`] |
//! | `console_sessions` | blake3(session secret), 32 bytes | [`ConsoleGrant`] |

use serde::{Deserialize, Serialize};

use super::error::StoreResult;
use super::records::{decode, encode};
use super::sled_store::SledStore;
use crate::clock::Timestamp;

/// Which kind of console secret a grant belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ConsoleSecret {
    /// A one-time sign-in link printed by `docward console link`.
    Link,
    /// A signed-in browser's session cookie.
    Session,
}

impl ConsoleSecret {
    fn tree(self) -> &'static str {
        match self {
            ConsoleSecret::Link => "console_links",
            ConsoleSecret::Session => "console_sessions",
        }
    }
}

/// What a console link or session lets its holder see.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConsoleGrant {
    /// `None`: the operator (every tenant); `Some(t)`: only tenant `t`.
    pub tenant: Option<String>,
    /// When it was made.
    pub created_at: Timestamp,
    /// When it stops working (exclusive).
    pub expires_at: Timestamp,
}

impl SledStore {
    /// Stores a grant under the hash of its secret.
    pub(crate) fn put_console_grant_local(
        &self,
        kind: ConsoleSecret,
        hash: &[u8; 32],
        grant: &ConsoleGrant,
    ) -> StoreResult<()> {
        self.db()
            .open_tree(kind.tree())?
            .insert(hash, encode(grant)?)?;
        self.db().flush()?;
        Ok(())
    }

    /// The grant stored under `hash`, if it has not expired; `take` removes it atomically, so
    /// that of two concurrent takers only one gets it. Expired grants are removed on sight.
    pub(crate) fn console_grant_local(
        &self,
        kind: ConsoleSecret,
        hash: &[u8; 32],
        now: Timestamp,
        take: bool,
    ) -> StoreResult<Option<ConsoleGrant>> {
        let tree = self.db().open_tree(kind.tree())?;
        let found = if take {
            let removed = tree.remove(hash)?;
            self.db().flush()?;
            removed
        } else {
            tree.get(hash)?
        };
        let Some(bytes) = found else {
            return Ok(None);
        };
        let grant: ConsoleGrant = decode(&bytes, "console grant")?;
        if grant.expires_at <= now {
            tree.remove(hash)?;
            return Ok(None);
        }
        Ok(Some(grant))
    }

    /// Ends one session (`Some(hash)`), or every session and unused link (`None`). Returns how
    /// many grants were removed.
    pub(crate) fn end_console_grants_local(&self, hash: Option<&[u8; 32]>) -> StoreResult<u64> {
        let sessions = self.db().open_tree(ConsoleSecret::Session.tree())?;
        let removed = match hash {
            Some(hash) => u64::from(sessions.remove(hash)?.is_some()),
            None => {
                let links = self.db().open_tree(ConsoleSecret::Link.tree())?;
                let count = (sessions.len() + links.len()) as u64;
                sessions.clear()?;
                links.clear()?;
                count
            }
        };
        self.db().flush()?;
        Ok(removed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::KeyStore;

    fn grant(expires_at: Timestamp) -> ConsoleGrant {
        ConsoleGrant {
            tenant: Some("acme".into()),
            created_at: 0,
            expires_at,
        }
    }

    #[test]
    fn a_link_is_taken_once_and_expires() {
        let dir = tempfile::tempdir().unwrap();
        let store = SledStore::open(dir.path()).unwrap();
        let (a, b) = ([1u8; 32], [2u8; 32]);
        store
            .put_console_grant(ConsoleSecret::Link, &a, &grant(100))
            .unwrap();
        store
            .put_console_grant(ConsoleSecret::Link, &b, &grant(100))
            .unwrap();
        assert_eq!(
            store
                .console_grant(ConsoleSecret::Link, &a, 50, true)
                .unwrap(),
            Some(grant(100))
        );
        assert_eq!(
            store
                .console_grant(ConsoleSecret::Link, &a, 50, true)
                .unwrap(),
            None
        );
        // A session of the same hash is another tree.
        assert_eq!(
            store
                .console_grant(ConsoleSecret::Session, &b, 50, false)
                .unwrap(),
            None
        );
        assert_eq!(
            store
                .console_grant(ConsoleSecret::Link, &b, 100, false)
                .unwrap(),
            None,
            "expired at its expiry second"
        );
    }

    #[test]
    fn ending_all_grants_removes_sessions_and_links() {
        let dir = tempfile::tempdir().unwrap();
        let store = SledStore::open(dir.path()).unwrap();
        for (i, kind) in [
            ConsoleSecret::Link,
            ConsoleSecret::Session,
            ConsoleSecret::Session,
        ]
        .into_iter()
        .enumerate()
        {
            store
                .put_console_grant(kind, &[i as u8; 32], &grant(1000))
                .unwrap();
        }
        assert_eq!(store.end_console_grants(Some(&[1u8; 32])).unwrap(), 1);
        assert_eq!(store.end_console_grants(None).unwrap(), 2);
        assert_eq!(
            store
                .console_grant(ConsoleSecret::Session, &[2u8; 32], 1, false)
                .unwrap(),
            None
        );
    }
}
