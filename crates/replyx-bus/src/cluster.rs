//! `ClusterBus`: the bus between nodes of a cluster, over a broker (NATS or Redis
//! pub/sub; see ADR 0010). What it adds to the broker, the same for both:
//!
//! - **Per-topic subscriptions.** A node listens to the dialogs its own sockets are on
//!   (`{prefix}.dialog.{id}`) and, while a console is open here, to the inbox subject
//!   (`{prefix}.inbox`). Subscriptions are counted per topic and confirmed by the broker
//!   before `subscribe` returns, so a session that subscribes and then reads its
//!   replay misses nothing in between.
//! - **Local delivery first.** What this node publishes reaches its own sockets at once,
//!   without the broker; its copy coming back from the broker is dropped by origin.
//! - **Inbox rows in batches.** Consoles need to know which dialogs changed, not every
//!   event: each node sends the ids of the dialogs it changed on the inbox subject at
//!   most every [`ROWS_EVERY`], so an open console costs its node a few messages a
//!   second, whatever the cluster's rate.
//! - **Loss is repaired from the store.** The broker is at-most-once. A lost event in a
//!   busy dialog shows as a seq gap to the session, which reads the store. When the
//!   broker link drops, the node reports unhealthy (readiness 503), remembers the newest
//!   event of each dialog it could not publish, and on reconnect: listens again, asks
//!   every local session to read what it missed ([`BusSink::resync`]), and publishes
//!   the remembered events, whose seqs show other nodes' sessions their gaps.

mod core;
mod envelope;
mod nats;
mod redis;

use self::core::Core;
use async_trait::async_trait;
use envelope::{Body, Envelope};
use replyx_core::{Bus, BusMessage, BusSink, SignalBody, StoredEvent, Topic};
use replyx_protocol::DialogId;
use std::borrow::Cow;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

/// How often a node sends the ids of the dialogs whose inbox rows it changed.
pub const ROWS_EVERY: Duration = Duration::from_millis(250);
/// The longest a `subscribe` waits for the broker's confirmation. Past it the session
/// goes on; the subscription completes later and a resync follows a reconnect.
const CONFIRM_TIMEOUT: Duration = Duration::from_secs(2);

/// How long readiness waits for the broker's answer to a round trip; well under the
/// readiness probe's own bound (3 s).
const LIVE_TIMEOUT: Duration = Duration::from_secs(1);

/// Where a cluster bus connects and how it names what it carries.
#[derive(Debug, Clone)]
pub struct ClusterOptions {
    /// `nats://host:port[,nats://…]` or `redis://host:port[/db]`.
    pub url: String,
    /// This node's id; its own messages coming back from the broker are dropped.
    pub origin: String,
    /// The first part of every subject or channel (`replyx`): clusters sharing one
    /// broker use different prefixes.
    pub prefix: String,
}

/// What a broker connection does for the cluster bus. Implemented for NATS and Redis.
#[async_trait]
trait Transport: Send + Sync + 'static {
    /// Publishes `payload` on `subject`. Fails fast while disconnected.
    async fn publish(&self, subject: String, payload: Vec<u8>) -> Result<(), String>;
    /// Starts receiving `subject` (into [`Core::receive`]) and returns once the broker
    /// confirmed it. Called again for a subject already received, it replaces that
    /// subscription.
    async fn listen(&self, subject: String) -> Result<(), String>;
    /// Stops receiving `subject`.
    fn stop(&self, subject: &str);
    /// Connected, as far as the client library knows (answers from state).
    fn health(&self) -> Result<(), String>;
    /// A round trip to the broker over the link that carries the subscriptions' traffic
    /// now: a link stalled by a partition still looks connected to the library until
    /// its pings go unanswered, and a node that said ready then would drop its console
    /// feeds (a resync) moments after taking traffic.
    async fn round_trip(&self) -> Result<(), String>;
}

/// A bus over NATS or Redis. See the module docs.
pub struct ClusterBus {
    core: Arc<Core>,
    transport: Arc<dyn Transport>,
    name: &'static str,
}

