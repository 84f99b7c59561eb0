//! A deterministic simulation of delivery: several server processes (each the real
//! `Hub` and the real delivery `Cursor`), the real `SqliteStore` (in memory) shared by
//! all, a lossy, reordering bus between the processes, and visitor and operator clients
//! that run the browser clients' algorithm — loading, resuming with `since`, fetching
//! gaps, retrying sends with the same `client_msg_id`. Faults come at random: process
//! crashes (also between storing and publishing) and restarts, drains, bus loss and
//! reordering, partitions, dropped links, slow consumers.
//!
//! Why not `turmoil` or `madsim`: both simulate the network and clock under tokio, but
//! the store runs SQLite on sqlx's own threads and tokio's `select!` picks branches at
//! random, so the real server under them is not reproducible from a seed without
//! rebuilding everything with `--cfg tokio_unstable` (turmoil) or a patched tokio
//! (madsim). Here one thread makes every choice from one seeded generator, and the
//! store is only ever asked one thing at a time, so a seed replays the same run — and
//! the parts under test are the real ones: the hub, the cursor, the audience rule, the
//! store. The session's glue around the cursor is the one piece written again
//! (`sim::node`), with the real loop's decisions.
//!
//! After the faults the world is brought to rest, and the invariants are checked
//! (`sim::check`): every client's stream has every event of its audience once, in seq
//! order, and no socket ever sent it a stream with a hole; no visitor ever saw an
//! internal note or visitor typing; no socket a client still uses was replaced (4009)
//! under it; one stored message
//! per `client_msg_id`, and every message a client meant to send stored exactly once;
//! never two operators holding a dialog.

mod check;
mod client;
mod node;
mod world;

use world::World;

/// A bug put in on purpose, to show the simulation catches what it is for. Each layer
/// is checked on its own promise, so that another layer's repair cannot hide its bug: a
/// socket's stream must have no holes (a session that skips its gap fill breaks that
/// even though the client's fetch would repair it), and each client must end with its
/// whole stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InjectedBug {
    /// A session that sees a gap sends the event on instead of filling the gap first.
    SessionSkipsGapFill,
    /// The client does not compare a pong's (or `connection.established`'s) `last_seq`
    /// with its own, so an event the bus lost stays lost.
    ClientIgnoresLastSeq,
    /// The client retries a send under a new `client_msg_id` instead of the same one.
    RetryWithNewId,
}

/// The shape of a run.
#[derive(Debug, Clone)]
pub struct SimConfig {
    /// Server processes.
    pub nodes: usize,
    /// Dialogs.
    pub dialogs: usize,
    /// Visitor clients (widgets) per dialog.
    pub visitors_per_dialog: usize,
    /// Operators, each with a console client on every dialog.
    pub operators: usize,
    /// Random actions before the world is brought to rest.
    pub steps: u64,
    /// Events a session's outbox holds (small, so that slow consumers overflow).
    pub outbox: usize,
    /// Chance that the bus loses a message.
    pub bus_loss: f64,
    /// A bug to put in, or none.
    pub bug: Option<InjectedBug>,
}

impl Default for SimConfig {
    fn default() -> Self {
        Self {
            nodes: 3,
            dialogs: 3,
            visitors_per_dialog: 2,
            operators: 2,
            steps: 600,
            outbox: 4,
            bus_loss: 0.05,
            bug: None,
        }
    }
}

/// What a run did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Summary {
    /// Events stored.
    pub stored: u64,
    /// Sockets opened.
    pub connects: u64,
    /// Gaps sessions filled from the store.
    pub gap_fills: u64,
    /// Gaps clients fetched (seen from `prev_seq` or a pong).
    pub client_gaps: u64,
    /// Bus messages lost.
    pub bus_lost: u64,
    /// Bus messages delivered out of order.
    pub bus_reordered: u64,
    /// Fault actions.
    pub faults: u64,
    /// A hash of every action of the run, in order: equal for equal seeds and configs.
    pub fingerprint: u64,
}

/// A run that broke an invariant.
#[derive(Debug, Clone)]
pub struct Failure {
    /// The seed that replays it.
    pub seed: u64,
    /// The step it failed at.
    pub step: u64,
    /// What went wrong.
    pub reason: String,
    /// The last actions before it.
    pub trace: Vec<String>,
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(
            f,
            "simulation seed {} failed at step {}: {}",
            self.seed, self.step, self.reason
        )?;
        writeln!(
            f,
            "replay: REPLYX_SIM_SEED={} cargo test -p replyx-testkit --test simulation",
            self.seed
        )?;
        writeln!(f, "last actions:")?;
        for line in &self.trace {
            writeln!(f, "  {line}")?;
        }
        Ok(())
    }
}

/// One run: `cfg.steps` random actions from `seed`, then rest, then the invariants.
///
/// # Errors
/// The invariant that broke, with the seed and the last actions.
pub fn run(seed: u64, cfg: &SimConfig) -> Result<Summary, Failure> {
    let mut world = World::new(seed, cfg.clone());
    for c in 0..world.clients.len() {
        world.connect(c, true)?;
    }
    while world.step < cfg.steps {
        world.act()?;
        world.settle_drains();
    }
    world.quiesce()?;
    check::at_rest(&world)?;
    Ok(world.summary.clone())
}
