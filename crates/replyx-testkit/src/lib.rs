//! Test kit: a real server on port 0 with a temporary store and an injected shutdown,
//! an HTTP client for the API, and a WebSocket client with a small frame DSL
//! (`expect_type`, `barrier`, `expect_close`), and faults on command (`faults`) for
//! tests that break the server on purpose. Tests await events through these; nothing
//! here sleeps to synchronize.

mod api;
pub mod brokers;
pub mod crossnode;
pub mod faults;
pub mod load;
mod metrics;
mod process;
mod server;
pub mod sim;
mod ws;

pub use api::{create_operator, Api, Fixture, Reply, Visitor, SITE_ORIGIN, WELCOME};
pub use metrics::metric;
pub use process::ServerProcess;
pub use server::{database_url, TestOptions, TestServer, TEST_SECRET};
pub use ws::{Incoming, WsClient};

/// Upper bound for any single awaited event in tests; a hang fails instead of blocking.
pub const WAIT: std::time::Duration = std::time::Duration::from_secs(15);
