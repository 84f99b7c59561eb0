//! Errors a store reports, in domain terms the HTTP layer maps to status codes.

use crate::handoff::HandoffError;

/// Why a store operation failed.
#[derive(Debug, Clone, thiserror::Error)]
pub enum StoreError {
    /// The dialog, assistant or operator does not exist.
    #[error("not found")]
    NotFound,
    /// The dialog is closed and takes no more messages.
    #[error("dialog is closed")]
    DialogClosed,
    /// A conditional append found the dialog in another status (the bot's reply after
    /// an operator took over); nothing was stored.
    #[error("dialog status changed")]
    StatusChanged,
    /// A unique value is taken.
    #[error("conflict: {0}")]
    Conflict(String),
    /// A handoff action was refused.
    #[error("handoff refused: {0:?}")]
    Handoff(HandoffError),
    /// The database is busy, locked by another writer for too long, or unreachable, or
    /// this process's writer has stopped: nothing was written, and the same request
    /// may succeed later (HTTP 503 `unavailable`).
    #[error("store unavailable: {0}")]
    Unavailable(String),
    /// The database failed otherwise; details are for logs.
    #[error("store backend: {0}")]
    Backend(String),
}
