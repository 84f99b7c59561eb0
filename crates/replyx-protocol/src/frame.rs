//! WebSocket frames other than stored events. Events are sent as [`crate::Event`].

use crate::event::OperatorRef;
use crate::ids::{ConnectionId, DialogId, Seq};
use crate::kind::ConnectionKind;
use crate::object_only::ObjectOnly;
use crate::presence::{PresenceState, QueueStanding};
use crate::view::DialogSummary;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Who is typing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TypingActor {
    /// The visitor (never shown to other visitors' streams).
    Visitor,
    /// An operator.
    Operator,
    /// The bot, while it prepares a reply.
    Assistant,
}

/// Typing started or stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TypingState {
    /// Started.
    Start,
    /// Stopped.
    Stop,
}

/// Which side set a read mark.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Reader {
    /// The visitor.
    Visitor,
    /// The operators.
    Operator,
}

/// Server → client frames that are not stored events.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type")]
pub enum ServerFrame {
    /// First frame of every connection.
    #[serde(rename = "connection.established")]
    ConnectionEstablished {
        /// This connection.
        connection_id: ConnectionId,
        /// The kind the route fixed.
        kind: ConnectionKind,
        /// The dialog (absent on the inbox feed).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        dialog_id: Option<DialogId>,
        /// Newest seq of this connection's stream at connect time.
        last_seq: Seq,
        /// Interval of the server's protocol pings.
        heartbeat_ms: u64,
    },
    /// Replay of `seq > since` finished; live events follow.
    #[serde(rename = "replay.complete")]
    ReplayComplete {
        /// Newest seq sent so far in this stream.
        last_seq: Seq,
    },
    /// Someone is typing (not stored).
    #[serde(rename = "typing")]
    Typing {
        /// The dialog.
        dialog_id: DialogId,
        /// Who.
        actor: TypingActor,
        /// Started or stopped.
        state: TypingState,
    },
    /// A side has read up to a seq.
    #[serde(rename = "read")]
    Read {
        /// The dialog.
        dialog_id: DialogId,
        /// Which side.
        reader: Reader,
        /// Read up to this seq.
        up_to: Seq,
    },
    /// Answer to a client ping.
    #[serde(rename = "pong")]
    Pong {
        /// Newest seq of this connection's stream, for gap detection.
        last_seq: Seq,
    },
    /// A bad client frame, or a `message.send` that was not stored; the connection
    /// stays open.
    #[serde(rename = "error")]
    Error {
        /// Snake-case code from [`crate::ErrorCode`].
        code: String,
        /// Human-readable detail.
        message: String,
        /// The `client_msg_id` of the `message.send` refused (absent for other frames).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        client_msg_id: Option<String>,
        /// Seconds to wait before sending it again (`rate_limited`, `unavailable`).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        retry_after: Option<u64>,
    },
    /// A `message.send` is stored: its seq in the dialog. Its `message.created` event
    /// follows on every socket of the dialog, this one included.
    #[serde(rename = "message.ack")]
    MessageAck {
        /// The key the client sent.
        client_msg_id: String,
        /// The stored event's seq.
        seq: Seq,
        /// True when this sender had already stored a message with this key: `seq` is
        /// the first copy's and nothing new was stored.
        duplicate: bool,
    },
    /// Inbox feed: a new dialog.
    #[serde(rename = "dialog.created")]
    DialogCreated {
        /// The dialog's inbox row.
        dialog: DialogSummary,
    },
    /// Inbox feed: a dialog's status, preview or unread count changed.
    #[serde(rename = "dialog.updated")]
    DialogUpdated {
        /// The dialog's inbox row.
        dialog: DialogSummary,
    },
    /// Inbox feed: an operator's presence changed (not stored as an event; the
    /// current presence of everyone is `GET /api/operators/presence`).
    #[serde(rename = "operator.presence")]
    OperatorPresence {
        /// The operator.
        operator: OperatorRef,
        /// Now.
        status: PresenceState,
    },
    /// Dialog sockets of a dialog waiting for an operator: where it stands in the
    /// queue, sent when it changes (not stored; the dialog load carries the current
    /// standing).
    #[serde(rename = "queue.position")]
    QueuePosition {
        /// The dialog.
        dialog_id: DialogId,
        /// Its standing.
        #[serde(flatten)]
        standing: QueueStanding,
    },
}

/// Client → server frames. Only a JSON object decodes: the derive is `remote = "Self"`
/// so that the `Deserialize` impl below can put [`ObjectOnly`] in front of it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(
    remote = "Self",
    tag = "type",
    rename_all = "snake_case",
    deny_unknown_fields
)]
pub enum ClientFrame {
    /// Application-level ping; answered with `pong`. A struct variant, not a unit one:
    /// serde lets a unit variant of an internally tagged enum ignore
    /// `deny_unknown_fields`, so `{"type":"ping","x":1}` was accepted.
    Ping {},
    /// The client's side started or stopped typing.
    Typing {
        /// Started or stopped.
        state: TypingState,
    },
    /// The client's side has read up to a seq.
    Read {
        /// Read up to this seq; a mark never moves backwards.
        up_to: Seq,
    },
    /// Sends a message on the socket instead of `POST .../messages`: the same
    /// validation, limits and per-sender `client_msg_id` idempotency, answered with
    /// `message.ack` (stored) or an `error` carrying the `client_msg_id` (refused).
    #[serde(rename = "message.send")]
    MessageSend {
        /// The text: not blank, at most the server's character limit.
        text: String,
        /// The idempotency key, required here: it pairs the answer with the send.
        client_msg_id: String,
        /// An internal note (operator sockets only).
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        internal: bool,
    },
}

impl<'de> Deserialize<'de> for ClientFrame {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        // The inherent function the `remote = "Self"` derive generated.
        ClientFrame::deserialize(ObjectOnly(deserializer))
    }
}

impl Serialize for ClientFrame {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        ClientFrame::serialize(self, serializer)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every client frame refuses keys the protocol does not name, `ping` included.
    /// Found by the `client_frame` fuzz target
    /// (fuzz/corpus/client_frame/crash-ping-with-unknown-keys).
    #[test]
    fn client_frames_refuse_unknown_keys_and_round_trip() {
        for bad in [
            r#"{"type":"ping","x":1}"#,
            r#"{"type":"ping","actor":"operator","state":"start"}"#,
            r#"{"type":"typing","state":"start","x":1}"#,
            r#"{"type":"read","up_to":1,"x":1}"#,
            r#"{"type":"message.send","text":"hi"}"#,
            r#"{"type":"message.send","text":"hi","client_msg_id":"a","sender":"operator"}"#,
            r#"{"type":"message_send","text":"hi","client_msg_id":"a"}"#,
            // The sequence spelling serde allows for tagged enums (fuzz/corpus/client_frame/crash-array-frame).
            "[\"ping\"]\t",
            r#"["typing","start"]"#,
            r#"["read",3]"#,
            r#"["message.send","hi","a"]"#,
        ] {
            assert!(serde_json::from_str::<ClientFrame>(bad).is_err(), "{bad}");
        }
        for good in [
            r#"{"type":"ping"}"#,
            r#"{"type":"typing","state":"stop"}"#,
            r#"{"type":"read","up_to":7}"#,
            r#"{"type":"message.send","text":"hi","client_msg_id":"a"}"#,
            r#"{"type":"message.send","text":"note","client_msg_id":"b","internal":true}"#,
        ] {
            let frame: ClientFrame = serde_json::from_str(good).unwrap();
            assert_eq!(serde_json::to_string(&frame).unwrap(), good);
        }
    }
}
