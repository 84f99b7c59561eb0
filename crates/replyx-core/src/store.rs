//! The `Store` seam: the dialog log and the records around it. Seq assignment,
//! `client_msg_id` idempotency and "one open dialog per guest" live in the database
//! (transactions and unique indexes), never in process memory, so several processes on
//! one database stay correct.

use crate::bus::Signal;
use crate::error::StoreError;
use crate::handoff::HandoffAction;
use crate::model::{
    Assistant, AssistantPatch, DialogQuery, DialogRecord, NewAssistant, NewMessage, NewOperator,
    Operator, OperatorRecord, StoredEvent, Stream,
};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use replyx_protocol::{AssistantId, DialogId, DialogSummary, GuestId, OperatorId, Reader, Seq};

/// Result of appending a message.
#[derive(Debug, Clone)]
pub struct Appended {
    /// The stored event (the first one, for a repeated `client_msg_id`).
    pub event: StoredEvent,
    /// `true` when the `client_msg_id` was already stored and nothing new was written.
    pub duplicate: bool,
}

/// Where a change feed reader is: the newest event row and signal row it has seen.
/// On SQLite row ids grow in commit order, so a row id is the whole position; on
/// PostgreSQL rows are ordered by (writing transaction, row id), and the `*_tx` fields
/// hold the transaction part (0 on SQLite).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ChangeCursor {
    /// Newest event row id seen.
    pub event_row: i64,
    /// Newest signal row id seen.
    pub signal_row: i64,
    /// Transaction of the newest event row seen (PostgreSQL).
    pub event_tx: i64,
    /// Transaction of the newest signal row seen (PostgreSQL).
    pub signal_tx: i64,
}

/// New rows written by other processes since a cursor.
#[derive(Debug, Clone, Default)]
pub struct ChangeBatch {
    /// Stored events, in commit order.
    pub events: Vec<StoredEvent>,
    /// Ephemeral signals, in commit order.
    pub signals: Vec<Signal>,
    /// The cursor after these rows.
    pub cursor: ChangeCursor,
    /// The page was full (of either table): more rows may follow at once.
    pub more: bool,
}

/// The persistent log and records. Implemented by `SqliteStore` (and `PgStore`).
#[async_trait]
pub trait Store: Send + Sync + 'static {
    /// Checks the database answers (readiness).
    async fn ping(&self) -> Result<(), StoreError>;

    /// Creates an operator; `Conflict` when the e-mail is taken.
    async fn create_operator(&self, new: NewOperator) -> Result<Operator, StoreError>;
    /// Finds an operator by login e-mail (case-insensitive), with the password hash.
    async fn operator_by_email(&self, email: &str) -> Result<Option<OperatorRecord>, StoreError>;
    /// Finds an operator.
    async fn operator(&self, id: OperatorId) -> Result<Option<Operator>, StoreError>;

    /// Creates an assistant.
    async fn create_assistant(&self, new: NewAssistant) -> Result<Assistant, StoreError>;
    /// Updates an assistant; `NotFound` when it does not exist.
    async fn update_assistant(
        &self,
        id: AssistantId,
        patch: AssistantPatch,
    ) -> Result<Assistant, StoreError>;
    /// Finds an assistant.
    async fn assistant(&self, id: AssistantId) -> Result<Option<Assistant>, StoreError>;
    /// Every assistant, oldest first.
    async fn list_assistants(&self) -> Result<Vec<Assistant>, StoreError>;

    /// Returns the guest's open dialog with this assistant, or creates one and, in the
    /// same transaction, stores the welcome message as seq 1. The flag is `true` when
    /// the dialog was created. Concurrent calls for one guest return one dialog.
    async fn open_dialog(
        &self,
        assistant: &Assistant,
        guest: &GuestId,
    ) -> Result<(DialogRecord, Vec<StoredEvent>, bool), StoreError>;
    /// Finds a dialog.
    async fn dialog(&self, id: DialogId) -> Result<Option<DialogRecord>, StoreError>;
    /// The inbox list, newest activity first.
    async fn list_dialogs(&self, query: DialogQuery) -> Result<Vec<DialogSummary>, StoreError>;
    /// One inbox row.
    async fn dialog_summary(&self, id: DialogId) -> Result<Option<DialogSummary>, StoreError>;

    /// Appends a message with the next seq, idempotently on `client_msg_id`.
    async fn append_message(&self, message: NewMessage) -> Result<Appended, StoreError>;
    /// Applies a handoff action and stores its `dialog.status` event and system notice
    /// atomically. Empty when nothing changed.
    async fn handoff(
        &self,
        dialog: DialogId,
        action: HandoffAction,
        max_held: u64,
    ) -> Result<Vec<StoredEvent>, StoreError>;
    /// The newest `dialog.status` event, if any.
    async fn last_status_event(&self, dialog: DialogId) -> Result<Option<StoredEvent>, StoreError>;
    /// Events of `stream` with `seq > since`, in order, at most `limit`.
    async fn events_since(
        &self,
        dialog: DialogId,
        since: Seq,
        limit: u32,
        stream: Stream,
    ) -> Result<Vec<StoredEvent>, StoreError>;
    /// The newest `limit` events of `stream`, in order.
    async fn recent_events(
        &self,
        dialog: DialogId,
        limit: u32,
        stream: Stream,
    ) -> Result<Vec<StoredEvent>, StoreError>;
    /// Moves a side's read mark forward (never back, never past the newest seq) and
    /// returns the mark now stored.
    async fn mark_read(
        &self,
        dialog: DialogId,
        reader: Reader,
        up_to: Seq,
    ) -> Result<Seq, StoreError>;

    /// Deletes all but the newest `keep` events of a dialog (the server's canary dialog
    /// only: other dialogs keep their whole log). Returns how many were deleted.
    async fn trim_events(&self, dialog: DialogId, keep: u32) -> Result<u64, StoreError>;

    /// Stores an ephemeral signal (typing, read, inbox) for other processes' feeds.
    async fn append_signal(&self, signal: &Signal) -> Result<(), StoreError>;
    /// The cursor at the newest rows now.
    async fn change_cursor(&self) -> Result<ChangeCursor, StoreError>;
    /// Rows written by *other* processes after `cursor`.
    async fn changes_since(
        &self,
        cursor: ChangeCursor,
        limit: u32,
    ) -> Result<ChangeBatch, StoreError>;
    /// Deletes signals older than `before`; returns how many.
    async fn prune_signals(&self, before: DateTime<Utc>) -> Result<u64, StoreError>;
}
