//! The owner side: the process that holds the sled database serves it to the others on a Unix
//! socket (`<data dir>/run/store.sock`, mode 0600 in a 0700 folder), one thread per connection.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Write};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

use super::KeyStore;
use super::error::StoreResult;
use super::sled_store::SledStore;
use super::wire::{Request, Response};
use crate::token::TokenHash;

/// Where the owner's socket lives: in `run/`, a folder only the owner's user can enter, so that
/// no other user can connect, even in the moment between `bind` and `chmod`.
pub fn socket_path(data_dir: &Path) -> PathBuf {
    data_dir.join("run").join("store.sock")
}

/// What an owner calls when its database failed and must be reopened.
pub(crate) type FailureHook = Arc<dyn Fn() + Send + Sync>;

/// A running owner: the socket listener and its connections. Dropping it stops serving.
pub struct Owner {
    path: PathBuf,
    data_dir: PathBuf,
    stop: Arc<AtomicBool>,
    connections: Arc<Connections>,
    accept_thread: Option<JoinHandle<()>>,
}

/// The open connections, each by a serial number, so that a connection's thread can drop its
/// entry (and the file descriptor it holds) when the client goes away, and a stopping owner
/// can close the ones still open.
#[derive(Default)]
pub(crate) struct Connections {
    next: AtomicU64,
    open: Mutex<HashMap<u64, UnixStream>>,
}

impl Connections {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<u64, UnixStream>> {
        self.open.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Keeps a handle on `conn` for shutdown; returns the number that [`Connections::remove`] takes.
    fn add(&self, conn: &UnixStream) -> Option<u64> {
        let clone = conn.try_clone().ok()?;
        let serial = self.next.fetch_add(1, Ordering::Relaxed);
        self.lock().insert(serial, clone);
        Some(serial)
    }

    fn remove(&self, serial: u64) {
        self.lock().remove(&serial);
    }

    /// How many connections are open now.
    #[cfg(test)]
    fn len(&self) -> usize {
        self.lock().len()
    }

    /// Shuts every open connection down in `how`.
    fn shutdown_all(&self, how: std::net::Shutdown) {
        for conn in self.lock().values() {
            let _ = conn.shutdown(how);
        }
    }
}

impl Owner {
    /// Starts serving `store` on [`socket_path`]. A stale socket left by a dead owner
    /// is replaced: the caller holds the database lock, so no live owner can be using it.
    /// `on_failure` runs when a request fails in a way that needs the database reopened.
    pub fn start(
        store: Arc<SledStore>,
        data_dir: &Path,
        on_failure: FailureHook,
    ) -> std::io::Result<Owner> {
        let path = socket_path(data_dir);
        if let Some(run) = path.parent() {
            std::fs::create_dir_all(run)?;
            restrict(run, 0o700)?;
        }
        let _ = std::fs::remove_file(&path);
        let listener = UnixListener::bind(&path)?;
        restrict(&path, 0o600)?;
        // Clients read it to tell a stopped owner from a slow one.
        let _ = std::fs::write(
            super::liveness::pid_path(data_dir),
            format!("{}\n", std::process::id()),
        );
        let stop = Arc::new(AtomicBool::new(false));
        let connections: Arc<Connections> = Arc::default();
        let accept_thread = {
            let stop = Arc::clone(&stop);
            let connections = Arc::clone(&connections);
            std::thread::Builder::new()
                .name("docward-store-owner".into())
                .spawn(move || accept_loop(listener, store, stop, connections, on_failure))?
        };
        tracing::debug!(socket = %path.display(), "serving the store to other processes");
        Ok(Owner {
            path,
            data_dir: data_dir.to_path_buf(),
            stop,
            connections,
            accept_thread: Some(accept_thread),
        })
    }
}

impl Drop for Owner {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        // Wake the accept loop, then close every connection so their threads let go of the store.
        let _ = UnixStream::connect(&self.path);
        if let Some(thread) = self.accept_thread.take() {
            let _ = thread.join();
        }
        self.connections.shutdown_all(std::net::Shutdown::Both);
        let _ = std::fs::remove_file(&self.path);
        if super::liveness::owner_pid(&self.data_dir) == Some(std::process::id()) {
            let _ = std::fs::remove_file(super::liveness::pid_path(&self.data_dir));
        }
    }
}

fn restrict(path: &Path, mode: u32) -> std::io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))
}

