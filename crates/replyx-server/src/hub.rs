//! The hub: this process's registry of open sockets by dialog and kind, and the one
//! delivery path from the bus to their outboxes. Every delivery asks the one audience
//! rule (`replyx_core::may_receive`); there is no per-kind push function.
//!
//! Invariants: the registry lock is a std mutex held only for map updates and
//! non-blocking `try_send`s, never across `.await`; a full outbox closes its
//! connection with 1013 (it resumes with `since`) instead of dropping silently.

mod fanout;
mod interest;
mod registry;
mod subscription;

pub use fanout::{FanoutEvent, Outbound};
pub use interest::BusInterest;
pub use registry::{ClientKey, Closer, HubCounts, RegisterError};
pub use subscription::Subscription;

use crate::metrics::Metrics;
use registry::Registry;
use replyx_core::{BusMessage, BusSink};
use replyx_protocol::{CloseCode, ConnectionKind, DialogId};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Per-dialog and per-process connection limits the hub enforces.
#[derive(Debug, Clone, Copy)]
pub struct HubLimits {
    /// Visitor (site + widget) connections per dialog.
    pub visitor_per_dialog: usize,
    /// Admin connections per dialog.
    pub admin_per_dialog: usize,
    /// Connections per process.
    pub total: usize,
    /// Outbox capacity per connection.
    pub outbox: usize,
}

/// Cloneable handle to the hub.
#[derive(Clone)]
pub struct Hub {
    inner: Arc<HubInner>,
}

struct HubInner {
    registry: Mutex<Registry>,
    limits: HubLimits,
    metrics: Metrics,
    /// Dialogs whose inbox row may have changed, for `inbox_feed` (set at start).
    inbox_changes: std::sync::OnceLock<tokio::sync::mpsc::Sender<DialogId>>,
}

impl Hub {
    /// An empty hub.
    pub fn new(limits: HubLimits, metrics: Metrics) -> Self {
        Self {
            inner: Arc::new(HubInner {
                registry: Mutex::new(Registry::default()),
                limits,
                metrics,
                inbox_changes: std::sync::OnceLock::new(),
            }),
        }
    }

    /// Registers a connection of `kind` on `dialog` (`None`: the admin inbox feed).
    /// Register *before* reading the replay, so nothing published meanwhile is missed.
    ///
    /// # Errors
    /// A per-dialog or per-process limit is reached (close with 1013).
    /// A connection carrying the `client` id of one already registered on the same
    /// dialog replaces it (see `Registry::insert`).
    pub fn register(
        &self,
        kind: ConnectionKind,
        dialog: Option<DialogId>,
        client: Option<ClientKey>,
    ) -> Result<Subscription, RegisterError> {
        let (tx, rx) = tokio::sync::mpsc::channel(self.inner.limits.outbox);
        let closer = Closer::new();
        let id =
            self.registry()
                .insert(kind, dialog, client, tx, closer.clone(), &self.inner.limits)?;
        self.inner.metrics.connection_opened(kind);
        Ok(Subscription::new(
            self.clone(),
            id,
            kind,
            dialog,
            rx,
            closer,
            false,
        ))
    }

    /// Registers the server's own subscriber on `dialog` (the canary): it sees what an
    /// admin socket would, but is not counted, limited or drained.
    pub fn register_internal(&self, dialog: DialogId) -> Subscription {
        let (tx, rx) = tokio::sync::mpsc::channel(self.inner.limits.outbox);
        let closer = Closer::new();
        let id = self.registry().insert_internal(dialog, tx, closer.clone());
        Subscription::new(
            self.clone(),
            id,
            ConnectionKind::Admin,
            Some(dialog),
            rx,
            closer,
            true,
        )
    }

    pub(crate) fn unregister(
        &self,
        id: replyx_protocol::ConnectionId,
        kind: ConnectionKind,
        dialog: Option<DialogId>,
        internal: bool,
    ) {
        self.registry().remove(id, dialog);
        if !internal {
            self.inner.metrics.connection_closed(kind);
        }
    }

    /// Routes "this dialog's inbox row may have changed" notices to `changes` whenever
    /// an inbox feed is open in this process.
    pub fn notify_inbox_changes(&self, changes: tokio::sync::mpsc::Sender<DialogId>) {
        let _ = self.inner.inbox_changes.set(changes);
    }

    /// Open connections and dialogs with connections, by kind.
    pub fn counts(&self) -> HubCounts {
        self.registry().counts()
    }

