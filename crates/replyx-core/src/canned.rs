//! Canned responses: an assistant's ready-made replies, inserted in the console by
//! typing `/shortcut`.

use chrono::{DateTime, Utc};
use replyx_protocol::AssistantId;
use serde::{Deserialize, Serialize};

/// A stored canned response.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CannedResponse {
    /// Its id.
    pub id: String,
    /// The assistant it belongs to.
    pub assistant_id: AssistantId,
    /// What follows the `/`: 1 to 32 of `a-z 0-9 _ -`, unique per assistant.
    pub shortcut: String,
    /// The text inserted (1 to the message length limit).
    pub text: String,
    /// Created (UTC).
    pub created_at: DateTime<Utc>,
}

/// Whether `s` may be a shortcut: 1 to 32 of `a-z 0-9 _ -`.
pub fn is_shortcut(s: &str) -> bool {
    (1..=32).contains(&s.len())
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shortcuts_are_short_lowercase_words() {
        for ok in ["hi", "refund-policy", "a_1", &"x".repeat(32)] {
            assert!(is_shortcut(ok), "{ok}");
        }
        for bad in ["", "Hi", "two words", "/hi", &"x".repeat(33), "é"] {
            assert!(!is_shortcut(bad), "{bad}");
        }
    }
}
