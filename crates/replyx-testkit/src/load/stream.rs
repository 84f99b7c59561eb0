//! One socket of the load generator: connect with `since`, record every event, and on
//! any close reconnect (after the protocol's jitter for 1012, backoff otherwise) until
//! told to stop. Records each connection attempt, and how long each reconnect took.
//! In a reconnect storm it drops its connection when told, and reconnects at once
//! when released. While live it writes the pair's `message.send` frames (`SocketSend`)
//! and hands each its answer; a send still waiting when the socket goes is dropped
//! unanswered, and the pair sends it again by POST.

use super::sent::SentTimes;
use super::storm::Storm;
use futures_util::{SinkExt, StreamExt};
use serde_json::Value;
use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::{mpsc, oneshot, watch};
use tokio_tungstenite::tungstenite::Message;
use tokio_util::sync::CancellationToken;

/// Longest wait for a socket to connect (TCP and upgrade).
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// Longest wait for the close handshake at the end of the run.
const CLOSE_TIMEOUT: Duration = Duration::from_secs(5);

/// What one socket saw.
#[derive(Debug, Default)]
pub(crate) struct StreamLog {
    /// Every seq received of this socket's own dialog, in arrival order (repeats
    /// included). Seqs number each dialog's events from 1, so an event of another
    /// dialog is never counted here, where it could fill the place of a lost one.
    pub(crate) seqs: Vec<u64>,
    /// Events that carried another dialog's id (or none).
    pub(crate) misrouted: u64,
    /// Connection attempts and how many reached `replay.complete`.
    pub(crate) attempts: u64,
    pub(crate) successes: u64,
    /// For each reconnect: (ms since the run started when closed, ms until live again).
    pub(crate) reconnects: Vec<(f64, f64)>,
    /// Close codes received.
    pub(crate) closes: Vec<u16>,
    /// Live delivery latencies of this run's messages, from their first POST, in ms.
    pub(crate) latencies_ms: Vec<f64>,
}

/// A `message.send` for the socket to write once it is live; `answer` gets `true` on its
/// `message.ack`, `false` on an `error` naming its key, and is dropped unanswered when
/// the socket goes first.
pub(crate) struct SocketSend {
    pub(crate) frame: String,
    pub(crate) key: String,
    pub(crate) answer: oneshot::Sender<bool>,
}

pub(crate) struct Stream {
    /// Where the pair's sender queues `message.send` frames for this socket.
    pub(crate) sends: mpsc::UnboundedSender<SocketSend>,
    pub(crate) log: Arc<Mutex<StreamLog>>,
    /// The highest seq received; the pair awaits it at the end.
    pub(crate) last: Arc<watch::Sender<u64>>,
    pub(crate) done: CancellationToken,
    pub(crate) task: tokio::task::JoinHandle<()>,
}

/// What a socket shares with its run and its pair.
#[derive(Clone)]
pub(crate) struct StreamSetup {
    /// When the run began (reconnect times are reported from it).
    pub(crate) started: Instant,
    /// Source address to connect from.
    pub(crate) source: Option<IpAddr>,
    /// The run's reconnect storm, if any.
    pub(crate) storm: Option<Arc<Storm>>,
    /// When the pair posted each message.
    pub(crate) sent: Arc<SentTimes>,
    /// The dialog this socket is on.
    pub(crate) dialog: Arc<str>,
}

impl Stream {
    /// Starts a socket on `url_for(since)`, beginning at `since`.
    /// `origin` goes in the upgrade's `Origin` header (a site widget's page), `bearer`
    /// in `Authorization` (an operator's token: never in the URL).
    pub(crate) fn start(
        url_for: impl Fn(u64) -> String + Send + 'static,
        since: u64,
        origin: Option<Arc<str>>,
        bearer: Option<Arc<str>>,
        setup: StreamSetup,
    ) -> Stream {
        let log = Arc::new(Mutex::new(StreamLog::default()));
        let last = Arc::new(watch::Sender::new(since));
        let done = CancellationToken::new();
        let (sends, queued) = mpsc::unbounded_channel();
        let task = tokio::spawn(run(
            url_for,
            Headers { origin, bearer },
            queued,
            log.clone(),
            last.clone(),
            done.clone(),
            setup,
        ));
        Stream {
            sends,
            log,
            last,
            done,
            task,
        }
    }
}

