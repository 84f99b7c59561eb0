//! A visitor's own dialogs with the assistant, newest first: the open one and the
//! closed ones before it. For a verified user these are the dialogs of every device
//! they signed in on; for an anonymous visitor, those of this browser's guest id. Each
//! dialog's events are then read with the same guest token (`…/dialogs/{id}/events`).

use super::extract::{origin, GuestAuth};
use super::visitor::{assistant, forbidden_origin};
use super::visitor_identity;
use crate::auth::{origin::is_allowed, GuestClaims};
use crate::error::{ApiError, AppJson, AppQuery, ErrorBody};
use crate::state::AppState;
use axum::extract::State;
use axum::http::HeaderMap;
use chrono::{DateTime, Utc};
use replyx_core::IdentityMode;
use replyx_protocol::{ConnectionKind, DialogId, DialogStatus, MessagePreview, Seq};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

/// Most dialogs one page lists.
const MAX_LIMIT: u32 = 50;

/// Query of the dialog list.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct HistoryQuery {
    /// At most this many (1 to 50, default 20).
    limit: Option<u32>,
}

/// One of the visitor's dialogs, as the visitor may see it.
#[derive(Serialize, ToSchema)]
pub struct VisitorDialog {
    /// The dialog.
    id: DialogId,
    /// Who answers (or `closed`).
    status: DialogStatus,
    /// Newest seq of the visitor stream.
    last_seq: Seq,
    /// The newest message a visitor may see (never an internal note).
    #[serde(skip_serializing_if = "Option::is_none")]
    last_message: Option<MessagePreview>,
    /// Created (UTC).
    created_at: DateTime<Utc>,
    /// Last activity (UTC).
    updated_at: DateTime<Utc>,
}

/// The visitor's dialogs.
#[derive(Serialize, ToSchema)]
pub struct VisitorDialogList {
    /// Newest activity first.
    dialogs: Vec<VisitorDialog>,
}

async fn list(
    state: AppState,
    claims: GuestClaims,
    q: HistoryQuery,
    via: ConnectionKind,
    headers: HeaderMap,
) -> Result<AppJson<VisitorDialogList>, ApiError> {
    let limit = q.limit.unwrap_or(20);
    if !(1..=MAX_LIMIT).contains(&limit) {
        return Err(ApiError::invalid(format!("limit must be 1 to {MAX_LIMIT}")));
    }
    if claims.via != via {
        return Err(ApiError::new(
            replyx_protocol::ErrorCode::Forbidden,
            "this guest token is for the other way in",
        ));
    }
    let assistant = assistant(&state, claims.assistant).await?;
    if via == ConnectionKind::Site && !is_allowed(origin(&headers), &assistant.allowed_domains) {
        return Err(forbidden_origin(origin(&headers)));
    }
    if assistant.identity_mode == IdentityMode::Enforce {
        // The dialog the token was issued for says whether its guest is verified.
        let own = state.store.dialog(claims.dialog).await?;
        if let Some(own) = own {
            visitor_identity::check_enforced(&state, assistant.identity_mode, &own)?;
        }
    }
    let dialogs = state
        .store
        .guest_dialogs(assistant.id, &claims.sub, limit)
        .await?;
    Ok(AppJson(VisitorDialogList {
        dialogs: dialogs
            .into_iter()
            .map(|g| VisitorDialog {
                id: g.dialog.id,
                status: g.dialog.status,
                last_seq: g.dialog.last_visitor_seq,
                last_message: g.last_message,
                created_at: g.dialog.created_at,
                updated_at: g.dialog.updated_at,
            })
            .collect(),
    }))
}

/// `GET /api/widget/dialogs`: the visitor's dialogs (the guest token's guest).
#[utoipa::path(
    get,
    path = "/api/widget/dialogs",
    tag = "visitors",
    params(HistoryQuery),
    security(("guest_token" = []), ("guest_token_query" = [])),
    responses(
        (status = 200, description = "The guest's dialogs with the assistant, newest first", body = VisitorDialogList),
        (status = 400, description = "A malformed query parameter", body = ErrorBody),
        (status = 401, description = "No, bad or expired guest token, or an anonymous visitor of an assistant that requires signed-in users (`identity_required`)", body = ErrorBody),
        (status = 403, description = "A guest token of the other way in", body = ErrorBody),
        (status = 404, description = "The assistant no longer exists", body = ErrorBody),
        (status = 422, description = "A limit out of range", body = ErrorBody),
        (status = 503, description = "The store is unavailable", body = ErrorBody),
    )
)]
pub async fn list_widget_dialogs(
    State(state): State<AppState>,
    GuestAuth(claims): GuestAuth,
    AppQuery(q): AppQuery<HistoryQuery>,
    headers: HeaderMap,
) -> Result<AppJson<VisitorDialogList>, ApiError> {
    list(state, claims, q, ConnectionKind::Widget, headers).await
}

/// `GET /api/site/dialogs`: as for the widget, from an allowed page.
#[utoipa::path(
    get,
    path = "/api/site/dialogs",
    tag = "visitors",
    params(HistoryQuery),
    security(("guest_token" = []), ("guest_token_query" = [])),
    responses(
        (status = 200, description = "The guest's dialogs with the assistant, newest first", body = VisitorDialogList),
        (status = 400, description = "A malformed query parameter", body = ErrorBody),
        (status = 401, description = "No, bad or expired guest token, or an anonymous visitor of an assistant that requires signed-in users (`identity_required`)", body = ErrorBody),
        (status = 403, description = "A guest token of the other way in, or the page's Origin is not allowed", body = ErrorBody),
        (status = 404, description = "The assistant no longer exists", body = ErrorBody),
        (status = 422, description = "A limit out of range", body = ErrorBody),
        (status = 503, description = "The store is unavailable", body = ErrorBody),
    )
)]
pub async fn list_site_dialogs(
    State(state): State<AppState>,
    GuestAuth(claims): GuestAuth,
    AppQuery(q): AppQuery<HistoryQuery>,
    headers: HeaderMap,
) -> Result<AppJson<VisitorDialogList>, ApiError> {
    list(state, claims, q, ConnectionKind::Site, headers).await
}
