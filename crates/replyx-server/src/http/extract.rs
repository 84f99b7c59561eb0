//! Request extractors for credentials: an operator's bearer token, a guest token
//! (bearer or `guest_token` query), and the client IP.

use crate::auth::sessions::{ActiveSession, SessionRefusal};
use crate::auth::{GuestClaims, TokenError};
use crate::error::ApiError;
use crate::limits::client_ip;
use crate::state::AppState;
use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::request::Parts;
use axum::http::{header, HeaderMap};
use replyx_protocol::ErrorCode;
use std::net::{IpAddr, SocketAddr};

/// The bearer token of `Authorization`, if any.
pub fn bearer(headers: &HeaderMap) -> Option<&str> {
    headers
        .get(header::AUTHORIZATION)?
        .to_str()
        .ok()?
        .strip_prefix("Bearer ")
        .map(str::trim)
}

/// A query parameter's value, percent-decoded.
pub fn query_param(query: Option<&str>, name: &str) -> Option<String> {
    url::form_urlencoded::parse(query?.as_bytes())
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
}

fn token_error(e: TokenError) -> ApiError {
    match e {
        TokenError::Expired => {
            ApiError::new(ErrorCode::TokenExpired, "token expired; log in again")
        }
        TokenError::Invalid => ApiError::unauthorized("invalid token"),
    }
}

/// An operator whose token is valid and whose session is live (checked against the
/// store, through the session cache, on every request).
pub struct OperatorAuth(pub ActiveSession);

/// The refusal of an ended or unverifiable session.
pub fn session_error(r: SessionRefusal) -> ApiError {
    match r {
        SessionRefusal::Ended => ApiError::new(
            ErrorCode::SessionEnded,
            "this session has ended (logged out, password changed, or operator disabled); log in again",
        ),
        SessionRefusal::Unavailable(e) => ApiError::from((*e).clone()),
    }
}

impl FromRequestParts<AppState> for OperatorAuth {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let token =
            bearer(&parts.headers).ok_or_else(|| ApiError::unauthorized("missing bearer token"))?;
        let claims = state.tokens.verify_operator(token).map_err(token_error)?;
        state
            .sessions
            .check(claims.sid)
            .await
            .map(OperatorAuth)
            .map_err(session_error)
    }
}

/// An operator with the admin role: operators and assistants are theirs to manage.
pub struct AdminAuth(pub ActiveSession);

impl FromRequestParts<AppState> for AdminAuth {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let OperatorAuth(session) = OperatorAuth::from_request_parts(parts, state).await?;
        if session.operator.role != replyx_core::Role::Admin {
            return Err(ApiError::new(
                ErrorCode::Forbidden,
                "this needs the admin role",
            ));
        }
        Ok(AdminAuth(session))
    }
}

/// An authenticated visitor (any guest token; routes check its dialog and kind).
pub struct GuestAuth(pub GuestClaims);

impl FromRequestParts<AppState> for GuestAuth {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let token = bearer(&parts.headers)
            .map(str::to_owned)
            .or_else(|| query_param(parts.uri.query(), "guest_token"))
            .ok_or_else(|| ApiError::unauthorized("missing guest token"))?;
        state
            .tokens
            .verify_guest(&token)
            .map(GuestAuth)
            .map_err(token_error)
    }
}

/// The client's IP (see `limits::client_ip`).
pub struct ClientIp(pub IpAddr);

impl FromRequestParts<AppState> for ClientIp {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let peer = parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map(|c| c.0)
            .unwrap_or_else(|| SocketAddr::from(([127, 0, 0, 1], 0)));
        Ok(ClientIp(client_ip(
            peer,
            &parts.headers,
            &state.settings.trusted_proxies,
        )))
    }
}

/// The `Origin` header, if present and readable.
pub fn origin(headers: &HeaderMap) -> Option<&str> {
    headers.get(header::ORIGIN)?.to_str().ok()
}
