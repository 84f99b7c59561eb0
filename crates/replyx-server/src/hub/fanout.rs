//! What goes into an outbox: a stored event shared by every subscriber (serialized at
//! most once per stream, not once per connection) or a ready signal frame.

use axum::extract::ws::Utf8Bytes as Bytes;
use replyx_core::{audience::Delivery, BusMessage, Signal, SignalBody, StoredEvent, Stream};
use replyx_protocol::{EventPayload, ServerFrame};
use std::sync::{Arc, OnceLock};
use std::time::Instant;

/// A stored event on its way to sockets.
#[derive(Debug)]
pub struct FanoutEvent {
    /// The event.
    pub event: Arc<StoredEvent>,
    /// When this process received it (latency of events without a timestamp).
    pub received: Instant,
    admin_json: OnceLock<Bytes>,
    visitor_json: OnceLock<Bytes>,
}

impl FanoutEvent {
    /// Wraps a stored event.
    pub fn new(event: Arc<StoredEvent>) -> Arc<Self> {
        Arc::new(Self {
            event,
            received: Instant::now(),
            admin_json: OnceLock::new(),
            visitor_json: OnceLock::new(),
        })
    }

    /// The frame for `stream`, serialized on first use and shared afterwards; `None`
    /// when the stream never carries this event.
    pub fn json(&self, stream: Stream) -> Option<Bytes> {
        let cell = match stream {
            Stream::Admin => &self.admin_json,
            Stream::Visitor => &self.visitor_json,
        };
        if let Some(bytes) = cell.get() {
            return Some(bytes.clone());
        }
        let wire = self.event.to_wire(stream)?;
        let bytes = Bytes::from(serde_json::to_string(&wire).expect("event serializes"));
        Some(cell.get_or_init(|| bytes).clone())
    }

    /// The audience class of this event.
    pub fn delivery(&self) -> Delivery {
        match &self.event.payload {
            EventPayload::MessageCreated { message } => Delivery::Message {
                internal: message.internal,
            },
            EventPayload::DialogStatus { .. } => Delivery::Status,
            EventPayload::DialogRated { .. } => Delivery::Rated,
        }
    }
}

/// One item in a connection's outbox. Every variant is one pointer: tokio's channel
/// allocates its slots 32 at a time when the outbox is made, so the size of this enum,
/// times 32, is memory every idle socket holds (at 88 bytes, 2.8 KiB per socket; at 16,
/// 512 bytes). The payloads are shared by every subscriber anyway.
#[derive(Debug, Clone)]
pub enum Outbound {
    /// A stored event (subject to seq ordering and de-duplication in the session).
    Event(Arc<FanoutEvent>),
    /// A serialized signal frame (typing, queue position) for dialog subscribers.
    Frame(Arc<SignalFrame>),
    /// A read mark, serialized in each stream's numbering.
    Read(Arc<ReadFrames>),
    /// A serialized inbox frame for `/ws/admin/inbox` subscribers.
    Inbox(Arc<Bytes>),
    /// The bus may have lost messages (it reconnected to its broker): a dialog
    /// connection reads what it missed from the store; an inbox feed closes with 1012
    /// so that its console reloads the list.
    Resync,
}

/// A signal frame for a dialog's subscribers.
#[derive(Debug)]
pub struct SignalFrame {
    /// The dialog.
    pub dialog_id: replyx_protocol::DialogId,
    /// Audience class.
    pub delivery: Delivery,
    /// The frame.
    pub json: Bytes,
}

/// A read mark, serialized in each stream's numbering: operators get the mark as
/// stored, visitors the newest seq of their own stream at or below it, so that a mark
/// never counts internal notes for them. `visitor` is `None` when the signal came
/// without the mapped mark (from a node that does not send it); visitors then get
/// nothing.
#[derive(Debug)]
pub struct ReadFrames {
    /// The dialog.
    pub dialog_id: replyx_protocol::DialogId,
    /// The frame for admin sockets.
    pub admin: Bytes,
    /// The frame for site and widget sockets.
    pub visitor: Option<Bytes>,
}

impl Outbound {
    /// The dialog whose inbox row (status, preview, unread count) this may change:
    /// stored events and read marks do; typing and inbox frames do not.
    pub fn changes_inbox_row(&self) -> Option<replyx_protocol::DialogId> {
        match self {
            Outbound::Event(e) => Some(e.event.dialog_id),
            Outbound::Read(read) => Some(read.dialog_id),
            Outbound::Frame(_) | Outbound::Inbox(_) | Outbound::Resync => None,
        }
    }

    /// Converts a bus message, serializing signals once.
    pub fn from_bus(message: BusMessage) -> Outbound {
        match message {
            BusMessage::Event(e) => Outbound::Event(FanoutEvent::new(e)),
            BusMessage::Signal(s) => signal_frame(&s),
        }
    }
}

fn signal_frame(s: &Signal) -> Outbound {
    let encode = |f: &ServerFrame| Bytes::from(serde_json::to_string(f).expect("frame serializes"));
    match &s.body {
        SignalBody::Typing { actor, state } => Outbound::Frame(Arc::new(SignalFrame {
            dialog_id: s.dialog_id,
            delivery: Delivery::Typing(*actor),
            json: encode(&ServerFrame::Typing {
                dialog_id: s.dialog_id,
                actor: *actor,
                state: *state,
            }),
        })),
        SignalBody::Read {
            reader,
            up_to,
            visitor_up_to,
        } => {
            let frame = |up_to| {
                encode(&ServerFrame::Read {
                    dialog_id: s.dialog_id,
                    reader: *reader,
                    up_to,
                })
            };
            Outbound::Read(Arc::new(ReadFrames {
                dialog_id: s.dialog_id,
                admin: frame(*up_to),
                visitor: visitor_up_to.map(frame),
            }))
        }
        SignalBody::Inbox { created, summary } => {
            let dialog = summary.as_ref().clone();
            Outbound::Inbox(Arc::new(encode(&if *created {
                ServerFrame::DialogCreated { dialog }
            } else {
                ServerFrame::DialogUpdated { dialog }
            })))
        }
        SignalBody::Presence { operator, status } => {
            Outbound::Inbox(Arc::new(encode(&ServerFrame::OperatorPresence {
                operator: operator.clone(),
                status: *status,
            })))
        }
        SignalBody::Queue { standing } => Outbound::Frame(Arc::new(SignalFrame {
            dialog_id: s.dialog_id,
            delivery: Delivery::Queue,
            json: encode(&ServerFrame::QueuePosition {
                dialog_id: s.dialog_id,
                standing: *standing,
            }),
        })),
    }
}

#[cfg(test)]
mod tests {
    use super::Outbound;

    /// Every idle socket's outbox holds 32 slots of this enum from the start.
    #[test]
    fn an_outbox_slot_is_two_words() {
        assert!(
            std::mem::size_of::<Outbound>() <= 16,
            "{}",
            std::mem::size_of::<Outbound>()
        );
    }
}
