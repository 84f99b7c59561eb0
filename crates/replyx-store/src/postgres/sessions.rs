//! Operator login sessions and single-use socket tickets.

use super::{backend, operators};
use chrono::{DateTime, Utc};
use replyx_core::{NewSession, SessionRecord, StoreError};
use replyx_protocol::{OperatorId, SessionId};
use sqlx::{PgPool, Row};

pub(crate) async fn create(pool: &PgPool, session: NewSession) -> Result<(), StoreError> {
    // Sessions that ended by themselves a week ago or more are kept no longer: logins
    // add a row each, and nothing else would ever remove them.
    let cutoff = crate::records::now() - chrono::Duration::days(7);
    sqlx::query("DELETE FROM socket_tickets WHERE expires_at < $1")
        .bind(cutoff)
        .execute(pool)
        .await
        .map_err(backend)?;
    sqlx::query(
        "DELETE FROM operator_sessions WHERE expires_at < $1 \
         AND id NOT IN (SELECT session_id FROM socket_tickets)",
    )
    .bind(cutoff)
    .execute(pool)
    .await
    .map_err(backend)?;
    sqlx::query(
        "INSERT INTO operator_sessions (id, operator_id, created_at, expires_at) \
         VALUES ($1, $2, $3, $4)",
    )
    .bind(session.id.to_string())
    .bind(session.operator.to_string())
    .bind(crate::records::now())
    .bind(session.expires_at)
    .execute(pool)
    .await
    .map_err(backend)?;
    Ok(())
}

pub(crate) async fn get(pool: &PgPool, id: SessionId) -> Result<Option<SessionRecord>, StoreError> {
    let row = sqlx::query(
        "SELECT o.id, o.email, o.name, o.role, o.status, o.max_dialogs, s.expires_at, \
         s.revoked_at IS NOT NULL AS revoked \
         FROM operator_sessions s JOIN operators o ON o.id = s.operator_id WHERE s.id = $1",
    )
    .bind(id.to_string())
    .fetch_optional(pool)
    .await
    .map_err(backend)?;
    row.map(|r| {
        Ok(SessionRecord {
            id,
            operator: operators::operator(&r)?,
            expires_at: r.try_get("expires_at").map_err(backend)?,
            revoked: r.try_get("revoked").map_err(backend)?,
        })
    })
    .transpose()
}

pub(crate) async fn revoke(pool: &PgPool, id: SessionId) -> Result<bool, StoreError> {
    let done = sqlx::query(
        "UPDATE operator_sessions SET revoked_at = $1 WHERE id = $2 AND revoked_at IS NULL",
    )
    .bind(crate::records::now())
    .bind(id.to_string())
    .execute(pool)
    .await
    .map_err(backend)?;
    Ok(done.rows_affected() > 0)
}

pub(crate) async fn revoke_all(
    pool: &PgPool,
    operator: OperatorId,
    keep: Option<SessionId>,
) -> Result<u64, StoreError> {
    let done = sqlx::query(
        "UPDATE operator_sessions SET revoked_at = $1 \
         WHERE operator_id = $2 AND revoked_at IS NULL AND id IS DISTINCT FROM $3",
    )
    .bind(crate::records::now())
    .bind(operator.to_string())
    .bind(keep.map(|k| k.to_string()))
    .execute(pool)
    .await
    .map_err(backend)?;
    Ok(done.rows_affected())
}

pub(crate) async fn create_ticket(
    pool: &PgPool,
    hash: &str,
    session: SessionId,
    expires_at: DateTime<Utc>,
) -> Result<(), StoreError> {
    sqlx::query("DELETE FROM socket_tickets WHERE expires_at < $1")
        .bind(crate::records::now())
        .execute(pool)
        .await
        .map_err(backend)?;
    sqlx::query("INSERT INTO socket_tickets (hash, session_id, expires_at) VALUES ($1, $2, $3)")
        .bind(hash)
        .bind(session.to_string())
        .bind(expires_at)
        .execute(pool)
        .await
        .map_err(backend)?;
    Ok(())
}

pub(crate) async fn take_ticket(
    pool: &PgPool,
    hash: &str,
) -> Result<Option<SessionId>, StoreError> {
    // One DELETE decides: of two sockets presenting the same ticket, only the one whose
    // statement deleted the row gets it back.
    let row =
        sqlx::query("DELETE FROM socket_tickets WHERE hash = $1 RETURNING session_id, expires_at")
            .bind(hash)
            .fetch_optional(pool)
            .await
            .map_err(backend)?;
    let Some(row) = row else { return Ok(None) };
    let expires_at: DateTime<Utc> = row.try_get("expires_at").map_err(backend)?;
    if expires_at <= Utc::now() {
        return Ok(None);
    }
    let id: String = row.try_get("session_id").map_err(backend)?;
    crate::records::parse_id(&id).map(Some)
}
