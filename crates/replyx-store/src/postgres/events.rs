//! The dialog log: appending with the next seq under the dialog's row lock, idempotent
//! messages, handoff events, and reads by seq.

use super::{backend, rows};
use crate::records::{self, new_message_payload, now, refusal_reason};
use replyx_core::{Appended, AppendedTo, NewMessage, StoreError, StoredEvent, Stream};
use replyx_protocol::{DialogId, DialogStatus, EventPayload, Seq};
use sqlx::{PgPool, Postgres, Transaction};

type Tx<'c> = Transaction<'c, Postgres>;

/// One statement per append. `locked` takes the dialog's row lock (waiting for a
/// writer on another node, then re-reading the row it committed), so the seq it reads
/// is the newest; `added` writes the event, or nothing when its sender already stored
/// the `client_msg_id` (the unique index is the arbiter, and a conflict does not abort the
/// surrounding batch); `moved` advances the dialog in the same statement, so no path
/// stores an event without moving `last_seq`. With the guard on, the row is only
/// locked while the dialog is open and in the required status.
const APPEND: &str = "\
WITH locked AS (
    SELECT id, status, assistant_id, last_seq, last_visitor_seq FROM dialogs
     WHERE id = $1 AND (NOT $8 OR (status <> 'closed' AND ($9::text IS NULL OR status = $9)))
       FOR UPDATE),
added AS (
    INSERT INTO events (dialog_id, seq, prev_visitor_seq, internal, sender, client_msg_id,
                        payload, origin, created_at, sender_key)
    SELECT id, last_seq + 1, last_visitor_seq, $2, $3, $4, $5, $6, $7, $10 FROM locked
    ON CONFLICT (dialog_id, sender_key, client_msg_id) WHERE client_msg_id IS NOT NULL DO NOTHING
    RETURNING dialog_id, seq, prev_visitor_seq),
moved AS (
    UPDATE dialogs
       SET last_seq = added.seq,
           last_visitor_seq = CASE WHEN $2 THEN dialogs.last_visitor_seq ELSE added.seq END,
           updated_at = $7
      FROM added WHERE dialogs.id = added.dialog_id)
SELECT added.seq, added.prev_visitor_seq, locked.status, locked.assistant_id
  FROM added CROSS JOIN locked";

/// Appends `payload` as the dialog's next event, whatever its status (the welcome,
/// handoff notices).
pub(crate) async fn insert(
    tx: &mut Tx<'_>,
    dialog: DialogId,
    payload: EventPayload,
    origin: &str,
) -> Result<StoredEvent, StoreError> {
    insert_where(tx, dialog, payload, origin, None)
        .await?
        .map(|(event, _)| event)
        .ok_or(StoreError::NotFound)
}

/// Like [`insert`], but with `guard` set the append requires an open dialog in
/// `require_status` (when given) and a new `client_msg_id`; `None` means it was
/// refused (or the dialog does not exist) and nothing was written.
async fn insert_where(
    tx: &mut Tx<'_>,
    dialog: DialogId,
    payload: EventPayload,
    origin: &str,
    guard: Option<Option<DialogStatus>>,
) -> Result<Option<(StoredEvent, AppendedTo)>, StoreError> {
    let internal = payload.is_internal();
    let (sender, sender_key, client_msg_id) = match &payload {
        EventPayload::MessageCreated { message } => (
            Some(message.sender.as_str()),
            Some(records::sender_key(
                message.sender,
                message.operator.as_ref(),
            )),
            message.client_msg_id.clone(),
        ),
        EventPayload::DialogStatus { .. } | EventPayload::DialogRated { .. } => (None, None, None),
    };
    let row = sqlx::query(APPEND)
        .bind(dialog.to_string())
        .bind(internal)
        .bind(sender)
        .bind(client_msg_id)
        .bind(records::json(&payload))
        .bind(origin)
        .bind(now())
        .bind(guard.is_some())
        .bind(guard.flatten().map(|s| s.as_str()))
        .bind(sender_key)
        .fetch_optional(&mut **tx)
        .await
        .map_err(backend)?;
    row.map(|row| {
        let status: String = rows::get(&row, "status")?;
        let event = StoredEvent {
            dialog_id: dialog,
            seq: records::seq(rows::get(&row, "seq")?),
            prev_visitor_seq: records::seq(rows::get(&row, "prev_visitor_seq")?),
            payload,
        };
        let to = AppendedTo {
            status: records::status(&status)?,
            assistant_id: records::parse_id(&rows::get::<String>(&row, "assistant_id")?)?,
        };
        Ok((event, to))
    })
    .transpose()
}

/// The dialog's status and holder, locking its row when `lock` is set.
async fn status_of(
    tx: &mut Tx<'_>,
    dialog: DialogId,
    lock: bool,
) -> Result<(DialogStatus, Option<String>), StoreError> {
    let lock = if lock { " FOR UPDATE" } else { "" };
    let row = sqlx::query(&format!(
        "SELECT status, operator_id FROM dialogs WHERE id = $1{lock}"
    ))
    .bind(dialog.to_string())
    .fetch_optional(&mut **tx)
    .await
    .map_err(backend)?
    .ok_or(StoreError::NotFound)?;
    let status: String = rows::get(&row, "status")?;
    Ok((records::status(&status)?, rows::get(&row, "operator_id")?))
}

