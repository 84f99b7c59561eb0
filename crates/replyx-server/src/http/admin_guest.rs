//! The visitor behind a dialog, for the console's visitor panel: the same guest's
//! other dialogs with the assistant (a verified user's from every device), newest
//! first; the earliest of them says when the visitor was first seen.

use super::admin_dialogs::parse_dialog;
use super::extract::OperatorAuth;
use crate::error::{ApiError, AppJson, AppPath, ErrorBody};
use crate::state::AppState;
use axum::extract::State;
use chrono::{DateTime, Utc};
use replyx_protocol::{DialogId, DialogStatus, MessagePreview, OperatorRef, Rating};
use serde::Serialize;
use utoipa::ToSchema;

/// Most earlier dialogs listed.
const LIMIT: u32 = 50;

/// One of the visitor's dialogs.
#[derive(Serialize, ToSchema)]
pub struct GuestDialogRow {
    /// The dialog.
    id: DialogId,
    /// Who answers (or `closed`).
    status: DialogStatus,
    /// Who held it last, if anyone holds it.
    #[serde(skip_serializing_if = "Option::is_none")]
    operator: Option<OperatorRef>,
    /// Its newest message a visitor may see.
    #[serde(skip_serializing_if = "Option::is_none")]
    last_message: Option<MessagePreview>,
    /// The visitor's rating, if given.
    #[serde(skip_serializing_if = "Option::is_none")]
    rating: Option<Rating>,
    /// Created (UTC).
    created_at: DateTime<Utc>,
    /// Last activity (UTC).
    updated_at: DateTime<Utc>,
}

/// The visitor's dialogs.
#[derive(Serialize, ToSchema)]
pub struct GuestDialogs {
    /// Newest activity first, the asked-about dialog included (at most 50).
    dialogs: Vec<GuestDialogRow>,
    /// When the visitor's first listed dialog started.
    first_seen: DateTime<Utc>,
}

/// `GET /api/dialogs/{id}/guest-dialogs`.
#[utoipa::path(
    get,
    path = "/api/dialogs/{id}/guest-dialogs",
    tag = "dialogs",
    params(("id" = DialogId, Path, description = "A dialog of the visitor")),
    security(("operator" = [])),
    responses(
        (status = 200, description = "The same visitor's dialogs with the assistant", body = GuestDialogs),
        (status = 400, description = "A malformed path", body = ErrorBody),
        (status = 401, description = "No, bad, expired or ended operator token", body = ErrorBody),
        (status = 404, description = "No such dialog", body = ErrorBody),
        (status = 503, description = "The store is unavailable", body = ErrorBody),
    )
)]
pub async fn list_guest_dialogs(
    State(state): State<AppState>,
    _: OperatorAuth,
    AppPath(id): AppPath<String>,
) -> Result<AppJson<GuestDialogs>, ApiError> {
    let dialog = state
        .store
        .dialog(parse_dialog(&id)?)
        .await?
        .ok_or_else(|| ApiError::not_found("dialog"))?;
    let listed = state
        .store
        .guest_dialogs(dialog.assistant_id, &dialog.guest_id, LIMIT)
        .await?;
    let first_seen = listed
        .iter()
        .map(|g| g.dialog.created_at)
        .min()
        .unwrap_or(dialog.created_at);
    Ok(AppJson(GuestDialogs {
        dialogs: listed
            .into_iter()
            .map(|g| GuestDialogRow {
                id: g.dialog.id,
                status: g.dialog.status,
                operator: g.dialog.operator,
                last_message: g.last_message,
                rating: g.dialog.rating,
                created_at: g.dialog.created_at,
                updated_at: g.dialog.updated_at,
            })
            .collect(),
        first_seen,
    }))
}
