//! The cluster's feature check: one conversation whose parts live on three different
//! nodes, so that every kind of realtime traffic has to cross the bus. The load
//! generator proves that messages arrive once and in order under faults; this proves
//! that the rest (typing, handoff, read marks, the operators' live inbox, the site way
//! in) still crosses nodes after each fault.
//!
//! One round, with nodes (A, B, C):
//! - an operator's inbox feed on C, a site visitor (page `Origin`) loading a new dialog
//!   on A and holding its socket there, the operator's dialog socket on B;
//! - visitor typing on A reaches B; a visitor message written through C reaches A, B
//!   and the inbox on C; a take written through C reaches A, B and the inbox; operator
//!   typing on B reaches A; an operator reply written through B reaches A; each side's
//!   read mark crosses to the other; a close written through A reaches both;
//! - then both sockets' streams are audited against the stored log: every event once,
//!   in seq order, none of another dialog.
//!
//! Rounds rotate the roles, so that with three nodes each one plays each part. A step
//! that does not happen within [`WAIT`](crate::WAIT) fails the round (the test client
//! panics; [`run_round`] reports it as an error naming the step).

use crate::{Fixture, Visitor, WsClient};
use serde_json::{json, Value};
use std::sync::{Arc, Mutex};

/// What one round checked, step by step, in order.
#[derive(Debug, Default, Clone)]
pub struct RoundLog {
    /// Steps that passed, each named with the nodes it crossed.
    pub passed: Vec<String>,
    /// Events audited on the two sockets together.
    pub audited_events: usize,
}

/// Runs one round with the roles on `nodes` (`http://` bases of A, B and C; the same
/// base twice is allowed, for a check against a single node). The fixture must be
/// able to log in and hold a site token whose origin is [`crate::SITE_ORIGIN`].
///
/// # Errors
/// The step that failed, and every step that passed before it.
pub async fn run_round(fixture: &Fixture, nodes: [&str; 3]) -> Result<RoundLog, RoundFailure> {
    let log = Arc::new(Mutex::new(RoundLog::default()));
    let step = Arc::new(Mutex::new(String::from("setting up")));
    let task = tokio::spawn(round(
        fixture.clone(),
        nodes.map(str::to_owned),
        log.clone(),
        step.clone(),
    ));
    let outcome = task.await;
    let log = log.lock().expect("log").clone();
    match outcome {
        Ok(()) => Ok(log),
        Err(e) => Err(RoundFailure {
            step: step.lock().expect("step").clone(),
            why: panic_text(e),
            log,
        }),
    }
}

/// A round that stopped at `step`.
#[derive(Debug)]
pub struct RoundFailure {
    /// The step under way when it failed.
    pub step: String,
    /// What went wrong.
    pub why: String,
    /// What passed before.
    pub log: RoundLog,
}

impl std::fmt::Display for RoundFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} (after {} passed steps): {}",
            self.step,
            self.log.passed.len(),
            self.why
        )
    }
}

fn panic_text(e: tokio::task::JoinError) -> String {
    match e.try_into_panic() {
        Ok(p) => p
            .downcast_ref::<String>()
            .cloned()
            .or_else(|| p.downcast_ref::<&str>().map(|s| (*s).to_owned()))
            .unwrap_or_else(|| "panicked".into()),
        Err(e) => e.to_string(),
    }
}

/// A socket that keeps every seq it receives, whichever wait it arrived in.
struct Recorded {
    ws: WsClient,
    dialog: String,
    seqs: Vec<u64>,
    foreign: usize,
}

impl Recorded {
    async fn open(mut ws: WsClient, dialog: &str) -> Recorded {
        let (_, replay) = ws.handshake().await;
        let mut r = Recorded {
            ws,
            dialog: dialog.to_owned(),
            seqs: Vec::new(),
            foreign: 0,
        };
        for frame in &replay {
            r.record(frame);
        }
        r
    }