/// Appends a message; when the guarded statement writes nothing, a second look (a new
/// statement, so it sees what other nodes committed meanwhile) says why.
pub(crate) async fn append_message(
    tx: &mut Tx<'_>,
    m: &NewMessage,
    origin: &str,
) -> Result<Appended, StoreError> {
    let payload = new_message_payload(m);
    match insert_where(tx, m.dialog_id, payload, origin, Some(m.require_status)).await? {
        Some((event, to)) => Ok(Appended {
            event,
            duplicate: false,
            dialog: Some(to),
        }),
        None => refusal(tx, m).await,
    }
}

/// The stored first copy of a retried message (the same sender's, see
/// `records::sender_key`) comes back as an idempotent success; anything else as the
/// refusal.
async fn refusal(tx: &mut Tx<'_>, m: &NewMessage) -> Result<Appended, StoreError> {
    if let Some(key) = &m.client_msg_id {
        let first = sqlx::query(&format!(
            "SELECT {} FROM events WHERE dialog_id = $1 AND sender_key = $2 \
             AND client_msg_id = $3",
            rows::EVENT_COLUMNS
        ))
        .bind(m.dialog_id.to_string())
        .bind(records::sender_key(m.sender, m.operator.as_ref()))
        .bind(key)
        .fetch_optional(&mut **tx)
        .await
        .map_err(backend)?;
        if let Some(row) = first {
            return Ok(Appended {
                event: rows::event(&row)?,
                duplicate: true,
                dialog: None,
            });
        }
    }
    let (status, _) = status_of(tx, m.dialog_id, false).await?;
    Err(refusal_reason(status, m.require_status))
}

pub(crate) async fn last_status(
    pool: &PgPool,
    dialog: DialogId,
) -> Result<Option<StoredEvent>, StoreError> {
    let row = sqlx::query(&format!(
        "SELECT {} FROM events WHERE dialog_id = $1 AND sender IS NULL \
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
        Stream::Visitor => "AND NOT internal",
    }
}

fn seq_param(seq: Seq) -> i64 {
    seq.0.min(i64::MAX as u64) as i64
}

pub(crate) async fn since(
    pool: &PgPool,
    dialog: DialogId,
    since: Seq,
    limit: u32,
    stream: Stream,
) -> Result<Vec<StoredEvent>, StoreError> {
    let rows = sqlx::query(&format!(
        "SELECT {} FROM events WHERE dialog_id = $1 AND seq > $2 {} ORDER BY seq LIMIT $3",
        rows::EVENT_COLUMNS,
        stream_filter(stream)
    ))
    .bind(dialog.to_string())
    .bind(seq_param(since))
    .bind(i64::from(limit))
    .fetch_all(pool)
    .await
    .map_err(backend)?;
    rows.iter().map(rows::event).collect()
}

pub(crate) async fn recent(
    pool: &PgPool,
    dialog: DialogId,
    limit: u32,
    stream: Stream,
) -> Result<Vec<StoredEvent>, StoreError> {
    let rows = sqlx::query(&format!(
        "SELECT * FROM (SELECT {} FROM events WHERE dialog_id = $1 {} \
         ORDER BY seq DESC LIMIT $2) newest ORDER BY seq",
        rows::EVENT_COLUMNS,
        stream_filter(stream)
    ))
    .bind(dialog.to_string())
    .bind(i64::from(limit))
    .fetch_all(pool)
    .await
    .map_err(backend)?;
    rows.iter().map(rows::event).collect()
}

pub(crate) async fn trim(pool: &PgPool, dialog: DialogId, keep: u32) -> Result<u64, StoreError> {
    let done = sqlx::query(
        "DELETE FROM events WHERE dialog_id = $1 \
         AND seq <= (SELECT last_seq FROM dialogs WHERE id = $1) - $2",
    )
    .bind(dialog.to_string())
    .bind(i64::from(keep))
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
    pool: &PgPool,
    dialog: DialogId,
    seq: Seq,
) -> Result<Seq, StoreError> {
    let row = sqlx::query(
        "SELECT CASE WHEN $2 >= d.last_seq THEN d.last_visitor_seq \
         ELSE COALESCE((SELECT e.prev_visitor_seq FROM events e \
                         WHERE e.dialog_id = d.id AND e.seq = $2 + 1), 0) END AS position \
         FROM dialogs d WHERE d.id = $1",
    )
    .bind(dialog.to_string())
    .bind(seq_param(seq).min(i64::MAX - 1))
    .fetch_optional(pool)
    .await
    .map_err(backend)?
    .ok_or(StoreError::NotFound)?;
    Ok(records::seq(rows::get(&row, "position")?))
}
