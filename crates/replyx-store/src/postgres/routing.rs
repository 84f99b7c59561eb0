//! Who answers a dialog: handoff actions, the routing queue and auto-assignment, on a
//! database many nodes write at once. Row locks order everything, always in the same
//! order (the operator who would hold the dialog, then the dialog), so two nodes never
//! wait on each other in a cycle: two takes of one dialog serialize on its row, two
//! dialogs given to one operator serialize on the operator's row (so a capacity is
//! never exceeded), and the queue skips dialogs another node is handing out.

use super::events::insert;
use super::{backend, rows};
use crate::records::{capacity, handoff_payloads, now, parse_id};
use chrono::{DateTime, Utc};
use replyx_core::handoff::{self, HandoffAction, Limits, ReleaseTo};
use replyx_core::{StoreError, StoredEvent};
use replyx_protocol::{AssistantId, DialogId, DialogStatus, OperatorId, OperatorRef};
use sqlx::{PgPool, Postgres, Transaction};

type Tx<'c> = Transaction<'c, Postgres>;

/// A dialog as a handoff sees it.
struct Current {
    status: DialogStatus,
    holder: Option<OperatorRef>,
    assistant: AssistantId,
    release_to: ReleaseTo,
    queued_at: Option<DateTime<Utc>>,
}

/// Locks the dialog's row and reads it.
async fn current(tx: &mut Tx<'_>, dialog: DialogId) -> Result<Current, StoreError> {
    let row = sqlx::query(
        "SELECT d.status, d.operator_id, o.name AS operator_name, d.assistant_id, d.queued_at, \
         a.release_to FROM dialogs d JOIN assistants a ON a.id = d.assistant_id \
         LEFT JOIN operators o ON o.id = d.operator_id WHERE d.id = $1 FOR UPDATE OF d",
    )
    .bind(dialog.to_string())
    .fetch_optional(&mut **tx)
    .await
    .map_err(backend)?
    .ok_or(StoreError::NotFound)?;
    let holder = match (
        rows::get::<Option<String>>(&row, "operator_id")?,
        rows::get::<Option<String>>(&row, "operator_name")?,
    ) {
        (Some(id), Some(name)) => Some(OperatorRef {
            id: parse_id(&id)?,
            name,
        }),
        _ => None,
    };
    let release_to: String = rows::get(&row, "release_to")?;
    Ok(Current {
        status: crate::records::status(&rows::get::<String>(&row, "status")?)?,
        holder,
        assistant: parse_id(&rows::get::<String>(&row, "assistant_id")?)?,
        release_to: ReleaseTo::parse(&release_to)
            .ok_or_else(|| StoreError::Backend(format!("unknown release_to {release_to:?}")))?,
        queued_at: rows::get(&row, "queued_at")?,
    })
}

