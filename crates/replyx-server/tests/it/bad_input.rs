//! Bad input gets a clear error and stores nothing; bad frames get an error frame or
//! the documented close code.

use crate::{seeded, ws_base};
use replyx_testkit::{Incoming, WELCOME};
use serde_json::json;

#[tokio::test]
async fn bad_http_input_gets_the_right_status_and_stores_nothing() {
    let (_server, fx) = seeded().await;
    let v = fx.open_widget(None).await;
    let messages = format!("/api/widget/dialogs/{}/messages", v.dialog_id);

    let (status, body) = fx
        .api
        .post_raw(
            &messages,
            Some(&v.guest_token),
            "{not json".into(),
            "application/json",
        )
        .await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["error"]["code"], "bad_request");

    let (status, body) = fx
        .api
        .post(&messages, Some(&v.guest_token), json!({"text": 5}))
        .await;
    assert_eq!(status, 422, "{body}");
    assert_eq!(body["error"]["code"], "invalid_shape");

    let (status, body) = fx
        .api
        .post(&messages, Some(&v.guest_token), json!({"text": "   "}))
        .await;
    assert_eq!(status, 422, "{body}");

    let long = "я".repeat(4001);
    let (status, body) = fx
        .api
        .post(&messages, Some(&v.guest_token), json!({"text": long}))
        .await;
    assert_eq!(status, 413, "{body}");
    assert_eq!(body["error"]["code"], "too_large");
    let (status, _) = fx
        .api
        .post(
            &messages,
            Some(&v.guest_token),
            json!({"text": "я".repeat(4000)}),
        )
        .await;
    assert_eq!(status, 201, "exactly the limit is accepted");

    let (status, body) = fx.api.post(&messages, None, json!({"text": "hi"})).await;
    assert_eq!(status, 401, "{body}");
    let (status, _) = fx
        .api
        .post(&messages, Some("not-a-token"), json!({"text": "hi"}))
        .await;
    assert_eq!(status, 401);
    let (status, _) = fx.api.get("/api/dialogs", None).await;
    assert_eq!(status, 401);

    let unknown = format!("/api/dialogs/{}", replyx_protocol::DialogId::new());
    let (status, body) = fx.api.get(&unknown, Some(&fx.operator_token)).await;
    assert_eq!(status, 404, "{body}");
    let (status, _) = fx
        .api
        .post(
            "/api/widget/dialogs",
            None,
            json!({"assistant_id": replyx_protocol::AssistantId::new()}),
        )
        .await;
    assert_eq!(status, 404);
    let (status, _) = fx
        .api
        .post(
            "/api/widget/dialogs",
            None,
            json!({"assistant_id": fx.assistant_id, "guest_id": "no spaces allowed"}),
        )
        .await;
    assert_eq!(status, 422);

    let stored = crate::texts(&fx.admin_events(&v.dialog_id).await);
    assert_eq!(
        stored,
        [WELCOME.to_owned(), "я".repeat(4000)],
        "only the valid message was stored"
    );
}

#[tokio::test]
async fn a_bad_client_frame_gets_an_error_frame_and_the_socket_stays_usable() {
    let (server, fx) = seeded().await;
    let v = fx.open_widget(None).await;
    let mut s = v.connect(&ws_base(&server), &fx, None).await;
    s.handshake().await;
    for bad in [
        "not json",
        r#"{"type":"shout"}"#,
        r#"{"type":"read","up_to":"x"}"#,
        // A frame is an object: serde's array spelling of a tagged enum is refused.
        r#"["ping"]"#,
        r#"["read",1]"#,
    ] {
        s.send_text(bad.into()).await;
        let error = s.expect_type("error").await;
        assert_eq!(error["code"], "invalid_frame", "{bad}");
    }
    s.send_binary(vec![1, 2, 3]).await;
    assert_eq!(s.expect_type("error").await["code"], "invalid_frame");
    let (_, pong) = s.barrier().await;
    assert_eq!(pong["last_seq"], 1, "still usable");
    let sent = fx.operator_says(&v.dialog_id, "after errors", false).await;
    assert_eq!(s.next_event().await["seq"], sent["seq"]);
}

#[tokio::test]
async fn an_oversize_frame_closes_1009() {
    let (server, fx) = seeded().await;
    let v = fx.open_widget(None).await;
    let mut s = v.connect(&ws_base(&server), &fx, None).await;
    s.handshake().await;
    let big = json!({"type": "typing", "state": "start", "pad": "x".repeat(17 * 1024)});
    s.send_text(big.to_string()).await;
    s.expect_close(1009).await;
}

/// A frame past the WebSocket library's own hard limit (4x the protocol limit) fails
/// inside the library, before the session sees its length: it must still close with
/// 1009, not end as a broken link (no close code).
#[tokio::test]
async fn a_frame_past_the_libraries_own_limit_closes_1009_too() {
    let (server, fx) = seeded().await;
    let v = fx.open_widget(None).await;
    let mut s = v.connect(&ws_base(&server), &fx, None).await;
    s.handshake().await;
    let hard_limit = 4 * 16 * 1024 + 1024;
    s.send_text("x".repeat(hard_limit + 1)).await;
    s.expect_close(1009).await;
}

#[tokio::test]
async fn a_frame_flood_closes_1008() {
    let (server, fx) = seeded().await;
    let v = fx.open_widget(None).await;
    let mut s = v.connect(&ws_base(&server), &fx, None).await;
    s.handshake().await;
    let started = std::time::Instant::now();
    for _ in 0..60 {
        s.send_text(r#"{"type":"ping"}"#.into()).await;
    }
    let mut pongs = 0;
    loop {
        match s.recv().await {
            Incoming::Json(f) if f["type"] == "pong" => pongs += 1,
            Incoming::Json(f) => panic!("unexpected {f}"),
            Incoming::Closed(code) => {
                assert_eq!(code, Some(1008));
                break;
            }
        }
    }
    // The budget is 20 a second, refilled as time passes: a slow machine may take a
    // while to send the 60 frames, and each elapsed 50 ms earns one frame more.
    let refilled = (started.elapsed().as_millis() / 50) as usize;
    assert!(
        pongs <= 20 + refilled,
        "at most the per-second budget was answered: {pongs} (refilled {refilled})"
    );
}

/// Before: a malformed query or path parameter got axum's plain-text 400, not the
/// API's JSON error shape.
#[tokio::test]
async fn bad_query_and_path_parameters_get_the_json_error_shape() {
    let (_server, fx) = seeded().await;
    let v = fx.open_widget(None).await;
    let token = fx.operator_token.clone();
    for (path, auth) in [
        (
            format!("/api/dialogs/{}/events?since=abc", v.dialog_id),
            &token,
        ),
        (
            format!("/api/dialogs/{}/events?limit=-1", v.dialog_id),
            &token,
        ),
        ("/api/dialogs?limit=many".to_owned(), &token),
        ("/api/dialogs?before=yesterday".to_owned(), &token),
        (
            format!("/api/widget/dialogs/{}/events?since=1e9", v.dialog_id),
            &v.guest_token,
        ),
        ("/api/dialogs/%FF%FE".to_owned(), &token),
    ] {
        let (status, body) = fx.api.get(&path, Some(auth)).await;
        assert_eq!(status, 400, "{path}: {body}");
        assert_eq!(body["error"]["code"], "bad_request", "{path}: {body}");
        assert!(body["error"]["message"]
            .as_str()
            .is_some_and(|m| !m.is_empty()));
    }
}
