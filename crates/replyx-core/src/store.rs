//! The `Store` seam: the dialog log and the records around it. Seq assignment,
//! `client_msg_id` idempotency and "one open dialog per guest" live in the database
//! (transactions and unique indexes), never in process memory, so several processes on
//! one database stay correct.

use crate::accounts::{NewSession, OperatorPatch, SessionRecord};
use crate::bus::Signal;
use crate::canned::CannedResponse;
use crate::error::StoreError;
use crate::handoff::HandoffAction;
use crate::identity::{GuestDialog, IdentityKey};
use crate::model::{
    Assistant, AssistantPatch, DialogQuery, DialogRecord, NewAssistant, NewMessage, NewOperator,
    Operator, OperatorRecord, StoredEvent, Stream,
};
use crate::presence::{OperatorPresence, PresenceChange};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use replyx_protocol::{
    AssistantId, DialogId, DialogSummary, GuestId, OperatorId, PresenceState, Rating, Reader, Seq,
    SessionId, VisitorContext, VisitorIdentity,
};

/// Result of appending a message.
#[derive(Debug, Clone)]
pub struct Appended {
    /// The stored event (the first one, for a repeated `client_msg_id`).
    pub event: StoredEvent,
    /// `true` when the `client_msg_id` was already stored and nothing new was written.
    pub duplicate: bool,
    /// The dialog as the append saw it under the write lock, for a new message, so
    /// whoever reacts to the message (the assistant) needs no read of its own; `None`
    /// for a repeated `client_msg_id`.
    pub dialog: Option<AppendedTo>,
}

