//! `message.send`: a message sent on the socket a client holds is stored like a POST
//! (same idempotency per sender, validation and limits), acknowledged with its seq, and
//! delivered once; a refused one is answered with an `error` naming its key, stores
//! nothing, and leaves the socket open.

use crate::{texts, ws_base};
use replyx_server::config::ServeOptions;
use replyx_testkit::{Fixture, TestOptions, TestServer, WsClient};
use serde_json::{json, Value};

fn send(text: &str, key: &str) -> Value {
    json!({"type": "message.send", "text": text, "client_msg_id": key})
}

/// The answer to the send of `key`, skipping the events and signals around it.
async fn answer(socket: &mut WsClient, key: &str) -> Value {
    let (frame, _) = socket
        .until(|f| {
            (f["type"] == "message.ack" || f["type"] == "error") && f["client_msg_id"] == key
        })
        .await;
    frame
}

/// The socket still answers: a ping gets its pong.
async fn still_open(socket: &mut WsClient) {
    socket.send_json(json!({"type": "ping"})).await;
    socket.until(|f| f["type"] == "pong").await;
}

#[tokio::test]
async fn a_visitor_message_sent_on_the_socket_is_stored_acked_and_delivered_once() {
    let server = TestServer::start().await;
    let fx = Fixture::seed(&server).await;
    let v = fx.open_widget(None).await;
    let mut admin = fx.admin_socket(&ws_base(&server), &v.dialog_id, None).await;
    admin.handshake().await;
    let mut widget = v.connect(&ws_base(&server), &fx, None).await;
    widget.handshake().await;

    widget.send_json(send("what is the price?", "s-1")).await;
    let ack = answer(&mut widget, "s-1").await;
    assert_eq!(ack["type"], "message.ack", "{ack}");
    assert_eq!(ack["duplicate"], false);
    let seq = ack["seq"].as_u64().expect("the stored seq");
    let (echo, _) = widget.until(|e| e["type"] == "message.created").await;
    assert_eq!(
        (echo["seq"].as_u64(), &echo["message"]["sender"]),
        (Some(seq), &json!("visitor"))
    );
    assert_eq!(echo["message"]["client_msg_id"], "s-1");
    let (seen, _) = admin.until(|e| e["type"] == "message.created").await;
    assert_eq!(
        seen["seq"].as_u64(),
        Some(seq),
        "operators get the same event"
    );
    // The assistant answers a socket send as it answers a POST.
    admin.until(|e| e["message"]["sender"] == "assistant").await;

    // The same key again, on the socket and over HTTP: the first copy, nothing new.
    widget.send_json(send("what is the price?", "s-1")).await;
    let again = answer(&mut widget, "s-1").await;
    assert_eq!(
        (again["seq"].as_u64(), &again["duplicate"]),
        (Some(seq), &json!(true))
    );
    let (status, posted) = v.says(&fx.api, "what is the price?", Some("s-1")).await;
    assert_eq!((status, posted["seq"].as_u64()), (200, Some(seq)));
    let stored = texts(&fx.admin_events(&v.dialog_id).await);
    assert_eq!(
        stored.iter().filter(|t| *t == "what is the price?").count(),
        1,
        "{stored:?}"
    );
}

