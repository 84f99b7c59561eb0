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
//!
//! (The handle, its queue and the thread that empties it are one mechanism and stay in
//! one file, over 400 lines with its tests; the batch itself is `batch_commit` and
//! `message_batch`, the borrowed connection `borrowed`.)

use super::backend;
use super::batch_commit::commit_batch;
use super::borrowed::Held;
use super::checkpoint::WalRestart;
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

/// Takes the write lock and gives it back at once.
async fn take_write_lock(pool: &SqlitePool) -> Result<(), StoreError> {
    let mut conn = pool.acquire().await.map_err(backend)?;
    let tx = conn.begin_with("BEGIN IMMEDIATE").await.map_err(backend)?;
    tx.rollback().await.map_err(backend)
}

#[cfg(test)]
mod tests {
    use super::{Job, Work, Writer, MAX_BATCH, QUEUE};
    use crate::sqlite::append_fixtures::{msg, store_with_open_and_closed, texts};
    use crate::sqlite::checkpoint::WalRestart;
    use crate::sqlite::test_support::store_with_assistant;
    use replyx_core::{Store, StoreError};
    use replyx_protocol::GuestId;
    use std::sync::Arc;

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
