//! Canned responses of each assistant.

use super::{backend, rows};
use crate::records::parse_id;
use replyx_core::{CannedResponse, StoreError};
use replyx_protocol::AssistantId;
use sqlx::postgres::PgRow;
use sqlx::PgPool;

const COLUMNS: &str = "id, assistant_id, shortcut, text, created_at";

fn canned(row: &PgRow) -> Result<CannedResponse, StoreError> {
    Ok(CannedResponse {
        id: rows::get(row, "id")?,
        assistant_id: parse_id(&rows::get::<String>(row, "assistant_id")?)?,
        shortcut: rows::get(row, "shortcut")?,
        text: rows::get(row, "text")?,
        created_at: rows::get(row, "created_at")?,
    })
}

pub(crate) async fn list(
    pool: &PgPool,
    assistant: AssistantId,
) -> Result<Vec<CannedResponse>, StoreError> {
    let rows = sqlx::query(&format!(
        "SELECT {COLUMNS} FROM canned_responses WHERE assistant_id = $1 ORDER BY shortcut"
    ))
    .bind(assistant.to_string())
    .fetch_all(pool)
    .await
    .map_err(backend)?;
    rows.iter().map(canned).collect()
}

pub(crate) async fn add(pool: &PgPool, c: CannedResponse) -> Result<(), StoreError> {
    let done = sqlx::query(
        "INSERT INTO canned_responses (id, assistant_id, shortcut, text, created_at) \
         SELECT $1, id, $2, $3, $4 FROM assistants WHERE id = $5",
    )
    .bind(&c.id)
    .bind(&c.shortcut)
    .bind(&c.text)
    .bind(c.created_at)
    .bind(c.assistant_id.to_string())
    .execute(pool)
    .await
    .map_err(backend)?;
    if done.rows_affected() == 0 {
        return Err(StoreError::NotFound);
    }
    Ok(())
}

pub(crate) async fn update(
    pool: &PgPool,
    id: &str,
    shortcut: Option<String>,
    text: Option<String>,
) -> Result<CannedResponse, StoreError> {
    let row = sqlx::query(&format!(
        "UPDATE canned_responses SET shortcut = COALESCE($1, shortcut), text = COALESCE($2, text) \
         WHERE id = $3 RETURNING {COLUMNS}"
    ))
    .bind(shortcut)
    .bind(text)
    .bind(id)
    .fetch_optional(pool)
    .await
    .map_err(backend)?
    .ok_or(StoreError::NotFound)?;
    canned(&row)
}

pub(crate) async fn remove(pool: &PgPool, id: &str) -> Result<bool, StoreError> {
    let done = sqlx::query("DELETE FROM canned_responses WHERE id = $1")
        .bind(id)
        .execute(pool)
        .await
        .map_err(backend)?;
    Ok(done.rows_affected() > 0)
}
