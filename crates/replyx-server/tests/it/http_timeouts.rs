//! Slow and partial HTTP requests are cut off: a request whose line and headers do not
//! all arrive within `REPLYX_HTTP_HEADER_TIMEOUT` loses its connection, and one whose
//! body stalls gets 408 in the API's error shape within `REPLYX_HTTP_BODY_TIMEOUT`.
//! Without them 300 half-sent requests held their connections for minutes. Normal
//! requests and WebSockets, which live far longer than either timeout, are untouched.

use crate::ws_base;
use replyx_server::config::ServeOptions;
use replyx_testkit::{Fixture, TestOptions, TestServer, WAIT};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

async fn server() -> (TestServer, Fixture) {
    let server = TestServer::start_with(TestOptions {
        options: ServeOptions {
            http_header_timeout: Some(Duration::from_secs(1)),
            http_body_timeout: Some(Duration::from_secs(1)),
            ..Default::default()
        },
        ..Default::default()
    })
    .await;
    let fixture = Fixture::seed(&server).await;
    (server, fixture)
}

/// Sends `head` and reads until the server closes the connection; what it answered.
/// Fails (after the testkit's generous `WAIT`) when the server keeps it open.
async fn send_and_read_to_close(server: &TestServer, head: &[u8]) -> String {
    let mut tcp = TcpStream::connect(server.addr).await.unwrap();
    tcp.write_all(head).await.unwrap();
    let mut answer = Vec::new();
    let read = tokio::time::timeout(WAIT, async {
        let mut buf = [0u8; 4096];
        loop {
            match tcp.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(n) => answer.extend_from_slice(&buf[..n]),
            }
        }
    })
    .await;
    assert!(
        read.is_ok(),
        "the server still holds the connection of {:?}",
        String::from_utf8_lossy(head)
    );
    String::from_utf8_lossy(&answer).into_owned()
}

#[tokio::test]
async fn a_half_sent_request_head_loses_its_connection() {
    let (server, _fx) = server().await;
    for head in [
        &b"GET /heal"[..],
        b"GET /health HTTP/1.1\r\nHost: replyx.test\r\n",
        b"",
    ] {
        let answer = send_and_read_to_close(&server, head).await;
        assert!(!answer.contains(" 200 "), "{answer}");
    }
}

#[tokio::test]
async fn a_stalled_body_gets_408_in_the_api_error_shape_and_loses_its_connection() {
    let (server, fx) = server().await;
    let head = format!(
        "POST /api/widget/dialogs HTTP/1.1\r\nHost: replyx.test\r\n\
         Content-Type: application/json\r\nContent-Length: 200\r\n\r\n\
         {{\"assistant_id\": \"{}\"",
        fx.assistant_id
    );
    let answer = send_and_read_to_close(&server, head.as_bytes()).await;
    assert!(answer.starts_with("HTTP/1.1 408 "), "{answer}");
    let body = &answer[answer.find("\r\n\r\n").expect("a body") + 4..];
    let body: serde_json::Value = serde_json::from_str(body).expect("JSON");
    assert_eq!(body["error"]["code"], "request_timeout", "{body}");
}

/// A socket opened before a connection was cut for its half-sent head, and before a
/// stalled body got its 408, has lived longer than both timeouts: it still answers,
/// and so does a normal request.
#[tokio::test]
async fn normal_requests_and_websockets_outlive_both_timeouts() {
    let (server, fx) = server().await;
    let visitor = fx.open_widget(None).await;
    let mut socket = visitor.connect(&ws_base(&server), &fx, None).await;
    socket.handshake().await;
    let mut admin = fx
        .admin_socket(&ws_base(&server), &visitor.dialog_id, None)
        .await;
    admin.handshake().await;

    send_and_read_to_close(&server, b"GET /health HTTP/1.1\r\n").await;
    let stalled = "POST /api/widget/dialogs HTTP/1.1\r\nHost: replyx.test\r\n\
                   Content-Type: application/json\r\nContent-Length: 200\r\n\r\n{";
    let answer = send_and_read_to_close(&server, stalled.as_bytes()).await;
    assert!(answer.starts_with("HTTP/1.1 408 "), "{answer}");

    let (_, pong) = socket.barrier().await;
    assert_eq!(pong["type"], "pong");
    let sent = fx
        .operator_says(&visitor.dialog_id, "still here", false)
        .await;
    assert_eq!(socket.next_event().await["seq"], sent["seq"]);
    assert_eq!(admin.next_event().await["seq"], sent["seq"]);
    let (status, _) = visitor.says(&fx.api, "me too", None).await;
    assert_eq!(status, 201);
    let health = reqwest::get(format!("{}/health", server.base))
        .await
        .unwrap();
    assert_eq!(health.status().as_u16(), 200);
}
