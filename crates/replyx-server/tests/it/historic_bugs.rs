//! The bugs of the system this one replaces, each as the test that would have caught
//! it, named for it. They came back after being fixed once; these keep them out. (The
//! browser's half — the widget's own socket opened before its dialog was loaded — is
//! `web/e2e/historic_bugs.test.mjs`, under the same name.)

use crate::multiprocess::blue_green;
use crate::{seeded, seqs, texts, ws_base};
use replyx_server::config::ServeOptions;
use replyx_testkit::faults::{DeafBus, EventFault, Faults};
use replyx_testkit::{Api, Incoming, TestOptions, TestServer, WsClient, WELCOME};
use serde_json::Value;
use std::time::Duration;

async fn health(api: &Api) -> Value {
    let (status, body) = api.get("/health/websocket", None).await;
    assert_eq!(status, 200, "{body}");
    body
}

/// The old system put widget sockets in the site pool: they were counted, limited and
/// pushed to as site connections.
#[tokio::test]
async fn the_widget_registered_in_the_site_pool() {
    let (server, fx) = seeded().await;
    let base = ws_base(&server);
    let widget = fx.open_widget(None).await;
    let mut w = widget.connect(&base, &fx, None).await;
    assert_eq!(w.handshake().await.0["kind"], "widget");
    let body = health(&fx.api).await;
    assert_eq!(
        (
            &body["active_widget_connections"],
            &body["active_site_connections"]
        ),
        (&1.into(), &0.into()),
        "{body}"
    );
    assert_eq!(server.state.hub.counts().active, [0, 0, 1]);
}

/// Two handlers answered the site socket path (a legacy one kept "just in case"), each
/// registering its own way. The router the server builds is asked what it serves.
#[tokio::test]
async fn a_second_handler_on_the_site_path() {
    let (server, fx) = seeded().await;
    let router = replyx_server::http::router(server.state.clone());
    let served = replyx_server::http::served::served(&router).await.unwrap();
    let site: Vec<&(String, String)> = served
        .iter()
        .filter(|(_, path)| path.starts_with("/ws/site"))
        .collect();
    assert_eq!(
        site,
        [&("GET".to_owned(), "/ws/site/dialogs/{id}".to_owned())]
    );
    let problems = replyx_server::http::served::compare(&replyx_server::http::table(), &served);
    assert!(problems.is_empty(), "{problems:?}");
    let visitor = fx.open_site(None).await;
    let mut s = visitor.connect(&ws_base(&server), &fx, None).await;
    assert_eq!(s.handshake().await.0["kind"], "site");
}

/// The widget connected before its dialog was loaded, so what was stored in between
/// never reached it. A socket is only possible for a loaded dialog (its guest token
/// comes from the load), and with the load's `since` it misses nothing stored between
/// the load and the connect.
#[tokio::test]
async fn a_socket_opened_before_the_dialog_loaded() {
    let (server, fx) = seeded().await;
    let base = ws_base(&server);
    let unknown = format!(
        "{base}/ws/widget/dialogs/{}?assistant_id={}&guest_token=none",
        replyx_protocol::DialogId::new(),
        fx.assistant_id
    );
    let mut early = WsClient::connect(&unknown, None).await.unwrap();
    early.expect_close(4004).await;

    let v = fx.open_widget(None).await;
    let between = fx
        .operator_says(&v.dialog_id, "while the widget was connecting", false)
        .await;
    let mut socket = v.connect(&base, &fx, Some(v.loaded_seq())).await;
    let (_, replay) = socket.handshake().await;
    assert_eq!(seqs(&replay), [between["seq"].as_u64().unwrap()]);
}

/// Every reload showed the welcome again: it was sent, not stored, and a reload sent it
/// once more.
#[tokio::test]
async fn the_welcome_duplicated_on_reload() {
    let (_server, fx) = seeded().await;
    let first = fx.open_widget(Some("returning-guest-1")).await;
    let loads =
        futures_util::future::join_all((0..8).map(|_| fx.open_widget(Some("returning-guest-1"))))
            .await;
    for again in &loads {
        assert_eq!(again.dialog_id, first.dialog_id, "one dialog per guest");
        assert_eq!(texts(again.load["events"].as_array().unwrap()), [WELCOME]);
    }
    let log = fx.admin_events(&first.dialog_id).await;
    assert_eq!(texts(&log), [WELCOME], "one welcome in the log");
}

