//! Group commit for message appends, on a thread of their own. Every append waiting
//! at the moment the writer is free goes into one `BEGIN IMMEDIATE … COMMIT`, so the
//! fixed cost of a write transaction (the write lock, the commit) is paid once per
//! batch instead of once per message. A lone append commits at once: nothing waits for
//! a batch to fill, so latency at low load is that of a single transaction.
//!
//! The writer runs SQLite itself (rusqlite) on the store's one write connection, which
//! it locks out of sqlx's thread (`lock_handle`) for as long as appends keep coming.
//! Through sqlx every statement was a hop to the connection's thread and back (two
//! thread wake-ups) and every value bound or read was copied on the way; a `perf`
//! profile at ~3,800 messages/s put an eighth of that thread's time in the waits and
//! wake-ups alone (docs/perf/RESULTS.md). Holding the connection, rather than opening
//! a second one for appends, keeps one writer per process: the other writes (read
//! marks, dialog opens, handoffs) queue at sqlx's pool for the connection instead of
//! meeting the appends at SQLite's write lock, whose busy handler sleeps a millisecond
//! and more per try; and an in-memory database, which one connection alone can see,
//! works the same way. The writer gives the connection back as soon as no append is
//! waiting after a batch, after [`HOLD`] at most (so the pool's other writers wait
//! that long at most), and to answer a readiness ping or start the WAL over. (Waiting
//! up to 1 ms for the next append before giving it back measured no better end to end,
//! and made the instruction counts of `scripts/check-instructions` depend on timing.)
//!
//! A refused append (closed dialog, changed status, retried `client_msg_id`) writes
//! nothing and the batch goes on. Any other failure may have undone the transaction,
//! so the batch is rolled back and its appends run again one per transaction, where
//! each succeeds or fails on its own. Every caller is answered only after its
//! transaction committed: the store-then-publish order holds.

use super::backend;
use super::checkpoint::WalRestart;
use super::message_batch::{self, sqlite_error};
use replyx_core::{Appended, NewMessage, StoreError};
use sqlx::{Connection, SqlitePool};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::{mpsc, oneshot};

/// Most appends in one transaction: bounds how long one commit holds the write lock
/// (other writers, a blue-green peer included, wait that long at most).
pub(crate) const MAX_BATCH: usize = 256;

/// Appends that may wait for the writer before callers are held back.
const QUEUE: usize = 4 * MAX_BATCH;

/// The longest the writer holds the connection at a stretch while appends keep
/// coming: what the pool's other writes (a read mark, a dialog opened) wait at most
/// behind a busy writer, besides the batch in progress.
const HOLD: Duration = Duration::from_millis(5);

/// Prepared statements kept while the connection is held: BEGIN, the two guard
/// lookups and the COMMIT (`message_batch`), and the INSERT of each batch size met.
const STATEMENT_CACHE: usize = MAX_BATCH + 8;

struct Job {
    message: NewMessage,
    reply: oneshot::Sender<Result<Appended, StoreError>>,
}

/// What the writer thread is asked to do.
enum Work {
    /// Append a message in the next batch.
    Append(Job),
    /// Show that the writer is alive and can take the write lock (readiness).
    Ping(oneshot::Sender<Result<(), StoreError>>),
    /// End the thread as a crash would (tests of readiness).
    #[cfg(test)]
    Crash,
}

/// The handle callers append through; cloning shares the one writer thread, which
/// ends when the last handle is dropped.
#[derive(Clone, Debug)]
pub(crate) struct GroupCommit {
    jobs: mpsc::Sender<Work>,
}

impl GroupCommit {
    /// Starts the writer's thread; it reaches sqlx's pool through the current tokio
    /// runtime. Between batches it starts the WAL over when the checkpointer asks
    /// (`restart`).
    ///
    /// # Panics
    /// The operating system refuses a thread (at start-up, when nothing else could run
    /// either).
    pub(crate) fn start(pool: SqlitePool, origin: String, restart: Arc<WalRestart>) -> Self {
        // tokio's channel, not a thread-only one: async senders, a blocking receiver,
        // and queued work dropped (its callers answered "dropped") when the thread ends
        // for whatever reason, where a channel that keeps queued items while senders
        // live would leave their callers waiting forever.
        let (jobs, queue) = mpsc::channel(QUEUE);
        let writer = Writer {
            pool,
            origin,
            restart,
            queue,
            runtime: tokio::runtime::Handle::current(),
        };
        std::thread::Builder::new()
            .name("replyx-writer".into())
            .spawn(move || writer.run())
            .expect("the store's writer thread starts");
        Self { jobs }
    }

