//! The simulated world: server processes, the shared store, a lossy bus between the
//! processes, and clients, advanced one randomly chosen action at a time. Every choice
//! comes from one seeded generator and everything runs on one thread, so a seed is a
//! run: the same seed replays the same actions and outcomes.

use super::client::{Accepted, Client, Conn, Frame, Pending};
use super::node::{self, Node};
use super::{Failure, InjectedBug, SimConfig, Summary};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use replyx_core::handoff::HandoffAction;
use replyx_core::{
    Assistant, BusMessage, BusSink, NewAssistant, NewMessage, NewOperator, Signal, SignalBody,
    Store, StoreError, Stream,
};
use replyx_protocol::{
    CloseCode, ConnectionKind, DialogId, GuestId, OperatorRef, Sender, Seq, TypingActor,
    TypingState,
};
use replyx_store::SqliteStore;
use std::collections::VecDeque;
use std::sync::Arc;

/// Actions kept for a failure's report.
const TRACE: usize = 400;

pub(crate) struct World {
    cfg: SimConfig,
    rng: StdRng,
    rt: tokio::runtime::Runtime,
    store: Arc<dyn Store>,
    nodes: Vec<Node>,
    /// Messages on their way to each node.
    bus: Vec<VecDeque<BusMessage>>,
    pub(crate) clients: Vec<Client>,
    pub(crate) dialogs: Vec<DialogId>,
    operators: Vec<OperatorRef>,
    pub(crate) step: u64,
    next_token: u64,
    /// Acknowledged sends: (dialog, client_msg_id, seq).
    pub(crate) acked: Vec<(usize, String, Seq)>,
    trace: VecDeque<String>,
    seed: u64,
    pub(crate) summary: Summary,
}

impl World {
    pub(crate) fn new(seed: u64, cfg: SimConfig) -> World {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("a runtime");
        let store: Arc<dyn Store> = Arc::new(
            rt.block_on(SqliteStore::build("sqlite::memory:", "sim"))
                .expect("an in-memory store"),
        );
        let assistant: Assistant = rt
            .block_on(store.create_assistant(NewAssistant {
                name: "Sim".into(),
                welcome_message: Some("Welcome".into()),
                ..Default::default()
            }))
            .expect("an assistant");
        let mut dialogs = Vec::new();
        for d in 0..cfg.dialogs {
            let guest = GuestId::parse(&format!("sim-guest-{d:04}")).expect("a guest id");
            let (dialog, _, _) = rt
                .block_on(store.open_dialog(&assistant, &guest))
                .expect("a dialog");
            dialogs.push(dialog.id);
        }
        let mut operators = Vec::new();
        for o in 0..cfg.operators {
            let op = rt
                .block_on(store.create_operator(NewOperator {
                    email: format!("op{o}@sim.test"),
                    name: format!("op{o}"),
                    password_hash: "unused".into(),
                }))
                .expect("an operator");
            operators.push(op.to_ref());
        }
        let mut clients = Vec::new();
        for d in 0..cfg.dialogs {
            for _ in 0..cfg.visitors_per_dialog {
                let n = clients.len();
                clients.push(Client::new(ConnectionKind::Widget, d, None, n));
            }
            for o in 0..cfg.operators {
                let n = clients.len();
                clients.push(Client::new(ConnectionKind::Admin, d, Some(o), n));
            }
        }
        World {
            nodes: (0..cfg.nodes).map(|_| Node::start(cfg.outbox)).collect(),
            bus: (0..cfg.nodes).map(|_| VecDeque::new()).collect(),
            cfg,
            rng: StdRng::seed_from_u64(seed),
            rt,
            store,
            clients,
            dialogs,
            operators,
            step: 0,
            next_token: 0,
            acked: Vec::new(),
            trace: VecDeque::new(),
            seed,
            summary: Summary::default(),
        }
    }

