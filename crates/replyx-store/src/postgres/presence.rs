//! Operator presence on a shared database: consoles seen by any node, the status
//! operators choose, and the announced state, moved by one statement whose row locks
//! make each change the work of exactly one node.

use super::{backend, rows};
use crate::records::{capacity, now, parse_id};
use chrono::{DateTime, Utc};
use replyx_core::{OperatorPresence, PresenceChange, StoreError};
use replyx_protocol::{OperatorId, OperatorRef, PresenceState};
use sqlx::PgPool;

fn state(s: &str) -> Result<PresenceState, StoreError> {
    PresenceState::parse(s).ok_or_else(|| StoreError::Backend(format!("unknown presence {s:?}")))
}

pub(crate) async fn seen(pool: &PgPool, operators: &[OperatorId]) -> Result<(), StoreError> {
    if operators.is_empty() {
        return Ok(());
    }
    let ids: Vec<String> = operators.iter().map(ToString::to_string).collect();
    sqlx::query(
        "INSERT INTO operator_presence (operator_id, last_seen) \
         SELECT id, $2 FROM unnest($1::text[]) AS id \
         ON CONFLICT (operator_id) DO UPDATE SET last_seen = $2",
    )
    .bind(&ids)
    .bind(now())
    .execute(pool)
    .await
    .map_err(backend)?;
    Ok(())
}

pub(crate) async fn choose(
    pool: &PgPool,
    operator: OperatorId,
    chosen: PresenceState,
) -> Result<(), StoreError> {
    if chosen == PresenceState::Offline {
        return Err(StoreError::Conflict(
            "offline is not a choice; close the console".into(),
        ));
    }
    sqlx::query(
        "INSERT INTO operator_presence (operator_id, chosen) VALUES ($1, $2) \
         ON CONFLICT (operator_id) DO UPDATE SET chosen = $2",
    )
    .bind(operator.to_string())
    .bind(chosen.as_str())
    .execute(pool)
    .await
    .map_err(backend)?;
    Ok(())
}

/// One statement: the rows whose announced state differs are locked (a node settling
/// at the same moment waits, then finds them settled and skips them), moved, and
/// returned with their previous state.
pub(crate) async fn settle(
    pool: &PgPool,
    seen_after: DateTime<Utc>,
) -> Result<Vec<PresenceChange>, StoreError> {
    let rows = sqlx::query(
        "WITH due AS ( \
           SELECT operator_id, state AS was, \
                  CASE WHEN last_seen > $1 THEN chosen ELSE 'offline' END AS now \
             FROM operator_presence \
            WHERE state <> CASE WHEN last_seen > $1 THEN chosen ELSE 'offline' END \
              FOR UPDATE) \
         UPDATE operator_presence p SET state = due.now FROM due, operators o \
          WHERE p.operator_id = due.operator_id AND o.id = due.operator_id \
         RETURNING p.operator_id, o.name, due.was, due.now",
    )
    .bind(seen_after)
    .fetch_all(pool)
    .await
    .map_err(backend)?;
    rows.iter()
        .map(|row| {
            Ok(PresenceChange {
                operator: OperatorRef {
                    id: parse_id(&rows::get::<String>(row, "operator_id")?)?,
                    name: rows::get(row, "name")?,
                },
                was: state(&rows::get::<String>(row, "was")?)?,
                now: state(&rows::get::<String>(row, "now")?)?,
            })
        })
        .collect()
}

pub(crate) async fn list(
    pool: &PgPool,
    default_max: u64,
) -> Result<Vec<OperatorPresence>, StoreError> {
    let rows = sqlx::query(
        "SELECT o.id, o.name, o.max_dialogs, COALESCE(p.state, 'offline') AS state, \
         COALESCE(p.chosen, 'online') AS chosen, \
         (SELECT count(*) FROM dialogs d WHERE d.operator_id = o.id AND d.status = 'operator') AS held \
         FROM operators o LEFT JOIN operator_presence p ON p.operator_id = o.id \
         WHERE o.status = 'active' ORDER BY o.name, o.id",
    )
    .fetch_all(pool)
    .await
    .map_err(backend)?;
    rows.iter()
        .map(|row| {
            Ok(OperatorPresence {
                operator: OperatorRef {
                    id: parse_id(&rows::get::<String>(row, "id")?)?,
                    name: rows::get(row, "name")?,
                },
                status: state(&rows::get::<String>(row, "state")?)?,
                chosen: state(&rows::get::<String>(row, "chosen")?)?,
                held: rows::get::<i64>(row, "held")?.max(0) as u64,
                capacity: capacity(rows::get::<Option<i32>>(row, "max_dialogs")?.map(i64::from))
                    .map_or(default_max, u64::from),
            })
        })
        .collect()
}
