//! Group commit for message appends. Every append waiting at the moment the writer is
//! free goes into one `BEGIN IMMEDIATE … COMMIT`, so the fixed cost of a write
//! transaction (taking the write lock, the commit, the hops to SQLite's thread) is paid
//! once per batch instead of once per message. A lone append commits at once: nothing
//! waits for a batch to fill, so latency at low load is that of a single transaction.
//!
//! A batch is written in two round trips to SQLite's thread (see `message_batch`): a
//! refused append (closed dialog, changed status, retried `client_msg_id`) writes
//! nothing and the batch goes on. Any other failure may have undone the transaction,
//! so the batch is rolled back and its appends run again one per transaction, where
//! each succeeds or fails on its own. Every caller is answered only after its
//! transaction committed: the store-then-publish order holds.

use super::checkpoint::WalRestart;
use super::{backend, message_batch};
use replyx_core::{Appended, NewMessage, StoreError};
use sqlx::{Connection, SqlitePool};
use std::sync::Arc;
use tokio::sync::{mpsc, oneshot};

/// Most appends in one transaction: bounds how long one commit holds the write lock
/// (other writers, a blue-green peer included, wait that long at most).
pub(crate) const MAX_BATCH: usize = 256;

/// Appends that may wait for the writer before callers are held back.
const QUEUE: usize = 4 * MAX_BATCH;

struct Job {
    message: NewMessage,
    reply: oneshot::Sender<Result<Appended, StoreError>>,
}

/// What the writer task is asked to do.
enum Work {
    /// Append a message in the next batch.
    Append(Job),
    /// Show that the writer is alive and can take the write lock (readiness).
    Ping(oneshot::Sender<Result<(), StoreError>>),
}

/// The handle callers append through; cloning shares the one writer task, which ends
/// when the last handle is dropped.
#[derive(Clone, Debug)]
pub(crate) struct GroupCommit {
    jobs: mpsc::Sender<Work>,
    /// Only tests stop the writer this way (to show readiness notices a dead writer).
    #[cfg_attr(not(test), allow(dead_code))]
    writer: tokio::task::AbortHandle,
}

impl GroupCommit {
    /// Starts the writer task on the current tokio runtime.
    /// Between batches it starts the WAL over when the checkpointer asks (`restart`).
    pub(crate) fn start(pool: SqlitePool, origin: String, restart: Arc<WalRestart>) -> Self {
        let (jobs, queue) = mpsc::channel(QUEUE);
        let writer = tokio::spawn(write_batches(pool, origin, restart, queue)).abort_handle();
        Self { jobs, writer }
    }

    /// Appends `message` in the next batch and returns once that batch committed.
    pub(crate) async fn append(&self, message: NewMessage) -> Result<Appended, StoreError> {
        let (reply, answer) = oneshot::channel();
        self.send(Work::Append(Job { message, reply })).await?;
        answer
            .await
            .map_err(|_| StoreError::Unavailable("the store's writer dropped an append".into()))?
    }

    /// Returns once the writer task has taken this request from its queue (after the
    /// appends before it) and taken and released the write lock: a dead writer, or
    /// one stuck behind a lock another process holds, does not answer.
    pub(crate) async fn ping(&self) -> Result<(), StoreError> {
        let (reply, answer) = oneshot::channel();
        self.send(Work::Ping(reply)).await?;
        answer
            .await
            .map_err(|_| StoreError::Unavailable("the store's writer dropped a ping".into()))?
    }

    async fn send(&self, work: Work) -> Result<(), StoreError> {
        self.jobs
            .send(work)
            .await
            .map_err(|_| StoreError::Unavailable("the store's writer has stopped".into()))
    }

    /// Stops the writer task as a crash would (tests of readiness).
    #[cfg(test)]
    pub(crate) fn kill_writer(&self) {
        self.writer.abort();
    }
}

async fn write_batches(
    pool: SqlitePool,
    origin: String,
    restart: Arc<WalRestart>,
    mut queue: mpsc::Receiver<Work>,
) {
    let mut work = Vec::with_capacity(MAX_BATCH);
    let mut batch = Vec::with_capacity(MAX_BATCH);
    let mut pings = Vec::new();
    while queue.recv_many(&mut work, MAX_BATCH).await > 0 {
        for item in work.drain(..) {
            match item {
                Work::Append(job) => batch.push(job),
                Work::Ping(reply) => pings.push(reply),
            }
        }
        if !batch.is_empty() {
            let messages: Vec<&NewMessage> = batch.iter().map(|j| &j.message).collect();
            let results = commit_batch(&pool, &origin, &messages).await;
            for (job, result) in batch.drain(..).zip(results) {
                // A caller that gave up (its request was cancelled) is no longer
                // listening; its message is stored all the same, like any other
                // committed append.
                let _ = job.reply.send(result);
            }
        }
        if restart.take() {
            restart.run(&pool).await;
        }
        // One try of the lock answers every ping waiting now; pings whose caller gave
        // up (readiness timed out) ask for nothing, so a locked database does not keep
        // the writer busy with answers nobody reads.
        pings.retain(|reply| !reply.is_closed());
        if !pings.is_empty() {
            let answer = take_write_lock(&pool).await;
            for reply in pings.drain(..) {
                let _ = reply.send(answer.clone());
            }
        }
    }
}

