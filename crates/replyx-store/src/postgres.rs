//! `PgStore`: the store for a cluster of nodes sharing one PostgreSQL database. A
//! dialog's row is the lock that orders its log: an append locks it, reads the next
//! seq and moves it forward in one statement, so writers on any number of nodes get
//! contiguous, unique seqs. Idempotency and "one open dialog per guest" are unique
//! indexes, as on SQLite. Message appends are group-committed per node.

mod accounts;
mod changes;
mod dialogs;
mod events;
mod group_commit;
mod rows;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use replyx_core::bus::Signal;
use replyx_core::handoff::HandoffAction;
use replyx_core::model::{DialogQuery, DialogRecord};
use replyx_core::store::ChangeCursor;
use replyx_core::{
    Appended, Assistant, AssistantPatch, ChangeBatch, NewAssistant, NewMessage, NewOperator,
    Operator, OperatorRecord, Store, StoreError, StoredEvent, Stream,
};
use replyx_protocol::{AssistantId, DialogId, DialogSummary, GuestId, OperatorId, Reader, Seq};
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::PgPool;
use std::str::FromStr;
use std::time::Duration;

/// How long readiness waits for the database to answer.
const PING_TIMEOUT: Duration = Duration::from_secs(2);

/// Connections per node: the group-commit writers (8) plus reads and the rarer writes
/// (handoff, read marks, dialog creation). Three nodes use 60 of PostgreSQL's default
/// 100; size `max_connections` for more nodes (docs/runbooks/cluster.md).
const POOL_SIZE: u32 = 20;

/// How long a request waits for a pooled connection before it is refused as
/// unavailable (503) rather than left hanging while the database is unreachable.
const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(3);

/// The PostgreSQL store. Cloning shares the pool and the writers.
#[derive(Clone, Debug)]
pub struct PgStore {
    pool: PgPool,
    appends: group_commit::GroupCommit,
    /// This node's id, written on events and signals so that the change feed returns
    /// only other nodes' rows.
    origin: String,
}

impl PgStore {
    /// Connects to `url` (`postgres://…`) and applies migrations. `origin` names this
    /// node. The pool connects lazily, so a node can start while the database is still
    /// coming up; migrations wait for it.
    ///
    /// # Errors
    /// The URL is invalid, or the database cannot be reached or migrated.
    pub async fn build(url: &str, origin: &str) -> Result<Self, StoreError> {
        let options = PgConnectOptions::from_str(url)
            .map_err(backend)?
            .application_name("replyx");
        let pool = PgPoolOptions::new()
            .max_connections(POOL_SIZE)
            .acquire_timeout(ACQUIRE_TIMEOUT)
            .connect_with(options)
            .await
            .map_err(backend)?;
        let store = Self {
            appends: group_commit::GroupCommit::start(pool.clone(), origin.to_owned()),
            pool,
            origin: origin.to_owned(),
        };
        store.migrate().await?;
        Ok(store)
    }

    /// The same database, written under another origin (the delivery canary's peer;
    /// see `SqliteStore::with_origin`). It has its own writers on the shared pool.
    pub fn with_origin(&self, origin: &str) -> PgStore {
        PgStore {
            appends: group_commit::GroupCommit::start(self.pool.clone(), origin.to_owned()),
            pool: self.pool.clone(),
            origin: origin.to_owned(),
        }
    }

    /// Applies pending migrations (idempotent; nodes starting together serialize on
    /// sqlx's migration lock).
    ///
    /// # Errors
    /// A migration fails.
    pub async fn migrate(&self) -> Result<(), StoreError> {
        sqlx::migrate!("./migrations/postgres")
            .run(&self.pool)
            .await
            .map_err(|e| StoreError::Backend(e.to_string()))
    }

    async fn begin(&self) -> Result<sqlx::Transaction<'static, sqlx::Postgres>, StoreError> {
        self.pool.begin().await.map_err(backend)
    }
}

/// Maps a database error: unique violations are conflicts; deadlocks, serialization
/// failures, an unreachable server or a pool that timed out are `Unavailable` (a later
/// try may succeed); the rest is `Backend`.
pub(crate) fn backend(e: sqlx::Error) -> StoreError {
    match &e {
        sqlx::Error::Database(db) if db.is_unique_violation() => {
            return StoreError::Conflict(db.message().to_owned())
        }
        // 40001 serialization_failure, 40P01 deadlock_detected, 57P01 admin_shutdown,
        // 57P03 cannot_connect_now, 08xxx connection exceptions.
        sqlx::Error::Database(db)
            if db.code().is_some_and(|c| {
                matches!(c.as_ref(), "40001" | "40P01" | "57P01" | "57P03") || c.starts_with("08")
            }) =>
        {
            return StoreError::Unavailable(e.to_string())
        }
        sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::WorkerCrashed
        | sqlx::Error::Io(_)
        | sqlx::Error::Tls(_)
        | sqlx::Error::Protocol(_) => return StoreError::Unavailable(e.to_string()),
        _ => {}
    }
    StoreError::Backend(e.to_string())
}

