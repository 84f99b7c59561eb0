//! Operator presence as the store keeps it: the status an operator chose (online or
//! away), when any process last saw a console of theirs, and the state last announced.
//! The effective state is a pure function of the first two and the grace period, so
//! every process computes the same one; the store moves the announced state with a
//! conditional update, so exactly one process announces each change.

use chrono::{DateTime, Utc};
use replyx_protocol::{OperatorRef, PresenceState};

/// The state an operator is in: what they chose while a console of theirs was seen
/// since `seen_after`, offline otherwise. `Offline` as a choice means offline.
pub fn effective(
    chosen: PresenceState,
    last_seen: Option<DateTime<Utc>>,
    seen_after: DateTime<Utc>,
) -> PresenceState {
    match last_seen {
        Some(seen) if seen > seen_after => chosen,
        _ => PresenceState::Offline,
    }
}

/// One operator's presence and load, for consoles and the routing queue.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct OperatorPresence {
    /// The operator.
    pub operator: OperatorRef,
    /// Online, away or offline, as last announced.
    pub status: PresenceState,
    /// What the operator chose for when a console is open (online or away).
    pub chosen: PresenceState,
    /// Dialogs they hold now.
    pub held: u64,
    /// How many they may hold.
    pub capacity: u64,
}

/// A change of announced state, for the one process that made it to announce.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PresenceChange {
    /// The operator.
    pub operator: OperatorRef,
    /// Before.
    pub was: PresenceState,
    /// Now.
    pub now: PresenceState,
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Duration;

    #[test]
    fn an_operator_is_what_they_chose_while_seen_within_the_grace_period() {
        let now = Utc::now();
        let grace = now - Duration::seconds(30);
        let recent = Some(now - Duration::seconds(5));
        let stale = Some(now - Duration::seconds(31));
        use PresenceState::*;
        assert_eq!(effective(Online, recent, grace), Online);
        assert_eq!(effective(Away, recent, grace), Away);
        assert_eq!(effective(Online, stale, grace), Offline);
        assert_eq!(effective(Online, None, grace), Offline);
        assert_eq!(effective(Offline, recent, grace), Offline);
    }
}
