//! Who answers a dialog: handoff actions, the routing queue and auto-assignment. Every
//! function runs inside the caller's `BEGIN IMMEDIATE` transaction (or reads), so a
//! decision, its events and the queue's bookkeeping are one write that no other writer,
//! in this process or another on the file, can interleave with.

use super::events::insert;
use super::{backend, rows};
use crate::records::{capacity, handoff_payloads, now, parse_id};
use chrono::{DateTime, Utc};
use replyx_core::handoff::{self, HandoffAction, Limits, ReleaseTo};
use replyx_core::{StoreError, StoredEvent};
use replyx_protocol::{AssistantId, DialogId, DialogStatus, OperatorId, OperatorRef};
use sqlx::{Row, Sqlite, SqlitePool, Transaction};

type Tx<'c> = Transaction<'c, Sqlite>;

/// A dialog as a handoff sees it.
struct Current {
    status: DialogStatus,
    holder: Option<OperatorRef>,
    assistant: AssistantId,
    release_to: ReleaseTo,
    queued_at: Option<DateTime<Utc>>,
}

async fn current(tx: &mut Tx<'_>, dialog: DialogId) -> Result<Current, StoreError> {
    let row = sqlx::query(
        "SELECT d.status, d.operator_id, o.name AS operator_name, d.assistant_id, d.queued_at, \
         a.release_to FROM dialogs d JOIN assistants a ON a.id = d.assistant_id \
         LEFT JOIN operators o ON o.id = d.operator_id WHERE d.id = ?",
    )
    .bind(dialog.to_string())
    .fetch_optional(&mut **tx)
    .await
    .map_err(backend)?
    .ok_or(StoreError::NotFound)?;
    let holder = match (
        rows::opt_text(&row, "operator_id")?,
        rows::opt_text(&row, "operator_name")?,
    ) {
        (Some(id), Some(name)) => Some(OperatorRef {
            id: parse_id(&id)?,
            name,
        }),
        _ => None,
    };
    let release_to = rows::text(&row, "release_to")?;
    Ok(Current {
        status: crate::records::status(&rows::text(&row, "status")?)?,
        holder,
        assistant: parse_id(&rows::text(&row, "assistant_id")?)?,
        release_to: ReleaseTo::parse(&release_to)
            .ok_or_else(|| StoreError::Backend(format!("unknown release_to {release_to:?}")))?,
        queued_at: row.try_get("queued_at").map_err(backend)?,
    })
}

/// How many open dialogs `operator` holds and may hold.
async fn load(
    tx: &mut Tx<'_>,
    operator: OperatorId,
    default_max: u64,
) -> Result<(u64, u64), StoreError> {
    let row = sqlx::query(
        "SELECT (SELECT count(*) FROM dialogs WHERE operator_id = ?1 AND status = 'operator') AS held, \
         (SELECT max_dialogs FROM operators WHERE id = ?1) AS max_dialogs",
    )
    .bind(operator.to_string())
    .fetch_one(&mut **tx)
    .await
    .map_err(backend)?;
    let held = row.try_get::<i64, _>("held").map_err(backend)?.max(0) as u64;
    let max = capacity(row.try_get("max_dialogs").map_err(backend)?).map_or(default_max, u64::from);
    Ok((held, max))
}

/// The operator who would hold the dialog after `action`, if it gives it to one.
fn target(action: &HandoffAction) -> Option<&OperatorRef> {
    match action {
        HandoffAction::Take(op) | HandoffAction::Assign(op) => Some(op),
        HandoffAction::Transfer { to, .. } => Some(to),
        _ => None,
    }
}

pub(crate) async fn handoff(
    tx: &mut Tx<'_>,
    dialog: DialogId,
    action: HandoffAction,
    default_max: u64,
    origin: &str,
) -> Result<Vec<StoredEvent>, StoreError> {
    let now = now();
    let c = current(tx, dialog).await?;
    let (held_by_target, max_held) = match target(&action) {
        Some(op) => load(tx, op.id, default_max).await?,
        None => (0, default_max),
    };
    let limits = Limits {
        held_by_target,
        max_held,
        release_to: c.release_to,
    };
    let Some(t) = handoff::decide(c.status, c.holder.as_ref(), &action, limits)
        .map_err(StoreError::Handoff)?
    else {
        return Ok(Vec::new());
    };
    let queued_at = (t.status == DialogStatus::WaitingOperator).then_some(now);
    sqlx::query("UPDATE dialogs SET status = ?, operator_id = ?, queued_at = ? WHERE id = ?")
        .bind(t.status.as_str())
        .bind(t.operator.as_ref().map(|o| o.id.to_string()))
        .bind(queued_at)
        .bind(dialog.to_string())
        .execute(&mut **tx)
        .await
        .map_err(backend)?;
    if let Some(holder) = &t.operator {
        if c.status == DialogStatus::WaitingOperator {
            let waited = c
                .queued_at
                .map_or(0, |q| (now - q).num_milliseconds().max(0));
            sqlx::query(
                "INSERT INTO queue_waits (assistant_id, waited_ms, picked_at) VALUES (?, ?, ?)",
            )
            .bind(c.assistant.to_string())
            .bind(waited)
            .bind(now)
            .execute(&mut **tx)
            .await
            .map_err(backend)?;
        }
        // The round robin among equally loaded operators: given a dialog just now.
        sqlx::query(
            "INSERT INTO operator_presence (operator_id, last_assigned_at) VALUES (?1, ?2) \
             ON CONFLICT (operator_id) DO UPDATE SET last_assigned_at = ?2",
        )
        .bind(holder.id.to_string())
        .bind(now)
        .execute(&mut **tx)
        .await
        .map_err(backend)?;
    }
    let [status_event, notice] = handoff_payloads(t);
    Ok(vec![
        insert(tx, dialog, status_event, origin).await?,
        insert(tx, dialog, notice, origin).await?,
    ])
}