impl ClusterBus {
    /// Connects to the broker named by `options.url` and starts the background tasks
    /// (inbox batches, reconnection) on `tracker` until `cancel`. An unreachable
    /// broker is not an error here: the bus reports unhealthy and keeps trying.
    ///
    /// # Errors
    /// The URL is not `nats://` or `redis://`, or cannot be parsed.
    pub async fn connect(
        options: ClusterOptions,
        tracker: &TaskTracker,
        cancel: CancellationToken,
    ) -> Result<Arc<ClusterBus>, String> {
        let core = Arc::new(Core::new(options.origin.clone(), options.prefix.clone()));
        let (transport, name): (Arc<dyn Transport>, _) = if options.url.starts_with("nats://") {
            let t =
                nats::NatsTransport::connect(&options.url, core.clone(), tracker, cancel.clone())
                    .await?;
            (t, "nats")
        } else if options.url.starts_with("redis://") {
            let t = redis::RedisTransport::connect(
                &options.url,
                core.clone(),
                tracker,
                cancel.clone(),
            )?;
            (t, "redis")
        } else {
            return Err(format!(
                "unsupported bus URL {:?}: expected nats://… or redis://…",
                options.url
            ));
        };
        let bus = Arc::new(ClusterBus {
            core,
            transport,
            name,
        });
        let batches = bus.clone();
        let stop = cancel.clone();
        tracker.spawn(async move { batches.send_rows(stop).await });
        let reconnects = bus.clone();
        tracker.spawn(async move {
            loop {
                tokio::select! {
                    _ = cancel.cancelled() => return,
                    _ = reconnects.core.reconnected.notified() => reconnects.after_reconnect().await,
                }
            }
        });
        Ok(bus)
    }

    /// Returns once the link has come up at least `n` times with every subscription
    /// listening (tests, and anything that must not start before the bus does).
    pub async fn wait_connected(&self, n: u64) {
        let mut connects = self.core.connects.subscribe();
        let _ = connects.wait_for(|c| *c >= n).await;
    }

    /// Sends the changed dialogs' ids every [`ROWS_EVERY`] while there are any.
    async fn send_rows(&self, cancel: CancellationToken) {
        let mut tick = tokio::time::interval(ROWS_EVERY);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = cancel.cancelled() => return,
                _ = tick.tick() => {}
            }
            let dialogs: Vec<DialogId> = {
                let mut rows = self.core.rows.lock().expect("rows");
                rows.drain().collect()
            };
            if dialogs.is_empty() {
                continue;
            }
            // A lost batch leaves rows stale until their next change or the console's
            // next reload; consoles reload on every reconnect, and the resync below
            // closes their feeds when the broker link comes back.
            let _ = self.send(Topic::Inbox, Body::Rows(dialogs), false).await;
        }
    }

    async fn send(&self, topic: Topic, body: Body<'_>, round_trip: bool) -> Result<(), String> {
        let envelope = Envelope {
            origin: Cow::Borrowed(&self.core.origin),
            round_trip,
            body,
        };
        let kind = envelope.body.kind();
        let payload = serde_json::to_vec(&envelope).map_err(|e| e.to_string())?;
        self.transport
            .publish(self.core.subject(topic), payload)
            .await?;
        self.core
            .local
            .broker_traffic(replyx_core::BrokerTraffic::Sent, kind);
        Ok(())
    }

    /// Once the link is back and listening: resync local sessions, then publish what
    /// could not be sent meanwhile.
    async fn after_reconnect(&self) {
        self.core.resync();
        let unsent: Vec<Arc<StoredEvent>> = {
            let mut held = self.core.unsent.lock().expect("unsent");
            held.drain().map(|(_, e)| e).collect()
        };
        for event in unsent {
            let topic = Topic::Dialog(event.dialog_id);
            if self
                .send(topic, Body::Event(Cow::Borrowed(&event)), false)
                .await
                .is_err()
            {
                self.core.remember_unsent(&event);
            }
        }
    }
}

