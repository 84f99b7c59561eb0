//! The load generator's report: the seq audit and the connection figures, as JSON.

use super::pair::SendStats;
use super::stream::StreamLog;
use serde::Serialize;
use std::collections::HashSet;
use std::time::Instant;

/// Figures of one run. `lost` and `duplicated` must be zero.
#[derive(Debug, Default, Serialize)]
pub struct Report {
    /// Visitor/operator pairs.
    pub pairs: usize,
    /// Sockets (two per pair).
    pub clients: usize,
    /// Messages stored (each acknowledged by the server).
    pub messages_sent: u64,
    /// Sends retried with the same `client_msg_id`.
    pub send_retries: u64,
    /// Sends that failed for good.
    pub send_failures: u64,
    /// Events in the server's log for the run's dialogs (each counted once).
    pub events_in_log: u64,
    /// Events every socket had to receive, summed over sockets.
    pub events_expected: u64,
    /// Events received (repeats not counted).
    pub events_delivered: u64,
    /// Expected events a socket never received.
    pub lost: u64,
    /// Events a socket received more than once.
    pub duplicated: u64,
    /// Events that arrived out of seq order.
    pub out_of_order: u64,
    /// Connection attempts, and how many reached `replay.complete`.
    pub connect_attempts: u64,
    /// Successful connections.
    pub connect_successes: u64,
    /// Successes / attempts.
    pub connect_success_rate: f64,
    /// Reconnects after a close.
    pub reconnects: usize,
    /// Longest time from a close to being live again, ms.
    pub max_reconnect_ms: f64,
    /// Time between the first and the last reconnect, ms (spread of a drain).
    pub reconnect_spread_ms: f64,
    /// Close codes received, with counts.
    pub closes: std::collections::BTreeMap<u16, u64>,
    /// Live delivery latency percentiles (HTTP POST sent → event received on a
    /// socket), ms.
    pub latency_p50_ms: f64,
    /// 99th percentile.
    pub latency_p99_ms: f64,
    /// 99.9th percentile.
    pub latency_p999_ms: f64,
    /// Time from a message's first POST to its acknowledging response, p50, ms.
    pub post_ack_p50_ms: f64,
    /// 99th percentile.
    pub post_ack_p99_ms: f64,
    /// Run time, s.
    pub elapsed_s: f64,
    /// The reconnect storm, when the run had one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub storm: Option<super::StormReport>,
    #[serde(skip)]
    reconnect_times: Vec<f64>,
    #[serde(skip)]
    latencies: Vec<f64>,
    #[serde(skip)]
    acks: Vec<f64>,
    #[serde(skip)]
    _started: Option<Instant>,
}

impl Report {
    pub(crate) fn new(pairs: usize, started: Instant) -> Report {
        Report {
            pairs,
            _started: Some(started),
            ..Default::default()
        }
    }

    pub(crate) fn add_stream(&mut self, expected: &[u64], log: StreamLog) {
        self.clients += 1;
        let received: HashSet<u64> = log.seqs.iter().copied().collect();
        self.events_expected += expected.len() as u64;
        self.events_delivered += expected.iter().filter(|s| received.contains(s)).count() as u64;
        self.lost += expected.iter().filter(|s| !received.contains(s)).count() as u64;
        self.duplicated += (log.seqs.len() - received.len()) as u64;
        self.out_of_order += log.seqs.windows(2).filter(|w| w[1] <= w[0]).count() as u64;
        self.connect_attempts += log.attempts;
        self.connect_successes += log.successes;
        for (at, took) in &log.reconnects {
            self.reconnects += 1;
            self.max_reconnect_ms = self.max_reconnect_ms.max(*took);
            self.reconnect_times.push(*at);
        }
        for code in log.closes {
            *self.closes.entry(code).or_default() += 1;
        }
        self.latencies.extend(log.latencies_ms);
    }

    pub(crate) fn add_log(&mut self, events: usize) {
        self.events_in_log += events as u64;
    }

    pub(crate) fn add_sends(&mut self, stats: SendStats) {
        self.messages_sent += stats.sent;
        self.send_retries += stats.retried;
        self.send_failures += stats.failed;
        self.acks.extend(stats.acked_ms);
    }

    /// Computes the rates and percentiles once every stream is in.
    pub(crate) fn finish_figures(&mut self) {
        self.connect_success_rate = if self.connect_attempts == 0 {
            1.0
        } else {
            self.connect_successes as f64 / self.connect_attempts as f64
        };
        if let (Some(first), Some(last)) = (
            self.reconnect_times.iter().copied().reduce(f64::min),
            self.reconnect_times.iter().copied().reduce(f64::max),
        ) {
            self.reconnect_spread_ms = last - first;
        }
        self.latencies.sort_by(f64::total_cmp);
        self.latency_p50_ms = percentile(&self.latencies, 0.5);
        self.latency_p99_ms = percentile(&self.latencies, 0.99);
        self.latency_p999_ms = percentile(&self.latencies, 0.999);
        self.acks.sort_by(f64::total_cmp);
        self.post_ack_p50_ms = percentile(&self.acks, 0.5);
        self.post_ack_p99_ms = percentile(&self.acks, 0.99);
    }

    /// Whether the run lost or repeated nothing and connected well enough.
    pub fn passed(&self, min_success_rate: f64) -> bool {
        self.lost == 0
            && self.duplicated == 0
            && self.out_of_order == 0
            && self.send_failures == 0
            && self.events_in_log == self.messages_sent
            && self.connect_success_rate >= min_success_rate
    }
}

/// The `q` quantile of ascending `sorted` (nearest rank); 0 when empty.
pub(crate) fn percentile(sorted: &[f64], q: f64) -> f64 {
    sorted
        .get(((sorted.len() as f64 - 1.0) * q).round() as usize)
        .copied()
        .unwrap_or(0.0)
}
