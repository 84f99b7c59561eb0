//! The load generator's report: the seq audit and the connection figures, as JSON.

use super::audit::Logged;
use super::pair::SendStats;
use super::stream::StreamLog;
use serde::Serialize;
use std::collections::HashSet;
use std::time::Instant;

/// Figures of one run. Lost, duplicated, out-of-order, misrouted and unexpected events,
/// unaudited dialogs and failed sends must all be zero (`failures`).
#[derive(Debug, Default, Serialize)]
pub struct Report {
    /// Visitor/operator pairs.
    pub pairs: usize,
    /// Sockets (two per pair).
    pub clients: usize,
    /// Sockets by connection kind (`admin`, `widget`, `site`).
    pub clients_by_kind: std::collections::BTreeMap<String, usize>,
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
    /// Events a socket received that belong to another dialog.
    pub misrouted: u64,
    /// Events of its own dialog a socket received but was not owed: not in the log, or
    /// an internal note on a visitor's socket.
    pub unexpected: u64,
    /// Dialogs whose log could not be read, so their sockets were not audited (each
    /// fails the run: an unread log must never read as "nothing lost").
    pub unaudited_dialogs: u64,
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

    /// Audits one socket's stream against its dialog's log: `visitor` sockets are
    /// owed every event but internal notes.
    pub(crate) fn add_stream(&mut self, expected: &[Logged], kind: &str, log: StreamLog) {
        self.count_client(kind);
        let visitor = kind != "admin";
        let owed: Vec<u64> = expected
            .iter()
            .filter(|e| !(visitor && e.internal))
            .map(|e| e.seq)
            .collect();
        let received: HashSet<u64> = log.seqs.iter().copied().collect();
        self.events_expected += owed.len() as u64;
        self.events_delivered += owed.iter().filter(|s| received.contains(s)).count() as u64;
        self.lost += owed.iter().filter(|s| !received.contains(s)).count() as u64;
        let owed: HashSet<u64> = owed.into_iter().collect();
        self.unexpected += received.iter().filter(|s| !owed.contains(s)).count() as u64;
        self.duplicated += (log.seqs.len() - received.len()) as u64;
        self.out_of_order += log.seqs.windows(2).filter(|w| w[1] <= w[0]).count() as u64;
        self.misrouted += log.misrouted;
        self.add_connections(&log);
        self.latencies.extend(log.latencies_ms);
    }

    /// A socket whose dialog's log could not be read: its connections count, its
    /// stream is not audited, and the run fails.
    pub(crate) fn add_unaudited(&mut self, kind: &str, log: StreamLog) {
        self.count_client(kind);
        self.misrouted += log.misrouted;
        self.add_connections(&log);
    }

    fn count_client(&mut self, kind: &str) {
        self.clients += 1;
        *self.clients_by_kind.entry(kind.to_owned()).or_default() += 1;
    }

    fn add_connections(&mut self, log: &StreamLog) {
        self.connect_attempts += log.attempts;
        self.connect_successes += log.successes;
        for (at, took) in &log.reconnects {
            self.reconnects += 1;
            self.max_reconnect_ms = self.max_reconnect_ms.max(*took);
            self.reconnect_times.push(*at);
        }
        for code in &log.closes {
            *self.closes.entry(*code).or_default() += 1;
        }
    }

    pub(crate) fn add_log(&mut self, events: usize) {
        self.events_in_log += events as u64;
    }

    pub(crate) fn add_unaudited_dialog(&mut self) {
        self.unaudited_dialogs += 1;
    }

    pub(crate) fn add_sends(&mut self, stats: SendStats) {
        self.messages_sent += stats.sent;
        self.send_retries += stats.retried;
        self.send_failures += stats.failed;
        self.acks.extend(stats.acked_ms);
    }

