//! `StoreWatchBus`: local fan-out plus a poll of the store's change feed for rows
//! written by other processes. Events need no extra write (they are already stored);
//! typing, read and inbox signals are written to a short-lived signals table.
//!
//! Latency across processes is one poll interval at most; within a process delivery is
//! immediate. A failed poll keeps the cursor, so nothing is skipped, and marks the bus
//! unhealthy until a poll succeeds.

use crate::local::LocalBus;
use async_trait::async_trait;
use replyx_core::{Bus, BusMessage, BusSink, Store};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

/// Rows read per poll; a full batch is followed at once by another poll.
const BATCH: u32 = 1000;
/// Signals older than this are deleted; nobody needs a stale typing indicator.
const SIGNAL_TTL: chrono::TimeDelta = chrono::TimeDelta::minutes(5);

/// A bus for several processes on one store.
pub struct StoreWatchBus {
    local: LocalBus,
    store: Arc<dyn Store>,
    poll_interval: Duration,
    healthy: AtomicBool,
}

impl StoreWatchBus {
    /// A bus over `store`, polling every `poll_interval` once started.
    pub fn new(store: Arc<dyn Store>, poll_interval: Duration) -> Arc<Self> {
        Arc::new(Self {
            local: LocalBus::new(),
            store,
            poll_interval,
            healthy: AtomicBool::new(true),
        })
    }

    /// Starts the poller on `tracker`; it stops when `cancel` fires. Only changes
    /// committed after this call are delivered (earlier ones are the store's replay).
    ///
    /// # Errors
    /// The store cannot tell its current position.
    pub async fn start(
        self: &Arc<Self>,
        tracker: &TaskTracker,
        cancel: CancellationToken,
    ) -> Result<(), String> {
        let cursor = self
            .store
            .change_cursor()
            .await
            .map_err(|e| e.to_string())?;
        let bus = Arc::clone(self);
        tracker.spawn(async move { bus.poll_loop(cursor, cancel).await });
        Ok(())
    }

    async fn poll_loop(&self, mut cursor: replyx_core::ChangeCursor, cancel: CancellationToken) {
        let mut tick = tokio::time::interval(self.poll_interval);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut last_prune = tokio::time::Instant::now();
        loop {
            tokio::select! {
                _ = cancel.cancelled() => return,
                _ = tick.tick() => {}
            }
            loop {
                match self.store.changes_since(cursor, BATCH).await {
                    Ok(batch) => {
                        self.healthy.store(true, Ordering::Relaxed);
                        let full = batch.events.len() as u32 >= BATCH
                            || batch.signals.len() as u32 >= BATCH
                            || batch.cursor.event_row - cursor.event_row >= BATCH as i64
                            || batch.cursor.signal_row - cursor.signal_row >= BATCH as i64;
                        cursor = batch.cursor;
                        let now = chrono::Utc::now();
                        for event in batch.events {
                            if let replyx_protocol::EventPayload::MessageCreated { message } =
                                &event.payload
                            {
                                let lag = (now - message.created_at).to_std().unwrap_or_default();
                                self.local.observe_lag(lag.as_secs_f64());
                            }
                            self.local.deliver_local(BusMessage::Event(Arc::new(event)));
                        }
                        for signal in batch.signals {
                            self.local
                                .deliver_local(BusMessage::Signal(Arc::new(signal)));
                        }
                        if !full {
                            break;
                        }
                    }
                    Err(e) => {
                        if self.healthy.swap(false, Ordering::Relaxed) {
                            tracing::warn!(error = %e, "change feed poll failed");
                        }
                        break;
                    }
                }
            }
            if last_prune.elapsed() > Duration::from_secs(60) {
                last_prune = tokio::time::Instant::now();
                if let Err(e) = self
                    .store
                    .prune_signals(chrono::Utc::now() - SIGNAL_TTL)
                    .await
                {
                    tracing::warn!(error = %e, "pruning signals failed");
                }
            }
        }
    }
}

#[async_trait]
impl Bus for StoreWatchBus {
    fn attach(&self, sink: Arc<dyn BusSink>) {
        self.local.attach(sink);
    }

    async fn publish(&self, message: BusMessage) -> Result<(), String> {
        if let BusMessage::Signal(signal) = &message {
            self.store
                .append_signal(signal)
                .await
                .map_err(|e| e.to_string())?;
        }
        self.local.deliver_local(message);
        Ok(())
    }

    async fn health(&self) -> Result<(), String> {
        if self.healthy.load(Ordering::Relaxed) {
            Ok(())
        } else {
            Err("change feed poll failing".into())
        }
    }

    fn name(&self) -> &'static str {
        "store-watch"
    }
}
