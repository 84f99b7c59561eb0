//! `AppState`: the one cloneable handle every handler and session gets.

use crate::auth::Tokens;
use crate::config::Settings;
use crate::hub::Hub;
use crate::lifecycle::Lifecycle;
use crate::limits::PerIpLimiter;
use crate::metrics::Metrics;
use replyx_core::{Bus, Store};
use std::ops::Deref;
use std::sync::Arc;

/// Cloneable application state.
#[derive(Clone)]
pub struct AppState {
    inner: Arc<Inner>,
}

/// What `AppState` holds.
pub struct Inner {
    /// Resolved settings.
    pub settings: Settings,
    /// The dialog log.
    pub store: Arc<dyn Store>,
    /// Cross-process fan-out.
    pub bus: Arc<dyn Bus>,
    /// This process's sockets.
    pub hub: Hub,
    /// Token keys.
    pub tokens: Tokens,
    /// Metric handles.
    pub metrics: Metrics,
    /// Tasks, drain flag, uptime.
    pub lifecycle: Lifecycle,
    /// New WebSocket connections per IP.
    pub ws_connects: PerIpLimiter,
    /// Visitor HTTP requests per IP.
    pub visitor_requests: PerIpLimiter,
    /// Login throttling and the bound on password hashing.
    pub login: crate::auth::login_guard::LoginGuard,
    /// Operator sessions: the live check behind every operator request and socket.
    pub sessions: crate::auth::sessions::OperatorSessions,
    /// Assistants as the per-message paths read them (trusted briefly).
    pub assistants: crate::assistant_cache::AssistantCache,
    /// The delivery canary's last result.
    pub canary: crate::canary::Canary,
    /// The operators' consoles open on this process (their presence).
    pub consoles: Arc<crate::presence::Consoles>,
    /// This process's id (random at start): tells two processes on one database, or
    /// the two colours behind a proxy, apart.
    pub instance_id: String,
}

impl AppState {
    /// Wraps the parts.
    pub fn new(inner: Inner) -> Self {
        Self {
            inner: Arc::new(inner),
        }
    }
}

impl Deref for AppState {
    type Target = Inner;
    fn deref(&self) -> &Inner {
        &self.inner
    }
}
