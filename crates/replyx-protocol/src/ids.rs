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
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
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
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
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
}

impl fmt::Display for GuestId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Position of an event in its dialog's log: 1, 2, 3 … without gaps. `Seq(0)` means
/// "before the first event".
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default, Serialize, Deserialize,
)]
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
