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
/// How often old signals are deleted.
const PRUNE_EVERY: Duration = Duration::from_secs(60);
/// The shortest time without a completed poll that counts as stuck.
const MIN_STALE: Duration = Duration::from_secs(5);

/// A bus for several processes on one store.
pub struct StoreWatchBus {
    local: LocalBus,
    store: Arc<dyn Store>,
    poll_interval: Duration,
    prune_every: Duration,
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
            prune_every: PRUNE_EVERY,
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
        let mut prune = tokio::time::interval(self.prune_every);
        prune.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            // A poll or prune stuck on the database must not hold up shutdown.
            let work = async {
                tokio::select! {
                    _ = prune.tick() => self.prune_now().await,
                    _ = tick.tick() => self.poll(&mut cursor).await,
                }
            };
            tokio::select! {
                _ = cancel.cancelled() => return,
                _ = work => {}
            }
        }
    }

    /// One poll: every change after `cursor`, delivered; the loop's state recorded.
    async fn poll(&self, cursor: &mut replyx_core::ChangeCursor) {
        let error = self.drain_changes(cursor).await.err();
        if let Some(e) = &error {
            // Once per run of failures, not every interval.
            if !matches!(self.state(), LoopState::Polled { error: Some(_), .. }) {
                tracing::warn!(error = %e, "change feed poll failed");
            }
        }
        self.set_state(LoopState::Polled {
            at: Instant::now(),
            error,
        });
    }

    /// Deletes signals past their time to live (five minutes); the poll loop does it at
    /// its start and every minute.
    pub async fn prune_now(&self) {
        if let Err(e) = self
            .store
            .prune_signals(chrono::Utc::now() - SIGNAL_TTL)
            .await
        {
            tracing::warn!(error = %e, "pruning signals failed");
        }
    }

    /// Reads and delivers every change after `cursor`, page after page, moving the
    /// cursor past what was delivered. A failed read leaves the cursor where it was.
    async fn drain_changes(&self, cursor: &mut replyx_core::ChangeCursor) -> Result<(), String> {
        loop {
            let batch = self
                .store
                .changes_since(*cursor, BATCH)
                .await
                .map_err(|e| e.to_string())?;
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
            if !batch.more {
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

#[cfg(test)]
mod tests {
    use super::*;
    use replyx_core::{NewAssistant, NewMessage};
    use replyx_protocol::GuestId;
    use replyx_store::SqliteStore;
    use std::sync::Mutex as StdMutex;

    #[derive(Default)]
    struct Counting(StdMutex<Vec<BusMessage>>);

    impl BusSink for Counting {
        fn deliver(&self, message: BusMessage) {
            self.0.lock().unwrap().push(message);
        }
    }

    #[tokio::test]
    async fn a_poll_reads_page_after_page_until_the_feed_is_drained() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("bus.db").display());
        let mine: Arc<dyn Store> = Arc::new(SqliteStore::build(&url, "a").await.unwrap());
        let peer = SqliteStore::build(&url, "b").await.unwrap();
        let bus = StoreWatchBus::new(mine.clone(), Duration::from_millis(10));
        let sink = Arc::new(Counting::default());
        bus.attach(sink.clone());
        let mut cursor = mine.change_cursor().await.unwrap();
        let assistant = peer
            .create_assistant(NewAssistant {
                name: "A".into(),
                ..Default::default()
            })
            .await
            .unwrap();
        let (dialog, _, _) = peer
            .open_dialog(&assistant, &GuestId::generate())
            .await
            .unwrap();
        let appends = (0..BATCH as usize + 500)
            .map(|i| peer.append_message(NewMessage::visitor(dialog.id, format!("m{i}"))));
        for appended in futures_util::future::join_all(appends).await {
            appended.unwrap();
        }
        bus.poll(&mut cursor).await;
        assert_eq!(
            sink.0.lock().unwrap().len(),
            BATCH as usize + 500,
            "one poll, two pages"
        );
        assert!(bus.health().await.is_ok());
    }

    #[tokio::test]
    async fn stuck_means_fifty_intervals_and_never_less_than_five_seconds() {
        let store: Arc<dyn Store> =
            Arc::new(SqliteStore::build("sqlite::memory:", "a").await.unwrap());
        assert_eq!(
            StoreWatchBus::new(store.clone(), Duration::from_secs(1)).stale_after(),
            Duration::from_secs(50)
        );
        assert_eq!(
            StoreWatchBus::new(store, Duration::from_millis(10)).stale_after(),
            MIN_STALE
        );
    }
}