    /// Appends `message` in the next batch and returns once that batch committed.
    pub(crate) async fn append(&self, message: NewMessage) -> Result<Appended, StoreError> {
        let (reply, answer) = oneshot::channel();
        self.send(Work::Append(Job { message, reply })).await?;
        answer
            .await
            .map_err(|_| StoreError::Unavailable("the store's writer dropped an append".into()))?
    }

    /// Returns once the writer has taken this request from its queue (after the
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

    /// Ends the writer's thread as a crash would (tests of readiness).
    #[cfg(test)]
    pub(crate) fn kill_writer(&self) {
        let _ = self.jobs.try_send(Work::Crash);
    }
}

/// The writer thread's state.
struct Writer {
    pool: SqlitePool,
    origin: String,
    restart: Arc<WalRestart>,
    queue: mpsc::Receiver<Work>,
    runtime: tokio::runtime::Handle,
}

impl Writer {
    /// Takes work until every handle is gone.
    fn run(mut self) {
        // sqlx returns a pool connection through a task it spawns on the runtime.
        let _runtime = self.runtime.enter();
        // Reused from batch to batch: a batch's worth of jobs is tens of kilobytes.
        let mut work = Vec::with_capacity(MAX_BATCH);
        let mut appends = Vec::with_capacity(MAX_BATCH);
        let mut pings = Vec::new();
        while let Some(first) = self.queue.blocking_recv() {
            work.push(first);
            self.take_waiting(&mut work);
            for item in work.drain(..) {
                match item {
                    Work::Append(job) => appends.push(job),
                    Work::Ping(reply) => pings.push(reply),
                    #[cfg(test)]
                    Work::Crash => return,
                }
            }
            if !appends.is_empty() && !self.write_while_busy(&mut appends, &mut work, &mut pings) {
                return;
            }
            if self.restart.take() {
                self.runtime.block_on(self.restart.run(&self.pool));
            }
            // One try of the lock answers every ping waiting now; pings whose caller
            // gave up (readiness timed out) ask for nothing, so a locked database does
            // not keep the writer busy with answers nobody reads.
            pings.retain(|reply| !reply.is_closed());
            if !pings.is_empty() {
                let answer = self.runtime.block_on(take_write_lock(&self.pool));
                for reply in pings.drain(..) {
                    let _ = reply.send(answer.clone());
                }
            }
        }
    }

    /// Moves what is queued now into `work`, up to a batch.
    fn take_waiting(&mut self, work: &mut Vec<Work>) {
        while work.len() < MAX_BATCH {
            match self.queue.try_recv() {
                Ok(item) => work.push(item),
                Err(_) => break,
            }
        }
    }

    /// Holds the write connection and commits `appends`, then every batch waiting when
    /// the last one committed (for [`HOLD`] at most). Returns when it gave it back; a
    /// ping met on the way is left in `pings`; `appends` and `work` are left empty.
    /// `false`: the thread is to end (tests).
    fn write_while_busy(
        &mut self,
        appends: &mut Vec<Job>,
        work: &mut Vec<Work>,
        pings: &mut Vec<oneshot::Sender<Result<(), StoreError>>>,
    ) -> bool {
        let mut conn = match self.runtime.block_on(self.pool.acquire()) {
            Ok(conn) => conn,
            Err(e) => return answer_all(appends, &backend(e)),
        };
        let mut locked = match self.runtime.block_on(conn.lock_handle()) {
            Ok(locked) => locked,
            Err(e) => return answer_all(appends, &backend(e)),
        };
        let held = match Held::lock(&mut locked) {
            Ok(held) => held,
            Err(e) => return answer_all(appends, &e),
        };
        let since = Instant::now();
        #[cfg_attr(not(test), allow(unused_mut))]
        let mut running = true;
        while !appends.is_empty() {
            self.commit_and_answer(&held.db, appends);
            let stop = !held.db.is_autocommit()
                || !pings.is_empty()
                || !running
                || since.elapsed() >= HOLD
                || self.restart.is_wanted();
            if stop {
                break;
            }
            self.take_waiting(work);
            if work.is_empty() {
                break;
            }
            for item in work.drain(..) {
                match item {
                    Work::Append(job) => appends.push(job),
                    Work::Ping(reply) => pings.push(reply),
                    #[cfg(test)]
                    Work::Crash => running = false,
                }
            }
        }
        let broken = !held.db.is_autocommit();
        drop(held);
        drop(locked);
        if broken {
            // Still inside a transaction its ROLLBACK could not end: it could never
            // begin another, so sqlx closes it and the pool opens a fresh one.
            conn.close_on_drop();
        }
        debug_assert!(appends.is_empty(), "every append taken was answered");
        running
    }

