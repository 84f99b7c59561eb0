//! The reconnect storm: at a given moment every socket of the run drops its connection
//! at once (no close frame, as when a network link or a proxy goes away), every dialog
//! gets one message while both its sockets are down, and then all sockets reconnect
//! together with `since`. The seq audit at the end checks that each socket received
//! what it missed exactly once; this module measures how long the resume took.

use super::report::percentile;
use serde::Serialize;
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

/// When the storm happens and how long the sockets stay down.
#[derive(Debug, Clone, Copy)]
pub struct StormPlan {
    /// Time from the start of the run to the drop.
    pub at: Duration,
    /// Shortest time the sockets stay down (longer if the missed messages take longer
    /// to send).
    pub outage: Duration,
}

/// What the storm measured.
#[derive(Debug, Default, Clone, Serialize)]
pub struct StormReport {
    /// Sockets dropped at once.
    pub sockets_dropped: usize,
    /// Messages stored while every socket was down (one per dialog).
    pub missed_messages: u64,
    /// Sockets live again (past `replay.complete`) after the release.
    pub sockets_resumed: usize,
    /// Time from the release until half / 99% / all of the sockets were live again, ms.
    pub resume_p50_ms: f64,
    /// 99th percentile.
    pub resume_p99_ms: f64,
    /// The last socket.
    pub resume_all_ms: f64,
}

/// Shared by every socket of a run.
#[derive(Debug, Default)]
pub(crate) struct Storm {
    /// Fires once: every socket drops its connection.
    dropped: CancellationToken,
    /// Fires once the missed messages are stored: every socket reconnects.
    released: CancellationToken,
    released_at: OnceLock<Instant>,
    /// Sockets down so far.
    down: watch::Sender<usize>,
    resumed_ms: Mutex<Vec<f64>>,
}

impl Storm {
    /// Resolves when the storm begins.
    pub(crate) async fn dropped(&self) {
        self.dropped.cancelled().await;
    }

    /// A socket reports that it is down, then waits for the release (or `done`).
    pub(crate) async fn hold(&self, done: &CancellationToken) {
        self.down.send_modify(|n| *n += 1);
        tokio::select! {
            _ = self.released.cancelled() => {}
            _ = done.cancelled() => {}
        }
    }

    /// A socket that resumed after the storm reports when it was live again.
    pub(crate) fn resumed(&self) {
        if let Some(at) = self.released_at.get() {
            let ms = at.elapsed().as_secs_f64() * 1000.0;
            self.resumed_ms.lock().expect("storm").push(ms);
        }
    }

    /// Drops every socket and waits until `sockets` of them are down (at most
    /// `patience`, so a socket that was already reconnecting cannot stall the run).
    pub(crate) async fn drop_all(&self, sockets: usize, patience: Duration) {
        self.dropped.cancel();
        let mut down = self.down.subscribe();
        let _ = tokio::time::timeout(patience, down.wait_for(|&n| n >= sockets)).await;
    }

    /// Lets every socket reconnect, and starts the resume clock.
    pub(crate) fn release(&self) {
        let _ = self.released_at.set(Instant::now());
        self.released.cancel();
    }

    /// The figures, once the run is over.
    pub(crate) fn report(&self, missed_messages: u64) -> StormReport {
        let mut ms = self.resumed_ms.lock().expect("storm").clone();
        ms.sort_by(f64::total_cmp);
        StormReport {
            sockets_dropped: *self.down.borrow(),
            missed_messages,
            sockets_resumed: ms.len(),
            resume_p50_ms: percentile(&ms, 0.5),
            resume_p99_ms: percentile(&ms, 0.99),
            resume_all_ms: ms.last().copied().unwrap_or(0.0),
        }
    }
}