/// The longest-waiting dialog of an auto-assigning assistant and an online operator
/// with room, chosen and handed over in the caller's one write transaction.
pub(crate) async fn assign_next(
    tx: &mut Tx<'_>,
    default_max: u64,
    origin: &str,
) -> Result<Option<Vec<StoredEvent>>, StoreError> {
    let Some(dialog) = sqlx::query_scalar::<_, String>(
        "SELECT d.id FROM dialogs d JOIN assistants a ON a.id = d.assistant_id \
         WHERE d.status = 'waiting_operator' AND a.auto_assign \
         ORDER BY d.queued_at NULLS FIRST, d.created_at LIMIT 1",
    )
    .fetch_optional(&mut **tx)
    .await
    .map_err(backend)?
    else {
        return Ok(None);
    };
    let candidate = sqlx::query(
        "SELECT o.id, o.name FROM operators o JOIN operator_presence p ON p.operator_id = o.id \
         WHERE o.status = 'active' AND p.state = 'online' \
           AND (SELECT count(*) FROM dialogs h WHERE h.operator_id = o.id AND h.status = 'operator') \
               < COALESCE(o.max_dialogs, ?1) \
         ORDER BY (SELECT count(*) FROM dialogs h WHERE h.operator_id = o.id AND h.status = 'operator'), \
                  p.last_assigned_at NULLS FIRST, o.id \
         LIMIT 1",
    )
    .bind(default_max as i64)
    .fetch_optional(&mut **tx)
    .await
    .map_err(backend)?;
    let Some(row) = candidate else {
        return Ok(None);
    };
    let operator = OperatorRef {
        id: parse_id(&rows::text(&row, "id")?)?,
        name: rows::text(&row, "name")?,
    };
    let events = handoff(
        tx,
        parse_id(&dialog)?,
        HandoffAction::Assign(operator),
        default_max,
        origin,
    )
    .await?;
    Ok(Some(events))
}

pub(crate) async fn held(
    pool: &SqlitePool,
    operator: OperatorId,
) -> Result<Vec<DialogId>, StoreError> {
    let ids: Vec<String> = sqlx::query_scalar(
        "SELECT id FROM dialogs WHERE operator_id = ? AND status = 'operator' ORDER BY updated_at",
    )
    .bind(operator.to_string())
    .fetch_all(pool)
    .await
    .map_err(backend)?;
    ids.iter().map(|id| parse_id(id)).collect()
}

pub(crate) async fn queue(
    pool: &SqlitePool,
    assistant: AssistantId,
) -> Result<Vec<DialogId>, StoreError> {
    let ids: Vec<String> = sqlx::query_scalar(
        "SELECT id FROM dialogs WHERE assistant_id = ? AND status = 'waiting_operator' \
         ORDER BY queued_at NULLS FIRST, created_at",
    )
    .bind(assistant.to_string())
    .fetch_all(pool)
    .await
    .map_err(backend)?;
    ids.iter().map(|id| parse_id(id)).collect()
}

pub(crate) async fn recent_waits(
    pool: &SqlitePool,
    assistant: AssistantId,
    since: DateTime<Utc>,
    limit: u32,
) -> Result<Vec<u64>, StoreError> {
    let waits: Vec<i64> = sqlx::query_scalar(
        "SELECT waited_ms FROM queue_waits WHERE assistant_id = ? AND picked_at > ? \
         ORDER BY picked_at DESC LIMIT ?",
    )
    .bind(assistant.to_string())
    .bind(since)
    .bind(i64::from(limit))
    .fetch_all(pool)
    .await
    .map_err(backend)?;
    Ok(waits.into_iter().map(|w| w.max(0) as u64).collect())
}
