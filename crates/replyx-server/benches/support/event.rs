//! The stored event both benchmark binaries (`hot_paths`, `instructions`) measure: an
//! operator's message of typical length. Included with `#[path]`, as each bench is its
//! own crate.

use replyx_core::StoredEvent;
use replyx_protocol::{DialogId, EventPayload, Message, MessageId, Sender, Seq};

/// An operator's message stored as `seq` in `dialog`.
pub(crate) fn event(dialog: DialogId, seq: u64) -> StoredEvent {
    StoredEvent {
        dialog_id: dialog,
        seq: Seq(seq),
        prev_visitor_seq: Seq(seq - 1),
        payload: EventPayload::MessageCreated {
            message: Message {
                id: MessageId::new(),
                sender: Sender::Operator,
                text: "Hello! How can I help you with your order today?".into(),
                created_at: chrono::Utc::now(),
                client_msg_id: Some("c-123".into()),
                operator: None,
                internal: false,
            },
        },
    }
}
