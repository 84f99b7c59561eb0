//! `SqliteStore`: the embedded default. Writes go through one connection per process
//! and open with `BEGIN IMMEDIATE`, so a transaction that reads a dialog's last seq and
//! appends the next one cannot interleave with another writer, in this process or in
//! another process on the same file (a blue-green pair). Reads use a separate pool.
//!
//! Over 400 lines because it holds the one `Store` implementation: each method is a
//! few lines handing over to the submodule of its concept (dialogs, events, routing,
//! presence, …), where the SQL lives.

#[cfg(test)]
mod append_fixtures;
mod assistants;
mod batch_commit;
mod borrowed;
mod changes;
mod checkpoint;
mod connections;
pub use checkpoint::Checkpoint;
mod canned;
mod dialogs;
mod events;
mod feedback;
mod group_commit;
mod identity;
mod message_batch;
mod operators;
mod presence;
mod routing;
mod rows;
mod sessions;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use replyx_core::bus::Signal;
use replyx_core::handoff::HandoffAction;
use replyx_core::model::{DialogQuery, DialogRecord};
use replyx_core::store::ChangeCursor;
use replyx_core::{
    Appended, Assistant, AssistantPatch, CannedResponse, ChangeBatch, GuestDialog, IdentityKey,
    NewAssistant, NewMessage, NewOperator, NewSession, Operator, OperatorPatch, OperatorPresence,
    OperatorRecord, PresenceChange, SessionRecord, Store, StoreError, StoredEvent, Stream,
};
use replyx_protocol::{
    AssistantId, DialogId, DialogSummary, GuestId, OperatorId, PresenceState, Rating, Reader, Seq,
    SessionId, VisitorContext, VisitorIdentity,
};
use sqlx::SqlitePool;
use std::time::Duration;

/// How long readiness waits for the writer to show it can write.
const PING_TIMEOUT: Duration = Duration::from_secs(2);

/// The SQLite store. Cloning shares the pools.
#[derive(Clone, Debug)]
pub struct SqliteStore {
    write: SqlitePool,
    read: SqlitePool,
    /// Message appends, batched into shared transactions on the write connection.
    appends: group_commit::GroupCommit,
    /// The background checkpointer's last result (files only), and the guard that stops
    /// it when the last clone of the store is dropped.
    checkpoints: Option<(
        tokio::sync::watch::Receiver<checkpoint::Checkpoint>,
        std::sync::Arc<tokio_util::sync::DropGuard>,
    )>,
    /// The checkpointer's requests to the writer to start the WAL over.
    wal_restart: std::sync::Arc<checkpoint::WalRestart>,
    /// This process's id, written on events and signals so that the change feed
    /// returns only other processes' rows.
    origin: String,
}

impl SqliteStore {
    /// Opens (creating if missing) the database at `url` (`sqlite://path` or
    /// `sqlite::memory:`) and applies migrations. `origin` names this process.
    ///
    /// # Errors
    /// The database cannot be opened or migrated.
    pub async fn build(url: &str, origin: &str) -> Result<Self, StoreError> {
        let pools = connections::open(url).await?;
        let wal_restart = std::sync::Arc::new(checkpoint::WalRestart::default());
        let checkpoints = pools.checkpointer.map(|pool| {
            let stop = tokio_util::sync::CancellationToken::new();
            let status = checkpoint::start(
                pool,
                checkpoint::INTERVAL,
                checkpoint::RESTART_FRAMES,
                wal_restart.clone(),
                stop.clone(),
            );
            (status, std::sync::Arc::new(stop.drop_guard()))
        });
        let (write, read) = (pools.write, pools.read);
        let store = Self {
            checkpoints,
            appends: group_commit::GroupCommit::start(
                write.clone(),
                origin.to_owned(),
                wal_restart.clone(),
            ),
            wal_restart,
            write,
            read,
            origin: origin.to_owned(),
        };
        store.migrate().await?;
        Ok(store)
    }

    /// The same database, written under another origin: what it appends and signals
    /// appears in this store's change feed like another process's rows. The delivery
    /// canary writes through one, so that its round trip crosses the change feed every
    /// other process relies on. It has its own writer thread on the shared connection.
    pub fn with_origin(&self, origin: &str) -> SqliteStore {
        SqliteStore {
            appends: group_commit::GroupCommit::start(
                self.write.clone(),
                origin.to_owned(),
                self.wal_restart.clone(),
            ),
            origin: origin.to_owned(),
            ..self.clone()
        }
    }

