//! A simulated client: the widget's or console's delivery algorithm (`web/shared`:
//! `seq_log.js`, `connection.js`), ported to Rust to run inside the simulation. It
//! keeps the highest seq it accepted, accepts events strictly in order and once,
//! fetches the log after a gap seen from `prev_seq` or from a pong's `last_seq`, and
//! resumes with `since` after every close.

use replyx_protocol::{ClientId, CloseCode, ConnectionKind, Event, Seq, TypingActor};
use std::collections::VecDeque;

/// What the server sent on a socket, as the client reads it (in order, like TCP).
#[derive(Debug, Clone)]
pub(crate) enum Frame {
    /// A stored event of the client's stream.
    Event(Event),
    /// `replay.complete`: the connection is live.
    Live,
    /// A typing indicator by this actor.
    Typing(TypingActor),
    /// A pong with the stream's newest seq.
    Pong(Seq),
    /// The server closed the socket with this code.
    Closed(CloseCode),
}

/// The client's side of its socket.
#[derive(Debug)]
pub(crate) enum Conn {
    /// No socket; may reconnect from this step on.
    Down { from_step: u64 },
    /// Connected to `node`, session `token`; frames sent and not read yet.
    Up {
        node: usize,
        token: u64,
        inbox: VecDeque<Frame>,
    },
}

/// What a client's log made of an event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Accepted {
    Added,
    Duplicate,
    Gap,
}

/// A client's copy of its stream (`SeqLog`).
#[derive(Debug, Default)]
pub(crate) struct Log {
    pub(crate) last: Seq,
    pub(crate) events: Vec<Event>,
}

impl Log {
    /// `seq_log.js` `accept`.
    pub(crate) fn accept(&mut self, event: &Event) -> Accepted {
        if event.seq <= self.last {
            Accepted::Duplicate
        } else if event.prev_seq > self.last {
            Accepted::Gap
        } else {
            self.last = event.seq;
            self.events.push(event.clone());
            Accepted::Added
        }
    }
}

/// A message the client sent and has no acknowledgement for yet.
#[derive(Debug, Clone)]
pub(crate) struct Pending {
    pub(crate) client_msg_id: String,
    pub(crate) text: String,
    pub(crate) internal: bool,
}

/// One simulated client.
#[derive(Debug)]
pub(crate) struct Client {
    pub(crate) kind: ConnectionKind,
    /// Index of its dialog in the world.
    pub(crate) dialog: usize,
    /// Index of its operator, for console clients.
    pub(crate) operator: Option<usize>,
    /// Its id for its logical connection, the same on every reconnect.
    pub(crate) client_id: ClientId,
    pub(crate) log: Log,
    pub(crate) conn: Conn,
    /// Not reading its socket until this step (a slow consumer).
    pub(crate) slow_until: u64,
    pub(crate) pending: Vec<Pending>,
    pub(crate) sent: u64,
    /// Whether it loaded its dialog over HTTP yet (it connects only after).
    pub(crate) loaded: bool,
}

impl Client {
    pub(crate) fn new(
        kind: ConnectionKind,
        dialog: usize,
        operator: Option<usize>,
        n: usize,
    ) -> Self {
        Self {
            kind,
            dialog,
            operator,
            client_id: ClientId::parse(&format!("sim-client-{n:04}")).expect("a valid client id"),
            log: Log::default(),
            conn: Conn::Down { from_step: 0 },
            slow_until: 0,
            pending: Vec::new(),
            sent: 0,
            loaded: false,
        }
    }

    pub(crate) fn is_visitor(&self) -> bool {
        self.kind.is_visitor()
    }

    /// The next message to send, with a fresh `client_msg_id`.
    pub(crate) fn compose(&mut self, me: usize, internal: bool) -> Pending {
        self.sent += 1;
        Pending {
            client_msg_id: format!("c{me}-{}", self.sent),
            text: format!("client {me} message {}", self.sent),
            internal,
        }
    }
}
