//! Row mapping between SQLite columns and domain records.

use super::backend;
use chrono::{DateTime, Utc};
use replyx_core::model::DialogRecord;
use replyx_core::{StoreError, StoredEvent};
use replyx_protocol::{DialogStatus, EventPayload, GuestId, OperatorRef, Seq};
use sqlx::sqlite::SqliteRow;
use sqlx::Row;
use std::str::FromStr;

/// Columns of `dialogs` joined with the holding operator's name, as `dialog_columns`
/// lists them.
pub(crate) const DIALOG_COLUMNS: &str = "d.id, d.assistant_id, d.guest_id, d.status, \
    d.operator_id, o.name AS operator_name, d.last_seq, d.last_visitor_seq, \
    d.visitor_read_up_to, d.operator_read_up_to, d.created_at, d.updated_at";

/// `FROM` clause that goes with [`DIALOG_COLUMNS`].
pub(crate) const DIALOG_FROM: &str = "dialogs d LEFT JOIN operators o ON o.id = d.operator_id";

pub(crate) fn parse_id<T: FromStr>(s: &str) -> Result<T, StoreError> {
    s.parse()
        .map_err(|_| StoreError::Backend(format!("corrupt id {s:?}")))
}

pub(crate) fn seq(row: &SqliteRow, col: &str) -> Result<Seq, StoreError> {
    let n: i64 = row.try_get(col).map_err(backend)?;
    Ok(Seq(n.max(0) as u64))
}

pub(crate) fn time(row: &SqliteRow, col: &str) -> Result<DateTime<Utc>, StoreError> {
    row.try_get(col).map_err(backend)
}

pub(crate) fn text(row: &SqliteRow, col: &str) -> Result<String, StoreError> {
    row.try_get(col).map_err(backend)
}

pub(crate) fn opt_text(row: &SqliteRow, col: &str) -> Result<Option<String>, StoreError> {
    row.try_get(col).map_err(backend)
}

pub(crate) fn dialog(row: &SqliteRow) -> Result<DialogRecord, StoreError> {
    let status = text(row, "status")?;
    let operator = match (
        opt_text(row, "operator_id")?,
        opt_text(row, "operator_name")?,
    ) {
        (Some(id), Some(name)) => Some(OperatorRef {
            id: parse_id(&id)?,
            name,
        }),
        _ => None,
    };
    let guest = text(row, "guest_id")?;
    Ok(DialogRecord {
        id: parse_id(&text(row, "id")?)?,
        assistant_id: parse_id(&text(row, "assistant_id")?)?,
        guest_id: GuestId::parse(&guest)
            .ok_or_else(|| StoreError::Backend(format!("corrupt guest id {guest:?}")))?,
        status: DialogStatus::parse(&status)
            .ok_or_else(|| StoreError::Backend(format!("corrupt status {status:?}")))?,
        operator,
        last_seq: seq(row, "last_seq")?,
        last_visitor_seq: seq(row, "last_visitor_seq")?,
        visitor_read_up_to: seq(row, "visitor_read_up_to")?,
        operator_read_up_to: seq(row, "operator_read_up_to")?,
        created_at: time(row, "created_at")?,
        updated_at: time(row, "updated_at")?,
    })
}

/// Columns of `events` that [`event`] reads.
pub(crate) const EVENT_COLUMNS: &str = "dialog_id, seq, prev_visitor_seq, payload";

pub(crate) fn event(row: &SqliteRow) -> Result<StoredEvent, StoreError> {
    let payload: String = text(row, "payload")?;
    let payload: EventPayload = serde_json::from_str(&payload)
        .map_err(|e| StoreError::Backend(format!("corrupt event payload: {e}")))?;
    Ok(StoredEvent {
        dialog_id: parse_id(&text(row, "dialog_id")?)?,
        seq: seq(row, "seq")?,
        prev_visitor_seq: seq(row, "prev_visitor_seq")?,
        payload,
    })
}
