//! Prometheus metrics: typed handles over one registry. Label values are closed sets
//! (connection kinds, close-code names, error types, route templates), never ids.

use prometheus::{
    Encoder, Gauge, Histogram, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, IntGauge,
    IntGaugeVec, Opts, Registry, TextEncoder,
};
use replyx_core::BrokerTraffic;
use replyx_protocol::{CloseCode, ConnectionKind};
use std::sync::Arc;

/// Cloneable metric handles.
#[derive(Clone)]
pub struct Metrics {
    inner: Arc<Inner>,
    started: f64,
}

struct Inner {
    registry: Registry,
    connections: IntGaugeVec,
    messages_sent: IntCounterVec,
    connection_errors: IntCounterVec,
    latency: HistogramVec,
    slow_consumers: IntCounter,
    closes: IntCounterVec,
    replayed: IntCounterVec,
    gap_fills: IntCounterVec,
    audience_violations: IntCounterVec,
    http_requests: IntCounterVec,
    store_latency: Histogram,
    drain_progress: IntGauge,
    draining: IntGauge,
    attempts: IntCounterVec,
    successes: IntCounterVec,
    bus_lag: Histogram,
    bus_resyncs: IntCounter,
    bus_traffic: IntCounterVec,
    /// `bus_traffic`'s nine series resolved once, by [`traffic_index`]: counted on
    /// every broker message, where a label lookup per message would hash and lock.
    bus_traffic_series: Vec<IntCounter>,
    /// The per-kind series counted on every frame and connection, resolved once per
    /// kind (by [`kind_index`]): a label lookup hashes the label and takes a lock, which
    /// on the delivery path cost more than the count itself.
    by_kind: Vec<KindSeries>,
    logins: IntCounterVec,
    password_checks: IntCounter,
    token_verifications: IntCounterVec,
    identity_verifications: IntCounterVec,
    operators_present: IntGaugeVec,
    assignments: IntCounter,
    ratings: IntCounterVec,
    canary_round_trip: Histogram,
    canary_failures: IntCounter,
    canary_last_success: Gauge,
    canary_age: Gauge,
    build_info: IntGaugeVec,
}

/// One connection kind's hot series.
struct KindSeries {
    connections: IntGauge,
    sent: IntCounter,
    latency: Histogram,
}

/// Where `kind`'s series sit in `by_kind` (the order of `ConnectionKind::ALL`).
fn kind_index(kind: ConnectionKind) -> usize {
    match kind {
        ConnectionKind::Admin => 0,
        ConnectionKind::Site => 1,
        ConnectionKind::Widget => 2,
    }
}

const TRAFFIC_WAYS: [BrokerTraffic; 3] = [
    BrokerTraffic::Sent,
    BrokerTraffic::Received,
    BrokerTraffic::Echo,
];
const TRAFFIC_BODIES: [&str; 3] = ["event", "signal", "rows"];

/// Where a (direction, body) series sits in `bus_traffic_series`.
fn traffic_index(way: BrokerTraffic, body: &str) -> Option<usize> {
    let w = TRAFFIC_WAYS.iter().position(|w| *w == way)?;
    let b = TRAFFIC_BODIES.iter().position(|b| *b == body)?;
    Some(w * TRAFFIC_BODIES.len() + b)
}

/// Every `outcome` of `replyx_login_attempts_total`.
const LOGIN_OUTCOMES: [&str; 6] = [
    "ok",
    "wrong",
    "disabled",
    "throttled_ip",
    "throttled_account",
    "busy",
];

/// Every `outcome` of `replyx_identity_verifications_total`.
pub(crate) const IDENTITY_OUTCOMES: [&str; 5] =
    ["verified", "expired", "unknown_key", "invalid", "required"];

const FAST_BUCKETS: [f64; 12] = [
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
];

fn now_seconds() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0)
}

fn must<T>(r: prometheus::Result<T>) -> T {
    r.expect("metric definitions are static and valid")
}

