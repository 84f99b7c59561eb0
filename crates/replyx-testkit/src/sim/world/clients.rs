//! What clients do: send over HTTP (responses lost and retried), hand off, type, read
//! their socket and act on each frame, fetch gaps, ping, (re)connect with `since`, lose
//! their link, stop reading for a while.

use super::super::client::{Accepted, Conn, Frame, Pending};
use super::super::node;
use super::super::{Failure, InjectedBug};
use super::World;
use rand::Rng;
use replyx_core::handoff::HandoffAction;
use replyx_core::{BusMessage, NewMessage, Signal, SignalBody, StoreError, Stream};
use replyx_protocol::{CloseCode, Sender, Seq, TypingActor, TypingState};
use std::sync::Arc;

impl World {
    /// A send over HTTP through a random node: store, then publish; the response may be
    /// lost, and then the client retries with the same `client_msg_id`.
    pub(super) fn send(&mut self, c: usize, retry: bool) -> Result<(), Failure> {
        let Some(n) = self.pick_node() else {
            return Ok(());
        };
        let note = self.rng.gen_bool(0.3);
        let client = &mut self.clients[c];
        if !client.loaded {
            return Ok(());
        }
        let pending = match (retry, client.pending.first()) {
            (true, Some(p)) => p.clone(),
            (true, None) => return Ok(()),
            (false, _) => {
                let internal = !client.is_visitor() && note;
                let p = client.compose(c, internal);
                client.pending.push(p.clone());
                p
            }
        };
        let dialog = self.dialogs[client.dialog];
        let d = client.dialog;
        let mut key = pending.client_msg_id.clone();
        if retry && self.cfg.bug == Some(InjectedBug::RetryWithNewId) {
            key.push_str("-again");
        }
        let message = match client.operator {
            None => NewMessage {
                client_msg_id: Some(key),
                ..NewMessage::visitor(dialog, pending.text.clone())
            },
            Some(o) => NewMessage {
                sender: Sender::Operator,
                client_msg_id: Some(key),
                operator: Some(self.operators[o].clone()),
                internal: pending.internal,
                ..NewMessage::visitor(dialog, pending.text.clone())
            },
        };
        match self.rt.block_on(self.store.append_message(message)) {
            Ok(appended) => {
                let seq = appended.event.seq;
                if !appended.duplicate {
                    self.summary.stored += 1;
                    if self.rng.gen_bool(0.03) {
                        self.note(format!("node {n} crashes after storing seq {seq} of dialog {d}, before publishing"));
                        self.crash(n);
                        return Ok(());
                    }
                    self.publish(n, BusMessage::Event(Arc::new(appended.event)));
                }
                if self.rng.gen_bool(0.85) {
                    self.note(format!(
                        "client {c} sent {} → seq {seq} (dup {})",
                        pending.client_msg_id, appended.duplicate
                    ));
                    self.acknowledge(c, &pending, d, seq);
                } else {
                    self.note(format!(
                        "client {c} sent {} → seq {seq}, response lost",
                        pending.client_msg_id
                    ));
                }
                Ok(())
            }
            Err(StoreError::DialogClosed) => {
                self.clients[c]
                    .pending
                    .retain(|p| p.client_msg_id != pending.client_msg_id);
                Ok(())
            }
            Err(e) => Err(self.fail(format!("append failed: {e}"))),
        }
    }

    pub(super) fn acknowledge(&mut self, c: usize, pending: &Pending, d: usize, seq: Seq) {
        self.clients[c]
            .pending
            .retain(|p| p.client_msg_id != pending.client_msg_id);
        if !self
            .acked
            .iter()
            .any(|(_, id, _)| *id == pending.client_msg_id)
        {
            self.acked.push((d, pending.client_msg_id.clone(), seq));
        }
    }

    pub(super) fn handoff(&mut self, c: usize) -> Result<(), Failure> {
        let Some(o) = self.clients[c].operator else {
            return Ok(());
        };
        let Some(n) = self.pick_node() else {
            return Ok(());
        };
        let op = self.operators[o].clone();
        let action = match self.rng.gen_range(0..100) {
            0..=54 => HandoffAction::Take(op),
            55..=80 => HandoffAction::Release(op),
            81..=97 => HandoffAction::HandBack(op),
            _ => HandoffAction::Close(op),
        };
        let d = self.clients[c].dialog;
        let what = format!("{action:?}");
        match self
            .rt
            .block_on(self.store.handoff(self.dialogs[d], action, 5))
        {
            Ok(events) => {
                self.note(format!(
                    "operator {o} on dialog {d}: {} → {} event(s)",
                    short(&what),
                    events.len()
                ));
                self.summary.stored += events.len() as u64;
                for e in events {
                    self.publish(n, BusMessage::Event(Arc::new(e)));
                }
                Ok(())
            }
            Err(StoreError::Handoff(_)) => Ok(()),
            Err(e) => Err(self.fail(format!("handoff failed: {e}"))),
        }
    }

