//! Who receives what: internal notes and visitor typing never reach a visitor, live or
//! on replay; everything else reaches both sides.
//!
//! Two filters keep notes from visitors — the audience rule (the hub live, the store's
//! query on replay and over HTTP) and the stream's wire form — and the second counts
//! what the first let through (`replyx_audience_violations_total`). So these tests fail
//! with either filter removed: without the first the counter moves, without the second
//! the note arrives.

use crate::{seeded, texts, ws_base};
use replyx_protocol::ConnectionKind;
use replyx_testkit::{metric, TestOptions, TestServer};
use serde_json::json;

/// Fails unless no event outside a stream reached a connection of any kind.
async fn assert_no_audience_violation(server: &TestServer) {
    let text = server.metrics().await;
    for kind in ConnectionKind::ALL {
        let name = format!("replyx_audience_violations_total{{type=\"{kind}\"}}");
        assert_eq!(
            metric(&text, &name),
            0.0,
            "{name}: the audience rule let an event through"
        );
    }
}

#[tokio::test]
async fn internal_note_and_visitor_typing_never_reach_a_visitor_socket() {
    let (server, fx) = seeded().await;
    let base = ws_base(&server);
    for visitor in [fx.open_widget(None).await, fx.open_site(None).await] {
        let mut v = visitor
            .connect(&base, &fx, Some(visitor.loaded_seq()))
            .await;
        v.handshake().await;
        let mut a = fx
            .admin_socket(&base, &visitor.dialog_id, Some(visitor.loaded_seq()))
            .await;
        a.handshake().await;

        v.send_json(json!({"type": "typing", "state": "start"}))
            .await;
        let (typing, _) = a.until(|f| f["type"] == "typing").await;
        assert_eq!(
            typing["actor"], "visitor",
            "operators see the visitor typing"
        );

        let note = fx
            .operator_says(&visitor.dialog_id, "secret note", true)
            .await;
        assert_eq!(note["message"]["internal"], true);
        let reply = fx
            .operator_says(&visitor.dialog_id, "public reply", false)
            .await;
        assert_eq!(a.next_event().await["message"]["text"], "secret note");

        let (before, pong) = v.barrier().await;
        let got = texts(&before);
        assert_eq!(got, ["public reply"], "{before:?}");
        assert!(before.iter().all(|f| f["type"] != "typing"), "{before:?}");
        // The visitor stream skips the note's seq and says so in prev_seq.
        let live = before
            .iter()
            .find(|f| f["type"] == "message.created")
            .unwrap();
        assert_eq!(live["seq"], reply["seq"]);
        assert_eq!(live["prev_seq"], visitor.loaded_seq());
        assert_eq!(pong["last_seq"], reply["seq"]);

        // Not on replay either, nor over HTTP.
        let mut again = visitor.connect(&base, &fx, Some(0)).await;
        let (_, replay) = again.handshake().await;
        assert!(
            !texts(&replay).contains(&"secret note".to_owned()),
            "{replay:?}"
        );
        assert!(!texts(&visitor.events(&fx.api, 0).await).contains(&"secret note".to_owned()));
        assert!(
            texts(&fx.admin_events(&visitor.dialog_id).await).contains(&"secret note".to_owned())
        );
        // Nor in a reload's history.
        let reload = match visitor.via {
            "site" => fx.open_site(Some(&visitor.guest_id)).await,
            _ => fx.open_widget(Some(&visitor.guest_id)).await,
        };
        let history = reload.load["events"].as_array().unwrap();
        assert!(
            !texts(history).contains(&"secret note".to_owned()),
            "{history:?}"
        );
    }
    assert_no_audience_violation(&server).await;
}

