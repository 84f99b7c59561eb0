//! The dialog log: appending with the next seq (inside the caller's `BEGIN IMMEDIATE`
//! transaction), idempotent messages, handoff events, and reads by seq.

use super::{backend, rows};
use chrono::Utc;
use replyx_core::handoff::{self, HandoffAction};
use replyx_core::{Appended, NewMessage, StoreError, StoredEvent, Stream};
use replyx_protocol::{DialogId, DialogStatus, EventPayload, Message, MessageId, Sender, Seq};
use sqlx::{Row, Sqlite, SqlitePool, Transaction};

type Tx = Transaction<'static, Sqlite>;

/// Appends `payload` as the dialog's next event and moves the dialog's positions.
/// Must run inside a write transaction that already holds SQLite's write lock.
pub(crate) async fn insert(
    tx: &mut Tx,
    dialog: DialogId,
    payload: EventPayload,
    origin: &str,
) -> Result<StoredEvent, StoreError> {
    let row = sqlx::query("SELECT last_seq, last_visitor_seq FROM dialogs WHERE id = ?")
        .bind(dialog.to_string())
        .fetch_optional(&mut **tx)
        .await
        .map_err(backend)?
        .ok_or(StoreError::NotFound)?;
    let seq = rows::seq(&row, "last_seq")?.next();
    let prev_visitor_seq = rows::seq(&row, "last_visitor_seq")?;
    let internal = payload.is_internal();
    let (sender, client_msg_id) = match &payload {
        EventPayload::MessageCreated { message } => {
            (Some(message.sender.as_str()), message.client_msg_id.clone())
        }
        EventPayload::DialogStatus { .. } => (None, None),
    };
    let now = Utc::now();
    sqlx::query(
        "INSERT INTO events (dialog_id, seq, prev_visitor_seq, internal, sender, client_msg_id, \
         payload, origin, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
    )
    .bind(dialog.to_string())
    .bind(seq.0 as i64)
    .bind(prev_visitor_seq.0 as i64)
    .bind(internal)
    .bind(sender)
    .bind(client_msg_id)
    .bind(serde_json::to_string(&payload).expect("payload serializes"))
    .bind(origin)
    .bind(now)
    .execute(&mut **tx)
    .await
    .map_err(backend)?;
    sqlx::query(
        "UPDATE dialogs SET last_seq = ?1, \
         last_visitor_seq = CASE WHEN ?2 THEN last_visitor_seq ELSE ?1 END, updated_at = ?3 \
         WHERE id = ?4",
    )
    .bind(seq.0 as i64)
    .bind(internal)
    .bind(now)
    .bind(dialog.to_string())
    .execute(&mut **tx)
    .await
    .map_err(backend)?;
    Ok(StoredEvent {
        dialog_id: dialog,
        seq,
        prev_visitor_seq,
        payload,
    })
}

/// A new message payload stamped now.
pub(crate) fn message_payload(
    sender: Sender,
    text: String,
    client_msg_id: Option<String>,
    operator: Option<replyx_protocol::OperatorRef>,
    internal: bool,
) -> EventPayload {
    EventPayload::MessageCreated {
        message: Message {
            id: MessageId::new(),
            sender,
            text,
            created_at: Utc::now(),
            client_msg_id,
            operator,
            internal,
        },
    }
}

async fn status_of(
    tx: &mut Tx,
    dialog: DialogId,
) -> Result<(DialogStatus, Option<String>), StoreError> {
    let row = sqlx::query("SELECT status, operator_id FROM dialogs WHERE id = ?")
        .bind(dialog.to_string())
        .fetch_optional(&mut **tx)
        .await
        .map_err(backend)?
        .ok_or(StoreError::NotFound)?;
    let status = rows::text(&row, "status")?;
    let status = DialogStatus::parse(&status)
        .ok_or_else(|| StoreError::Backend(format!("corrupt status {status:?}")))?;
    Ok((status, rows::opt_text(&row, "operator_id")?))
}

pub(crate) async fn append_message(
    tx: &mut Tx,
    m: NewMessage,
    origin: &str,
) -> Result<Appended, StoreError> {
    let (status, _) = status_of(tx, m.dialog_id).await?;
    if let Some(key) = &m.client_msg_id {
        let first = sqlx::query(&format!(
            "SELECT {} FROM events WHERE dialog_id = ? AND client_msg_id = ?",
            rows::EVENT_COLUMNS
        ))
        .bind(m.dialog_id.to_string())
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
    if status == DialogStatus::Closed {
        return Err(StoreError::DialogClosed);
    }
    if m.require_status.is_some_and(|s| s != status) {
        return Err(StoreError::StatusChanged);
    }
    let payload = message_payload(m.sender, m.text, m.client_msg_id, m.operator, m.internal);
    let event = insert(tx, m.dialog_id, payload, origin).await?;
    Ok(Appended {
        event,
        duplicate: false,
    })
}

pub(crate) async fn handoff(
    tx: &mut Tx,
    dialog: DialogId,
    action: HandoffAction,
    max_held: u64,
    origin: &str,
) -> Result<Vec<StoredEvent>, StoreError> {
    let (status, holder) = status_of(tx, dialog).await?;
    let holder = holder.map(|h| rows::parse_id(&h)).transpose()?;
    let held_by_actor = match &action {
        HandoffAction::Take(op) => {
            let row = sqlx::query(
                "SELECT count(*) AS n FROM dialogs WHERE operator_id = ? AND status = 'operator'",
            )
            .bind(op.id.to_string())
            .fetch_one(&mut **tx)
            .await
            .map_err(backend)?;
            row.try_get::<i64, _>("n").map_err(backend)? as u64
        }
        _ => 0,
    };
    let Some(t) = handoff::decide(status, holder, &action, held_by_actor, max_held)
        .map_err(StoreError::Handoff)?
    else {
        return Ok(Vec::new());
    };
    sqlx::query("UPDATE dialogs SET status = ?, operator_id = ? WHERE id = ?")
        .bind(t.status.as_str())
        .bind(t.operator.as_ref().map(|o| o.id.to_string()))
        .bind(dialog.to_string())
        .execute(&mut **tx)
        .await
        .map_err(backend)?;
    let status_event = EventPayload::DialogStatus {
        status: t.status,
        operator: t.operator,
    };
    let notice = message_payload(Sender::System, t.notice, None, None, false);
    Ok(vec![
        insert(tx, dialog, status_event, origin).await?,
        insert(tx, dialog, notice, origin).await?,
    ])
}

pub(crate) async fn last_status(
    pool: &SqlitePool,
    dialog: DialogId,
) -> Result<Option<StoredEvent>, StoreError> {
    let row = sqlx::query(&format!(
        "SELECT {} FROM events WHERE dialog_id = ? AND sender IS NULL ORDER BY seq DESC LIMIT 1",
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
