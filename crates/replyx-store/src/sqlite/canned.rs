//! Canned responses of each assistant.

use super::{backend, rows};
use crate::records::parse_id;
use replyx_core::{CannedResponse, StoreError};
use replyx_protocol::AssistantId;
use sqlx::sqlite::SqliteRow;
use sqlx::{Row, SqlitePool};

const COLUMNS: &str = "id, assistant_id, shortcut, text, created_at";

fn canned(row: &SqliteRow) -> Result<CannedResponse, StoreError> {
    Ok(CannedResponse {
        id: rows::text(row, "id")?,
        assistant_id: parse_id(&rows::text(row, "assistant_id")?)?,
        shortcut: rows::text(row, "shortcut")?,
        text: rows::text(row, "text")?,
        created_at: row.try_get("created_at").map_err(backend)?,
    })
}

pub(crate) async fn list(
    pool: &SqlitePool,
    assistant: AssistantId,
) -> Result<Vec<CannedResponse>, StoreError> {
    let rows = sqlx::query(&format!(
        "SELECT {COLUMNS} FROM canned_responses WHERE assistant_id = ? ORDER BY shortcut"
    ))
    .bind(assistant.to_string())
    .fetch_all(pool)
    .await
    .map_err(backend)?;
    rows.iter().map(canned).collect()
}

pub(crate) async fn add(pool: &SqlitePool, c: CannedResponse) -> Result<(), StoreError> {
    let done = sqlx::query(
        "INSERT INTO canned_responses (id, assistant_id, shortcut, text, created_at) \
         SELECT ?, id, ?, ?, ? FROM assistants WHERE id = ?",
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
    pool: &SqlitePool,
    id: &str,
    shortcut: Option<String>,
    text: Option<String>,
) -> Result<CannedResponse, StoreError> {
    let row = sqlx::query(&format!(
        "UPDATE canned_responses SET shortcut = COALESCE(?, shortcut), text = COALESCE(?, text) \
         WHERE id = ? RETURNING {COLUMNS}"
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

pub(crate) async fn remove(pool: &SqlitePool, id: &str) -> Result<bool, StoreError> {
    let done = sqlx::query("DELETE FROM canned_responses WHERE id = ?")
        .bind(id)
        .execute(pool)
        .await
        .map_err(backend)?;
    Ok(done.rows_affected() > 0)
}
