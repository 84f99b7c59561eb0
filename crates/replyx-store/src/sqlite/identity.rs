//! Visitor identity: the assistants' identity keys, the verified users (one guest id
//! each per assistant, on every device) and a guest's dialogs.

use super::rows::{self, DIALOG_COLUMNS, DIALOG_FROM};
use super::{backend, rows::opt_text, rows::text};
use crate::records::{now, preview, verified_guest_id};
use chrono::{DateTime, Utc};
use replyx_core::{GuestDialog, IdentityKey, StoreError};
use replyx_protocol::{AssistantId, GuestId, VisitorIdentity};
use sqlx::{Row, SqlitePool};

pub(crate) async fn add_key(
    pool: &SqlitePool,
    assistant: AssistantId,
    key: IdentityKey,
) -> Result<(), StoreError> {
    // Inserted from the assistant's row, so a missing assistant is "nothing inserted".
    let done = sqlx::query(
        "INSERT INTO identity_keys (assistant_id, kid, secret, created_at) \
         SELECT id, ?, ?, ? FROM assistants WHERE id = ?",
    )
    .bind(&key.kid)
    .bind(&key.secret)
    .bind(key.created_at)
    .bind(assistant.to_string())
    .execute(pool)
    .await
    .map_err(backend)?;
    if done.rows_affected() == 0 {
        return Err(StoreError::NotFound);
    }
    Ok(())
}

pub(crate) async fn keys(
    pool: &SqlitePool,
    assistant: AssistantId,
) -> Result<Vec<IdentityKey>, StoreError> {
    let rows = sqlx::query(
        "SELECT kid, secret, created_at FROM identity_keys WHERE assistant_id = ? \
         ORDER BY created_at, kid",
    )
    .bind(assistant.to_string())
    .fetch_all(pool)
    .await
    .map_err(backend)?;
    rows.iter()
        .map(|row| {
            Ok(IdentityKey {
                kid: text(row, "kid")?,
                secret: text(row, "secret")?,
                created_at: row
                    .try_get::<DateTime<Utc>, _>("created_at")
                    .map_err(backend)?,
            })
        })
        .collect()
}

pub(crate) async fn remove_key(
    pool: &SqlitePool,
    assistant: AssistantId,
    kid: &str,
) -> Result<bool, StoreError> {
    let done = sqlx::query("DELETE FROM identity_keys WHERE assistant_id = ? AND kid = ?")
        .bind(assistant.to_string())
        .bind(kid)
        .execute(pool)
        .await
        .map_err(backend)?;
    Ok(done.rows_affected() > 0)
}

pub(crate) async fn identify(
    pool: &SqlitePool,
    assistant: AssistantId,
    identity: &VisitorIdentity,
) -> Result<GuestId, StoreError> {
    let now = now();
    // One statement: two devices identifying at once both get the row's one guest id.
    let row = sqlx::query(
        "INSERT INTO verified_visitors \
           (assistant_id, user_id, guest_id, name, email, first_seen, last_seen) \
         VALUES (?, ?, ?, ?, ?, ?, ?) \
         ON CONFLICT (assistant_id, user_id) DO UPDATE \
           SET name = excluded.name, email = excluded.email, last_seen = excluded.last_seen \
         RETURNING guest_id",
    )
    .bind(assistant.to_string())
    .bind(&identity.user_id)
    .bind(verified_guest_id().as_str())
    .bind(&identity.name)
    .bind(&identity.email)
    .bind(now)
    .bind(now)
    .fetch_one(pool)
    .await
    .map_err(backend)?;
    let guest = text(&row, "guest_id")?;
    GuestId::parse(&guest).ok_or_else(|| StoreError::Backend(format!("corrupt guest id {guest:?}")))
}

pub(crate) async fn verified(
    pool: &SqlitePool,
    assistant: AssistantId,
    guest: &GuestId,
) -> Result<Option<VisitorIdentity>, StoreError> {
    let row = sqlx::query(
        "SELECT user_id, name, email FROM verified_visitors \
         WHERE assistant_id = ? AND guest_id = ?",
    )
    .bind(assistant.to_string())
    .bind(guest.as_str())
    .fetch_optional(pool)
    .await
    .map_err(backend)?;
    row.map(|row| {
        Ok(VisitorIdentity {
            user_id: text(&row, "user_id")?,
            name: opt_text(&row, "name")?,
            email: opt_text(&row, "email")?,
        })
    })
    .transpose()
}

pub(crate) async fn guest_dialogs(
    pool: &SqlitePool,
    assistant: AssistantId,
    guest: &GuestId,
    limit: u32,
) -> Result<Vec<GuestDialog>, StoreError> {
    let rows = sqlx::query(&format!(
        "SELECT {DIALOG_COLUMNS}, \
         (SELECT payload FROM events e WHERE e.dialog_id = d.id AND e.sender IS NOT NULL \
            AND e.internal = 0 ORDER BY e.seq DESC LIMIT 1) AS last_payload \
         FROM {DIALOG_FROM} WHERE d.assistant_id = ? AND d.guest_id = ? \
         ORDER BY d.updated_at DESC LIMIT ?"
    ))
    .bind(assistant.to_string())
    .bind(guest.as_str())
    .bind(i64::from(limit))
    .fetch_all(pool)
    .await
    .map_err(backend)?;
    rows.iter()
        .map(|row| {
            Ok(GuestDialog {
                dialog: rows::dialog(row)?,
                last_message: preview(opt_text(row, "last_payload")?.as_deref()),
            })
        })
        .collect()
}
