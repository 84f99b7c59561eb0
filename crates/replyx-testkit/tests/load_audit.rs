//! The load generator's audit is an instrument: it must fail the run when delivery
//! breaks. Against a server whose bus drops every event on purpose, the same run that
//! passes against a working server reports the loss and fails.

use replyx_testkit::faults::{EventFault, Faults};
use replyx_testkit::load::{run_chat, ChatLoad, SendVia, SiteEntry};
use replyx_testkit::{Fixture, TestOptions, TestServer};
use std::time::Duration;

async fn run(server: &TestServer, send_via: SendVia) -> replyx_testkit::load::Report {
    let fx = Fixture::seed(server).await;
    run_chat(ChatLoad {
        url: server.base.clone(),
        http_url: None,
        assistant_id: fx.assistant_id.clone(),
        operator_email: "ann@example.test".into(),
        operator_password: "correct horse battery".into(),
        pairs: 4,
        duration: Duration::from_millis(1500),
        interval: Duration::from_millis(100),
        settle: Duration::from_secs(5),
        sources: Vec::new(),
        storm: None,
        site: Some(SiteEntry {
            token: fx.site_token.clone(),
            origin: replyx_testkit::SITE_ORIGIN.into(),
        }),
        send_via,
    })
    .await
    .expect("the run sets up")
}

#[tokio::test]
async fn the_audit_passes_a_working_server_and_fails_one_that_loses_events() {
    let working = TestServer::start().await;
    let report = run(&working, SendVia::Http).await;
    assert_eq!(report.failures(0.999), Vec::<String>::new(), "{report:?}");
    assert!(report.events_expected > 0);
    // Both ways in, each audited: half the visitors came through the site routes.
    let kinds: Vec<(&str, usize)> = report
        .clients_by_kind
        .iter()
        .map(|(k, n)| (k.as_str(), *n))
        .collect();
    assert_eq!(kinds, [("admin", 4), ("site", 2), ("widget", 2)]);

    let faults = Faults::default();
    faults.bus.set(EventFault::Drop);
    let lossy = TestServer::start_with(TestOptions {
        seams: faults.seams(),
        ..Default::default()
    })
    .await;
    let report = run(&lossy, SendVia::Http).await;
    assert!(faults.bus.dropped() > 0);
    assert!(report.lost > 0, "{report:?}");
    let why = report.failures(0.999).join("; ");
    assert!(why.contains("lost"), "{why}");
}

/// The message routes of both visitor ways and of operators, as the server's
/// `http_requests_total` labels them, and how many requests each got.
fn message_posts(exposition: &str) -> f64 {
    exposition
        .lines()
        .filter(|l| l.starts_with("http_requests_total{") && l.contains("/messages\""))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}

#[tokio::test]
async fn sending_on_the_sockets_passes_the_same_audit_without_a_single_post() {
    let server = TestServer::start().await;
    let report = run(&server, SendVia::Socket).await;
    assert_eq!(report.failures(0.999), Vec::<String>::new(), "{report:?}");
    assert!(report.messages_sent > 0);
    assert_eq!(
        report.send_retries, 0,
        "every send answered on its socket: {report:?}"
    );
    assert_eq!(message_posts(&server.metrics().await), 0.0);

    // The same count reads the POSTs of a run over HTTP (so 0 above is not a label
    // this function cannot find).
    let over_http = TestServer::start().await;
    let report = run(&over_http, SendVia::Http).await;
    assert_eq!(
        message_posts(&over_http.metrics().await),
        report.messages_sent as f64
    );
}
