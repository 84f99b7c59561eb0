//! Process lifecycle: every background and session task is tracked, readiness turns
//! to 503 the moment a drain starts, and shutdown is staged (see `app::run`).

use std::future::Future;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Instant;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

/// Shared lifecycle state.
#[derive(Clone)]
pub struct Lifecycle {
    inner: Arc<Inner>,
}

struct Inner {
    tracker: TaskTracker,
    stop: CancellationToken,
    draining: AtomicBool,
    started: Instant,
}

impl Lifecycle {
    /// A fresh lifecycle.
    pub fn new() -> Self {
        Self {
            inner: Arc::new(Inner {
                tracker: TaskTracker::new(),
                stop: CancellationToken::new(),
                draining: AtomicBool::new(false),
                started: Instant::now(),
            }),
        }
    }

    /// Runs `task` as a tracked task; shutdown waits for it under the grace deadline.
    pub fn spawn<F>(&self, task: F)
    where
        F: Future<Output = ()> + Send + 'static,
    {
        self.inner.tracker.spawn(task);
    }

    /// Wraps a future so shutdown waits for it (used for upgraded sockets, which the
    /// HTTP server's own graceful shutdown does not wait for).
    pub fn track<F: Future>(&self, f: F) -> impl Future<Output = F::Output> {
        self.inner.tracker.track_future(f)
    }

    /// The tracker, for components that spawn their own loops.
    pub fn tracker(&self) -> &TaskTracker {
        &self.inner.tracker
    }

    /// Fires when background loops should stop.
    pub fn stop_token(&self) -> CancellationToken {
        self.inner.stop.clone()
    }

    /// Marks the process as draining: readiness answers 503 from now on.
    pub fn begin_drain(&self) {
        self.inner.draining.store(true, Ordering::SeqCst);
    }

    /// Whether a drain has started.
    pub fn is_draining(&self) -> bool {
        self.inner.draining.load(Ordering::SeqCst)
    }

    /// Seconds since start.
    pub fn uptime_seconds(&self) -> u64 {
        self.inner.started.elapsed().as_secs()
    }

    /// Stops background loops and waits for every tracked task.
    pub async fn stop_and_wait(&self) {
        self.inner.stop.cancel();
        self.inner.tracker.close();
        self.inner.tracker.wait().await;
    }
}

impl Default for Lifecycle {
    fn default() -> Self {
        Self::new()
    }
}
