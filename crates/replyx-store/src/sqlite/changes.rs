//! The change feed other processes read: events and signals stored by *other* origins
//! after a cursor, in commit order. Row ids grow in commit order because SQLite admits
//! one writer at a time, so a reader never skips a row committed after its cursor.

use super::{backend, rows};
use chrono::{DateTime, Utc};
use replyx_core::bus::Signal;
use replyx_core::store::ChangeCursor;
use replyx_core::{ChangeBatch, StoreError, StoredEvent};
use sqlx::{Row, SqlitePool};

pub(crate) async fn append_signal(
    pool: &SqlitePool,
    signal: &Signal,
    origin: &str,
) -> Result<(), StoreError> {
    sqlx::query("INSERT INTO signals (dialog_id, body, origin, created_at) VALUES (?, ?, ?, ?)")
        .bind(signal.dialog_id.to_string())
        .bind(serde_json::to_string(signal).expect("signal serializes"))
        .bind(origin)
        .bind(crate::records::now())
        .execute(pool)
        .await
        .map_err(backend)?;
    Ok(())
}

pub(crate) async fn cursor(pool: &SqlitePool) -> Result<ChangeCursor, StoreError> {
    let row = sqlx::query(
        "SELECT (SELECT coalesce(max(row_id), 0) FROM events) AS e, \
                (SELECT coalesce(max(row_id), 0) FROM signals) AS s",
    )
    .fetch_one(pool)
    .await
    .map_err(backend)?;
    Ok(ChangeCursor {
        event_row: row.try_get("e").map_err(backend)?,
        signal_row: row.try_get("s").map_err(backend)?,
        ..ChangeCursor::default()
    })
}

/// The next page of other processes' events (`limit` rows of the log, this process's
/// own included, so a page ends where it would have) and signals.
pub(crate) async fn since(
    pool: &SqlitePool,
    cursor: ChangeCursor,
    limit: u32,
    origin: &str,
) -> Result<ChangeBatch, StoreError> {
    let mut next = cursor;
    let (events, page_full) = other_events(pool, &mut next, limit, origin).await?;
    let signal_rows = sqlx::query(
        "SELECT row_id, origin, body FROM signals WHERE row_id > ? ORDER BY row_id LIMIT ?",
    )
    .bind(cursor.signal_row)
    .bind(limit as i64)
    .fetch_all(pool)
    .await
    .map_err(backend)?;
    let mut signals = Vec::new();
    for row in &signal_rows {
        next.signal_row = row.try_get("row_id").map_err(backend)?;
        if rows::text(row, "origin")? != origin {
            let body = rows::text(row, "body")?;
            match serde_json::from_str(&body) {
                Ok(signal) => signals.push(signal),
                Err(e) => tracing::warn!(error = %e, "skipping unreadable signal row"),
            }
        }
    }
    let more = page_full || signal_rows.len() as u64 == u64::from(limit);
    Ok(ChangeBatch {
        events,
        signals,
        cursor: next,
        more,
    })
}

/// The page of the event log after `cursor` (`limit` rows): its size and last row, and
/// of its rows only other processes' events. A process alone on its file finds every
/// row its own, and before, each came back whole to be skipped here: sqlx copies every
/// value of every row, the payload included (≈ 8,600 instructions per message in the
/// profile of docs/perf/RESULTS.md §7). Moves `cursor` past the page.
async fn other_events(
    pool: &SqlitePool,
    cursor: &mut ChangeCursor,
    limit: u32,
    origin: &str,
) -> Result<(Vec<StoredEvent>, bool), StoreError> {
    // One statement, so one snapshot: the page counted and its rows filtered by origin
    // inside SQLite. As two statements, a commit between them put rows in the second
    // that the first's cursor did not pass, and the next poll handed them out again
    // (the bus contract test saw seq 2 twice). The page's row sorts first (its row_id
    // is NULL), then the events in log order.
    let found = sqlx::query(&format!(
        "WITH page AS (SELECT row_id, origin, {columns} FROM events \
         WHERE row_id > ?1 ORDER BY row_id LIMIT ?2) \
         SELECT 'page' AS kind, NULL AS row_id, count(*) AS rows_read, \
         max(row_id) AS last_row, NULL AS dialog_id, NULL AS seq, \
         NULL AS prev_visitor_seq, NULL AS payload FROM page \
         UNION ALL SELECT 'event', row_id, NULL, NULL, {columns} FROM page \
         WHERE origin <> ?3 ORDER BY row_id",
        columns = rows::EVENT_COLUMNS
    ))
    .bind(cursor.event_row)
    .bind(i64::from(limit))
    .bind(origin)
    .fetch_all(pool)
    .await
    .map_err(backend)?;
    let mut events = Vec::new();
    let mut page_full = false;
    for row in &found {
        if rows::text(row, "kind")? == "page" {
            let read: i64 = row.try_get("rows_read").map_err(backend)?;
            page_full = read == i64::from(limit);
            if let Some(last) = row.try_get::<Option<i64>, _>("last_row").map_err(backend)? {
                cursor.event_row = last;
            }
        } else {
            events.push(rows::event(row)?);
        }
    }
    Ok((events, page_full))
}

pub(crate) async fn prune(pool: &SqlitePool, before: DateTime<Utc>) -> Result<u64, StoreError> {
    let done = sqlx::query("DELETE FROM signals WHERE created_at < ?")
        .bind(before)
        .execute(pool)
        .await
        .map_err(backend)?;
    Ok(done.rows_affected())
}
