//! Canned responses: each assistant's ready-made replies, which every operator may use
//! and manage (a support team writes its own). The console inserts one when an
//! operator types `/shortcut`.

use super::extract::OperatorAuth;
use crate::error::{ApiError, AppJson, AppPath, ErrorBody};
use crate::state::AppState;
use axum::extract::State;
use axum::http::StatusCode;
use replyx_core::canned::is_shortcut;
use replyx_core::{CannedResponse, StoreError};
use replyx_protocol::{AssistantId, ErrorCode};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// An assistant's canned responses.
#[derive(Serialize, ToSchema)]
pub struct CannedList {
    /// By shortcut.
    canned_responses: Vec<CannedResponse>,
}

/// Body of a new canned response.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewCanned {
    /// 1 to 32 of `a-z 0-9 _ -`, unique for the assistant.
    #[schema(min_length = 1, max_length = 32, pattern = "^[a-z0-9_-]{1,32}$")]
    shortcut: String,
    /// The reply, not blank, at most the message length limit.
    #[schema(min_length = 1, pattern = "\\S")]
    text: String,
}

/// Body of a change.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CannedChange {
    /// A new shortcut.
    #[schema(min_length = 1, max_length = 32, pattern = "^[a-z0-9_-]{1,32}$")]
    shortcut: Option<String>,
    /// A new text.
    #[schema(min_length = 1, pattern = "\\S")]
    text: Option<String>,
}

fn check(state: &AppState, shortcut: Option<&str>, text: Option<&str>) -> Result<(), ApiError> {
    if shortcut.is_some_and(|s| !is_shortcut(s)) {
        return Err(ApiError::invalid("shortcut must be 1 to 32 of a-z 0-9 _ -"));
    }
    if let Some(text) = text {
        crate::dialog_service::validate_text(state, text)?;
    }
    Ok(())
}

fn taken(e: StoreError) -> ApiError {
    match e {
        StoreError::Conflict(_) => ApiError::new(
            ErrorCode::Conflict,
            "the assistant has this shortcut already",
        ),
        StoreError::NotFound => ApiError::not_found("canned response"),
        other => other.into(),
    }
}

fn assistant_id(id: &str) -> Result<AssistantId, ApiError> {
    id.parse().map_err(|_| ApiError::not_found("assistant"))
}

/// `GET /api/assistants/{id}/canned-responses`.
#[utoipa::path(
    get,
    path = "/api/assistants/{id}/canned-responses",
    tag = "assistants",
    params(("id" = AssistantId, Path, description = "The assistant")),
    security(("operator" = [])),
    responses(
        (status = 200, description = "The assistant's canned responses", body = CannedList),
        (status = 400, description = "A malformed path", body = ErrorBody),
        (status = 401, description = "No, bad, expired or ended operator token", body = ErrorBody),
        (status = 404, description = "No such assistant", body = ErrorBody),
        (status = 503, description = "The store is unavailable", body = ErrorBody),
    )
)]
pub async fn list_canned(
    State(state): State<AppState>,
    _: OperatorAuth,
    AppPath(id): AppPath<String>,
) -> Result<AppJson<CannedList>, ApiError> {
    let id = assistant_id(&id)?;
    if state.store.assistant(id).await?.is_none() {
        return Err(ApiError::not_found("assistant"));
    }
    let canned_responses = state.store.canned_responses(id).await?;
    Ok(AppJson(CannedList { canned_responses }))
}

/// `POST /api/assistants/{id}/canned-responses`.
#[utoipa::path(
    post,
    path = "/api/assistants/{id}/canned-responses",
    tag = "assistants",
    params(("id" = AssistantId, Path, description = "The assistant")),
    request_body = NewCanned,
    security(("operator" = [])),
    responses(
        (status = 201, description = "The new canned response", body = CannedResponse),
        (status = 400, description = "The body is not JSON, or a malformed path", body = ErrorBody),
        (status = 401, description = "No, bad, expired or ended operator token", body = ErrorBody),
        (status = 404, description = "No such assistant", body = ErrorBody),
        (status = 409, description = "The shortcut is taken", body = ErrorBody),
        (status = 413, description = "The text or the body is too large", body = ErrorBody),
        (status = 415, description = "The body is not `application/json`", body = ErrorBody),
        (status = 422, description = "Wrong shape, a bad shortcut or a blank text", body = ErrorBody),
        (status = 503, description = "The store is unavailable", body = ErrorBody),
    )
)]
pub async fn create_canned(
    State(state): State<AppState>,
    _: OperatorAuth,
    AppPath(id): AppPath<String>,
    AppJson(body): AppJson<NewCanned>,
) -> Result<(StatusCode, AppJson<CannedResponse>), ApiError> {
    let assistant_id = assistant_id(&id)?;
    check(&state, Some(&body.shortcut), Some(&body.text))?;
    let canned = CannedResponse {
        id: uuid::Uuid::now_v7().to_string(),
        assistant_id,
        shortcut: body.shortcut,
        text: body.text,
        created_at: chrono::SubsecRound::trunc_subsecs(chrono::Utc::now(), 6),
    };
    state
        .store
        .add_canned_response(canned.clone())
        .await
        .map_err(|e| match e {
            StoreError::NotFound => ApiError::not_found("assistant"),
            other => taken(other),
        })?;
    Ok((StatusCode::CREATED, AppJson(canned)))
}

/// `PATCH /api/canned-responses/{id}`.
#[utoipa::path(
    patch,
    path = "/api/canned-responses/{id}",
    tag = "assistants",
    params(("id" = String, Path, description = "The canned response")),
    request_body = CannedChange,
    security(("operator" = [])),
    responses(
        (status = 200, description = "The canned response as changed", body = CannedResponse),
        (status = 400, description = "The body is not JSON, or a malformed path", body = ErrorBody),
        (status = 401, description = "No, bad, expired or ended operator token", body = ErrorBody),
        (status = 404, description = "No such canned response", body = ErrorBody),
        (status = 409, description = "The shortcut is taken", body = ErrorBody),
        (status = 413, description = "The text or the body is too large", body = ErrorBody),
        (status = 415, description = "The body is not `application/json`", body = ErrorBody),
        (status = 422, description = "Wrong shape, a bad shortcut or a blank text", body = ErrorBody),
        (status = 503, description = "The store is unavailable", body = ErrorBody),
    )
)]
pub async fn update_canned(
    State(state): State<AppState>,
    _: OperatorAuth,
    AppPath(id): AppPath<String>,
    AppJson(body): AppJson<CannedChange>,
) -> Result<AppJson<CannedResponse>, ApiError> {
    check(&state, body.shortcut.as_deref(), body.text.as_deref())?;
    let changed = state
        .store
        .update_canned_response(&id, body.shortcut, body.text)
        .await
        .map_err(taken)?;
    Ok(AppJson(changed))
}

/// `DELETE /api/canned-responses/{id}`.
#[utoipa::path(
    delete,
    path = "/api/canned-responses/{id}",
    tag = "assistants",
    params(("id" = String, Path, description = "The canned response")),
    security(("operator" = [])),
    responses(
        (status = 204, description = "Removed"),
        (status = 401, description = "No, bad, expired or ended operator token", body = ErrorBody),
        (status = 404, description = "No such canned response", body = ErrorBody),
        (status = 503, description = "The store is unavailable", body = ErrorBody),
    )
)]
pub async fn remove_canned(
    State(state): State<AppState>,
    _: OperatorAuth,
    AppPath(id): AppPath<String>,
) -> Result<StatusCode, ApiError> {
    if state.store.remove_canned_response(&id).await? {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::not_found("canned response"))
    }
}
