//! WebSocket frames other than stored events. Events are sent as [`crate::Event`].

use crate::ids::{ConnectionId, DialogId, Seq};
use crate::kind::ConnectionKind;
use crate::view::DialogSummary;
use serde::{Deserialize, Serialize};

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
    /// A bad client frame; the connection stays open.
    #[serde(rename = "error")]
    Error {
        /// Snake-case code from [`crate::ErrorCode`].
        code: String,
        /// Human-readable detail.
        message: String,
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
}

/// Client → server frames.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum ClientFrame {
    /// Application-level ping; answered with `pong`.
    Ping,
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
}