    /// Applies pending migrations (idempotent).
    ///
    /// # Errors
    /// A migration fails.
    pub async fn migrate(&self) -> Result<(), StoreError> {
        sqlx::migrate!("./migrations/sqlite")
            .run(&self.write)
            .await
            .map_err(|e| StoreError::Backend(e.to_string()))
    }

    /// The background checkpointer's reports, each sent as a checkpoint runs (for
    /// metrics); `None` for an in-memory store, which has no WAL.
    pub fn checkpoints(&self) -> Option<tokio::sync::watch::Receiver<checkpoint::Checkpoint>> {
        self.checkpoints.as_ref().map(|(status, _)| status.clone())
    }

    /// Waits for the next checkpoint after this call; `None` for an in-memory store.
    pub async fn next_checkpoint(&self) -> Option<checkpoint::Checkpoint> {
        let (status, _) = self.checkpoints.as_ref()?;
        let mut status = status.clone();
        status.mark_unchanged();
        status.changed().await.ok()?;
        let next = *status.borrow();
        Some(next)
    }

    async fn begin(&self) -> Result<sqlx::Transaction<'static, sqlx::Sqlite>, StoreError> {
        self.write
            .begin_with("BEGIN IMMEDIATE")
            .await
            .map_err(backend)
    }
}

/// Maps a database error: unique violations are conflicts; a busy or locked database,
/// a pool that timed out or closed, and I/O failures are `Unavailable` (a later try
/// may succeed); the rest is `Backend`.
pub(crate) fn backend(e: sqlx::Error) -> StoreError {
    match &e {
        sqlx::Error::Database(db) if db.is_unique_violation() => {
            return StoreError::Conflict(db.message().to_owned())
        }
        // SQLITE_BUSY (5) and SQLITE_LOCKED (6), with their extended codes.
        sqlx::Error::Database(db)
            if db
                .code()
                .and_then(|c| c.parse::<i32>().ok())
                .is_some_and(|c| matches!(c & 0xff, 5 | 6)) =>
        {
            return StoreError::Unavailable(e.to_string())
        }
        sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::WorkerCrashed
        | sqlx::Error::Io(_) => return StoreError::Unavailable(e.to_string()),
        _ => {}
    }
    StoreError::Backend(e.to_string())
}

#[async_trait]
impl Store for SqliteStore {
    async fn ping(&self) -> Result<(), StoreError> {
        sqlx::query("SELECT 1")
            .execute(&self.read)
            .await
            .map_err(backend)?;
        match tokio::time::timeout(PING_TIMEOUT, self.appends.ping()).await {
            Ok(answer) => answer,
            Err(_) => Err(StoreError::Unavailable(format!(
                "the writer did not take the write lock within {PING_TIMEOUT:?}"
            ))),
        }
    }

    async fn create_operator(&self, new: NewOperator) -> Result<Operator, StoreError> {
        operators::create(&self.write, new).await
    }

    async fn operator_by_email(&self, email: &str) -> Result<Option<OperatorRecord>, StoreError> {
        operators::by_email(&self.read, email).await
    }

    async fn operator(&self, id: OperatorId) -> Result<Option<Operator>, StoreError> {
        operators::by_id(&self.read, id).await
    }

    async fn list_operators(&self) -> Result<Vec<Operator>, StoreError> {
        operators::list(&self.read).await
    }

    async fn update_operator(
        &self,
        id: OperatorId,
        patch: OperatorPatch,
    ) -> Result<Operator, StoreError> {
        operators::update(&self.write, id, patch).await
    }

    async fn operator_password_hash(&self, id: OperatorId) -> Result<Option<String>, StoreError> {
        operators::password_hash(&self.read, id).await
    }

    async fn create_session(&self, session: NewSession) -> Result<(), StoreError> {
        sessions::create(&self.write, session).await
    }

    async fn session(&self, id: SessionId) -> Result<Option<SessionRecord>, StoreError> {
        sessions::get(&self.read, id).await
    }

    async fn revoke_session(&self, id: SessionId) -> Result<bool, StoreError> {
        sessions::revoke(&self.write, id).await
    }

    async fn revoke_sessions(
        &self,
        operator: OperatorId,
        keep: Option<SessionId>,
    ) -> Result<u64, StoreError> {
        sessions::revoke_all(&self.write, operator, keep).await
    }

    async fn create_ticket(
        &self,
        hash: &str,
        session: SessionId,
        expires_at: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        sessions::create_ticket(&self.write, hash, session, expires_at).await
    }

    async fn take_ticket(&self, hash: &str) -> Result<Option<SessionId>, StoreError> {
        sessions::take_ticket(&self.write, hash).await
    }

    async fn create_assistant(&self, new: NewAssistant) -> Result<Assistant, StoreError> {
        assistants::create(&self.write, new).await
    }

