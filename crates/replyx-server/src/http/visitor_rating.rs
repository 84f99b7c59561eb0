//! The visitor's rating of a closed dialog: once, 1 to 5 with an optional comment,
//! stored as a `dialog.rated` event (operators see it live; the visitor's widget sees
//! it in their own stream, so a reload does not ask again).

use super::extract::GuestAuth;
use super::visitor::{authorize, Access};
use crate::dialog_service;
use crate::error::{ApiError, AppJson, AppPath, ErrorBody};
use crate::state::AppState;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use replyx_core::{HandoffError, StoreError};
use replyx_protocol::{ConnectionKind, DialogId, ErrorCode, Event, Rating};
use serde::Deserialize;
use utoipa::ToSchema;

/// Longest comment, in characters.
const MAX_COMMENT_CHARS: usize = 1000;

/// Body of a rating.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RatingRequest {
    /// 1 (bad) to 5 (great).
    #[schema(minimum = 1, maximum = 5)]
    score: u8,
    /// What the visitor wants to say (at most 1,000 characters).
    #[schema(max_length = 1000)]
    comment: Option<String>,
}

async fn rate(
    state: AppState,
    claims: crate::auth::GuestClaims,
    id: String,
    body: RatingRequest,
    via: ConnectionKind,
    headers: HeaderMap,
) -> Result<(StatusCode, AppJson<Event>), ApiError> {
    if !(1..=5).contains(&body.score) {
        return Err(ApiError::invalid("score must be 1 to 5"));
    }
    let comment = body
        .comment
        .map(|c| c.trim().to_owned())
        .filter(|c| !c.is_empty());
    if comment
        .as_ref()
        .is_some_and(|c| c.chars().count() > MAX_COMMENT_CHARS)
    {
        return Err(ApiError::new(
            ErrorCode::TooLarge,
            format!("comment is longer than {MAX_COMMENT_CHARS} characters"),
        ));
    }
    let dialog = authorize(&state, &claims, &id, via, Access::Write, &headers).await?;
    let rating = Rating {
        score: body.score,
        comment,
    };
    let event = state
        .store
        .rate(dialog.id, rating)
        .await
        .map_err(|e| match e {
            StoreError::Handoff(HandoffError::InvalidTransition) => ApiError::new(
                ErrorCode::InvalidTransition,
                "a dialog is rated once it is closed",
            ),
            StoreError::Conflict(_) => {
                ApiError::new(ErrorCode::Conflict, "this dialog is rated already")
            }
            other => other.into(),
        })?;
    state.metrics.rated(body.score);
    dialog_service::publish_events(&state, std::slice::from_ref(&event)).await;
    dialog_service::refresh_inbox(&state, dialog.id, false).await;
    let wire = event
        .to_wire(replyx_core::Stream::Visitor)
        .ok_or_else(|| ApiError::internal("a rating hidden from the visitor stream"))?;
    Ok((StatusCode::CREATED, AppJson(wire)))
}

/// `POST /api/widget/dialogs/{id}/rating`.
#[utoipa::path(
    post,
    path = "/api/widget/dialogs/{id}/rating",
    tag = "visitors",
    params(("id" = DialogId, Path, description = "The dialog")),
    request_body = RatingRequest,
    security(("guest_token" = []), ("guest_token_query" = [])),
    responses(
        (status = 201, description = "The stored `dialog.rated` event", body = Event),
        (status = 400, description = "The body is not JSON, or a malformed path", body = ErrorBody),
        (status = 401, description = "No, bad or expired guest token", body = ErrorBody),
        (status = 403, description = "The guest token does not open this dialog", body = ErrorBody),
        (status = 404, description = "No such dialog", body = ErrorBody),
        (status = 409, description = "Not closed yet, or rated already", body = ErrorBody),
        (status = 413, description = "The comment or the body is too large", body = ErrorBody),
        (status = 415, description = "The body is not `application/json`", body = ErrorBody),
        (status = 422, description = "Wrong shape, or a score outside 1 to 5", body = ErrorBody),
        (status = 503, description = "The store cannot write now", body = ErrorBody,
            headers(("Retry-After" = u64, description = "Seconds to wait"))),
    )
)]
pub async fn rate_widget_dialog(
    State(state): State<AppState>,
    GuestAuth(claims): GuestAuth,
    AppPath(id): AppPath<String>,
    headers: HeaderMap,
    AppJson(body): AppJson<RatingRequest>,
) -> Result<(StatusCode, AppJson<Event>), ApiError> {
    rate(state, claims, id, body, ConnectionKind::Widget, headers).await
}

/// `POST /api/site/dialogs/{id}/rating`.
#[utoipa::path(
    post,
    path = "/api/site/dialogs/{id}/rating",
    tag = "visitors",
    params(("id" = DialogId, Path, description = "The dialog")),
    request_body = RatingRequest,
    security(("guest_token" = []), ("guest_token_query" = [])),
    responses(
        (status = 201, description = "The stored `dialog.rated` event", body = Event),
        (status = 400, description = "The body is not JSON, or a malformed path", body = ErrorBody),
        (status = 401, description = "No, bad or expired guest token", body = ErrorBody),
        (status = 403, description = "The guest token does not open this dialog, or the page's Origin is not allowed", body = ErrorBody),
        (status = 404, description = "No such dialog", body = ErrorBody),
        (status = 409, description = "Not closed yet, or rated already", body = ErrorBody),
        (status = 413, description = "The comment or the body is too large", body = ErrorBody),
        (status = 415, description = "The body is not `application/json`", body = ErrorBody),
        (status = 422, description = "Wrong shape, or a score outside 1 to 5", body = ErrorBody),
        (status = 503, description = "The store cannot write now", body = ErrorBody,
            headers(("Retry-After" = u64, description = "Seconds to wait"))),
    )
)]
pub async fn rate_site_dialog(
    State(state): State<AppState>,
    GuestAuth(claims): GuestAuth,
    AppPath(id): AppPath<String>,
    headers: HeaderMap,
    AppJson(body): AppJson<RatingRequest>,
) -> Result<(StatusCode, AppJson<Event>), ApiError> {
    rate(state, claims, id, body, ConnectionKind::Site, headers).await
}
