//! `StoreWatchBus`: local fan-out plus a poll of the store's change feed for rows
//! written by other processes. Events need no extra write (they are already stored);
//! typing, read and inbox signals are written to a short-lived signals table.
//!
//! Latency across processes is one poll interval at most; within a process delivery is
//! immediate. A failed poll keeps the cursor, so nothing is skipped.
//!
//! Health is about the loop, not one query: it is unhealthy while polls fail, when the
//! loop has ended (a panic, a bug), and when no poll has completed for
//! [`StoreWatchBus::stale_after`] (a poll stuck on the database). A loop that stopped
//! silently would leave every process but this one deaf to this process's peers.

use crate::local::LocalBus;
use async_trait::async_trait;
use replyx_core::{Bus, BusMessage, BusSink, Store, StoredEvent};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

/// Rows read per poll; a full batch is followed at once by another poll.
const BATCH: u32 = 1000;
/// Signals older than this are deleted; nobody needs a stale typing indicator.
const SIGNAL_TTL: chrono::TimeDelta = chrono::TimeDelta::minutes(5);
/// The shortest time without a completed poll that counts as stuck.
const MIN_STALE: Duration = Duration::from_secs(5);

/// A bus for several processes on one store.
pub struct StoreWatchBus {
    local: LocalBus,
    store: Arc<dyn Store>,
    poll_interval: Duration,
    loop_state: Mutex<LoopState>,
}

/// What the poll loop last did.
#[derive(Debug, Clone)]
enum LoopState {
    /// `start` has not run yet.
    NotStarted,
    /// Running; the last poll completed at this instant, with this error if it failed.
    Polled { at: Instant, error: Option<String> },
    /// The loop ended without being asked to.
    Stopped,
}

impl StoreWatchBus {
    /// A bus over `store`, polling every `poll_interval` once started.
    pub fn new(store: Arc<dyn Store>, poll_interval: Duration) -> Arc<Self> {
        Arc::new(Self {
            local: LocalBus::new(),
            store,
            poll_interval,
            loop_state: Mutex::new(LoopState::NotStarted),
        })
    }

    /// How long without a completed poll counts as stuck: fifty intervals, at least
    /// five seconds (a loaded machine may delay a tick, never by that much).
    pub fn stale_after(&self) -> Duration {
        (self.poll_interval * 50).max(MIN_STALE)
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
        self.set_state(LoopState::Polled {
            at: Instant::now(),
            error: None,
        });
        let bus = Arc::clone(self);
        tracker.spawn(async move {
            // Marks the loop stopped however it ends: a panic unwinds through this too.
            let stopped = StopMark(Arc::clone(&bus), cancel.clone());
            stopped.0.poll_loop(cursor, cancel).await;
        });
        Ok(())
    }

    fn set_state(&self, state: LoopState) {
        *self.loop_state.lock().unwrap_or_else(|p| p.into_inner()) = state;
    }

    fn state(&self) -> LoopState {
        self.loop_state
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    async fn poll_loop(&self, mut cursor: replyx_core::ChangeCursor, cancel: CancellationToken) {
        let mut tick = tokio::time::interval(self.poll_interval);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut last_prune = Instant::now();
        loop {
            tokio::select! {
                _ = cancel.cancelled() => return,
                _ = tick.tick() => {}
            }
            let error = self.drain_changes(&mut cursor).await.err();
            if let Some(e) = &error {
                if !matches!(self.state(), LoopState::Polled { error: Some(_), .. }) {
                    tracing::warn!(error = %e, "change feed poll failed");
                }
            }
            self.set_state(LoopState::Polled {
                at: Instant::now(),
                error,
            });
            if last_prune.elapsed() > Duration::from_secs(60) {
                last_prune = Instant::now();
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

    /// Reads and delivers every change after `cursor`, batch after batch, moving the
    /// cursor past what was delivered. A failed read leaves the cursor where it was.
    async fn drain_changes(&self, cursor: &mut replyx_core::ChangeCursor) -> Result<(), String> {
        loop {
            let batch = self
                .store
                .changes_since(*cursor, BATCH)
                .await
                .map_err(|e| e.to_string())?;
            let full = batch.events.len() as u32 >= BATCH
                || batch.signals.len() as u32 >= BATCH
                || batch.cursor.event_row - cursor.event_row >= BATCH as i64
                || batch.cursor.signal_row - cursor.signal_row >= BATCH as i64;
            *cursor = batch.cursor;
            let now = chrono::Utc::now();
            for event in batch.events {
                if let replyx_protocol::EventPayload::MessageCreated { message } = &event.payload {
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
                return Ok(());
            }
        }
    }
}

/// Sets the loop's state to `Stopped` when dropped, unless the loop was asked to stop.
struct StopMark(Arc<StoreWatchBus>, CancellationToken);

impl Drop for StopMark {
    fn drop(&mut self) {
        if !self.1.is_cancelled() {
            tracing::error!("the change feed poll loop stopped");
            self.0.set_state(LoopState::Stopped);
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

    /// Nothing to send: the event is in the shared store under a peer's origin, and the
    /// poll loop brings it back like any other process's event, or does not.
    async fn publish_round_trip(&self, _event: Arc<StoredEvent>) -> Result<(), String> {
        Ok(())
    }

    async fn health(&self) -> Result<(), String> {
        match self.state() {
            LoopState::NotStarted => Err("change feed poll loop not started".into()),
            LoopState::Stopped => Err("change feed poll loop stopped".into()),
            LoopState::Polled { error: Some(e), .. } => {
                Err(format!("change feed poll failing: {e}"))
            }
            LoopState::Polled { at, .. } if at.elapsed() > self.stale_after() => Err(format!(
                "no change feed poll completed for {:.1}s",
                at.elapsed().as_secs_f64()
            )),
            LoopState::Polled { .. } => Ok(()),
        }
    }

    fn name(&self) -> &'static str {
        "store-watch"
    }
}
