//! The hub: this process's registry of open sockets by dialog and kind, and the one
//! delivery path from the bus to their outboxes. Every delivery asks the one audience
//! rule (`replyx_core::may_receive`); there is no per-kind push function.
//!
//! Invariants: the registry lock is a std mutex held only for map updates and
//! non-blocking `try_send`s, never across `.await`; a full outbox closes its
//! connection with 1013 (it resumes with `since`) instead of dropping silently.

mod fanout;
mod registry;
mod subscription;

pub use fanout::{FanoutEvent, Outbound};
pub use registry::{Closer, HubCounts, RegisterError};
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
}

impl Hub {
    /// An empty hub.
    pub fn new(limits: HubLimits, metrics: Metrics) -> Self {
        Self {
            inner: Arc::new(HubInner {
                registry: Mutex::new(Registry::default()),
                limits,
                metrics,
            }),
        }
    }

    /// Registers a connection of `kind` on `dialog` (`None`: the admin inbox feed).
    /// Register *before* reading the replay, so nothing published meanwhile is missed.
    ///
    /// # Errors
    /// A per-dialog or per-process limit is reached (close with 1013).
    pub fn register(
        &self,
        kind: ConnectionKind,
        dialog: Option<DialogId>,
    ) -> Result<Subscription, RegisterError> {
        let (tx, rx) = tokio::sync::mpsc::channel(self.inner.limits.outbox);
        let closer = Closer::new();
        let id = self
            .registry()
            .insert(kind, dialog, tx, closer.clone(), &self.inner.limits)?;
        self.inner.metrics.connection_opened(kind);
        Ok(Subscription::new(
            self.clone(),
            id,
            kind,
            dialog,
            rx,
            closer,
        ))
    }

    pub(crate) fn unregister(
        &self,
        id: replyx_protocol::ConnectionId,
        kind: ConnectionKind,
        dialog: Option<DialogId>,
    ) {
        self.registry().remove(id, dialog);
        self.inner.metrics.connection_closed(kind);
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
        let slow = self.registry().deliver(&outbound);
        for kind in slow {
            self.inner.metrics.slow_consumer(kind);
        }
    }
}