    pub(crate) fn note(&mut self, what: String) {
        use std::hash::{Hash, Hasher};
        let line = format!("{:>5}: {what}", self.step);
        // `DefaultHasher::new` has fixed keys: the same lines give the same fingerprint.
        let mut h = std::collections::hash_map::DefaultHasher::new();
        (self.summary.fingerprint, &line).hash(&mut h);
        self.summary.fingerprint = h.finish();
        if self.trace.len() == TRACE {
            self.trace.pop_front();
        }
        self.trace.push_back(line);
    }

    pub(crate) fn trace(&self) -> Vec<String> {
        self.trace.iter().cloned().collect()
    }

    pub(crate) fn fail(&self, reason: impl Into<String>) -> Failure {
        Failure {
            seed: self.seed,
            step: self.step,
            reason: reason.into(),
            trace: self.trace(),
        }
    }

    pub(crate) fn store(&self) -> &dyn Store {
        self.store.as_ref()
    }

    pub(crate) fn block_on<F: std::future::Future>(&self, f: F) -> F::Output {
        self.rt.block_on(f)
    }

    /// One random action of the run.
    pub(crate) fn act(&mut self) -> Result<(), Failure> {
        self.step += 1;
        let roll = self.rng.gen_range(0..100);
        let c = self.rng.gen_range(0..self.clients.len());
        match roll {
            0..=11 => self.send(c, false),
            12..=14 => self.send(c, true),
            15..=18 => self.handoff(c),
            19..=21 => self.typing(c),
            22..=41 => self.deliver_bus(false),
            42..=59 => self.pump_random(),
            60..=77 => self.read(c, 4),
            78..=81 => self.ping(c),
            82..=88 => self.connect(c, false),
            89..=90 => self.disconnect(c),
            91 => self.slow(c),
            92..=99 => self.fault(),
            _ => unreachable!("rolls are 0..100"),
        }
    }

    fn pick_node(&mut self) -> Option<usize> {
        let up: Vec<usize> = (0..self.nodes.len())
            .filter(|&n| self.nodes[n].accepts())
            .collect();
        (!up.is_empty()).then(|| up[self.rng.gen_range(0..up.len())])
    }

