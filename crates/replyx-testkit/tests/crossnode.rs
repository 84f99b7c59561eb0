//! The cluster's feature check is an instrument: it passes a working server and fails,
//! naming the step, one whose bus loses events.

use replyx_testkit::crossnode::run_round;
use replyx_testkit::faults::{EventFault, Faults};
use replyx_testkit::{Fixture, TestOptions, TestServer};

#[tokio::test]
async fn a_round_passes_a_working_server_with_every_step_audited() {
    let server = TestServer::start().await;
    let fx = Fixture::seed(&server).await;
    let base = server.base.as_str();
    let log = run_round(&fx, [base, base, base])
        .await
        .unwrap_or_else(|f| panic!("{f}"));
    assert_eq!(log.passed.len(), 10, "{:#?}", log.passed);
    assert!(log.passed.iter().any(|s| s.starts_with("visitor typing")));
    assert!(log.passed.iter().any(|s| s.contains("read mark")));
    // Welcome, message (and the assistant's answer), take, reply, close: on the
    // operator socket all of them, on the visitor's everything after its load.
    assert!(log.audited_events >= 9, "{log:?}");
}

#[tokio::test]
async fn a_round_fails_at_the_first_event_a_lossy_bus_drops() {
    let faults = Faults::default();
    let server = TestServer::start_with(TestOptions {
        seams: faults.seams(),
        ..Default::default()
    })
    .await;
    let fx = Fixture::seed(&server).await;
    faults.bus.set(EventFault::Drop);
    let base = server.base.as_str();
    let failure = run_round(&fx, [base, base, base])
        .await
        .expect_err("events are dropped");
    assert!(faults.bus.dropped() > 0);
    assert!(
        failure
            .step
            .contains("visitor message to the visitor socket"),
        "{failure}"
    );
    assert!(failure.why.contains("timed out"), "{failure}");
}
