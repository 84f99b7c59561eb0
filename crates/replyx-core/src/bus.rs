//! The `Bus` seam: cross-process fan-out of stored events and ephemeral signals. A bus
//! may drop or reorder under failure; sessions detect seq gaps and read the store, so
//! the bus affects latency, never correctness of the log.

use crate::model::StoredEvent;
use async_trait::async_trait;
use replyx_protocol::{
    DialogId, DialogSummary, OperatorRef, PresenceState, QueueStanding, Reader, Seq, TypingActor,
    TypingState,
};
use serde::{Deserialize, Serialize};
use std::sync::Arc;

/// What a signal says. Signals are not part of the log.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum SignalBody {
    /// Someone started or stopped typing.
    Typing {
        /// Who.
        actor: TypingActor,
        /// Started or stopped.
        state: TypingState,
    },
    /// A read mark moved.
    Read {
        /// Which side.
        reader: Reader,
        /// The new mark, in the admin stream's numbering.
        up_to: Seq,
        /// The same mark in the visitor stream's numbering (the newest visitor seq at
        /// or below `up_to`), worked out where the mark was stored so that every node
        /// can show visitors a position they have seen. `None` from a node that did
        /// not send it: visitors then get no read frame, never the unmapped mark.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        visitor_up_to: Option<Seq>,
    },
    /// The dialog's inbox row changed (for `/ws/admin/inbox`).
    Inbox {
        /// `true` for a new dialog.
        created: bool,
        /// The row (boxed: it is far larger than the other signals).
        summary: Box<DialogSummary>,
    },
    /// An operator's presence changed (for `/ws/admin/inbox`). Not about one dialog:
    /// its signal carries the nil dialog id.
    Presence {
        /// The operator.
        operator: OperatorRef,
        /// Now.
        status: PresenceState,
    },
    /// Where the dialog stands in its assistant's routing queue.
    Queue {
        /// Its standing.
        standing: QueueStanding,
    },
}

/// An ephemeral, dialog-scoped notification.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Signal {
    /// The dialog.
    pub dialog_id: DialogId,
    /// What it says.
    pub body: SignalBody,
}

/// What a node listens for on a cluster bus: one dialog's events and signals, or the
/// operators' inbox feed. A cluster bus carries each to the nodes that asked for it
/// only, so a node's bus traffic follows its own sockets, not the cluster's.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Topic {
    /// Events, typing and read marks of one dialog.
    Dialog(DialogId),
    /// Inbox rows (`dialog.created`, `dialog.updated`) of every dialog.
    Inbox,
}

impl Topic {
    /// The topic a message travels on.
    pub fn of(message: &BusMessage) -> Topic {
        match message {
            BusMessage::Event(e) => Topic::Dialog(e.dialog_id),
            BusMessage::Signal(s) => match s.body {
                SignalBody::Inbox { .. } | SignalBody::Presence { .. } => Topic::Inbox,
                _ => Topic::Dialog(s.dialog_id),
            },
        }
    }
}

/// One item on the bus.
#[derive(Debug, Clone)]
pub enum BusMessage {
    /// A stored event.
    Event(Arc<StoredEvent>),
    /// A signal.
    Signal(Arc<Signal>),
}

/// Which way one broker message went, for the bus traffic metric.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BrokerTraffic {
    /// Published to the broker by this node.
    Sent,
    /// Received from the broker and handed to local subscribers.
    Received,
    /// Received from the broker but this node's own publish, dropped (it was delivered
    /// locally when published): the cost of subscribing to a subject one also writes.
    Echo,
}

impl BrokerTraffic {
    /// The metric label.
    pub fn as_str(self) -> &'static str {
        match self {
            BrokerTraffic::Sent => "sent",
            BrokerTraffic::Received => "received",
            BrokerTraffic::Echo => "echo",
        }
    }
}

/// Receives what the bus carries. Implemented by the hub; must not block.
pub trait BusSink: Send + Sync + 'static {
    /// Hands one message to local subscribers.
    fn deliver(&self, message: BusMessage);

    /// Reports how long an event from another process took to arrive here (from its
    /// store timestamp), for the bus lag metric. Optional.
    fn observe_remote_lag(&self, _seconds: f64) {}

    /// The bus may have lost messages (it reconnected to its broker): every local
    /// subscriber reads what it missed from the store. Called after the bus listens
    /// again, so nothing published from then on is missed either.
    fn resync(&self) {}

    /// Other nodes changed these dialogs (events, read marks): their inbox rows may
    /// need a refresh. Cluster buses send these in batches on [`Topic::Inbox`], so an
    /// open console does not make its node receive every event of the cluster.
    fn rows_changed(&self, _dialogs: &[DialogId]) {}

    /// Counts one message through the broker (`body`: `event`, `signal` or `rows`), so
    /// a node's share of the cluster's traffic is measured, not modelled. Only buses
    /// with a broker call it. Optional.
    fn broker_traffic(&self, _way: BrokerTraffic, _body: &'static str) {}
}

/// Publishes to every process's hub (this one included).
#[async_trait]
pub trait Bus: Send + Sync + 'static {
    /// Sets the local sink; called once at start, before the first publish.
    fn attach(&self, sink: Arc<dyn BusSink>);
    /// Publishes a stored event or a signal.
    async fn publish(&self, message: BusMessage) -> Result<(), String>;
    /// Sends a stored event to this process the way *other* processes' events reach
    /// it (through the shared store or broker and back), never by the in-process short
    /// cut `publish` takes for local events. The delivery canary uses it, so that it
    /// proves the path every other process depends on. The event must have been stored
    /// under an origin other than this process's (`SqliteStore::with_origin`). The
    /// default suits a bus whose only path is in-process.
    async fn publish_round_trip(&self, event: Arc<StoredEvent>) -> Result<(), String> {
        self.publish(BusMessage::Event(event)).await
    }
    /// Starts carrying `topic` to this node, and returns once the broker has confirmed
    /// it, so that a message published after this returns is not missed (a session
    /// subscribes before it reads its replay). Counted: every call is paired with one
    /// [`Bus::unsubscribe`]. While the broker is unreachable the interest is recorded
    /// and this returns at once: the reconnect subscribes and then calls
    /// [`BusSink::resync`]. Buses that carry everything everywhere ignore it.
    async fn subscribe(&self, _topic: Topic) {}
    /// Ends one [`Bus::subscribe`] of `topic`; the last one stops its delivery here.
    fn unsubscribe(&self, _topic: Topic) {}
    /// Checks the bus works (readiness).
    async fn health(&self) -> Result<(), String>;
    /// A short name for logs and `/health`.
    fn name(&self) -> &'static str;
}
