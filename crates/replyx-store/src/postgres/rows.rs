//! Reading PostgreSQL rows into the shared record builders in `crate::records`.

use super::backend;
use crate::records::{self, AssistantValues, DialogValues};
use replyx_core::model::DialogRecord;
use replyx_core::{Assistant, StoreError, StoredEvent};
use replyx_protocol::DialogSummary;
use sqlx::postgres::PgRow;
use sqlx::Row;

/// Columns of `dialogs` joined with the holding operator's name and the verified
/// visitor behind the guest, if any.
pub(crate) const DIALOG_COLUMNS: &str = "d.id, d.assistant_id, d.guest_id, d.status, \
    d.operator_id, o.name AS operator_name, d.last_seq, d.last_visitor_seq, \
    d.visitor_read_up_to, d.operator_read_up_to, d.created_at, d.updated_at, \
    v.user_id AS visitor_user_id, v.name AS visitor_name, v.email AS visitor_email, \
    d.queued_at, d.context, d.rating_score, d.rating_comment";

/// `FROM` clause that goes with [`DIALOG_COLUMNS`].
pub(crate) const DIALOG_FROM: &str = "dialogs d LEFT JOIN operators o ON o.id = d.operator_id \
    LEFT JOIN verified_visitors v ON v.assistant_id = d.assistant_id AND v.guest_id = d.guest_id";

/// Columns of `events` that [`event`] reads.
pub(crate) const EVENT_COLUMNS: &str = "dialog_id, seq, prev_visitor_seq, payload";

pub(crate) fn get<'r, T>(row: &'r PgRow, col: &str) -> Result<T, StoreError>
where
    T: sqlx::Decode<'r, sqlx::Postgres> + sqlx::Type<sqlx::Postgres>,
{
    row.try_get(col).map_err(backend)
}

pub(crate) fn dialog(row: &PgRow) -> Result<DialogRecord, StoreError> {
    records::dialog(DialogValues {
        id: get(row, "id")?,
        assistant_id: get(row, "assistant_id")?,
        guest_id: get(row, "guest_id")?,
        status: get(row, "status")?,
        operator_id: get(row, "operator_id")?,
        operator_name: get(row, "operator_name")?,
        visitor_user_id: get(row, "visitor_user_id")?,
        visitor_name: get(row, "visitor_name")?,
        visitor_email: get(row, "visitor_email")?,
        queued_at: get(row, "queued_at")?,
        context: get(row, "context")?,
        rating_score: get::<Option<i32>>(row, "rating_score")?.map(i64::from),
        rating_comment: get(row, "rating_comment")?,
        last_seq: get(row, "last_seq")?,
        last_visitor_seq: get(row, "last_visitor_seq")?,
        visitor_read_up_to: get(row, "visitor_read_up_to")?,
        operator_read_up_to: get(row, "operator_read_up_to")?,
        created_at: get(row, "created_at")?,
        updated_at: get(row, "updated_at")?,
    })
}

/// A dialog row with `last_payload` and `unread` columns, as an inbox row.
pub(crate) fn summary(row: &PgRow) -> Result<DialogSummary, StoreError> {
    let last: Option<String> = get(row, "last_payload")?;
    Ok(records::summary(
        dialog(row)?,
        last.as_deref(),
        get(row, "unread")?,
    ))
}

pub(crate) fn event(row: &PgRow) -> Result<StoredEvent, StoreError> {
    let dialog_id: String = get(row, "dialog_id")?;
    let payload: String = get(row, "payload")?;
    records::event(
        &dialog_id,
        get(row, "seq")?,
        get(row, "prev_visitor_seq")?,
        &payload,
    )
}

pub(crate) fn assistant(row: &PgRow) -> Result<Assistant, StoreError> {
    records::assistant(AssistantValues {
        id: get(row, "id")?,
        name: get(row, "name")?,
        welcome_message: get(row, "welcome_message")?,
        allowed_domains: get(row, "allowed_domains")?,
        rules: get(row, "rules")?,
        fallback_reply: get(row, "fallback_reply")?,
        identity_mode: get(row, "identity_mode")?,
        auto_assign: get(row, "auto_assign")?,
        release_to: get(row, "release_to")?,
        created_at: get(row, "created_at")?,
    })
}
