//! Error codes of HTTP error bodies and WebSocket `error` frames, with their status.

use serde::Serialize;

/// Every error code the server sends, `{"error": {"code", "message"}}` over HTTP.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    /// 400: the body is not valid JSON, or a parameter is malformed.
    BadRequest,
    /// 401: no credentials, or bad ones.
    Unauthorized,
    /// 401: the token has expired.
    TokenExpired,
    /// 401: the token's session was ended (logout, password change, operator disabled
    /// or removed); log in again.
    SessionEnded,
    /// 401: the assistant accepts only visitors whose identity the site's backend
    /// signed ("enforce" mode), and this request carries no such identity.
    IdentityRequired,
    /// 401: the visitor identity token is malformed, expired, lasts too long, or is
    /// not signed by one of the assistant's identity keys.
    IdentityInvalid,
    /// 403: authenticated, but not for this.
    Forbidden,
    /// 403: the page's origin is not among the assistant's domains.
    ForbiddenOrigin,
    /// 404: unknown id.
    NotFound,
    /// 409: another operator holds the dialog.
    AlreadyTaken,
    /// 408: the request body did not arrive within the body read timeout.
    RequestTimeout,
    /// 409: the operator holds as many dialogs as allowed.
    OperatorCapacity,
    /// 409: the dialog is closed.
    DialogClosed,
    /// 409: the handoff action does not apply to the current status.
    InvalidTransition,
    /// 409: a unique value (such as an e-mail) is taken.
    Conflict,
    /// 413: text or body too large.
    TooLarge,
    /// 415: the body is not `application/json`.
    UnsupportedMediaType,
    /// 422: valid JSON of the wrong shape or with invalid values.
    InvalidShape,
    /// 429: rate limited; see `Retry-After`.
    RateLimited,
    /// 503: the server is draining or a dependency is down.
    Unavailable,
    /// 500: a server fault (details are logged, never sent).
    Internal,
    /// WebSocket: a client frame that is not valid JSON or not a known frame.
    InvalidFrame,
}

impl ErrorCode {
    /// Every code, for tables and the JS constants check.
    pub const ALL: [ErrorCode; 22] = [
        Self::BadRequest,
        Self::Unauthorized,
        Self::TokenExpired,
        Self::SessionEnded,
        Self::IdentityRequired,
        Self::IdentityInvalid,
        Self::Forbidden,
        Self::ForbiddenOrigin,
        Self::NotFound,
        Self::RequestTimeout,
        Self::AlreadyTaken,
        Self::OperatorCapacity,
        Self::DialogClosed,
        Self::InvalidTransition,
        Self::Conflict,
        Self::TooLarge,
        Self::UnsupportedMediaType,
        Self::InvalidShape,
        Self::RateLimited,
        Self::Unavailable,
        Self::Internal,
        Self::InvalidFrame,
    ];

    /// The HTTP status for this code (WebSocket-only codes map to 400).
    pub fn status(self) -> u16 {
        match self {
            Self::BadRequest | Self::InvalidFrame => 400,
            Self::Unauthorized
            | Self::TokenExpired
            | Self::SessionEnded
            | Self::IdentityRequired
            | Self::IdentityInvalid => 401,
            Self::Forbidden | Self::ForbiddenOrigin => 403,
            Self::NotFound => 404,
            Self::RequestTimeout => 408,
            Self::AlreadyTaken
            | Self::OperatorCapacity
            | Self::DialogClosed
            | Self::InvalidTransition
            | Self::Conflict => 409,
            Self::TooLarge => 413,
            Self::UnsupportedMediaType => 415,
            Self::InvalidShape => 422,
            Self::RateLimited => 429,
            Self::Unavailable => 503,
            Self::Internal => 500,
        }
    }

    /// The snake-case wire spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::BadRequest => "bad_request",
            Self::Unauthorized => "unauthorized",
            Self::TokenExpired => "token_expired",
            Self::SessionEnded => "session_ended",
            Self::IdentityRequired => "identity_required",
            Self::IdentityInvalid => "identity_invalid",
            Self::Forbidden => "forbidden",
            Self::ForbiddenOrigin => "forbidden_origin",
            Self::NotFound => "not_found",
            Self::RequestTimeout => "request_timeout",
            Self::AlreadyTaken => "already_taken",
            Self::OperatorCapacity => "operator_capacity",
            Self::DialogClosed => "dialog_closed",
            Self::InvalidTransition => "invalid_transition",
            Self::Conflict => "conflict",
            Self::TooLarge => "too_large",
            Self::UnsupportedMediaType => "unsupported_media_type",
            Self::InvalidShape => "invalid_shape",
            Self::RateLimited => "rate_limited",
            Self::Unavailable => "unavailable",
            Self::Internal => "internal",
            Self::InvalidFrame => "invalid_frame",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serde_spelling_matches_as_str() {
        for c in [
            ErrorCode::AlreadyTaken,
            ErrorCode::InvalidFrame,
            ErrorCode::TooLarge,
        ] {
            assert_eq!(serde_json::to_value(c).unwrap(), c.as_str());
        }
    }
}
