//! What the visitor tells about a dialog besides messages: the page they chat from
//! (context) and, once it is closed, their rating.

use super::events::insert;
use super::{backend, rows};
use crate::records::json;
use replyx_core::{HandoffError, StoreError, StoredEvent};
use replyx_protocol::{DialogId, DialogStatus, EventPayload, Rating, VisitorContext};
use sqlx::{PgPool, Postgres, Transaction};

pub(crate) async fn set_context(
    pool: &PgPool,
    dialog: DialogId,
    context: &VisitorContext,
) -> Result<(), StoreError> {
    let done = sqlx::query("UPDATE dialogs SET context = $1 WHERE id = $2")
        .bind(json(context))
        .bind(dialog.to_string())
        .execute(pool)
        .await
        .map_err(backend)?;
    if done.rows_affected() == 0 {
        return Err(StoreError::NotFound);
    }
    Ok(())
}

/// Under the dialog's row lock: two ratings at once, on any nodes, store one.
pub(crate) async fn rate(
    tx: &mut Transaction<'static, Postgres>,
    dialog: DialogId,
    rating: Rating,
    origin: &str,
) -> Result<StoredEvent, StoreError> {
    let row = sqlx::query("SELECT status, rating_score FROM dialogs WHERE id = $1 FOR UPDATE")
        .bind(dialog.to_string())
        .fetch_optional(&mut **tx)
        .await
        .map_err(backend)?
        .ok_or(StoreError::NotFound)?;
    if crate::records::status(&rows::get::<String>(&row, "status")?)? != DialogStatus::Closed {
        return Err(StoreError::Handoff(HandoffError::InvalidTransition));
    }
    if rows::get::<Option<i32>>(&row, "rating_score")?.is_some() {
        return Err(StoreError::Conflict("this dialog is rated already".into()));
    }
    sqlx::query("UPDATE dialogs SET rating_score = $1, rating_comment = $2 WHERE id = $3")
        .bind(i32::from(rating.score))
        .bind(&rating.comment)
        .bind(dialog.to_string())
        .execute(&mut **tx)
        .await
        .map_err(backend)?;
    insert(tx, dialog, EventPayload::DialogRated { rating }, origin).await
}
