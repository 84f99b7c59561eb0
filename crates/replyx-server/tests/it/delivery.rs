//! Live delivery between visitors and operators through each way in.

use crate::{seeded, texts, ws_base};
use replyx_testkit::{Fixture, TestServer, Visitor, WsClient, SITE_ORIGIN};

async fn exchange(server: &TestServer, fx: &Fixture, visitor: &Visitor) {
    let base = ws_base(server);
    let mut v = visitor.connect(&base, fx, Some(visitor.loaded_seq())).await;
    let (established, replay) = v.handshake().await;
    assert_eq!(established["kind"], visitor.via);
    assert!(
        replay.is_empty(),
        "nothing to replay after the load: {replay:?}"
    );
    let mut a = fx
        .admin_socket(&base, &visitor.dialog_id, Some(visitor.loaded_seq()))
        .await;
    a.handshake().await;

    let sent = fx
        .operator_says(&visitor.dialog_id, "Hello from Ann", false)
        .await;
    let got = v.next_event().await;
    assert_eq!(got["message"]["text"], "Hello from Ann");
    assert_eq!(got["message"]["sender"], "operator");
    assert_eq!(got["seq"], sent["seq"]);
    assert_eq!(
        a.next_event().await["seq"],
        sent["seq"],
        "the admin socket sees it too"
    );

    let (status, mine) = visitor.says(&fx.api, "Hi Ann", Some("c-1")).await;
    assert_eq!(status, 201, "{mine}");
    let got = a.next_event().await;
    assert_eq!(got["message"]["text"], "Hi Ann");
    assert_eq!(got["message"]["sender"], "visitor");
    assert_eq!(got["message"]["client_msg_id"], "c-1");
    // The sending visitor's own socket gets it too (other tabs need it).
    assert_eq!(v.next_event().await["seq"], mine["seq"]);
}

#[tokio::test]
async fn widget_mode_delivers_both_ways() {
    let (server, fx) = seeded().await;
    let visitor = fx.open_widget(None).await;
    exchange(&server, &fx, &visitor).await;
}

#[tokio::test]
async fn site_mode_delivers_both_ways() {
    let (server, fx) = seeded().await;
    let visitor = fx.open_site(None).await;
    exchange(&server, &fx, &visitor).await;
}

#[tokio::test]
async fn site_token_from_a_foreign_origin_is_refused_over_http_and_websocket() {
    let (server, fx) = seeded().await;
    let (status, body) = fx
        .api
        .post_from(
            "https://evil.example",
            "/api/site/dialogs",
            None,
            serde_json::json!({"site_token": fx.site_token}),
        )
        .await;
    assert_eq!(status, 403, "{body}");
    assert_eq!(body["error"]["code"], "forbidden_origin");

    let visitor = fx.open_site(None).await;
    let url = format!("{}{}", ws_base(&server), visitor.ws_path(&fx, None));
    let mut foreign = WsClient::connect(&url, Some("https://evil.example"))
        .await
        .unwrap();
    foreign.expect_close(4003).await;
    let mut no_origin = WsClient::connect(&url, None).await.unwrap();
    no_origin.expect_close(4003).await;
    // The same URL from the allowed origin works.
    let mut ok = WsClient::connect(&url, Some(SITE_ORIGIN)).await.unwrap();
    ok.handshake().await;
}

#[tokio::test]
async fn unknown_dialog_closes_4004_and_another_dialogs_guest_token_closes_4002() {
    let (server, fx) = seeded().await;
    let base = ws_base(&server);
    let mine = fx.open_widget(None).await;
    let other = fx.open_widget(None).await;

    let missing = format!(
        "{base}/ws/widget/dialogs/{}?assistant_id={}&guest_token={}",
        replyx_protocol::DialogId::new(),
        fx.assistant_id,
        mine.guest_token
    );
    WsClient::connect(&missing, None)
        .await
        .unwrap()
        .expect_close(4004)
        .await;
    let not_an_id = format!("{base}/ws/dialogs/nope");
    WsClient::connect_operator(&not_an_id, &fx.operator_token)
        .await
        .unwrap()
        .expect_close(4004)
        .await;

    let stolen = format!(
        "{base}/ws/widget/dialogs/{}?assistant_id={}&guest_token={}",
        other.dialog_id, fx.assistant_id, mine.guest_token
    );
    WsClient::connect(&stolen, None)
        .await
        .unwrap()
        .expect_close(4002)
        .await;
    let bad_operator = format!("{base}/ws/dialogs/{}", mine.dialog_id);
    WsClient::connect_operator(&bad_operator, "garbage")
        .await
        .unwrap()
        .expect_close(4002)
        .await;
}

#[tokio::test]
async fn events_posted_between_load_and_connect_arrive_exactly_once_with_since() {
    let (server, fx) = seeded().await;
    let visitor = fx.open_widget(None).await;
    let loaded = visitor.loaded_seq();
    for i in 0..3 {
        fx.operator_says(&visitor.dialog_id, &format!("while connecting {i}"), false)
            .await;
    }
    let mut v = visitor.connect(&ws_base(&server), &fx, Some(loaded)).await;
    let (established, replay) = v.handshake().await;
    assert_eq!(established["last_seq"], loaded + 3);
    assert_eq!(
        texts(&replay),
        [
            "while connecting 0",
            "while connecting 1",
            "while connecting 2"
        ]
    );
    fx.operator_says(&visitor.dialog_id, "live", false).await;
    let (before, _) = v.barrier().await;
    assert_eq!(texts(&before), ["live"], "no replayed event is sent twice");
}

#[tokio::test]
async fn events_published_while_a_socket_registers_are_neither_lost_nor_doubled() {
    // Many sockets connect while the operator keeps posting: each socket's stream must be
    // exactly the events after its `since`, in order, whatever raced with its replay.
    let (server, fx) = seeded().await;
    let visitor = fx.open_widget(None).await;
    let base = ws_base(&server);
    let poster = {
        let fx = fx.clone();
        let dialog = visitor.dialog_id.clone();
        tokio::spawn(async move {
            for i in 0..40 {
                fx.operator_says(&dialog, &format!("m{i}"), false).await;
            }
        })
    };
    let mut sockets = Vec::new();
    for _ in 0..8 {
        let mut s = visitor
            .connect(&base, &fx, Some(visitor.loaded_seq()))
            .await;
        let (_, replay) = s.handshake().await;
        sockets.push((s, replay));
    }
    poster.await.unwrap();
    let last = visitor.loaded_seq() + 40;
    for (mut s, mut seen) in sockets {
        while seen.last().and_then(|e| e["seq"].as_u64()).unwrap_or(0) < last {
            seen.push(s.next_event().await);
        }
        let got = crate::seqs(&seen);
        let want: Vec<u64> = (visitor.loaded_seq() + 1..=last).collect();
        assert_eq!(got, want);
        for e in &seen {
            let seq = e["seq"].as_u64().unwrap();
            assert_eq!(e["prev_seq"].as_u64().unwrap(), seq - 1);
        }
    }
}
