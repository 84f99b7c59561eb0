//! WAL checkpoints off the write path. By default SQLite checkpoints inside the commit
//! that pushes the WAL past 1,000 pages: that commit copies the WAL into the database
//! and syncs it (~15 ms here, far more on a busy disk) while every append queued behind
//! it waits — the benchmarks' p99 was these stalls. The writer connection therefore
//! never checkpoints (`wal_autocheckpoint = 0`), and this task runs a PASSIVE checkpoint
//! on its own connection a few times a second: PASSIVE takes no write lock and waits
//! for no reader, so appends go on while it copies and syncs.
//!
//! A PASSIVE checkpoint never starts the WAL over: SQLite does that only when a commit
//! finds every frame already copied, and under steady load new frames are always
//! appended while the checkpoint copies. The WAL (and its index, mapped into memory)
//! then grew without end: 11 GB of WAL in five minutes at 1,000 messages/s, found by
//! the bench's soak. So when the WAL holds more than [`RESTART_FRAMES`] after a PASSIVE
//! run, this task asks the writer ([`WalRestart`]) for a RESTART checkpoint between two
//! batches: it copies the few frames appended since the PASSIVE run and waits for
//! readers to leave the WAL, so that the next commit writes from the WAL's beginning;
//! `journal_size_limit` then truncates the file back to that size. The writer runs it
//! because a RESTART from another connection must take the write lock, which a writer
//! under steady load takes back first nearly every time (measured: the WAL still grew to
//! thousands of frames between restarts).

use super::backend;
use replyx_core::StoreError;
use sqlx::{Row, SqlitePool};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

/// How often the WAL is checkpointed.
pub(crate) const INTERVAL: Duration = Duration::from_millis(250);
/// WAL frames (pages, 4 KiB) past which the writer starts the WAL over: 256 MiB. A
/// restart holds appends while it copies what came since the last PASSIVE run and syncs
/// the database: at 3,800 messages/s (35 MB of WAL a second) a 64 MiB threshold took
/// the p99 from 9.6 to 33 ms, this one to 17.6 (docs/perf/RESULTS.md); a load a tenth
/// of that restarts once a minute.
pub(crate) const RESTART_FRAMES: i64 = 65_536;

/// A WAL restart asked of the writer, how many it did, and how long they held appends.
#[derive(Debug, Default)]
pub(crate) struct WalRestart {
    wanted: AtomicBool,
    done: AtomicU64,
    /// Microseconds the writer spent in restarts (finished or not): appends wait that
    /// long, so operators see what the bounded WAL costs (`replyx_store_wal_restart_*`).
    held_micros: AtomicU64,
}

impl WalRestart {
    /// Whether a restart was asked for since the last call (and no longer is). Called
    /// after every batch: a plain load first, so the usual answer writes nothing.
    pub(crate) fn take(&self) -> bool {
        self.wanted.load(Ordering::Relaxed) && self.wanted.swap(false, Ordering::AcqRel)
    }

    /// Whether a restart is asked for, leaving the request in place: the writer then
    /// gives its connection back to run it.
    pub(crate) fn is_wanted(&self) -> bool {
        self.wanted.load(Ordering::Relaxed)
    }

    /// The writer's RESTART checkpoint, on its own connection between batches.
    pub(crate) async fn run(&self, pool: &SqlitePool) {
        let started = std::time::Instant::now();
        let outcome = checkpoint(pool, "RESTART").await;
        let micros = u64::try_from(started.elapsed().as_micros()).unwrap_or(u64::MAX);
        self.held_micros.fetch_add(micros, Ordering::Relaxed);
        match outcome {
            Ok((frames, copied)) if frames == copied => {
                self.done.fetch_add(1, Ordering::Relaxed);
            }
            // A reader kept it busy: asked again after the next PASSIVE run.
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "WAL restart failed"),
        }
    }
}

/// The last checkpoint's figures (SQLite's `wal_checkpoint` result).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Checkpoint {
    /// Frames in the WAL at the last run.
    pub wal_frames: i64,
    /// Of those, frames copied into the database.
    pub copied_frames: i64,
    /// Times the writer started the WAL over since the process started.
    pub restarts: u64,
    /// Microseconds the writer spent in restarts since the process started (appends
    /// queued meanwhile waited).
    pub restart_micros: u64,
    /// Frames past which the writer is asked to start the WAL over.
    pub restart_threshold_frames: i64,
}

