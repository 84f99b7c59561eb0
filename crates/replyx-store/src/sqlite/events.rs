//! The dialog log: appending with the next seq (inside the caller's `BEGIN IMMEDIATE`
//! transaction), idempotent messages, handoff events, and reads by seq.

use super::{backend, rows};
use crate::records::{message_payload, now, refusal_reason, sender_key};
use replyx_core::{Appended, NewMessage, StoreError, StoredEvent, Stream};
use replyx_protocol::{DialogId, DialogStatus, EventPayload, Seq};
use sqlx::{Sqlite, SqlitePool, Transaction};

/// A write transaction, on a pooled or a borrowed connection.
type Tx<'c> = Transaction<'c, Sqlite>;

/// What a guarded append requires of the dialog; an unguarded append (handoff notices,
/// the welcome) is written whatever the status, the close notice included.
#[derive(Clone, Copy)]
struct Guard {
    require_status: Option<DialogStatus>,
}

/// Appends `payload` as the dialog's next event. One statement: the seq is read from
/// the dialog row inside the INSERT, and the `events_advance_dialog` trigger moves the
/// dialog's positions, so each append is a single round trip to SQLite's thread and
/// fails (or is refused) as a whole. Must run inside a write transaction.
pub(crate) async fn insert(
    tx: &mut Tx<'_>,
    dialog: DialogId,
    payload: EventPayload,
    origin: &str,
) -> Result<StoredEvent, StoreError> {
    insert_where(tx, dialog, payload, origin, None)
        .await?
        .ok_or(StoreError::NotFound)
}

/// Like [`insert`], but with a `guard` the row is only written while the dialog is
/// open, has the required status and holds no event with the same `client_msg_id`;
/// `None` means the guard refused (or the dialog does not exist) and nothing was
/// written.
async fn insert_where(
    tx: &mut Tx<'_>,
    dialog: DialogId,
    payload: EventPayload,
    origin: &str,
    guard: Option<Guard>,
) -> Result<Option<StoredEvent>, StoreError> {
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
         SELECT d.id, d.last_seq + 1, d.last_visitor_seq, ?2, ?3, ?4, ?5, ?6, ?7, ?10 FROM dialogs d \
         WHERE d.id = ?1 AND (?8 = 0 OR (d.status <> 'closed' \
           AND (?9 IS NULL OR d.status = ?9) \
           AND NOT EXISTS (SELECT 1 FROM events e WHERE e.dialog_id = ?1 \
                           AND e.sender_key = ?10 AND e.client_msg_id = ?4))) \
         RETURNING seq, prev_visitor_seq",
    )
    .bind(dialog.to_string())
    .bind(internal)
    .bind(sender)
    .bind(client_msg_id)
    .bind(serde_json::to_string(&payload).expect("payload serializes"))
    .bind(origin)
    .bind(now())
    .bind(guard.is_some())
    .bind(guard.and_then(|g| g.require_status).map(|s| s.as_str()))
    .bind(sender_key)
    .fetch_optional(&mut **tx)
    .await
    .map_err(backend)?;
    row.map(|row| {
        Ok(StoredEvent {
            dialog_id: dialog,
            seq: rows::seq(&row, "seq")?,
            prev_visitor_seq: rows::seq(&row, "prev_visitor_seq")?,
            payload,
        })
    })
    .transpose()
}

async fn status_of(
    tx: &mut Tx<'_>,
    dialog: DialogId,
) -> Result<(DialogStatus, Option<String>), StoreError> {
    let row = sqlx::query("SELECT status, operator_id FROM dialogs WHERE id = ?")
        .bind(dialog.to_string())
        .fetch_optional(&mut **tx)
        .await
        .map_err(backend)?
        .ok_or(StoreError::NotFound)?;
    let status = crate::records::status(&rows::text(&row, "status")?)?;
    Ok((status, rows::opt_text(&row, "operator_id")?))
}

/// Appends a message. The fast path is the guarded INSERT alone; only when the guard
/// refuses does a second look say why (a retry of a stored message, a closed or missing
/// dialog, a changed status), still inside the same transaction.
pub(crate) async fn append_message(
    tx: &mut Tx<'_>,
    m: &NewMessage,
    origin: &str,
) -> Result<Appended, StoreError> {
    let payload = message_payload(
        m.sender,
        m.text.clone(),
        m.client_msg_id.clone(),
        m.operator.clone(),
        m.internal,
    );
    let guard = Guard {
        require_status: m.require_status,
    };
    match insert_where(tx, m.dialog_id, payload, origin, Some(guard)).await? {
        Some(event) => Ok(Appended {
            event,
            duplicate: false,
        }),
        None => refusal(tx, m).await,
    }
}

/// Why a guarded append wrote nothing: the stored first copy of a retried message
/// (the same sender's, see `records::sender_key`) comes back as `Ok` (an idempotent
/// success), anything else as the refusal.
async fn refusal(tx: &mut Tx<'_>, m: &NewMessage) -> Result<Appended, StoreError> {
    if let Some(key) = &m.client_msg_id {
        let first = sqlx::query(&format!(
            "SELECT {} FROM events WHERE dialog_id = ? AND sender_key = ? AND client_msg_id = ?",
            rows::EVENT_COLUMNS
        ))
        .bind(m.dialog_id.to_string())
        .bind(sender_key(m.sender, m.operator.as_ref()))
        .bind(key)
        .fetch_optional(&mut **tx)
        .await
        .map_err(backend)?;
        if let Some(row) = first {
            return Ok(Appended {
                event: rows::event(&row)?,
                duplicate: true,
            });
        }
    }
    let (status, _) = status_of(tx, m.dialog_id).await?;
    Err(refusal_reason(status, m.require_status))
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