impl Metrics {
    /// Creates and registers every metric (and process metrics on Linux).
    pub fn new() -> Self {
        let registry = Registry::new();
        let kind = &["type"];
        let mut inner = Inner {
            connections: must(IntGaugeVec::new(
                Opts::new(
                    "websocket_connections_total",
                    "Open WebSocket connections, by kind (gauge)",
                ),
                kind,
            )),
            messages_sent: must(IntCounterVec::new(
                Opts::new(
                    "websocket_messages_sent_total",
                    "Frames written to WebSockets, by kind",
                ),
                kind,
            )),
            connection_errors: must(IntCounterVec::new(
                Opts::new(
                    "websocket_connection_errors_total",
                    "WebSocket connections refused or failed, by error type",
                ),
                &["error_type"],
            )),
            latency: must(HistogramVec::new(
                HistogramOpts::new(
                    "websocket_message_latency_seconds",
                    "From an event being stored to it being written to a socket, by kind",
                )
                .buckets(vec![
                    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
                ]),
                kind,
            )),
            slow_consumers: must(IntCounter::new(
                "websocket_dropped_slow_consumers_total",
                "Connections closed with 1013 because their outbox was full",
            )),
            closes: must(IntCounterVec::new(
                Opts::new(
                    "replyx_ws_closes_total",
                    "WebSocket closes sent by the server, by close code",
                ),
                &["code"],
            )),
            replayed: must(IntCounterVec::new(
                Opts::new(
                    "replyx_ws_replayed_events_total",
                    "Events sent as replay or gap fill, by kind",
                ),
                kind,
            )),
            gap_fills: must(IntCounterVec::new(
                Opts::new(
                    "replyx_ws_gap_fills_total",
                    "Live events that revealed a gap in a connection's stream (a bus that \
                     dropped or reordered), filled from the store, by kind",
                ),
                kind,
            )),
            audience_violations: must(IntCounterVec::new(
                Opts::new(
                    "replyx_audience_violations_total",
                    "Events outside a connection's stream that reached it and were stopped \
                     by the last filter (must stay 0), by kind",
                ),
                kind,
            )),
            http_requests: must(IntCounterVec::new(
                Opts::new(
                    "http_requests_total",
                    "HTTP requests by route template and status",
                ),
                &["route", "status"],
            )),
            store_latency: must(Histogram::with_opts(
                HistogramOpts::new(
                    "replyx_store_append_seconds",
                    "Time to append events to the store",
                )
                .buckets(vec![
                    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0,
                ]),
            )),
            drain_progress: must(IntGauge::new(
                "replyx_drain_progress_percent",
                "Share of sockets asked to close during the current drain",
            )),
            draining: must(IntGauge::new(
                "replyx_draining",
                "1 while this process drains for shutdown",
            )),
            attempts: must(IntCounterVec::new(
                Opts::new(
                    "replyx_ws_connection_attempts_total",
                    "WebSocket upgrade requests, by kind",
                ),
                kind,
            )),
            successes: must(IntCounterVec::new(
                Opts::new(
                    "replyx_ws_connection_successes_total",
                    "WebSocket connections that reached replay.complete, by kind",
                ),
                kind,
            )),
            bus_lag: must(Histogram::with_opts(
                HistogramOpts::new(
                    "replyx_bus_lag_seconds",
                    "From a message being stored by another process to it arriving here",
                )
                .buckets(FAST_BUCKETS.to_vec()),
            )),
            bus_resyncs: must(IntCounter::new(
                "replyx_bus_resyncs_total",
                "Times the bus reconnected to its broker and every connection read what it \
                 missed from the store",
            )),
            bus_traffic: must(IntCounterVec::new(
                Opts::new(
                    "replyx_bus_messages_total",
                    "Messages through the cluster broker: sent, received (handed to local \
                     subscribers) and echo (own publishes that came back, dropped), by body \
                     (event, signal, rows)",
                ),
                &["direction", "body"],
            )),
            bus_traffic_series: Vec::new(),
            by_kind: Vec::with_capacity(ConnectionKind::ALL.len()),
            logins: must(IntCounterVec::new(
                Opts::new(
                    "replyx_login_attempts_total",
                    "Operator logins by outcome: ok, wrong (password or e-mail), disabled (right \
                     password, disabled account), throttled_ip, throttled_account (backing off after failures), busy (no hashing slot)",
                ),
                &["outcome"],
            )),
            password_checks: must(IntCounter::new(
                "replyx_login_password_checks_total",
                "Password hashes verified by the login route (unknown e-mails included: \
                 they are checked against a decoy so both take the same time)",
            )),
            token_verifications: must(IntCounterVec::new(
                Opts::new(
                    "replyx_token_verifications_total",
                    "Tokens verified, by purpose (operator, site, guest) and key: signing (the \
                     key that signs now), overlap (another accepted key), legacy (the raw \
                     secret, tokens from before key ids). A rotation is over when overlap \
                     stops counting",
                ),
                &["purpose", "key"],
            )),
            identity_verifications: must(IntCounterVec::new(
                Opts::new(
                    "replyx_identity_verifications_total",
                    "Visitor identity checks by outcome: verified, expired, unknown_key (a \
                     kid the assistant does not have), invalid (bad signature or claims), \
                     required (an enforce-mode assistant refused a visitor without one)",
                ),
                &["outcome"],
            )),
            operators_present: must(IntGaugeVec::new(
                Opts::new(
                    "replyx_operators_present",
                    "Active operators by presence (online, away, offline), as the store \
                     last settled it (every process reports the same)",
                ),
                &["status"],
            )),
            assignments: must(IntCounter::new(
                "replyx_dialogs_assigned_total",
                "Dialogs the routing queue gave to an operator by itself (auto-assignment)",
            )),
            ratings: must(IntCounterVec::new(
                Opts::new(
                    "replyx_dialog_ratings_total",
                    "Visitors' ratings of closed dialogs, by score (1 to 5)",
                ),
                &["score"],
            )),
            canary_round_trip: must(Histogram::with_opts(
                HistogramOpts::new(
                    "replyx_canary_round_trip_seconds",
                    "Canary: store, publish and receive on this process's own subscriber",
                )
                .buckets(FAST_BUCKETS.to_vec()),
            )),
            canary_failures: must(IntCounter::new(
                "replyx_canary_failures_total",
                "Canary rounds whose event did not come back in time",
            )),
            canary_last_success: must(Gauge::new(
                "replyx_canary_last_success_timestamp_seconds",
                "Unix time of the last good canary round trip (0: none yet)",
            )),
            canary_age: must(Gauge::new(
                "replyx_canary_age_seconds",
                "Seconds since the last good canary round trip (since start when none)",
            )),
            build_info: must(IntGaugeVec::new(
                Opts::new("replyx_build_info", "Always 1; labels say which build runs"),
                &["version"],
            )),
            registry,
        };
        let r = &inner.registry;
        must(r.register(Box::new(inner.connections.clone())));
        must(r.register(Box::new(inner.messages_sent.clone())));
        must(r.register(Box::new(inner.connection_errors.clone())));
        must(r.register(Box::new(inner.latency.clone())));
        must(r.register(Box::new(inner.slow_consumers.clone())));
        must(r.register(Box::new(inner.closes.clone())));
        must(r.register(Box::new(inner.replayed.clone())));
        must(r.register(Box::new(inner.gap_fills.clone())));
        must(r.register(Box::new(inner.audience_violations.clone())));
        must(r.register(Box::new(inner.http_requests.clone())));
        must(r.register(Box::new(inner.store_latency.clone())));
        must(r.register(Box::new(inner.drain_progress.clone())));
        must(r.register(Box::new(inner.draining.clone())));
        must(r.register(Box::new(inner.attempts.clone())));
        must(r.register(Box::new(inner.successes.clone())));
        must(r.register(Box::new(inner.bus_lag.clone())));
        must(r.register(Box::new(inner.bus_resyncs.clone())));
        must(r.register(Box::new(inner.bus_traffic.clone())));
        must(r.register(Box::new(inner.logins.clone())));
        must(r.register(Box::new(inner.password_checks.clone())));
        must(r.register(Box::new(inner.token_verifications.clone())));
        for purpose in crate::auth::keys::Purpose::ALL {
            for key in crate::auth::tokens::KeyUse::ALL {
                inner
                    .token_verifications
                    .with_label_values(&[purpose.as_str(), key.as_str()]);
            }
        }
        must(r.register(Box::new(inner.identity_verifications.clone())));
        for outcome in IDENTITY_OUTCOMES {
            inner.identity_verifications.with_label_values(&[outcome]);
        }
        must(r.register(Box::new(inner.operators_present.clone())));
        for status in ["online", "away", "offline"] {
            inner.operators_present.with_label_values(&[status]);
        }
        must(r.register(Box::new(inner.assignments.clone())));
        must(r.register(Box::new(inner.ratings.clone())));
        for score in ["1", "2", "3", "4", "5"] {
            inner.ratings.with_label_values(&[score]);
        }
        must(r.register(Box::new(inner.canary_round_trip.clone())));
        must(r.register(Box::new(inner.canary_failures.clone())));
        must(r.register(Box::new(inner.canary_last_success.clone())));
        must(r.register(Box::new(inner.canary_age.clone())));
        must(r.register(Box::new(inner.build_info.clone())));
        inner
            .build_info
            .with_label_values(&[env!("CARGO_PKG_VERSION")])
            .set(1);
        #[cfg(target_os = "linux")]
        must(r.register(Box::new(
            prometheus::process_collector::ProcessCollector::for_self(),
        )));
        // Every series from the start (0 on a node without a broker), so a dashboard
        // never reads an absent series as "no traffic".
        for way in TRAFFIC_WAYS {
            for body in TRAFFIC_BODIES {
                let series = inner.bus_traffic.with_label_values(&[way.as_str(), body]);
                inner.bus_traffic_series.push(series);
            }
        }
        for outcome in LOGIN_OUTCOMES {
            inner.logins.with_label_values(&[outcome]);
        }
        for (i, k) in ConnectionKind::ALL.into_iter().enumerate() {
            debug_assert_eq!(kind_index(k), i);
            inner.by_kind.push(KindSeries {
                connections: inner.connections.with_label_values(&[k.as_str()]),
                sent: inner.messages_sent.with_label_values(&[k.as_str()]),
                latency: inner.latency.with_label_values(&[k.as_str()]),
            });
            inner.attempts.with_label_values(&[k.as_str()]);
            inner.successes.with_label_values(&[k.as_str()]);
            inner.replayed.with_label_values(&[k.as_str()]);
            inner.gap_fills.with_label_values(&[k.as_str()]);
            inner.audience_violations.with_label_values(&[k.as_str()]);
        }
        for code in replyx_protocol::CloseCode::ALL {
            inner.closes.with_label_values(&[code.name()]);
            inner.connection_errors.with_label_values(&[code.name()]);
        }
        inner.connection_errors.with_label_values(&["limit"]);
        Self {
            inner: Arc::new(inner),
            started: now_seconds(),
        }
    }

