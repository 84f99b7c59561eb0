//! `replyx probe`: a synthetic visitor from outside. It checks `/health/websocket`,
//! loads a probe dialog, opens the socket with `since`, posts a message and times the
//! round trip until the message comes back on the socket. Deploy scripts and scheduled
//! checks run it; it exits non-zero with the reason when anything is off.

use futures_util::StreamExt;
use serde::Serialize;
use serde_json::{json, Value};
use std::time::{Duration, Instant};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::Message;

/// The probe's guest id: every run reuses one dialog.
const PROBE_GUEST: &str = "replyx-probe-visitor";

/// Which way in the probe uses.
#[derive(Debug, Clone)]
pub enum ProbeTarget {
    /// Widget kind, by assistant id.
    Widget(String),
    /// Site kind, by site token; the Origin sent is `origin` or the token's first domain.
    Site {
        /// The site token.
        token: String,
        /// Origin header to send.
        origin: Option<String>,
    },
}

/// One check and its outcome.
#[derive(Debug, Clone, Serialize)]
pub struct Check {
    /// What was checked.
    pub name: &'static str,
    /// Whether it passed.
    pub ok: bool,
    /// Details or the reason it failed.
    pub detail: String,
}

/// The probe's report.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    /// All checks passed.
    pub ok: bool,
    /// The server probed.
    pub url: String,
    /// The checks in order; the first failure ends the run.
    pub checks: Vec<Check>,
    /// Round trip from POST to the event on the socket, in milliseconds.
    pub latency_ms: Option<f64>,
}

/// Runs the probe against `url`.
pub async fn run(
    url: &str,
    target: &ProbeTarget,
    max_latency: Duration,
    timeout: Duration,
) -> Report {
    let base = url.trim_end_matches('/').to_owned();
    let mut report = Report {
        ok: false,
        url: base.clone(),
        checks: Vec::new(),
        latency_ms: None,
    };
    match tokio::time::timeout(timeout, steps(&base, target, max_latency, &mut report)).await {
        Ok(Ok(())) => report.ok = report.checks.iter().all(|c| c.ok),
        Ok(Err(e)) => report.checks.push(Check {
            name: "probe",
            ok: false,
            detail: format!("{e:#}"),
        }),
        Err(_) => report.checks.push(Check {
            name: "probe",
            ok: false,
            detail: format!("timed out after {timeout:?}"),
        }),
    }
    report
}

/// How long the probe waits for a process whose canary has not finished its first
/// round (`starting`) to say `healthy` or `degraded`.
const STARTING_PATIENCE: Duration = Duration::from_secs(15);

/// `/health/websocket`, asked again while it says `starting` (a process that has not
/// yet proven delivery is neither healthy nor broken), for up to `STARTING_PATIENCE`.
async fn settled_health(http: &reqwest::Client, base: &str) -> anyhow::Result<Value> {
    let deadline = tokio::time::Instant::now() + STARTING_PATIENCE;
    loop {
        let health: Value = http
            .get(format!("{base}/health/websocket"))
            .send()
            .await?
            .error_for_status()?
            .json()
            .await?;
        if health["status"] != "starting" || tokio::time::Instant::now() >= deadline {
            return Ok(health);
        }
        // Polling pace: the canary's round is the server's own clock, with no event
        // for the probe to await.
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn pass(report: &mut Report, name: &'static str, detail: String) {
    report.checks.push(Check {
        name,
        ok: true,
        detail,
    });
}

async fn steps(
    base: &str,
    target: &ProbeTarget,
    max_latency: Duration,
    report: &mut Report,
) -> anyhow::Result<()> {
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()?;

    let health = settled_health(&http, base).await?;
    let status = health["status"].as_str().unwrap_or("unknown");
    anyhow::ensure!(
        status == "healthy",
        "/health/websocket says {status}: {}",
        health["canary"]["problem"]
    );
    pass(
        report,
        "health",
        format!("status {status}, version {}", health["version"]),
    );

    let (kind, origin, body, socket_auth) = match target {
        ProbeTarget::Widget(id) => (
            "widget",
            None,
            json!({"assistant_id": id, "guest_id": PROBE_GUEST}),
            format!("assistant_id={id}"),
        ),
        ProbeTarget::Site { token, origin } => {
            let origin = origin.clone().or_else(|| origin_from_token(token));
            (
                "site",
                origin,
                json!({"site_token": token, "guest_id": PROBE_GUEST}),
                format!("site_token={token}"),
            )
        }
    };
    let mut load = http.post(format!("{base}/api/{kind}/dialogs")).json(&body);
    if let Some(o) = &origin {
        load = load.header("origin", o);
    }
    let response = load.send().await?;
    let status_code = response.status();
    let loaded: Value = response.json().await?;
    anyhow::ensure!(
        status_code.is_success(),
        "dialog load answered {status_code}: {}",
        loaded["error"]
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
    pass(
        report,
        "dialog",
        format!("{kind} dialog {dialog} at seq {since}"),
    );

    let ws_base = base.replacen("http", "ws", 1);
    let url = format!("{ws_base}/ws/{kind}/dialogs/{dialog}?{socket_auth}&guest_token={guest_token}&since={since}");
    let mut request = url.into_client_request()?;
    if let Some(o) = &origin {
        request.headers_mut().insert("origin", o.parse()?);
    }
    let (mut socket, _) = tokio_tungstenite::connect_async(request).await?;
    wait_for(&mut socket, |f| f["type"] == "replay.complete").await?;
    pass(report, "socket", "connected and replayed".into());

    let nonce = uuid::Uuid::new_v4().to_string();
    let started = Instant::now();
    let mut post = http
        .post(format!("{base}/api/{kind}/dialogs/{dialog}/messages"))
        .bearer_auth(&guest_token)
        .json(&json!({"text": format!("replyx probe {nonce}"), "client_msg_id": nonce}));
    if let Some(o) = &origin {
        post = post.header("origin", o);
    }
    let posted = post.send().await?;
    anyhow::ensure!(
        posted.status().is_success(),
        "posting answered {}",
        posted.status()
    );
    wait_for(&mut socket, |f| {
        f["message"]["client_msg_id"] == nonce.as_str()
    })
    .await?;
    let latency = started.elapsed();
    report.latency_ms = Some(latency.as_secs_f64() * 1000.0);
    let _ = socket.close(None).await;
    anyhow::ensure!(
        latency <= max_latency,
        "round trip {latency:?} is over the limit {max_latency:?}"
    );
    pass(
        report,
        "round_trip",
        format!("{:.1} ms", latency.as_secs_f64() * 1000.0),
    );
    Ok(())
}

type Socket =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

async fn wait_for(socket: &mut Socket, pred: impl Fn(&Value) -> bool) -> anyhow::Result<Value> {
    while let Some(message) = socket.next().await {
        match message? {
            Message::Text(text) => {
                let frame: Value = serde_json::from_str(text.as_str())?;
                if pred(&frame) {
                    return Ok(frame);
                }
            }
            Message::Close(frame) => anyhow::bail!("socket closed: {frame:?}"),
            _ => {}
        }
    }
    anyhow::bail!("socket ended")
}

/// The first allowed domain of a site token, as an https origin. The payload is read
/// without checking the signature: the server checks it.
fn origin_from_token(token: &str) -> Option<String> {
    use base64::Engine;
    let payload = token.split('.').nth(1)?;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload)
        .ok()?;
    let claims: Value = serde_json::from_slice(&bytes).ok()?;
    let domain = claims["domains"].get(0)?.as_str()?;
    Some(format!("https://{domain}"))
}
