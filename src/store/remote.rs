//! The client side: one connection to the owner's socket, requests sent one at a time.

use std::io::{BufRead, BufReader, Write};
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::sync::Mutex;
use std::time::Duration;

use super::error::{StoreError, StoreResult};
use super::wire::{Request, Response};

/// How long one request may wait for the owner before the owner is presumed dead.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);

/// A connection to the owner of a store.
pub struct RemoteStore {
    conn: Mutex<Connection>,
}

struct Connection {
    reader: BufReader<UnixStream>,
    writer: UnixStream,
    line: String,
}

impl RemoteStore {
    /// Connects to the owner's socket.
    pub fn connect(socket: &Path) -> std::io::Result<RemoteStore> {
        let stream = UnixStream::connect(socket)?;
        stream.set_read_timeout(Some(REQUEST_TIMEOUT))?;
        stream.set_write_timeout(Some(REQUEST_TIMEOUT))?;
        Ok(RemoteStore {
            conn: Mutex::new(Connection {
                reader: BufReader::new(stream.try_clone()?),
                writer: stream,
                line: String::new(),
            }),
        })
    }

    /// Sends one request and waits for its response. A broken connection is
    /// [`StoreError::Unavailable`], which tells the caller to find the new owner.
    pub fn call(&self, request: &Request) -> StoreResult<Response> {
        let mut conn = self.conn.lock().unwrap_or_else(|p| p.into_inner());
        let Connection {
            reader,
            writer,
            line,
        } = &mut *conn;
        let mut bytes = serde_json::to_vec(request)
            .map_err(|e| StoreError::Corrupt(format!("encoding a request: {e}")))?;
        bytes.push(b'\n');
        writer.write_all(&bytes).map_err(unavailable)?;
        line.clear();
        match reader.read_line(line) {
            Ok(0) => Err(StoreError::Unavailable(
                "the store's owner closed the connection".into(),
            )),
            Ok(_) => match serde_json::from_str::<Response>(line) {
                Ok(Response::Error { error }) => Err(error.into()),
                Ok(response) => Ok(response),
                Err(e) => Err(StoreError::Corrupt(format!("decoding a response: {e}"))),
            },
            Err(e) => Err(unavailable(e)),
        }
    }
}

fn unavailable(err: std::io::Error) -> StoreError {
    StoreError::Unavailable(format!("lost the store's owner: {err}"))
}
