//! A lean load generator with a seq audit, for the deploy test and the benchmarks: many
//! visitor/operator pairs per process exchanging messages over HTTP while their sockets
//! record every event, reconnecting with `since` whenever they are closed (a deploy's
//! 1012, a dropped link). At the end every socket's stream is compared with the server's
//! log: nothing may be missing or repeated.

mod pair;
mod report;
mod stream;

pub use report::Report;

use crate::Api;
use pair::Pair;
use serde_json::json;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// What to run.
#[derive(Debug, Clone)]
pub struct ChatLoad {
    /// Base URL (a server or the proxy in front of it).
    pub url: String,
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
    /// How long to wait at the end for every socket to catch up.
    pub settle: Duration,
    /// Source addresses to spread sockets over (pair i uses the i-th, round-robin);
    /// empty: the system's choice.
    pub sources: Vec<std::net::IpAddr>,
}

/// Runs the chat scenario and audits every stream.
///
/// # Errors
/// Setup failed (login, dialog loads).
pub async fn run_chat(load: ChatLoad) -> anyhow::Result<Report> {
    let api = Api::new(&load.url);
    let (status, login) = api
        .post(
            "/api/auth/login",
            None,
            json!({"email": load.operator_email, "password": load.operator_password}),
        )
        .await;
    anyhow::ensure!(status == 200, "operator login failed: {status} {login}");
    let token: Arc<str> = login["token"].as_str().unwrap_or_default().into();
    let run = uuid_suffix();
    let started = Instant::now();
    let stop = tokio_util::sync::CancellationToken::new();
    let mut pairs = Vec::with_capacity(load.pairs);
    for i in 0..load.pairs {
        pairs.push(
            Pair::start(
                &load,
                &api,
                token.clone(),
                &format!("load-{run}-{i}"),
                started,
                stop.clone(),
                (!load.sources.is_empty()).then(|| load.sources[i % load.sources.len()]),
            )
            .await?,
        );
    }
    tokio::time::sleep(load.duration).await;
    stop.cancel();
    let mut report = Report::new(load.pairs, started);
    for pair in pairs {
        pair.finish(&api, &token, load.settle, &mut report).await;
    }
    report.elapsed_s = started.elapsed().as_secs_f64();
    Ok(report)
}

fn uuid_suffix() -> String {
    format!("{:08x}", rand::random::<u32>())
}
