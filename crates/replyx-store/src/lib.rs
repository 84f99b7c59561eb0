//! Store implementations: `SqliteStore`, the embedded default (WAL, one writer
//! connection per process, `BEGIN IMMEDIATE` so several processes on one file serialize
//! cleanly, message appends group-committed, checkpoints in the background). Another
//! backend implements the same `replyx_core::Store` trait and must pass the same
//! conformance suite in `tests/`.

mod sqlite;

pub use sqlite::{Checkpoint, SqliteStore};
