//! Assistants: every operator may list them; admins create, change and issue site
//! tokens for them.

use super::extract::{AdminAuth, OperatorAuth};
use crate::error::AppPath;
use crate::error::{ApiError, AppJson, ErrorBody};
use crate::state::AppState;
use axum::extract::State;
use axum::http::StatusCode;
use replyx_core::{Assistant, AssistantPatch, NewAssistant};
use replyx_protocol::AssistantId;
use serde::Serialize;

fn parse_id(id: &str) -> Result<AssistantId, ApiError> {
    id.parse().map_err(|_| ApiError::not_found("assistant"))
}

fn validate(name: Option<&str>, domains: Option<&[String]>) -> Result<(), ApiError> {
    if name.is_some_and(|n| n.trim().is_empty() || n.chars().count() > 200) {
        return Err(ApiError::invalid("name must be 1 to 200 characters"));
    }
    if domains.is_some_and(|d| d.iter().any(|d| d.trim().is_empty() || d.len() > 253)) {
        return Err(ApiError::invalid(
            "allowed_domains entries must be host names",
        ));
    }
    Ok(())
}

/// The assistants.
#[derive(Serialize, utoipa::ToSchema)]
pub struct AssistantList {
    /// Every assistant (but the server's own delivery canary).
    assistants: Vec<Assistant>,
}

/// A site token.
#[derive(Serialize, utoipa::ToSchema)]
pub struct SiteToken {
    /// For `POST /api/site/dialogs` from the assistant's allowed domains.
    site_token: String,
}

/// `GET /api/assistants`.
#[utoipa::path(
    get,
    path = "/api/assistants",
    tag = "assistants",
    security(("operator" = [])),
    responses(
        (status = 200, description = "The assistants", body = AssistantList),
        (status = 401, description = "No, bad, expired or ended operator token", body = ErrorBody),
        (status = 503, description = "The store is unavailable", body = ErrorBody),
    )
)]
pub async fn list_assistants(
    State(state): State<AppState>,
    _: OperatorAuth,
) -> Result<AppJson<AssistantList>, ApiError> {
    // The server's own delivery canary is not an operator's assistant.
    let canary = state.canary.assistant();
    let assistants = state
        .store
        .list_assistants()
        .await?
        .into_iter()
        .filter(|a| Some(a.id) != canary)
        .collect();
    Ok(AppJson(AssistantList { assistants }))
}

/// `POST /api/assistants`.
#[utoipa::path(
    post,
    path = "/api/assistants",
    tag = "assistants",
    request_body = NewAssistant,
    security(("operator" = [])),
    responses(
        (status = 201, description = "The new assistant", body = Assistant),
        (status = 400, description = "The body is not JSON, or a malformed path", body = ErrorBody),
        (status = 401, description = "No, bad, expired or ended operator token", body = ErrorBody),
        (status = 403, description = "This needs the admin role", body = ErrorBody),
        (status = 413, description = "The body is too large", body = ErrorBody),
        (status = 415, description = "The body is not `application/json`", body = ErrorBody),
        (status = 422, description = "Wrong shape, or an invalid name or domain", body = ErrorBody),
        (status = 503, description = "The store is unavailable", body = ErrorBody),
    )
)]
pub async fn create_assistant(
    State(state): State<AppState>,
    _: AdminAuth,
    AppJson(body): AppJson<NewAssistant>,
) -> Result<(StatusCode, AppJson<Assistant>), ApiError> {
    validate(Some(&body.name), Some(&body.allowed_domains))?;
    let created = state.store.create_assistant(body).await?;
    Ok((StatusCode::CREATED, AppJson(created)))
}

/// `PATCH /api/assistants/{id}`.
#[utoipa::path(
    patch,
    path = "/api/assistants/{id}",
    tag = "assistants",
    params(("id" = AssistantId, Path, description = "The assistant")),
    request_body = AssistantPatch,
    security(("operator" = [])),
    responses(
        (status = 200, description = "The assistant as changed", body = Assistant),
        (status = 400, description = "The body is not JSON, or a malformed path", body = ErrorBody),
        (status = 401, description = "No, bad, expired or ended operator token", body = ErrorBody),
        (status = 403, description = "This needs the admin role", body = ErrorBody),
        (status = 404, description = "No such assistant", body = ErrorBody),
        (status = 413, description = "The body is too large", body = ErrorBody),
        (status = 415, description = "The body is not `application/json`", body = ErrorBody),
        (status = 422, description = "Wrong shape, or an invalid name or domain", body = ErrorBody),
        (status = 503, description = "The store is unavailable", body = ErrorBody),
    )
)]
pub async fn update_assistant(
    State(state): State<AppState>,
    _: AdminAuth,
    AppPath(id): AppPath<String>,
    AppJson(patch): AppJson<AssistantPatch>,
) -> Result<AppJson<Assistant>, ApiError> {
    validate(patch.name.as_deref(), patch.allowed_domains.as_deref())?;
    let id = parse_id(&id)?;
    let updated = state
        .store
        .update_assistant(id, patch)
        .await
        .map_err(|e| match e {
            replyx_core::StoreError::NotFound => ApiError::not_found("assistant"),
            other => other.into(),
        })?;
    // This process applies the change at once (others within the cache's lifetime).
    state.assistants.forget(id).await;
    Ok(AppJson(updated))
}

/// `POST /api/assistants/{id}/site-token`.
#[utoipa::path(
    post,
    path = "/api/assistants/{id}/site-token",
    tag = "assistants",
    params(("id" = AssistantId, Path, description = "The assistant")),
    security(("operator" = [])),
    responses(
        (status = 200, description = "A site token for the assistant's allowed domains", body = SiteToken),
        (status = 400, description = "A malformed path", body = ErrorBody),
        (status = 401, description = "No, bad, expired or ended operator token", body = ErrorBody),
        (status = 403, description = "This needs the admin role", body = ErrorBody),
        (status = 404, description = "No such assistant", body = ErrorBody),
        (status = 503, description = "The store is unavailable", body = ErrorBody),
    )
)]
pub async fn create_site_token(
    State(state): State<AppState>,
    _: AdminAuth,
    AppPath(id): AppPath<String>,
) -> Result<AppJson<SiteToken>, ApiError> {
    let assistant = state
        .store
        .assistant(parse_id(&id)?)
        .await?
        .ok_or_else(|| ApiError::not_found("assistant"))?;
    let token = state
        .tokens
        .sign_site(assistant.id, &assistant.allowed_domains);
    Ok(AppJson(SiteToken { site_token: token }))
}
