//! The embedded store's write-ahead log as metrics. Under steady load SQLite never starts
//! its WAL over by itself; the store's writer does, past a threshold, and holds appends
//! while it does (ADR 0007). A WAL that keeps growing (a restart that never succeeds,
//! say because a reader holds an old snapshot) fills the disk and the server's memory
//! (the WAL's index is mapped) long before anything else notices: the bench's soak found
//! exactly that. These series let an alert see it, and show what the restarts cost.
//!
//! Exported only by a process on a SQLite file (an in-memory or PostgreSQL store has no
//! WAL of ours): the series are absent there, never a misleading 0.

use crate::lifecycle::Lifecycle;
use prometheus::{Counter, IntCounter, IntGauge, Registry};
use replyx_store::Checkpoint;
use tokio::sync::watch;

/// The WAL's series, registered in the process's registry.
pub(crate) struct WalMetrics {
    frames: IntGauge,
    threshold: IntGauge,
    restarts: IntCounter,
    restart_seconds: Counter,
}

impl WalMetrics {
    /// Creates the series and registers them.
    pub(crate) fn register(registry: &Registry) -> prometheus::Result<Self> {
        let m = Self {
            frames: IntGauge::new(
                "replyx_store_wal_frames",
                "Pages (4 KiB) in the embedded store's WAL at its last checkpoint",
            )?,
            threshold: IntGauge::new(
                "replyx_store_wal_restart_threshold_frames",
                "WAL pages past which the store's writer starts the WAL over",
            )?,
            restarts: IntCounter::new(
                "replyx_store_wal_restarts_total",
                "Times the store's writer started the WAL over",
            )?,
            restart_seconds: Counter::new(
                "replyx_store_wal_restart_seconds_total",
                "Time the store's writer spent starting the WAL over (appends wait meanwhile)",
            )?,
        };
        registry.register(Box::new(m.frames.clone()))?;
        registry.register(Box::new(m.threshold.clone()))?;
        registry.register(Box::new(m.restarts.clone()))?;
        registry.register(Box::new(m.restart_seconds.clone()))?;
        Ok(m)
    }

    /// Moves the series to `now`, the checkpointer's report after `before`. The store's
    /// figures are totals since it opened; the counters take the difference, so they
    /// only ever rise.
    pub(crate) fn record(&self, before: &Checkpoint, now: &Checkpoint) {
        self.frames.set(now.wal_frames);
        self.threshold.set(now.restart_threshold_frames);
        self.restarts
            .inc_by(now.restarts.saturating_sub(before.restarts));
        let micros = now.restart_micros.saturating_sub(before.restart_micros);
        self.restart_seconds.inc_by(micros as f64 / 1e6);
    }

    /// Follows the checkpointer's reports until shutdown (or until the store stops
    /// checkpointing).
    pub(crate) fn follow(self, mut reports: watch::Receiver<Checkpoint>, lifecycle: &Lifecycle) {
        let stop = lifecycle.stop_token();
        lifecycle.spawn(async move {
            // The report standing at start is recorded at once (the threshold is known
            // before the first checkpoint), then every new one.
            let mut seen = Checkpoint::default();
            loop {
                let now = *reports.borrow_and_update();
                self.record(&seen, &now);
                seen = now;
                tokio::select! {
                    changed = reports.changed() => if changed.is_err() { break },
                    _ = stop.cancelled() => break,
                }
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use super::WalMetrics;
    use prometheus::Registry;
    use replyx_store::Checkpoint;

    fn value(registry: &Registry, name: &str) -> Option<f64> {
        registry
            .gather()
            .iter()
            .find(|f| f.name() == name)
            .map(|f| {
                let m = &f.get_metric()[0];
                if f.get_field_type() == prometheus::proto::MetricType::COUNTER {
                    m.get_counter().get_value()
                } else {
                    m.get_gauge().get_value()
                }
            })
    }

    #[test]
    fn reports_set_the_gauges_and_add_only_what_is_new_to_the_counters() {
        let registry = Registry::new();
        let m = WalMetrics::register(&registry).unwrap();
        let first = Checkpoint {
            wal_frames: 70_000,
            copied_frames: 69_000,
            restarts: 2,
            restart_micros: 30_000,
            restart_threshold_frames: 65_536,
        };
        m.record(&Checkpoint::default(), &first);
        let second = Checkpoint {
            wal_frames: 1_200,
            copied_frames: 1_200,
            restarts: 3,
            restart_micros: 45_000,
            ..first
        };
        m.record(&first, &second);
        m.record(&second, &second);

        assert_eq!(value(&registry, "replyx_store_wal_frames"), Some(1_200.0));
        assert_eq!(
            value(&registry, "replyx_store_wal_restart_threshold_frames"),
            Some(65_536.0)
        );
        assert_eq!(
            value(&registry, "replyx_store_wal_restarts_total"),
            Some(3.0)
        );
        let held = value(&registry, "replyx_store_wal_restart_seconds_total").unwrap();
        assert!((held - 0.045).abs() < 1e-9, "{held}");
    }
}