/// Runs checkpoints on `pool` every `interval` until `stop`, publishing each result,
/// and asking the writer (`restart`) to start the WAL over once it holds more than
/// `restart_frames`.
pub(crate) fn start(
    pool: SqlitePool,
    interval: Duration,
    restart_frames: i64,
    restart: Arc<WalRestart>,
    stop: CancellationToken,
) -> watch::Receiver<Checkpoint> {
    let (report, status) = watch::channel(Checkpoint {
        restart_threshold_frames: restart_frames,
        ..Checkpoint::default()
    });
    tokio::spawn(async move {
        let mut ticks = tokio::time::interval(interval);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = ticks.tick() => {}
                _ = stop.cancelled() => break,
            }
            match checkpoint(&pool, "PASSIVE").await {
                Ok((wal_frames, copied_frames)) => {
                    if wal_frames > restart_frames {
                        restart.wanted.store(true, Ordering::Release);
                    }
                    report.send_replace(Checkpoint {
                        wal_frames,
                        copied_frames,
                        restarts: restart.done.load(Ordering::Relaxed),
                        restart_micros: restart.held_micros.load(Ordering::Relaxed),
                        restart_threshold_frames: restart_frames,
                    });
                }
                Err(e) => tracing::warn!(error = %e, "WAL checkpoint failed"),
            }
        }
        pool.close().await;
    });
    status
}

/// One checkpoint of `mode` (PASSIVE or RESTART): (frames in the WAL, frames copied).
/// A RESTART that could not finish (a reader stayed past the busy timeout) answers
/// busy, which is no error: the next tick tries again.
async fn checkpoint(pool: &SqlitePool, mode: &'static str) -> Result<(i64, i64), StoreError> {
    let row = sqlx::query(&format!("PRAGMA wal_checkpoint({mode})"))
        .fetch_one(pool)
        .await
        .map_err(backend)?;
    // Column 0 says whether it was stopped by a busy reader or writer; then not every
    // frame was copied, which the two counts show.
    let frames = row.try_get::<i64, _>(1).map_err(backend)?;
    let copied = row.try_get::<i64, _>(2).map_err(backend)?;
    Ok((frames, copied))
}

#[cfg(test)]
mod tests {
    use crate::sqlite::test_support::store_with_assistant;
    use crate::SqliteStore;
    use replyx_core::{NewMessage, Store};
    use replyx_protocol::GuestId;
    use sqlx::Row;

    #[tokio::test]
    async fn appends_never_checkpoint_and_the_background_task_copies_the_wal() {
        let (store, a, _dir) = store_with_assistant().await;
        let setting = sqlx::query("PRAGMA wal_autocheckpoint")
            .fetch_one(&store.write)
            .await
            .unwrap();
        assert_eq!(
            setting.get::<i64, _>(0),
            0,
            "the writer must not checkpoint"
        );

        let (d, _, _) = store.open_dialog(&a, &GuestId::generate()).await.unwrap();
        for i in 0..200 {
            store
                .append_message(NewMessage::visitor(d.id, format!("m{i}")))
                .await
                .unwrap();
        }
        // The first checkpoint after the appends finds their frames and copies them all
        // (nothing else reads); a few rounds at most, each awaited.
        let mut seen = Vec::new();
        for _ in 0..20 {
            let c = store
                .next_checkpoint()
                .await
                .expect("a file store checkpoints");
            seen.push(c);
            if c.wal_frames > 0 && c.copied_frames == c.wal_frames {
                // What it reported is what SQLite itself reads now (a passive
                // checkpoint does not reset the WAL, and nothing was appended since).
                let own = sqlx::query("PRAGMA wal_checkpoint(PASSIVE)")
                    .fetch_one(&store.write)
                    .await
                    .unwrap();
                assert_eq!(
                    (own.get::<i64, _>(1), own.get::<i64, _>(2)),
                    (c.wal_frames, c.copied_frames),
                    "the reported frames are the WAL's"
                );
                return;
            }
        }
        panic!("the WAL was never copied: {seen:?}");
    }

