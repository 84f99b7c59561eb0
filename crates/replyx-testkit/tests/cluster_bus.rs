//! The `ClusterBus` contract, run against NATS and Redis: each case starts its own
//! broker on a free port (so it can kill it) and two buses on it, two nodes' views.
//! Every wait is on a delivery; "nothing arrived" is shown by a later message on the
//! same connection arriving first (the broker keeps one publisher's order).

use replyx_bus::{ClusterBus, ClusterOptions};
use replyx_core::{
    BrokerTraffic, Bus, BusMessage, BusSink, Signal, SignalBody, StoredEvent, Topic,
};
use replyx_protocol::{
    DialogId, EventPayload, Message, MessageId, Sender, Seq, TypingActor, TypingState,
};
use replyx_testkit::brokers::{Broker, BrokerKind};
use replyx_testkit::WAIT;
use std::collections::HashMap;
use std::sync::Arc;
use std::sync::Mutex;
use std::time::Duration;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

/// What a node's hub would have been handed.
#[derive(Debug)]
enum Heard {
    Event(DialogId, Seq),
    Signal(DialogId),
    Rows(Vec<DialogId>),
    Resync,
}

/// Broker messages counted by (direction, body), as the traffic metric would.
type Traffic = Arc<Mutex<HashMap<(&'static str, &'static str), u64>>>;

struct Recorder(mpsc::UnboundedSender<Heard>, Traffic, ReadyProbe);

/// The node's bus, for the recorder to ask whether it reports ready *while* it
/// resyncs (a weak handle: the bus holds the recorder), and every answer.
#[derive(Clone, Default)]
struct ReadyProbe {
    bus: Arc<std::sync::OnceLock<std::sync::Weak<ClusterBus>>>,
    answers: Arc<Mutex<Vec<bool>>>,
}

impl BusSink for Recorder {
    fn deliver(&self, message: BusMessage) {
        let _ = self.0.send(match message {
            BusMessage::Event(e) => Heard::Event(e.dialog_id, e.seq),
            BusMessage::Signal(s) => Heard::Signal(s.dialog_id),
        });
    }
    fn resync(&self) {
        if let Some(bus) = self.2.bus.get().and_then(std::sync::Weak::upgrade) {
            use futures_util::FutureExt;
            // While a resync runs, `health` must refuse from state, without waiting for
            // anything: not answering at once means its state said ready (only the
            // broker's round trip was left to wait for).
            let ready = bus.health().now_or_never().is_none_or(|r| r.is_ok());
            self.2.answers.lock().unwrap().push(ready);
        }
        let _ = self.0.send(Heard::Resync);
    }
    fn rows_changed(&self, dialogs: &[DialogId]) {
        let _ = self.0.send(Heard::Rows(dialogs.to_vec()));
    }
    fn broker_traffic(&self, way: BrokerTraffic, body: &'static str) {
        *self
            .1
            .lock()
            .unwrap()
            .entry((way.as_str(), body))
            .or_default() += 1;
    }
}

struct Node {
    bus: Arc<ClusterBus>,
    heard: mpsc::UnboundedReceiver<Heard>,
    traffic: Traffic,
    probe: ReadyProbe,
}

impl Node {
    /// Broker messages counted so far in one direction, of one body.
    fn counted(&self, way: BrokerTraffic, body: &'static str) -> u64 {
        let traffic = self.traffic.lock().unwrap();
        traffic.get(&(way.as_str(), body)).copied().unwrap_or(0)
    }

    fn received_in_all(&self) -> u64 {
        let traffic = self.traffic.lock().unwrap();
        traffic
            .iter()
            .filter(|((way, _), _)| *way != "sent")
            .map(|(_, n)| n)
            .sum()
    }

    async fn next(&mut self) -> Heard {
        tokio::time::timeout(WAIT, self.heard.recv())
            .await
            .expect("heard in time")
            .expect("open")
    }

    /// The next event, skipping resyncs and rows.
    async fn next_event(&mut self) -> (DialogId, Seq) {
        loop {
            if let Heard::Event(d, s) = self.next().await {
                return (d, s);
            }
        }
    }

    async fn until_resync(&mut self) {
        while !matches!(self.next().await, Heard::Resync) {}
    }
}

struct Cluster {
    broker: Broker,
    tracker: TaskTracker,
    stop: CancellationToken,
    prefix: String,
}

impl Cluster {
    async fn start(kind: BrokerKind) -> Cluster {
        Cluster {
            broker: Broker::start(kind).await,
            tracker: TaskTracker::new(),
            stop: CancellationToken::new(),
            prefix: format!("t{}", uuid_simple()),
        }
    }