    /// Closes every connection with 1012, in batches spread over `window`, so that
    /// clients reconnect to the other colour gradually rather than in one spike.
    pub async fn drain(&self, window: Duration) {
        let closers = self.registry().closers();
        if closers.is_empty() {
            return;
        }
        let batches = closers.len().min(10);
        let per_batch = closers.len().div_ceil(batches);
        let pause = window / batches as u32;
        for (i, batch) in closers.chunks(per_batch).enumerate() {
            if i > 0 {
                tokio::time::sleep(pause).await;
            }
            for closer in batch {
                closer.close(CloseCode::ServiceRestart);
            }
            self.inner.metrics.drain_progress(i + 1, batches);
        }
    }

    fn registry(&self) -> std::sync::MutexGuard<'_, Registry> {
        // A panic while holding this lock cannot leave the maps half-updated in a way
        // that matters more than stopping delivery, so recover the guard.
        self.inner
            .registry
            .lock()
            .unwrap_or_else(|p| p.into_inner())
    }
}

impl BusSink for Hub {
    fn deliver(&self, message: BusMessage) {
        let outbound = Outbound::from_bus(message);
        let (slow, inbox_open) = {
            let registry = self.registry();
            (registry.deliver(&outbound), registry.has_inbox())
        };
        if inbox_open {
            if let (Some(changes), Some(dialog)) =
                (self.inner.inbox_changes.get(), outbound.changes_inbox_row())
            {
                // Full means a refresh of many dialogs is pending already; it is
                // coalesced there, so dropping this notice loses nothing but a repeat.
                let _ = changes.try_send(dialog);
            }
        }
        for kind in slow {
            self.inner.metrics.slow_consumer(kind);
        }
    }

    fn observe_remote_lag(&self, seconds: f64) {
        self.inner.metrics.bus_lag(seconds);
    }

    fn broker_traffic(&self, way: replyx_core::BrokerTraffic, body: &'static str) {
        self.inner.metrics.bus_traffic(way, body);
    }

    fn resync(&self) {
        tracing::info!("bus reconnected: every connection reads what it missed from the store");
        self.inner.metrics.bus_resync();
        for kind in self.registry().deliver(&Outbound::Resync) {
            self.inner.metrics.slow_consumer(kind);
        }
    }