    pub(super) fn typing(&mut self, c: usize) -> Result<(), Failure> {
        let Some(n) = self.pick_node() else {
            return Ok(());
        };
        let actor = if self.clients[c].is_visitor() {
            TypingActor::Visitor
        } else {
            TypingActor::Operator
        };
        let signal = Signal {
            dialog_id: self.dialogs[self.clients[c].dialog],
            body: SignalBody::Typing {
                actor,
                state: TypingState::Start,
            },
        };
        self.publish(n, BusMessage::Signal(Arc::new(signal)));
        Ok(())
    }

    /// The client reads up to `k` frames from its socket.
    pub(crate) fn read(&mut self, c: usize, k: usize) -> Result<(), Failure> {
        if self.clients[c].slow_until > self.step {
            return Ok(());
        }
        for _ in 0..k {
            let frame = match &mut self.clients[c].conn {
                Conn::Up { inbox, .. } => inbox.pop_front(),
                Conn::Down { .. } => None,
            };
            let Some(frame) = frame else {
                return Ok(());
            };
            self.on_frame(c, frame)?;
        }
        Ok(())
    }

    pub(super) fn on_frame(&mut self, c: usize, frame: Frame) -> Result<(), Failure> {
        let visitor = self.clients[c].is_visitor();
        match frame {
            Frame::Event(event) => {
                if visitor && event.payload.is_internal() {
                    return Err(self.fail(format!(
                        "visitor {c} received internal note seq {}",
                        event.seq
                    )));
                }
                match self.clients[c].log.accept(&event) {
                    Accepted::Added | Accepted::Duplicate => {}
                    // A socket's stream has no holes: it starts at the client's `since`
                    // and the session fills every gap before it sends on.
                    Accepted::Gap => {
                        return Err(self.fail(format!(
                            "client {c}'s socket sent seq {} after {} without seq {} (its stream has a hole)",
                            event.seq, self.clients[c].log.last, event.prev_seq
                        )))
                    }
                }
            }
            Frame::Typing(actor) => {
                if visitor && actor == TypingActor::Visitor {
                    return Err(self.fail(format!("visitor {c} saw visitor typing")));
                }
            }
            Frame::Pong(last) => {
                let ignores = self.cfg.bug == Some(InjectedBug::ClientIgnoresLastSeq);
                if last > self.clients[c].log.last && !ignores {
                    self.summary.client_gaps += 1;
                    self.fetch(c)?;
                }
            }
            Frame::Live => {}
            Frame::Closed(code) => {
                if code == CloseCode::Replaced {
                    return Err(
                        self.fail(format!("client {c}'s current socket was replaced (4009)"))
                    );
                }
                let wait = self.rng.gen_range(1..20);
                self.clients[c].conn = Conn::Down {
                    from_step: self.step + wait,
                };
            }
        }
        Ok(())
    }

    /// `GET …/events?since=last` (the client's gap fill), page by page.
    pub(super) fn fetch(&mut self, c: usize) -> Result<(), Failure> {
        if self.pick_node().is_none() {
            return Ok(()); // no server answers HTTP now; the next pong tries again
        }
        let client = &self.clients[c];
        let stream = Stream::of(client.kind);
        let dialog = self.dialogs[client.dialog];
        loop {
            let since = self.clients[c].log.last;
            let page = self
                .rt
                .block_on(self.store.events_since(dialog, since, 500, stream))
                .map_err(|e| self.fail(format!("events_since: {e}")))?;
            for event in &page {
                let Some(wire) = event.to_wire(stream) else {
                    return Err(self.fail(format!(
                        "the {stream:?} stream returned seq {} it excludes",
                        event.seq
                    )));
                };
                if self.clients[c].log.accept(&wire) == Accepted::Gap {
                    return Err(self.fail(format!("the log has a hole before seq {}", wire.seq)));
                }
            }
            if page.len() < 500 {
                return Ok(());
            }
        }
    }

