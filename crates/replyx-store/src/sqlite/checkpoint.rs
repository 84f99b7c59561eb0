//! WAL checkpoints off the write path. By default SQLite checkpoints inside the commit
//! that pushes the WAL past 1,000 pages: that commit copies the WAL into the database
//! and syncs it (~15 ms here, far more on a busy disk) while every append queued behind
//! it waits — the benchmarks' p99 was these stalls. The writer connection therefore
//! never checkpoints (`wal_autocheckpoint = 0`), and this task runs a PASSIVE checkpoint
//! on its own connection a few times a second: PASSIVE takes no write lock and waits
//! for no reader, so appends go on while it copies and syncs. Once everything is copied
//! and no reader needs the old frames, the next commit starts the WAL from its beginning
//! again, so the file stays small.

use super::backend;
use replyx_core::StoreError;
use sqlx::{Row, SqlitePool};
use std::time::Duration;
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

/// How often the WAL is checkpointed.
pub(crate) const INTERVAL: Duration = Duration::from_millis(250);

/// The last checkpoint's figures (SQLite's `wal_checkpoint` result).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Checkpoint {
    /// Frames in the WAL at the last run.
    pub wal_frames: i64,
    /// Of those, frames copied into the database.
    pub copied_frames: i64,
}

/// Runs checkpoints on `pool` every `interval` until `stop`, publishing each result.
pub(crate) fn start(
    pool: SqlitePool,
    interval: Duration,
    stop: CancellationToken,
) -> watch::Receiver<Checkpoint> {
    let (report, status) = watch::channel(Checkpoint::default());
    tokio::spawn(async move {
        let mut ticks = tokio::time::interval(interval);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = ticks.tick() => {}
                _ = stop.cancelled() => break,
            }
            match checkpoint(&pool).await {
                Ok((wal_frames, copied_frames)) => {
                    report.send_replace(Checkpoint {
                        wal_frames,
                        copied_frames,
                    });
                }
                Err(e) => tracing::warn!(error = %e, "WAL checkpoint failed"),
            }
        }
        pool.close().await;
    });
    status
}

/// One PASSIVE checkpoint: (frames in the WAL, frames copied).
async fn checkpoint(pool: &SqlitePool) -> Result<(i64, i64), StoreError> {
    let row = sqlx::query("PRAGMA wal_checkpoint(PASSIVE)")
        .fetch_one(pool)
        .await
        .map_err(backend)?;
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

    #[tokio::test]
    async fn an_in_memory_store_has_no_checkpointer() {
        let store = SqliteStore::build("sqlite::memory:", "test").await.unwrap();
        assert_eq!(store.next_checkpoint().await, None);
    }
}
