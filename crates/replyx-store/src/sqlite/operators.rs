//! Operator accounts.

use super::{backend, rows};
use replyx_core::{NewOperator, Operator, OperatorRecord, StoreError};
use replyx_protocol::OperatorId;
use sqlx::sqlite::SqliteRow;
use sqlx::SqlitePool;

pub(crate) async fn create(pool: &SqlitePool, new: NewOperator) -> Result<Operator, StoreError> {
    let id = OperatorId::new();
    sqlx::query(
        "INSERT INTO operators (id, email, name, password_hash, created_at) VALUES (?, ?, ?, ?, ?)",
    )
    .bind(id.to_string())
    .bind(&new.email)
    .bind(&new.name)
    .bind(&new.password_hash)
    .bind(crate::records::now())
    .execute(pool)
    .await
    .map_err(backend)?;
    Ok(Operator {
        id,
        email: new.email,
        name: new.name,
    })
}

fn operator(row: &SqliteRow) -> Result<Operator, StoreError> {
    Ok(Operator {
        id: rows::parse_id(&rows::text(row, "id")?)?,
        email: rows::text(row, "email")?,
        name: rows::text(row, "name")?,
    })
}

pub(crate) async fn by_email(
    pool: &SqlitePool,
    email: &str,
) -> Result<Option<OperatorRecord>, StoreError> {
    let row = sqlx::query("SELECT id, email, name, password_hash FROM operators WHERE email = ?")
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
    let row = sqlx::query("SELECT id, email, name FROM operators WHERE id = ?")
        .bind(id.to_string())
        .fetch_optional(pool)
        .await
        .map_err(backend)?;
    row.as_ref().map(operator).transpose()
}