/// Takes the write lock and gives it back at once.
async fn take_write_lock(pool: &SqlitePool) -> Result<(), StoreError> {
    let mut conn = pool.acquire().await.map_err(backend)?;
    let tx = conn.begin_with("BEGIN IMMEDIATE").await.map_err(backend)?;
    tx.rollback().await.map_err(backend)
}

/// Appends `messages` in one transaction, falling back to one transaction each when
/// the batch as a whole fails. Returns one result per message, in order.
pub(crate) async fn commit_batch(
    pool: &SqlitePool,
    origin: &str,
    messages: &[&NewMessage],
) -> Vec<Result<Appended, StoreError>> {
    match append_together(pool, origin, messages).await {
        Ok(results) => results,
        // The database is locked or unreachable: one by one, each would wait its own
        // busy timeout for the same answer.
        Err(e @ StoreError::Unavailable(_)) => messages.iter().map(|_| Err(e.clone())).collect(),
        Err(e) => {
            tracing::warn!(error = %e, batch = messages.len(), "group commit failed; appending one by one");
            let mut results = Vec::with_capacity(messages.len());
            for m in messages {
                let alone = append_together(pool, origin, &[m]).await;
                results.push(alone.and_then(|r| r.into_iter().next().expect("one result")));
            }
            results
        }
    }
}

/// One transaction for all of `messages`. A refusal is a per-message result; any other
/// error abandons the transaction.
async fn append_together(
    pool: &SqlitePool,
    origin: &str,
    messages: &[&NewMessage],
) -> Result<Vec<Result<Appended, StoreError>>, StoreError> {
    let mut conn = pool.acquire().await.map_err(backend)?;
    match message_batch::append_messages(&mut conn, messages, origin).await {
        Ok(results) => Ok(results),
        Err(e) => {
            if !rolled_back(&mut conn).await {
                // A connection that may still be inside the transaction could never
                // begin another: it is closed, and the pool opens a fresh one.
                conn.close_on_drop();
            }
            Err(e)
        }
    }
}

/// Ends whatever transaction a failed batch left open. "No transaction is active" is
/// success too: the BEGIN itself failed, or SQLite already rolled back on its own (a
/// full disk, an I/O error).
async fn rolled_back(conn: &mut sqlx::SqliteConnection) -> bool {
    match sqlx::query("ROLLBACK").execute(&mut *conn).await {
        Ok(_) => true,
        Err(e) => e.to_string().contains("no transaction is active"),
    }
}

#[cfg(test)]
mod tests {
    use super::commit_batch;
    use crate::sqlite::test_support::store_with_assistant;
    use crate::SqliteStore;
    use replyx_core::handoff::HandoffAction;
    use replyx_core::{NewMessage, NewOperator, Store, StoreError, Stream};
    use replyx_protocol::{DialogId, DialogStatus, GuestId, Seq};

    fn msg(dialog: DialogId, text: &str, key: Option<&str>) -> NewMessage {
        NewMessage {
            client_msg_id: key.map(str::to_owned),
            ..NewMessage::visitor(dialog, text)
        }
    }

    /// A store with two open dialogs (no welcome, so both logs are empty) and the
    /// second one closed.
    async fn store_with_open_and_closed() -> (SqliteStore, DialogId, DialogId, tempfile::TempDir) {
        let (store, a, dir) = store_with_assistant().await;
        let (open, _, _) = store.open_dialog(&a, &GuestId::generate()).await.unwrap();
        let (closed, _, _) = store.open_dialog(&a, &GuestId::generate()).await.unwrap();
        let op = store
            .create_operator(NewOperator {
                email: "ann@example.test".into(),
                name: "Ann".into(),
                password_hash: "unused".into(),
                role: replyx_core::Role::Admin,
            })
            .await
            .unwrap()
            .to_ref();
        store
            .handoff(closed.id, HandoffAction::Close(op), 5)
            .await
            .unwrap();
        (store, open.id, closed.id, dir)
    }

    async fn texts(store: &SqliteStore, dialog: DialogId) -> Vec<(u64, String)> {
        let events = store
            .events_since(dialog, Seq(0), 1000, Stream::Admin)
            .await
            .unwrap();
        events
            .iter()
            .map(|e| match &e.payload {
                replyx_protocol::EventPayload::MessageCreated { message } => {
                    (e.seq.0, message.text.clone())
                }
                other => panic!("unexpected event {other:?}"),
            })
            .collect()
    }