    fn record(&mut self, frame: &Value) {
        if let Some(seq) = frame["seq"].as_u64() {
            if frame["dialog_id"].as_str() == Some(&self.dialog) {
                self.seqs.push(seq);
            } else {
                self.foreign += 1;
            }
        }
    }

    /// Waits for a frame matching `pred`, recording every frame on the way.
    async fn until(&mut self, pred: impl Fn(&Value) -> bool) -> Value {
        loop {
            let frame = self.ws.next_json().await;
            self.record(&frame);
            if pred(&frame) {
                return frame;
            }
        }
    }

    async fn until_seq(&mut self, seq: u64) {
        if self.seqs.contains(&seq) {
            return;
        }
        self.until(|f| f["seq"].as_u64() == Some(seq)).await;
    }

    async fn send(&mut self, frame: Value) {
        self.ws.send_json(frame).await;
    }
}

async fn round(
    fx: Fixture,
    nodes: [String; 3],
    log: Arc<Mutex<RoundLog>>,
    step: Arc<Mutex<String>>,
) {
    let ws = nodes.clone().map(|n| n.replacen("http", "ws", 1));
    let [a, b, c] = [0, 1, 2].map(|i| fx.via(&nodes[i]));
    let name = |i: usize| short(&nodes[i]);
    let at = |what: String| *step.lock().expect("step") = what;
    let ok = |what: String| log.lock().expect("log").passed.push(what);

    at(format!("inbox feed on C {}", name(2)));
    let inbox_url = format!("{}/ws/admin/inbox", ws[2]);
    let mut inbox = WsClient::connect_operator(&inbox_url, &fx.operator_token)
        .await
        .expect("inbox socket");
    inbox.handshake().await;

    at(format!("site dialog loaded on A {}", name(0)));
    let visitor: Visitor = a.open_site(None).await;
    let dialog = visitor.dialog_id.clone();
    at(format!(
        "the new dialog in the inbox on C {}, created on A {}",
        name(2),
        name(0)
    ));
    inbox
        .until(|f| f["type"] == "dialog.created" && f["dialog"]["id"] == dialog.as_str())
        .await;
    ok(at_nodes("dialog.created reached the inbox", 0, 2, &name));

    at(format!("visitor socket on A {}", name(0)));
    let mut vs = Recorded::open(
        visitor
            .connect(&ws[0], &fx, Some(visitor.loaded_seq()))
            .await,
        &dialog,
    )
    .await;
    at(format!("operator socket on B {}", name(1)));
    let mut os = Recorded::open(fx.admin_socket(&ws[1], &dialog, Some(0)).await, &dialog).await;

    at(at_nodes("visitor typing", 0, 1, &name));
    vs.send(json!({"type": "typing", "state": "start"})).await;
    os.until(|f| f["type"] == "typing" && f["actor"] == "visitor" && f["state"] == "start")
        .await;
    ok(at_nodes("visitor typing", 0, 1, &name));

    let text = format!("asked through {}", name(2));
    at(format!("a visitor message written through C {}", name(2)));
    let (status, asked) = visitor
        .says(&c.api, &text, Some(&format!("x-{dialog}")))
        .await;
    assert_eq!(status, 201, "visitor message: {asked}");
    let asked_seq = asked["seq"].as_u64().expect("seq");
    at(at_nodes(
        "visitor message to the visitor socket",
        2,
        0,
        &name,
    ));
    vs.until_seq(asked_seq).await;
    at(at_nodes(
        "visitor message to the operator socket",
        2,
        1,
        &name,
    ));
    os.until_seq(asked_seq).await;
    at(at_nodes("visitor message to the inbox", 2, 2, &name));
    inbox
        .until(|f| {
            f["type"] == "dialog.updated"
                && f["dialog"]["id"] == dialog.as_str()
                && f["dialog"]["last_message"]["text"] == text.as_str()
        })
        .await;
    ok(format!(
        "a message written through {} reached sockets on {} and {} and the inbox",
        name(2),
        name(0),
        name(1)
    ));

    at(format!("take written through C {}", name(2)));
    let (status, taken) = c.handoff(&dialog, "take").await;
    assert_eq!(status, 201, "take: {taken}");
    let operator_status = |f: &Value| f["type"] == "dialog.status" && f["status"] == "operator";
    at(at_nodes("handoff to the visitor socket", 2, 0, &name));
    vs.until(operator_status).await;
    at(at_nodes("handoff to the operator socket", 2, 1, &name));
    os.until(operator_status).await;
    at(at_nodes("handoff to the inbox", 2, 2, &name));
    inbox
        .until(|f| f["dialog"]["id"] == dialog.as_str() && f["dialog"]["status"] == "operator")
        .await;
    ok(format!(
        "a take written through {} reached {}, {} and the inbox",
        name(2),
        name(0),
        name(1)
    ));

    at(at_nodes("operator typing", 1, 0, &name));
    os.send(json!({"type": "typing", "state": "start"})).await;
    vs.until(|f| f["type"] == "typing" && f["actor"] == "operator" && f["state"] == "start")
        .await;
    ok(at_nodes("operator typing", 1, 0, &name));

    at(at_nodes("an operator reply", 1, 0, &name));
    let answered = b.operator_says(&dialog, "answered", false).await;
    let answered_seq = answered["seq"].as_u64().expect("seq");
    vs.until_seq(answered_seq).await;
    ok(at_nodes("an operator reply written over HTTP", 1, 0, &name));

    at(at_nodes("the operator's read mark", 1, 0, &name));
    os.send(json!({"type": "read", "up_to": answered_seq}))
        .await;
    vs.until(|f| {
        f["type"] == "read" && f["reader"] == "operator" && f["up_to"].as_u64() >= Some(asked_seq)
    })
    .await;
    ok(at_nodes("the operator's read mark", 1, 0, &name));

    at(at_nodes("the visitor's read mark", 0, 1, &name));
    vs.send(json!({"type": "read", "up_to": answered_seq}))
        .await;
    os.until(|f| f["type"] == "read" && f["reader"] == "visitor")
        .await;
    ok(at_nodes("the visitor's read mark", 0, 1, &name));

    at(format!("close written through A {}", name(0)));
    let (status, closed) = a.handoff(&dialog, "close").await;
    assert_eq!(status, 201, "close: {closed}");
    let closed_seq = closed["seq"].as_u64().expect("seq");
    vs.until_seq(closed_seq).await;
    os.until_seq(closed_seq).await;
    ok(format!(
        "a close written through {} reached {} and {}",
        name(0),
        name(0),
        name(1)
    ));

    at("the seq audit of both sockets".into());
    let admin_log: Vec<u64> = seqs(&fx.admin_events(&dialog).await);
    let visitor_log: Vec<u64> = seqs(&visitor.events(&a.api, visitor.loaded_seq()).await);
    // Anything stored after the close (nothing should be) still has to arrive.
    if let Some(&newest) = admin_log.last() {
        os.until_seq(newest).await;
    }
    if let Some(&newest) = visitor_log.last() {
        vs.until_seq(newest).await;
    }
    assert_eq!(os.foreign + vs.foreign, 0, "events of another dialog");
    assert_eq!(
        os.seqs, admin_log,
        "the operator socket's stream is the admin log, once each, in order"
    );
    assert_eq!(
        vs.seqs, visitor_log,
        "the visitor socket's stream is the visitor log after its load, once each, in order"
    );
    ok("both streams match the stored log: none lost, repeated or reordered".into());
    log.lock().expect("log").audited_events = os.seqs.len() + vs.seqs.len();
    vs.ws.close().await;
    os.ws.close().await;
    inbox.close().await;
}

fn seqs(events: &[Value]) -> Vec<u64> {
    events.iter().filter_map(|e| e["seq"].as_u64()).collect()
}

fn at_nodes(what: &str, from: usize, to: usize, name: &impl Fn(usize) -> String) -> String {
    format!("{what}: {} -> {}", name(from), name(to))
}

/// `host:port` of a base URL, for messages.
fn short(base: &str) -> String {
    base.split("://").nth(1).unwrap_or(base).to_owned()
}
