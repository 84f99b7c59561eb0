//! `POST /api/auth/login`: e-mail and password for an operator token.

use crate::auth::password;
use crate::error::{ApiError, AppJson};
use crate::state::AppState;
use axum::extract::State;
use chrono::{DateTime, Utc};
use replyx_core::Operator;
use serde::{Deserialize, Serialize};

/// Login body.
#[derive(Deserialize)]
pub struct LoginRequest {
    email: String,
    password: String,
}

/// Login answer.
#[derive(Serialize)]
pub struct LoginResponse {
    token: String,
    expires_at: DateTime<Utc>,
    operator: Operator,
}

/// Checks the password; the same 401 for an unknown e-mail and a wrong password.
pub async fn login(
    State(state): State<AppState>,
    AppJson(body): AppJson<LoginRequest>,
) -> Result<AppJson<LoginResponse>, ApiError> {
    let record = state.store.operator_by_email(body.email.trim()).await?;
    let hash = record.as_ref().map(|r| r.password_hash.clone());
    let password = body.password;
    // Argon2 is deliberately slow: keep it off the async workers.
    let ok =
        tokio::task::spawn_blocking(move || hash.is_some_and(|h| password::verify(&password, &h)))
            .await
            .map_err(ApiError::internal)?;
    let Some(record) = record.filter(|_| ok) else {
        return Err(ApiError::unauthorized("wrong e-mail or password"));
    };
    let (token, exp) = state
        .tokens
        .sign_operator(record.operator.id, &record.operator.name);
    Ok(AppJson(LoginResponse {
        token,
        expires_at: DateTime::from_timestamp(exp as i64, 0).unwrap_or_else(Utc::now),
        operator: record.operator,
    }))
}
