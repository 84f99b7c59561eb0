//! Typed ids. A dialog id can never be passed where an operator id is expected, and
//! `Seq` is a number with the meaning "position in one dialog's log".

use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;
use uuid::Uuid;

macro_rules! uuid_id {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
        #[serde(transparent)]
        pub struct $name(pub Uuid);

        impl $name {
            /// A fresh, time-ordered id (UUIDv7), so ids sort by creation.
            pub fn new() -> Self {
                Self(Uuid::now_v7())
            }
        }

        impl Default for $name {
            fn default() -> Self {
                Self::new()
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.fmt(f)
            }
        }

        impl FromStr for $name {
            type Err = uuid::Error;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Uuid::parse_str(s).map(Self)
            }
        }
    };
}

uuid_id!(
    /// One conversation.
    DialogId
);
uuid_id!(
    /// A configured chat bot.
    AssistantId
);
uuid_id!(
    /// A human operator.
    OperatorId
);
uuid_id!(
    /// One operator login: the session a token belongs to, ended by logout, a password
    /// change, or the operator being disabled or removed.
    SessionId
);
uuid_id!(
    /// One stored message.
    MessageId
);
uuid_id!(
    /// One WebSocket connection, for logs and the `connection.established` frame.
    ConnectionId
);

/// The id a client gives one logical connection (`client_id` on a socket URL), kept
/// across its reconnects: a new socket with the same id replaces the one the server
/// still holds for it (closed with 4009). 8 to 64 characters of `[A-Za-z0-9_-]`.
///
/// Read from JSON through [`ClientId::parse`], so that no way in skips the check.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct ClientId(String);

impl ClientId {
    /// Validates a client-supplied id.
    pub fn parse(s: &str) -> Option<Self> {
        is_token(s).then(|| Self(s.to_owned()))
    }
}

/// 8 to 64 characters of `[A-Za-z0-9_-]`: the shape of client-chosen ids.
fn is_token(s: &str) -> bool {
    (8..=64).contains(&s.len())
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// The id a visitor's browser keeps so that a reload finds the same dialog.
/// Chosen by the client or the server; 8 to 64 characters of `[A-Za-z0-9_-]`.
///
/// Read from JSON (a token's claims, a stored record) through [`GuestId::parse`], so
/// that no way in skips the check.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct GuestId(String);

impl GuestId {
    /// A fresh random guest id.
    pub fn generate() -> Self {
        Self(Uuid::new_v4().simple().to_string())
    }

    /// Validates a client-supplied guest id.
    pub fn parse(s: &str) -> Option<Self> {
        is_token(s).then(|| Self(s.to_owned()))
    }

    /// The id as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// A short stable name for operators to tell visitors apart ("Visitor K7QF"): four
    /// letters of a hash of the id, so the label says nothing of the id itself (which
    /// opens the guest's dialogs). A display name, not a key: FNV-1a is enough, and
    /// keeps this crate free of hashing dependencies.
    pub fn label(&self) -> String {
        const ALPHABET: &[u8; 32] = b"ABCDEFGHJKLMNPQRSTUVWXYZ23456789";
        let mut hash: u32 = 0x811c_9dc5;
        for byte in self.0.bytes() {
            hash = (hash ^ u32::from(byte)).wrapping_mul(0x0100_0193);
        }
        let code: String = (0..4)
            .map(|i| char::from(ALPHABET[(hash >> (i * 5)) as usize & 31]))
            .collect();
        format!("Visitor {code}")
    }
}

impl fmt::Display for GuestId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Why a client-chosen id was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InvalidId;

impl fmt::Display for InvalidId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("expected 8 to 64 characters of [A-Za-z0-9_-]")
    }
}

impl std::error::Error for InvalidId {}

macro_rules! token_id_serde {
    ($name:ident) => {
        impl TryFrom<String> for $name {
            type Error = InvalidId;
            fn try_from(s: String) -> Result<Self, InvalidId> {
                if is_token(&s) {
                    Ok(Self(s))
                } else {
                    Err(InvalidId)
                }
            }
        }

        impl From<$name> for String {
            fn from(id: $name) -> String {
                id.0
            }
        }
    };
}

token_id_serde!(ClientId);
token_id_serde!(GuestId);

/// Position of an event in its dialog's log: 1, 2, 3 … without gaps. `Seq(0)` means
/// "before the first event".
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default, Serialize, Deserialize,
)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(transparent)]
pub struct Seq(pub u64);

impl Seq {
    /// Before the first event.
    pub const ZERO: Seq = Seq(0);
}

impl fmt::Display for Seq {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_guest_label_is_stable_short_and_differs_between_guests() {
        let a = GuestId::parse("guest-aaaa-0001").unwrap();
        let b = GuestId::parse("guest-aaaa-0002").unwrap();
        assert_eq!(a.label(), a.clone().label());
        assert_ne!(a.label(), b.label());
        let label = a.label();
        assert!(
            label.starts_with("Visitor ") && label.len() == "Visitor ".len() + 4,
            "{label}"
        );
        assert!(!label.contains("aaaa"));
    }

    /// JSON is a way in too (token claims, records): it applies the same check as
    /// `parse`, and writes the id as the plain string it was. Found by the `ids` fuzz
    /// target (fuzz/corpus/ids/crash-guest-id-from-json-unvalidated).
    #[test]
    fn client_chosen_ids_from_json_are_validated_like_parse() {
        for bad in ["", "short", "has space-0000", &"a".repeat(65), "ümlaut-00"] {
            let json = serde_json::to_string(bad).unwrap();
            assert!(serde_json::from_str::<GuestId>(&json).is_err(), "{bad:?}");
            assert!(serde_json::from_str::<ClientId>(&json).is_err(), "{bad:?}");
        }
        let guest: GuestId = serde_json::from_str("\"guest-0001\"").unwrap();
        assert_eq!(guest, GuestId::parse("guest-0001").unwrap());
        assert_eq!(serde_json::to_string(&guest).unwrap(), "\"guest-0001\"");
        let client: ClientId = serde_json::from_str("\"tab-0000aaaa\"").unwrap();
        assert_eq!(serde_json::to_string(&client).unwrap(), "\"tab-0000aaaa\"");
    }
}
