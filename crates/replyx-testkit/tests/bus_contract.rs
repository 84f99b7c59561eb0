//! The part of the `Bus` contract every bus meets, run against all four: the local bus
//! (one process), the store-watching bus (processes sharing one SQLite file), and the
//! cluster bus on NATS and on Redis (brokers these tests start). Each case gets two
//! nodes on one database; for the local bus both are the one process. What only some
//! buses do (subscriptions, resync, change-feed lag) is tested beside each bus.

use replyx_bus::{ClusterBus, ClusterOptions, LocalBus, StoreWatchBus};
use replyx_core::bus::{Signal, SignalBody};
use replyx_core::{Bus, BusMessage, BusSink, NewAssistant, NewMessage, Store, StoredEvent, Topic};
use replyx_protocol::{DialogId, GuestId, Seq, TypingActor, TypingState};
use replyx_store::SqliteStore;
use replyx_testkit::brokers::{Broker, BrokerKind};
use replyx_testkit::WAIT;
use std::any::Any;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

struct ChannelSink(mpsc::UnboundedSender<BusMessage>);

impl BusSink for ChannelSink {
    fn deliver(&self, message: BusMessage) {
        let _ = self.0.send(message);
    }
}

/// One node: its store handle, its bus and what its hub was handed.
struct Node {
    store: Arc<dyn Store>,
    bus: Arc<dyn Bus>,
    heard: mpsc::UnboundedReceiver<BusMessage>,
}

impl Node {
    fn new(store: Arc<dyn Store>, bus: Arc<dyn Bus>) -> Node {
        let (tx, heard) = mpsc::unbounded_channel();
        bus.attach(Arc::new(ChannelSink(tx)));
        Node { store, bus, heard }
    }

    async fn next(&mut self) -> BusMessage {
        tokio::time::timeout(WAIT, self.heard.recv())
            .await
            .expect("delivered in time")
            .expect("open")
    }

    /// Stores a message as the application does (store, then publish).
    async fn store_and_publish(&self, dialog: DialogId, text: &str) -> StoredEvent {
        let event = self
            .store
            .append_message(NewMessage::visitor(dialog, text))
            .await
            .unwrap()
            .event;
        self.bus
            .publish(BusMessage::Event(Arc::new(event.clone())))
            .await
            .unwrap();
        event
    }
}

/// Two nodes (the second is `None` for the local bus: one process), a dialog both
/// can write, and what keeps the rest alive.
struct Setup {
    a: Node,
    b: Option<Node>,
    dialog: DialogId,
    _keep: Box<dyn Any>,
    stop: CancellationToken,
    tracker: TaskTracker,
}

#[derive(Clone, Copy)]
enum Kind {
    Local,
    StoreWatch,
    Cluster(BrokerKind),
}

async fn setup(kind: Kind) -> Setup {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("bus.db").display());
    let store_a: Arc<dyn Store> = Arc::new(SqliteStore::build(&url, "a").await.unwrap());
    let store_b: Arc<dyn Store> = Arc::new(SqliteStore::build(&url, "b").await.unwrap());
    let assistant = store_a
        .create_assistant(NewAssistant {
            name: "A".into(),
            ..Default::default()
        })
        .await
        .unwrap();
    let (dialog, _, _) = store_a
        .open_dialog(&assistant, &GuestId::generate())
        .await
        .unwrap();
    let tracker = TaskTracker::new();
    let stop = CancellationToken::new();
    let (a, b, keep): (Node, Option<Node>, Box<dyn Any>) = match kind {
        Kind::Local => (
            Node::new(store_a, Arc::new(LocalBus::new())),
            None,
            Box::new(dir),
        ),
        Kind::StoreWatch => {
            let bus_a = StoreWatchBus::new(store_a.clone(), Duration::from_millis(10));
            let bus_b = StoreWatchBus::new(store_b.clone(), Duration::from_millis(10));
            let (a, b) = (
                Node::new(store_a, bus_a.clone()),
                Node::new(store_b, bus_b.clone()),
            );
            bus_a.start(&tracker, stop.clone()).await.unwrap();
            bus_b.start(&tracker, stop.clone()).await.unwrap();
            (a, Some(b), Box::new(dir))
        }
        Kind::Cluster(broker_kind) => {
            let broker = Broker::start(broker_kind).await;
            let prefix = format!("c{}", DialogId::new().to_string().replace('-', ""));
            let mut nodes = Vec::new();
            for (name, store) in [("a", store_a), ("b", store_b)] {
                let options = ClusterOptions {
                    url: broker.url(),
                    origin: name.into(),
                    prefix: prefix.clone(),
                };
                let bus = ClusterBus::connect(options, &tracker, stop.clone())
                    .await
                    .unwrap();
                tokio::time::timeout(WAIT, bus.wait_connected(1))
                    .await
                    .expect("connected in time");
                nodes.push(Node::new(store, bus));
            }
            let b = nodes.pop();
            (nodes.pop().unwrap(), b, Box::new((dir, broker)))
        }
    };
    // A node listens to the dialogs its sockets hold; every node here holds this one.
    a.bus.subscribe(Topic::Dialog(dialog.id)).await;
    if let Some(b) = &b {
        b.bus.subscribe(Topic::Dialog(dialog.id)).await;
    }
    Setup {
        a,
        b,
        dialog: dialog.id,
        _keep: keep,
        stop,
        tracker,
    }
}