#[async_trait]
impl Bus for ClusterBus {
    fn attach(&self, sink: Arc<dyn BusSink>) {
        self.core.local.attach(sink);
    }

    async fn publish(&self, message: BusMessage) -> Result<(), String> {
        let topic = Topic::of(&message);
        let changes_row = match &message {
            BusMessage::Event(e) => Some(e.dialog_id),
            BusMessage::Signal(s) => {
                matches!(s.body, SignalBody::Read { .. }).then_some(s.dialog_id)
            }
        };
        if let Some(dialog) = changes_row {
            self.core.rows.lock().expect("rows").insert(dialog);
        }
        self.core.local.deliver_local(message.clone()); // an Arc: no copy
        let sent = match &message {
            BusMessage::Event(e) => {
                let sent = self.send(topic, Body::Event(Cow::Borrowed(e)), false).await;
                if sent.is_err() {
                    self.core.remember_unsent(e);
                }
                sent
            }
            BusMessage::Signal(s) => {
                self.send(topic, Body::Signal(Cow::Borrowed(s)), false)
                    .await
            }
        };
        // The event is stored and local sockets have it; other nodes repair a lost
        // publish from the store, so a broker failure is not the request's failure.
        if let Err(e) = &sent {
            tracing::debug!(error = %e, "bus publish failed; peers will read the store");
        }
        Ok(())
    }

    async fn publish_round_trip(&self, event: Arc<StoredEvent>) -> Result<(), String> {
        let topic = Topic::Dialog(event.dialog_id);
        self.send(topic, Body::Event(Cow::Borrowed(&event)), true)
            .await
    }

    async fn subscribe(&self, topic: Topic) {
        let (first, mut ready) = {
            let mut topics = self.core.topics.lock().expect("topics");
            let entry = topics
                .entry(topic)
                .or_insert_with(|| (0, watch::channel(false).0));
            entry.0 += 1;
            (entry.0 == 1, entry.1.subscribe())
        };
        if first {
            let subject = self.core.subject(topic);
            match tokio::time::timeout(CONFIRM_TIMEOUT, self.transport.listen(subject.clone()))
                .await
            {
                Ok(Ok(())) => {
                    let topics = self.core.topics.lock().expect("topics");
                    match topics.get(&topic) {
                        Some((_, confirmed)) => {
                            confirmed.send_replace(true);
                        }
                        // Everyone left while the broker confirmed.
                        None => self.transport.stop(&subject),
                    }
                }
                Ok(Err(e)) => {
                    tracing::debug!(error = %e, %subject, "subscribe deferred to the reconnect")
                }
                Err(_) => tracing::debug!(%subject, "subscribe not confirmed in time"),
            }
        } else if self.transport.health().is_ok() {
            let _ = tokio::time::timeout(CONFIRM_TIMEOUT, ready.wait_for(|ok| *ok)).await;
        }
    }

    fn unsubscribe(&self, topic: Topic) {
        let mut topics = self.core.topics.lock().expect("topics");
        let Some(entry) = topics.get_mut(&topic) else {
            return;
        };
        entry.0 -= 1;
        if entry.0 == 0 {
            topics.remove(&topic);
            self.transport.stop(&self.core.subject(topic));
        }
    }

    /// Ready when the library says connected, no resync is pending, and the broker
    /// answers a round trip within [`LIVE_TIMEOUT`]. The first two answer from state,
    /// without waiting.
    async fn health(&self) -> Result<(), String> {
        self.transport.health()?;
        if self.core.resync_pending() {
            return Err("the broker link is back; local sessions are resyncing".into());
        }
        match tokio::time::timeout(LIVE_TIMEOUT, self.transport.round_trip()).await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(e)) => Err(format!("the broker did not answer a round trip: {e}")),
            Err(_) => Err(format!(
                "the broker did not answer a round trip within {LIVE_TIMEOUT:?}"
            )),
        }
    }

    fn name(&self) -> &'static str {
        self.name
    }
}