    /// Under appends that never pause, a PASSIVE checkpoint never catches up and the WAL
    /// is never started over by SQLite itself: past the threshold, the checkpointer asks
    /// the writer to restart it, so the file holds what came between two restarts, not
    /// everything ever appended. Measured against the same appends with the WAL kept
    /// whole (how far apart restarts land depends on how the machine schedules the
    /// checkpointer, so a fixed bound would be a timing assumption; the ratio is not).
    ///
    /// The reference holds a reader's snapshot from before the appends, so SQLite cannot
    /// start the WAL over by itself either: with restarts merely never asked for, a
    /// writer fast enough to leave gaps between batches let a checkpoint catch up and
    /// SQLite reset the WAL now and then (1,872 frames in one run, 7,600 in another),
    /// and the ratio measured the machine's scheduling instead of the restarts.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn under_steady_appends_the_wal_is_started_over_past_its_threshold() {
        const THRESHOLD: i64 = 200;
        let (never, never_report) = wal_after_steady_appends(i64::MAX, true).await;
        let (bounded, report) = wal_after_steady_appends(THRESHOLD, false).await;
        assert_eq!(never_report.restarts, 0, "{never_report:?}");
        assert!(report.restarts > 0, "never restarted: {report:?}");
        assert!(
            report.restart_micros > 0,
            "the restarts' time is counted: {report:?}"
        );
        assert_eq!(report.restart_threshold_frames, THRESHOLD);
        assert!(
            bounded * 3 <= never,
            "the WAL grew to {bounded} frames with restarts, {never} without: {report:?}"
        );
    }

    /// Appends 16 x 600 messages from 16 writers with a checkpointer every 5 ms asking
    /// for restarts past `threshold` (and, with `hold_snapshot`, a reader holding its
    /// snapshot from before the appends to their end); the WAL file's size then (in
    /// frames: the file keeps its largest size, the limit that cuts it being far
    /// larger) and the checkpointer's last report.
    async fn wal_after_steady_appends(
        threshold: i64,
        hold_snapshot: bool,
    ) -> (i64, super::Checkpoint) {
        let (store, a, dir) = store_with_assistant().await;
        let url = format!("sqlite://{}", dir.path().join("t.db").display());
        let mut reader = None;
        if hold_snapshot {
            let mut conn = <sqlx::SqliteConnection as sqlx::Connection>::connect(&url)
                .await
                .unwrap();
            sqlx::query("BEGIN").execute(&mut conn).await.unwrap();
            sqlx::query("SELECT count(*) FROM events")
                .fetch_one(&mut conn)
                .await
                .unwrap();
            reader = Some(conn);
        }
        let pool = sqlx::sqlite::SqlitePoolOptions::new()
            .max_connections(1)
            .connect(&url)
            .await
            .unwrap();
        let stop = tokio_util::sync::CancellationToken::new();
        let mut status = super::start(
            pool,
            std::time::Duration::from_millis(5),
            threshold,
            store.wal_restart.clone(),
            stop.clone(),
        );
        let mut writers = Vec::new();
        for w in 0..16 {
            let store = store.clone();
            let (d, _, _) = store.open_dialog(&a, &GuestId::generate()).await.unwrap();
            writers.push(tokio::spawn(async move {
                for i in 0..600 {
                    store
                        .append_message(NewMessage::visitor(d.id, format!("w{w} m{i}")))
                        .await
                        .unwrap();
                }
            }));
        }
        for w in writers {
            w.await.unwrap();
        }
        if let Some(mut conn) = reader {
            sqlx::query("ROLLBACK").execute(&mut conn).await.unwrap();
        }
        // The report of a checkpoint run after the last append.
        status.borrow_and_update();
        status.changed().await.unwrap();
        let last = *status.borrow();
        stop.cancel();
        let total = sqlx::query("SELECT count(*) FROM events")
            .fetch_one(&store.read)
            .await
            .unwrap()
            .get::<i64, _>(0);
        assert!(total >= 16 * 600, "{total} events");
        let wal = std::fs::metadata(dir.path().join("t.db-wal"))
            .unwrap()
            .len() as i64;
        (wal / 4096, last)
    }

    #[tokio::test]
    async fn an_in_memory_store_has_no_checkpointer() {
        let store = SqliteStore::build("sqlite::memory:", "test").await.unwrap();
        assert_eq!(store.next_checkpoint().await, None);
    }
}
