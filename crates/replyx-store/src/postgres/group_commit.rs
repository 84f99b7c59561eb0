//! Group commit for message appends on PostgreSQL. Appends waiting when a writer is
//! free go into one transaction, so a node pays one commit (one WAL flush) per batch
//! instead of one per message. Unlike SQLite, PostgreSQL takes concurrent writers, so
//! a node runs several writer tasks on one queue: while one batch waits for its
//! round trips and its commit, the others are being written.
//!
//! Within a batch, appends are written in dialog-id order (each dialog's own appends
//! keep their order), so two batches, on this node or another, always lock dialog rows
//! in the same order and cannot deadlock. A refusal (closed dialog, changed status,
//! retried `client_msg_id`) writes nothing and the batch goes on; any other failure
//! rolls the batch back and its appends run again one per transaction. Every caller is
//! answered only after its transaction committed: the store-then-publish order holds.

use super::{backend, events};
use replyx_core::{Appended, NewMessage, StoreError};
use sqlx::PgPool;
use std::sync::Arc;
use tokio::sync::{mpsc, oneshot, Mutex};

/// Most appends in one transaction: bounds how long a batch holds its dialogs' row
/// locks.
pub(crate) const MAX_BATCH: usize = 128;

/// Writer tasks per store handle. Each append in a batch is a round trip to the
/// server, so one writer spends most of a batch waiting; several keep the database
/// busy. Measured with `scripts/bench-cluster` (one node, 200 pairs, 50 ms pause):
/// 3 writers 2,098 msg/s at p99 149 ms, 8 writers 2,872 msg/s at p99 76 ms, 12 writers
/// 2,587 msg/s at p99 115 ms (more contention on the two cores than overlap).
const WRITERS: usize = 8;

/// Appends that may wait for a writer before callers are held back.
const QUEUE: usize = 4 * MAX_BATCH;

struct Job {
    message: NewMessage,
    reply: oneshot::Sender<Result<Appended, StoreError>>,
}

/// The handle callers append through; the writers end when the last handle is
/// dropped.
#[derive(Clone, Debug)]
pub(crate) struct GroupCommit {
    jobs: mpsc::Sender<Job>,
}

impl GroupCommit {
    /// Starts the writer tasks on the current tokio runtime.
    pub(crate) fn start(pool: PgPool, origin: String) -> Self {
        let (jobs, queue) = mpsc::channel(QUEUE);
        let queue = Arc::new(Mutex::new(queue));
        let origin: Arc<str> = origin.into();
        for _ in 0..WRITERS {
            tokio::spawn(write_batches(pool.clone(), origin.clone(), queue.clone()));
        }
        Self { jobs }
    }

    /// Whether the writers still take appends.
    pub(crate) fn alive(&self) -> bool {
        !self.jobs.is_closed()
    }

    /// Appends `message` in the next batch and returns once that batch committed.
    pub(crate) async fn append(&self, message: NewMessage) -> Result<Appended, StoreError> {
        let (reply, answer) = oneshot::channel();
        self.jobs
            .send(Job { message, reply })
            .await
            .map_err(|_| StoreError::Unavailable("the store's writers have stopped".into()))?;
        answer
            .await
            .map_err(|_| StoreError::Unavailable("the store's writer dropped an append".into()))?
    }
}

async fn write_batches(pool: PgPool, origin: Arc<str>, queue: Arc<Mutex<mpsc::Receiver<Job>>>) {
    let mut batch = Vec::with_capacity(MAX_BATCH);
    loop {
        // The queue is held only while taking a batch, never while writing one.
        let taken = queue.lock().await.recv_many(&mut batch, MAX_BATCH).await;
        if taken == 0 {
            return;
        }
        batch.sort_by_key(|job: &Job| job.message.dialog_id);
        let messages: Vec<&NewMessage> = batch.iter().map(|j| &j.message).collect();
        let results = commit_batch(&pool, &origin, &messages).await;
        for (job, result) in batch.drain(..).zip(results) {
            // A caller that gave up is no longer listening; its message is stored all
            // the same, like any other committed append.
            let _ = job.reply.send(result);
        }
    }
}

/// Appends `messages` in one transaction, falling back to one transaction each when
/// the batch as a whole fails. Returns one result per message, in order.
pub(crate) async fn commit_batch(
    pool: &PgPool,
    origin: &str,
    messages: &[&NewMessage],
) -> Vec<Result<Appended, StoreError>> {
    match append_together(pool, origin, messages).await {
        Ok(results) => results,
        // One message alone does not help when the database is unreachable.
        Err(e @ StoreError::Unavailable(_)) if messages.len() == 1 || !is_retryable(&e) => {
            messages.iter().map(|_| Err(e.clone())).collect()
        }
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

/// A deadlock or serialization failure is worth a retry one by one; a lost server
/// is not.
fn is_retryable(e: &StoreError) -> bool {
    matches!(e, StoreError::Unavailable(m) if m.contains("40P01") || m.contains("40001"))
}

async fn append_together(
    pool: &PgPool,
    origin: &str,
    messages: &[&NewMessage],
) -> Result<Vec<Result<Appended, StoreError>>, StoreError> {
    let mut tx = pool.begin().await.map_err(backend)?;
    let mut results = Vec::with_capacity(messages.len());
    for m in messages {
        match events::append_message(&mut tx, m, origin).await {
            Ok(appended) => results.push(Ok(appended)),
            Err(
                refused @ (StoreError::NotFound
                | StoreError::DialogClosed
                | StoreError::StatusChanged),
            ) => results.push(Err(refused)),
            // Dropping the transaction rolls it back (or closes a broken connection).
            Err(e) => return Err(e),
        }
    }
    tx.commit().await.map_err(backend)?;
    Ok(results)
}
