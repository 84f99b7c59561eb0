//! Client → server: size and rate limits, then `ping`, `typing`, `read` and
//! `message.send` (in `send`) frames.
//! A bad frame gets an `error` frame and the connection stays usable; an oversize frame
//! closes with 1009 and a flood with 1008.

use super::{Exit, Session};
use crate::dialog_service;
use axum::extract::ws::Message;
use replyx_core::SignalBody;
use replyx_protocol::{ClientFrame, CloseCode, ErrorCode, Reader, Seq, ServerFrame, TypingActor};

impl Session {
    pub(super) async fn on_incoming(
        &mut self,
        message: Option<Result<Message, axum::Error>>,
    ) -> Result<(), Exit> {
        let message = match message {
            None => return Err(Exit::Ended),
            Some(Err(e)) if is_over_capacity(&e) => return Err(Exit::Close(CloseCode::TooLarge)),
            Some(Err(_)) => return Err(Exit::Ended),
            Some(Ok(message)) => message,
        };
        self.last_activity = tokio::time::Instant::now();
        let payload_len = match &message {
            Message::Text(t) => t.len(),
            Message::Binary(b) => b.len(),
            // Protocol pings are answered by the WebSocket layer; any frame is a sign of life.
            Message::Ping(_) | Message::Pong(_) => return Ok(()),
            Message::Close(_) => return Err(Exit::Ended),
        };
        if payload_len > self.state.settings.limits.max_frame_bytes {
            return Err(Exit::Close(CloseCode::TooLarge));
        }
        if self.frames.check().is_err() {
            return Err(Exit::Close(CloseCode::PolicyViolation));
        }
        let Message::Text(text) = message else {
            return self
                .reject("binary frames are not part of the protocol")
                .await;
        };
        match serde_json::from_str::<ClientFrame>(text.as_str()) {
            Ok(frame) => self.on_client_frame(frame).await,
            Err(e) => self.reject(&format!("not a protocol frame: {e}")).await,
        }
    }

    async fn reject(&mut self, message: &str) -> Result<(), Exit> {
        let frame = ServerFrame::Error {
            code: ErrorCode::InvalidFrame.as_str().into(),
            message: message.into(),
            client_msg_id: None,
            retry_after: None,
        };
        self.send_frame(&frame).await
    }

    async fn on_client_frame(&mut self, frame: ClientFrame) -> Result<(), Exit> {
        let dialog = self.dialog_id;
        match (frame, dialog) {
            (ClientFrame::Ping {}, None) => {
                self.send_frame(&ServerFrame::Pong {
                    last_seq: Seq::ZERO,
                })
                .await
            }
            (ClientFrame::Ping {}, Some(dialog)) => {
                let newest = match self.state.store.dialog(dialog).await {
                    Ok(Some(d)) => d.last_seq_in(self.cursor.stream()),
                    _ => self.cursor.last(),
                };
                self.send_frame(&ServerFrame::Pong { last_seq: newest })
                    .await
            }
            (ClientFrame::Typing { state }, Some(dialog)) => {
                let actor = if self.kind.is_visitor() {
                    TypingActor::Visitor
                } else {
                    TypingActor::Operator
                };
                dialog_service::publish_signal(
                    &self.state,
                    dialog,
                    SignalBody::Typing { actor, state },
                )
                .await;
                Ok(())
            }
            (ClientFrame::Read { up_to }, Some(dialog)) => {
                let reader = if self.kind.is_visitor() {
                    Reader::Visitor
                } else {
                    Reader::Operator
                };
                match dialog_service::mark_read(&self.state, dialog, reader, up_to).await {
                    Ok(_) => Ok(()),
                    Err(e) => self.reject(&e.message).await,
                }
            }
            (
                ClientFrame::MessageSend {
                    text,
                    client_msg_id,
                    internal,
                },
                Some(dialog),
            ) => {
                self.on_message_send(dialog, text, client_msg_id, internal)
                    .await
            }
            (
                ClientFrame::Typing { .. }
                | ClientFrame::Read { .. }
                | ClientFrame::MessageSend { .. },
                None,
            ) => {
                self.reject("typing, read and message.send frames need a dialog socket")
                    .await
            }
        }
    }
}

/// Whether a read failed because the frame was past the WebSocket library's own hard
/// limit (`configure` sets it to 4x the protocol limit): such a frame is refused with
/// 1009 like one between the two limits, not dropped as a broken link. axum hands the
/// library's error over boxed; it is the `tungstenite` of the workspace's
/// `tokio-tungstenite`, which axum uses too (the integration test of a frame past the
/// hard limit fails should the two ever differ).
fn is_over_capacity(e: &axum::Error) -> bool {
    use std::error::Error as _;
    use tokio_tungstenite::tungstenite::Error;
    matches!(
        e.source().and_then(|inner| inner.downcast_ref::<Error>()),
        Some(Error::Capacity(_))
    )
}