    /// A send over HTTP through a random node: store, then publish; the response may be
    /// lost, and then the client retries with the same `client_msg_id`.
    fn send(&mut self, c: usize, retry: bool) -> Result<(), Failure> {
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

    fn acknowledge(&mut self, c: usize, pending: &Pending, d: usize, seq: Seq) {
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

    fn handoff(&mut self, c: usize) -> Result<(), Failure> {
        let Some(o) = self.clients[c].operator else {
            return Ok(());
        };
        let Some(n) = self.pick_node() else {
            return Ok(());
        };
        let op = self.operators[o].clone();
        let action = match self.rng.gen_range(0..100) {
            0..=54 => HandoffAction::Take(op),
            55..=97 => HandoffAction::Release(op),
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

    fn typing(&mut self, c: usize) -> Result<(), Failure> {
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

    /// In-process delivery at once; to the other nodes through the bus, unless either
    /// end is cut off.
    fn publish(&mut self, from: usize, message: BusMessage) {
        if let Some(hub) = &self.nodes[from].hub {
            hub.deliver(message.clone());
        }
        for to in 0..self.nodes.len() {
            if to == from {
                continue;
            }
            if self.nodes[from].partitioned || self.nodes[to].partitioned {
                self.summary.bus_lost += 1;
            } else {
                self.bus[to].push_back(message.clone());
            }
        }
    }

    /// Hands one in-flight bus message to its node: mostly the oldest, sometimes another
    /// (reordering), sometimes none (loss) unless `reliable`.
    pub(crate) fn deliver_bus(&mut self, reliable: bool) -> Result<(), Failure> {
        let waiting: Vec<usize> = (0..self.bus.len())
            .filter(|&n| !self.bus[n].is_empty())
            .collect();
        if waiting.is_empty() {
            return Ok(());
        }
        let to = waiting[self.rng.gen_range(0..waiting.len())];
        let at = if reliable || self.rng.gen_bool(0.8) {
            0
        } else {
            self.rng.gen_range(0..self.bus[to].len())
        };
        let message = self.bus[to].remove(at).expect("an index in range");
        if !reliable && self.rng.gen_bool(self.cfg.bus_loss) {
            self.summary.bus_lost += 1;
            return Ok(());
        }
        if at > 0 {
            self.summary.bus_reordered += 1;
        }
        if let Some(hub) = &self.nodes[to].hub {
            hub.deliver(message);
        }
        Ok(())
    }

    fn pump_random(&mut self) -> Result<(), Failure> {
        let busy: Vec<(usize, usize)> = (0..self.nodes.len())
            .flat_map(|n| (0..self.nodes[n].sessions.len()).map(move |s| (n, s)))
            .collect();
        if busy.is_empty() {
            return Ok(());
        }
        let (n, s) = busy[self.rng.gen_range(0..busy.len())];
        self.pump(n, s, false)
    }

    /// Runs one session: what the hub queued for it goes to its client's socket (unless
    /// the client is slow, and then it waits in the outbox).
    pub(crate) fn pump(&mut self, n: usize, s: usize, even_slow: bool) -> Result<(), Failure> {
        let c = self.nodes[n].sessions[s].client;
        if !even_slow && self.clients[c].slow_until > self.step {
            return Ok(());
        }
        let visitor = self.clients[c].is_visitor();
        let session = &mut self.nodes[n].sessions[s];
        let out = node::pump(&self.rt, self.store.as_ref(), session, visitor);
        let token = session.token;
        self.summary.gap_fills += out.gap_fills;
        if let Some(v) = out.violations.first() {
            return Err(self.fail(format!("session of client {c} on node {n}: {v}")));
        }
        if out.closed {
            let code = match out.frames.last() {
                Some(Frame::Closed(code)) => *code,
                _ => CloseCode::InternalError,
            };
            self.note(format!(
                "node {n} closed client {c}'s socket (token {token}) with {}",
                code.code()
            ));
            self.nodes[n].sessions.remove(s);
        }
        if let Conn::Up {
            node,
            token: current,
            inbox,
        } = &mut self.clients[c].conn
        {
            if *node == n && *current == token {
                inbox.extend(out.frames);
            }
        }
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

    fn on_frame(&mut self, c: usize, frame: Frame) -> Result<(), Failure> {
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
                    Accepted::Gap => {
                        self.summary.client_gaps += 1;
                        self.fetch(c)?;
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
    fn fetch(&mut self, c: usize) -> Result<(), Failure> {
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

    fn ping(&mut self, c: usize) -> Result<(), Failure> {
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
        let client_id = self.clients[c].client_id.clone();
        match node::open(
            &self.rt,
            self.store.as_ref(),
            &hub,
            c,
            token,
            kind,
            client_id,
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
    fn disconnect(&mut self, c: usize) -> Result<(), Failure> {
        if matches!(self.clients[c].conn, Conn::Up { .. }) {
            let wait = self.rng.gen_range(1..15);
            self.clients[c].conn = Conn::Down {
                from_step: self.step + wait,
            };
            self.note(format!("client {c}'s link dropped"));
        }
        Ok(())
    }

    fn slow(&mut self, c: usize) -> Result<(), Failure> {
        let steps = self.rng.gen_range(20..80);
        self.clients[c].slow_until = self.step + steps;
        self.note(format!("client {c} reads nothing for {steps} steps"));
        Ok(())
    }

    fn fault(&mut self) -> Result<(), Failure> {
        let n = self.rng.gen_range(0..self.nodes.len());
        match self.rng.gen_range(0..5) {
            0 if self.nodes[n].is_up() => {
                self.note(format!("node {n} crashes"));
                self.crash(n);
            }
            1 if !self.nodes[n].is_up() => {
                self.note(format!("node {n} restarts"));
                self.nodes[n] = Node::start(self.cfg.outbox);
            }
            2 if self.nodes[n].accepts() => {
                self.note(format!("node {n} drains"));
                self.drain(n);
            }
            3 => {
                self.nodes[n].partitioned = !self.nodes[n].partitioned;
                self.note(format!(
                    "node {n} partitioned: {}",
                    self.nodes[n].partitioned
                ));
            }
            _ => {}
        }
        self.summary.faults += 1;
        Ok(())
    }

    /// The process dies: its sessions vanish without a close, what was on the way to it
    /// is lost, its clients' links drop.
    pub(crate) fn crash(&mut self, n: usize) {
        let partitioned = self.nodes[n].partitioned;
        self.nodes[n] = Node::stopped();
        self.nodes[n].partitioned = partitioned;
        self.summary.bus_lost += self.bus[n].len() as u64;
        self.bus[n].clear();
        for c in 0..self.clients.len() {
            if matches!(self.clients[c].conn, Conn::Up { node, .. } if node == n) {
                let wait = self.rng.gen_range(1..10);
                self.clients[c].conn = Conn::Down {
                    from_step: self.step + wait,
                };
            }
        }
    }

    /// SIGTERM: every socket is asked to close with 1012; the node goes down once its
    /// sessions are gone (`settle_drains`).
    fn drain(&mut self, n: usize) {
        self.nodes[n].draining = true;
        for s in &self.nodes[n].sessions {
            s.sub.closer().close(CloseCode::ServiceRestart);
        }
    }

    /// Drained nodes whose sessions are all closed exit.
    pub(crate) fn settle_drains(&mut self) {
        for n in 0..self.nodes.len() {
            if self.nodes[n].draining && self.nodes[n].sessions.is_empty() {
                self.note(format!("node {n} drained and exited"));
                self.crash(n);
            }
        }
    }

    /// Ends every fault and lets the world come to rest: every node up and reachable,
    /// no bus message lost any more, every client reading, connected, and caught up
    /// through its pings. Fails when it does not come to rest.
    pub(crate) fn quiesce(&mut self) -> Result<(), Failure> {
        self.note("faults end; the world settles".into());
        for n in 0..self.nodes.len() {
            self.nodes[n].partitioned = false;
            if !self.nodes[n].is_up() || self.nodes[n].draining {
                self.crash(n);
                self.nodes[n] = Node::start(self.cfg.outbox);
            }
        }
        for client in &mut self.clients {
            client.slow_until = 0;
        }
        for _round in 0..50 {
            let before: usize = self.clients.iter().map(|c| c.log.events.len()).sum();
            while self.bus.iter().any(|q| !q.is_empty()) {
                self.deliver_bus(true)?;
            }
            for n in 0..self.nodes.len() {
                let mut s = 0;
                while s < self.nodes[n].sessions.len() {
                    let before = self.nodes[n].sessions.len();
                    self.pump(n, s, true)?;
                    if self.nodes[n].sessions.len() == before {
                        s += 1;
                    }
                }
            }
            for c in 0..self.clients.len() {
                self.read(c, usize::MAX)?;
                self.connect(c, true)?;
                self.ping(c)?;
                self.read(c, usize::MAX)?;
            }
            let after: usize = self.clients.iter().map(|c| c.log.events.len()).sum();
            let quiet = self.bus.iter().all(VecDeque::is_empty)
                && self
                    .clients
                    .iter()
                    .all(|c| matches!(&c.conn, Conn::Up { inbox, .. } if inbox.is_empty()));
            // At rest: nothing in flight, and a whole round of pings changed nothing.
            // Whether every client then has everything is for the invariants to say.
            if quiet && after == before {
                return Ok(());
            }
        }
        Err(self.fail("the world did not come to rest within 50 rounds"))
    }
}

fn short(action: &str) -> &str {
    action.split('(').next().unwrap_or(action)
}
