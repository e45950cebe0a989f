//! Errors of reminder delivery.

use std::path::PathBuf;

use crate::store::StoreError;

/// Result of a reminder operation.
pub type ReminderResult<T> = Result<T, ReminderError>;

/// What can go wrong while scanning for or sending reminders.
#[derive(Debug, thiserror::Error)]
pub enum ReminderError {
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The webhook key file could not be read or written.
    #[error("webhook key {0}: {1}")]
    Secret(PathBuf, std::io::Error),
    /// The SMTP URL or From address is unusable.
    #[error("{0}")]
    MailConfig(String),
    /// A webhook URL is unusable.
    #[error("{0}")]
    WebhookConfig(String),
}
