//! `WsClient`: a protocol-speaking WebSocket client with a small assertion DSL.

use crate::WAIT;
use futures_util::{SinkExt, StreamExt};
use serde_json::{json, Value};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

/// What arrived.
#[derive(Debug, Clone, PartialEq)]
pub enum Incoming {
    /// A JSON text frame.
    Json(Value),
    /// The server closed, with this code (`None`: no close frame, the link dropped).
    Closed(Option<u16>),
}

/// A client socket.
pub struct WsClient {
    inner: WebSocketStream<MaybeTlsStream<TcpStream>>,
    closed: Option<Option<u16>>,
    /// The close frame's reason text, once closed with one.
    close_reason: Option<String>,
}

impl WsClient {
    /// Connects, sending `Origin` when given.
    ///
    /// # Errors
    /// The handshake failed.
    pub async fn connect(
        url: &str,
        origin: Option<&str>,
    ) -> Result<WsClient, tokio_tungstenite::tungstenite::Error> {
        Self::connect_with(url, origin, None).await
    }

    /// Connects as an operator: the token goes in `Authorization`, never in the URL.
    ///
    /// # Errors
    /// The handshake failed.
    pub async fn connect_operator(
        url: &str,
        token: &str,
    ) -> Result<WsClient, tokio_tungstenite::tungstenite::Error> {
        Self::connect_with(url, None, Some(token)).await
    }

    /// Connects, sending `Origin` and a bearer token when given.
    ///
    /// # Errors
    /// The handshake failed.
    pub async fn connect_with(
        url: &str,
        origin: Option<&str>,
        bearer: Option<&str>,
    ) -> Result<WsClient, tokio_tungstenite::tungstenite::Error> {
        let mut request = url.into_client_request()?;
        if let Some(o) = origin {
            request
                .headers_mut()
                .insert("origin", o.parse().expect("origin header"));
        }
        if let Some(token) = bearer {
            request.headers_mut().insert(
                "authorization",
                format!("Bearer {token}").parse().expect("bearer header"),
            );
        }
        let config = WebSocketConfig::default().max_message_size(Some(1 << 20));
        let (inner, _) =
            tokio_tungstenite::connect_async_with_config(request, Some(config), false).await?;
        Ok(WsClient {
            inner,
            closed: None,
            close_reason: None,
        })
    }

    /// The next JSON frame or the close, skipping control frames. Panics after `WAIT`.
    pub async fn recv(&mut self) -> Incoming {
        if let Some(code) = self.closed {
            return Incoming::Closed(code);
        }
        loop {
            let next = tokio::time::timeout(WAIT, self.inner.next())
                .await
                .expect("timed out waiting for a frame");
            match next {
                Some(Ok(Message::Text(t))) => {
                    return Incoming::Json(
                        serde_json::from_str(t.as_str()).expect("server frames are JSON"),
                    );
                }
                Some(Ok(Message::Close(frame))) => {
                    let code = frame.as_ref().map(|f| u16::from(f.code));
                    self.close_reason = frame.map(|f| f.reason.as_str().to_owned());
                    self.closed = Some(code);
                    return Incoming::Closed(code);
                }
                Some(Ok(Message::Binary(_))) => panic!("server sent a binary frame"),
                Some(Ok(_)) => continue,
                Some(Err(_)) | None => {
                    self.closed = Some(None);
                    return Incoming::Closed(None);
                }
            }
        }
    }

    /// The next JSON frame; panics on a close.
    pub async fn next_json(&mut self) -> Value {
        match self.recv().await {
            Incoming::Json(v) => v,
            Incoming::Closed(code) => {
                panic!("socket closed with {code:?} while a frame was expected")
            }
        }
    }

    /// The next frame, which must be of type `ty`.
    pub async fn expect_type(&mut self, ty: &str) -> Value {
        let v = self.next_json().await;
        assert_eq!(v["type"], ty, "expected a {ty} frame, got {v}");
        v
    }

    /// Waits for a frame matching `pred`; returns it and the frames before it.
    pub async fn until(&mut self, pred: impl Fn(&Value) -> bool) -> (Value, Vec<Value>) {
        let mut before = Vec::new();
        loop {
            let v = self.next_json().await;
            if pred(&v) {
                return (v, before);
            }
            before.push(v);
        }
    }

    /// Waits for the next stored event (`message.created` or `dialog.status`), skipping
    /// typing and read frames.
    pub async fn next_event(&mut self) -> Value {
        self.until(|v| v["seq"].is_u64()).await.0
    }

    /// Reads `connection.established`, the replay and `replay.complete`; returns the
    /// established frame and the replayed events.
    pub async fn handshake(&mut self) -> (Value, Vec<Value>) {
        let established = self.expect_type("connection.established").await;
        let (_, replay) = self.until(|v| v["type"] == "replay.complete").await;
        (established, replay)
    }

    /// Sends a `ping` and returns every frame that arrived before its `pong`, then the
    /// pong: whatever was sent to us before the barrier is in the list.
    pub async fn barrier(&mut self) -> (Vec<Value>, Value) {
        self.send_json(json!({"type": "ping"})).await;
        let (pong, before) = self.until(|v| v["type"] == "pong").await;
        (before, pong)
    }

    /// Waits for the close and asserts its code, ignoring frames before it; for one of
    /// the protocol's codes, also the reason text the close-code table gives it.
    pub async fn expect_close(&mut self, code: u16) {
        loop {
            match self.recv().await {
                Incoming::Json(_) => continue,
                Incoming::Closed(got) => {
                    assert_eq!(got, Some(code), "expected close {code}");
                    if let Some(ours) = replyx_protocol::CloseCode::from_code(code) {
                        assert_eq!(
                            self.close_reason.as_deref(),
                            Some(ours.reason()),
                            "close {code} carries its reason"
                        );
                    }
                    return;
                }
            }
        }
    }

    /// Every JSON frame until the server closes, and the close code.
    pub async fn until_closed(&mut self) -> (Vec<Value>, Option<u16>) {
        let mut frames = Vec::new();
        loop {
            match self.recv().await {
                Incoming::Json(v) => frames.push(v),
                Incoming::Closed(code) => return (frames, code),
            }
        }
    }

    /// Sends a JSON frame.
    pub async fn send_json(&mut self, v: Value) {
        self.send_text(v.to_string()).await;
    }

    /// Sends a text frame.
    pub async fn send_text(&mut self, text: String) {
        self.inner
            .send(Message::Text(text.into()))
            .await
            .expect("frame sent");
    }

    /// Sends a binary frame.
    pub async fn send_binary(&mut self, bytes: Vec<u8>) {
        self.inner
            .send(Message::Binary(bytes.into()))
            .await
            .expect("frame sent");
    }

    /// Closes from the client side and waits for the server's answer.
    pub async fn close(mut self) {
        let _ = self.inner.close(None).await;
        while let Ok(Some(Ok(_))) = tokio::time::timeout(WAIT, self.inner.next()).await {}
    }
}