/// The dialog a new message was stored in, as it was then.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AppendedTo {
    /// Its status (a message does not change it).
    pub status: replyx_protocol::DialogStatus,
    /// Its assistant.
    pub assistant_id: AssistantId,
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
    /// Every operator that is not removed, oldest first.
    async fn list_operators(&self) -> Result<Vec<Operator>, StoreError>;
    /// Changes an operator; `NotFound` when unknown or removed.
    async fn update_operator(
        &self,
        id: OperatorId,
        patch: OperatorPatch,
    ) -> Result<Operator, StoreError>;
    /// The operator's password hash, for a password change.
    async fn operator_password_hash(&self, id: OperatorId) -> Result<Option<String>, StoreError>;

    /// Stores a login session.
    async fn create_session(&self, session: NewSession) -> Result<(), StoreError>;
    /// A session with its operator as they are now.
    async fn session(&self, id: SessionId) -> Result<Option<SessionRecord>, StoreError>;
    /// Ends one session; false when it was unknown or already ended.
    async fn revoke_session(&self, id: SessionId) -> Result<bool, StoreError>;
    /// Ends every session of an operator but `keep`; returns how many ended.
    async fn revoke_sessions(
        &self,
        operator: OperatorId,
        keep: Option<SessionId>,
    ) -> Result<u64, StoreError>;
    /// Stores a socket ticket (by its hash) for a session, and drops expired tickets.
    async fn create_ticket(
        &self,
        hash: &str,
        session: SessionId,
        expires_at: DateTime<Utc>,
    ) -> Result<(), StoreError>;
    /// Takes a ticket: at most one caller, on any process, gets its session, and only
    /// before it expires.
    async fn take_ticket(&self, hash: &str) -> Result<Option<SessionId>, StoreError>;

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

    /// Adds an identity key to an assistant; `Conflict` when the assistant already has
    /// a key with this id, `NotFound` when the assistant does not exist.
    async fn add_identity_key(
        &self,
        assistant: AssistantId,
        key: IdentityKey,
    ) -> Result<(), StoreError>;
    /// The assistant's identity keys, oldest first.
    async fn identity_keys(&self, assistant: AssistantId) -> Result<Vec<IdentityKey>, StoreError>;
    /// Removes one identity key; `false` when there was none with this id.
    async fn remove_identity_key(
        &self,
        assistant: AssistantId,
        kid: &str,
    ) -> Result<bool, StoreError>;
    /// The guest id of a verified user of this assistant: the same one on every call
    /// and every process (created on the first), so the user's dialogs follow them
    /// from device to device. Stores the name and e-mail as now signed.
    async fn identify_visitor(
        &self,
        assistant: AssistantId,
        identity: &VisitorIdentity,
    ) -> Result<GuestId, StoreError>;
    /// The verified user a guest id belongs to, if it belongs to one.
    async fn verified_visitor(
        &self,
        assistant: AssistantId,
        guest: &GuestId,
    ) -> Result<Option<VisitorIdentity>, StoreError>;
    /// The guest's dialogs with this assistant, newest activity first, at most `limit`,
    /// each with its newest message a visitor may see.
    async fn guest_dialogs(
        &self,
        assistant: AssistantId,
        guest: &GuestId,
        limit: u32,
    ) -> Result<Vec<GuestDialog>, StoreError>;

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

    /// Appends a message with the next seq, idempotently on `client_msg_id` per sender
    /// (another sender's message with the same key is a new message).
    async fn append_message(&self, message: NewMessage) -> Result<Appended, StoreError>;
    /// Applies a handoff action and stores its `dialog.status` event and system notice
    /// atomically. Empty when nothing changed. `max_held` is the capacity of operators
    /// without their own; the assistant's `release_to` decides where a released dialog
    /// goes; the queue's bookkeeping (when a dialog joined it, how long a picked-up one
    /// waited) is written in the same transaction.
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
    /// The newest seq of the visitor stream at or below `seq` (0 when there is none):
    /// where a position of the admin stream, such as a read mark, falls in the
    /// visitor's. Marks shown to visitors go through it, because a mark counted in the
    /// admin stream's numbering tells a visitor how many internal notes follow the last
    /// event they saw.
    async fn visitor_position(&self, dialog: DialogId, seq: Seq) -> Result<Seq, StoreError>;

    /// Deletes all but the newest `keep` events of a dialog (the server's canary dialog
    /// only: other dialogs keep their whole log). Returns how many were deleted.
    async fn trim_events(&self, dialog: DialogId, keep: u32) -> Result<u64, StoreError>;

    /// Records that consoles of these operators are open on this process now.
    async fn presence_seen(&self, operators: &[OperatorId]) -> Result<(), StoreError>;
    /// Sets what an operator chose for while a console of theirs is open: online or away.
    async fn set_presence_choice(
        &self,
        operator: OperatorId,
        chosen: PresenceState,
    ) -> Result<(), StoreError>;
    /// Moves each operator's announced state to the effective one (a console seen after
    /// `seen_after`: what they chose; otherwise offline) and returns the changes *this*
    /// call made: of several processes settling at once, each change is returned once.
    async fn settle_presence(
        &self,
        seen_after: DateTime<Utc>,
    ) -> Result<Vec<PresenceChange>, StoreError>;
    /// Every active operator's announced presence and load (`default_max`: the capacity
    /// of those without their own).
    async fn presence(&self, default_max: u64) -> Result<Vec<OperatorPresence>, StoreError>;

    /// Gives the longest-waiting dialog of an auto-assigning assistant to an operator
    /// announced online, with room under their capacity: the least loaded, then the one
    /// given a dialog longest ago. One transaction; `None` when no dialog waits or no
    /// operator fits. Two calls at once never give one dialog twice or overfill an
    /// operator.
    async fn assign_next(&self, default_max: u64) -> Result<Option<Vec<StoredEvent>>, StoreError>;
    /// The open dialogs an operator holds.
    async fn held_dialogs(&self, operator: OperatorId) -> Result<Vec<DialogId>, StoreError>;
    /// An assistant's queue: its dialogs waiting for an operator, longest waiting first.
    async fn queue(&self, assistant: AssistantId) -> Result<Vec<DialogId>, StoreError>;
    /// How long the most recent pickups from an assistant's queue waited, in
    /// milliseconds, newest first: at most `limit`, picked up after `since`.
    async fn recent_waits(
        &self,
        assistant: AssistantId,
        since: DateTime<Utc>,
        limit: u32,
    ) -> Result<Vec<u64>, StoreError>;

    /// Keeps the page the visitor chats from, as the widget reported it.
    async fn set_context(
        &self,
        dialog: DialogId,
        context: &VisitorContext,
    ) -> Result<(), StoreError>;
    /// Stores the visitor's rating of a closed dialog as a `dialog.rated` event:
    /// `InvalidTransition` before the dialog is closed, `Conflict` when it was rated.
    async fn rate(&self, dialog: DialogId, rating: Rating) -> Result<StoredEvent, StoreError>;

    /// An assistant's canned responses, by shortcut.
    async fn canned_responses(
        &self,
        assistant: AssistantId,
    ) -> Result<Vec<CannedResponse>, StoreError>;
    /// Adds one: `Conflict` for a shortcut the assistant has, `NotFound` for no assistant.
    async fn add_canned_response(&self, response: CannedResponse) -> Result<(), StoreError>;
    /// Changes one's shortcut or text; `NotFound`, or `Conflict` for a taken shortcut.
    async fn update_canned_response(
        &self,
        id: &str,
        shortcut: Option<String>,
        text: Option<String>,
    ) -> Result<CannedResponse, StoreError>;
    /// Removes one; `false` when there was none.
    async fn remove_canned_response(&self, id: &str) -> Result<bool, StoreError>;

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