    async fn node(&self, name: &str) -> Node {
        let options = ClusterOptions {
            url: self.broker.url(),
            origin: name.into(),
            prefix: self.prefix.clone(),
        };
        let bus = ClusterBus::connect(options, &self.tracker, self.stop.clone())
            .await
            .unwrap();
        let (tx, heard) = mpsc::unbounded_channel();
        let traffic = Traffic::default();
        let probe = ReadyProbe::default();
        let _ = probe.bus.set(Arc::downgrade(&bus));
        bus.attach(Arc::new(Recorder(tx, traffic.clone(), probe.clone())));
        let node = Node {
            bus,
            heard,
            traffic,
            probe,
        };
        tokio::time::timeout(WAIT, node.bus.wait_connected(1))
            .await
            .expect("connected in time");
        assert!(node.bus.health().await.is_ok());
        node
    }

    async fn stop(self) {
        self.stop.cancel();
        self.tracker.close();
        self.tracker.wait().await;
    }
}

/// Waits until the bus reports the broker link lost.
async fn until_unhealthy(bus: &ClusterBus) {
    until_health(bus, false, "still healthy without a broker").await;
}

/// Waits until the bus's health says `ready` (or not). Health is a state the client
/// library updates when it notices (a closed socket, a missed ping), not an event: it
/// is polled, bounded by `WAIT`.
async fn until_health(bus: &ClusterBus, ready: bool, timeout: &str) {
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let health = bus.health().await;
        if health.is_ok() == ready {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{timeout}: {health:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn uuid_simple() -> String {
    DialogId::new().to_string().replace('-', "")
}

fn event(dialog: DialogId, seq: u64) -> BusMessage {
    BusMessage::Event(Arc::new(StoredEvent {
        dialog_id: dialog,
        seq: Seq(seq),
        prev_visitor_seq: Seq(seq - 1),
        payload: EventPayload::MessageCreated {
            message: Message {
                id: MessageId::new(),
                sender: Sender::Visitor,
                text: format!("m{seq}"),
                created_at: chrono::Utc::now(),
                client_msg_id: None,
                operator: None,
                internal: false,
            },
        },
    }))
}

fn typing(dialog: DialogId) -> BusMessage {
    BusMessage::Signal(Arc::new(Signal {
        dialog_id: dialog,
        body: SignalBody::Typing {
            actor: TypingActor::Visitor,
            state: TypingState::Start,
        },
    }))
}

macro_rules! both_brokers {
    ($($case:ident),* $(,)?) => {
        mod nats {
            $(#[tokio::test] async fn $case() { super::$case(super::BrokerKind::Nats).await })*
        }
        mod redis {
            $(#[tokio::test] async fn $case() { super::$case(super::BrokerKind::Redis).await })*
        }
    };
}

both_brokers!(
    a_node_receives_only_the_dialogs_it_subscribed_to,
    broker_traffic_is_counted_by_direction_and_body,
    a_publish_right_after_subscribe_is_never_missed,
    the_last_unsubscribe_stops_delivery,
    consoles_get_changed_rows_in_batches_not_every_event,
    a_broker_restart_makes_the_node_unready_then_resubscribes_and_resyncs,
    a_node_is_ready_again_only_after_its_sessions_were_resynced,
    a_stalled_broker_link_is_not_ready,
    the_canary_round_trip_comes_back_through_the_broker_only,
);

async fn a_node_receives_only_the_dialogs_it_subscribed_to(kind: BrokerKind) {
    let cluster = Cluster::start(kind).await;
    let mut a = cluster.node("a").await;
    let mut b = cluster.node("b").await;
    let (mine, other) = (DialogId::new(), DialogId::new());
    b.bus.subscribe(Topic::Dialog(mine)).await;
    a.bus.publish(event(other, 1)).await.unwrap();
    a.bus.publish(typing(other)).await.unwrap();
    a.bus.publish(event(mine, 1)).await.unwrap();
    a.bus.publish(typing(mine)).await.unwrap();
    let first = b.next().await;
    assert!(
        matches!(first, Heard::Event(d, Seq(1)) if d == mine),
        "{first:?}, not {other}"
    );
    assert!(matches!(b.next().await, Heard::Signal(d) if d == mine));
    // The publisher's own hub had all four at once, and hears no echo.
    for _ in 0..4 {
        assert!(matches!(
            a.next().await,
            Heard::Event(..) | Heard::Signal(_)
        ));
    }
    b.bus.publish(event(mine, 2)).await.unwrap();
    assert!(
        matches!(b.next().await, Heard::Event(d, Seq(2)) if d == mine),
        "its own, locally"
    );
    a.bus.subscribe(Topic::Dialog(mine)).await;
    b.bus.publish(event(mine, 3)).await.unwrap();
    // Seq 2 may still have been on its way to the broker when `a` subscribed, and
    // then reaches `a` too: allowed, it is that dialog's. Seq 3 must arrive.
    let mut heard = a.next_event().await;
    if heard == (mine, Seq(2)) {
        heard = a.next_event().await;
    }
    assert_eq!(heard, (mine, Seq(3)));
    assert!(matches!(b.next().await, Heard::Event(_, Seq(3))));
    assert!(b.heard.try_recv().is_err(), "no echo of its own publish");
    cluster.stop().await;
}

/// The traffic metric measures a node's share of the cluster's messages: what it
/// sent, what it was handed, and nothing for the dialogs it holds no socket of.
async fn broker_traffic_is_counted_by_direction_and_body(kind: BrokerKind) {
    let cluster = Cluster::start(kind).await;
    let a = cluster.node("a").await;
    let mut b = cluster.node("b").await;
    let c = cluster.node("c").await;
    let mine = DialogId::new();
    b.bus.subscribe(Topic::Dialog(mine)).await;
    a.bus.publish(event(mine, 1)).await.unwrap();
    a.bus.publish(typing(mine)).await.unwrap();
    a.bus.publish(event(mine, 2)).await.unwrap();
    for _ in 0..3 {
        b.next().await;
    }
    assert_eq!(a.counted(BrokerTraffic::Sent, "event"), 2);
    assert_eq!(a.counted(BrokerTraffic::Sent, "signal"), 1);
    assert_eq!(b.counted(BrokerTraffic::Received, "event"), 2);
    assert_eq!(b.counted(BrokerTraffic::Received, "signal"), 1);
    assert_eq!(b.counted(BrokerTraffic::Sent, "event"), 0);
    // c publishes after a: the broker keeps each connection's order, so once b has c's
    // event, c's publish is through; c, subscribed to nothing, was handed nothing.
    let theirs = DialogId::new();
    b.bus.subscribe(Topic::Dialog(theirs)).await;
    c.bus.publish(event(theirs, 1)).await.unwrap();
    assert_eq!(b.next_event().await, (theirs, Seq(1)));
    assert_eq!(
        c.received_in_all(),
        0,
        "no traffic for dialogs it does not hold"
    );
    assert_eq!(a.received_in_all(), 0);
    cluster.stop().await;
}

async fn a_publish_right_after_subscribe_is_never_missed(kind: BrokerKind) {
    let cluster = Cluster::start(kind).await;
    let a = cluster.node("a").await;
    let mut b = cluster.node("b").await;
    for _ in 0..50 {
        let dialog = DialogId::new();
        b.bus.subscribe(Topic::Dialog(dialog)).await;
        a.bus.publish(event(dialog, 1)).await.unwrap();
        assert_eq!(b.next_event().await, (dialog, Seq(1)));
    }
    cluster.stop().await;
}

async fn the_last_unsubscribe_stops_delivery(kind: BrokerKind) {
    let cluster = Cluster::start(kind).await;
    let a = cluster.node("a").await;
    let mut b = cluster.node("b").await;
    let (left, kept) = (DialogId::new(), DialogId::new());
    b.bus.subscribe(Topic::Dialog(left)).await;
    b.bus.subscribe(Topic::Dialog(left)).await;
    b.bus.subscribe(Topic::Dialog(kept)).await;
    b.bus.unsubscribe(Topic::Dialog(left));
    a.bus.publish(event(left, 1)).await.unwrap();
    assert_eq!(
        b.next_event().await,
        (left, Seq(1)),
        "one subscriber is still there"
    );
    b.bus.unsubscribe(Topic::Dialog(left));
    // An unsubscribe reaches the broker asynchronously: events of `left` published
    // just after it may still arrive. Each round publishes one event of each dialog;
    // the broker keeps a publisher's order, so a round whose `kept` event comes first
    // saw no `left` event. Once a round is clean, every later round must be.
    let mut clean_from = None;
    for round in 2..60 {
        a.bus.publish(event(left, round)).await.unwrap();
        a.bus.publish(event(kept, round)).await.unwrap();
        let heard = b.next_event().await;
        if heard == (kept, Seq(round)) {
            clean_from.get_or_insert(round);
            continue;
        }
        assert!(
            clean_from.is_none(),
            "{left} was delivered again in round {round} after clean rounds"
        );
        assert_eq!(heard, (left, Seq(round)));
        assert_eq!(b.next_event().await, (kept, Seq(round)));
    }
    let clean_from = clean_from.expect("the unsubscribe never took effect");
    assert!(
        clean_from < 50,
        "delivery of {left} stopped only in round {clean_from}"
    );
    cluster.stop().await;
}

async fn consoles_get_changed_rows_in_batches_not_every_event(kind: BrokerKind) {
    let cluster = Cluster::start(kind).await;
    let a = cluster.node("a").await;
    let mut console = cluster.node("console").await;
    console.bus.subscribe(Topic::Inbox).await;
    let busy = DialogId::new();
    for seq in 1..=200 {
        a.bus.publish(event(busy, seq)).await.unwrap();
    }
    // A marker dialog changed after all of them: its row ends the count.
    let marker = DialogId::new();
    a.bus.publish(event(marker, 1)).await.unwrap();
    let (mut batches, mut saw_busy) = (0, false);
    loop {
        match console.next().await {
            Heard::Rows(dialogs) => {
                batches += 1;
                assert!(
                    dialogs.iter().all(|d| *d == busy || *d == marker),
                    "{dialogs:?}"
                );
                saw_busy |= dialogs.contains(&busy);
                if dialogs.contains(&marker) {
                    break;
                }
            }
            other => panic!("a console not on the dialog got {other:?}"),
        }
    }
    assert!(saw_busy, "the busy dialog's row changed");
    // One batch per 250 ms tick while rows change: 201 events, a handful of batches.
    assert!(
        batches <= 20,
        "rows come in batches, not per event: {batches}"
    );
    cluster.stop().await;
}

async fn a_broker_restart_makes_the_node_unready_then_resubscribes_and_resyncs(kind: BrokerKind) {
    let mut cluster = Cluster::start(kind).await;
    let a = cluster.node("a").await;
    let mut b = cluster.node("b").await;
    let dialog = DialogId::new();
    b.bus.subscribe(Topic::Dialog(dialog)).await;
    cluster.broker.kill().await;
    until_unhealthy(&b.bus).await;
    // Published while the broker is gone: stored (not here), delivered locally only.
    a.bus.publish(event(dialog, 7)).await.unwrap();
    cluster.broker.resume().await;
    b.until_resync().await;
    assert!(b.bus.health().await.is_ok());
    // After the resync, B listens again; A's held event, published on its reconnect,
    // may have come before B was back (B's sessions read the store on the resync) or
    // after: either way what follows arrives.
    tokio::time::timeout(WAIT, a.bus.wait_connected(2))
        .await
        .expect("A reconnected in time");
    a.bus.publish(event(dialog, 8)).await.unwrap();
    loop {
        let (d, seq) = b.next_event().await;
        assert_eq!(d, dialog);
        if seq == Seq(8) {
            break;
        }
        assert_eq!(seq, Seq(7), "only the held event may come first");
    }
    cluster.stop().await;
}

/// After the broker comes back, the node must not report ready before it asked its
/// sessions to resync: a console routed to it in between would have its inbox feed
/// closed by that resync (seen as a 1012 right after a healed partition). While the
/// resync runs, health still says not ready; once it is done, ready.
async fn a_node_is_ready_again_only_after_its_sessions_were_resynced(kind: BrokerKind) {
    let mut cluster = Cluster::start(kind).await;
    let mut b = cluster.node("b").await;
    b.bus.subscribe(Topic::Inbox).await;
    cluster.broker.kill().await;
    until_unhealthy(&b.bus).await;
    cluster.broker.resume().await;
    b.until_resync().await;
    assert_eq!(
        *b.probe.answers.lock().unwrap(),
        [false],
        "health during the one resync"
    );
    assert!(b.bus.health().await.is_ok(), "ready once it resynced");
    cluster.stop().await;
}

/// A link stalled as by a partition (the broker frozen: no FIN, no RST, the library
/// still says connected) is not ready: readiness asks the broker for a round trip. Once
/// the broker answers again, ready again.
async fn a_stalled_broker_link_is_not_ready(kind: BrokerKind) {
    let cluster = Cluster::start(kind).await;
    let a = cluster.node("a").await;
    assert!(a.bus.health().await.is_ok(), "ready before");
    cluster.broker.freeze();
    let stalled = a.bus.health().await;
    cluster.broker.thaw();
    let problem = stalled.expect_err("not ready while the broker answers nothing");
    assert!(problem.contains("round trip"), "{problem}");
    until_health(&a.bus, true, "not ready again after the broker thawed").await;
    cluster.stop().await;
}

async fn the_canary_round_trip_comes_back_through_the_broker_only(kind: BrokerKind) {
    let mut cluster = Cluster::start(kind).await;
    let mut a = cluster.node("a").await;
    let dialog = DialogId::new();
    a.bus.subscribe(Topic::Dialog(dialog)).await;
    let BusMessage::Event(e) = event(dialog, 1) else {
        unreachable!()
    };
    a.bus.publish_round_trip(e.clone()).await.unwrap();
    assert_eq!(a.next_event().await, (dialog, Seq(1)));
    cluster.broker.kill().await;
    until_unhealthy(&a.bus).await;
    assert!(
        a.bus.publish_round_trip(e.clone()).await.is_err(),
        "a round trip without a broker"
    );
    assert!(a.heard.try_recv().is_err(), "never delivered in-process");
    cluster.stop().await;
}
