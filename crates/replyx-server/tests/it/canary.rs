//! The canary notices when delivery breaks, and reports it in `/health/websocket` and the
//! metrics; while delivery works it stays healthy and out of the operators' inbox.

use replyx_core::{Bus, BusMessage, BusSink};
use replyx_server::config::ServeOptions;
use replyx_testkit::{Api, Fixture, TestOptions, TestServer};
use serde_json::Value;
use std::sync::Arc;
use std::time::Duration;

/// A bus that accepts everything and delivers nothing: the "sockets open, nothing
/// arriving" failure.
struct DeafBus;

#[async_trait::async_trait]
impl Bus for DeafBus {
    fn attach(&self, _sink: Arc<dyn BusSink>) {}
    async fn publish(&self, _message: BusMessage) -> Result<(), String> {
        Ok(())
    }
    async fn health(&self) -> Result<(), String> {
        Ok(())
    }
    fn name(&self) -> &'static str {
        "deaf"
    }
}

fn fast_canary() -> ServeOptions {
    ServeOptions {
        canary_interval: Some(Duration::from_millis(100)),
        canary_timeout: Some(Duration::from_millis(300)),
        ..Default::default()
    }
}

/// Polls `GET path` until `ok` holds (the canary runs on its own clock; there is no
/// event a client could await). Bounded: fails after ten seconds.
async fn eventually(api: &Api, path: &str, ok: impl Fn(&Value, &str) -> bool) -> (Value, String) {
    let mut tick = tokio::time::interval(Duration::from_millis(50));
    for _ in 0..200 {
        tick.tick().await;
        let (_, health) = api.get(path, None).await;
        let metrics = reqwest::get(format!("{}/metrics", api.base))
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        if ok(&health, &metrics) {
            return (health, metrics);
        }
    }
    panic!("condition not reached on {path}");
}

fn metric(text: &str, name: &str) -> f64 {
    text.lines()
        .find(|l| l.starts_with(name) && l[name.len()..].starts_with(' '))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
        .unwrap_or(0.0)
}

#[tokio::test]
async fn a_working_canary_keeps_the_server_healthy_and_out_of_the_inbox() {
    let server = TestServer::start_with(TestOptions {
        options: fast_canary(),
        ..Default::default()
    })
    .await;
    let fx = Fixture::seed(&server).await;
    let (health, metrics) = eventually(&fx.api, "/health/websocket", |_, m| {
        metric(m, "replyx_canary_round_trip_seconds_count") >= 3.0
    })
    .await;
    assert_eq!(health["status"], "healthy", "{health}");
    assert_eq!(metric(&metrics, "replyx_canary_failures_total"), 0.0);
    assert!(metric(&metrics, "replyx_canary_age_seconds") < 5.0);
    let (_, list) = fx.api.get("/api/dialogs", Some(&fx.operator_token)).await;
    assert_eq!(
        list["dialogs"].as_array().unwrap().len(),
        0,
        "the canary dialog is not in the inbox"
    );
    assert_eq!(
        health["active_admin_connections"], 0,
        "the canary is not a socket"
    );
}

#[tokio::test]
async fn when_delivery_breaks_the_canary_reports_degraded() {
    let server = TestServer::start_with(TestOptions {
        options: fast_canary(),
        bus: Some(Arc::new(DeafBus)),
        ..Default::default()
    })
    .await;
    let api = Api::new(&server.base);
    let (health, metrics) = eventually(&api, "/health/websocket", |h, m| {
        h["status"] == "degraded" && metric(m, "replyx_canary_failures_total") >= 1.0
    })
    .await;
    assert!(
        health["canary"]["problem"]
            .as_str()
            .unwrap()
            .contains("not delivered"),
        "{health}"
    );
    assert_eq!(
        metric(&metrics, "replyx_canary_last_success_timestamp_seconds"),
        0.0
    );
}
