//! The one audience rule (PROTOCOL.md, "Who receives what"): a pure function of what is
//! delivered and the receiving connection's kind. The hub asks it for every delivery;
//! there is no separate "push to admin" and "push to visitor" path to keep in step.

use replyx_protocol::{ConnectionKind, TypingActor};

/// What the hub is about to deliver, reduced to what the audience rule looks at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Delivery {
    /// A stored `message.created`; `internal` for operator notes.
    Message {
        /// An internal note.
        internal: bool,
    },
    /// A stored `dialog.status`.
    Status,
    /// A stored `dialog.rated`.
    Rated,
    /// A dialog's standing in the routing queue (`queue.position`, not stored).
    Queue,
    /// A typing indicator by this actor.
    Typing(TypingActor),
    /// A read mark.
    Read,
}

/// Whether a connection of `kind` may receive `delivery`.
pub fn may_receive(delivery: Delivery, kind: ConnectionKind) -> bool {
    match (delivery, kind) {
        (_, ConnectionKind::Admin) => true,
        (Delivery::Message { internal }, _) => !internal,
        (Delivery::Status | Delivery::Rated | Delivery::Queue | Delivery::Read, _) => true,
        (Delivery::Typing(actor), _) => actor != TypingActor::Visitor,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ConnectionKind::*;

    /// Every (delivery, kind) pair, written out as PROTOCOL.md's table.
    #[test]
    fn audience_table_matches_protocol_for_every_pair() {
        let table: [(Delivery, [bool; 3]); 10] = [
            (Delivery::Message { internal: false }, [true, true, true]),
            (Delivery::Message { internal: true }, [true, false, false]),
            (Delivery::Status, [true, true, true]),
            (Delivery::Rated, [true, true, true]),
            (Delivery::Queue, [true, true, true]),
            (Delivery::Typing(TypingActor::Operator), [true, true, true]),
            (Delivery::Typing(TypingActor::Assistant), [true, true, true]),
            (Delivery::Typing(TypingActor::Visitor), [true, false, false]),
            (Delivery::Read, [true, true, true]),
            (Delivery::Read, [true, true, true]),
        ];
        for (delivery, expected) in table {
            for (kind, want) in [Admin, Site, Widget].into_iter().zip(expected) {
                assert_eq!(may_receive(delivery, kind), want, "{delivery:?} to {kind}");
            }
        }
    }
}
