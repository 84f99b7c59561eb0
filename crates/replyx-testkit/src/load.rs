//! A lean load generator with a seq audit, for the deploy test and the benchmarks: many
//! visitor/operator pairs per process exchanging messages (over HTTP, or as
//! `message.send` frames on their own sockets: `SendVia`) while their sockets
//! record every event, reconnecting with `since` whenever they are closed (a deploy's
//! 1012, a dropped link). At the end every socket's stream is compared with the server's
//! log: nothing may be missing or repeated. Optionally, a reconnect storm
//! (`storm`) drops every socket at once in the middle of the run.

mod audit;
mod pair;
mod report;
mod sent;
mod storm;
mod stream;

pub use report::Report;
pub use storm::{StormPlan, StormReport};

use crate::Api;
use futures_util::StreamExt;
use pair::Pair;
use serde_json::json;
use std::sync::Arc;
use std::time::{Duration, Instant};
use storm::Storm;

/// What to run.
#[derive(Debug, Clone)]
pub struct ChatLoad {
    /// Base URL (a server or the proxy in front of it).
    pub url: String,
    /// Where HTTP requests go when not to `url` (sockets on one node, writes through
    /// the proxy to any node: the cross-node traffic a cluster measurement needs).
    pub http_url: Option<String>,
    /// The assistant visitors talk to.
    pub assistant_id: String,
    /// Operator login.
    pub operator_email: String,
    /// Operator password.
    pub operator_password: String,
    /// Visitor/operator pairs (two sockets each).
    pub pairs: usize,
    /// How long messages are sent.
    pub duration: Duration,
    /// Pause between one pair's messages (jittered ±50%).
    pub interval: Duration,
    /// How long to wait at the end for every socket to catch up (one deadline for all).
    pub settle: Duration,
    /// Source addresses to spread sockets over (pair i uses the i-th, round-robin);
    /// empty: the system's choice.
    pub sources: Vec<std::net::IpAddr>,
    /// A reconnect storm during the run, counted from the end of the set-up.
    pub storm: Option<StormPlan>,
    /// With it, every second pair is a visitor of the widget embedded on a customer
    /// page (`/api/site`, `/ws/site`, with `Origin`) instead of the iframe widget.
    pub site: Option<SiteEntry>,
    /// How messages are sent.
    pub send_via: SendVia,
}

/// How the pairs send their messages.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum SendVia {
    /// `POST .../messages`.
    #[default]
    Http,
    /// `message.send` on the sender's own socket, answered by `message.ack`; a send the
    /// socket does not answer (it closed, or 5 s passed) goes by POST with the same key,
    /// as the widget does.
    Socket,
}

/// The site way in: a site token and the page origin its assistant allows.
#[derive(Debug, Clone)]
pub struct SiteEntry {
    /// `POST /api/assistants/{id}/site-token` (or `replyx assistant add`) output.
    pub token: String,
    /// The page origin sent as `Origin` (one of the assistant's allowed domains).
    pub origin: String,
}

/// What every pair of one run shares.
pub(crate) struct RunShared {
    /// When the run began (reconnect times are reported from it).
    pub(crate) started: Instant,
    /// Fires when the senders stop.
    pub(crate) stop: tokio_util::sync::CancellationToken,
    /// The reconnect storm, when the run has one.
    pub(crate) storm: Option<Arc<Storm>>,
}

