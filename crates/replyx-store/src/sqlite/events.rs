//! The dialog log: appending an event with the next seq (inside the caller's `BEGIN
//! IMMEDIATE` transaction; message batches are in `message_batch`), and reads by seq.

use super::{backend, rows};
use crate::records::{now, sender_key};
use replyx_core::{StoreError, StoredEvent, Stream};
use replyx_protocol::{DialogId, EventPayload, Seq};
use sqlx::{Sqlite, SqlitePool, Transaction};

/// A write transaction, on a pooled or a borrowed connection.
type Tx<'c> = Transaction<'c, Sqlite>;

/// Appends `payload` as the dialog's next event, whatever the dialog's status (handoff
/// notices, the welcome, ratings; messages go through `message_batch`). One statement:
/// the seq is read from the dialog row inside the INSERT, and the
/// `events_advance_dialog` trigger moves the dialog's positions, so it fails as a
/// whole. Must run inside a write transaction.
pub(crate) async fn insert(
    tx: &mut Tx<'_>,
    dialog: DialogId,
    payload: EventPayload,
    origin: &str,
) -> Result<StoredEvent, StoreError> {
    let internal = payload.is_internal();
    let (sender, sender_key, client_msg_id) = match &payload {
        EventPayload::MessageCreated { message } => (
            Some(message.sender.as_str()),
            Some(sender_key(message.sender, message.operator.as_ref())),
            message.client_msg_id.clone(),
        ),
        EventPayload::DialogStatus { .. } | EventPayload::DialogRated { .. } => (None, None, None),
    };
    let row = sqlx::query(
        "INSERT INTO events (dialog_id, seq, prev_visitor_seq, internal, sender, client_msg_id, \
         payload, origin, created_at, sender_key) \
         SELECT d.id, d.last_seq + 1, d.last_visitor_seq, ?2, ?3, ?4, ?5, ?6, ?7, ?8 FROM dialogs d \
         WHERE d.id = ?1 RETURNING seq, prev_visitor_seq",
    )
    .bind(dialog.to_string())
    .bind(internal)
    .bind(sender)
    .bind(client_msg_id)
    .bind(serde_json::to_string(&payload).expect("payload serializes"))
    .bind(origin)
    .bind(now())
    .bind(sender_key)
    .fetch_optional(&mut **tx)
    .await
    .map_err(backend)?
    .ok_or(StoreError::NotFound)?;
    Ok(StoredEvent {
        dialog_id: dialog,
        seq: rows::seq(&row, "seq")?,
        prev_visitor_seq: rows::seq(&row, "prev_visitor_seq")?,
        payload,
    })
}

pub(crate) async fn last_status(
    pool: &SqlitePool,
    dialog: DialogId,
) -> Result<Option<StoredEvent>, StoreError> {
    let row = sqlx::query(&format!(
        "SELECT {} FROM events WHERE dialog_id = ? AND sender IS NULL \
         AND payload LIKE '{{\"type\":\"dialog.status\"%' ORDER BY seq DESC LIMIT 1",
        rows::EVENT_COLUMNS
    ))
    .bind(dialog.to_string())
    .fetch_optional(pool)
    .await
    .map_err(backend)?;
    row.as_ref().map(rows::event).transpose()
}

fn stream_filter(stream: Stream) -> &'static str {
    match stream {
        Stream::Admin => "",
        Stream::Visitor => "AND internal = 0",
    }
}

pub(crate) async fn since(
    pool: &SqlitePool,
    dialog: DialogId,
    since: Seq,
    limit: u32,
    stream: Stream,
) -> Result<Vec<StoredEvent>, StoreError> {
    let rows = sqlx::query(&format!(
        "SELECT {} FROM events WHERE dialog_id = ? AND seq > ? {} ORDER BY seq LIMIT ?",
        rows::EVENT_COLUMNS,
        stream_filter(stream)
    ))
    .bind(dialog.to_string())
    .bind(since.0 as i64)
    .bind(limit as i64)
    .fetch_all(pool)
    .await
    .map_err(backend)?;
    rows.iter().map(rows::event).collect()
}

pub(crate) async fn recent(
    pool: &SqlitePool,
    dialog: DialogId,
    limit: u32,
    stream: Stream,
) -> Result<Vec<StoredEvent>, StoreError> {
    let rows = sqlx::query(&format!(
        "SELECT * FROM (SELECT {} FROM events WHERE dialog_id = ? {} ORDER BY seq DESC LIMIT ?) \
         ORDER BY seq",
        rows::EVENT_COLUMNS,
        stream_filter(stream)
    ))
    .bind(dialog.to_string())
    .bind(limit as i64)
    .fetch_all(pool)
    .await
    .map_err(backend)?;
    rows.iter().map(rows::event).collect()
}

pub(crate) async fn trim(
    pool: &SqlitePool,
    dialog: DialogId,
    keep: u32,
) -> Result<u64, StoreError> {
    let done = sqlx::query(
        "DELETE FROM events WHERE dialog_id = ?1 \
         AND seq <= (SELECT last_seq FROM dialogs WHERE id = ?1) - ?2",
    )
    .bind(dialog.to_string())
    .bind(keep as i64)
    .execute(pool)
    .await
    .map_err(backend)?;
    Ok(done.rows_affected())
}

/// See `Store::visitor_position`. The event after `seq` records the visitor stream's
/// newest seq before it (`prev_visitor_seq`, the link visitor streams resume by), so
/// one row answers; past the log's end the dialog's own `last_visitor_seq` does. A
/// position whose next event was trimmed maps to 0: never to one a visitor did not see.
pub(crate) async fn visitor_position(
    pool: &SqlitePool,
    dialog: DialogId,
    seq: Seq,
) -> Result<Seq, StoreError> {
    let seq = seq.0.min(i64::MAX as u64 - 1) as i64;
    let row = sqlx::query(
        "SELECT CASE WHEN ?2 >= d.last_seq THEN d.last_visitor_seq \
         ELSE COALESCE((SELECT e.prev_visitor_seq FROM events e \
                         WHERE e.dialog_id = d.id AND e.seq = ?2 + 1), 0) END AS position \
         FROM dialogs d WHERE d.id = ?1",
    )
    .bind(dialog.to_string())
    .bind(seq)
    .fetch_optional(pool)
    .await
    .map_err(backend)?
    .ok_or(StoreError::NotFound)?;
    rows::seq(&row, "position")
}
