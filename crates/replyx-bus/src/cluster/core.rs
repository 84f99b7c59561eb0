//! The broker-independent half of the cluster bus: which topics this node listens
//! to, what it received, the rows changed for consoles, the events it could not send,
//! and the connect count that decides whether a reconnect must resync.

use super::envelope::{Body, Envelope};
use crate::local::LocalBus;
use replyx_core::{BrokerTraffic, BusMessage, BusSink, StoredEvent, Topic};
use replyx_protocol::{DialogId, EventPayload};
use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use tokio::sync::watch;

/// Dialogs remembered while the broker is unreachable (their newest event is published
/// again on reconnect). Past this, events of further dialogs are not remembered: their
/// gaps then show on the next event or heartbeat instead.
const UNSENT_LIMIT: usize = 100_000;

/// The broker-independent part, shared with the transport's receiving tasks.
pub(super) struct Core {
    pub(super) local: LocalBus,
    pub(super) origin: String,
    pub(super) prefix: String,
    /// Subscribed topics: how many subscribers, and whether the broker confirmed.
    pub(super) topics: Mutex<HashMap<Topic, (usize, watch::Sender<bool>)>>,
    /// Dialogs changed here since the last inbox batch.
    pub(super) rows: Mutex<HashSet<DialogId>>,
    /// The newest event per dialog that could not be published.
    pub(super) unsent: Mutex<HashMap<DialogId, Arc<StoredEvent>>>,
    /// Raised by the transport when its link is back and listening again.
    pub(super) reconnected: tokio::sync::Notify,
    /// Set when the link is lost, cleared once local sessions were asked to resync
    /// after it came back: until then the node is not ready, so that nothing routed to
    /// it in between (a console's inbox feed) is closed by that resync.
    resync_pending: std::sync::atomic::AtomicBool,
    /// How many times the link came up and every subscription was listening (the
    /// reconnect task counts them).
    pub(super) connects: watch::Sender<u64>,
}

impl Core {
    pub(super) fn new(origin: String, prefix: String) -> Core {
        Core {
            local: LocalBus::new(),
            origin,
            prefix,
            topics: Mutex::new(HashMap::new()),
            rows: Mutex::new(HashSet::new()),
            unsent: Mutex::new(HashMap::new()),
            reconnected: tokio::sync::Notify::new(),
            resync_pending: std::sync::atomic::AtomicBool::new(false),
            connects: watch::channel(0).0,
        }
    }

    pub(super) fn subject(&self, topic: Topic) -> String {
        match topic {
            Topic::Dialog(d) => format!("{}.dialog.{d}", self.prefix),
            Topic::Inbox => format!("{}.inbox", self.prefix),
        }
    }

    pub(super) fn sink(&self) -> Option<Arc<dyn BusSink>> {
        self.local.sink()
    }

    /// One message from the broker.
    pub(super) fn receive(&self, payload: &[u8]) {
        let envelope: Envelope = match serde_json::from_slice(payload) {
            Ok(e) => e,
            Err(e) => {
                tracing::warn!(error = %e, "undecodable bus message dropped");
                return;
            }
        };
        let kind = envelope.body.kind();
        if envelope.origin == self.origin && !envelope.round_trip {
            self.local.broker_traffic(BrokerTraffic::Echo, kind);
            return; // delivered locally when published
        }
        self.local.broker_traffic(BrokerTraffic::Received, kind);
        match envelope.body {
            Body::Event(event) => {
                let event = event.into_owned();
                if let EventPayload::MessageCreated { message } = &event.payload {
                    let lag = (chrono::Utc::now() - message.created_at).to_std();
                    self.local
                        .observe_lag(lag.unwrap_or_default().as_secs_f64());
                }
                self.local.deliver_local(BusMessage::Event(Arc::new(event)));
            }
            Body::Signal(signal) => self
                .local
                .deliver_local(BusMessage::Signal(Arc::new(signal.into_owned()))),
            Body::Rows(dialogs) => {
                if let Some(sink) = self.sink() {
                    sink.rows_changed(&dialogs);
                }
            }
        }
    }

    /// The broker link is back and every subscription is listening again (called by
    /// the transport).
    pub(super) fn reconnected(&self) {
        self.reconnected.notify_one();
    }

    /// The transport lost its link: not ready until the resync after it comes back.
    pub(super) fn lost(&self) {
        self.resync_pending
            .store(true, std::sync::atomic::Ordering::Release);
    }

    /// Whether the link came back but local sessions were not yet asked to resync.
    pub(super) fn resync_pending(&self) -> bool {
        self.resync_pending
            .load(std::sync::atomic::Ordering::Acquire)
    }

    /// Marks every subscription confirmed and, unless nothing can have been missed,
    /// asks local sessions to read the store. Nothing can have been missed on the first
    /// connect when every subscription made before it was confirmed by the broker (a
    /// session subscribing while the link was still coming up was not): a resync then
    /// would only close console feeds for nothing.
    pub(super) fn resync(&self) {
        let first = *self.connects.borrow() == 0;
        let mut unconfirmed = false;
        for (_, ready) in self.topics.lock().expect("topics").values() {
            unconfirmed |= !ready.send_replace(true);
        }
        self.connects.send_modify(|n| *n += 1);
        // Nothing can have been missed on a first connect with every subscription confirmed.
        if !first || unconfirmed {
            if let Some(sink) = self.sink() {
                sink.resync();
            }
        }
        self.resync_pending
            .store(false, std::sync::atomic::Ordering::Release);
    }

    pub(super) fn subjects(&self) -> Vec<String> {
        let topics = self.topics.lock().expect("topics");
        topics.keys().map(|t| self.subject(*t)).collect()
    }

    pub(super) fn remember_unsent(&self, event: &Arc<StoredEvent>) {
        let mut unsent = self.unsent.lock().expect("unsent");
        if unsent.len() >= UNSENT_LIMIT && !unsent.contains_key(&event.dialog_id) {
            return;
        }
        let newer = unsent
            .get(&event.dialog_id)
            .is_none_or(|held| held.seq < event.seq);
        if newer {
            unsent.insert(event.dialog_id, event.clone());
        }
    }
}
