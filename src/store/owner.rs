//! The owner side: the process that holds the sled database serves it to the others on a Unix
//! socket (`<data dir>/run/store.sock`, mode 0600 in a 0700 folder), one thread per connection.

use std::io::{BufRead, BufReader, Write};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
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

/// A running owner: the socket listener and its connections. Dropping it stops serving.
pub struct Owner {
    path: PathBuf,
    stop: Arc<AtomicBool>,
    connections: Arc<Mutex<Vec<UnixStream>>>,
    accept_thread: Option<JoinHandle<()>>,
}

impl Owner {
    /// Starts serving `store` on [`socket_path`]. A stale socket left by a dead owner
    /// is replaced: the caller holds the database lock, so no live owner can be using it.
    pub fn start(store: Arc<SledStore>, data_dir: &Path) -> std::io::Result<Owner> {
        let path = socket_path(data_dir);
        if let Some(run) = path.parent() {
            std::fs::create_dir_all(run)?;
            restrict(run, 0o700)?;
        }
        let _ = std::fs::remove_file(&path);
        let listener = UnixListener::bind(&path)?;
        restrict(&path, 0o600)?;
        let stop = Arc::new(AtomicBool::new(false));
        let connections: Arc<Mutex<Vec<UnixStream>>> = Arc::default();
        let accept_thread = {
            let stop = Arc::clone(&stop);
            let connections = Arc::clone(&connections);
            std::thread::Builder::new()
                .name("docward-store-owner".into())
                .spawn(move || accept_loop(listener, store, stop, connections))?
        };
        tracing::debug!(socket = %path.display(), "serving the store to other processes");
        Ok(Owner {
            path,
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
        for conn in self
            .connections
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .drain(..)
        {
            let _ = conn.shutdown(std::net::Shutdown::Both);
        }
        let _ = std::fs::remove_file(&self.path);
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
    connections: Arc<Mutex<Vec<UnixStream>>>,
) {
    let mut workers = Vec::new();
    for conn in listener.incoming() {
        if stop.load(Ordering::SeqCst) {
            break;
        }
        let Ok(conn) = conn else { continue };
        if !same_user(&conn) {
            tracing::warn!("refused a store connection from another user");
            continue;
        }
        if let Ok(clone) = conn.try_clone() {
            connections
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .push(clone);
        }
        let store = Arc::clone(&store);
        if let Ok(worker) = std::thread::Builder::new()
            .name("docward-store-conn".into())
            .spawn(move || serve_connection(conn, &store))
        {
            workers.push(worker);
        }
        workers.retain(|w| !w.is_finished());
    }
    for conn in connections.lock().unwrap_or_else(|p| p.into_inner()).iter() {
        let _ = conn.shutdown(std::net::Shutdown::Read);
    }
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

fn serve_connection(conn: UnixStream, store: &SledStore) {
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
            Ok(request) => handle(store, request),
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
        Request::Refund { id, request } => answer(store.refund(id, &request), |refunded| {
            Response::Refunded { refunded }
        }),
        Request::Hello { .. } => Response::Hello {
            protocol: super::wire::PROTOCOL,
            version: env!("CARGO_PKG_VERSION").to_owned(),
            pid: std::process::id(),
        },
    }
}
