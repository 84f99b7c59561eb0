//! The change feed on PostgreSQL: events and signals stored by *other* origins after a
//! cursor. Row ids are handed out at insert, not at commit, so a feed by row id alone
//! could pass a row whose transaction commits late. Rows are therefore read in
//! (writing transaction id, row id) order and only from transactions older than the
//! oldest one still running (the snapshot's `xmin`): every such transaction has ended,
//! so no row can appear later below the cursor. A cluster normally carries events on
//! its bus; this feed keeps the `Store` contract whole (and serves a store-watching
//! bus on PostgreSQL) at the cost of lagging behind long transactions.

use super::{backend, rows};
use crate::records::now;
use chrono::{DateTime, Utc};
use replyx_core::bus::Signal;
use replyx_core::store::ChangeCursor;
use replyx_core::{ChangeBatch, StoreError};
use sqlx::PgPool;

/// Transaction ids below this have all ended.
const HORIZON: &str = "pg_snapshot_xmin(pg_current_snapshot())::text::bigint";

pub(crate) async fn append_signal(
    pool: &PgPool,
    signal: &Signal,
    origin: &str,
) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO signals (dialog_id, body, origin, created_at) VALUES ($1, $2, $3, $4)",
    )
    .bind(signal.dialog_id.to_string())
    .bind(serde_json::to_string(signal).expect("signal serializes"))
    .bind(origin)
    .bind(now())
    .execute(pool)
    .await
    .map_err(backend)?;
    Ok(())
}

/// A cursor just below the horizon: nothing committed after this call is missed. Rows
/// of transactions that ended just before it, above the horizon, may be returned once
/// more; readers drop events they hold by seq, and signals are ephemeral.
pub(crate) async fn cursor(pool: &PgPool) -> Result<ChangeCursor, StoreError> {
    let row = sqlx::query(&format!("SELECT {HORIZON} - 1 AS tx"))
        .fetch_one(pool)
        .await
        .map_err(backend)?;
    let tx: i64 = rows::get(&row, "tx")?;
    Ok(ChangeCursor {
        event_tx: tx,
        signal_tx: tx,
        event_row: i64::MAX,
        signal_row: i64::MAX,
    })
}

pub(crate) async fn since(
    pool: &PgPool,
    cursor: ChangeCursor,
    limit: u32,
    origin: &str,
) -> Result<ChangeBatch, StoreError> {
    let mut next = cursor;
    let event_rows = sqlx::query(&format!(
        "SELECT tx, row_id, origin, {} FROM events \
         WHERE (tx, row_id) > ($1, $2) AND tx < {HORIZON} ORDER BY tx, row_id LIMIT $3",
        rows::EVENT_COLUMNS
    ))
    .bind(cursor.event_tx)
    .bind(cursor.event_row)
    .bind(i64::from(limit))
    .fetch_all(pool)
    .await
    .map_err(backend)?;
    let mut events = Vec::new();
    for row in &event_rows {
        next.event_tx = rows::get(row, "tx")?;
        next.event_row = rows::get(row, "row_id")?;
        if rows::get::<String>(row, "origin")? != origin {
            events.push(rows::event(row)?);
        }
    }
    let signal_rows = sqlx::query(&format!(
        "SELECT tx, row_id, origin, body FROM signals \
         WHERE (tx, row_id) > ($1, $2) AND tx < {HORIZON} ORDER BY tx, row_id LIMIT $3"
    ))
    .bind(cursor.signal_tx)
    .bind(cursor.signal_row)
    .bind(i64::from(limit))
    .fetch_all(pool)
    .await
    .map_err(backend)?;
    let mut signals = Vec::new();
    for row in &signal_rows {
        next.signal_tx = rows::get(row, "tx")?;
        next.signal_row = rows::get(row, "row_id")?;
        if rows::get::<String>(row, "origin")? != origin {
            let body: String = rows::get(row, "body")?;
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

pub(crate) async fn prune(pool: &PgPool, before: DateTime<Utc>) -> Result<u64, StoreError> {
    let done = sqlx::query("DELETE FROM signals WHERE created_at < $1")
        .bind(before)
        .execute(pool)
        .await
        .map_err(backend)?;
    Ok(done.rows_affected())
}