    fn kind(&self, kind: ConnectionKind) -> &KindSeries {
        &self.inner.by_kind[kind_index(kind)]
    }

    /// The registry, for series a component registers itself (`wal_metrics`).
    pub(crate) fn registry(&self) -> &Registry {
        &self.inner.registry
    }

    /// The text exposition.
    pub fn render(&self) -> String {
        self.inner.canary_age.set(self.canary_age_seconds());
        let mut buf = Vec::new();
        must(TextEncoder::new().encode(&self.inner.registry.gather(), &mut buf));
        String::from_utf8(buf).unwrap_or_default()
    }

    pub(crate) fn connection_opened(&self, kind: ConnectionKind) {
        self.kind(kind).connections.inc();
    }

    pub(crate) fn connection_closed(&self, kind: ConnectionKind) {
        self.kind(kind).connections.dec();
    }

    pub(crate) fn frame_sent(&self, kind: ConnectionKind) {
        self.kind(kind).sent.inc();
    }

    pub(crate) fn delivered(&self, kind: ConnectionKind, seconds: f64) {
        self.kind(kind).latency.observe(seconds);
    }

    pub(crate) fn replayed(&self, kind: ConnectionKind, n: usize) {
        self.inner
            .replayed
            .with_label_values(&[kind.as_str()])
            .inc_by(n as u64);
    }

