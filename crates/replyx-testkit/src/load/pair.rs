//! One visitor/operator pair: a dialog opened the widget way (our iframe) or the site
//! way (embedded on a customer page, with its `Origin`), a visitor socket and an
//! operator socket, and a sender that alternates visitor and operator messages over
//! HTTP or on the sender's own socket (`SendVia`), retrying a failed send with the same
//! `client_msg_id` (so a retry can never duplicate).

use super::audit::fetch_log;
use super::report::Report;
use super::sent::SentTimes;
use super::stream::{SocketSend, Stream, StreamSetup};
use super::{ChatLoad, RunShared, SendVia, SiteEntry};
use crate::Api;
use serde_json::{json, Value};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio_util::sync::CancellationToken;

/// Messages sent and sends that failed for good.
#[derive(Debug, Default, Clone)]
pub(crate) struct SendStats {
    pub(crate) sent: u64,
    pub(crate) retried: u64,
    pub(crate) failed: u64,
    /// For each stored message, ms from its first send to its acknowledgement (the
    /// POST's response or the `message.ack`).
    pub(crate) acked_ms: Vec<f64>,
}

/// How the visitor side reaches the server.
#[derive(Clone)]
pub(crate) struct VisitorWay {
    /// `widget` or `site`: the path segment of its routes.
    pub(crate) via: &'static str,
    /// The page origin, sent as `Origin` (site only).
    pub(crate) origin: Option<Arc<str>>,
}

impl VisitorWay {
    /// The connection kind its socket is registered under (and audited as).
    pub(crate) fn kind(&self) -> &'static str {
        self.via
    }
}

pub(crate) struct Pair {
    dialog: String,
    guest_token: String,
    way: VisitorWay,
    since: u64,
    /// Messages stored outside the sender's loop (the storm's missed message).
    extra_sent: AtomicU64,
    sent_times: Arc<SentTimes>,
    visitor: Stream,
    operator: Stream,
    sender: tokio::task::JoinHandle<SendStats>,
}