    async fn update_assistant(
        &self,
        id: AssistantId,
        patch: AssistantPatch,
    ) -> Result<Assistant, StoreError> {
        let mut tx = self.begin().await?;
        let updated = assistants::update(&mut tx, id, patch).await?;
        tx.commit().await.map_err(backend)?;
        Ok(updated)
    }

    async fn assistant(&self, id: AssistantId) -> Result<Option<Assistant>, StoreError> {
        assistants::by_id(&self.read, id).await
    }

    async fn list_assistants(&self) -> Result<Vec<Assistant>, StoreError> {
        assistants::list(&self.read).await
    }

    async fn add_identity_key(
        &self,
        assistant: AssistantId,
        key: IdentityKey,
    ) -> Result<(), StoreError> {
        identity::add_key(&self.write, assistant, key).await
    }

    async fn identity_keys(&self, assistant: AssistantId) -> Result<Vec<IdentityKey>, StoreError> {
        identity::keys(&self.read, assistant).await
    }

    async fn remove_identity_key(
        &self,
        assistant: AssistantId,
        kid: &str,
    ) -> Result<bool, StoreError> {
        identity::remove_key(&self.write, assistant, kid).await
    }

    async fn identify_visitor(
        &self,
        assistant: AssistantId,
        identity: &VisitorIdentity,
    ) -> Result<GuestId, StoreError> {
        identity::identify(&self.write, assistant, identity).await
    }

    async fn verified_visitor(
        &self,
        assistant: AssistantId,
        guest: &GuestId,
    ) -> Result<Option<VisitorIdentity>, StoreError> {
        identity::verified(&self.read, assistant, guest).await
    }

    async fn guest_dialogs(
        &self,
        assistant: AssistantId,
        guest: &GuestId,
        limit: u32,
    ) -> Result<Vec<GuestDialog>, StoreError> {
        identity::guest_dialogs(&self.read, assistant, guest, limit).await
    }

    async fn open_dialog(
        &self,
        assistant: &Assistant,
        guest: &GuestId,
    ) -> Result<(DialogRecord, Vec<StoredEvent>, bool), StoreError> {
        let mut tx = self.begin().await?;
        let opened = dialogs::open(&mut tx, assistant, guest, &self.origin).await?;
        tx.commit().await.map_err(backend)?;
        Ok(opened)
    }

    async fn dialog(&self, id: DialogId) -> Result<Option<DialogRecord>, StoreError> {
        dialogs::by_id(&self.read, id).await
    }

    async fn list_dialogs(&self, query: DialogQuery) -> Result<Vec<DialogSummary>, StoreError> {
        dialogs::list(&self.read, query).await
    }

    async fn dialog_summary(&self, id: DialogId) -> Result<Option<DialogSummary>, StoreError> {
        dialogs::summary(&self.read, id).await
    }

    async fn append_message(&self, message: NewMessage) -> Result<Appended, StoreError> {
        self.appends.append(message).await
    }

    async fn handoff(
        &self,
        dialog: DialogId,
        action: HandoffAction,
        max_held: u64,
    ) -> Result<Vec<StoredEvent>, StoreError> {
        let mut tx = self.begin().await?;
        let stored = routing::handoff(&mut tx, dialog, action, max_held, &self.origin).await?;
        tx.commit().await.map_err(backend)?;
        Ok(stored)
    }

    async fn last_status_event(&self, dialog: DialogId) -> Result<Option<StoredEvent>, StoreError> {
        events::last_status(&self.read, dialog).await
    }

    async fn events_since(
        &self,
        dialog: DialogId,
        since: Seq,
        limit: u32,
        stream: Stream,
    ) -> Result<Vec<StoredEvent>, StoreError> {
        events::since(&self.read, dialog, since, limit, stream).await
    }

    async fn recent_events(
        &self,
        dialog: DialogId,
        limit: u32,
        stream: Stream,
    ) -> Result<Vec<StoredEvent>, StoreError> {
        events::recent(&self.read, dialog, limit, stream).await
    }

    async fn mark_read(
        &self,
        dialog: DialogId,
        reader: Reader,
        up_to: Seq,
    ) -> Result<Seq, StoreError> {
        let mut tx = self.begin().await?;
        let mark = dialogs::mark_read(&mut tx, dialog, reader, up_to).await?;
        tx.commit().await.map_err(backend)?;
        Ok(mark)
    }

    async fn visitor_position(&self, dialog: DialogId, seq: Seq) -> Result<Seq, StoreError> {
        events::visitor_position(&self.read, dialog, seq).await
    }