    fn rows_changed(&self, dialogs: &[DialogId]) {
        if !self.registry().has_inbox() {
            return;
        }
        if let Some(changes) = self.inner.inbox_changes.get() {
            for dialog in dialogs {
                // Full: a refresh of many dialogs is pending already (see `deliver`).
                let _ = changes.try_send(*dialog);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use replyx_core::{Signal, SignalBody, StoredEvent};
    use replyx_protocol::{
        ClientId, EventPayload, Message, MessageId, Sender, Seq, TypingActor, TypingState,
    };

    fn hub(outbox: usize, per_dialog: usize) -> Hub {
        Hub::new(
            HubLimits {
                visitor_per_dialog: per_dialog,
                admin_per_dialog: per_dialog,
                total: 10,
                outbox,
            },
            Metrics::new(),
        )
    }

    fn event(dialog: DialogId, seq: u64, internal: bool) -> BusMessage {
        BusMessage::Event(Arc::new(StoredEvent {
            dialog_id: dialog,
            seq: Seq(seq),
            prev_visitor_seq: Seq(seq - 1),
            payload: EventPayload::MessageCreated {
                message: Message {
                    id: MessageId::new(),
                    sender: Sender::Operator,
                    text: "hi".into(),
                    created_at: chrono::Utc::now(),
                    client_msg_id: None,
                    operator: None,
                    internal,
                },
            },
        }))
    }

    #[tokio::test]
    async fn a_full_outbox_asks_its_connection_to_close_with_1013() {
        let hub = hub(2, 5);
        let dialog = DialogId::new();
        let mut slow = hub
            .register(ConnectionKind::Widget, Some(dialog), None)
            .unwrap();
        for seq in 1..=3 {
            hub.deliver(event(dialog, seq, false));
        }
        assert_eq!(slow.closer().code(), Some(CloseCode::TryAgainLater));
        assert!(
            matches!(slow.recv().await, Some(Outbound::Event(_))),
            "what fitted is still there"
        );
        assert!(hub
            .inner
            .metrics
            .render()
            .contains("websocket_dropped_slow_consumers_total 1"));
    }

    #[tokio::test]
    async fn delivery_follows_the_audience_rule_per_kind() {
        let hub = hub(8, 5);
        let dialog = DialogId::new();
        let mut admin = hub
            .register(ConnectionKind::Admin, Some(dialog), None)
            .unwrap();
        let mut site = hub
            .register(ConnectionKind::Site, Some(dialog), None)
            .unwrap();
        let other_dialog = hub
            .register(ConnectionKind::Widget, Some(DialogId::new()), None)
            .unwrap();
        hub.deliver(event(dialog, 1, true));
        let typing = SignalBody::Typing {
            actor: TypingActor::Visitor,
            state: TypingState::Start,
        };
        hub.deliver(BusMessage::Signal(Arc::new(Signal {
            dialog_id: dialog,
            body: typing,
        })));
        hub.deliver(event(dialog, 2, false));
        assert!(matches!(admin.recv().await, Some(Outbound::Event(e)) if e.event.seq == Seq(1)));
        assert!(matches!(admin.recv().await, Some(Outbound::Frame(_))));
        assert!(
            matches!(site.recv().await, Some(Outbound::Event(e)) if e.event.seq == Seq(2)),
            "note and visitor typing skipped"
        );
        assert!(other_dialog.rx_is_empty());
    }

    #[tokio::test]
    async fn dropping_a_subscription_unregisters_it_and_limits_count_per_class() {
        let hub = hub(8, 1);
        let dialog = DialogId::new();
        let widget = hub
            .register(ConnectionKind::Widget, Some(dialog), None)
            .unwrap();
        assert_eq!(
            hub.register(ConnectionKind::Site, Some(dialog), None).err(),
            Some(RegisterError::DialogFull)
        );
        let admin = hub
            .register(ConnectionKind::Admin, Some(dialog), None)
            .expect("admins do not count against visitors");
        assert_eq!(hub.counts().active, [1, 0, 1]);
        assert_eq!(hub.counts().dialogs, [1, 0, 1]);
        drop(widget);
        drop(admin);
        assert_eq!(hub.counts(), HubCounts::default());
        assert!(hub
            .register(ConnectionKind::Site, Some(dialog), None)
            .is_ok());
    }

    #[tokio::test]
    async fn a_reconnect_with_the_same_client_id_replaces_the_held_socket_with_4009() {
        let hub = hub(8, 1);
        let dialog = DialogId::new();
        let tab = ClientKey::new(ClientId::parse("tab-0000aaaa").unwrap(), "guest-1".into());
        let old = hub
            .register(ConnectionKind::Widget, Some(dialog), Some(tab.clone()))
            .unwrap();
        let other_tab = ClientKey::new(ClientId::parse("tab-0000bbbb").unwrap(), "guest-1".into());
        assert_eq!(
            hub.register(ConnectionKind::Widget, Some(dialog), Some(other_tab))
                .err(),
            Some(RegisterError::DialogFull),
            "another client is still held to the limit"
        );
        let new = hub
            .register(ConnectionKind::Widget, Some(dialog), Some(tab.clone()))
            .expect("the same client is not refused its own reconnect");
        assert_eq!(old.closer().code(), Some(CloseCode::Replaced));
        assert_eq!(new.closer().code(), None);
        let as_admin = hub.register(ConnectionKind::Admin, Some(dialog), Some(tab.clone()));
        assert!(as_admin.is_ok(), "another kind is another connection");
        assert_eq!(new.closer().code(), None);
        let stranger = ClientKey::new(ClientId::parse("tab-0000aaaa").unwrap(), "guest-2".into());
        let _theirs = hub.register(
            ConnectionKind::Widget,
            Some(DialogId::new()),
            Some(stranger.clone()),
        );
        let on_same_dialog = hub.register(ConnectionKind::Widget, Some(dialog), Some(stranger));
        assert_eq!(
            on_same_dialog.err(),
            Some(RegisterError::DialogFull),
            "the same id from someone else replaces nothing"
        );
        assert_eq!(new.closer().code(), None);
    }

    /// The drain spreads its closes over the window: every socket gets 1012, and the
    /// last batch goes out before the window ends (on tokio's paused clock, so the
    /// pacing is exact rather than timed).
    #[tokio::test(start_paused = true)]
    async fn drain_closes_every_socket_with_1012_in_batches_within_the_window() {
        let hub = hub(8, 5);
        let subs: Vec<Subscription> = (0..10)
            .map(|_| {
                hub.register(ConnectionKind::Widget, Some(DialogId::new()), None)
                    .unwrap()
            })
            .collect();
        let ids: std::collections::HashSet<_> = subs.iter().map(Subscription::id).collect();
        assert_eq!(ids.len(), subs.len(), "every connection has its own id");
        assert!(
            subs.iter().all(|s| s.id() == s.id()),
            "and keeps it: the id `connection.established` announces is the one logged"
        );
        let window = Duration::from_secs(10);
        let started = tokio::time::Instant::now();
        hub.drain(window).await;
        let took = started.elapsed();
        assert!(
            took >= window * 9 / 10 && took < window,
            "ten batches a tenth of the window apart, took {took:?}"
        );
        for sub in &subs {
            assert_eq!(sub.closer().code(), Some(CloseCode::ServiceRestart));
        }
    }
}