fn accept_loop(
    listener: UnixListener,
    store: Arc<SledStore>,
    stop: Arc<AtomicBool>,
    connections: Arc<Connections>,
    on_failure: FailureHook,
) {
    let mut workers = Vec::new();
    for conn in listener.incoming() {
        if stop.load(Ordering::SeqCst) {
            break;
        }
        let conn = match conn {
            Ok(conn) => conn,
            Err(e) => {
                // Out of file descriptors (EMFILE/ENFILE) or memory: pause instead of spinning,
                // and keep serving the connections already open.
                tracing::warn!("the store owner could not accept a connection: {e}");
                std::thread::sleep(std::time::Duration::from_millis(50));
                continue;
            }
        };
        if !same_user(&conn) {
            tracing::warn!("refused a store connection from another user");
            continue;
        }
        let Some(serial) = connections.add(&conn) else {
            continue;
        };
        let store = Arc::clone(&store);
        let registry = Arc::clone(&connections);
        let on_failure = Arc::clone(&on_failure);
        let spawned = std::thread::Builder::new()
            .name("docward-store-conn".into())
            .spawn(move || {
                serve_connection(conn, &store, on_failure.as_ref());
                registry.remove(serial);
            });
        match spawned {
            Ok(worker) => workers.push(worker),
            Err(_) => connections.remove(serial),
        }
        workers.retain(|w| !w.is_finished());
    }
    connections.shutdown_all(std::net::Shutdown::Read);
    for worker in workers {
        let _ = worker.join();
    }
}

/// Whether the process at the other end runs as our user. The socket's 0700 folder already keeps
/// other users out; this is a second lock in case the folder's mode was changed.
#[cfg(target_os = "linux")]
fn same_user(conn: &UnixStream) -> bool {
    use nix::sys::socket::{getsockopt, sockopt::PeerCredentials};
    getsockopt(conn, PeerCredentials)
        .is_ok_and(|peer| peer.uid() == nix::unistd::geteuid().as_raw())
}

/// Elsewhere the folder's permissions are the only lock.
#[cfg(not(target_os = "linux"))]
fn same_user(_conn: &UnixStream) -> bool {
    true
}

fn serve_connection(conn: UnixStream, store: &SledStore, on_failure: &(dyn Fn() + Send + Sync)) {
    let Ok(write_half) = conn.try_clone() else {
        return;
    };
    let mut writer = std::io::BufWriter::new(write_half);
    let mut reader = BufReader::new(conn);
    let mut line = String::new();
    loop {
        line.clear();
        match reader.read_line(&mut line) {
            Ok(0) | Err(_) => return,
            Ok(_) => {}
        }
        let response = match serde_json::from_str::<Request>(&line) {
            Ok(request) => {
                let response = handle(store, request);
                if let Response::Error { error } = &response
                    && error.poisons_the_database()
                {
                    on_failure();
                }
                response
            }
            Err(e) => Response::Error {
                error: super::wire::WireError::Remote {
                    message: format!("bad request: {e}"),
                },
            },
        };
        let sent = serde_json::to_writer(&mut writer, &response)
            .map_err(std::io::Error::from)
            .and_then(|()| writer.write_all(b"\n"))
            .and_then(|()| writer.flush());
        if sent.is_err() {
            return;
        }
    }
}