    async fn trim_events(&self, dialog: DialogId, keep: u32) -> Result<u64, StoreError> {
        events::trim(&self.write, dialog, keep).await
    }

    async fn presence_seen(&self, operators: &[OperatorId]) -> Result<(), StoreError> {
        let mut tx = self.begin().await?;
        presence::seen(&mut tx, operators).await?;
        tx.commit().await.map_err(backend)
    }

    async fn set_presence_choice(
        &self,
        operator: OperatorId,
        chosen: PresenceState,
    ) -> Result<(), StoreError> {
        presence::choose(&self.write, operator, chosen).await
    }

    async fn settle_presence(
        &self,
        seen_after: DateTime<Utc>,
    ) -> Result<Vec<PresenceChange>, StoreError> {
        let mut tx = self.begin().await?;
        let changes = presence::settle(&mut tx, seen_after).await?;
        tx.commit().await.map_err(backend)?;
        Ok(changes)
    }

    async fn presence(&self, default_max: u64) -> Result<Vec<OperatorPresence>, StoreError> {
        presence::list(&self.read, default_max).await
    }

    async fn assign_next(&self, default_max: u64) -> Result<Option<Vec<StoredEvent>>, StoreError> {
        let mut tx = self.begin().await?;
        let assigned = routing::assign_next(&mut tx, default_max, &self.origin).await?;
        tx.commit().await.map_err(backend)?;
        Ok(assigned)
    }

    async fn held_dialogs(&self, operator: OperatorId) -> Result<Vec<DialogId>, StoreError> {
        routing::held(&self.read, operator).await
    }

    async fn queue(&self, assistant: AssistantId) -> Result<Vec<DialogId>, StoreError> {
        routing::queue(&self.read, assistant).await
    }

    async fn recent_waits(
        &self,
        assistant: AssistantId,
        since: DateTime<Utc>,
        limit: u32,
    ) -> Result<Vec<u64>, StoreError> {
        routing::recent_waits(&self.read, assistant, since, limit).await
    }

    async fn set_context(
        &self,
        dialog: DialogId,
        context: &VisitorContext,
    ) -> Result<(), StoreError> {
        feedback::set_context(&self.write, dialog, context).await
    }

    async fn rate(&self, dialog: DialogId, rating: Rating) -> Result<StoredEvent, StoreError> {
        let mut tx = self.begin().await?;
        let event = feedback::rate(&mut tx, dialog, rating, &self.origin).await?;
        tx.commit().await.map_err(backend)?;
        Ok(event)
    }

    async fn canned_responses(
        &self,
        assistant: AssistantId,
    ) -> Result<Vec<CannedResponse>, StoreError> {
        canned::list(&self.read, assistant).await
    }

    async fn add_canned_response(&self, response: CannedResponse) -> Result<(), StoreError> {
        canned::add(&self.write, response).await
    }

    async fn update_canned_response(
        &self,
        id: &str,
        shortcut: Option<String>,
        text: Option<String>,
    ) -> Result<CannedResponse, StoreError> {
        canned::update(&self.write, id, shortcut, text).await
    }

    async fn remove_canned_response(&self, id: &str) -> Result<bool, StoreError> {
        canned::remove(&self.write, id).await
    }

    async fn append_signal(&self, signal: &Signal) -> Result<(), StoreError> {
        changes::append_signal(&self.write, signal, &self.origin).await
    }

    async fn change_cursor(&self) -> Result<ChangeCursor, StoreError> {
        changes::cursor(&self.read).await
    }

    async fn changes_since(
        &self,
        cursor: ChangeCursor,
        limit: u32,
    ) -> Result<ChangeBatch, StoreError> {
        changes::since(&self.read, cursor, limit, &self.origin).await
    }

    async fn prune_signals(&self, before: DateTime<Utc>) -> Result<u64, StoreError> {
        changes::prune(&self.write, before).await
    }
}

/// Set-up shared by the store's unit tests.
#[cfg(test)]
pub(crate) mod test_support {
    use super::SqliteStore;
    use replyx_core::{Assistant, NewAssistant, Store};

    /// A store on a file in a fresh directory, with one assistant that sends no
    /// welcome (so new dialogs start with empty logs). Keep the directory alive.
    pub(crate) async fn store_with_assistant() -> (SqliteStore, Assistant, tempfile::TempDir) {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("t.db").display());
        let store = SqliteStore::build(&url, "test").await.unwrap();
        let assistant = store
            .create_assistant(NewAssistant {
                name: "Helper".into(),
                ..Default::default()
            })
            .await
            .unwrap();
        (store, assistant, dir)
    }
}
