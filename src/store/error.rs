//! Errors of the key store.

use std::path::PathBuf;

use crate::domain::Plan;

/// Result of a store operation.
pub type StoreResult<T> = Result<T, StoreError>;

/// What can go wrong in the key store.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The data directory path exists but is not a directory.
    #[error("data dir {0} is a file, not a directory: pass --data-dir with a directory")]
    NotADirectory(PathBuf),
    /// Another process holds the store open.
    #[error(
        "the store in {0} is in use by another docward process; stop it or use another --data-dir"
    )]
    Locked(PathBuf),
    /// The store was written by a newer release.
    #[error(
        "the store in {path} has schema version {found}, newer than this docward supports ({supported}); upgrade docward"
    )]
    NewerSchema {
        /// Where the store lives.
        path: PathBuf,
        /// Version found on disk.
        found: u32,
        /// Highest version this build reads.
        supported: u32,
    },
    /// A record could not be decoded.
    #[error("the store is corrupt: {0}")]
    Corrupt(String),
    /// The embedded database failed.
    #[error("store I/O error: {0}")]
    Db(sled::Error),
    /// The disk (or the user's quota on it) is full: nothing can be written until space is freed.
    #[error(
        "the disk holding docward's store is full ({0}): free some space and try again; a running docward server recovers on its next call, without a restart"
    )]
    DiskFull(String),
    /// The database files cannot be read.
    #[error(
        "the store in {path} cannot be read ({why}); restore that folder from a backup, or move it aside (`mv {path} {path}.damaged`) to start an empty store and create tenants and keys again"
    )]
    CorruptFiles {
        /// The database folder.
        path: PathBuf,
        /// What sled reported.
        why: String,
    },
    /// Creating a tenant whose name is taken.
    #[error("tenant '{0}' already exists")]
    TenantExists(String),
    /// No tenant of that name.
    #[error("no tenant named '{name}'{hint}")]
    UnknownTenant {
        /// The name asked for.
        name: String,
        /// A hint listing the known tenants, or how to create one.
        hint: String,
    },
    /// No key with that id or prefix.
    #[error("no key with id or prefix '{0}': see `docward key list`")]
    UnknownKey(String),
    /// A prefix that matches several keys.
    #[error("'{0}' matches several keys: use the key id from `docward key list`")]
    AmbiguousKey(String),
    /// The tenant's plan allows no more active keys.
    #[error(
        "tenant '{tenant}' is on the {plan} plan, which allows {cap} active keys; revoke one (`docward key revoke ID`) or raise the cap"
    )]
    KeyCapReached {
        /// The tenant.
        tenant: String,
        /// Its plan.
        plan: Plan,
        /// The cap in force.
        cap: u64,
    },
    /// The process that owns the store could not be reached (and none could take over).
    #[error("{0}")]
    Unavailable(String),
    /// The owner's process is stopped or hung: it holds the store but does not answer.
    #[error("{0}")]
    OwnerUnresponsive(String),
    /// The store is served by a docward process that speaks another version of the protocol.
    #[error(
        "the store in {data_dir} is served by another docward version ({owner}); this is docward {ours}. Stop that process (quit the MCP clients or servers that started it, or restart them after upgrading) and try again"
    )]
    OwnerVersion {
        /// The data dir.
        data_dir: String,
        /// What the owner said of itself.
        owner: String,
        /// This build's version.
        ours: String,
    },
    /// The store's owner reported a failure of its own.
    #[error("the store's owner failed: {0}")]
    Remote(String),
    /// Revoking or rotating a key that is already revoked.
    #[error("key {0} is already revoked")]
    AlreadyRevoked(String),
}

impl From<sled::Error> for StoreError {
    fn from(err: sled::Error) -> Self {
        match &err {
            sled::Error::Io(io) if is_disk_full(io) => StoreError::DiskFull(
                if io.kind() == std::io::ErrorKind::QuotaExceeded {
                    "disk quota exceeded"
                } else {
                    "no space left on device"
                }
                .to_owned(),
            ),
            _ => StoreError::Db(err),
        }
    }
}

/// Whether an I/O error says the disk or the user's quota is full.
pub(crate) fn is_disk_full(err: &std::io::Error) -> bool {
    const ENOSPC: i32 = 28;
    const EDQUOT: i32 = 122;
    err.kind() == std::io::ErrorKind::StorageFull
        || err.kind() == std::io::ErrorKind::QuotaExceeded
        || matches!(err.raw_os_error(), Some(ENOSPC | EDQUOT))
}

impl StoreError {
    /// Whether the database failed in a way that leaves an open sled instance unusable (sled
    /// keeps the first I/O error and returns it for every later call): the owner reopens it.
    pub(crate) fn poisons_the_database(&self) -> bool {
        matches!(
            self,
            StoreError::DiskFull(_) | StoreError::Db(sled::Error::Io(_))
        )
    }

    /// A stable snake_case code for machines.
    pub fn code(&self) -> &'static str {
        match self {
            StoreError::NotADirectory(_) => "data_dir_not_a_directory",
            StoreError::Locked(_) => "store_locked",
            StoreError::NewerSchema { .. } => "store_too_new",
            StoreError::DiskFull(_) => "disk_full",
            StoreError::CorruptFiles { .. } => "store_corrupt",
            StoreError::Corrupt(_)
            | StoreError::Db(_)
            | StoreError::Unavailable(_)
            | StoreError::Remote(_) => "internal",
            StoreError::OwnerVersion { .. } => "store_owner_version",
            StoreError::OwnerUnresponsive(_) => "store_owner_unresponsive",
            StoreError::TenantExists(_) => "tenant_exists",
            StoreError::UnknownTenant { .. } => "unknown_tenant",
            StoreError::UnknownKey(_) => "unknown_key",
            StoreError::AmbiguousKey(_) => "ambiguous_key",
            StoreError::KeyCapReached { .. } => "key_cap_reached",
            StoreError::AlreadyRevoked(_) => "key_revoked",
        }
    }
}
