//! The store's write connection borrowed from sqlx and driven with SQLite's own API
//! (rusqlite): what the group-commit writer (`group_commit`) runs its batches on, with
//! no hop to sqlx's thread per statement. Holds the project's one `unsafe` block (ADR
//! 0007).

use super::group_commit::MAX_BATCH;
use replyx_core::StoreError;

/// Prepared statements kept while the connection is held: BEGIN, the two guard
/// lookups and the COMMIT (`message_batch`), and the INSERT of each batch size met.
const STATEMENT_CACHE: usize = MAX_BATCH + 8;

/// SQLite's write connection, locked out of sqlx's thread and driven directly for as
/// long as the lock (`'a`) is held.
pub(crate) struct Held<'a> {
    pub(crate) db: rusqlite::Connection,
    _locked: std::marker::PhantomData<&'a mut ()>,
}

impl<'a> Held<'a> {
    /// Drives the connection `locked` holds.
    #[allow(unsafe_code)]
    pub(crate) fn lock(
        locked: &'a mut sqlx::sqlite::LockedSqliteHandle<'_>,
    ) -> Result<Self, StoreError> {
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

/// Maps an error of SQLite called directly, as `super::backend` maps sqlx's: a unique
/// violation is a conflict, a busy or locked database is `Unavailable` (a later try may
/// succeed), the rest is `Backend`.
pub(crate) fn sqlite_error(e: rusqlite::Error) -> StoreError {
    use rusqlite::ffi;
    match e.sqlite_error() {
        Some(f)
            if f.extended_code == ffi::SQLITE_CONSTRAINT_UNIQUE
                || f.extended_code == ffi::SQLITE_CONSTRAINT_PRIMARYKEY =>
        {
            StoreError::Conflict(e.to_string())
        }
        Some(f)
            if matches!(
                f.extended_code & 0xff,
                ffi::SQLITE_BUSY | ffi::SQLITE_LOCKED
            ) =>
        {
            StoreError::Unavailable(e.to_string())
        }
        _ => StoreError::Backend(e.to_string()),
    }
}
