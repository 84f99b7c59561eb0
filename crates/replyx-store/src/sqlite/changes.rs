//! The change feed other processes read: events and signals stored by *other* origins
//! after a cursor, in commit order. Row ids grow in commit order because SQLite admits
//! one writer at a time, so a reader never skips a row committed after its cursor.

use super::{backend, rows};
use chrono::{DateTime, Utc};
use replyx_core::bus::Signal;
use replyx_core::store::ChangeCursor;
use replyx_core::{ChangeBatch, StoreError};
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

pub(crate) async fn since(
    pool: &SqlitePool,
    cursor: ChangeCursor,
    limit: u32,
    origin: &str,
) -> Result<ChangeBatch, StoreError> {
    let mut next = cursor;
    let event_rows = sqlx::query(&format!(
        "SELECT row_id, origin, {} FROM events WHERE row_id > ? ORDER BY row_id LIMIT ?",
        rows::EVENT_COLUMNS
    ))
    .bind(cursor.event_row)
    .bind(limit as i64)
    .fetch_all(pool)
    .await
    .map_err(backend)?;
    let mut events = Vec::new();
    for row in &event_rows {
        next.event_row = row.try_get("row_id").map_err(backend)?;
        if rows::text(row, "origin")? != origin {
            events.push(rows::event(row)?);
        }
    }
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
    let more =
        event_rows.len() as u64 == u64::from(limit) || signal_rows.len() as u64 == u64::from(limit);
    Ok(ChangeBatch {
        events,
        signals,
        cursor: next,
        more,
    })
}

pub(crate) async fn prune(pool: &SqlitePool, before: DateTime<Utc>) -> Result<u64, StoreError> {
    let done = sqlx::query("DELETE FROM signals WHERE created_at < ?")
        .bind(before)
        .execute(pool)
        .await
        .map_err(backend)?;
    Ok(done.rows_affected())
}
