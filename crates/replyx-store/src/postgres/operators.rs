//! Operator accounts.

use super::{backend, rows};
use crate::records::{now, parse_id};
use replyx_core::{
    AccountStatus, NewOperator, Operator, OperatorPatch, OperatorRecord, Role, StoreError,
};
use replyx_protocol::OperatorId;
use sqlx::postgres::PgRow;
use sqlx::PgPool;

const COLUMNS: &str = "id, email, name, role, status, max_dialogs";

pub(crate) async fn create(pool: &PgPool, new: NewOperator) -> Result<Operator, StoreError> {
    let id = OperatorId::new();
    sqlx::query(
        "INSERT INTO operators (id, email, name, password_hash, role, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(id.to_string())
    .bind(&new.email)
    .bind(&new.name)
    .bind(&new.password_hash)
    .bind(new.role.as_str())
    .bind(now())
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

pub(crate) fn operator(row: &PgRow) -> Result<Operator, StoreError> {
    let id: String = rows::get(row, "id")?;
    let role: String = rows::get(row, "role")?;
    let status: String = rows::get(row, "status")?;
    Ok(Operator {
        id: parse_id(&id)?,
        email: rows::get(row, "email")?,
        name: rows::get(row, "name")?,
        role: crate::records::role(&role)?,
        status: crate::records::account_status(&status)?,
        max_dialogs: crate::records::capacity(
            rows::get::<Option<i32>>(row, "max_dialogs")?.map(i64::from),
        ),
    })
}

pub(crate) async fn by_email(
    pool: &PgPool,
    email: &str,
) -> Result<Option<OperatorRecord>, StoreError> {
    let row = sqlx::query(&format!(
        "SELECT {COLUMNS}, password_hash FROM operators WHERE lower(email) = lower($1)"
    ))
    .bind(email)
    .fetch_optional(pool)
    .await
    .map_err(backend)?;
    row.map(|r| {
        Ok(OperatorRecord {
            operator: operator(&r)?,
            password_hash: rows::get(&r, "password_hash")?,
        })
    })
    .transpose()
}

pub(crate) async fn by_id(pool: &PgPool, id: OperatorId) -> Result<Option<Operator>, StoreError> {
    let row = sqlx::query(&format!("SELECT {COLUMNS} FROM operators WHERE id = $1"))
        .bind(id.to_string())
        .fetch_optional(pool)
        .await
        .map_err(backend)?;
    row.as_ref().map(operator).transpose()
}

pub(crate) async fn list(pool: &PgPool) -> Result<Vec<Operator>, StoreError> {
    let rows = sqlx::query(&format!(
        "SELECT {COLUMNS} FROM operators WHERE status <> 'removed' ORDER BY created_at, id"
    ))
    .fetch_all(pool)
    .await
    .map_err(backend)?;
    rows.iter().map(operator).collect()
}

pub(crate) async fn update(
    pool: &PgPool,
    id: OperatorId,
    patch: OperatorPatch,
) -> Result<Operator, StoreError> {
    let row = sqlx::query(&format!(
        "UPDATE operators SET name = COALESCE($1, name), role = COALESCE($2, role), \
         status = COALESCE($3, status), password_hash = COALESCE($4, password_hash), \
         max_dialogs = CASE WHEN $5 THEN $6 ELSE max_dialogs END \
         WHERE id = $7 AND status <> 'removed' RETURNING {COLUMNS}"
    ))
    .bind(patch.name)
    .bind(patch.role.map(Role::as_str))
    .bind(patch.status.map(AccountStatus::as_str))
    .bind(patch.password_hash)
    .bind(patch.max_dialogs.is_some())
    .bind(patch.max_dialogs.flatten().map(|n| n as i32))
    .bind(id.to_string())
    .fetch_optional(pool)
    .await
    .map_err(backend)?
    .ok_or(StoreError::NotFound)?;
    operator(&row)
}

pub(crate) async fn password_hash(
    pool: &PgPool,
    id: OperatorId,
) -> Result<Option<String>, StoreError> {
    sqlx::query_scalar("SELECT password_hash FROM operators WHERE id = $1 AND status <> 'removed'")
        .bind(id.to_string())
        .fetch_optional(pool)
        .await
        .map_err(backend)
}