    #[tokio::test]
    async fn refusals_in_a_batch_leave_the_other_appends_committed_in_order() {
        let (store, open, closed, _dir) = store_with_open_and_closed().await;
        let retry_of_first = msg(open, "first, sent twice", Some("k1"));
        let bot_reply = NewMessage {
            require_status: Some(DialogStatus::Operator),
            ..msg(open, "a reply for a status the dialog is not in", None)
        };
        let batch = [
            msg(open, "first, sent twice", Some("k1")),
            retry_of_first,
            msg(closed, "too late", None),
            bot_reply,
            msg(DialogId::new(), "nowhere", None),
            msg(open, "second", Some("k2")),
        ];
        let results = commit_batch(&store.write, "test", &batch.iter().collect::<Vec<_>>()).await;

        let first = results[0].as_ref().unwrap();
        assert!(!first.duplicate);
        assert_eq!(first.event.seq, Seq(1));
        let retry = results[1].as_ref().unwrap();
        assert!(
            retry.duplicate,
            "the retry in the same batch finds the first copy"
        );
        assert_eq!(retry.event.seq, Seq(1));
        assert!(matches!(results[2], Err(StoreError::DialogClosed)));
        assert!(matches!(results[3], Err(StoreError::StatusChanged)));
        assert!(matches!(results[4], Err(StoreError::NotFound)));
        assert_eq!(results[5].as_ref().unwrap().event.seq, Seq(2));
        assert_eq!(
            texts(&store, open).await,
            [(1, "first, sent twice".into()), (2, "second".into())]
        );
        let dialog = store.dialog(open).await.unwrap().unwrap();
        assert_eq!((dialog.last_seq, dialog.last_visitor_seq), (Seq(2), Seq(2)));
    }

    #[tokio::test]
    async fn a_failure_that_undoes_the_batch_is_retried_one_by_one_and_fails_alone() {
        let (store, open, _closed, _dir) = store_with_open_and_closed().await;
        // A database error that rolls back the whole transaction (as a full disk or
        // an I/O error would), raised by one message only.
        sqlx::query(
            "CREATE TRIGGER poison BEFORE INSERT ON events WHEN NEW.payload LIKE '%poison%' \
             BEGIN SELECT RAISE(ROLLBACK, 'poisoned'); END",
        )
        .execute(&store.write)
        .await
        .unwrap();
        let batch = [
            msg(open, "before", None),
            msg(open, "poison", None),
            msg(open, "after", None),
        ];
        let results = commit_batch(&store.write, "test", &batch.iter().collect::<Vec<_>>()).await;

        assert_eq!(results[0].as_ref().unwrap().event.seq, Seq(1));
        assert!(
            matches!(&results[1], Err(StoreError::Backend(e)) if e.contains("poisoned")),
            "{:?}",
            results[1]
        );
        assert_eq!(results[2].as_ref().unwrap().event.seq, Seq(2));
        assert_eq!(
            texts(&store, open).await,
            [(1, "before".into()), (2, "after".into())]
        );
    }

    #[tokio::test]
    async fn concurrent_appends_through_the_writer_get_contiguous_seqs() {
        let (store, open, _closed, _dir) = store_with_open_and_closed().await;
        let tasks: Vec<_> = (0..300)
            .map(|i| {
                let store = store.clone();
                tokio::spawn(async move {
                    store
                        .append_message(msg(open, &format!("m{i}"), None))
                        .await
                        .unwrap()
                        .event
                        .seq
                })
            })
            .collect();
        let mut seqs = Vec::new();
        for t in tasks {
            seqs.push(t.await.unwrap().0);
        }
        seqs.sort_unstable();
        assert_eq!(seqs, (1..=300).collect::<Vec<_>>());
        assert_eq!(texts(&store, open).await.len(), 300);
    }

    #[tokio::test]
    async fn ping_answers_only_while_the_writer_lives_and_can_take_the_write_lock() {
        let (store, open, _closed, dir) = store_with_open_and_closed().await;
        store.ping().await.expect("a working store is ready");

        // Another process holds the write lock (a stuck peer on the same file).
        let url = format!("sqlite://{}", dir.path().join("t.db").display());
        let mut peer = <sqlx::SqliteConnection as sqlx::Connection>::connect(&url)
            .await
            .unwrap();
        sqlx::query("BEGIN IMMEDIATE")
            .execute(&mut peer)
            .await
            .unwrap();
        assert!(
            matches!(store.ping().await, Err(StoreError::Unavailable(e)) if e.contains("write lock")),
            "a writer that cannot write is not ready"
        );
        sqlx::query("ROLLBACK").execute(&mut peer).await.unwrap();
        store
            .ping()
            .await
            .expect("ready again once the lock is free");

        store.appends.kill_writer();
        // Refused at the queue ("stopped") or dropped with the task ("dropped"), as the
        // abort lands before or after the ping is queued.
        assert!(matches!(
            store.ping().await,
            Err(StoreError::Unavailable(e)) if e.contains("stopped") || e.contains("dropped")
        ));
        assert!(
            matches!(
                store.append_message(msg(open, "after", None)).await,
                Err(StoreError::Unavailable(_))
            ),
            "an append to a dead writer is refused as unavailable (503), not lost"
        );
    }
}
