//! `message.send`: a message sent on the socket the client already holds, stored through
//! the same path as `POST .../messages` (`dialog_service::post_message`: validation,
//! the store, publishing, the assistant's answer) and answered on this socket with
//! `message.ack` or an `error` that carries the `client_msg_id`.
//!
//! The socket was authenticated when it opened (token, dialog, site origin, identity
//! mode) and closes when its credentials expire or an operator's session ends, so a send
//! needs no new check of who is sending. What the POST checks per request is checked
//! here per send: a visitor's sends count against the per-IP request limit, the text and
//! the key are validated, and a closed dialog refuses. Who the sender is comes from the
//! socket's kind, never from the frame.

use super::{Exit, Session};
use crate::dialog_service;
use crate::error::ApiError;
use replyx_core::NewMessage;
use replyx_protocol::{DialogId, ErrorCode, Sender, ServerFrame};

impl Session {
    pub(super) async fn on_message_send(
        &mut self,
        dialog: DialogId,
        text: String,
        client_msg_id: String,
        internal: bool,
    ) -> Result<(), Exit> {
        let stored = match self.new_message(dialog, text, &client_msg_id, internal) {
            Ok(message) => dialog_service::post_message(&self.state, message).await,
            Err(refused) => Err(refused),
        };
        let answer = match stored {
            Ok(appended) => ServerFrame::MessageAck {
                client_msg_id,
                seq: appended.event.seq,
                duplicate: appended.duplicate,
            },
            Err(e) => ServerFrame::Error {
                code: e.code.as_str().into(),
                message: e.message,
                client_msg_id: Some(client_msg_id),
                retry_after: e.retry_after,
            },
        };
        self.send_frame(&answer).await
    }

    /// The message this socket's sender may send, or why not (before the store).
    fn new_message(
        &self,
        dialog: DialogId,
        text: String,
        client_msg_id: &str,
        internal: bool,
    ) -> Result<NewMessage, ApiError> {
        let (sender, operator) = if self.kind.is_visitor() {
            if internal {
                return Err(ApiError::new(
                    ErrorCode::Forbidden,
                    "internal notes are for operators",
                ));
            }
            crate::http::visitor::rate_limit(&self.state, self.peer_ip)?;
            (Sender::Visitor, None)
        } else {
            let operator = self
                .operator
                .clone()
                .ok_or_else(|| ApiError::internal("an operator socket without its operator"))?;
            (Sender::Operator, Some(operator))
        };
        Ok(NewMessage {
            dialog_id: dialog,
            sender,
            text,
            client_msg_id: Some(client_msg_id.to_owned()),
            operator,
            internal,
            require_status: None,
        })
    }
}