    /// Computes the rates and percentiles once every stream is in.
    pub(crate) fn finish_figures(&mut self) {
        // No attempt is no success: a run that never connected has a rate of 0.
        self.connect_success_rate = if self.connect_attempts == 0 {
            0.0
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

    /// Why the run failed, one reason per figure; empty when it lost, repeated and
    /// misrouted nothing, audited every dialog, stored every message once and
    /// connected well enough.
    pub fn failures(&self, min_success_rate: f64) -> Vec<String> {
        let mut why = Vec::new();
        let mut zero = |name: &str, n: u64| {
            if n > 0 {
                why.push(format!("{name}: {n}"));
            }
        };
        zero("lost", self.lost);
        zero("duplicated", self.duplicated);
        zero("out of order", self.out_of_order);
        zero("misrouted", self.misrouted);
        zero("unexpected", self.unexpected);
        zero("unaudited dialogs", self.unaudited_dialogs);
        zero("send failures", self.send_failures);
        if self.events_in_log != self.messages_sent {
            why.push(format!(
                "{} events in the log for {} messages sent",
                self.events_in_log, self.messages_sent
            ));
        }
        if self.events_expected == 0 {
            why.push("no event was audited".into());
        }
        if self.connect_success_rate < min_success_rate {
            why.push(format!(
                "connection success rate {:.4} < {min_success_rate}",
                self.connect_success_rate
            ));
        }
        if let Some(storm) = &self.storm {
            if storm.sockets_dropped != self.clients || storm.sockets_resumed != self.clients {
                why.push(format!(
                    "storm: {} sockets dropped and {} resumed of {}",
                    storm.sockets_dropped, storm.sockets_resumed, self.clients
                ));
            }
        }
        why
    }

    /// Whether [`Report::failures`] found nothing.
    pub fn passed(&self, min_success_rate: f64) -> bool {
        self.failures(min_success_rate).is_empty()
    }
}

/// The `q` quantile of ascending `sorted` (nearest rank); 0 when empty.
pub(crate) fn percentile(sorted: &[f64], q: f64) -> f64 {
    sorted
        .get(((sorted.len() as f64 - 1.0) * q).round() as usize)
        .copied()
        .unwrap_or(0.0)
}

#[cfg(test)]
mod tests {
    use super::{Report, StreamLog};
    use crate::load::audit::Logged;

    fn log(seqs: &[u64], misrouted: u64) -> StreamLog {
        StreamLog {
            seqs: seqs.to_vec(),
            misrouted,
            attempts: 1,
            successes: 1,
            ..Default::default()
        }
    }

    fn logged(seqs: &[u64]) -> Vec<Logged> {
        seqs.iter()
            .map(|&seq| Logged {
                seq,
                internal: false,
            })
            .collect()
    }

    fn audited(expected: &[Logged], visitor: bool, stream: StreamLog) -> Report {
        let mut r = Report::default();
        r.add_stream(expected, if visitor { "widget" } else { "admin" }, stream);
        r.add_log(expected.len());
        r.messages_sent = expected.len() as u64;
        r.finish_figures();
        r
    }

    #[test]
    fn a_complete_stream_passes() {
        let r = audited(&logged(&[1, 2, 3]), false, log(&[1, 2, 3], 0));
        assert_eq!(r.failures(0.999), Vec::<String>::new());
    }

    /// Seq 2 of this dialog never came; another dialog's seq 2 did. Keyed by seq alone
    /// the slot looked filled ("0 lost"); keyed by dialog it is one lost, one misrouted.
    #[test]
    fn a_misrouted_event_never_fills_the_slot_of_a_lost_one() {
        // The stream recorded only its own dialog's seqs; the foreign one was counted.
        let r = audited(&logged(&[1, 2]), false, log(&[1], 1));
        assert_eq!((r.lost, r.misrouted), (1, 1));
        assert!(!r.passed(0.0));
    }

    #[test]
    fn an_event_the_socket_was_not_owed_fails_the_run() {
        let note = vec![
            Logged {
                seq: 1,
                internal: false,
            },
            Logged {
                seq: 2,
                internal: true,
            },
        ];
        let leaked = audited(&note, true, log(&[1, 2], 0));
        assert_eq!(
            (leaked.lost, leaked.unexpected),
            (0, 1),
            "a note on a visitor's socket"
        );
        assert!(!leaked.passed(0.0));
        let phantom = audited(&logged(&[1]), false, log(&[1, 7], 0));
        assert_eq!(phantom.unexpected, 1, "a seq the log does not have");
    }

    #[test]
    fn visitors_are_not_owed_internal_notes_and_admins_are() {
        let expected = vec![
            Logged {
                seq: 1,
                internal: false,
            },
            Logged {
                seq: 2,
                internal: true,
            },
        ];
        assert!(audited(&expected, true, log(&[1], 0)).passed(0.999));
        assert_eq!(audited(&expected, false, log(&[1], 0)).lost, 1);
    }

    #[test]
    fn an_unaudited_dialog_or_an_empty_run_fails() {
        let mut r = Report::default();
        r.add_unaudited("widget", log(&[1, 2], 0));
        r.add_unaudited_dialog();
        r.finish_figures();
        let why = r.failures(0.0).join("; ");
        assert!(why.contains("unaudited dialogs: 1"), "{why}");
        assert!(why.contains("no event was audited"), "{why}");

        let mut never_connected = Report::default();
        never_connected.finish_figures();
        assert_eq!(never_connected.connect_success_rate, 0.0);
        assert!(!never_connected.passed(0.5));
    }

    #[test]
    fn a_storm_that_did_not_drop_and_resume_every_socket_fails() {
        let mut r = audited(&logged(&[1]), false, log(&[1], 0));
        r.storm = Some(crate::load::StormReport {
            sockets_dropped: 1,
            sockets_resumed: 0,
            ..Default::default()
        });
        assert!(r.failures(0.0).join("").contains("storm"));
    }
}