    pub(crate) fn gap_fill(&self, kind: ConnectionKind) {
        self.inner
            .gap_fills
            .with_label_values(&[kind.as_str()])
            .inc();
    }

    pub(crate) fn bus_resync(&self) {
        self.inner.bus_resyncs.inc();
    }

    pub(crate) fn login(&self, outcome: &'static str) {
        debug_assert!(LOGIN_OUTCOMES.contains(&outcome));
        self.inner.logins.with_label_values(&[outcome]).inc();
    }

    pub(crate) fn password_checked(&self) {
        self.inner.password_checks.inc();
    }

    pub(crate) fn token_verified(
        &self,
        purpose: crate::auth::keys::Purpose,
        key: crate::auth::tokens::KeyUse,
    ) {
        self.inner
            .token_verifications
            .with_label_values(&[purpose.as_str(), key.as_str()])
            .inc();
    }

    pub(crate) fn identity_checked(&self, outcome: &'static str) {
        debug_assert!(IDENTITY_OUTCOMES.contains(&outcome));
        self.inner
            .identity_verifications
            .with_label_values(&[outcome])
            .inc();
    }

    pub(crate) fn presence(&self, all: &[replyx_core::OperatorPresence]) {
        for status in [
            replyx_protocol::PresenceState::Online,
            replyx_protocol::PresenceState::Away,
            replyx_protocol::PresenceState::Offline,
        ] {
            let n = all.iter().filter(|p| p.status == status).count();
            self.inner
                .operators_present
                .with_label_values(&[status.as_str()])
                .set(n as i64);
        }
    }

