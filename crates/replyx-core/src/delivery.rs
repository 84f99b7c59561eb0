//! The order one connection's stream goes out in, as a pure state machine: the server's
//! session keeps one `Cursor` per socket and asks it what to do with every event, live
//! or replayed. Kept free of sockets and stores so that the delivery simulation
//! (`replyx-testkit`'s `sim`) runs exactly this logic.
//!
//! Invariant: events leave in seq order, each once — an event at or below the last
//! one sent is a duplicate; an event whose previous seq *in this stream* is past the
//! last one sent reveals a gap, which the session fills from the store first.

use crate::model::{StoredEvent, Stream};
use replyx_protocol::Seq;

/// What to do with a live event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Next {
    /// Already sent (replay and live overlap, or the bus repeated it): drop it.
    Duplicate,
    /// Events before it were never seen: read the stream from the store after
    /// [`Cursor::last`] (the event itself comes with them).
    Gap,
    /// The stream never carries it (an internal note on a visitor stream). The hub's
    /// audience rule should have kept it away: a violation, dropped.
    NotInStream,
    /// Send it now.
    Send,
}

/// Where one connection's stream is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cursor {
    stream: Stream,
    last: Seq,
}

impl Cursor {
    /// A cursor for a new connection. With `since` the client resumes there (clamped
    /// to the stream's newest seq, or a `since` from the future would hide new events)
    /// and is owed a replay; without it the client loaded its history over HTTP and
    /// starts at the stream's newest seq. The clamp is the stream's, not the log's: a
    /// visitor's `replay.complete` would otherwise show the seq of an internal note.
    pub fn resume(stream: Stream, since: Option<Seq>, stream_newest: Seq) -> Self {
        let last = match since {
            Some(since) => since.min(stream_newest),
            None => stream_newest,
        };
        Self { stream, last }
    }

    /// The stream this cursor follows.
    pub fn stream(&self) -> Stream {
        self.stream
    }

    /// The newest seq sent (or skipped as not in the stream) so far.
    pub fn last(&self) -> Seq {
        self.last
    }

    /// What to do with a live event.
    pub fn next(&self, event: &StoredEvent) -> Next {
        if event.seq <= self.last {
            Next::Duplicate
        } else if self.stream == Stream::Visitor && event.is_internal() {
            // Before the gap check, or a gap fill would absorb the violation unseen.
            Next::NotInStream
        } else if event.prev_seq_in(self.stream) > self.last {
            Next::Gap
        } else {
            Next::Send
        }
    }

    /// Records that `event` went out (or, read from the store in order, was passed
    /// over): the stream continues after it.
    pub fn advance(&mut self, event: &StoredEvent) {
        self.last = self.last.max(event.seq);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use replyx_protocol::{DialogId, EventPayload, Message, MessageId, Sender};

    fn event(seq: u64, prev_visitor: u64, internal: bool) -> StoredEvent {
        StoredEvent {
            dialog_id: DialogId(uuid::Uuid::nil()),
            seq: Seq(seq),
            prev_visitor_seq: Seq(prev_visitor),
            payload: EventPayload::MessageCreated {
                message: Message {
                    id: MessageId(uuid::Uuid::nil()),
                    sender: Sender::Operator,
                    text: "t".into(),
                    created_at: chrono::DateTime::from_timestamp(0, 0).unwrap(),
                    client_msg_id: None,
                    operator: None,
                    internal,
                },
            },
        }
    }

    #[test]
    fn a_resume_starts_at_since_clamped_and_a_fresh_socket_at_the_stream_end() {
        let c = Cursor::resume(Stream::Visitor, Some(Seq(3)), Seq(5));
        assert_eq!(c.last(), Seq(3));
        // Seq 6 is a note: a visitor's stream ends at 5.
        let future = Cursor::resume(Stream::Visitor, Some(Seq(99)), Seq(5));
        assert_eq!(future.last(), Seq(5));
        let fresh = Cursor::resume(Stream::Visitor, None, Seq(5));
        assert_eq!(fresh.last(), Seq(5));
    }

    #[test]
    fn live_events_are_sent_in_order_and_once() {
        let mut c = Cursor::resume(Stream::Admin, None, Seq(2));
        assert_eq!(c.next(&event(2, 1, false)), Next::Duplicate);
        assert_eq!(c.next(&event(1, 0, false)), Next::Duplicate);
        let third = event(3, 2, false);
        assert_eq!(c.next(&third), Next::Send);
        c.advance(&third);
        assert_eq!(c.last(), Seq(3));
        assert_eq!(c.next(&third), Next::Duplicate, "a repeat of what was sent");
        assert_eq!(
            c.next(&event(5, 4, false)),
            Next::Gap,
            "seq 4 was never seen"
        );
    }

    #[test]
    fn visitor_streams_link_over_notes_and_never_send_one() {
        // 1 message, 2 note, 3 message (visitor prev 1).
        let mut visitor = Cursor::resume(Stream::Visitor, None, Seq(1));
        assert_eq!(visitor.next(&event(2, 1, true)), Next::NotInStream);
        let after_note = event(3, 1, false);
        assert_eq!(
            visitor.next(&after_note),
            Next::Send,
            "no gap: the note is not in it"
        );
        visitor.advance(&after_note);
        assert_eq!(visitor.last(), Seq(3));

        // A note offered to a visitor is a violation even when it also reveals a gap.
        assert_eq!(visitor.next(&event(9, 7, true)), Next::NotInStream);

        let admin = Cursor::resume(Stream::Admin, None, Seq(1));
        assert_eq!(
            admin.next(&after_note),
            Next::Gap,
            "the admin stream is owed the note"
        );
        assert_eq!(admin.next(&event(2, 1, true)), Next::Send);
    }

    #[test]
    fn advancing_never_moves_back() {
        let mut c = Cursor::resume(Stream::Admin, Some(Seq(4)), Seq(4));
        c.advance(&event(2, 1, false));
        assert_eq!(c.last(), Seq(4));
    }
}
