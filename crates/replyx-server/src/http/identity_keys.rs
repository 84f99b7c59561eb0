//! An assistant's identity keys (admins only): the secrets a customer site's backend
//! signs its logged-in users with. A new key's secret is shown once, in the answer
//! that creates it; lists show ids and dates only. Rotation: add a key, move the
//! site's backend to it, remove the old one; both verify in between.

use super::extract::AdminAuth;
use crate::auth::identity::new_key;
use crate::error::{ApiError, AppJson, AppPath, ErrorBody};
use crate::state::AppState;
use axum::extract::State;
use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use replyx_core::StoreError;
use replyx_protocol::{AssistantId, ErrorCode};
use serde::Serialize;
use utoipa::ToSchema;

/// Most identity keys one assistant may hold: a rotation needs two; the bound keeps a
/// forgotten script from piling keys up.
pub const MAX_KEYS: usize = 10;

/// An identity key without its secret.
#[derive(Serialize, ToSchema)]
pub struct IdentityKeyInfo {
    /// The key id: the `kid` of the tokens it signs.
    kid: String,
    /// When it was created.
    created_at: DateTime<Utc>,
}

/// The assistant's identity keys.
#[derive(Serialize, ToSchema)]
pub struct IdentityKeyList {
    /// Oldest first.
    keys: Vec<IdentityKeyInfo>,
}

/// A new identity key, with its secret: shown this once.
#[derive(Serialize, ToSchema)]
pub struct NewIdentityKey {
    /// The key id: put it in the token header's `kid`.
    kid: String,
    /// The HS256 secret (use this text as the key).
    secret: String,
    /// When it was created.
    created_at: DateTime<Utc>,
}

fn assistant_id(id: &str) -> Result<AssistantId, ApiError> {
    id.parse().map_err(|_| ApiError::not_found("assistant"))
}

async fn existing(state: &AppState, id: AssistantId) -> Result<(), ApiError> {
    match state.store.assistant(id).await? {
        Some(_) => Ok(()),
        None => Err(ApiError::not_found("assistant")),
    }
}

/// `GET /api/assistants/{id}/identity-keys`.
#[utoipa::path(
    get,
    path = "/api/assistants/{id}/identity-keys",
    tag = "assistants",
    params(("id" = AssistantId, Path, description = "The assistant")),
    security(("operator" = [])),
    responses(
        (status = 200, description = "The assistant's identity keys, without secrets", body = IdentityKeyList),
        (status = 400, description = "A malformed path", body = ErrorBody),
        (status = 401, description = "No, bad, expired or ended operator token", body = ErrorBody),
        (status = 403, description = "This needs the admin role", body = ErrorBody),
        (status = 404, description = "No such assistant", body = ErrorBody),
        (status = 503, description = "The store is unavailable", body = ErrorBody),
    )
)]
pub async fn list_identity_keys(
    State(state): State<AppState>,
    _: AdminAuth,
    AppPath(id): AppPath<String>,
) -> Result<AppJson<IdentityKeyList>, ApiError> {
    let id = assistant_id(&id)?;
    existing(&state, id).await?;
    let keys = state.store.identity_keys(id).await?;
    Ok(AppJson(IdentityKeyList {
        keys: keys
            .into_iter()
            .map(|k| IdentityKeyInfo {
                kid: k.kid,
                created_at: k.created_at,
            })
            .collect(),
    }))
}

/// `POST /api/assistants/{id}/identity-keys`.
#[utoipa::path(
    post,
    path = "/api/assistants/{id}/identity-keys",
    tag = "assistants",
    params(("id" = AssistantId, Path, description = "The assistant")),
    security(("operator" = [])),
    responses(
        (status = 201, description = "A new key; its secret is never shown again", body = NewIdentityKey),
        (status = 400, description = "A malformed path", body = ErrorBody),
        (status = 401, description = "No, bad, expired or ended operator token", body = ErrorBody),
        (status = 403, description = "This needs the admin role", body = ErrorBody),
        (status = 404, description = "No such assistant", body = ErrorBody),
        (status = 409, description = "The assistant already has 10 keys", body = ErrorBody),
        (status = 503, description = "The store is unavailable", body = ErrorBody),
    )
)]
pub async fn create_identity_key(
    State(state): State<AppState>,
    _: AdminAuth,
    AppPath(id): AppPath<String>,
) -> Result<(StatusCode, AppJson<NewIdentityKey>), ApiError> {
    let id = assistant_id(&id)?;
    existing(&state, id).await?;
    if state.store.identity_keys(id).await?.len() >= MAX_KEYS {
        return Err(ApiError::new(
            ErrorCode::Conflict,
            format!("an assistant holds at most {MAX_KEYS} identity keys; remove an old one"),
        ));
    }
    let key = new_key();
    let created = NewIdentityKey {
        kid: key.kid.clone(),
        secret: key.secret.clone(),
        created_at: key.created_at,
    };
    state
        .store
        .add_identity_key(id, key)
        .await
        .map_err(|e| match e {
            StoreError::NotFound => ApiError::not_found("assistant"),
            other => other.into(),
        })?;
    Ok((StatusCode::CREATED, AppJson(created)))
}

/// `DELETE /api/assistants/{id}/identity-keys/{kid}`.
#[utoipa::path(
    delete,
    path = "/api/assistants/{id}/identity-keys/{kid}",
    tag = "assistants",
    params(
        ("id" = AssistantId, Path, description = "The assistant"),
        ("kid" = String, Path, description = "The key id"),
    ),
    security(("operator" = [])),
    responses(
        (status = 204, description = "Removed: tokens it signed no longer verify"),
        (status = 400, description = "A malformed path", body = ErrorBody),
        (status = 401, description = "No, bad, expired or ended operator token", body = ErrorBody),
        (status = 403, description = "This needs the admin role", body = ErrorBody),
        (status = 404, description = "No such assistant or key", body = ErrorBody),
        (status = 503, description = "The store is unavailable", body = ErrorBody),
    )
)]
pub async fn remove_identity_key(
    State(state): State<AppState>,
    _: AdminAuth,
    AppPath((id, kid)): AppPath<(String, String)>,
) -> Result<StatusCode, ApiError> {
    let id = assistant_id(&id)?;
    if state.store.remove_identity_key(id, &kid).await? {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::not_found("identity key"))
    }
}