impl Pair {
    pub(crate) async fn start(
        load: &ChatLoad,
        api: &Api,
        token: Arc<str>,
        guest: &str,
        site: Option<&SiteEntry>,
        run: &RunShared,
        source: Option<std::net::IpAddr>,
    ) -> anyhow::Result<Pair> {
        let (way, body) = match site {
            Some(site) => (
                VisitorWay {
                    via: "site",
                    origin: Some(site.origin.as_str().into()),
                },
                json!({"site_token": site.token, "guest_id": guest}),
            ),
            None => (
                VisitorWay {
                    via: "widget",
                    origin: None,
                },
                json!({"assistant_id": load.assistant_id, "guest_id": guest}),
            ),
        };
        let path = format!("/api/{}/dialogs", way.via);
        let (status, loaded) = post_as(api, way.origin.as_deref(), &path, None, body).await;
        anyhow::ensure!(
            status == 200 || status == 201,
            "dialog load failed: {status} {loaded}"
        );
        let dialog = loaded["dialog"]["id"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        let guest_token = loaded["guest_token"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        let since = loaded["dialog"]["last_seq"].as_u64().unwrap_or(0);
        let sent_times = Arc::new(SentTimes::default());
        let setup = StreamSetup {
            started: run.started,
            source,
            storm: run.storm.clone(),
            sent: sent_times.clone(),
            dialog: dialog.as_str().into(),
        };
        let ws = load.url.replacen("http", "ws", 1);
        let entry = match site {
            Some(site) => format!("site_token={}", site.token),
            None => format!("assistant_id={}", load.assistant_id),
        };
        let (ws_v, d_v, g, via) = (ws.clone(), dialog.clone(), guest_token.clone(), way.via);
        let visitor = Stream::start(
            move |s| format!("{ws_v}/ws/{via}/dialogs/{d_v}?{entry}&guest_token={g}&since={s}"),
            since,
            way.origin.clone(),
            None,
            setup.clone(),
        );
        let d_o = dialog.clone();
        let operator = Stream::start(
            move |s| format!("{ws}/ws/dialogs/{d_o}?since={s}"),
            since,
            None,
            Some(token.clone()),
            setup,
        );
        let sockets = (load.send_via == SendVia::Socket)
            .then(|| (visitor.sends.clone(), operator.sends.clone()));
        let sender = tokio::spawn(send_loop(
            api.clone(),
            dialog.clone(),
            way.clone(),
            guest_token.clone(),
            token,
            load.interval,
            run.stop.clone(),
            sent_times.clone(),
            sockets,
        ));
        Ok(Pair {
            dialog,
            guest_token,
            way,
            since,
            extra_sent: AtomicU64::new(0),
            sent_times,
            visitor,
            operator,
            sender,
        })
    }

    /// Stores the visitor message both sockets miss in a reconnect storm (idempotent:
    /// retried with the same `client_msg_id`). Returns whether it was stored.
    pub(crate) async fn send_missed(&self, api: &Api) -> bool {
        let path = format!("/api/{}/dialogs/{}/messages", self.way.via, self.dialog);
        let id = format!("{}-storm", self.dialog);
        self.sent_times.posting(&id);
        let body = json!({"text": "sent while you were away", "client_msg_id": id});
        let (stored, _) = post_until_stored(
            api,
            self.way.origin.as_deref(),
            &path,
            &self.guest_token,
            &body,
        )
        .await;
        if stored {
            self.extra_sent.fetch_add(1, Ordering::SeqCst);
        }
        stored
    }

    /// Waits for the sender to stop (the run's end was signalled) and returns what it
    /// sent, the storm's missed message included.
    pub(crate) async fn stop_sending(&mut self) -> SendStats {
        let mut stats = (&mut self.sender).await.unwrap_or_default();
        stats.sent += self.extra_sent.load(Ordering::SeqCst);
        stats
    }

    /// Lets both sockets catch up with the log (until `settled_by`), stops them and
    /// audits their streams against the server's log.
    pub(crate) async fn finish(
        self,
        stats: SendStats,
        api: &Api,
        token: &str,
        settled_by: tokio::time::Instant,
        report: &mut Report,
    ) {
        let expected = match fetch_log(api, token, &self.dialog, self.since).await {
            Ok(log) => Some(log),
            Err(e) => {
                eprintln!("replyx-load: cannot audit: {e:#}");
                None
            }
        };
        if let Some(expected) = &expected {
            let newest = expected.last().map_or(self.since, |e| e.seq);
            let caught_up = async {
                for stream in [&self.visitor, &self.operator] {
                    // The stream holds the sender, so this ends only by the seq or the
                    // timeout.
                    let _ = stream.last.subscribe().wait_for(|&s| s >= newest).await;
                }
            };
            let _ = tokio::time::timeout_at(settled_by, caught_up).await;
        }
        for (stream, kind) in [(self.visitor, self.way.kind()), (self.operator, "admin")] {
            stream.done.cancel();
            let _ = stream.task.await;
            let log = std::mem::take(&mut *stream.log.lock().expect("log"));
            match &expected {
                Some(expected) => report.add_stream(expected, kind, log),
                None => report.add_unaudited(kind, log),
            }
        }
        match &expected {
            Some(expected) => {
                report.add_log(expected.len());
                if expected.len() as u64 != stats.sent {
                    eprintln!(
                        "dialog {}: {} acknowledged sends, {} events in the log",
                        self.dialog,
                        stats.sent,
                        expected.len()
                    );
                }
            }
            None => report.add_unaudited_dialog(),
        }
        report.add_sends(stats);
    }
}

#[allow(clippy::too_many_arguments)] // one spawn site, each argument named there
async fn send_loop(
    api: Api,
    dialog: String,
    way: VisitorWay,
    guest_token: String,
    operator_token: Arc<str>,
    interval: Duration,
    stop: CancellationToken,
    sent_times: Arc<SentTimes>,
    sockets: Option<(SocketQueue, SocketQueue)>,
) -> SendStats {
    let mut stats = SendStats::default();
    let mut n: u64 = 0;
    loop {
        // The first message goes out at once, so that every pair stores at least one
        // and the audit has something to check even in an idle run.
        if n > 0 {
            let jitter = interval.mul_f64(0.5 + rand::random::<f64>());
            tokio::select! {
                _ = stop.cancelled() => return stats,
                _ = tokio::time::sleep(jitter) => {}
            }
        } else if stop.is_cancelled() {
            return stats;
        }
        n += 1;
        let id = format!("{dialog}-{n}");
        let from_visitor = n % 2 == 1;
        let (path, auth, text, origin) = if from_visitor {
            (
                format!("/api/{}/dialogs/{dialog}/messages", way.via),
                guest_token.as_str(),
                format!("visitor {n}"),
                way.origin.as_deref(),
            )
        } else {
            (
                format!("/api/dialogs/{dialog}/messages"),
                &*operator_token,
                format!("operator {n}"),
                None,
            )
        };
        sent_times.posting(&id);
        let posted = Instant::now();
        let on_socket = sockets
            .as_ref()
            .map(|(visitor, operator)| if from_visitor { visitor } else { operator });
        if let Some(queue) = on_socket {
            if send_on_socket(queue, &text, &id).await {
                stats.sent += 1;
                stats.acked_ms.push(posted.elapsed().as_secs_f64() * 1000.0);
                continue;
            }
            // Unanswered or refused: by POST, same key, as the widget does.
            stats.retried += 1;
        }
        let body = json!({"text": text, "client_msg_id": id});
        let (delivered, retries) = post_until_stored(&api, origin, &path, auth, &body).await;
        stats.retried += retries;
        if delivered {
            stats.sent += 1;
            stats.acked_ms.push(posted.elapsed().as_secs_f64() * 1000.0);
        } else {
            stats.failed += 1;
        }
    }
}

/// A stream's queue of `message.send` frames.
type SocketQueue = tokio::sync::mpsc::UnboundedSender<SocketSend>;

/// Longest wait for a socket send's answer before the POST takes over.
const SOCKET_ACK_TIMEOUT: Duration = Duration::from_secs(5);

/// Sends a message on the socket; whether a `message.ack` came back in time.
async fn send_on_socket(queue: &SocketQueue, text: &str, key: &str) -> bool {
    let (answer, answered) = tokio::sync::oneshot::channel();
    let frame = json!({"type": "message.send", "text": text, "client_msg_id": key}).to_string();
    let send = SocketSend {
        frame,
        key: key.to_owned(),
        answer,
    };
    if queue.send(send).is_err() {
        return false;
    }
    matches!(
        tokio::time::timeout(SOCKET_ACK_TIMEOUT, answered).await,
        Ok(Ok(true))
    )
}

/// Posts a message until the server acknowledges it (at most 20 tries, with a growing
/// pause), always with the same body and so the same `client_msg_id`: a retry can
/// never store it twice. Returns whether it was stored, and the retries it took.
async fn post_until_stored(
    api: &Api,
    origin: Option<&str>,
    path: &str,
    auth: &str,
    body: &Value,
) -> (bool, u64) {
    for attempt in 0..20u64 {
        let (status, _) = post_as(api, origin, path, Some(auth), body.clone()).await;
        if status == 200 || status == 201 {
            return (true, attempt);
        }
        tokio::time::sleep(Duration::from_millis(100 * (attempt + 1).min(10))).await;
    }
    (false, 20)
}

/// A POST from the visitor's page: with its `Origin` in the site way.
async fn post_as(
    api: &Api,
    origin: Option<&str>,
    path: &str,
    auth: Option<&str>,
    body: Value,
) -> crate::api::Reply {
    match origin {
        Some(origin) => api.post_from(origin, path, auth, body).await,
        None => api.post(path, auth, body).await,
    }
}
