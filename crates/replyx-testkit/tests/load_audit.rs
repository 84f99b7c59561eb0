//! The load generator's audit is an instrument: it must fail the run when delivery
//! breaks. Against a server whose bus drops every event on purpose, the same run that
//! passes against a working server reports the loss and fails.

use replyx_testkit::faults::{EventFault, Faults};
use replyx_testkit::load::{run_chat, ChatLoad, SiteEntry};
use replyx_testkit::{Fixture, TestOptions, TestServer};
use std::time::Duration;

async fn run(server: &TestServer) -> replyx_testkit::load::Report {
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
    })
    .await
    .expect("the run sets up")
}

#[tokio::test]
async fn the_audit_passes_a_working_server_and_fails_one_that_loses_events() {
    let working = TestServer::start().await;
    let report = run(&working).await;
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
    let report = run(&lossy).await;
    assert!(faults.bus.dropped() > 0);
    assert!(report.lost > 0, "{report:?}");
    let why = report.failures(0.999).join("; ");
    assert!(why.contains("lost"), "{why}");
}
