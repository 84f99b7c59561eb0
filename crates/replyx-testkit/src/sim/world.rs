//! The simulated world: server processes, the shared store, a lossy bus between the
//! processes, and clients, advanced one randomly chosen action at a time. Every choice
//! comes from one seeded generator and everything runs on one thread, so a seed is a
//! run: the same seed replays the same actions and outcomes.

mod clients;
mod servers;

use super::client::{Client, Conn};
use super::node::Node;
use super::{Failure, SimConfig, Summary};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use replyx_core::{Assistant, BusMessage, NewAssistant, NewOperator, Store};
use replyx_protocol::{ConnectionKind, DialogId, GuestId, OperatorRef, Seq};
use replyx_store::SqliteStore;
use std::collections::VecDeque;
use std::sync::Arc;

/// Sockets of each class a process allows per dialog: a dialog's two tabs and a socket
/// the server still holds for a dropped link fit, more meet the limit.
pub(crate) const PER_DIALOG: usize = 3;

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
                    role: replyx_core::Role::Admin,
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
            nodes: (0..cfg.nodes)
                .map(|_| Node::start(cfg.outbox, PER_DIALOG))
                .collect(),
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
            89 => self.disconnect(c),
            90 => self.reconnect_now(c),
            91 => self.slow(c),
            92 => self.heartbeat_sweep(),
            93..=99 => self.fault(),
            _ => unreachable!("rolls are 0..100"),
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
                self.nodes[n] = Node::start(self.cfg.outbox, PER_DIALOG);
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
            self.heartbeat_sweep()?;
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
