//! The cluster bus over core NATS (at-most-once, no JetStream: the store is the log).
//!
//! The client reconnects by itself and sends its subscriptions again; what it does not
//! do is tell the sessions they may have missed messages. On `Connected` this flushes
//! (a PING answered after the re-sent subscriptions) and then raises the core's
//! reconnect, which resyncs local sessions. A cut link (no FIN) is noticed by the
//! client's pings: every [`PING_INTERVAL`], two unanswered ones end the connection.

use super::{Core, Transport};
use async_trait::async_trait;
use futures_util::StreamExt;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::task::AbortHandle;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

/// How often the client pings the server; two missed answers count as a lost link.
const PING_INTERVAL: Duration = Duration::from_secs(2);
/// How long one publish may wait for room in the client's queue.
const PUBLISH_TIMEOUT: Duration = Duration::from_secs(1);
/// Messages buffered per subscription before the client drops (NATS "slow consumer").
const SUBSCRIPTION_CAPACITY: usize = 8192;

/// A NATS connection and the subscriptions this node holds on it.
pub(super) struct NatsTransport {
    client: async_nats::Client,
    core: Arc<Core>,
    /// Subject → the task forwarding its messages to the core.
    subscriptions: Mutex<HashMap<String, AbortHandle>>,
}

impl NatsTransport {
    pub(super) async fn connect(
        url: &str,
        core: Arc<Core>,
        tracker: &TaskTracker,
        cancel: CancellationToken,
    ) -> Result<Arc<NatsTransport>, String> {
        let (events_tx, mut events) = tokio::sync::mpsc::unbounded_channel();
        let client = async_nats::ConnectOptions::new()
            .name(format!("replyx {}", core.origin))
            .ping_interval(PING_INTERVAL)
            .connection_timeout(Duration::from_secs(2))
            .subscription_capacity(SUBSCRIPTION_CAPACITY)
            .retry_on_initial_connect()
            .max_reconnects(None)
            .reconnect_delay_callback(|attempt| {
                Duration::from_millis(100 * (attempt as u64).min(20))
            })
            .event_callback(move |event| {
                let tx = events_tx.clone();
                async move {
                    let _ = tx.send(event);
                }
            })
            .connect(url)
            .await
            .map_err(|e| format!("NATS at {url}: {e}"))?;
        let transport = Arc::new(NatsTransport {
            client,
            core,
            subscriptions: Mutex::new(HashMap::new()),
        });
        let watcher = transport.clone();
        tracker.spawn(async move {
            loop {
                let event = tokio::select! {
                    _ = cancel.cancelled() => return,
                    e = events.recv() => match e { Some(e) => e, None => return },
                };
                match event {
                    async_nats::Event::Connected => {
                        tracing::info!("bus: connected to NATS");
                        // The re-sent SUBs are queued before this round trip: once it
                        // is answered, the server has them.
                        if watcher.round_trip().await.is_ok() {
                            watcher.core.reconnected();
                        }
                    }
                    async_nats::Event::Disconnected => {
                        watcher.core.lost();
                        tracing::warn!("bus: disconnected from NATS; not ready until it is back");
                    }
                    other => tracing::debug!(event = %other, "bus: NATS event"),
                }
            }
        });
        Ok(transport)
    }

    /// A request nobody answers, on this connection: the server handles one
    /// connection's commands in order, so its "no responders" reply proves every SUB
    /// sent before it is in place. (`flush` only empties the socket buffer; it is no
    /// proof that the server has read it.)
    async fn round_trip(&self) -> Result<(), String> {
        let probe = format!("{}.probe.{}", self.core.prefix, self.core.origin);
        match self.client.request(probe, Vec::new().into()).await {
            Ok(_) => Ok(()),
            Err(e) if e.kind() == async_nats::RequestErrorKind::NoResponders => Ok(()),
            Err(e) => Err(e.to_string()),
        }
    }

    fn connected(&self) -> bool {
        self.client.connection_state() == async_nats::connection::State::Connected
    }
}

#[async_trait]
impl Transport for NatsTransport {
    async fn publish(&self, subject: String, payload: Vec<u8>) -> Result<(), String> {
        if !self.connected() {
            return Err("not connected to NATS".into());
        }
        tokio::time::timeout(
            PUBLISH_TIMEOUT,
            self.client.publish(subject, payload.into()),
        )
        .await
        .map_err(|_| "NATS publish queue full".to_owned())?
        .map_err(|e| e.to_string())
    }

    async fn listen(&self, subject: String) -> Result<(), String> {
        // The SUB is queued in a task of its own: while the link is down it waits
        // there, and is sent when the client reconnects, before the resync's flush.
        let (queued_tx, queued) = tokio::sync::oneshot::channel();
        let client = self.client.clone();
        let core = self.core.clone();
        let name = subject.clone();
        let task = tokio::spawn(async move {
            let mut subscriber = match client.subscribe(name.clone()).await {
                Ok(s) => s,
                Err(e) => {
                    tracing::warn!(error = %e, subject = %name, "NATS subscribe failed");
                    return;
                }
            };
            let _ = queued_tx.send(());
            while let Some(message) = subscriber.next().await {
                core.receive(&message.payload);
            }
        });
        if let Some(old) = self
            .subscriptions
            .lock()
            .expect("subscriptions")
            .insert(subject, task.abort_handle())
        {
            old.abort();
        }
        if !self.connected() {
            return Err("not connected to NATS".into());
        }
        queued
            .await
            .map_err(|_| "NATS subscribe failed".to_owned())?;
        self.round_trip().await
    }

    fn stop(&self, subject: &str) {
        // Dropping the subscriber (the aborted task's) sends the UNSUB.
        if let Some(task) = self
            .subscriptions
            .lock()
            .expect("subscriptions")
            .remove(subject)
        {
            task.abort();
        }
    }

    async fn round_trip(&self) -> Result<(), String> {
        NatsTransport::round_trip(self).await
    }

    fn health(&self) -> Result<(), String> {
        if self.connected() {
            Ok(())
        } else {
            Err(format!(
                "not connected to NATS ({:?})",
                self.client.connection_state()
            ))
        }
    }
}
