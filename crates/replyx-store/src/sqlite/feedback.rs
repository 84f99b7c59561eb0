//! What the visitor tells about a dialog besides messages: the page they chat from
//! (context) and, once it is closed, their rating.

use super::events::insert;
use super::{backend, rows};
use crate::records::json;
use replyx_core::{HandoffError, StoreError, StoredEvent};
use replyx_protocol::{DialogId, DialogStatus, EventPayload, Rating, VisitorContext};
use sqlx::{Row, Sqlite, SqlitePool, Transaction};

pub(crate) async fn set_context(
    pool: &SqlitePool,
    dialog: DialogId,
    context: &VisitorContext,
) -> Result<(), StoreError> {
    let done = sqlx::query("UPDATE dialogs SET context = ? WHERE id = ?")
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

pub(crate) async fn rate(
    tx: &mut Transaction<'static, Sqlite>,
    dialog: DialogId,
    rating: Rating,
    origin: &str,
) -> Result<StoredEvent, StoreError> {
    let row = sqlx::query("SELECT status, rating_score FROM dialogs WHERE id = ?")
        .bind(dialog.to_string())
        .fetch_optional(&mut **tx)
        .await
        .map_err(backend)?
        .ok_or(StoreError::NotFound)?;
    if crate::records::status(&rows::text(&row, "status")?)? != DialogStatus::Closed {
        return Err(StoreError::Handoff(HandoffError::InvalidTransition));
    }
    if row
        .try_get::<Option<i64>, _>("rating_score")
        .map_err(backend)?
        .is_some()
    {
        return Err(StoreError::Conflict("this dialog is rated already".into()));
    }
    sqlx::query("UPDATE dialogs SET rating_score = ?, rating_comment = ? WHERE id = ?")
        .bind(i64::from(rating.score))
        .bind(&rating.comment)
        .bind(dialog.to_string())
        .execute(&mut **tx)
        .await
        .map_err(backend)?;
    insert(tx, dialog, EventPayload::DialogRated { rating }, origin).await
}