#[async_trait]
impl Store for PgStore {
    async fn ping(&self) -> Result<(), StoreError> {
        if !self.appends.alive() {
            return Err(StoreError::Unavailable(
                "the store's writers have stopped".into(),
            ));
        }
        let query = sqlx::query("SELECT 1").execute(&self.pool);
        match tokio::time::timeout(PING_TIMEOUT, query).await {
            Ok(answer) => answer.map(|_| ()).map_err(backend),
            Err(_) => Err(StoreError::Unavailable(format!(
                "PostgreSQL did not answer within {PING_TIMEOUT:?}"
            ))),
        }
    }

    async fn create_operator(&self, new: NewOperator) -> Result<Operator, StoreError> {
        accounts::create_operator(&self.pool, new).await
    }

    async fn operator_by_email(&self, email: &str) -> Result<Option<OperatorRecord>, StoreError> {
        accounts::operator_by_email(&self.pool, email).await
    }

    async fn operator(&self, id: OperatorId) -> Result<Option<Operator>, StoreError> {
        accounts::operator(&self.pool, id).await
    }

    async fn create_assistant(&self, new: NewAssistant) -> Result<Assistant, StoreError> {
        accounts::create_assistant(&self.pool, new).await
    }

    async fn update_assistant(
        &self,
        id: AssistantId,
        patch: AssistantPatch,
    ) -> Result<Assistant, StoreError> {
        let mut tx = self.begin().await?;
        let updated = accounts::update_assistant(&mut tx, id, patch).await?;
        tx.commit().await.map_err(backend)?;
        Ok(updated)
    }

    async fn assistant(&self, id: AssistantId) -> Result<Option<Assistant>, StoreError> {
        accounts::assistant(&self.pool, id).await
    }

    async fn list_assistants(&self) -> Result<Vec<Assistant>, StoreError> {
        accounts::list_assistants(&self.pool).await
    }

    async fn open_dialog(
        &self,
        assistant: &Assistant,
        guest: &GuestId,
    ) -> Result<(DialogRecord, Vec<StoredEvent>, bool), StoreError> {
        let mut tx = self.begin().await?;
        let opened = dialogs::open(&mut tx, assistant, guest, &self.origin).await?;
        tx.commit().await.map_err(backend)?;
        match opened {
            Some(opened) => Ok(opened),
            // Another node created it first: that dialog, read after its commit.
            None => {
                let mut tx = self.begin().await?;
                let existing = dialogs::open_existing(&mut tx, assistant, guest).await?;
                tx.commit().await.map_err(backend)?;
                existing
                    .map(|d| (d, Vec::new(), false))
                    .ok_or_else(|| StoreError::Backend("the guest's dialog vanished".into()))
            }
        }
    }

    async fn dialog(&self, id: DialogId) -> Result<Option<DialogRecord>, StoreError> {
        dialogs::by_id(&self.pool, id).await
    }

    async fn list_dialogs(&self, query: DialogQuery) -> Result<Vec<DialogSummary>, StoreError> {
        dialogs::list(&self.pool, query).await
    }

    async fn dialog_summary(&self, id: DialogId) -> Result<Option<DialogSummary>, StoreError> {
        dialogs::summary(&self.pool, id).await
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
        let stored = events::handoff(&mut tx, dialog, action, max_held, &self.origin).await?;
        tx.commit().await.map_err(backend)?;
        Ok(stored)
    }

    async fn last_status_event(&self, dialog: DialogId) -> Result<Option<StoredEvent>, StoreError> {
        events::last_status(&self.pool, dialog).await
    }

    async fn events_since(
        &self,
        dialog: DialogId,
        since: Seq,
        limit: u32,
        stream: Stream,
    ) -> Result<Vec<StoredEvent>, StoreError> {
        events::since(&self.pool, dialog, since, limit, stream).await
    }

    async fn recent_events(
        &self,
        dialog: DialogId,
        limit: u32,
        stream: Stream,
    ) -> Result<Vec<StoredEvent>, StoreError> {
        events::recent(&self.pool, dialog, limit, stream).await
    }

    async fn mark_read(
        &self,
        dialog: DialogId,
        reader: Reader,
        up_to: Seq,
    ) -> Result<Seq, StoreError> {
        dialogs::mark_read(&self.pool, dialog, reader, up_to).await
    }

    async fn trim_events(&self, dialog: DialogId, keep: u32) -> Result<u64, StoreError> {
        events::trim(&self.pool, dialog, keep).await
    }

    async fn append_signal(&self, signal: &Signal) -> Result<(), StoreError> {
        changes::append_signal(&self.pool, signal, &self.origin).await
    }

    async fn change_cursor(&self) -> Result<ChangeCursor, StoreError> {
        changes::cursor(&self.pool).await
    }

    async fn changes_since(
        &self,
        cursor: ChangeCursor,
        limit: u32,
    ) -> Result<ChangeBatch, StoreError> {
        changes::since(&self.pool, cursor, limit, &self.origin).await
    }

    async fn prune_signals(&self, before: DateTime<Utc>) -> Result<u64, StoreError> {
        changes::prune(&self.pool, before).await
    }
}