/// Locks `operator`'s row and says how many open dialogs they hold and may hold.
async fn load(
    tx: &mut Tx<'_>,
    operator: OperatorId,
    default_max: u64,
) -> Result<(u64, u64), StoreError> {
    let row = sqlx::query("SELECT max_dialogs FROM operators WHERE id = $1 FOR UPDATE")
        .bind(operator.to_string())
        .fetch_optional(&mut **tx)
        .await
        .map_err(backend)?
        .ok_or(StoreError::NotFound)?;
    let max = capacity(rows::get::<Option<i32>>(&row, "max_dialogs")?.map(i64::from))
        .map_or(default_max, u64::from);
    let row = sqlx::query(
        "SELECT count(*) AS n FROM dialogs WHERE operator_id = $1 AND status = 'operator'",
    )
    .bind(operator.to_string())
    .fetch_one(&mut **tx)
    .await
    .map_err(backend)?;
    Ok((rows::get::<i64>(&row, "n")?.max(0) as u64, max))
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
    // The operator's row first, then the dialog's: the order every path takes.
    let (held_by_target, max_held) = match target(&action) {
        Some(op) => load(tx, op.id, default_max).await?,
        None => (0, default_max),
    };
    let c = current(tx, dialog).await?;
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
    sqlx::query("UPDATE dialogs SET status = $1, operator_id = $2, queued_at = $3 WHERE id = $4")
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
                "INSERT INTO queue_waits (assistant_id, waited_ms, picked_at) VALUES ($1, $2, $3)",
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
            "INSERT INTO operator_presence (operator_id, last_assigned_at) VALUES ($1, $2) \
             ON CONFLICT (operator_id) DO UPDATE SET last_assigned_at = $2",
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

/// What one assignment attempt came to.
pub(crate) enum Attempt {
    /// A dialog was handed over.
    Given(Vec<StoredEvent>),
    /// Nothing waits, or no operator has room.
    Nothing,
    /// Another node got there first (the operator filled up, or every waiting dialog
    /// is being handed out): worth another attempt at once.
    Contended,
}

/// Picks an online operator with room (least loaded, then given a dialog longest ago)
/// and the longest-waiting dialog of an auto-assigning assistant that no other node is
/// handing out, and hands it over. The operator's row is locked before the dialog's,
/// as in every handoff; the capacity is checked again under that lock.
pub(crate) async fn assign_next(
    tx: &mut Tx<'_>,
    default_max: u64,
    origin: &str,
) -> Result<Attempt, StoreError> {
    let waiting: bool = sqlx::query_scalar(
        "SELECT EXISTS (SELECT 1 FROM dialogs d JOIN assistants a ON a.id = d.assistant_id \
         WHERE d.status = 'waiting_operator' AND a.auto_assign)",
    )
    .fetch_one(&mut **tx)
    .await
    .map_err(backend)?;
    if !waiting {
        return Ok(Attempt::Nothing);
    }
    let candidate = sqlx::query(
        "SELECT o.id, o.name FROM operators o JOIN operator_presence p ON p.operator_id = o.id \
         WHERE o.status = 'active' AND p.state = 'online' \
           AND (SELECT count(*) FROM dialogs h WHERE h.operator_id = o.id AND h.status = 'operator') \
               < COALESCE(o.max_dialogs, $1) \
         ORDER BY (SELECT count(*) FROM dialogs h WHERE h.operator_id = o.id AND h.status = 'operator'), \
                  p.last_assigned_at NULLS FIRST, o.id \
         LIMIT 1",
    )
    .bind(default_max as i64)
    .fetch_optional(&mut **tx)
    .await
    .map_err(backend)?;
    let Some(row) = candidate else {
        return Ok(Attempt::Nothing);
    };
    let operator = OperatorRef {
        id: parse_id(&rows::get::<String>(&row, "id")?)?,
        name: rows::get(&row, "name")?,
    };
    let (held, max) = load(tx, operator.id, default_max).await?;
    if held >= max {
        return Ok(Attempt::Contended);
    }
    let dialog = sqlx::query_scalar::<_, String>(
        "SELECT d.id FROM dialogs d JOIN assistants a ON a.id = d.assistant_id \
         WHERE d.status = 'waiting_operator' AND a.auto_assign \
         ORDER BY d.queued_at NULLS FIRST, d.created_at LIMIT 1 FOR UPDATE OF d SKIP LOCKED",
    )
    .fetch_optional(&mut **tx)
    .await
    .map_err(backend)?;
    let Some(dialog) = dialog else {
        return Ok(Attempt::Contended);
    };
    let events = handoff(
        tx,
        parse_id(&dialog)?,
        HandoffAction::Assign(operator),
        default_max,
        origin,
    )
    .await?;
    Ok(Attempt::Given(events))
}

pub(crate) async fn held(pool: &PgPool, operator: OperatorId) -> Result<Vec<DialogId>, StoreError> {
    let ids: Vec<String> = sqlx::query_scalar(
        "SELECT id FROM dialogs WHERE operator_id = $1 AND status = 'operator' ORDER BY updated_at",
    )
    .bind(operator.to_string())
    .fetch_all(pool)
    .await
    .map_err(backend)?;
    ids.iter().map(|id| parse_id(id)).collect()
}

pub(crate) async fn queue(
    pool: &PgPool,
    assistant: AssistantId,
) -> Result<Vec<DialogId>, StoreError> {
    let ids: Vec<String> = sqlx::query_scalar(
        "SELECT id FROM dialogs WHERE assistant_id = $1 AND status = 'waiting_operator' \
         ORDER BY queued_at NULLS FIRST, created_at",
    )
    .bind(assistant.to_string())
    .fetch_all(pool)
    .await
    .map_err(backend)?;
    ids.iter().map(|id| parse_id(id)).collect()
}

pub(crate) async fn recent_waits(
    pool: &PgPool,
    assistant: AssistantId,
    since: DateTime<Utc>,
    limit: u32,
) -> Result<Vec<u64>, StoreError> {
    let waits: Vec<i64> = sqlx::query_scalar(
        "SELECT waited_ms FROM queue_waits WHERE assistant_id = $1 AND picked_at > $2 \
         ORDER BY picked_at DESC LIMIT $3",
    )
    .bind(assistant.to_string())
    .bind(since)
    .bind(i64::from(limit))
    .fetch_all(pool)
    .await
    .map_err(backend)?;
    Ok(waits.into_iter().map(|w| w.max(0) as u64).collect())
}