/// Each worker process kept its own list of connections, so a message handled by one
/// never reached sockets held by another.
#[tokio::test]
async fn per_process_connection_lists() {
    let (_dir, blue, green, on_blue) = blue_green().await;
    let v = on_blue.open_widget(None).await;
    let mut on_green = v.connect(&green.ws_base(), &on_blue, None).await;
    on_green.handshake().await;
    let mut admin_on_blue = on_blue
        .admin_socket(&blue.ws_base(), &v.dialog_id, None)
        .await;
    admin_on_blue.handshake().await;
    let (_, sent) = v.says(&on_blue.api, "handled by blue", Some("c-1")).await;
    assert_eq!(
        on_green.next_event().await["seq"],
        sent["seq"],
        "green's socket"
    );
    let reply = on_blue
        .via(&green.base)
        .operator_says(&v.dialog_id, "by green", false)
        .await;
    let (got, _) = admin_on_blue.until(|e| e["seq"] == reply["seq"]).await;
    assert_eq!(got["message"]["text"], "by green", "blue's socket");
}

/// A deploy reset every connection (ERR_CONNECTION_RESET): the old process just
/// exited. Now it closes each socket with 1012 before it exits, and the client resumes
/// on the other process with `since`, missing nothing stored meanwhile.
#[tokio::test]
async fn connections_reset_on_deploy() {
    let (_dir, mut blue, green, fx) = blue_green().await;
    let v = fx.open_widget(None).await;
    let mut socket = v.connect(&blue.ws_base(), &fx, Some(v.loaded_seq())).await;
    socket.handshake().await;
    blue.terminate();
    assert_eq!(
        socket.recv().await,
        Incoming::Closed(Some(1012)),
        "a close frame, not a reset"
    );
    let on_green = fx.via(&green.base);
    let meanwhile = on_green
        .operator_says(&v.dialog_id, "during the deploy", false)
        .await;
    let mut resumed = v
        .connect(&green.ws_base(), &on_green, Some(v.loaded_seq()))
        .await;
    let (_, replay) = resumed.handshake().await;
    assert_eq!(seqs(&replay), [meanwhile["seq"].as_u64().unwrap()]);
    assert!(
        blue.wait_exit(Duration::from_secs(10)).await,
        "{}",
        blue.output()
    );
}

/// A consumer that fell behind was dropped from the fan-out without a word: its
/// socket stayed open and received nothing more. Now it is closed with 1013 and
/// resumes with `since`.
#[tokio::test]
async fn a_lagging_consumer_silently_stopped() {
    let faults = Faults::default();
    let server = TestServer::start_with(TestOptions {
        options: ServeOptions {
            outbox_capacity: Some(1),
            ..Default::default()
        },
        seams: faults.seams(),
        ..Default::default()
    })
    .await;
    let fx = replyx_testkit::Fixture::seed(&server).await;
    let v = fx.open_widget(None).await;
    let mut socket = v
        .connect(&ws_base(&server), &fx, Some(v.loaded_seq()))
        .await;
    socket.handshake().await;
    faults.bus.set(EventFault::Hold);
    let mut want = Vec::new();
    for i in 0..3 {
        let e = fx
            .operator_says(&v.dialog_id, &format!("m{i}"), false)
            .await;
        want.push(e["seq"].as_u64().unwrap());
    }
    faults.bus.release();
    let (got, code) = socket.until_closed().await;
    assert_eq!(code, Some(1013), "told, not dropped");
    let mut have = seqs(&got);
    let since = have.last().copied().unwrap_or(v.loaded_seq());
    let (_, replay) = v
        .connect(&ws_base(&server), &fx, Some(since))
        .await
        .handshake()
        .await;
    have.extend(seqs(&replay));
    assert_eq!(have, want, "every event once, in order, across the close");
    let text = server.metrics().await;
    assert_eq!(
        replyx_testkit::metric(&text, "websocket_dropped_slow_consumers_total"),
        1.0
    );
}

/// The broker went silent and nobody noticed until users did. The server's canary
/// says `degraded`, and a client's pong reveals what its socket never got.
#[tokio::test]
async fn a_silent_broker() {
    let server = TestServer::start_with(TestOptions {
        options: ServeOptions {
            canary_interval: Some(Duration::from_millis(100)),
            canary_timeout: Some(Duration::from_millis(200)),
            ..Default::default()
        },
        // Takes every publish, delivers nothing, and says it is healthy.
        seams: DeafBus::seams(),
        ..Default::default()
    })
    .await;
    let fx = replyx_testkit::Fixture::seed(&server).await;
    let v = fx.open_widget(None).await;
    let mut socket = v.connect(&ws_base(&server), &fx, None).await;
    socket.handshake().await;
    let sent = fx.operator_says(&v.dialog_id, "into the void", false).await;
    let (before, pong) = socket.barrier().await;
    assert!(before.is_empty(), "{before:?}");
    assert_eq!(
        pong["last_seq"], sent["seq"],
        "the client can tell it missed something"
    );
    // The canary runs on its own clock: poll, bounded.
    crate::canary::eventually(&fx.api, "/health/websocket", |h, _| {
        h["status"] == "degraded"
    })
    .await;
}