    pub(super) fn ping(&mut self, c: usize) -> Result<(), Failure> {
        let Conn::Up { node, token, .. } = self.clients[c].conn else {
            return Ok(());
        };
        let Some(session) = self.nodes[node]
            .sessions
            .iter()
            .find(|s| s.client == c && s.token == token)
        else {
            return Ok(()); // the session is gone; its close frame is on the way
        };
        let record = self
            .rt
            .block_on(self.store.dialog(session.dialog))
            .map_err(|e| self.fail(format!("dialog: {e}")))?
            .expect("the dialog exists");
        let last = record.last_seq_in(session.cursor.stream());
        if let Conn::Up { inbox, .. } = &mut self.clients[c].conn {
            inbox.push_back(Frame::Pong(last));
        }
        Ok(())
    }

    /// Loads the dialog (once) and opens a socket with `since` on a random node.
    pub(crate) fn connect(&mut self, c: usize, now: bool) -> Result<(), Failure> {
        let Conn::Down { from_step } = self.clients[c].conn else {
            return Ok(());
        };
        if !now && from_step > self.step {
            return Ok(());
        }
        let Some(n) = self.pick_node() else {
            return Ok(());
        };
        let dialog = self.dialogs[self.clients[c].dialog];
        let kind = self.clients[c].kind;
        if !self.clients[c].loaded {
            let history = self
                .rt
                .block_on(
                    self.store
                        .events_since(dialog, Seq::ZERO, 10_000, Stream::of(kind)),
                )
                .map_err(|e| self.fail(format!("load: {e}")))?;
            for e in history.iter().filter_map(|e| e.to_wire(Stream::of(kind))) {
                self.clients[c].log.accept(&e);
            }
            self.clients[c].loaded = true;
        }
        self.next_token += 1;
        let token = self.next_token;
        let since = self.clients[c].log.last;
        let hub = self.nodes[n].hub.clone().expect("an accepting node is up");
        // Who the socket is: the dialog's guest for its tabs, or the operator.
        let owner = match self.clients[c].operator {
            Some(o) => format!("operator-{o}"),
            None => format!("guest-{}", self.clients[c].dialog),
        };
        let client_key =
            replyx_server::hub::ClientKey::new(self.clients[c].client_id.clone(), owner);
        match node::open(
            &self.rt,
            self.store.as_ref(),
            &hub,
            c,
            token,
            kind,
            client_key,
            dialog,
            since,
        ) {
            Ok((session, out)) => {
                self.summary.connects += 1;
                self.note(format!(
                    "client {c} connected to node {n} (token {token}) since {since}"
                ));
                if let Some(v) = out.violations.first() {
                    return Err(self.fail(format!("replay to client {c}: {v}")));
                }
                self.nodes[n].sessions.push(session);
                self.clients[c].conn = Conn::Up {
                    node: n,
                    token,
                    inbox: out.frames.into(),
                };
            }
            Err(code) => {
                self.clients[c].conn = Conn::Down {
                    from_step: self.step + 5,
                };
                self.note(format!("client {c} refused by node {n}: {}", code.code()));
            }
        }
        Ok(())
    }

    /// The link drops without a close: the server keeps the session until its outbox
    /// overflows or the client's reconnect replaces it.
    pub(super) fn disconnect(&mut self, c: usize) -> Result<(), Failure> {
        if matches!(self.clients[c].conn, Conn::Up { .. }) {
            let wait = self.rng.gen_range(1..15);
            self.clients[c].conn = Conn::Down {
                from_step: self.step + wait,
            };
            self.note(format!("client {c}'s link dropped"));
        }
        Ok(())
    }

    /// The client's pong did not come in time: it drops its socket itself and opens a
    /// new one at once. The server may still hold the old one (replaced with 4009 if
    /// the new one lands on the same process).
    pub(super) fn reconnect_now(&mut self, c: usize) -> Result<(), Failure> {
        if matches!(self.clients[c].conn, Conn::Up { .. }) {
            self.clients[c].conn = Conn::Down {
                from_step: self.step,
            };
            self.note(format!("client {c} gives up on its socket and reconnects"));
            self.connect(c, true)?;
        }
        Ok(())
    }

    pub(super) fn slow(&mut self, c: usize) -> Result<(), Failure> {
        let steps = self.rng.gen_range(20..80);
        self.clients[c].slow_until = self.step + steps;
        self.note(format!("client {c} reads nothing for {steps} steps"));
        Ok(())
    }
}

fn short(action: &str) -> &str {
    action.split('(').next().unwrap_or(action)
}
