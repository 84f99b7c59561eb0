//! Resume after a disconnect, including a server restart on the same database.

use crate::{seeded, seqs, texts, ws_base};
use replyx_testkit::{Fixture, Incoming, TestOptions, TestServer};

#[tokio::test]
async fn after_a_server_restart_since_replays_everything_missed_once_in_order() {
    let (server, fx) = seeded().await;
    let visitor = fx.open_widget(None).await;
    let mut v = visitor
        .connect(&ws_base(&server), &fx, Some(visitor.loaded_seq()))
        .await;
    v.handshake().await;
    fx.operator_says(&visitor.dialog_id, "before restart", false)
        .await;
    let last_seen = v.next_event().await["seq"].as_u64().unwrap();

    let dir = server.dir.clone();
    server.stop().await;
    assert_eq!(
        v.recv().await,
        Incoming::Closed(Some(1012)),
        "a draining server says 1012"
    );

    let server = TestServer::start_with(TestOptions {
        dir: Some(dir),
        ..Default::default()
    })
    .await;
    let fx = Fixture {
        api: replyx_testkit::Api::new(&server.base),
        ..fx
    };
    for i in 0..5 {
        fx.operator_says(&visitor.dialog_id, &format!("while away {i}"), false)
            .await;
    }
    let mut v = visitor
        .connect(&ws_base(&server), &fx, Some(last_seen))
        .await;
    let (_, replay) = v.handshake().await;
    assert_eq!(
        texts(&replay),
        (0..5)
            .map(|i| format!("while away {i}"))
            .collect::<Vec<_>>()
    );
    assert_eq!(
        seqs(&replay),
        (last_seen + 1..=last_seen + 5).collect::<Vec<_>>()
    );
    let (after, _) = v.barrier().await;
    assert!(after.is_empty(), "nothing twice: {after:?}");
}

#[tokio::test]
async fn a_since_past_the_end_is_clamped_so_new_events_still_arrive() {
    let (server, fx) = seeded().await;
    let visitor = fx.open_widget(None).await;
    let mut v = visitor.connect(&ws_base(&server), &fx, Some(1000)).await;
    let (_, replay) = v.handshake().await;
    assert!(replay.is_empty());
    let sent = fx.operator_says(&visitor.dialog_id, "new", false).await;
    assert_eq!(v.next_event().await["seq"], sent["seq"]);
}
