//! The recovery paths, each driven on purpose with a bus that holds back, drops,
//! duplicates and reorders what it hands to the hub (`replyx_testkit::faults`): the
//! session's gap fill, a pong that reveals a missed event, a resume racing a live
//! event, repeats and reordering. (A burst past a slow consumer's outbox, which must
//! close it with 1013, is `historic_bugs::a_lagging_consumer_silently_stopped`.) A path
//! that no test needs is a path whose bugs nobody sees — and whose silent repairs hide
//! bugs elsewhere — so each test also asserts, through `replyx_ws_gap_fills_total`,
//! that the path it is about was taken (or not).

use crate::{seqs, texts, ws_base};
use replyx_server::config::ServeOptions;
use replyx_testkit::faults::{EventFault, Faults};
use replyx_testkit::{metric, Fixture, TestOptions, TestServer, Visitor, WsClient};

/// A server behind faults, its fixture, one widget dialog, and a visitor and an
/// operator socket on it (both live).
async fn faulty(
    options: ServeOptions,
) -> (TestServer, Fixture, Faults, Visitor, WsClient, WsClient) {
    let faults = Faults::default();
    let server = TestServer::start_with(TestOptions {
        options,
        seams: faults.seams(),
        ..Default::default()
    })
    .await;
    let fx = Fixture::seed(&server).await;
    let v = fx.open_widget(None).await;
    faults.bus.only(v.dialog_id.parse().unwrap());
    let base = ws_base(&server);
    let mut visitor = v.connect(&base, &fx, Some(v.loaded_seq())).await;
    visitor.handshake().await;
    let mut admin = fx
        .admin_socket(&base, &v.dialog_id, Some(v.loaded_seq()))
        .await;
    admin.handshake().await;
    (server, fx, faults, v, visitor, admin)
}

async fn gap_fills(server: &TestServer, kind: &str) -> f64 {
    let text = server.metrics().await;
    metric(
        &text,
        &format!("replyx_ws_gap_fills_total{{type=\"{kind}\"}}"),
    )
}

/// Events a socket received before a ping's pong, and the pong.
async fn until_barrier(socket: &mut WsClient) -> (Vec<serde_json::Value>, serde_json::Value) {
    let (frames, pong) = socket.barrier().await;
    let events = frames.into_iter().filter(|f| f["seq"].is_u64()).collect();
    (events, pong)
}

/// Stores a marker after everything under test and returns, per socket, the events it
/// received before the marker. An outbox is first in, first out, so whatever was still
/// on its way to a socket arrives before the marker (a ping's pong could overtake it).
async fn before_marker(
    fx: &Fixture,
    v: &Visitor,
    sockets: [&mut WsClient; 2],
) -> Vec<Vec<serde_json::Value>> {
    let marker = fx.operator_says(&v.dialog_id, "marker", false).await;
    let mut all = Vec::new();
    for socket in sockets {
        let (_, before) = socket.until(|f| f["seq"] == marker["seq"]).await;
        all.push(before.into_iter().filter(|f| f["seq"].is_u64()).collect());
    }
    all
}

#[tokio::test]
async fn an_event_held_back_by_the_bus_is_filled_from_the_store_when_the_next_reveals_the_gap() {
    let (server, fx, faults, v, mut visitor, mut admin) = faulty(ServeOptions::default()).await;
    faults.bus.set(EventFault::Hold);
    let first = fx.operator_says(&v.dialog_id, "held back", false).await;
    assert_eq!(faults.bus.held(), 1);
    faults.bus.set(EventFault::Pass);
    let second = fx.operator_says(&v.dialog_id, "passes", false).await;
    for socket in [&mut visitor, &mut admin] {
        assert_eq!(
            socket.next_event().await["seq"],
            first["seq"],
            "filled first"
        );
        assert_eq!(socket.next_event().await["seq"], second["seq"]);
    }
    assert_eq!(gap_fills(&server, "widget").await, 1.0);
    assert_eq!(gap_fills(&server, "admin").await, 1.0);

    // The held copy arrives at last: it is a duplicate now, and dropped.
    faults.bus.release();
    for events in before_marker(&fx, &v, [&mut visitor, &mut admin]).await {
        assert!(events.is_empty(), "sent once: {events:?}");
    }
}

#[tokio::test]
async fn a_pong_reveals_an_event_the_bus_dropped_and_the_log_has_it() {
    let (server, fx, faults, v, mut visitor, _admin) = faulty(ServeOptions::default()).await;
    faults.bus.set(EventFault::Drop);
    let lost = fx
        .operator_says(&v.dialog_id, "never delivered live", false)
        .await;
    assert_eq!(faults.bus.dropped(), 1);
    let (events, pong) = until_barrier(&mut visitor).await;
    assert!(events.is_empty(), "{events:?}");
    // Nothing live revealed the gap; the pong does, and the client reads it.
    assert_eq!(pong["last_seq"], lost["seq"]);
    let fetched = v.events(&fx.api, v.loaded_seq()).await;
    assert_eq!(seqs(&fetched), [lost["seq"].as_u64().unwrap()]);
    assert_eq!(
        gap_fills(&server, "widget").await,
        0.0,
        "no live event, no gap fill"
    );
}

#[tokio::test]
async fn a_resume_racing_a_live_event_delivers_it_once() {
    let (server, fx, faults, v, mut visitor, _admin) = faulty(ServeOptions::default()).await;
    // Stored, but still on its way through the bus when the socket connects.
    faults.bus.set(EventFault::Hold);
    let racing = fx.operator_says(&v.dialog_id, "in flight", false).await;
    let mut late = v
        .connect(&ws_base(&server), &fx, Some(v.loaded_seq()))
        .await;
    let (_, replay) = late.handshake().await;
    assert_eq!(
        seqs(&replay),
        [racing["seq"].as_u64().unwrap()],
        "in the replay"
    );
    faults.bus.release();
    let [late_events, _] =
        <[_; 2]>::try_from(before_marker(&fx, &v, [&mut late, &mut visitor]).await).unwrap();
    assert!(
        late_events.is_empty(),
        "and not again live: {late_events:?}"
    );
}

#[tokio::test]
async fn repeated_and_reordered_publishes_reach_each_socket_once_in_order() {
    let (server, fx, faults, v, mut visitor, mut admin) = faulty(ServeOptions::default()).await;
    faults.bus.set(EventFault::Duplicate);
    let once = fx
        .operator_says(&v.dialog_id, "published twice", false)
        .await;
    faults.bus.set(EventFault::Pass);
    for events in before_marker(&fx, &v, [&mut visitor, &mut admin]).await {
        assert_eq!(seqs(&events), [once["seq"].as_u64().unwrap()]);
    }

    faults.bus.set(EventFault::Hold);
    let a = fx.operator_says(&v.dialog_id, "a", false).await;
    let b = fx.operator_says(&v.dialog_id, "b", false).await;
    faults.bus.release_reversed();
    for events in before_marker(&fx, &v, [&mut visitor, &mut admin]).await {
        let want = [a["seq"].as_u64().unwrap(), b["seq"].as_u64().unwrap()];
        assert_eq!(seqs(&events), want, "in seq order, each once");
        assert_eq!(texts(&events), ["a", "b"]);
    }
    // `b` came first and revealed the gap before `a`.
    assert_eq!(gap_fills(&server, "widget").await, 1.0);
}
