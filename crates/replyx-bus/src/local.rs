//! `LocalBus`: in-process fan-out. Correct only when one process serves the database;
//! the server never picks it for a shared database file.

use async_trait::async_trait;
use replyx_core::{Bus, BusMessage, BusSink};
use std::sync::{Arc, OnceLock};

/// Hands every published message straight to this process's hub.
#[derive(Default)]
pub struct LocalBus {
    sink: OnceLock<Arc<dyn BusSink>>,
}

impl LocalBus {
    /// A bus with no sink attached yet.
    pub fn new() -> Self {
        Self::default()
    }

    pub(crate) fn observe_lag(&self, seconds: f64) {
        if let Some(sink) = self.sink.get() {
            sink.observe_remote_lag(seconds);
        }
    }

    pub(crate) fn broker_traffic(&self, way: replyx_core::BrokerTraffic, body: &'static str) {
        if let Some(sink) = self.sink.get() {
            sink.broker_traffic(way, body);
        }
    }

    pub(crate) fn sink(&self) -> Option<Arc<dyn BusSink>> {
        self.sink.get().cloned()
    }

    pub(crate) fn deliver_local(&self, message: BusMessage) {
        if let Some(sink) = self.sink.get() {
            sink.deliver(message);
        }
    }
}

#[async_trait]
impl Bus for LocalBus {
    fn attach(&self, sink: Arc<dyn BusSink>) {
        if self.sink.set(sink).is_err() {
            tracing::warn!("bus sink attached twice; keeping the first");
        }
    }

    async fn publish(&self, message: BusMessage) -> Result<(), String> {
        self.deliver_local(message);
        Ok(())
    }

    async fn health(&self) -> Result<(), String> {
        Ok(())
    }

    fn name(&self) -> &'static str {
        "local"
    }
}
