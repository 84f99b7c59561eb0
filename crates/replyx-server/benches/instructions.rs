//! Fixed workloads of the hot paths, run under valgrind's callgrind by
//! `scripts/check-instructions`: instruction counts, unlike times, hardly move on a
//! noisy machine, so a checked-in baseline can gate CI (a workload whose count per
//! operation grows by more than 10% fails it).
//!
//! `instructions WORKLOAD N` runs the workload's set-up and then N operations. The
//! script runs each workload with N and with 0 and divides the difference by N, so
//! start-up, the runtime and the store's set-up (migrations, the first dialog) are not
//! counted, whichever thread runs them. That difference is why this is a plain binary
//! and not a callgrind harness crate (iai-callgrind): the store's writes run on sqlx's
//! own worker thread, outside any function a harness would wrap, and a difference of
//! two whole-program counts includes them. The set-up builds everything a workload
//! uses before its operations start, so N = 0 pays for exactly the same set-up.

use replyx_core::{BusMessage, BusSink, NewAssistant, NewMessage, Store, Stream};
use replyx_protocol::{ClientFrame, ConnectionKind, DialogId, GuestId};
use replyx_server::hub::{FanoutEvent, Hub, HubLimits, Outbound};
use replyx_server::metrics::Metrics;
use std::hint::black_box;
use std::sync::Arc;

#[path = "support/event.rs"]
mod support_event;
use support_event::event;

/// Every workload by name, for the script's list and for a typo to fail loudly.
const WORKLOADS: [&str; 6] = [
    "encode_event",
    "fanout_100_subscribers",
    "hub_deliver_10",
    "client_frame_decode",
    "sqlite_append",
    "sqlite_append_50_writers",
];

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (name, n) = match args.as_slice() {
        [name, n] => match n.parse::<u64>() {
            Ok(n) => (name.as_str(), n),
            Err(_) => usage(),
        },
        // `--list` for the script; `cargo bench` runs it with `--bench` only.
        [] => return println!("{}", WORKLOADS.join("\n")),
        [flag] if flag == "--list" || flag == "--bench" => {
            return println!("{}", WORKLOADS.join("\n"))
        }
        _ => usage(),
    };
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    match name {
        "encode_event" => encode_event(n),
        "fanout_100_subscribers" => fanout_100_subscribers(n),
        "hub_deliver_10" => rt.block_on(hub_deliver_10(n)),
        "client_frame_decode" => client_frame_decode(n),
        "sqlite_append" => rt.block_on(sqlite_append(n, 1)),
        "sqlite_append_50_writers" => rt.block_on(sqlite_append(n, 50)),
        other => {
            eprintln!("unknown workload {other:?} (workloads: {WORKLOADS:?})");
            std::process::exit(2);
        }
    }
}

fn usage() -> ! {
    eprintln!("usage: instructions WORKLOAD N  (workloads: {WORKLOADS:?})");
    std::process::exit(2);
}

/// One stored event to the visitor stream's JSON, as a socket sends it.
fn encode_event(n: u64) {
    let e = event(DialogId::new(), 42);
    for _ in 0..n {
        black_box(serde_json::to_string(&e.to_wire(Stream::Visitor).unwrap()).unwrap());
    }
}

/// One event shared by 100 subscribers: encoded once per stream, then handed out.
fn fanout_100_subscribers(n: u64) {
    let e = Arc::new(event(DialogId::new(), 42));
    for _ in 0..n {
        let fanout = FanoutEvent::new(e.clone());
        for _ in 0..100 {
            black_box(fanout.json(Stream::Visitor));
        }
    }
}

/// The hub delivering one event to the 10 sockets of its dialog, and each receiving it.
async fn hub_deliver_10(n: u64) {
    let hub = Hub::new(
        HubLimits {
            visitor_per_dialog: 100,
            admin_per_dialog: 100,
            total: 1000,
            outbox: 1024,
        },
        Metrics::new(),
    );
    let dialog = DialogId::new();
    let mut subs: Vec<_> = (0..10)
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
    for _ in 0..n {
        hub.deliver(BusMessage::Event(stored.clone()));
        for sub in subs.iter_mut() {
            if let Some(Outbound::Event(e)) = sub.recv().await {
                black_box(e.json(Stream::Visitor));
            }
        }
    }
}

/// Client frames as a session decodes them: a message send, a typing and a read.
fn client_frame_decode(n: u64) {
    let frames = [
        r#"{"type":"message.send","text":"Do you ship to Norway?","client_msg_id":"4f1c2b9e-6a"}"#,
        r#"{"type":"typing","state":"start"}"#,
        r#"{"type":"read","up_to":42}"#,
    ];
    for i in 0..n {
        let text = frames[(i % 3) as usize];
        black_box(serde_json::from_str::<ClientFrame>(black_box(text)).unwrap());
    }
}

/// `n` visitor messages stored by `writers` concurrent writers (one dialog each) in the
/// embedded SQLite store: with one writer, each append is its own transaction; with 50,
/// the store's group commit batches them.
async fn sqlite_append(n: u64, writers: usize) {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("bench.db").display());
    let store = replyx_store::SqliteStore::build(&url, "bench")
        .await
        .unwrap();
    let assistant = store
        .create_assistant(NewAssistant {
            name: "Bench".into(),
            ..Default::default()
        })
        .await
        .unwrap();
    let mut dialogs = Vec::new();
    for _ in 0..writers {
        let (d, _, _) = store
            .open_dialog(&assistant, &GuestId::generate())
            .await
            .unwrap();
        dialogs.push(d.id);
    }
    let per_writer = n.div_ceil(writers as u64);
    let tasks: Vec<_> = dialogs
        .into_iter()
        .map(|d| {
            let store = store.clone();
            tokio::spawn(async move {
                for _ in 0..per_writer {
                    store
                        .append_message(NewMessage::visitor(d, "hello"))
                        .await
                        .unwrap();
                }
            })
        })
        .collect();
    for t in tasks {
        t.await.unwrap();
    }
}