impl Setup {
    async fn stop(self) {
        self.stop.cancel();
        self.tracker.close();
        self.tracker.wait().await;
    }
}

macro_rules! every_bus {
    ($($case:ident),+ $(,)?) => {
        mod local { $(#[tokio::test] async fn $case() { super::$case(super::Kind::Local).await })+ }
        mod store_watch { $(#[tokio::test] async fn $case() { super::$case(super::Kind::StoreWatch).await })+ }
        mod nats { $(#[tokio::test] async fn $case() {
            super::$case(super::Kind::Cluster(super::BrokerKind::Nats)).await
        })+ }
        mod redis { $(#[tokio::test] async fn $case() {
            super::$case(super::Kind::Cluster(super::BrokerKind::Redis)).await
        })+ }
    };
}

every_bus!(
    the_publishers_own_hub_gets_every_message_at_once_in_order,
    stored_events_and_signals_reach_the_other_node_in_order,
    a_working_bus_is_healthy_and_names_itself,
);

/// Local delivery never waits for anything remote: a node's own sockets get its
/// events in publish order.
async fn the_publishers_own_hub_gets_every_message_at_once_in_order(kind: Kind) {
    let mut s = setup(kind).await;
    for i in 1..=50u64 {
        let stored = s.a.store_and_publish(s.dialog, &format!("m{i}")).await;
        assert_eq!(stored.seq, Seq(i));
    }
    for i in 1..=50u64 {
        match s.a.next().await {
            BusMessage::Event(e) => assert_eq!(e.seq, Seq(i)),
            other => panic!("expected event {i}, got {other:?}"),
        }
    }
    s.stop().await;
}

/// What one node stores and publishes reaches the other node's hub, signals too; the
/// other node sees each event once (its own echo is never handed back twice).
async fn stored_events_and_signals_reach_the_other_node_in_order(kind: Kind) {
    let mut s = setup(kind).await;
    let typing = Signal {
        dialog_id: s.dialog,
        body: SignalBody::Typing {
            actor: TypingActor::Visitor,
            state: TypingState::Start,
        },
    };
    for i in 1..=20 {
        s.a.store_and_publish(s.dialog, &format!("m{i}")).await;
    }
    s.a.bus
        .publish(BusMessage::Signal(Arc::new(typing.clone())))
        .await
        .unwrap();
    let other = s.b.as_mut().unwrap_or(&mut s.a);
    let mut seqs = Vec::new();
    let mut signals = 0;
    while seqs.len() < 20 || signals == 0 {
        match other.next().await {
            BusMessage::Event(e) => seqs.push(e.seq.0),
            BusMessage::Signal(got) => {
                assert_eq!(*got, typing);
                signals += 1;
            }
        }
    }
    assert_eq!(seqs, (1..=20).collect::<Vec<_>>(), "each once, in order");
    s.stop().await;
}

async fn a_working_bus_is_healthy_and_names_itself(kind: Kind) {
    let s = setup(kind).await;
    s.a.bus.health().await.expect("healthy");
    let name = s.a.bus.name();
    let want = match kind {
        Kind::Local => "local",
        Kind::StoreWatch => "store-watch",
        Kind::Cluster(BrokerKind::Nats) => "nats",
        Kind::Cluster(BrokerKind::Redis) => "redis",
    };
    assert_eq!(name, want);
    s.stop().await;
}
