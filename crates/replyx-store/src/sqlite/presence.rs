//! Operator presence: consoles seen, the status operators choose, and the announced
//! state, moved by one write transaction so that one process announces each change.

use super::{backend, rows};
use crate::records::{capacity, now, parse_id};
use chrono::{DateTime, Utc};
use replyx_core::{OperatorPresence, PresenceChange, StoreError};
use replyx_protocol::{OperatorId, OperatorRef, PresenceState};
use sqlx::{Row, Sqlite, SqlitePool, Transaction};

type Tx<'c> = Transaction<'c, Sqlite>;

fn state(s: &str) -> Result<PresenceState, StoreError> {
    PresenceState::parse(s).ok_or_else(|| StoreError::Backend(format!("unknown presence {s:?}")))
}

pub(crate) async fn seen(tx: &mut Tx<'_>, operators: &[OperatorId]) -> Result<(), StoreError> {
    let now = now();
    for operator in operators {
        sqlx::query(
            "INSERT INTO operator_presence (operator_id, last_seen) VALUES (?1, ?2) \
             ON CONFLICT (operator_id) DO UPDATE SET last_seen = ?2",
        )
        .bind(operator.to_string())
        .bind(now)
        .execute(&mut **tx)
        .await
        .map_err(backend)?;
    }
    Ok(())
}

pub(crate) async fn choose(
    pool: &SqlitePool,
    operator: OperatorId,
    chosen: PresenceState,
) -> Result<(), StoreError> {
    if chosen == PresenceState::Offline {
        return Err(StoreError::Conflict(
            "offline is not a choice; close the console".into(),
        ));
    }
    sqlx::query(
        "INSERT INTO operator_presence (operator_id, chosen) VALUES (?1, ?2) \
         ON CONFLICT (operator_id) DO UPDATE SET chosen = ?2",
    )
    .bind(operator.to_string())
    .bind(chosen.as_str())
    .execute(pool)
    .await
    .map_err(backend)?;
    Ok(())
}

/// The effective state as SQL, for `?1` = the grace cut-off.
const EFFECTIVE: &str = "CASE WHEN p.last_seen > ?1 THEN p.chosen ELSE 'offline' END";

pub(crate) async fn settle(
    tx: &mut Tx<'_>,
    seen_after: DateTime<Utc>,
) -> Result<Vec<PresenceChange>, StoreError> {
    let rows = sqlx::query(&format!(
        "SELECT p.operator_id, o.name, p.state AS was, {EFFECTIVE} AS now \
         FROM operator_presence p JOIN operators o ON o.id = p.operator_id \
         WHERE p.state <> {EFFECTIVE}"
    ))
    .bind(seen_after)
    .fetch_all(&mut **tx)
    .await
    .map_err(backend)?;
    let mut changes = Vec::with_capacity(rows.len());
    for row in rows {
        let change = PresenceChange {
            operator: OperatorRef {
                id: parse_id(&rows::text(&row, "operator_id")?)?,
                name: rows::text(&row, "name")?,
            },
            was: state(&rows::text(&row, "was")?)?,
            now: state(&rows::text(&row, "now")?)?,
        };
        sqlx::query("UPDATE operator_presence SET state = ? WHERE operator_id = ?")
            .bind(change.now.as_str())
            .bind(change.operator.id.to_string())
            .execute(&mut **tx)
            .await
            .map_err(backend)?;
        changes.push(change);
    }
    Ok(changes)
}

pub(crate) async fn list(
    pool: &SqlitePool,
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
                    id: parse_id(&rows::text(row, "id")?)?,
                    name: rows::text(row, "name")?,
                },
                status: state(&rows::text(row, "state")?)?,
                chosen: state(&rows::text(row, "chosen")?)?,
                held: row.try_get::<i64, _>("held").map_err(backend)?.max(0) as u64,
                capacity: capacity(row.try_get("max_dialogs").map_err(backend)?)
                    .map_or(default_max, u64::from),
            })
        })
        .collect()
}
