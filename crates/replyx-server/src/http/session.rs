//! The operator's own session: who am I, log out, change my password, and a
//! single-use ticket for opening a socket without a token in its URL.

use super::extract::{session_error, ClientIp, OperatorAuth};
use crate::auth::login_guard::LoginGuard;
use crate::auth::password;
use crate::error::{ApiError, AppJson, ErrorBody};
use crate::state::AppState;
use axum::extract::State;
use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use replyx_core::{Operator, OperatorPatch};
use replyx_protocol::ErrorCode;
use serde::{Deserialize, Serialize};

/// Shortest and longest password accepted.
pub const PASSWORD_CHARS: std::ops::RangeInclusive<usize> = 8..=256;

/// Checks a new password's length.
///
/// # Errors
/// Outside [`PASSWORD_CHARS`].
pub fn validate_password(password: &str) -> Result<(), ApiError> {
    if PASSWORD_CHARS.contains(&password.chars().count()) {
        Ok(())
    } else {
        Err(ApiError::invalid(format!(
            "password must be {} to {} characters",
            PASSWORD_CHARS.start(),
            PASSWORD_CHARS.end()
        )))
    }
}

/// Runs Argon2 work off the async workers, holding one of the login guard's hashing
/// slots: password changes and new operators share the bound that logins have.
///
/// # Errors
/// No slot in time (503), or the task failed.
pub async fn hashing<T: Send + 'static>(
    state: &AppState,
    work: impl FnOnce() -> T + Send + 'static,
) -> Result<T, ApiError> {
    let slot = state.login.hash_slot().await.map_err(|_| ApiError {
        retry_after: Some(1),
        ..ApiError::new(
            ErrorCode::Unavailable,
            "password hashing is busy; retry shortly",
        )
    })?;
    hash_with(state, slot, work).await
}

/// Runs Argon2 work off the async workers while holding `slot`. The slot goes with the
/// work, so it is held until the hash is done even if the client gives up.
///
/// # Errors
/// The task failed.
pub async fn hash_with<T: Send + 'static>(
    state: &AppState,
    slot: tokio::sync::OwnedSemaphorePermit,
    work: impl FnOnce() -> T + Send + 'static,
) -> Result<T, ApiError> {
    let metrics = state.metrics.clone();
    tokio::task::spawn_blocking(move || {
        let _slot = slot;
        metrics.password_checked();
        work()
    })
    .await
    .map_err(ApiError::internal)
}

/// `GET /api/auth/me`: the operator as they are now (role included).
#[utoipa::path(
    get,
    path = "/api/auth/me",
    tag = "auth",
    security(("operator" = [])),
    responses(
        (status = 200, description = "The operator", body = Operator),
        (status = 401, description = "No, bad, expired or ended operator token", body = ErrorBody),
        (status = 503, description = "The store is unavailable", body = ErrorBody),
    )
)]
pub async fn me(OperatorAuth(session): OperatorAuth) -> AppJson<Operator> {
    AppJson(session.operator)
}

