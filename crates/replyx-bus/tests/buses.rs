//! The `Bus` contract: whatever one publisher publishes reaches every attached sink that
//! should see it — in this process for `LocalBus`, and across processes sharing a
//! database for `StoreWatchBus`.

use replyx_bus::{LocalBus, StoreWatchBus};
use replyx_core::bus::{Signal, SignalBody};
use replyx_core::{Bus, BusMessage, BusSink, NewAssistant, NewMessage, Store};
use replyx_protocol::{GuestId, Seq, TypingActor, TypingState};
use replyx_store::SqliteStore;
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

fn sink() -> (Arc<dyn BusSink>, mpsc::UnboundedReceiver<BusMessage>) {
    let (tx, rx) = mpsc::unbounded_channel();
    (Arc::new(ChannelSink(tx)), rx)
}

async fn next(rx: &mut mpsc::UnboundedReceiver<BusMessage>) -> BusMessage {
    tokio::time::timeout(Duration::from_secs(10), rx.recv())
        .await
        .expect("delivered in time")
        .expect("open")
}

#[tokio::test]
async fn local_bus_hands_every_message_to_its_sink() {
    let bus = LocalBus::new();
    let (s, mut rx) = sink();
    bus.attach(s);
    let signal = Signal {
        dialog_id: Default::default(),
        body: SignalBody::Typing {
            actor: TypingActor::Operator,
            state: TypingState::Stop,
        },
    };
    bus.publish(BusMessage::Signal(Arc::new(signal.clone())))
        .await
        .unwrap();
    assert!(matches!(next(&mut rx).await, BusMessage::Signal(s) if *s == signal));
}

/// With no other process there is no other path: the in-process bus's round trip (the
/// canary's) is its publish.
#[tokio::test]
async fn the_local_bus_round_trip_is_its_in_process_delivery() {
    let bus = LocalBus::new();
    let (s, mut rx) = sink();
    bus.attach(s);
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("bus.db").display());
    let store = SqliteStore::build(&url, "a").await.unwrap();
    let assistant = store
        .create_assistant(NewAssistant {
            name: "A".into(),
            ..Default::default()
        })
        .await
        .unwrap();
    let (dialog, _, _) = store
        .open_dialog(&assistant, &GuestId::generate())
        .await
        .unwrap();
    let event = store
        .append_message(NewMessage::visitor(dialog.id, "canary"))
        .await
        .unwrap()
        .event;
    bus.publish_round_trip(Arc::new(event)).await.unwrap();
    assert!(matches!(next(&mut rx).await, BusMessage::Event(e) if e.seq == Seq(1)));
}

#[tokio::test]
async fn store_watch_bus_carries_events_and_signals_between_processes_on_one_file() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("bus.db").display());
    let store_a: Arc<dyn Store> = Arc::new(SqliteStore::build(&url, "a").await.unwrap());
    let store_b: Arc<dyn Store> = Arc::new(SqliteStore::build(&url, "b").await.unwrap());
    let tracker = TaskTracker::new();
    let stop = CancellationToken::new();
    let bus_a = StoreWatchBus::new(store_a.clone(), Duration::from_millis(10));
    let bus_b = StoreWatchBus::new(store_b.clone(), Duration::from_millis(10));
    let (sink_a, mut rx_a) = sink();
    let (sink_b, mut rx_b) = sink();
    bus_a.attach(sink_a);
    bus_b.attach(sink_b);
    bus_a.start(&tracker, stop.clone()).await.unwrap();
    bus_b.start(&tracker, stop.clone()).await.unwrap();

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
    let appended = store_a
        .append_message(NewMessage::visitor(dialog.id, "hello"))
        .await
        .unwrap();
    bus_a
        .publish(BusMessage::Event(Arc::new(appended.event.clone())))
        .await
        .unwrap();
    assert!(
        matches!(next(&mut rx_a).await, BusMessage::Event(e) if e.seq == Seq(1)),
        "local delivery"
    );
    assert!(
        matches!(next(&mut rx_b).await, BusMessage::Event(e) if e.seq == Seq(1)),
        "the other process reads it from the store"
    );

    let typing = Signal {
        dialog_id: dialog.id,
        body: SignalBody::Typing {
            actor: TypingActor::Visitor,
            state: TypingState::Start,
        },
    };
    bus_b
        .publish(BusMessage::Signal(Arc::new(typing.clone())))
        .await
        .unwrap();
    assert!(matches!(next(&mut rx_b).await, BusMessage::Signal(s) if *s == typing));
    assert!(matches!(next(&mut rx_a).await, BusMessage::Signal(s) if *s == typing));
    assert!(bus_a.health().await.is_ok());

    stop.cancel();
    tracker.close();
    tracker.wait().await;
    assert!(
        rx_a.try_recv().is_err(),
        "a process never hears its own rows twice"
    );
}

