//! Visitor identity verification: a customer site's own backend signs who its
//! logged-in user is (user id, name, e-mail, an expiry) with a key it shares with one
//! assistant, and the widget hands that token over when it opens a dialog. A verified
//! user is one guest of the assistant on every device, so their dialogs follow them;
//! an assistant in `enforce` mode talks to verified users only.
//!
//! Invariants: an identity key belongs to one assistant and verifies only that
//! assistant's visitors; a guest id that belongs to a verified user is never opened
//! without that user's verified token.

use crate::model::DialogRecord;
use chrono::{DateTime, Utc};
use replyx_protocol::MessagePreview;
use serde::{Deserialize, Serialize};

/// Whether an assistant talks to anonymous visitors too.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum IdentityMode {
    /// Anonymous visitors are welcome; a verified identity, when given, is checked and
    /// shown to operators (a bad one is refused, never ignored).
    #[default]
    Optional,
    /// Only visitors with a verified identity may open, read or write dialogs.
    Enforce,
}

impl IdentityMode {
    /// The stored and wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            IdentityMode::Optional => "optional",
            IdentityMode::Enforce => "enforce",
        }
    }

    /// Parses the stored name.
    pub fn parse(s: &str) -> Option<IdentityMode> {
        match s {
            "optional" => Some(IdentityMode::Optional),
            "enforce" => Some(IdentityMode::Enforce),
            _ => None,
        }
    }
}

/// One key an assistant's site signs identity tokens with (HS256). Several may verify
/// at once: a rotation adds the new key, moves the site's backend to it, then removes
/// the old one.
#[derive(Clone, PartialEq, Eq)]
pub struct IdentityKey {
    /// The key id, named in the token header's `kid`.
    pub kid: String,
    /// The shared secret (base64url text, used as bytes).
    pub secret: String,
    /// When it was created (UTC).
    pub created_at: DateTime<Utc>,
}

impl std::fmt::Debug for IdentityKey {
    /// Never prints the secret (keys end up in logs through `Debug` of larger values).
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IdentityKey")
            .field("kid", &self.kid)
            .field("created_at", &self.created_at)
            .finish_non_exhaustive()
    }
}

/// One of a guest's dialogs as the guest may see it: the record and the newest message
/// of the visitor stream (never an internal note).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GuestDialog {
    /// The dialog.
    pub dialog: DialogRecord,
    /// Its newest message a visitor may see.
    pub last_message: Option<MessagePreview>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn modes_round_trip_through_their_names() {
        for mode in [IdentityMode::Optional, IdentityMode::Enforce] {
            assert_eq!(IdentityMode::parse(mode.as_str()), Some(mode));
            assert_eq!(serde_json::to_value(mode).unwrap(), mode.as_str());
        }
        assert_eq!(IdentityMode::parse("Enforce"), None);
        assert_eq!(IdentityMode::default(), IdentityMode::Optional);
    }

    #[test]
    fn a_key_never_prints_its_secret() {
        let key = IdentityKey {
            kid: "k1".into(),
            secret: "very-secret-value".into(),
            created_at: Utc::now(),
        };
        let shown = format!("{key:?}");
        assert!(
            shown.contains("k1") && !shown.contains("very-secret-value"),
            "{shown}"
        );
    }
}
