//! The embedded store's connections and the settings each one is opened with: one
//! writer, a read pool and a checkpointer (the last two only for a file). Every choice
//! here was measured; why is said beside it.

use super::{backend, checkpoint};
use replyx_core::StoreError;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::SqlitePool;
use std::str::FromStr;
use std::time::Duration;

/// Prepared statements sqlx keeps on the write connection: the store's own writes
/// (about 60). The message appends prepare theirs through the writer's thread
/// (`group_commit`).
const WRITE_STATEMENT_CACHE: usize = 100;

/// The store's connections.
pub(crate) struct Pools {
    /// The one writer connection.
    pub(crate) write: SqlitePool,
    /// Reads; the writer itself for an in-memory database (one connection sees it).
    pub(crate) read: SqlitePool,
    /// The background checkpointer's connection; `None` in memory (no WAL).
    pub(crate) checkpointer: Option<SqlitePool>,
}

/// Opens (creating if missing) the database at `url` (`sqlite://path` or
/// `sqlite::memory:`) with the store's connections.
pub(crate) async fn open(url: &str) -> Result<Pools, StoreError> {
    let options = SqliteConnectOptions::from_str(url)
        .map_err(backend)?
        .create_if_missing(true)
        .journal_mode(SqliteJournalMode::Wal)
        .synchronous(SqliteSynchronous::Normal)
        .busy_timeout(Duration::from_secs(10))
        // After the checkpointer starts the WAL over, the file is cut back to this
        // (`checkpoint::RESTART_FRAMES` pages of 4 KiB) instead of keeping its peak.
        .pragma(
            "journal_size_limit",
            (checkpoint::RESTART_FRAMES * 4096).to_string(),
        )
        // A message batch's INSERT (with its triggers and unique keys) needs a
        // statement journal, and some reads a temporary B-tree: SQLite keeps them in
        // files it creates and deletes in /var/tmp, one per statement that needs it. At
        // ~3,800 messages/s that was 42 files a second, and keeping them in memory gave
        // 8% more deliveries per CPU-second (docs/perf/RESULTS.md). They are small and
        // live for one statement.
        .pragma("temp_store", "memory")
        .foreign_keys(true);
    // One writer connection: appends in this process queue here instead of fighting
    // over SQLite's single write lock. It never checkpoints the WAL; the checkpointer
    // does, off the write path.
    // Not tested before each acquire: it is this process's own idle connection, and the
    // test would cost a round trip to SQLite's thread per transaction.
    // Its statement cache holds every statement sqlx runs on it (`WRITE_STATEMENT_CACHE`).
    let write = SqlitePoolOptions::new()
        .max_connections(1)
        .min_connections(1)
        .test_before_acquire(false)
        .connect_with(
            options
                .clone()
                .pragma("wal_autocheckpoint", "0")
                .statement_cache_capacity(WRITE_STATEMENT_CACHE),
        )
        .await
        .map_err(backend)?;
    if url.contains(":memory:") {
        return Ok(Pools {
            read: write.clone(),
            write,
            checkpointer: None,
        });
    }
    // Not tested before each acquire either: a local file connection does not go
    // stale, and the test is a round trip to SQLite's thread per read.
    let read = SqlitePoolOptions::new()
        .max_connections(4)
        .test_before_acquire(false)
        .connect_with(options.clone().read_only(true))
        .await
        .map_err(backend)?;
    let checkpointer = SqlitePoolOptions::new()
        .max_connections(1)
        .connect_with(options)
        .await
        .map_err(backend)?;
    Ok(Pools {
        write,
        read,
        checkpointer: Some(checkpointer),
    })
}

#[cfg(test)]
mod tests {
    use sqlx::Row;

    #[tokio::test]
    async fn sqlite_is_built_without_allocation_statistics() {
        // .cargo/config.toml builds SQLite with SQLITE_DEFAULT_MEMSTATUS=0: with the
        // statistics on, every allocation SQLite makes takes one process-wide mutex
        // (measured: 4% of the CPU per delivery). A build that loses the setting (the
        // file not copied, the variable overridden) fails here.
        let pools = super::open("sqlite::memory:").await.unwrap();
        let options: Vec<String> = sqlx::query("PRAGMA compile_options")
            .fetch_all(&pools.write)
            .await
            .unwrap()
            .iter()
            .map(|row| row.get(0))
            .collect();
        assert!(
            options.iter().any(|o| o == "DEFAULT_MEMSTATUS=0"),
            "SQLite's compile options: {options:?}"
        );
    }

    #[tokio::test]
    async fn statement_journals_and_temporary_btrees_stay_in_memory_on_every_connection() {
        // temp_store = 2 (MEMORY): a batch's statement journal is no file made and
        // deleted in /var/tmp per statement (measured: 8% of the CPU per delivery).
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("t.db").display());
        let pools = super::open(&url).await.unwrap();
        let checkpointer = pools.checkpointer.expect("a file has a checkpointer");
        for (name, pool) in [
            ("writer", &pools.write),
            ("reader", &pools.read),
            ("checkpointer", &checkpointer),
        ] {
            let row = sqlx::query("PRAGMA temp_store")
                .fetch_one(pool)
                .await
                .unwrap();
            assert_eq!(row.get::<i64, _>(0), 2, "{name}");
        }
    }
}