    /// Commits the batch `appends` (emptying it) and answers each caller.
    fn commit_and_answer(&self, db: &rusqlite::Connection, appends: &mut Vec<Job>) {
        let messages: Vec<&NewMessage> = appends.iter().map(|j| &j.message).collect();
        let results = commit_batch(db, &self.origin, &messages);
        drop(messages);
        for (job, result) in appends.drain(..).zip(results) {
            // A caller that gave up (its request was cancelled) is no longer
            // listening; its message is stored all the same, like any other committed
            // append.
            let _ = job.reply.send(result);
        }
    }
}

/// Answers every append in `jobs` with `error`, emptying it; `true` (the thread goes
/// on).
fn answer_all(jobs: &mut Vec<Job>, error: &StoreError) -> bool {
    for job in jobs.drain(..) {
        let _ = job.reply.send(Err(error.clone()));
    }
    true
}

/// SQLite's write connection, locked out of sqlx's thread and driven directly for as
/// long as the lock (`'a`) is held.
struct Held<'a> {
    db: rusqlite::Connection,
    _locked: std::marker::PhantomData<&'a mut ()>,
}

impl<'a> Held<'a> {
    /// Drives the connection `locked` holds.
    #[allow(unsafe_code)]
    fn lock(locked: &'a mut sqlx::sqlite::LockedSqliteHandle<'_>) -> Result<Self, StoreError> {
        // SAFETY: the handle is a live connection that sqlx's thread does not touch
        // while `locked` is held, and `Held` borrows `locked`, so it is dropped first.
        // rusqlite does not close a connection it did not open, and dropping it
        // finalizes the statements it prepared: sqlx gets the connection back as it
        // lent it (with its `hooks` feature off, as here, it registers and removes no
        // hooks). Both crates link the one SQLite (the same libsqlite3-sys).
        let db = unsafe { rusqlite::Connection::from_handle(locked.as_raw_handle().as_ptr()) }
            .map_err(sqlite_error)?;
        db.set_prepared_statement_cache_capacity(STATEMENT_CACHE);
        Ok(Self {
            db,
            _locked: std::marker::PhantomData,
        })
    }
}

/// Takes the write lock and gives it back at once.
async fn take_write_lock(pool: &SqlitePool) -> Result<(), StoreError> {
    let mut conn = pool.acquire().await.map_err(backend)?;
    let tx = conn.begin_with("BEGIN IMMEDIATE").await.map_err(backend)?;
    tx.rollback().await.map_err(backend)
}

/// Appends `messages` in one transaction, falling back to one transaction each when
/// the batch as a whole fails. Returns one result per message, in order. Leaves no
/// transaction open unless its ROLLBACK failed (then `db.is_autocommit()` is false).
pub(crate) fn commit_batch(
    db: &rusqlite::Connection,
    origin: &str,
    messages: &[&NewMessage],
) -> Vec<Result<Appended, StoreError>> {
    match append_together(db, origin, messages) {
        Ok(results) => results,
        // The database is locked or unreachable: one by one, each would wait its own
        // busy timeout for the same answer.
        Err(e @ StoreError::Unavailable(_)) => messages.iter().map(|_| Err(e.clone())).collect(),
        Err(e) => {
            tracing::warn!(error = %e, batch = messages.len(), "group commit failed; appending one by one");
            let mut results = Vec::with_capacity(messages.len());
            for m in messages {
                if !db.is_autocommit() {
                    results.push(Err(e.clone()));
                    continue;
                }
                let alone = append_together(db, origin, &[m]);
                results.push(alone.and_then(|r| r.into_iter().next().expect("one result")));
            }
            results
        }
    }
}

/// One transaction for all of `messages`. A refusal is a per-message result; any other
/// error abandons the transaction, rolled back here.
fn append_together(
    db: &rusqlite::Connection,
    origin: &str,
    messages: &[&NewMessage],
) -> Result<Vec<Result<Appended, StoreError>>, StoreError> {
    message_batch::append_messages(db, messages, origin).inspect_err(|_| {
        // "No transaction is active" needs no ROLLBACK: the BEGIN itself failed, or
        // SQLite already rolled back on its own (a full disk, an I/O error).
        if !db.is_autocommit() {
            let _ = db.execute_batch("ROLLBACK");
        }
    })
}