/// Runs the chat scenario and audits every stream.
///
/// # Errors
/// Setup failed (login, dialog loads).
pub async fn run_chat(load: ChatLoad) -> anyhow::Result<Report> {
    let interrupted = on_interrupt();
    let api = Api::new(load.http_url.as_deref().unwrap_or(&load.url));
    let (status, login) = api
        .post(
            "/api/auth/login",
            None,
            json!({"email": load.operator_email, "password": load.operator_password}),
        )
        .await;
    anyhow::ensure!(status == 200, "operator login failed: {status} {login}");
    let token: Arc<str> = login["token"].as_str().unwrap_or_default().into();
    let run_id = uuid_suffix();
    let run = RunShared {
        started: Instant::now(),
        stop: tokio_util::sync::CancellationToken::new(),
        storm: load.storm.map(|_| Arc::new(Storm::default())),
    };
    let mut pairs = Vec::with_capacity(load.pairs);
    for i in 0..load.pairs {
        pairs.push(
            Pair::start(
                &load,
                &api,
                token.clone(),
                &format!("load-{run_id}-{i}"),
                load.site.as_ref().filter(|_| i % 2 == 1),
                &run,
                (!load.sources.is_empty()).then(|| load.sources[i % load.sources.len()]),
            )
            .await?,
        );
    }
    let end = tokio::time::Instant::now() + load.duration;
    let mut missed = None;
    if let (Some(storm), Some(plan)) = (&run.storm, load.storm) {
        tokio::select! {
            _ = tokio::time::sleep(plan.at) => {
                missed = Some(storm_round(storm, &pairs, &api, plan.outage).await);
            }
            _ = interrupted.cancelled() => {}
        }
    }
    // SIGINT ends the sending phase early (a deploy test stops the load once its steps
    // are done); the settle and the audit run all the same.
    tokio::select! {
        _ = tokio::time::sleep_until(end) => {}
        _ = interrupted.cancelled() => {}
    }
    run.stop.cancel();
    let mut report = Report::new(load.pairs, run.started);
    // Every sender first (one may still be retrying a send), then one deadline for
    // every pair: sockets that never catch up (a broken server) cost the run one
    // settle, not one per pair.
    let mut stats = Vec::with_capacity(pairs.len());
    for pair in &mut pairs {
        stats.push(pair.stop_sending().await);
    }
    let settled_by = tokio::time::Instant::now() + load.settle;
    for (pair, stats) in pairs.into_iter().zip(stats) {
        pair.finish(stats, &api, &token, settled_by, &mut report)
            .await;
    }
    // After the settle, so a socket that took longer than the rest of the run to
    // resume is still counted (and sets `resume_all_ms`).
    if let (Some(storm), Some(missed)) = (&run.storm, missed) {
        report.send_failures += load.pairs as u64 - missed;
        report.storm = Some(storm.report(missed));
    }
    report.finish_figures();
    report.elapsed_s = run.started.elapsed().as_secs_f64();
    Ok(report)
}

/// Drops every socket, stores one message per dialog while they are all down, keeps
/// them down for at least `outage`, and releases them together. Returns how many of the
/// missed messages were stored.
async fn storm_round(storm: &Storm, pairs: &[Pair], api: &Api, outage: Duration) -> u64 {
    let began = tokio::time::Instant::now();
    storm
        .drop_all(2 * pairs.len(), Duration::from_secs(10))
        .await;
    let stored = futures_util::stream::iter(pairs)
        .map(|pair| pair.send_missed(api))
        .buffer_unordered(64)
        .filter(|stored| std::future::ready(*stored))
        .count()
        .await;
    tokio::time::sleep_until(began + outage).await;
    storm.release();
    stored as u64
}

/// Fires on the first SIGINT, at any point of the run (set-up included): the run stops
/// sending and audits what it sent. A second SIGINT ends the process at once, for an
/// audit that itself hangs.
fn on_interrupt() -> tokio_util::sync::CancellationToken {
    let interrupted = tokio_util::sync::CancellationToken::new();
    let fire = interrupted.clone();
    tokio::spawn(async move {
        if tokio::signal::ctrl_c().await.is_ok() {
            eprintln!("replyx-load: interrupted; auditing what was sent (again to quit)");
            fire.cancel();
            if tokio::signal::ctrl_c().await.is_ok() {
                std::process::exit(130);
            }
        }
    });
    interrupted
}

fn uuid_suffix() -> String {
    format!("{:08x}", rand::random::<u32>())
}