#[tokio::test]
async fn a_refused_socket_send_names_its_key_stores_nothing_and_keeps_the_socket() {
    let server = TestServer::start_with(TestOptions {
        options: ServeOptions {
            max_message_chars: Some(20),
            visitor_requests_per_ip_per_minute: Some(4),
            ..Default::default()
        },
        ..Default::default()
    })
    .await;
    let fx = Fixture::seed(&server).await;
    let v = fx.open_widget(None).await; // the dialog load is the first request of four
    let mut widget = v.connect(&ws_base(&server), &fx, None).await;
    widget.handshake().await;

    let refusals = [
        (send("   ", "blank"), "invalid_shape"),
        (send(&"x".repeat(21), "long"), "too_large"),
        (send("hi", &"k".repeat(129)), "invalid_shape"),
        (
            json!({"type": "message.send", "text": "psst", "client_msg_id": "note", "internal": true}),
            "forbidden",
        ),
    ];
    for (frame, code) in refusals {
        let key = frame["client_msg_id"].as_str().unwrap().to_owned();
        widget.send_json(frame).await;
        let error = answer(&mut widget, &key).await;
        assert_eq!(
            (&error["type"], &error["code"]),
            (&json!("error"), &json!(code)),
            "{error}"
        );
        still_open(&mut widget).await;
    }
    // A send without its key is not a protocol frame.
    widget
        .send_json(json!({"type": "message.send", "text": "no key"}))
        .await;
    let (bad, _) = widget.until(|f| f["type"] == "error").await;
    assert_eq!(bad["code"], "invalid_frame");

    // The per-IP request limit counts socket sends as it counts POSTs: the
    // blank, long and bad-key sends above each counted, so this fourth one is refused.
    widget.send_json(send("one more", "limited")).await;
    let limited = answer(&mut widget, "limited").await;
    assert_eq!(limited["code"], "rate_limited", "{limited}");
    assert!(
        limited["retry_after"]
            .as_u64()
            .is_some_and(|s| (1..=60).contains(&s)),
        "{limited}"
    );
    still_open(&mut widget).await;

    let stored = texts(&fx.admin_events(&v.dialog_id).await);
    assert_eq!(
        stored,
        [replyx_testkit::WELCOME],
        "nothing refused was stored"
    );
}

#[tokio::test]
async fn a_send_to_a_closed_dialog_is_refused_with_dialog_closed() {
    let server = TestServer::start().await;
    let fx = Fixture::seed(&server).await;
    let v = fx.open_widget(None).await;
    let mut widget = v.connect(&ws_base(&server), &fx, None).await;
    widget.handshake().await;
    assert_eq!(fx.handoff(&v.dialog_id, "close").await.0, 201);
    widget.send_json(send("anyone?", "late")).await;
    let error = answer(&mut widget, "late").await;
    assert_eq!(error["code"], "dialog_closed", "{error}");
}

#[tokio::test]
async fn an_operator_sends_replies_and_notes_on_the_socket_and_notes_stay_internal() {
    let server = TestServer::start().await;
    let fx = Fixture::seed(&server).await;
    let v = fx.open_widget(None).await;
    let mut widget = v.connect(&ws_base(&server), &fx, None).await;
    widget.handshake().await;
    let mut admin = fx.admin_socket(&ws_base(&server), &v.dialog_id, None).await;
    admin.handshake().await;

    admin
        .send_json(json!({"type": "message.send", "text": "vip customer", "client_msg_id": "n-1", "internal": true}))
        .await;
    let note = answer(&mut admin, "n-1").await;
    assert_eq!(note["type"], "message.ack", "{note}");
    admin.send_json(send("How can I help?", "r-1")).await;
    let reply = answer(&mut admin, "r-1").await;
    assert_eq!(reply["type"], "message.ack", "{reply}");

    let (event, _) = admin
        .until(|e| e["type"] == "message.created" && e["seq"] == reply["seq"])
        .await;
    assert_eq!(event["message"]["sender"], "operator");
    assert_eq!(event["message"]["operator"]["name"], "Ann");
    // The visitor's first event after the welcome is the reply: the note never shows.
    let (seen, skipped) = widget.until(|e| e["type"] == "message.created").await;
    assert_eq!(seen["message"]["text"], "How can I help?", "{skipped:?}");
    assert_eq!(seen["seq"], reply["seq"]);
    let admin_log = fx.admin_events(&v.dialog_id).await;
    let stored_note = admin_log
        .iter()
        .find(|e| e["seq"] == note["seq"])
        .expect("the note is stored");
    assert_eq!(stored_note["message"]["internal"], true);
}

#[tokio::test]
async fn the_inbox_feed_has_no_dialog_to_send_to() {
    let server = TestServer::start().await;
    let fx = Fixture::seed(&server).await;
    let mut feed = fx.console(&ws_base(&server)).await;
    feed.send_json(send("to whom?", "x-1")).await;
    let (error, _) = feed.until(|f| f["type"] == "error").await;
    assert_eq!(error["code"], "invalid_frame", "{error}");
}
