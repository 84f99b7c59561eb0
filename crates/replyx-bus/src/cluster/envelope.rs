//! What a cluster bus message carries between nodes, as JSON: who sent it and one of
//! a stored event, a signal, or a batch of changed inbox rows.

use replyx_core::{Signal, StoredEvent};
use replyx_protocol::DialogId;
use serde::{Deserialize, Serialize};
use std::borrow::Cow;

/// One message on the broker. Borrowed when sent (a publish serializes the event it
/// was handed, without copying it), owned when received.
#[derive(Debug, Serialize, Deserialize)]
pub(super) struct Envelope<'a> {
    /// The publishing node.
    pub(super) origin: Cow<'a, str>,
    /// Sent by the delivery canary to its own node: not dropped as an echo.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub(super) round_trip: bool,
    /// What it says.
    pub(super) body: Body<'a>,
}

/// The payload of an [`Envelope`].
#[derive(Debug, Serialize, Deserialize)]
#[serde(tag = "t", content = "v", rename_all = "snake_case")]
pub(super) enum Body<'a> {
    /// A stored event.
    Event(Cow<'a, StoredEvent>),
    /// Typing, a read mark, or an inbox row.
    Signal(Cow<'a, Signal>),
    /// Dialogs whose inbox rows changed on the sending node.
    Rows(Vec<DialogId>),
}

impl Body<'_> {
    /// Its kind, as the bus traffic metric labels it.
    pub(super) fn kind(&self) -> &'static str {
        match self {
            Body::Event(_) => "event",
            Body::Signal(_) => "signal",
            Body::Rows(_) => "rows",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_echo_flag_is_only_written_when_set() {
        let plain = Envelope {
            origin: "n1".into(),
            round_trip: false,
            body: Body::Rows(vec![]),
        };
        let json = serde_json::to_string(&plain).unwrap();
        assert_eq!(json, r#"{"origin":"n1","body":{"t":"rows","v":[]}}"#);
        let echo: Envelope =
            serde_json::from_str(r#"{"origin":"n1","round_trip":true,"body":{"t":"rows","v":[]}}"#)
                .unwrap();
        assert!(echo.round_trip);
    }
}