/// What a socket's upgrade request carries besides its URL.
struct Headers {
    origin: Option<Arc<str>>,
    bearer: Option<Arc<str>>,
}

#[allow(clippy::too_many_arguments)] // one spawn site, each argument named there
async fn run(
    url_for: impl Fn(u64) -> String,
    headers: Headers,
    mut queued: mpsc::UnboundedReceiver<SocketSend>,
    log: Arc<Mutex<StreamLog>>,
    last: Arc<watch::Sender<u64>>,
    done: CancellationToken,
    setup: StreamSetup,
) {
    let StreamSetup {
        started,
        source,
        storm,
        sent,
        dialog,
    } = setup;
    let mut failures: u32 = 0;
    let mut closed_at: Option<Instant> = None;
    // `Some` until this socket has been through the storm.
    let mut storm_ahead = storm.clone();
    let mut storm_resuming = false;
    while !done.is_cancelled() {
        log.lock().expect("log").attempts += 1;
        let since = *last.borrow();
        let url = url_for(since);
        let connected = tokio::select! {
            c = tokio::time::timeout(CONNECT_TIMEOUT, connect(&url, &headers, source)) => c,
            _ = done.cancelled() => {
                // Cut short by the end of the run, not refused: no attempt at all.
                log.lock().expect("log").attempts -= 1;
                return;
            }
        };
        let mut socket = match connected {
            Ok(Ok(socket)) => socket,
            Ok(Err(_)) | Err(_) => {
                failures += 1;
                backoff(failures, &done).await;
                continue;
            }
        };
        let mut code = None;
        let mut live = false;
        let mut stormed = false;
        // Sends written on this socket and not answered yet, by key.
        let mut unanswered: HashMap<String, oneshot::Sender<bool>> = HashMap::new();
        loop {
            let next = tokio::select! {
                n = socket.next() => n,
                Some(send) = queued.recv(), if live => {
                    // A send its sender gave up on went by POST meanwhile.
                    if send.answer.is_closed() {
                        continue;
                    }
                    if socket.send(Message::Text(send.frame.into())).await.is_err() {
                        break;
                    }
                    unanswered.insert(send.key, send.answer);
                    continue;
                }
                _ = done.cancelled() => break,
                _ = storm_dropped(&storm_ahead) => { stormed = true; break }
            };
            let Some(Ok(message)) = next else { break };
            match message {
                Message::Text(text) => {
                    let Ok(frame) = serde_json::from_str::<Value>(text.as_str()) else {
                        continue;
                    };
                    let acked = frame["type"] == "message.ack";
                    if acked || frame["type"] == "error" {
                        if let Some(answer) = frame["client_msg_id"]
                            .as_str()
                            .and_then(|key| unanswered.remove(key))
                        {
                            let _ = answer.send(acked);
                        }
                        continue;
                    }
                    if frame["type"] == "replay.complete" && !live {
                        live = true;
                        failures = 0;
                        if std::mem::take(&mut storm_resuming) {
                            if let Some(storm) = &storm {
                                storm.resumed();
                            }
                        }
                        let mut l = log.lock().expect("log");
                        l.successes += 1;
                        if let Some(at) = closed_at.take() {
                            let since_start = at.duration_since(started).as_secs_f64() * 1000.0;
                            l.reconnects
                                .push((since_start, at.elapsed().as_secs_f64() * 1000.0));
                        }
                    }
                    if let Some(seq) = frame["seq"].as_u64() {
                        let mut l = log.lock().expect("log");
                        if frame["dialog_id"].as_str() != Some(&*dialog) {
                            l.misrouted += 1;
                            continue;
                        }
                        l.seqs.push(seq);
                        // Replayed messages waited for the reconnect; only live ones count.
                        let key = frame["message"]["client_msg_id"].as_str();
                        if let Some(took) = key.filter(|_| live).and_then(|k| sent.since_posted(k))
                        {
                            l.latencies_ms.push(took.as_secs_f64() * 1000.0);
                        }
                        last.send_if_modified(|l| {
                            let newer = seq > *l;
                            if newer {
                                *l = seq;
                            }
                            newer
                        });
                    }
                }
                Message::Close(frame) => {
                    code = frame.map(|f| u16::from(f.code));
                    break;
                }
                _ => {}
            }
        }
        if done.is_cancelled() {
            if !live {
                // Cut short by the end of the run, not refused: no attempt at all.
                log.lock().expect("log").attempts -= 1;
            }
            let _ = tokio::time::timeout(CLOSE_TIMEOUT, socket.close(None)).await;
            return;
        }
        if let (true, Some(storm)) = (stormed, storm_ahead.take()) {
            // Gone without a close frame, like a lost link; back as soon as released.
            drop(socket);
            storm.hold(&done).await;
            storm_resuming = true;
            continue;
        }
        closed_at = Some(Instant::now());
        if let Some(c) = code {
            log.lock().expect("log").closes.push(c);
        }
        if code == Some(1012) {
            // The protocol's restart jitter: 0.5–5 s.
            let wait = Duration::from_millis(500 + rand::random::<u64>() % 4500);
            sleep_unless_done(wait, &done).await;
        } else {
            failures += 1;
            backoff(failures, &done).await;
        }
    }
}