#[tokio::test]
async fn operator_typing_and_read_marks_reach_both_sides() {
    let (server, fx) = seeded().await;
    let base = ws_base(&server);
    let visitor = fx.open_widget(None).await;
    let mut v = visitor.connect(&base, &fx, None).await;
    v.handshake().await;
    let mut a = fx.admin_socket(&base, &visitor.dialog_id, None).await;
    a.handshake().await;

    a.send_json(json!({"type": "typing", "state": "start"}))
        .await;
    let (typing, _) = v.until(|f| f["type"] == "typing").await;
    assert_eq!(
        (typing["actor"].as_str(), typing["state"].as_str()),
        (Some("operator"), Some("start"))
    );

    v.send_json(json!({"type": "read", "up_to": 1})).await;
    let (read, _) = a.until(|f| f["type"] == "read").await;
    assert_eq!(
        (read["reader"].as_str(), read["up_to"].as_u64()),
        (Some("visitor"), Some(1))
    );
    // A read mark never moves backwards and never past the newest seq.
    v.send_json(json!({"type": "read", "up_to": 0})).await;
    let (read, _) = a.until(|f| f["type"] == "read").await;
    assert_eq!(read["up_to"], 1);
    v.send_json(json!({"type": "read", "up_to": 99})).await;
    let (read, _) = a.until(|f| f["type"] == "read").await;
    assert_eq!(read["up_to"], 1);
    let (_, dialog) = fx
        .api
        .get(
            &format!("/api/dialogs/{}", visitor.dialog_id),
            Some(&fx.operator_token),
        )
        .await;
    assert_eq!(dialog["visitor_read_up_to"], 1);
}

/// A read mark shown to a visitor points at a seq the visitor has seen. The operators
/// read past an internal note; the visitor's socket (on another process sharing the
/// database, so the mark crosses the bus), a resume from the future and a reload's
/// dialog state all show the visitor's own last event, never the note's seq: a mark
/// in the admin stream's numbering would tell the visitor that notes exist and how
/// many.
#[tokio::test]
async fn read_marks_shown_to_a_visitor_never_count_internal_notes() {
    let (server, fx) = seeded().await;
    let other = TestServer::start_with(TestOptions {
        dir: Some(server.dir.clone()),
        ..Default::default()
    })
    .await;
    let fx_other = fx.via(&other.base);
    for visitor in [fx.open_widget(None).await, fx.open_site(None).await] {
        assert_eq!(fx.handoff(&visitor.dialog_id, "take").await.0, 201);
        let (status, mine) = visitor.says(&fx.api, "hello", None).await;
        assert_eq!(status, 201, "{mine}");
        let seen = mine["seq"].as_u64().unwrap();
        let mut v = visitor.connect(&ws_base(&other), &fx_other, None).await;
        v.handshake().await;
        let mut a = fx
            .admin_socket(&ws_base(&server), &visitor.dialog_id, None)
            .await;
        a.handshake().await;

        let note = fx.operator_says(&visitor.dialog_id, "note 1", true).await;
        fx.operator_says(&visitor.dialog_id, "note 2", true).await;
        let last_note = note["seq"].as_u64().unwrap() + 1;
        a.send_json(json!({"type": "read", "up_to": last_note}))
            .await;
        let (read, _) = a.until(|f| f["type"] == "read").await;
        assert_eq!(read["up_to"], last_note, "operators see the mark as stored");
        let (read, before) = v.until(|f| f["type"] == "read").await;
        assert!(before.is_empty(), "{before:?}");
        assert_eq!(
            (read["reader"].as_str(), read["up_to"].as_u64()),
            (Some("operator"), Some(seen)),
            "the visitor's last event, not the note's seq"
        );

        // A visitor's own mark past the end is shown at their stream's end too.
        v.send_json(json!({"type": "read", "up_to": 999})).await;
        let (read, _) = v.until(|f| f["type"] == "read").await;
        assert_eq!(
            (read["reader"].as_str(), read["up_to"].as_u64()),
            (Some("visitor"), Some(seen))
        );
        // A resume from the future ends at the stream's end, not the log's.
        let mut future = visitor.connect(&ws_base(&server), &fx, Some(999)).await;
        let established = future.expect_type("connection.established").await;
        assert_eq!(established["last_seq"], seen);
        let (done, replay) = future.until(|f| f["type"] == "replay.complete").await;
        assert!(replay.is_empty(), "{replay:?}");
        assert_eq!(done["last_seq"], seen);

        let reload = match visitor.via {
            "site" => fx_other.open_site(Some(&visitor.guest_id)).await,
            _ => fx_other.open_widget(Some(&visitor.guest_id)).await,
        };
        let dialog = &reload.load["dialog"];
        assert_eq!(
            (
                dialog["last_seq"].as_u64(),
                dialog["operator_read_up_to"].as_u64(),
                dialog["visitor_read_up_to"].as_u64()
            ),
            (Some(seen), Some(seen), Some(seen)),
            "{dialog}"
        );
    }
}
