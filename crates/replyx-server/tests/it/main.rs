//! The realtime integration suite: one binary, one module per behaviour. Every test
//! talks to a real server over real HTTP and WebSockets and awaits events (frames,
//! barriers, the server's "listening on" line), never sleeps.

mod audience;
mod bad_input;
mod canary;
mod cli_operators;
mod delivery;
mod drain;
mod handoff;
mod heartbeat;
mod historic_bugs;
mod http_timeouts;
mod inbox;
mod js_constants;
mod limits;
mod login_abuse;
mod multiprocess;
mod openapi;
mod operator_sessions;
mod operators_at_work;
mod probe;
mod recovery;
mod resume;
mod routing;
mod security_headers;
mod settings;
mod signing_keys;
mod socket_sends;
mod unavailable;
mod visitor_identity;
mod visitors;

use replyx_testkit::{Fixture, TestServer};

/// A fresh server with the standard fixture.
pub(crate) async fn seeded() -> (TestServer, Fixture) {
    let server = TestServer::start().await;
    let fixture = Fixture::seed(&server).await;
    (server, fixture)
}

/// `ws://addr` of an in-process server.
pub(crate) fn ws_base(server: &TestServer) -> String {
    format!("ws://{}", server.addr)
}

/// Texts of the `message.created` events in a list.
pub(crate) fn texts(events: &[serde_json::Value]) -> Vec<String> {
    events
        .iter()
        .filter(|e| e["type"] == "message.created")
        .map(|e| e["message"]["text"].as_str().unwrap_or_default().to_owned())
        .collect()
}

/// Seqs of a list of events.
pub(crate) fn seqs(events: &[serde_json::Value]) -> Vec<u64> {
    events.iter().filter_map(|e| e["seq"].as_u64()).collect()
}