/// `POST /api/auth/logout`: ends this session; its sockets close with 4001.
#[utoipa::path(
    post,
    path = "/api/auth/logout",
    tag = "auth",
    security(("operator" = [])),
    responses(
        (status = 204, description = "The session has ended"),
        (status = 401, description = "No, bad, expired or ended operator token", body = ErrorBody),
        (status = 503, description = "The store is unavailable", body = ErrorBody),
    )
)]
pub async fn logout(
    State(state): State<AppState>,
    OperatorAuth(session): OperatorAuth,
) -> Result<StatusCode, ApiError> {
    state.sessions.end(session.id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Password change body.
#[derive(Deserialize, utoipa::ToSchema)]
pub struct PasswordChange {
    /// The password now.
    current_password: String,
    /// The new one, 8 to 256 characters.
    #[schema(min_length = 8, max_length = 256)]
    new_password: String,
}

/// Answer of a password change.
#[derive(Serialize, utoipa::ToSchema)]
pub struct PasswordChanged {
    /// How many other sessions of the operator were ended.
    other_sessions_ended: u64,
}

/// `POST /api/auth/password`: checks the current password (throttled like a login),
/// stores the new one and ends every other session of the operator.
#[utoipa::path(
    post,
    path = "/api/auth/password",
    tag = "auth",
    request_body = PasswordChange,
    security(("operator" = [])),
    responses(
        (status = 200, description = "Changed; the other sessions have ended", body = PasswordChanged),
        (status = 400, description = "The body is not JSON", body = ErrorBody),
        (status = 401, description = "No, bad, expired or ended operator token", body = ErrorBody),
        (status = 403, description = "The current password is wrong", body = ErrorBody),
        (status = 413, description = "The body is too large", body = ErrorBody),
        (status = 415, description = "The body is not `application/json`", body = ErrorBody),
        (status = 422, description = "Wrong shape, or a new password outside 8 to 256 characters", body = ErrorBody),
        (status = 429, description = "Too many attempts (throttled like logins)", body = ErrorBody,
            headers(("Retry-After" = u64, description = "Seconds to wait"))),
        (status = 503, description = "Password hashing is busy, or the store is unavailable", body = ErrorBody,
            headers(("Retry-After" = u64, description = "Seconds to wait"))),
    )
)]
pub async fn change_password(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    OperatorAuth(session): OperatorAuth,
    AppJson(body): AppJson<PasswordChange>,
) -> Result<AppJson<PasswordChanged>, ApiError> {
    validate_password(&body.new_password)?;
    let account = LoginGuard::account_key(&session.operator.email);
    state
        .login
        .admit(ip, &account)
        .map_err(super::login::refusal)?;
    let stored = state
        .store
        .operator_password_hash(session.operator.id)
        .await?
        .ok_or_else(|| session_error(crate::auth::sessions::SessionRefusal::Ended))?;
    let current = body.current_password;
    let new = body.new_password;
    let new_hash = hashing(&state, move || {
        password::verify(&current, &stored).then(|| password::hash(&new))
    })
    .await?;
    let Some(new_hash) = new_hash else {
        state.login.failed(&account);
        return Err(ApiError::new(
            ErrorCode::Forbidden,
            "the current password is wrong",
        ));
    };
    let new_hash = new_hash.map_err(ApiError::internal)?;
    state.login.succeeded(&account);
    state
        .store
        .update_operator(
            session.operator.id,
            OperatorPatch {
                password_hash: Some(new_hash),
                ..Default::default()
            },
        )
        .await?;
    let ended = state
        .sessions
        .end_all(session.operator.id, Some(session.id))
        .await?;
    Ok(AppJson(PasswordChanged {
        other_sessions_ended: ended,
    }))
}

/// A socket ticket.
#[derive(Serialize, utoipa::ToSchema)]
pub struct Ticket {
    /// For `?ticket=` on one operator socket, usable once.
    ticket: String,
    /// When it stops being usable (UTC).
    expires_at: DateTime<Utc>,
}

/// `POST /api/auth/ws-ticket`: a single-use ticket for `?ticket=` on an operator socket,
/// valid for `TICKET_TTL`.
#[utoipa::path(
    post,
    path = "/api/auth/ws-ticket",
    tag = "auth",
    security(("operator" = [])),
    responses(
        (status = 201, description = "A ticket", body = Ticket),
        (status = 401, description = "No, bad, expired or ended operator token", body = ErrorBody),
        (status = 503, description = "The store is unavailable", body = ErrorBody),
    )
)]
pub async fn ws_ticket(
    State(state): State<AppState>,
    OperatorAuth(session): OperatorAuth,
) -> Result<(StatusCode, AppJson<Ticket>), ApiError> {
    let (ticket, expires_at) = state.sessions.issue_ticket(session.id).await?;
    Ok((StatusCode::CREATED, AppJson(Ticket { ticket, expires_at })))
}