/// Runs one request against the local store.
pub(crate) fn handle(store: &SledStore, request: Request) -> Response {
    fn answer<T>(result: StoreResult<T>, ok: impl FnOnce(T) -> Response) -> Response {
        match result {
            Ok(value) => ok(value),
            Err(e) => Response::Error { error: e.into() },
        }
    }
    match request {
        Request::CreateTenant { tenant } => {
            answer(store.create_tenant(&tenant), |()| Response::Unit)
        }
        Request::UpdateTenant { tenant } => {
            answer(store.update_tenant(&tenant), |()| Response::Unit)
        }
        Request::Tenant { name } => {
            answer(store.tenant(&name), |tenant| Response::Tenant { tenant })
        }
        Request::Tenants => answer(store.tenants(), |tenants| Response::Tenants { tenants }),
        Request::InsertKey {
            key,
            hash,
            replacing,
            now,
        } => answer(
            store.insert_key(&key, &TokenHash(hash), replacing.as_deref(), now),
            |()| Response::Unit,
        ),
        Request::Key { id } => answer(store.key(&id), |key| Response::Key { key }),
        Request::Credential { hash } => answer(store.credential(&TokenHash(hash)), |credential| {
            Response::Credential { credential }
        }),
        Request::KeyByHash { hash } => answer(store.key_by_hash(&TokenHash(hash)), |key| {
            Response::Key { key }
        }),
        Request::Keys { tenant } => answer(store.keys(tenant.as_deref()), |keys| Response::Keys {
            keys,
        }),
        Request::RevokeKey { id, at } => answer(store.revoke_key(&id, at), |key| Response::Key {
            key: Some(key),
        }),
        Request::RetireKey { id, at, successor } => {
            answer(store.retire_key(&id, at, &successor), |key| Response::Key {
                key: Some(key),
            })
        }
        Request::TouchKey { id, at } => answer(store.touch_key(&id, at), |()| Response::Unit),
        Request::Charge { id, request } => answer(store.charge_as(Some(id), &request), |charge| {
            Response::Charge { charge }
        }),
        Request::QuotaUsed { tenant, day } => answer(store.quota_used(&tenant, day), |count| {
            Response::Count { count }
        }),
        Request::Usage { tenant } => answer(store.usage(tenant.as_deref()), |rows| {
            Response::Usage { rows }
        }),
        Request::Flush => answer(store.flush(), |()| Response::Unit),
        Request::Health => answer(store.health(), |()| Response::Unit),
        Request::Refund { id, request } => answer(store.refund(id, &request), |refunded| {
            Response::Refunded { refunded }
        }),
        Request::PutConsoleGrant { kind, hash, grant } => {
            answer(store.put_console_grant(kind, &hash, &grant), |()| {
                Response::Unit
            })
        }
        Request::ConsoleGrant {
            kind,
            hash,
            now,
            take,
        } => answer(store.console_grant(kind, &hash, now, take), |grant| {
            Response::ConsoleGrant { grant }
        }),
        Request::EndConsoleGrants { hash } => {
            answer(store.end_console_grants(hash.as_ref()), |count| {
                Response::Count { count }
            })
        }
        Request::SetContact { contact } => answer(store.set_contact(&contact), |()| Response::Unit),
        Request::Contact { tenant } => answer(store.contact(&tenant), |contact| {
            Response::Contact { contact }
        }),
        Request::Contacts => answer(store.contacts(), |contacts| Response::Contacts { contacts }),
        Request::ClaimReminder { claim } => answer(store.claim_reminder(&claim), |claimed| {
            Response::Claimed { claimed }
        }),
        Request::FinishReminder { finish } => answer(store.finish_reminder(&finish), |claimed| {
            Response::Claimed { claimed }
        }),
        Request::Reminders => answer(store.reminders(), |reminders| Response::Reminders {
            reminders,
        }),
        Request::Hello { .. } => Response::Hello {
            protocol: super::wire::PROTOCOL,
            version: env!("CARGO_PKG_VERSION").to_owned(),
            pid: std::process::id(),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn open_fds() -> usize {
        std::fs::read_dir("/proc/self/fd").map_or(0, |d| d.count())
    }

    #[test]
    fn closed_connections_give_back_their_file_descriptors() {
        let dir = tempfile::tempdir().unwrap();
        let store = Arc::new(SledStore::open(dir.path()).unwrap());
        let owner = Owner::start(store, dir.path(), Arc::new(|| {})).unwrap();
        let socket = socket_path(dir.path());
        let hello = |conn: &mut UnixStream| {
            conn.write_all(b"{\"op\":\"hello\",\"protocol\":1}\n")
                .unwrap();
            let mut line = String::new();
            BufReader::new(conn.try_clone().unwrap())
                .read_line(&mut line)
                .unwrap();
            assert!(line.contains("hello"), "{line}");
        };
        // Warm up (thread stacks, sled files), then count.
        let mut first = UnixStream::connect(&socket).unwrap();
        hello(&mut first);
        drop(first);
        std::thread::sleep(std::time::Duration::from_millis(50));
        let before = open_fds();
        for _ in 0..300 {
            let mut conn = UnixStream::connect(&socket).unwrap();
            hello(&mut conn);
        }
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
        while owner.connections.len() > 0 && std::time::Instant::now() < deadline {
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
        assert_eq!(owner.connections.len(), 0, "connections still held");
        let after = open_fds();
        // The count is the whole test process's, and other tests open files meanwhile: allow a
        // margin far below the 300 that one leaked descriptor per connection would leave.
        assert!(
            after <= before + 40,
            "300 closed connections left {} more file descriptors open",
            after.saturating_sub(before)
        );
    }
}
