//! `POST /api/auth/login`: e-mail and password for an operator token, behind the
//! login guard (per-IP limit, per-account backoff, bounded hashing: `auth::login_guard`).

use super::extract::ClientIp;
use crate::auth::login_guard::{LoginGuard, Refusal};
use crate::auth::password;
use crate::error::{ApiError, AppJson, ErrorBody};
use crate::state::AppState;
use axum::extract::State;
use chrono::{DateTime, Utc};
use replyx_core::{AccountStatus, Operator};
use replyx_protocol::ErrorCode;
use serde::{Deserialize, Serialize};

/// Login body. Unknown keys are refused, as in every other body.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LoginRequest {
    /// The operator's e-mail.
    email: String,
    /// The operator's password.
    password: String,
}

/// Login answer.
#[derive(Serialize, utoipa::ToSchema)]
pub struct LoginResponse {
    /// The operator token (a JWT for `Authorization: Bearer`), bound to a server-side
    /// session.
    token: String,
    /// When the token expires (UTC).
    expires_at: DateTime<Utc>,
    /// The operator, with role and status.
    operator: Operator,
}

/// Checks the password; the same 401, after the same work, for an unknown e-mail and
/// a wrong password.
#[utoipa::path(
    post,
    path = "/api/auth/login",
    tag = "auth",
    request_body = LoginRequest,
    security(()),
    responses(
        (status = 200, description = "Logged in", body = LoginResponse),
        (status = 400, description = "The body is not JSON", body = ErrorBody),
        (status = 401, description = "Wrong e-mail or password (one answer for both)", body = ErrorBody),
        (status = 403, description = "The right password of a disabled operator", body = ErrorBody),
        (status = 413, description = "The body is too large", body = ErrorBody),
        (status = 415, description = "The body is not `application/json`", body = ErrorBody),
        (status = 422, description = "Wrong shape", body = ErrorBody),
        (status = 429, description = "Too many attempts from this IP, or the e-mail backs off after failures", body = ErrorBody,
            headers(("Retry-After" = u64, description = "Seconds to wait"))),
        (status = 503, description = "Every password-hashing slot stayed busy, or the store is unavailable", body = ErrorBody,
            headers(("Retry-After" = u64, description = "Seconds to wait"))),
    )
)]
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
    let decoy = state.clone();
    // Argon2 is deliberately slow: off the async workers, holding the slot.
    let ok = super::session::hash_with(&state, slot, move || match &hash {
        Some(h) => password::verify(&password, h),
        None => {
            // Unknown e-mail: the same work as a wrong password, then no.
            let _ = password::verify(&password, decoy.login.decoy());
            false
        }
    })
    .await?;
    // A removed operator is gone: the same answer as an unknown e-mail.
    let record = record.filter(|r| r.operator.status != AccountStatus::Removed);
    let Some(record) = record.filter(|_| ok) else {
        state.login.failed(&account);
        state.metrics.login("wrong");
        return Err(ApiError::unauthorized("wrong e-mail or password"));
    };
    state.login.succeeded(&account);
    if record.operator.status == AccountStatus::Disabled {
        state.metrics.login("disabled");
        return Err(ApiError::new(
            ErrorCode::Forbidden,
            "this operator account is disabled",
        ));
    }
    state.metrics.login("ok");
    let exp = state.tokens.operator_expiry();
    let sid = state.sessions.start(record.operator.id, exp).await?;
    let token = state
        .tokens
        .sign_operator(record.operator.id, &record.operator.name, sid, exp);
    Ok(AppJson(LoginResponse {
        token,
        expires_at: DateTime::from_timestamp(exp as i64, 0).unwrap_or_else(Utc::now),
        operator: record.operator,
    }))
}

pub(super) fn refusal(r: Refusal) -> ApiError {
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

#[cfg(test)]
mod tests {
    use super::*;

    /// A key the body does not name (whose value serde would otherwise skip without
    /// even checking it is UTF-8) is refused. Found by the `http_body` fuzz target.
    #[test]
    fn a_login_body_refuses_unknown_keys() {
        let extra = br#"{"email":"a@b.example","password":"p","remember":true}"#;
        assert!(serde_json::from_slice::<LoginRequest>(extra).is_err());
        let not_utf8 = b"{\"email\":\"a@b.example\",\"password\":\"p\",\"x\":\"\xff\"}";
        assert!(serde_json::from_slice::<LoginRequest>(not_utf8).is_err());
        let good: LoginRequest =
            serde_json::from_slice(br#"{"email":"a@b.example","password":"p"}"#).unwrap();
        assert_eq!(
            (good.email.as_str(), good.password.as_str()),
            ("a@b.example", "p")
        );
    }
}
