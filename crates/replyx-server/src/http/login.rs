//! `POST /api/auth/login`: e-mail and password for an operator token, behind the
//! login guard (per-IP limit, per-account backoff, bounded hashing: `auth::login_guard`).

use super::extract::ClientIp;
use crate::auth::login_guard::{LoginGuard, Refusal};
use crate::auth::password;
use crate::error::{ApiError, AppJson};
use crate::state::AppState;
use axum::extract::State;
use chrono::{DateTime, Utc};
use replyx_core::Operator;
use replyx_protocol::ErrorCode;
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

/// Checks the password; the same 401, after the same work, for an unknown e-mail and
/// a wrong password.
pub async fn login(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    AppJson(body): AppJson<LoginRequest>,
) -> Result<AppJson<LoginResponse>, ApiError> {
    let account = LoginGuard::account_key(&body.email);
    let refused = |state: &AppState, r: Refusal| {
        state.metrics.login(r.outcome());
        refusal(r)
    };
    state
        .login
        .admit(ip, &account)
        .map_err(|r| refused(&state, r))?;
    let record = state.store.operator_by_email(body.email.trim()).await?;
    let slot = state
        .login
        .hash_slot()
        .await
        .map_err(|r| refused(&state, r))?;
    let hash = record.as_ref().map(|r| r.password_hash.clone());
    let password = body.password;
    let checking = state.clone();
    // Argon2 is deliberately slow: keep it off the async workers. The slot goes with
    // the hash, so it is held until the hash is done even if the client gives up.
    let ok = tokio::task::spawn_blocking(move || {
        let _slot = slot;
        checking.metrics.password_checked();
        match &hash {
            Some(h) => password::verify(&password, h),
            None => {
                // Unknown e-mail: the same work as a wrong password, then no.
                let _ = password::verify(&password, checking.login.decoy());
                false
            }
        }
    })
    .await
    .map_err(ApiError::internal)?;
    let Some(record) = record.filter(|_| ok) else {
        state.login.failed(&account);
        state.metrics.login("wrong");
        return Err(ApiError::unauthorized("wrong e-mail or password"));
    };
    state.login.succeeded(&account);
    state.metrics.login("ok");
    let (token, exp) = state
        .tokens
        .sign_operator(record.operator.id, &record.operator.name);
    Ok(AppJson(LoginResponse {
        token,
        expires_at: DateTime::from_timestamp(exp as i64, 0).unwrap_or_else(Utc::now),
        operator: record.operator,
    }))
}

fn refusal(r: Refusal) -> ApiError {
    match r {
        Refusal::Ip(wait) | Refusal::Account(wait) => ApiError {
            retry_after: Some(wait.as_secs().max(1)),
            ..ApiError::new(
                ErrorCode::RateLimited,
                "too many login attempts; retry later",
            )
        },
        Refusal::Busy => ApiError {
            retry_after: Some(1),
            ..ApiError::new(ErrorCode::Unavailable, "logins are busy; retry shortly")
        },
    }
}
