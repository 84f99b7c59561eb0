//! Store implementations: `SqliteStore`, the embedded default (WAL, one writer
//! connection per process, `BEGIN IMMEDIATE` so several processes on one file serialize
//! cleanly, message appends group-committed, checkpoints in the background), and
//! `PgStore` for a cluster of nodes on PostgreSQL (row locks per dialog, appends
//! group-committed per node). Both implement `replyx_core::Store` and pass the same
//! conformance suite in `tests/`.

mod postgres;
mod records;
pub mod scratch;
mod sqlite;

pub use postgres::PgStore;
pub use sqlite::{Checkpoint, SqliteStore};