/// Resolves when the storm begins; never, for a socket with no storm ahead of it.
async fn storm_dropped(storm: &Option<Arc<Storm>>) {
    match storm {
        Some(storm) => storm.dropped().await,
        None => std::future::pending().await,
    }
}

type Socket =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// Connects with `Origin` when given, from `source` when given: one source address has
/// ~28,000 ephemeral ports toward one server port, so runs past that spread sockets
/// over 127.0.0.0/8.
async fn connect(
    url: &str,
    headers: &Headers,
    source: Option<IpAddr>,
) -> Result<Socket, tokio_tungstenite::tungstenite::Error> {
    use tokio_tungstenite::tungstenite::client::IntoClientRequest;
    use tokio_tungstenite::tungstenite::http::HeaderValue;
    let header = |v: String| {
        HeaderValue::from_str(&v)
            .map_err(|e| tokio_tungstenite::tungstenite::Error::HttpFormat(e.into()))
    };
    let mut request = url.into_client_request()?;
    if let Some(origin) = &headers.origin {
        request
            .headers_mut()
            .insert("origin", header(origin.to_string())?);
    }
    if let Some(token) = &headers.bearer {
        request
            .headers_mut()
            .insert("authorization", header(format!("Bearer {token}"))?);
    }
    let Some(source) = source else {
        return tokio_tungstenite::connect_async(request)
            .await
            .map(|(s, _)| s);
    };
    let host = request.uri().host().unwrap_or("127.0.0.1").to_owned();
    let port = request.uri().port_u16().unwrap_or(80);
    let addr = tokio::net::lookup_host((host.as_str(), port))
        .await?
        .next()
        .ok_or_else(|| std::io::Error::new(std::io::ErrorKind::NotFound, "no address"))?;
    let socket = if addr.is_ipv4() {
        tokio::net::TcpSocket::new_v4()?
    } else {
        tokio::net::TcpSocket::new_v6()?
    };
    socket.bind(std::net::SocketAddr::new(source, 0))?;
    let tcp = socket.connect(addr).await?;
    let stream = tokio_tungstenite::MaybeTlsStream::Plain(tcp);
    tokio_tungstenite::client_async(request, stream)
        .await
        .map(|(s, _)| s)
}

async fn backoff(failures: u32, done: &CancellationToken) {
    let ceiling = 250u64.saturating_mul(1 << failures.min(6)).min(5000);
    sleep_unless_done(
        Duration::from_millis(rand::random::<u64>() % ceiling + 50),
        done,
    )
    .await;
}

async fn sleep_unless_done(wait: Duration, done: &CancellationToken) {
    tokio::select! {
        _ = tokio::time::sleep(wait) => {}
        _ = done.cancelled() => {}
    }
}
