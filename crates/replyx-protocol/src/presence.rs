//! Operator presence and a queued visitor's standing, as consoles and widgets see them.

use serde::{Deserialize, Serialize};

/// Whether an operator can take dialogs now.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PresenceState {
    /// A console is open and the operator takes dialogs (auto-assignment included).
    Online,
    /// A console is open but the operator asked not to be given new dialogs.
    Away,
    /// No console of theirs has been seen for the grace period.
    Offline,
}

impl PresenceState {
    /// The wire and database spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Online => "online",
            Self::Away => "away",
            Self::Offline => "offline",
        }
    }

    /// Parses the database spelling.
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "online" => Self::Online,
            "away" => Self::Away,
            "offline" => Self::Offline,
            _ => return None,
        })
    }
}

/// Where a dialog waiting for an operator stands.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct QueueStanding {
    /// 1 for the next dialog to be picked up.
    pub position: u32,
    /// Dialogs waiting for this assistant's operators.
    pub queue_length: u32,
    /// Operators online now (away ones not counted).
    pub operators_online: u32,
    /// A guess from recent pickups (the median wait times the position), when there
    /// were any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expected_wait_s: Option<u64>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn presence_round_trips_through_its_names() {
        for s in [
            PresenceState::Online,
            PresenceState::Away,
            PresenceState::Offline,
        ] {
            assert_eq!(PresenceState::parse(s.as_str()), Some(s));
            assert_eq!(serde_json::to_value(s).unwrap(), s.as_str());
        }
        assert_eq!(PresenceState::parse("busy"), None);
    }
}