#[cfg(test)]
mod tests {
    use super::{commit_batch, Held, Job, Work, Writer, MAX_BATCH, QUEUE};
    use crate::sqlite::checkpoint::WalRestart;
    use crate::sqlite::test_support::store_with_assistant;
    use crate::SqliteStore;
    use replyx_core::handoff::HandoffAction;
    use replyx_core::{NewMessage, NewOperator, Store, StoreError, Stream};
    use replyx_protocol::{DialogId, DialogStatus, GuestId, Seq};
    use std::sync::Arc;

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

    /// Commits `batch` as the writer would, on the store's write connection.
    async fn commit(
        store: &SqliteStore,
        batch: &[NewMessage],
    ) -> Vec<Result<replyx_core::Appended, StoreError>> {
        let mut conn = store.write.acquire().await.unwrap();
        let mut locked = conn.lock_handle().await.unwrap();
        let held = Held::lock(&mut locked).unwrap();
        let results = commit_batch(&held.db, "test", &batch.iter().collect::<Vec<_>>());
        assert!(held.db.is_autocommit(), "no transaction is left open");
        results
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
        let results = commit(&store, &batch).await;

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
        let results = commit(&store, &batch).await;

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

    /// The writer keeps the write connection while appends keep coming, but gives it
    /// back within `HOLD`: a dialog opened meanwhile (sqlx's pool, the same
    /// connection) is not held up until the appends stop.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn other_writes_get_the_connection_while_appends_never_pause() {
        use std::sync::atomic::{AtomicU64, Ordering};
        const LIMIT: u64 = 20_000;
        let (store, a, _dir) = store_with_assistant().await;
        let (open, _, _) = store.open_dialog(&a, &GuestId::generate()).await.unwrap();
        let appended = Arc::new(AtomicU64::new(0));
        let flowing = Arc::new(tokio::sync::Notify::new());
        // More appenders than a batch holds: the queue is never empty when a batch
        // ends, so the writer never finds a pause to give the connection back in.
        let appenders: Vec<_> = (0..300)
            .map(|_| {
                let (store, appended, flowing) = (store.clone(), appended.clone(), flowing.clone());
                tokio::spawn(async move {
                    // Bounded: the appends stop by themselves after LIMIT in all.
                    while appended.load(Ordering::Relaxed) < LIMIT {
                        store
                            .append_message(msg(open.id, "busy", None))
                            .await
                            .unwrap();
                        if appended.fetch_add(1, Ordering::Relaxed) + 1 == 200 {
                            flowing.notify_one();
                        }
                    }
                })
            })
            .collect();
        flowing.notified().await;
        store.open_dialog(&a, &GuestId::generate()).await.unwrap();
        let when_opened = appended.load(Ordering::Relaxed);
        for t in appenders {
            t.await.unwrap();
        }
        assert!(
            when_opened < LIMIT / 5,
            "the dialog opened only after {when_opened} of {LIMIT} appends: the writer kept \
             the connection while the appends went on"
        );
    }

    /// Appends still queued when the writer's thread ends (a crash, here) are answered
    /// ("dropped", a 503 for the caller) while their senders live on: a channel that
    /// kept queued items until every sender is gone would leave their callers waiting
    /// forever.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn appends_queued_when_the_writer_ends_are_answered() {
        let (store, open, _closed, _dir) = store_with_open_and_closed().await;
        let (jobs, queue) = tokio::sync::mpsc::channel(QUEUE);
        // A crash first, then more than a batch: some are still queued when it ends.
        jobs.try_send(Work::Crash).unwrap();
        let mut answers = Vec::new();
        for i in 0..2 * MAX_BATCH {
            let (reply, answer) = tokio::sync::oneshot::channel();
            let message = msg(open, &format!("q{i}"), None);
            jobs.try_send(Work::Append(Job { message, reply })).unwrap();
            answers.push(answer);
        }
        let writer = Writer {
            pool: store.write.clone(),
            origin: "test".into(),
            restart: Arc::new(WalRestart::default()),
            queue,
            runtime: tokio::runtime::Handle::current(),
        };
        let thread = std::thread::spawn(move || writer.run());
        tokio::task::spawn_blocking(move || thread.join())
            .await
            .unwrap()
            .expect("the writer's thread ends without a panic");
        let all = tokio::time::timeout(std::time::Duration::from_secs(10), async {
            for answer in answers {
                assert!(answer.await.is_err(), "nothing queued behind the crash ran");
            }
        });
        all.await
            .expect("every append queued when the writer ended is answered");
        drop(jobs);
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
