//! A simulated server process: the real `Hub` (registry, audience rule, outboxes,
//! `client_id` replacement) and one session per socket. A session here is the real
//! session loop's decisions — the shared `Cursor` of `replyx_core::delivery` — driven
//! step by step instead of by a socket; its glue mirrors `ws::session::outgoing`.

use super::client::Frame;
use replyx_core::audience::Delivery;
use replyx_core::delivery::{Cursor, Next};
use replyx_core::{Store, StoredEvent, Stream};
use replyx_protocol::{CloseCode, DialogId, Seq, TypingActor};
use replyx_server::hub::{Hub, HubLimits, Outbound, Subscription};
use replyx_server::metrics::Metrics;

/// Events per page of a replay or gap fill, as the real session reads them.
const PAGE: u32 = 500;

/// One socket's session on a node.
pub(crate) struct Session {
    pub(crate) client: usize,
    /// Which of the client's connections this is (frames of an older one are lost).
    pub(crate) token: u64,
    pub(crate) dialog: DialogId,
    pub(crate) sub: Subscription,
    pub(crate) cursor: Cursor,
}

/// A server process.
pub(crate) struct Node {
    /// `None` while the process is down.
    pub(crate) hub: Option<Hub>,
    pub(crate) sessions: Vec<Session>,
    /// Closing its sockets with 1012; goes down once they are gone.
    pub(crate) draining: bool,
    /// Cut off from the bus: what it publishes and what is published to it is lost.
    pub(crate) partitioned: bool,
}

impl Node {
    /// A process whose hub allows `per_dialog` sockets of each class per dialog (small,
    /// so that sockets the server still holds for dropped links meet the limit).
    pub(crate) fn start(outbox: usize, per_dialog: usize) -> Node {
        Node {
            hub: Some(Hub::new(
                HubLimits {
                    visitor_per_dialog: per_dialog,
                    admin_per_dialog: per_dialog,
                    total: 100_000,
                    outbox,
                },
                Metrics::new(),
            )),
            sessions: Vec::new(),
            draining: false,
            partitioned: false,
        }
    }

    pub(crate) fn stopped() -> Node {
        Node {
            hub: None,
            sessions: Vec::new(),
            draining: false,
            partitioned: false,
        }
    }

    pub(crate) fn is_up(&self) -> bool {
        self.hub.is_some()
    }

    pub(crate) fn accepts(&self) -> bool {
        self.is_up() && !self.draining
    }
}

/// What a session did in one pump: frames for its client, and audience violations.
pub(crate) struct Pumped {
    pub(crate) frames: Vec<Frame>,
    pub(crate) violations: Vec<String>,
    /// The session is over (closed with the last frame's code).
    pub(crate) closed: bool,
    pub(crate) gap_fills: u64,
}

/// Reads the stream after the cursor from the store, page by page (`catch_up`).
pub(crate) fn catch_up(
    rt: &tokio::runtime::Runtime,
    store: &dyn Store,
    dialog: DialogId,
    cursor: &mut Cursor,
    out: &mut Pumped,
) {
    let stream = cursor.stream();
    loop {
        let page = rt
            .block_on(store.events_since(dialog, cursor.last(), PAGE, stream))
            .expect("the store reads");
        let n = page.len();
        for event in page {
            match event.to_wire(stream) {
                Some(wire) => out.frames.push(Frame::Event(wire)),
                None => out.violations.push(format!(
                    "the store replayed seq {} outside the {stream:?} stream",
                    event.seq
                )),
            }
            cursor.advance(&event);
        }
        if (n as u32) < PAGE {
            return;
        }
    }
}

/// Takes everything queued for `session` from the hub, as the real session loop does.
pub(crate) fn pump(
    rt: &tokio::runtime::Runtime,
    store: &dyn Store,
    session: &mut Session,
    is_visitor: bool,
    skip_gap_fill: bool,
) -> Pumped {
    let mut out = Pumped {
        frames: Vec::new(),
        violations: Vec::new(),
        closed: false,
        gap_fills: 0,
    };
    while let Some(item) = session.sub.try_recv() {
        match item {
            Outbound::Event(fanout) => {
                on_event(rt, store, session, &fanout.event, skip_gap_fill, &mut out)
            }
            Outbound::Frame(frame) => {
                if let Delivery::Typing(actor) = frame.delivery {
                    if is_visitor && actor == TypingActor::Visitor {
                        out.violations
                            .push("the hub offered visitor typing to a visitor".into());
                    }
                    out.frames.push(Frame::Typing(actor));
                }
            }
            Outbound::Read(_) | Outbound::Inbox(_) | Outbound::Resync => {}
        }
    }
    if let Some(code) = session.sub.closer().code() {
        out.frames.push(Frame::Closed(code));
        out.closed = true;
    }
    out
}

fn on_event(
    rt: &tokio::runtime::Runtime,
    store: &dyn Store,
    session: &mut Session,
    event: &StoredEvent,
    skip_gap_fill: bool,
    out: &mut Pumped,
) {
    let next = match session.cursor.next(event) {
        // The injected bug: a gap is not filled, the event goes out as it came.
        Next::Gap if skip_gap_fill => Next::Send,
        next => next,
    };
    match next {
        Next::Duplicate => {}
        Next::Gap => {
            out.gap_fills += 1;
            catch_up(rt, store, session.dialog, &mut session.cursor, out);
        }
        Next::NotInStream => out.violations.push(format!(
            "the hub offered seq {} outside the {:?} stream",
            event.seq,
            session.cursor.stream()
        )),
        Next::Send => {
            match event.to_wire(session.cursor.stream()) {
                Some(wire) => out.frames.push(Frame::Event(wire)),
                None => out
                    .violations
                    .push(format!("seq {} has no wire form in its stream", event.seq)),
            }
            session.cursor.advance(event);
        }
    }
}

/// Opens a session for a client resuming at `since`: the replay, then live.
#[allow(clippy::too_many_arguments)]
pub(crate) fn open(
    rt: &tokio::runtime::Runtime,
    store: &dyn Store,
    hub: &Hub,
    client: usize,
    token: u64,
    kind: replyx_protocol::ConnectionKind,
    client_key: replyx_server::hub::ClientKey,
    dialog: DialogId,
    since: Seq,
) -> Result<(Session, Pumped), CloseCode> {
    let sub = hub
        .register(kind, Some(dialog), Some(client_key))
        .map_err(|_| CloseCode::TryAgainLater)?;
    let record = rt
        .block_on(store.dialog(dialog))
        .expect("the store reads")
        .expect("the dialog exists");
    let stream = Stream::of(kind);
    let mut cursor = Cursor::resume(stream, Some(since), record.last_seq_in(stream));
    let mut out = Pumped {
        frames: vec![Frame::Pong(record.last_seq_in(stream))],
        violations: Vec::new(),
        closed: false,
        gap_fills: 0,
    };
    catch_up(rt, store, dialog, &mut cursor, &mut out);
    out.frames.push(Frame::Live);
    Ok((
        Session {
            client,
            token,
            dialog,
            sub,
            cursor,
        },
        out,
    ))
}