/// The canary's path: an event written under a peer origin is brought back to this
/// process by the poll of the change feed, and never handed over in-process.
#[tokio::test]
async fn a_round_trip_returns_through_the_change_feed_and_only_through_it() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("bus.db").display());
    let sqlite = SqliteStore::build(&url, "a").await.unwrap();
    let peer = sqlite.with_origin("a/canary");
    let store: Arc<dyn Store> = Arc::new(sqlite);
    let tracker = TaskTracker::new();
    let stop = CancellationToken::new();
    let bus = StoreWatchBus::new(store.clone(), Duration::from_millis(10));
    let (s, mut rx) = sink();
    bus.attach(s);
    bus.start(&tracker, stop.clone()).await.unwrap();
    let assistant = store
        .create_assistant(NewAssistant {
            name: "A".into(),
            ..Default::default()
        })
        .await
        .unwrap();
    let (dialog, _, _) = store
        .open_dialog(&assistant, &GuestId::generate())
        .await
        .unwrap();

    let first = peer
        .append_message(NewMessage::visitor(dialog.id, "one"))
        .await
        .unwrap()
        .event;
    bus.publish_round_trip(Arc::new(first)).await.unwrap();
    assert!(
        rx.try_recv().is_err(),
        "not delivered in-process by the publish itself"
    );
    assert!(matches!(next(&mut rx).await, BusMessage::Event(e) if e.seq == Seq(1)));
    assert!(bus.health().await.is_ok());

    // With the poll loop gone, the round trip has no way back.
    stop.cancel();
    tracker.close();
    tracker.wait().await;
    let second = peer
        .append_message(NewMessage::visitor(dialog.id, "two"))
        .await
        .unwrap()
        .event;
    bus.publish_round_trip(Arc::new(second)).await.unwrap();
    assert!(rx.try_recv().is_err());
}

/// Hears only lag reports.
struct LagReports(mpsc::UnboundedSender<f64>);

impl BusSink for LagReports {
    fn deliver(&self, _message: BusMessage) {}
    fn observe_remote_lag(&self, seconds: f64) {
        let _ = self.0.send(seconds);
    }
}

/// `replyx_bus_lag_seconds`: an event from another process is reported with its lag.
#[tokio::test]
async fn events_from_other_processes_are_reported_with_their_lag() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("bus.db").display());
    let mine: Arc<dyn Store> = Arc::new(SqliteStore::build(&url, "a").await.unwrap());
    let peer = SqliteStore::build(&url, "b").await.unwrap();
    let tracker = TaskTracker::new();
    let stop = CancellationToken::new();
    let bus = StoreWatchBus::new(mine.clone(), Duration::from_millis(10));
    let (lags, mut reported) = mpsc::unbounded_channel();
    bus.attach(Arc::new(LagReports(lags)));
    bus.start(&tracker, stop.clone()).await.unwrap();
    let assistant = peer
        .create_assistant(NewAssistant {
            name: "A".into(),
            ..Default::default()
        })
        .await
        .unwrap();
    let (dialog, _, _) = peer
        .open_dialog(&assistant, &GuestId::generate())
        .await
        .unwrap();
    peer.append_message(NewMessage::visitor(dialog.id, "far away"))
        .await
        .unwrap();
    let lag = tokio::time::timeout(Duration::from_secs(10), reported.recv())
        .await
        .expect("reported in time")
        .unwrap();
    assert!((0.0..10.0).contains(&lag), "{lag}");
    stop.cancel();
    tracker.close();
    tracker.wait().await;
    assert!(reported.try_recv().is_err(), "one event, one report");
}

/// A fresh signal outlives a prune (another process has yet to read it); one past its
/// time to live does not.
#[tokio::test]
async fn pruning_deletes_old_signals_only() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("bus.db").display());
    let store: Arc<dyn Store> = Arc::new(SqliteStore::build(&url, "a").await.unwrap());
    let bus = StoreWatchBus::new(store.clone(), Duration::from_millis(10));
    let signal = Signal {
        dialog_id: Default::default(),
        body: SignalBody::Typing {
            actor: TypingActor::Operator,
            state: TypingState::Start,
        },
    };
    store.append_signal(&signal).await.unwrap();
    let mut raw = <sqlx::SqliteConnection as sqlx::Connection>::connect(&url)
        .await
        .unwrap();
    sqlx::query("INSERT INTO signals (dialog_id, body, origin, created_at) SELECT dialog_id, body, origin, ? FROM signals")
        .bind(chrono::Utc::now() - chrono::TimeDelta::minutes(6))
        .execute(&mut raw)
        .await
        .unwrap();
    assert_eq!(count(&mut raw).await, 2);
    bus.prune_now().await;
    assert_eq!(
        count(&mut raw).await,
        1,
        "the six-minute-old copy is gone, the fresh one stays"
    );
}

#[tokio::test]
async fn the_buses_name_themselves_as_health_and_logs_show_them() {
    assert_eq!(LocalBus::new().name(), "local");
    let store: Arc<dyn Store> = Arc::new(SqliteStore::build("sqlite::memory:", "a").await.unwrap());
    assert_eq!(
        StoreWatchBus::new(store, Duration::from_millis(10)).name(),
        "store-watch"
    );
}

async fn count(raw: &mut sqlx::SqliteConnection) -> i64 {
    sqlx::query_scalar("SELECT count(*) FROM signals")
        .fetch_one(raw)
        .await
        .unwrap()
}
