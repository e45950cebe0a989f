//! The client side: connections to the owner's socket, one request at a time on each, pooled so
//! that concurrent calls of a busy server do not queue behind one another.

use std::io::{BufRead, BufReader, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use super::error::{StoreError, StoreResult};
use super::liveness::{self, ProcessState};
use super::wire::{PROTOCOL, Request, Response};

/// How long one request may wait for a running owner before it is presumed hung.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);
/// How often a waiting request checks that the owner's process is not stopped.
const LIVENESS_CHECK: Duration = Duration::from_millis(500);
/// How long the greeting may take: an owner that accepted the connection answers it at once.
const GREETING_TIMEOUT: Duration = Duration::from_secs(2);
/// Idle connections kept for reuse; more are opened under load and closed afterwards.
const MAX_IDLE: usize = 16;

/// A client of the owner of a store.
pub struct RemoteStore {
    socket: PathBuf,
    data_dir: PathBuf,
    idle: Mutex<Vec<Connection>>,
}

struct Connection {
    reader: BufReader<UnixStream>,
    writer: UnixStream,
    line: Vec<u8>,
    /// The owner's process, once it has said (0 before the greeting).
    owner_pid: u32,
    /// How long a request waits for its answer.
    patience: Duration,
}

impl Connection {
    fn open(socket: &Path) -> std::io::Result<Connection> {
        let stream = UnixStream::connect(socket)?;
        stream.set_read_timeout(Some(LIVENESS_CHECK))?;
        stream.set_write_timeout(Some(REQUEST_TIMEOUT))?;
        Ok(Connection {
            reader: BufReader::new(stream.try_clone()?),
            writer: stream,
            line: Vec::new(),
            owner_pid: 0,
            patience: GREETING_TIMEOUT,
        })
    }

    /// Opens a connection and checks that the owner speaks this build's protocol: every
    /// connection, since the owner may have changed since the last one. An owner whose process
    /// is stopped, or that accepts the connection but does not greet, is reported at once.
    fn greeted(socket: &Path, data_dir: &Path) -> Result<Connection, Option<StoreError>> {
        // Connect first: a dead owner's socket refuses, and its stale pid file is not read.
        let mut conn = Connection::open(socket).map_err(|_| None)?;
        conn.owner_pid = liveness::owner_pid(data_dir).unwrap_or(0);
        if conn.owner_pid != 0 && liveness::process_state(conn.owner_pid) == ProcessState::Stopped {
            return Err(Some(stopped_owner(conn.owner_pid, data_dir)));
        }
        let mut hello = serde_json::to_vec(&Request::Hello { protocol: PROTOCOL })
            .map_err(|e| Some(StoreError::Corrupt(format!("encoding a request: {e}"))))?;
        hello.push(b'\n');
        let owner = match conn.call(&hello, data_dir) {
            Ok(Response::Hello { protocol, pid, .. }) if protocol == PROTOCOL => {
                conn.owner_pid = pid;
                conn.patience = REQUEST_TIMEOUT;
                return Ok(conn);
            }
            Err(unresponsive @ StoreError::OwnerUnresponsive(_)) => return Err(Some(unresponsive)),
            Ok(Response::Hello {
                protocol,
                version,
                pid,
            }) => format!("docward {version}, store protocol {protocol}, process {pid}"),
            // An owner that does not know the greeting.
            Err(StoreError::Remote(_)) => "an older docward".to_owned(),
            Ok(_) | Err(StoreError::Corrupt(_)) => "a program that is not this docward".to_owned(),
            Err(_) => return Err(None),
        };
        Err(Some(StoreError::OwnerVersion {
            data_dir: data_dir.display().to_string(),
            owner,
            ours: format!("{}, store protocol {PROTOCOL}", env!("CARGO_PKG_VERSION")),
        }))
    }

    fn call(&mut self, bytes: &[u8], data_dir: &Path) -> StoreResult<Response> {
        self.writer.write_all(bytes).map_err(|e| {
            if is_timeout(&e) {
                self.unresponsive(data_dir)
            } else {
                unavailable(e)
            }
        })?;
        self.line.clear();
        let started = Instant::now();
        loop {
            // Reads wake every LIVENESS_CHECK to look at the owner's process; the bytes of a
            // line read so far stay in `self.line`.
            match self.reader.read_until(b'\n', &mut self.line) {
                Ok(0) => {
                    return Err(StoreError::Unavailable(
                        "the store's owner closed the connection".into(),
                    ));
                }
                Ok(_) if self.line.ends_with(b"\n") => break,
                Ok(_) => continue,
                Err(e) if is_timeout(&e) => {
                    let stopped = self.owner_pid != 0
                        && liveness::process_state(self.owner_pid) == ProcessState::Stopped;
                    if stopped || started.elapsed() >= self.patience {
                        return Err(self.unresponsive(data_dir));
                    }
                }
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => return Err(unavailable(e)),
            }
        }
        match serde_json::from_slice::<Response>(&self.line) {
            Ok(Response::Error { error }) => Err(error.into()),
            Ok(response) => Ok(response),
            Err(e) => Err(StoreError::Corrupt(format!("decoding a response: {e}"))),
        }
    }

    /// The error for an owner that did not answer in time: stopped, or hung.
    fn unresponsive(&self, data_dir: &Path) -> StoreError {
        let pid = self.owner_pid;
        if pid != 0 && liveness::process_state(pid) == ProcessState::Stopped {
            return stopped_owner(pid, data_dir);
        }
        let who = if pid == 0 {
            "the process that owns it".to_owned()
        } else {
            format!("docward process {pid}")
        };
        let end = if pid == 0 {
            "end that docward process".to_owned()
        } else {
            format!("end it with `kill {pid}`")
        };
        StoreError::OwnerUnresponsive(format!(
            "the store in {} is held by {who}, which has not answered for {} s and may be hung: {end}, and the next docward call takes the store over",
            data_dir.display(),
            self.patience.as_secs()
        ))
    }
}

/// The error for an owner whose process is stopped.
fn stopped_owner(pid: u32, data_dir: &Path) -> StoreError {
    StoreError::OwnerUnresponsive(format!(
        "the store in {} is held by docward process {pid}, which is stopped (SIGSTOP, Ctrl-Z or a debugger) and cannot answer: resume it with `kill -CONT {pid}`, or end it with `kill {pid}` and the next docward call takes the store over",
        data_dir.display()
    ))
}

fn is_timeout(err: &std::io::Error) -> bool {
    matches!(
        err.kind(),
        std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
    )
}

impl RemoteStore {
    /// Connects to the owner's socket (one connection now, more on demand). Err(None) when no
    /// owner answers on the socket; Err(Some(..)) when one of another version does.
    pub fn connect(socket: &Path, data_dir: &Path) -> Result<RemoteStore, Option<StoreError>> {
        let first = Connection::greeted(socket, data_dir)?;
        Ok(RemoteStore {
            socket: socket.to_path_buf(),
            data_dir: data_dir.to_path_buf(),
            idle: Mutex::new(vec![first]),
        })
    }

    /// Sends one request and waits for its response. A broken connection is
    /// [`StoreError::Unavailable`], which tells the caller to find the new owner.
    pub fn call(&self, request: &Request) -> StoreResult<Response> {
        let mut bytes = serde_json::to_vec(request)
            .map_err(|e| StoreError::Corrupt(format!("encoding a request: {e}")))?;
        bytes.push(b'\n');
        let pooled = self.idle.lock().unwrap_or_else(|p| p.into_inner()).pop();
        let mut conn = match pooled {
            Some(conn) => conn,
            None => Connection::greeted(&self.socket, &self.data_dir).map_err(|refused| {
                refused.unwrap_or_else(|| {
                    StoreError::Unavailable("lost the store's owner while connecting".into())
                })
            })?,
        };
        let outcome = conn.call(&bytes, &self.data_dir);
        let healthy = !matches!(
            outcome,
            Err(StoreError::Unavailable(_))
                | Err(StoreError::Corrupt(_))
                | Err(StoreError::OwnerUnresponsive(_))
        );
        if healthy {
            let mut idle = self.idle.lock().unwrap_or_else(|p| p.into_inner());
            if idle.len() < MAX_IDLE {
                idle.push(conn);
            }
        }
        outcome
    }
}

fn unavailable(err: std::io::Error) -> StoreError {
    StoreError::Unavailable(format!("lost the store's owner: {err}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::net::UnixListener;

    #[test]
    fn an_owner_that_accepts_but_never_answers_is_reported_as_hung() {
        let dir = tempfile::tempdir().unwrap();
        let socket = dir.path().join("store.sock");
        let listener = UnixListener::bind(&socket).unwrap();
        // Accepts connections and reads nothing: a hung owner.
        let held = std::thread::spawn(move || {
            let (conn, _) = listener.accept().unwrap();
            std::thread::sleep(Duration::from_secs(4));
            drop(conn);
        });
        let started = Instant::now();
        let refused = RemoteStore::connect(&socket, dir.path()).err();
        assert!(started.elapsed() < GREETING_TIMEOUT + Duration::from_secs(1));
        match refused {
            Some(Some(StoreError::OwnerUnresponsive(why))) => {
                assert!(why.contains("may be hung"), "{why}")
            }
            Some(Some(other)) => panic!("{other}"),
            Some(None) => panic!("a silent owner was taken for no owner"),
            None => panic!("connected to a silent owner"),
        }
        held.join().unwrap();
    }
}
