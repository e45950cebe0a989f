//! The library's write lock, `<dir>/write.lock`: held by `repo add`, `sync`, `remove` and
//! `rebuild`, so that a rebuild never swaps the index under another writer. It sits beside the
//! index folder, not in it, so it stays put when a rebuild swaps that folder.

use std::fs::{File, OpenOptions, TryLockError};
use std::path::Path;

use super::error::{DocsError, Result};

/// An exclusive lock on a library, released when dropped.
#[derive(Debug)]
pub struct WriteLock {
    _file: File,
}

/// Takes the lock, or `DocsError::Locked` when another process holds it.
pub fn try_lock(dir: &Path) -> Result<WriteLock> {
    let file = open(dir)?;
    match file.try_lock() {
        Ok(()) => Ok(WriteLock { _file: file }),
        Err(TryLockError::WouldBlock) => Err(DocsError::Locked),
        Err(TryLockError::Error(e)) => Err(DocsError::io(dir.join("write.lock"), e)),
    }
}

/// Takes the lock, waiting for its holder to finish.
pub fn lock(dir: &Path) -> Result<WriteLock> {
    let file = open(dir)?;
    file.lock()
        .map_err(|e| DocsError::io(dir.join("write.lock"), e))?;
    Ok(WriteLock { _file: file })
}

fn open(dir: &Path) -> Result<File> {
    crate::private_dir::create(dir).map_err(|e| DocsError::io(dir, e))?;
    let path = dir.join("write.lock");
    OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .map_err(|e| DocsError::io(path, e))
}
