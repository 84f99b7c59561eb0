//! Assistants.

use super::{backend, rows};
use crate::records::{json, now};
use replyx_core::{Assistant, AssistantPatch, NewAssistant, StoreError};
use replyx_protocol::AssistantId;
use sqlx::{PgPool, Postgres, Transaction};

const ASSISTANT_COLUMNS: &str =
    "id, name, welcome_message, allowed_domains, rules, fallback_reply, identity_mode, \
     auto_assign, release_to, created_at";

pub(crate) async fn create_assistant(
    pool: &PgPool,
    new: NewAssistant,
) -> Result<Assistant, StoreError> {
    let a = Assistant {
        id: AssistantId::new(),
        name: new.name,
        welcome_message: new.welcome_message,
        allowed_domains: new.allowed_domains,
        rules: new.rules,
        fallback_reply: new.fallback_reply,
        identity_mode: new.identity_mode,
        auto_assign: new.auto_assign,
        release_to: new.release_to,
        created_at: now(),
    };
    sqlx::query(&format!(
        "INSERT INTO assistants ({ASSISTANT_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)"
    ))
    .bind(a.id.to_string())
    .bind(&a.name)
    .bind(&a.welcome_message)
    .bind(json(&a.allowed_domains))
    .bind(json(&a.rules))
    .bind(&a.fallback_reply)
    .bind(a.identity_mode.as_str())
    .bind(a.auto_assign)
    .bind(a.release_to.as_str())
    .bind(a.created_at)
    .execute(pool)
    .await
    .map_err(backend)?;
    Ok(a)
}

/// Applies a patch under the assistant's row lock, so two nodes patching different
/// fields at once both keep their change.
pub(crate) async fn update_assistant(
    tx: &mut Transaction<'static, Postgres>,
    id: AssistantId,
    patch: AssistantPatch,
) -> Result<Assistant, StoreError> {
    let row = sqlx::query(&format!(
        "SELECT {ASSISTANT_COLUMNS} FROM assistants WHERE id = $1 FOR UPDATE"
    ))
    .bind(id.to_string())
    .fetch_optional(&mut **tx)
    .await
    .map_err(backend)?
    .ok_or(StoreError::NotFound)?;
    let mut a = rows::assistant(&row)?;
    if let Some(name) = patch.name {
        a.name = name;
    }
    if let Some(welcome) = patch.welcome_message {
        a.welcome_message = welcome;
    }
    if let Some(domains) = patch.allowed_domains {
        a.allowed_domains = domains;
    }
    if let Some(rules) = patch.rules {
        a.rules = rules;
    }
    if let Some(fallback) = patch.fallback_reply {
        a.fallback_reply = fallback;
    }
    if let Some(mode) = patch.identity_mode {
        a.identity_mode = mode;
    }
    if let Some(auto) = patch.auto_assign {
        a.auto_assign = auto;
    }
    if let Some(to) = patch.release_to {
        a.release_to = to;
    }
    sqlx::query(
        "UPDATE assistants SET name = $1, welcome_message = $2, allowed_domains = $3, \
         rules = $4, fallback_reply = $5, identity_mode = $6, auto_assign = $7, \
         release_to = $8 WHERE id = $9",
    )
    .bind(&a.name)
    .bind(&a.welcome_message)
    .bind(json(&a.allowed_domains))
    .bind(json(&a.rules))
    .bind(&a.fallback_reply)
    .bind(a.identity_mode.as_str())
    .bind(a.auto_assign)
    .bind(a.release_to.as_str())
    .bind(a.id.to_string())
    .execute(&mut **tx)
    .await
    .map_err(backend)?;
    Ok(a)
}

pub(crate) async fn assistant(
    pool: &PgPool,
    id: AssistantId,
) -> Result<Option<Assistant>, StoreError> {
    let row = sqlx::query(&format!(
        "SELECT {ASSISTANT_COLUMNS} FROM assistants WHERE id = $1"
    ))
    .bind(id.to_string())
    .fetch_optional(pool)
    .await
    .map_err(backend)?;
    row.as_ref().map(rows::assistant).transpose()
}

pub(crate) async fn list_assistants(pool: &PgPool) -> Result<Vec<Assistant>, StoreError> {
    let rows = sqlx::query(&format!(
        "SELECT {ASSISTANT_COLUMNS} FROM assistants ORDER BY created_at, id"
    ))
    .fetch_all(pool)
    .await
    .map_err(backend)?;
    rows.iter().map(rows::assistant).collect()
}
