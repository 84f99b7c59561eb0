//! Limits are enforced with the documented code and are configurable.

use crate::ws_base;
use replyx_server::config::ServeOptions;
use replyx_testkit::{Fixture, TestOptions, TestServer, WsClient, TEST_SECRET};
use serde_json::json;

async fn server_with(options: ServeOptions) -> (TestServer, Fixture) {
    let server = TestServer::start_with(TestOptions {
        options,
        ..Default::default()
    })
    .await;
    let fixture = Fixture::seed(&server).await;
    (server, fixture)
}

#[tokio::test]
async fn visitor_sockets_per_dialog_are_capped_without_counting_operators() {
    let (server, fx) = server_with(ServeOptions {
        max_visitor_connections_per_dialog: Some(2),
        max_admin_connections_per_dialog: Some(1),
        ..Default::default()
    })
    .await;
    let base = ws_base(&server);
    let v = fx.open_widget(None).await;
    let mut widget = v.connect(&base, &fx, None).await;
    widget.handshake().await;
    let mut admin = fx.admin_socket(&base, &v.dialog_id, None).await;
    admin.handshake().await;
    let site_url = format!(
        "{base}/ws/widget/dialogs/{}?assistant_id={}&guest_token={}",
        v.dialog_id, fx.assistant_id, v.guest_token
    );
    let mut second = WsClient::connect(&site_url, None).await.unwrap();
    second.handshake().await;
    let mut third = WsClient::connect(&site_url, None).await.unwrap();
    third.expect_close(1013).await;
    let mut second_admin = fx.admin_socket(&base, &v.dialog_id, None).await;
    second_admin.expect_close(1013).await;
    // The dialog still works for the sockets that got in.
    let sent = fx.operator_says(&v.dialog_id, "still here", false).await;
    assert_eq!(widget.next_event().await["seq"], sent["seq"]);
}

#[tokio::test]
async fn sockets_per_process_are_capped() {
    let (server, fx) = server_with(ServeOptions {
        max_connections: Some(2),
        ..Default::default()
    })
    .await;
    let base = ws_base(&server);
    let mut open = Vec::new();
    for _ in 0..2 {
        let v = fx.open_widget(None).await;
        let mut s = v.connect(&base, &fx, None).await;
        s.handshake().await;
        open.push(s);
    }
    let v = fx.open_widget(None).await;
    v.connect(&base, &fx, None).await.expect_close(1013).await;
}

#[tokio::test]
async fn new_sockets_per_ip_are_rate_limited_with_4008() {
    let (server, fx) = server_with(ServeOptions {
        ws_connects_per_ip_per_minute: Some(3),
        ..Default::default()
    })
    .await;
    let base = ws_base(&server);
    let v = fx.open_widget(None).await;
    for _ in 0..3 {
        v.connect(&base, &fx, None).await.handshake().await;
    }
    v.connect(&base, &fx, None).await.expect_close(4008).await;
}

#[tokio::test]
async fn visitor_requests_per_ip_are_rate_limited_with_429_and_retry_after() {
    let (server, fx) = server_with(ServeOptions {
        visitor_requests_per_ip_per_minute: Some(3),
        ..Default::default()
    })
    .await;
    let v = fx.open_widget(None).await;
    v.says(&fx.api, "one", None).await;
    v.says(&fx.api, "two", None).await;
    let resp = reqwest::Client::new()
        .post(format!(
            "{}/api/widget/dialogs/{}/messages",
            server.base, v.dialog_id
        ))
        .bearer_auth(&v.guest_token)
        .json(&json!({"text": "three"}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 429);
    let retry: u64 = resp.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=60).contains(&retry), "{retry}");
    let body: serde_json::Value = resp.json().await.unwrap();
    assert_eq!(body["error"]["code"], "rate_limited");
    assert!(!crate::texts(&fx.admin_events(&v.dialog_id).await).contains(&"three".to_owned()));
}

#[tokio::test]
async fn an_expired_operator_token_is_401_over_http_and_4001_over_websocket() {
    let (server, fx) = server_with(ServeOptions::default()).await;
    // Signed with the server's own operator key, but long past its expiry.
    let expired = replyx_server::auth::Tokens::new(TEST_SECRET, std::time::Duration::from_secs(60))
        .sign_operator(
            replyx_protocol::OperatorId::new(),
            "Old",
            replyx_protocol::SessionId::new(),
            1_000_000,
        );
    let (status, body) = fx.api.get("/api/dialogs", Some(&expired)).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (401, Some("token_expired"))
    );
    let v = fx.open_widget(None).await;
    let url = format!("{}/ws/dialogs/{}", ws_base(&server), v.dialog_id);
    WsClient::connect_operator(&url, &expired)
        .await
        .unwrap()
        .expect_close(4001)
        .await;
}

/// A client that reconnects while the server still holds its old socket (the link
/// died without a close) gets in even when that socket fills the dialog's limit: the
/// old one, carrying the same `client_id`, is closed with 4009; a malformed id is 1008.
#[tokio::test]
async fn a_reconnect_with_the_same_client_id_replaces_the_held_socket_with_4009() {
    let (server, fx) = server_with(ServeOptions {
        max_visitor_connections_per_dialog: Some(1),
        ..Default::default()
    })
    .await;
    let base = ws_base(&server);
    let v = fx.open_widget(None).await;
    let url = |client: &str| format!("{base}{}&client_id={client}", v.ws_path(&fx, None));
    let mut old = WsClient::connect(&url("tab-0000aaaa"), None).await.unwrap();
    old.handshake().await;
    let mut stranger = WsClient::connect(&url("tab-0000bbbb"), None).await.unwrap();
    stranger.expect_close(1013).await;

    let mut new = WsClient::connect(&url("tab-0000aaaa"), None).await.unwrap();
    new.handshake().await;
    old.expect_close(4009).await;
    let sent = fx
        .operator_says(&v.dialog_id, "to the new socket", false)
        .await;
    assert_eq!(new.next_event().await["seq"], sent["seq"]);

    let mut bad = WsClient::connect(&url("no"), None).await.unwrap();
    bad.expect_close(1008).await;
}

/// A visitor socket does not outlive its guest token: with a 3 s token lifetime, a
/// widget and a site socket opened with fresh tokens are closed with 4001 when the
/// token expires (they stayed open, the token being checked only at connect), and a
/// reconnect with the same token is refused with 4001. The heartbeat (25 s) is far off,
/// so the close is the expiry's.
#[tokio::test]
async fn a_visitor_socket_is_closed_with_4001_when_its_guest_token_expires() {
    let (server, fx) = server_with(ServeOptions {
        guest_token_ttl: Some(std::time::Duration::from_secs(3)),
        ..Default::default()
    })
    .await;
    let base = ws_base(&server);
    for via in ["widget", "site"] {
        // Each token fresh: opened right before its socket.
        let visitor = match via {
            "site" => fx.open_site(None).await,
            _ => fx.open_widget(None).await,
        };
        let mut socket = visitor.connect(&base, &fx, None).await;
        socket.handshake().await;
        let (_, pong) = socket.barrier().await;
        assert_eq!(pong["type"], "pong", "open and answering before the expiry");
        socket.expect_close(4001).await;
        visitor
            .connect(&base, &fx, None)
            .await
            .expect_close(4001)
            .await;
        let (status, body) = visitor.says(&fx.api, "still there?", None).await;
        assert_eq!(
            (status, body["error"]["code"].as_str()),
            (401, Some("token_expired"))
        );
    }
}
