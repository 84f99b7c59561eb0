//! Keep-alive: client pings get pongs with the stream's newest seq; a socket that answers
//! nothing is closed after the silence timeout.

use crate::seeded;
use replyx_server::config::ServeOptions;
use replyx_testkit::{Fixture, TestOptions, TestServer};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

#[tokio::test]
async fn pong_carries_the_newest_seq_of_the_connections_stream() {
    let (server, fx) = seeded().await;
    let v = fx.open_widget(None).await;
    let mut s = v.connect(&crate::ws_base(&server), &fx, None).await;
    s.handshake().await;
    fx.operator_says(&v.dialog_id, "note", true).await;
    let reply = fx.operator_says(&v.dialog_id, "reply", false).await;
    fx.operator_says(&v.dialog_id, "note 2", true).await;
    let (_, pong) = s.barrier().await;
    assert_eq!(
        pong["last_seq"], reply["seq"],
        "the visitor stream ends at the reply, not the note"
    );
}

/// Reads one server frame (unmasked) from a raw socket: (opcode, payload).
async fn read_frame(tcp: &mut TcpStream) -> (u8, Vec<u8>) {
    let mut head = [0u8; 2];
    tcp.read_exact(&mut head).await.expect("frame header");
    let mut len = (head[1] & 0x7f) as u64;
    if len == 126 {
        let mut ext = [0u8; 2];
        tcp.read_exact(&mut ext).await.unwrap();
        len = u16::from_be_bytes(ext) as u64;
    } else if len == 127 {
        let mut ext = [0u8; 8];
        tcp.read_exact(&mut ext).await.unwrap();
        len = u64::from_be_bytes(ext);
    }
    let mut payload = vec![0u8; len as usize];
    tcp.read_exact(&mut payload).await.unwrap();
    (head[0] & 0x0f, payload)
}

#[tokio::test]
async fn a_socket_that_answers_nothing_is_closed_after_the_silence_timeout() {
    let options = ServeOptions {
        heartbeat_interval: Some(Duration::from_millis(100)),
        heartbeat_timeout: Some(Duration::from_millis(400)),
        ..Default::default()
    };
    let server = TestServer::start_with(TestOptions {
        options,
        ..Default::default()
    })
    .await;
    let fx = Fixture::seed(&server).await;
    let v = fx.open_widget(None).await;
    // A raw client that never answers pings (a WebSocket library would answer them).
    let mut tcp = TcpStream::connect(server.addr).await.unwrap();
    let request = format!(
        "GET {} HTTP/1.1\r\nHost: {}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
        v.ws_path(&fx, None),
        server.addr
    );
    tcp.write_all(request.as_bytes()).await.unwrap();
    let mut response = Vec::new();
    while !response.ends_with(b"\r\n\r\n") {
        let mut byte = [0u8; 1];
        tcp.read_exact(&mut byte).await.unwrap();
        response.push(byte[0]);
    }
    assert!(String::from_utf8_lossy(&response).starts_with("HTTP/1.1 101"));
    let mut pings = 0;
    let close = tokio::time::timeout(replyx_testkit::WAIT, async {
        loop {
            match read_frame(&mut tcp).await {
                (0x9, _) => pings += 1,
                (0x8, payload) => return u16::from_be_bytes([payload[0], payload[1]]),
                _ => {}
            }
        }
    })
    .await
    .expect("the server closes a silent socket");
    assert_eq!(close, 1001);
    assert!(pings >= 2, "protocol pings were sent first: {pings}");
}
