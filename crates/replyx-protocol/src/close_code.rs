//! WebSocket close codes with their meaning and the client's reconnect policy: one
//! table, which the widget's JS constants are checked against.

use serde::Serialize;

/// What a client should do after a close.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ReconnectPolicy {
    /// Do not reconnect.
    Never,
    /// Reconnect with jittered exponential backoff.
    Backoff,
    /// Reconnect after a random 0.5–5 s, with `since`.
    Jittered,
    /// Refresh the token, then reconnect.
    RefreshToken,
    /// Reconnect after 30–60 s.
    LongBackoff,
}

/// Every close code of the protocol.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
pub enum CloseCode {
    /// 1000 normal closure.
    Normal,
    /// 1001 going away (also: heartbeat timeout).
    GoingAway,
    /// 1008 policy violation: bad frames, flooding.
    PolicyViolation,
    /// 1009 frame too large.
    TooLarge,
    /// 1011 internal error.
    InternalError,
    /// 1012 this server is draining.
    ServiceRestart,
    /// 1013 overloaded, over a connection limit, or a slow consumer.
    TryAgainLater,
    /// 4001 auth expired.
    AuthExpired,
    /// 4002 auth failed.
    AuthFailed,
    /// 4003 forbidden domain.
    ForbiddenDomain,
    /// 4004 dialog or assistant not found.
    NotFound,
    /// 4008 rate limited.
    RateLimited,
    /// 4009 replaced by a newer connection of the same client.
    Replaced,
}

impl CloseCode {
    /// Every code, for tables, docs and the JS constants check.
    pub const ALL: [CloseCode; 13] = [
        Self::Normal,
        Self::GoingAway,
        Self::PolicyViolation,
        Self::TooLarge,
        Self::InternalError,
        Self::ServiceRestart,
        Self::TryAgainLater,
        Self::AuthExpired,
        Self::AuthFailed,
        Self::ForbiddenDomain,
        Self::NotFound,
        Self::RateLimited,
        Self::Replaced,
    ];

    /// The number on the wire.
    pub fn code(self) -> u16 {
        self.row().0
    }

    /// The close reason text sent with it.
    pub fn reason(self) -> &'static str {
        self.row().1
    }

    /// What the client should do.
    pub fn policy(self) -> ReconnectPolicy {
        self.row().2
    }

    /// The code for a number, if it is ours.
    pub fn from_code(code: u16) -> Option<Self> {
        Self::ALL.into_iter().find(|c| c.code() == code)
    }

    /// Short snake-case name, used as a metric label.
    pub fn name(self) -> &'static str {
        self.row().3
    }

    fn row(self) -> (u16, &'static str, ReconnectPolicy, &'static str) {
        use ReconnectPolicy::*;
        match self {
            Self::Normal => (1000, "normal closure", Never, "normal"),
            Self::GoingAway => (1001, "going away", Backoff, "going_away"),
            Self::PolicyViolation => (1008, "policy violation", Backoff, "policy_violation"),
            Self::TooLarge => (1009, "frame too large", Backoff, "too_large"),
            Self::InternalError => (1011, "internal error", Backoff, "internal_error"),
            Self::ServiceRestart => (1012, "service restart", Jittered, "service_restart"),
            Self::TryAgainLater => (1013, "try again later", Backoff, "try_again_later"),
            Self::AuthExpired => (4001, "auth expired", RefreshToken, "auth_expired"),
            Self::AuthFailed => (4002, "auth failed", Never, "auth_failed"),
            Self::ForbiddenDomain => (4003, "forbidden domain", Never, "forbidden_domain"),
            Self::NotFound => (4004, "not found", Never, "not_found"),
            Self::RateLimited => (4008, "rate limited", LongBackoff, "rate_limited"),
            Self::Replaced => (4009, "replaced", Never, "replaced"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_unique_and_round_trip() {
        for c in CloseCode::ALL {
            assert_eq!(CloseCode::from_code(c.code()), Some(c));
            let same = CloseCode::ALL
                .iter()
                .filter(|o| o.code() == c.code())
                .count();
            assert_eq!(same, 1, "{c:?}");
        }
        assert_eq!(CloseCode::ServiceRestart.code(), 1012);
        assert_eq!(CloseCode::from_code(1234), None);
    }
}
