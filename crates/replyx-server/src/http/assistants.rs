//! Operators manage assistants and issue site tokens.

use super::extract::OperatorAuth;
use crate::error::AppPath;
use crate::error::{ApiError, AppJson};
use crate::state::AppState;
use axum::extract::State;
use axum::http::StatusCode;
use replyx_core::{Assistant, AssistantPatch, NewAssistant};
use replyx_protocol::AssistantId;
use serde_json::{json, Value};

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

/// `GET /api/assistants`.
pub async fn list_assistants(
    State(state): State<AppState>,
    _: OperatorAuth,
) -> Result<AppJson<Value>, ApiError> {
    let assistants = state.store.list_assistants().await?;
    Ok(AppJson(json!({ "assistants": assistants })))
}

/// `POST /api/assistants`.
pub async fn create_assistant(
    State(state): State<AppState>,
    _: OperatorAuth,
    AppJson(body): AppJson<NewAssistant>,
) -> Result<(StatusCode, AppJson<Assistant>), ApiError> {
    validate(Some(&body.name), Some(&body.allowed_domains))?;
    let created = state.store.create_assistant(body).await?;
    Ok((StatusCode::CREATED, AppJson(created)))
}

/// `PATCH /api/assistants/{id}`.
pub async fn update_assistant(
    State(state): State<AppState>,
    _: OperatorAuth,
    AppPath(id): AppPath<String>,
    AppJson(patch): AppJson<AssistantPatch>,
) -> Result<AppJson<Assistant>, ApiError> {
    validate(patch.name.as_deref(), patch.allowed_domains.as_deref())?;
    let updated = state
        .store
        .update_assistant(parse_id(&id)?, patch)
        .await
        .map_err(|e| match e {
            replyx_core::StoreError::NotFound => ApiError::not_found("assistant"),
            other => other.into(),
        })?;
    Ok(AppJson(updated))
}

/// `POST /api/assistants/{id}/site-token`.
pub async fn create_site_token(
    State(state): State<AppState>,
    _: OperatorAuth,
    AppPath(id): AppPath<String>,
) -> Result<AppJson<Value>, ApiError> {
    let assistant = state
        .store
        .assistant(parse_id(&id)?)
        .await?
        .ok_or_else(|| ApiError::not_found("assistant"))?;
    let token = state
        .tokens
        .sign_site(assistant.id, &assistant.allowed_domains);
    Ok(AppJson(json!({ "site_token": token })))
}
