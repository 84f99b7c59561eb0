//! Dialogs: open-or-create for a guest (with the welcome message in the same
//! transaction), reads, the inbox list, and read marks.

use super::backend;
use super::events::insert;
use super::rows::{self, DIALOG_COLUMNS, DIALOG_FROM};
use crate::records::{message_payload, now, seq};
use replyx_core::model::{DialogQuery, DialogRecord};
use replyx_core::{Assistant, StoreError, StoredEvent};
use replyx_protocol::{DialogId, DialogSummary, GuestId, Reader, Sender, Seq};
use sqlx::{PgPool, Postgres, Transaction};

type Tx = Transaction<'static, Postgres>;

/// The guest's open dialog with this assistant, if any.
pub(crate) async fn open_existing(
    tx: &mut Tx,
    assistant: &Assistant,
    guest: &GuestId,
) -> Result<Option<DialogRecord>, StoreError> {
    let row = sqlx::query(&format!(
        "SELECT {DIALOG_COLUMNS} FROM {DIALOG_FROM} \
         WHERE d.assistant_id = $1 AND d.guest_id = $2 AND d.status <> 'closed'"
    ))
    .bind(assistant.id.to_string())
    .bind(guest.as_str())
    .fetch_optional(&mut **tx)
    .await
    .map_err(backend)?;
    row.as_ref().map(rows::dialog).transpose()
}

/// Returns the open dialog or creates it with its welcome. `None` when another
/// transaction created the guest's dialog between our look and our insert (the
/// partial unique index refused ours): the caller reads that one after this commits.
pub(crate) async fn open(
    tx: &mut Tx,
    assistant: &Assistant,
    guest: &GuestId,
    origin: &str,
) -> Result<Option<(DialogRecord, Vec<StoredEvent>, bool)>, StoreError> {
    if let Some(existing) = open_existing(tx, assistant, guest).await? {
        return Ok(Some((existing, Vec::new(), false)));
    }
    let id = DialogId::new();
    let now = now();
    // Waits for a concurrent creator of the same guest's dialog, then does nothing if
    // it committed: one open dialog per guest, decided by the index.
    let inserted = sqlx::query(
        "INSERT INTO dialogs (id, assistant_id, guest_id, status, created_at, updated_at) \
         VALUES ($1, $2, $3, 'ai', $4, $4) \
         ON CONFLICT (assistant_id, guest_id) WHERE status <> 'closed' DO NOTHING",
    )
    .bind(id.to_string())
    .bind(assistant.id.to_string())
    .bind(guest.as_str())
    .bind(now)
    .execute(&mut **tx)
    .await
    .map_err(backend)?;
    if inserted.rows_affected() == 0 {
        return Ok(None);
    }
    let mut stored = Vec::new();
    if let Some(welcome) = assistant
        .welcome_message
        .as_ref()
        .filter(|w| !w.trim().is_empty())
    {
        let payload = message_payload(Sender::Assistant, welcome.clone(), None, None, false);
        stored.push(insert(tx, id, payload, origin).await?);
    }
    let row = sqlx::query(&format!(
        "SELECT {DIALOG_COLUMNS} FROM {DIALOG_FROM} WHERE d.id = $1"
    ))
    .bind(id.to_string())
    .fetch_one(&mut **tx)
    .await
    .map_err(backend)?;
    Ok(Some((rows::dialog(&row)?, stored, true)))
}

pub(crate) async fn by_id(pool: &PgPool, id: DialogId) -> Result<Option<DialogRecord>, StoreError> {
    let row = sqlx::query(&format!(
        "SELECT {DIALOG_COLUMNS} FROM {DIALOG_FROM} WHERE d.id = $1"
    ))
    .bind(id.to_string())
    .fetch_optional(pool)
    .await
    .map_err(backend)?;
    row.as_ref().map(rows::dialog).transpose()
}

/// Summary columns: the dialog plus its newest message and unread count.
fn summary_sql(filter: &str) -> String {
    format!(
        "SELECT {DIALOG_COLUMNS}, \
         (SELECT payload FROM events e WHERE e.dialog_id = d.id AND e.sender IS NOT NULL \
            ORDER BY e.seq DESC LIMIT 1) AS last_payload, \
         (SELECT count(*) FROM events e WHERE e.dialog_id = d.id AND e.sender = 'visitor' \
            AND e.seq > d.operator_read_up_to) AS unread \
         FROM {DIALOG_FROM} {filter}"
    )
}

pub(crate) async fn summary(
    pool: &PgPool,
    id: DialogId,
) -> Result<Option<DialogSummary>, StoreError> {
    let row = sqlx::query(&summary_sql("WHERE d.id = $1"))
        .bind(id.to_string())
        .fetch_optional(pool)
        .await
        .map_err(backend)?;
    row.as_ref().map(rows::summary).transpose()
}

pub(crate) async fn list(pool: &PgPool, q: DialogQuery) -> Result<Vec<DialogSummary>, StoreError> {
    // Text search scans the messages (and verified visitors' names and e-mails): fine
    // for an operator's occasional search; a full-text index is the next step at scale.
    let filter = "WHERE ($1::text IS NULL OR d.status = $1) \
                  AND ($2::text IS NULL OR d.assistant_id = $2) \
                  AND ($3::timestamptz IS NULL OR d.updated_at < $3) \
                  AND ($5::text IS NULL OR d.assistant_id <> $5) \
                  AND ($6::text IS NULL OR d.operator_id = $6) \
                  AND ($7::text IS NULL OR lower(v.name) LIKE $7 ESCAPE '\\' \
                       OR lower(v.email) LIKE $7 ESCAPE '\\' \
                       OR EXISTS (SELECT 1 FROM events e WHERE e.dialog_id = d.id \
                                  AND e.sender IS NOT NULL \
                                  AND lower(e.payload::jsonb #>> '{message,text}') LIKE $7 ESCAPE '\\')) \
                  ORDER BY d.updated_at DESC LIMIT $4";
    let rows = sqlx::query(&summary_sql(filter))
        .bind(q.status.map(|s| s.as_str()))
        .bind(q.assistant_id.map(|a| a.to_string()))
        .bind(q.before)
        .bind(q.limit as i64)
        .bind(q.exclude_assistant.map(|a| a.to_string()))
        .bind(q.operator.map(|o| o.to_string()))
        .bind(q.text.as_deref().map(crate::records::like_pattern))
        .fetch_all(pool)
        .await
        .map_err(backend)?;
    rows.iter().map(rows::summary).collect()
}

/// One statement: the row lock it takes orders it with appends on any node.
pub(crate) async fn mark_read(
    pool: &PgPool,
    dialog: DialogId,
    reader: Reader,
    up_to: Seq,
) -> Result<Seq, StoreError> {
    let column = match reader {
        Reader::Visitor => "visitor_read_up_to",
        Reader::Operator => "operator_read_up_to",
    };
    let row = sqlx::query(&format!(
        "UPDATE dialogs SET {column} = GREATEST({column}, LEAST($1, last_seq)) WHERE id = $2 \
         RETURNING {column} AS mark"
    ))
    .bind(up_to.0.min(i64::MAX as u64) as i64)
    .bind(dialog.to_string())
    .fetch_optional(pool)
    .await
    .map_err(backend)?
    .ok_or(StoreError::NotFound)?;
    Ok(seq(rows::get(&row, "mark")?))
}
