//! The client side: connections to the owner's socket, one request at a time on each, pooled so
//! that concurrent calls of a busy server do not queue behind one another.

use std::io::{BufRead, BufReader, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::Duration;

use super::error::{StoreError, StoreResult};
use super::wire::{PROTOCOL, Request, Response};

/// How long one request may wait for the owner before the owner is presumed dead.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);
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
    line: String,
}

impl Connection {
    fn open(socket: &Path) -> std::io::Result<Connection> {
        let stream = UnixStream::connect(socket)?;
        stream.set_read_timeout(Some(REQUEST_TIMEOUT))?;
        stream.set_write_timeout(Some(REQUEST_TIMEOUT))?;
        Ok(Connection {
            reader: BufReader::new(stream.try_clone()?),
            writer: stream,
            line: String::new(),
        })
    }

    /// Opens a connection and checks that the owner speaks this build's protocol: every
    /// connection, since the owner may have changed since the last one.
    fn greeted(socket: &Path, data_dir: &Path) -> Result<Connection, Option<StoreError>> {
        let mut conn = Connection::open(socket).map_err(|_| None)?;
        let mut hello = serde_json::to_vec(&Request::Hello { protocol: PROTOCOL })
            .map_err(|e| Some(StoreError::Corrupt(format!("encoding a request: {e}"))))?;
        hello.push(b'\n');
        let owner = match conn.call(&hello) {
            Ok(Response::Hello { protocol, .. }) if protocol == PROTOCOL => return Ok(conn),
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

    fn call(&mut self, bytes: &[u8]) -> StoreResult<Response> {
        self.writer.write_all(bytes).map_err(unavailable)?;
        self.line.clear();
        match self.reader.read_line(&mut self.line) {
            Ok(0) => Err(StoreError::Unavailable(
                "the store's owner closed the connection".into(),
            )),
            Ok(_) => match serde_json::from_str::<Response>(&self.line) {
                Ok(Response::Error { error }) => Err(error.into()),
                Ok(response) => Ok(response),
                Err(e) => Err(StoreError::Corrupt(format!("decoding a response: {e}"))),
            },
            Err(e) => Err(unavailable(e)),
        }
    }
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
        let outcome = conn.call(&bytes);
        let healthy = !matches!(
            outcome,
            Err(StoreError::Unavailable(_)) | Err(StoreError::Corrupt(_))
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
