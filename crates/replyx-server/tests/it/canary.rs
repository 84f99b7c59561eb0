//! The canary notices when delivery breaks — the bus deaf, the change feed that other
//! processes' events come through stuck or dead — and reports it in `/health/websocket`
//! and the metrics; readiness notices a stuck or dead poll loop too. While delivery
//! works the canary stays healthy and out of the operators' inbox, and before its first
//! round trip it says `starting`, never `healthy`.

use replyx_server::config::ServeOptions;
use replyx_testkit::faults::{DeafBus, Fault, Faults};
use replyx_testkit::{metric, Api, Fixture, TestOptions, TestServer};
use serde_json::Value;
use std::time::Duration;

/// A canary every 200 ms; a round may take a second (a loaded machine) before it fails.
fn fast_canary() -> ServeOptions {
    ServeOptions {
        canary_interval: Some(Duration::from_millis(200)),
        canary_timeout: Some(Duration::from_secs(1)),
        ..Default::default()
    }
}

/// Polls `GET path` until `ok` holds (the canary runs on its own clock; there is no
/// event a client could await). Bounded: fails after ten seconds.
pub(crate) async fn eventually(
    api: &Api,
    path: &str,
    ok: impl Fn(&Value, &str) -> bool,
) -> (Value, String) {
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
    let (status, ready) = fx.api.get("/health/ready", None).await;
    assert_eq!(status, 200, "{ready}");
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
        seams: DeafBus::seams(),
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

/// A server with a fast canary behind faults, once its canary says healthy.
async fn healthy_behind_faults() -> (TestServer, Api, Faults) {
    let faults = Faults::default();
    let server = TestServer::start_with(TestOptions {
        options: fast_canary(),
        seams: faults.seams(),
        ..Default::default()
    })
    .await;
    let api = Api::new(&server.base);
    eventually(&api, "/health/websocket", |h, _| h["status"] == "healthy").await;
    (server, api, faults)
}

/// The path other processes' events take — the store's change feed, read by the
/// store-watching bus's poll loop — is the one the canary's round trip crosses: when
/// the poll hangs, the canary turns the server degraded and readiness turns 503.
#[tokio::test]
async fn a_stuck_change_feed_turns_the_canary_degraded_and_readiness_unavailable() {
    let (_server, api, faults) = healthy_behind_faults().await;
    faults.store.changes(Fault::Hang);
    let (health, _) = eventually(&api, "/health/websocket", |h, _| h["status"] == "degraded").await;
    // Its round timed out, or no round came back within three intervals: either way.
    let problem = health["canary"]["problem"].as_str().unwrap();
    assert!(
        problem.contains("not delivered") || problem.contains("no good round trip"),
        "{health}"
    );
    // Readiness waits a little longer (a loaded machine may delay one poll): the loop
    // has completed no poll for five seconds.
    let (ready, _) = eventually(&api, "/health/ready", |r, _| r["status"] == "unavailable").await;
    assert!(
        ready["bus"]
            .as_str()
            .unwrap()
            .contains("no change feed poll completed"),
        "{ready}"
    );
    faults.store.changes(Fault::None);
}

/// A poll loop that died (here: a panic in the change feed) is reported by readiness
/// at once, and by the canary.
#[tokio::test]
async fn a_dead_poll_loop_turns_readiness_unavailable_and_the_canary_degraded() {
    let (_server, api, faults) = healthy_behind_faults().await;
    faults.store.changes(Fault::Panic);
    let (ready, _) = eventually(&api, "/health/ready", |r, _| r["status"] == "unavailable").await;
    assert!(
        ready["bus"].as_str().unwrap().contains("stopped"),
        "{ready}"
    );
    eventually(&api, "/health/websocket", |h, _| h["status"] == "degraded").await;
}

/// Before its first round trip has come back the canary has proven nothing: the
/// server says `starting`, not `healthy` (which the probe and deploys wait for).
#[tokio::test]
async fn before_its_first_round_trip_the_canary_says_starting_not_healthy() {
    let faults = Faults::default();
    faults.store.changes(Fault::Hang);
    let server = TestServer::start_with(TestOptions {
        options: ServeOptions {
            canary_interval: Some(Duration::from_secs(60)),
            canary_timeout: Some(Duration::from_secs(30)),
            ..Default::default()
        },
        seams: faults.seams(),
        ..Default::default()
    })
    .await;
    let (_, health) = Api::new(&server.base).get("/health/websocket", None).await;
    assert_eq!(health["status"], "starting", "{health}");
    assert_eq!(health["canary"]["problem"], Value::Null);
}
