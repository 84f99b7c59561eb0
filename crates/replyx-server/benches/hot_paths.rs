//! Micro-benchmarks of the hot paths: frame encoding, the audience rule, hub delivery to
//! N subscribers, and a store append. `scripts/bench` runs them with the end-to-end
//! benchmarks; results and how to read them are in docs/perf/RESULTS.md.

use criterion::{black_box, criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use replyx_core::audience::Delivery;
use replyx_core::{may_receive, BusMessage, BusSink, NewAssistant, NewMessage, Store, Stream};
use replyx_protocol::{ConnectionKind, DialogId, GuestId, TypingActor};
use replyx_server::hub::{FanoutEvent, Hub, HubLimits, Outbound};
use replyx_server::metrics::Metrics;
use std::sync::Arc;

#[path = "support/event.rs"]
mod support_event;
use support_event::event;

fn frame_encoding(c: &mut Criterion) {
    let e = Arc::new(event(DialogId::new(), 42));
    c.bench_function("frame_encoding/serialize_once", |b| {
        b.iter(|| serde_json::to_string(&e.to_wire(Stream::Visitor).unwrap()).unwrap())
    });
    c.bench_function("frame_encoding/shared_across_100_subscribers", |b| {
        b.iter(|| {
            let fanout = FanoutEvent::new(e.clone());
            for _ in 0..100 {
                black_box(fanout.json(Stream::Visitor));
            }
        })
    });
}

fn audience(c: &mut Criterion) {
    let deliveries = [
        Delivery::Message { internal: false },
        Delivery::Message { internal: true },
        Delivery::Status,
        Delivery::Typing(TypingActor::Visitor),
        Delivery::Read,
    ];
    c.bench_function("audience/every_pair", |b| {
        b.iter(|| {
            let mut n = 0;
            for d in deliveries {
                for k in ConnectionKind::ALL {
                    n += usize::from(may_receive(black_box(d), black_box(k)));
                }
            }
            n
        })
    });
}

fn hub_deliver(c: &mut Criterion) {
    let mut group = c.benchmark_group("hub_deliver");
    let rt = tokio::runtime::Runtime::new().unwrap();
    for n in [1usize, 10, 100] {
        let hub = Hub::new(
            HubLimits {
                visitor_per_dialog: 1000,
                admin_per_dialog: 1000,
                total: 100_000,
                outbox: 1024,
            },
            Metrics::new(),
        );
        let dialog = DialogId::new();
        let mut subs: Vec<_> = (0..n)
            .map(|i| {
                let kind = if i % 2 == 0 {
                    ConnectionKind::Widget
                } else {
                    ConnectionKind::Admin
                };
                hub.register(kind, Some(dialog), None).unwrap()
            })
            .collect();
        let stored = Arc::new(event(dialog, 1));
        group.throughput(Throughput::Elements(n as u64));
        group.bench_with_input(BenchmarkId::from_parameter(n), &n, |b, _| {
            b.iter(|| {
                hub.deliver(BusMessage::Event(stored.clone()));
                rt.block_on(async {
                    for sub in subs.iter_mut() {
                        if let Some(Outbound::Event(e)) = sub.recv().await {
                            black_box(e.json(Stream::Visitor));
                        }
                    }
                });
            })
        });
    }
    group.finish();
}

/// A store on a fresh file with `dialogs` open dialogs.
fn store_with_dialogs(
    rt: &tokio::runtime::Runtime,
    dir: &tempfile::TempDir,
    dialogs: usize,
) -> (replyx_store::SqliteStore, Vec<DialogId>) {
    let url = format!("sqlite://{}", dir.path().join("bench.db").display());
    rt.block_on(async {
        let store = replyx_store::SqliteStore::build(&url, "bench")
            .await
            .unwrap();
        let a = store
            .create_assistant(NewAssistant {
                name: "Bench".into(),
                ..Default::default()
            })
            .await
            .unwrap();
        let mut ids = Vec::new();
        for _ in 0..dialogs {
            let (d, _, _) = store.open_dialog(&a, &GuestId::generate()).await.unwrap();
            ids.push(d.id);
        }
        (store, ids)
    })
}

fn visitor_message(dialog: DialogId) -> NewMessage {
    NewMessage::visitor(dialog, "hello")
}

/// One append at a time: the latency of a lone write (nothing to batch with).
fn store_append(c: &mut Criterion) {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let (store, dialogs) = store_with_dialogs(&rt, &dir, 1);
    c.bench_function("store_append/sqlite_message", |b| {
        b.to_async(&rt).iter(|| async {
            store
                .append_message(visitor_message(dialogs[0]))
                .await
                .unwrap()
        })
    });
}

/// The store's write path isolated (benchmark 5 of docs/perf/RESULTS.md): 200 dialogs
/// appending concurrently, as in the throughput benchmark, with no sockets or HTTP.
/// Reported per message, so its inverse is the events per second the store commits.
fn store_append_concurrent(c: &mut Criterion) {
    const WRITERS: usize = 200;
    let rt = tokio::runtime::Runtime::new().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let (store, dialogs) = store_with_dialogs(&rt, &dir, WRITERS);
    let mut group = c.benchmark_group("store_append_concurrent");
    group.throughput(Throughput::Elements(1));
    group.bench_function(BenchmarkId::from_parameter(WRITERS), |b| {
        b.to_async(&rt).iter_custom(|iters| {
            let store = store.clone();
            let dialogs = dialogs.clone();
            async move {
                let per_writer = iters.div_ceil(WRITERS as u64);
                let started = std::time::Instant::now();
                let writers: Vec<_> = dialogs
                    .into_iter()
                    .map(|d| {
                        let store = store.clone();
                        tokio::spawn(async move {
                            for _ in 0..per_writer {
                                store.append_message(visitor_message(d)).await.unwrap();
                            }
                        })
                    })
                    .collect();
                for w in writers {
                    w.await.unwrap();
                }
                started
                    .elapsed()
                    .mul_f64(iters as f64 / (per_writer * WRITERS as u64) as f64)
            }
        })
    });
    group.finish();
}

criterion_group!(
    benches,
    frame_encoding,
    audience,
    hub_deliver,
    store_append,
    store_append_concurrent
);
criterion_main!(benches);