    pub(crate) fn assigned(&self) {
        self.inner.assignments.inc();
    }

    pub(crate) fn rated(&self, score: u8) {
        if (1..=5).contains(&score) {
            self.inner
                .ratings
                .with_label_values(&[&score.to_string()])
                .inc();
        }
    }

    pub(crate) fn bus_traffic(&self, way: BrokerTraffic, body: &'static str) {
        match traffic_index(way, body) {
            Some(i) => self.inner.bus_traffic_series[i].inc(),
            None => self
                .inner
                .bus_traffic
                .with_label_values(&[way.as_str(), body])
                .inc(),
        }
    }

    pub(crate) fn audience_violation(&self, kind: ConnectionKind) {
        self.inner
            .audience_violations
            .with_label_values(&[kind.as_str()])
            .inc();
    }

    pub(crate) fn slow_consumer(&self, _kind: ConnectionKind) {
        self.inner.slow_consumers.inc();
    }

    pub(crate) fn closed_with(&self, code: CloseCode) {
        self.inner.closes.with_label_values(&[code.name()]).inc();
    }

    /// Counts a refused or failed connection; `error_type` is one of a fixed set.
    pub(crate) fn connection_error(&self, error_type: &'static str) {
        self.inner
            .connection_errors
            .with_label_values(&[error_type])
            .inc();
    }

    pub(crate) fn http_request(&self, route: &str, status: u16) {
        self.inner
            .http_requests
            .with_label_values(&[route, &status.to_string()])
            .inc();
    }

    pub(crate) fn store_append(&self, seconds: f64) {
        self.inner.store_latency.observe(seconds);
    }

    pub(crate) fn connection_attempt(&self, kind: ConnectionKind) {
        self.inner
            .attempts
            .with_label_values(&[kind.as_str()])
            .inc();
    }

    pub(crate) fn connection_success(&self, kind: ConnectionKind) {
        self.inner
            .successes
            .with_label_values(&[kind.as_str()])
            .inc();
    }

    pub(crate) fn bus_lag(&self, seconds: f64) {
        self.inner.bus_lag.observe(seconds);
    }

    pub(crate) fn draining(&self) {
        self.inner.draining.set(1);
    }

    pub(crate) fn canary_ok(&self, round_trip: f64) {
        self.inner.canary_round_trip.observe(round_trip);
        self.inner.canary_last_success.set(now_seconds());
    }

    pub(crate) fn canary_failed(&self) {
        self.inner.canary_failures.inc();
    }

    /// Seconds since the last good canary round trip, or since start when none yet.
    pub fn canary_age_seconds(&self) -> f64 {
        let last = self.inner.canary_last_success.get();
        now_seconds() - if last > 0.0 { last } else { self.started }
    }

    pub(crate) fn drain_progress(&self, done: usize, of: usize) {
        self.inner
            .drain_progress
            .set((done * 100 / of.max(1)) as i64);
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

#[cfg(test)]
mod tests {
    use super::{BrokerTraffic, Metrics};

    #[test]
    fn broker_traffic_lands_in_its_own_series_only() {
        let m = Metrics::new();
        m.bus_traffic(BrokerTraffic::Received, "event");
        m.bus_traffic(BrokerTraffic::Received, "event");
        m.bus_traffic(BrokerTraffic::Echo, "rows");
        let text = m.render();
        let value = |labels: &str| {
            let line = format!("replyx_bus_messages_total{{{labels}}} ");
            text.lines()
                .find_map(|l| l.strip_prefix(&line))
                .unwrap_or_else(|| panic!("no series {labels}"))
                .to_owned()
        };
        assert_eq!(value(r#"body="event",direction="received""#), "2");
        assert_eq!(value(r#"body="rows",direction="echo""#), "1");
        assert_eq!(value(r#"body="event",direction="sent""#), "0");
        assert_eq!(value(r#"body="signal",direction="received""#), "0");
    }
}
