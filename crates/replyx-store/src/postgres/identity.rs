//! Visitor identity: the assistants' identity keys, the verified users (one guest id
//! each per assistant, on every device) and a guest's dialogs.

use super::backend;
use super::rows::get;
use super::rows::{self, DIALOG_COLUMNS, DIALOG_FROM};
use crate::records::{now, preview, verified_guest_id};
use replyx_core::{GuestDialog, IdentityKey, StoreError};
use replyx_protocol::{AssistantId, GuestId, VisitorIdentity};
use sqlx::PgPool;

pub(crate) async fn add_key(
    pool: &PgPool,
    assistant: AssistantId,
    key: IdentityKey,
) -> Result<(), StoreError> {
    // Inserted from the assistant's row, so a missing assistant is "nothing inserted".
    let done = sqlx::query(
        "INSERT INTO identity_keys (assistant_id, kid, secret, created_at) \
         SELECT id, $1, $2, $3 FROM assistants WHERE id = $4",
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
    pool: &PgPool,
    assistant: AssistantId,
) -> Result<Vec<IdentityKey>, StoreError> {
    let rows = sqlx::query(
        "SELECT kid, secret, created_at FROM identity_keys WHERE assistant_id = $1 \
         ORDER BY created_at, kid",
    )
    .bind(assistant.to_string())
    .fetch_all(pool)
    .await
    .map_err(backend)?;
    rows.iter()
        .map(|row| {
            Ok(IdentityKey {
                kid: get(row, "kid")?,
                secret: get(row, "secret")?,
                created_at: get(row, "created_at")?,
            })
        })
        .collect()
}

pub(crate) async fn remove_key(
    pool: &PgPool,
    assistant: AssistantId,
    kid: &str,
) -> Result<bool, StoreError> {
    let done = sqlx::query("DELETE FROM identity_keys WHERE assistant_id = $1 AND kid = $2")
        .bind(assistant.to_string())
        .bind(kid)
        .execute(pool)
        .await
        .map_err(backend)?;
    Ok(done.rows_affected() > 0)
}

pub(crate) async fn identify(
    pool: &PgPool,
    assistant: AssistantId,
    identity: &VisitorIdentity,
) -> Result<GuestId, StoreError> {
    let now = now();
    // One statement: two devices identifying at once both get the row's one guest id.
    let row = sqlx::query(
        "INSERT INTO verified_visitors \
           (assistant_id, user_id, guest_id, name, email, first_seen, last_seen) \
         VALUES ($1, $2, $3, $4, $5, $6, $7) \
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
    let guest = get::<String>(&row, "guest_id")?;
    GuestId::parse(&guest).ok_or_else(|| StoreError::Backend(format!("corrupt guest id {guest:?}")))
}

pub(crate) async fn verified(
    pool: &PgPool,
    assistant: AssistantId,
    guest: &GuestId,
) -> Result<Option<VisitorIdentity>, StoreError> {
    let row = sqlx::query(
        "SELECT user_id, name, email FROM verified_visitors \
         WHERE assistant_id = $1 AND guest_id = $2",
    )
    .bind(assistant.to_string())
    .bind(guest.as_str())
    .fetch_optional(pool)
    .await
    .map_err(backend)?;
    row.map(|row| {
        Ok(VisitorIdentity {
            user_id: get(&row, "user_id")?,
            name: get(&row, "name")?,
            email: get(&row, "email")?,
        })
    })
    .transpose()
}

pub(crate) async fn guest_dialogs(
    pool: &PgPool,
    assistant: AssistantId,
    guest: &GuestId,
    limit: u32,
) -> Result<Vec<GuestDialog>, StoreError> {
    let rows = sqlx::query(&format!(
        "SELECT {DIALOG_COLUMNS}, \
         (SELECT payload FROM events e WHERE e.dialog_id = d.id AND e.sender IS NOT NULL \
            AND NOT e.internal ORDER BY e.seq DESC LIMIT 1) AS last_payload \
         FROM {DIALOG_FROM} WHERE d.assistant_id = $1 AND d.guest_id = $2 \
         ORDER BY d.updated_at DESC LIMIT $3"
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
                last_message: preview(get::<Option<String>>(row, "last_payload")?.as_deref()),
            })
        })
        .collect()
}
