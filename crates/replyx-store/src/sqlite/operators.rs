//! Operator accounts.

use super::{backend, rows};
use replyx_core::{
    AccountStatus, NewOperator, Operator, OperatorPatch, OperatorRecord, Role, StoreError,
};
use replyx_protocol::OperatorId;
use sqlx::sqlite::SqliteRow;
use sqlx::Row;
use sqlx::SqlitePool;

const COLUMNS: &str = "id, email, name, role, status, max_dialogs";

pub(crate) async fn create(pool: &SqlitePool, new: NewOperator) -> Result<Operator, StoreError> {
    let id = OperatorId::new();
    sqlx::query(
        "INSERT INTO operators (id, email, name, password_hash, role, created_at) \
         VALUES (?, ?, ?, ?, ?, ?)",
    )
    .bind(id.to_string())
    .bind(&new.email)
    .bind(&new.name)
    .bind(&new.password_hash)
    .bind(new.role.as_str())
    .bind(crate::records::now())
    .execute(pool)
    .await
    .map_err(backend)?;
    Ok(Operator {
        id,
        email: new.email,
        name: new.name,
        role: new.role,
        status: AccountStatus::Active,
        max_dialogs: None,
    })
}

pub(crate) fn operator(row: &SqliteRow) -> Result<Operator, StoreError> {
    Ok(Operator {
        id: rows::parse_id(&rows::text(row, "id")?)?,
        email: rows::text(row, "email")?,
        name: rows::text(row, "name")?,
        role: crate::records::role(&rows::text(row, "role")?)?,
        status: crate::records::account_status(&rows::text(row, "status")?)?,
        max_dialogs: crate::records::capacity(row.try_get("max_dialogs").map_err(backend)?),
    })
}

pub(crate) async fn by_email(
    pool: &SqlitePool,
    email: &str,
) -> Result<Option<OperatorRecord>, StoreError> {
    let row = sqlx::query(&format!(
        "SELECT {COLUMNS}, password_hash FROM operators WHERE email = ?"
    ))
    .bind(email)
    .fetch_optional(pool)
    .await
    .map_err(backend)?;
    row.map(|r| {
        Ok(OperatorRecord {
            operator: operator(&r)?,
            password_hash: rows::text(&r, "password_hash")?,
        })
    })
    .transpose()
}

pub(crate) async fn by_id(
    pool: &SqlitePool,
    id: OperatorId,
) -> Result<Option<Operator>, StoreError> {
    let row = sqlx::query(&format!("SELECT {COLUMNS} FROM operators WHERE id = ?"))
        .bind(id.to_string())
        .fetch_optional(pool)
        .await
        .map_err(backend)?;
    row.as_ref().map(operator).transpose()
}

pub(crate) async fn list(pool: &SqlitePool) -> Result<Vec<Operator>, StoreError> {
    let rows = sqlx::query(&format!(
        "SELECT {COLUMNS} FROM operators WHERE status <> 'removed' ORDER BY created_at, id"
    ))
    .fetch_all(pool)
    .await
    .map_err(backend)?;
    rows.iter().map(operator).collect()
}

pub(crate) async fn update(
    pool: &SqlitePool,
    id: OperatorId,
    patch: OperatorPatch,
) -> Result<Operator, StoreError> {
    let row = sqlx::query(&format!(
        "UPDATE operators SET name = COALESCE(?, name), role = COALESCE(?, role), \
         status = COALESCE(?, status), password_hash = COALESCE(?, password_hash), \
         max_dialogs = CASE WHEN ? THEN ? ELSE max_dialogs END \
         WHERE id = ? AND status <> 'removed' RETURNING {COLUMNS}"
    ))
    .bind(patch.name)
    .bind(patch.role.map(Role::as_str))
    .bind(patch.status.map(AccountStatus::as_str))
    .bind(patch.password_hash)
    .bind(patch.max_dialogs.is_some())
    .bind(patch.max_dialogs.flatten().map(i64::from))
    .bind(id.to_string())
    .fetch_optional(pool)
    .await
    .map_err(backend)?
    .ok_or(StoreError::NotFound)?;
    operator(&row)
}

pub(crate) async fn password_hash(
    pool: &SqlitePool,
    id: OperatorId,
) -> Result<Option<String>, StoreError> {
    sqlx::query_scalar("SELECT password_hash FROM operators WHERE id = ? AND status <> 'removed'")
        .bind(id.to_string())
        .fetch_optional(pool)
        .await
        .map_err(backend)
}
