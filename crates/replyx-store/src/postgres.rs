//! `PgStore`: the store for a cluster of nodes sharing one PostgreSQL database. A
//! dialog's row is the lock that orders its log: an append locks it, reads the next
//! seq and moves it forward in one statement, so writers on any number of nodes get
//! contiguous, unique seqs. Idempotency and "one open dialog per guest" are unique
//! indexes, as on SQLite. Message appends are group-committed per node.

mod assistants;
mod canned;
mod changes;
mod dialogs;
mod events;
mod feedback;
mod group_commit;
mod identity;
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
/// Attempts of one auto-assignment when other nodes keep taking the picks first.
const ASSIGN_ATTEMPTS: usize = 20;

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
        operators::create(&self.pool, new).await
    }

    async fn operator_by_email(&self, email: &str) -> Result<Option<OperatorRecord>, StoreError> {
        operators::by_email(&self.pool, email).await
    }

    async fn operator(&self, id: OperatorId) -> Result<Option<Operator>, StoreError> {
        operators::by_id(&self.pool, id).await
    }

    async fn list_operators(&self) -> Result<Vec<Operator>, StoreError> {
        operators::list(&self.pool).await
    }

    async fn update_operator(
        &self,
        id: OperatorId,
        patch: OperatorPatch,
    ) -> Result<Operator, StoreError> {
        operators::update(&self.pool, id, patch).await
    }

    async fn operator_password_hash(&self, id: OperatorId) -> Result<Option<String>, StoreError> {
        operators::password_hash(&self.pool, id).await
    }

    async fn create_session(&self, session: NewSession) -> Result<(), StoreError> {
        sessions::create(&self.pool, session).await
    }

    async fn session(&self, id: SessionId) -> Result<Option<SessionRecord>, StoreError> {
        sessions::get(&self.pool, id).await
    }

    async fn revoke_session(&self, id: SessionId) -> Result<bool, StoreError> {
        sessions::revoke(&self.pool, id).await
    }

    async fn revoke_sessions(
        &self,
        operator: OperatorId,
        keep: Option<SessionId>,
    ) -> Result<u64, StoreError> {
        sessions::revoke_all(&self.pool, operator, keep).await
    }

    async fn create_ticket(
        &self,
        hash: &str,
        session: SessionId,
        expires_at: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        sessions::create_ticket(&self.pool, hash, session, expires_at).await
    }

    async fn take_ticket(&self, hash: &str) -> Result<Option<SessionId>, StoreError> {
        sessions::take_ticket(&self.pool, hash).await
    }

    async fn create_assistant(&self, new: NewAssistant) -> Result<Assistant, StoreError> {
        assistants::create_assistant(&self.pool, new).await
    }

    async fn update_assistant(
        &self,
        id: AssistantId,
        patch: AssistantPatch,
    ) -> Result<Assistant, StoreError> {
        let mut tx = self.begin().await?;
        let updated = assistants::update_assistant(&mut tx, id, patch).await?;
        tx.commit().await.map_err(backend)?;
        Ok(updated)
    }

    async fn assistant(&self, id: AssistantId) -> Result<Option<Assistant>, StoreError> {
        assistants::assistant(&self.pool, id).await
    }

    async fn list_assistants(&self) -> Result<Vec<Assistant>, StoreError> {
        assistants::list_assistants(&self.pool).await
    }

    async fn add_identity_key(
        &self,
        assistant: AssistantId,
        key: IdentityKey,
    ) -> Result<(), StoreError> {
        identity::add_key(&self.pool, assistant, key).await
    }

    async fn identity_keys(&self, assistant: AssistantId) -> Result<Vec<IdentityKey>, StoreError> {
        identity::keys(&self.pool, assistant).await
    }

    async fn remove_identity_key(
        &self,
        assistant: AssistantId,
        kid: &str,
    ) -> Result<bool, StoreError> {
        identity::remove_key(&self.pool, assistant, kid).await
    }

    async fn identify_visitor(
        &self,
        assistant: AssistantId,
        identity: &VisitorIdentity,
    ) -> Result<GuestId, StoreError> {
        identity::identify(&self.pool, assistant, identity).await
    }

    async fn verified_visitor(
        &self,
        assistant: AssistantId,
        guest: &GuestId,
    ) -> Result<Option<VisitorIdentity>, StoreError> {
        identity::verified(&self.pool, assistant, guest).await
    }

    async fn guest_dialogs(
        &self,
        assistant: AssistantId,
        guest: &GuestId,
        limit: u32,
    ) -> Result<Vec<GuestDialog>, StoreError> {
        identity::guest_dialogs(&self.pool, assistant, guest, limit).await
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
        let stored = routing::handoff(&mut tx, dialog, action, max_held, &self.origin).await?;
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

    async fn visitor_position(&self, dialog: DialogId, seq: Seq) -> Result<Seq, StoreError> {
        events::visitor_position(&self.pool, dialog, seq).await
    }

    async fn trim_events(&self, dialog: DialogId, keep: u32) -> Result<u64, StoreError> {
        events::trim(&self.pool, dialog, keep).await
    }

    async fn presence_seen(&self, operators: &[OperatorId]) -> Result<(), StoreError> {
        presence::seen(&self.pool, operators).await
    }

    async fn set_presence_choice(
        &self,
        operator: OperatorId,
        chosen: PresenceState,
    ) -> Result<(), StoreError> {
        presence::choose(&self.pool, operator, chosen).await
    }

    async fn settle_presence(
        &self,
        seen_after: DateTime<Utc>,
    ) -> Result<Vec<PresenceChange>, StoreError> {
        presence::settle(&self.pool, seen_after).await
    }

    async fn presence(&self, default_max: u64) -> Result<Vec<OperatorPresence>, StoreError> {
        presence::list(&self.pool, default_max).await
    }

    async fn assign_next(&self, default_max: u64) -> Result<Option<Vec<StoredEvent>>, StoreError> {
        // Nodes assigning at once meet on row locks; the one that finds its pick taken
        // tries again with what is left rather than report "nothing to do".
        for _ in 0..ASSIGN_ATTEMPTS {
            let mut tx = self.begin().await?;
            match routing::assign_next(&mut tx, default_max, &self.origin).await? {
                routing::Attempt::Given(events) => {
                    tx.commit().await.map_err(backend)?;
                    return Ok(Some(events));
                }
                routing::Attempt::Nothing => return Ok(None),
                routing::Attempt::Contended => tx.rollback().await.map_err(backend)?,
            }
        }
        Ok(None)
    }

    async fn held_dialogs(&self, operator: OperatorId) -> Result<Vec<DialogId>, StoreError> {
        routing::held(&self.pool, operator).await
    }

    async fn queue(&self, assistant: AssistantId) -> Result<Vec<DialogId>, StoreError> {
        routing::queue(&self.pool, assistant).await
    }

    async fn recent_waits(
        &self,
        assistant: AssistantId,
        since: DateTime<Utc>,
        limit: u32,
    ) -> Result<Vec<u64>, StoreError> {
        routing::recent_waits(&self.pool, assistant, since, limit).await
    }

    async fn set_context(
        &self,
        dialog: DialogId,
        context: &VisitorContext,
    ) -> Result<(), StoreError> {
        feedback::set_context(&self.pool, dialog, context).await
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
        canned::list(&self.pool, assistant).await
    }

    async fn add_canned_response(&self, response: CannedResponse) -> Result<(), StoreError> {
        canned::add(&self.pool, response).await
    }

    async fn update_canned_response(
        &self,
        id: &str,
        shortcut: Option<String>,
        text: Option<String>,
    ) -> Result<CannedResponse, StoreError> {
        canned::update(&self.pool, id, shortcut, text).await
    }

    async fn remove_canned_response(&self, id: &str) -> Result<bool, StoreError> {
        canned::remove(&self.pool, id).await
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
