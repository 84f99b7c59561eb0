//! What servers and the bus do: publish (in-process at once, to the other processes
//! through the bus), deliver bus messages (lost and reordered at times), run sessions,
//! and the process faults: crashes, restarts, drains, partitions.

use super::super::client::{Conn, Frame};
use super::super::node::{self, Node};
use super::super::{Failure, InjectedBug};
use super::{World, PER_DIALOG};
use rand::Rng;
use replyx_core::{BusMessage, BusSink};
use replyx_protocol::CloseCode;

impl World {
    pub(super) fn pick_node(&mut self) -> Option<usize> {
        let up: Vec<usize> = (0..self.nodes.len())
            .filter(|&n| self.nodes[n].accepts())
            .collect();
        (!up.is_empty()).then(|| up[self.rng.gen_range(0..up.len())])
    }

    /// In-process delivery at once; to the other nodes through the bus, unless either
    /// end is cut off.
    pub(super) fn publish(&mut self, from: usize, message: BusMessage) {
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

    pub(super) fn pump_random(&mut self) -> Result<(), Failure> {
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
        let skip = self.cfg.bug == Some(InjectedBug::SessionSkipsGapFill);
        let out = node::pump(&self.rt, self.store.as_ref(), session, visitor, skip);
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

    pub(super) fn fault(&mut self) -> Result<(), Failure> {
        let n = self.rng.gen_range(0..self.nodes.len());
        match self.rng.gen_range(0..5) {
            0 if self.nodes[n].is_up() => {
                self.note(format!("node {n} crashes"));
                self.crash(n);
            }
            1 if !self.nodes[n].is_up() => {
                self.note(format!("node {n} restarts"));
                self.nodes[n] = Node::start(self.cfg.outbox, PER_DIALOG);
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
    pub(super) fn drain(&mut self, n: usize) {
        self.nodes[n].draining = true;
        for s in &self.nodes[n].sessions {
            s.sub.closer().close(CloseCode::ServiceRestart);
        }
    }

    /// The heartbeat's silence timeout: sessions whose client is no longer on them (its
    /// link dropped) are closed with 1001.
    pub(crate) fn heartbeat_sweep(&mut self) -> Result<(), Failure> {
        for n in 0..self.nodes.len() {
            for s in &self.nodes[n].sessions {
                let current = matches!(self.clients[s.client].conn,
                    Conn::Up { node, token, .. } if node == n && token == s.token);
                if !current {
                    s.sub.closer().close(CloseCode::GoingAway);
                }
            }
        }
        Ok(())
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
}
