//! ReplyX Realtime server: the axum application and the `replyx` binary.
//!
//! # Layout
//! - `config`: settings from flags, `REPLYX_*` and TOML; `cli`: the commands.
//! - `app`: build (store, bus, hub, listener) and run with staged drain; `lifecycle`.
//! - `state`: the one `AppState` handle; `error`: the HTTP error shape.
//! - `auth`: tokens, passwords, Origin check; `limits`: rate limits and client IP.
//! - `http`: the route table and handlers; `ws`: the three (four with the inbox)
//!   upgrade handlers over one `session` loop.
//! - `hub`: sockets by dialog and kind, the one delivery path.
//! - `dialog_service`: store → publish for every write; `responder`: the rules bot.
//! - `metrics`, `telemetry`, `secret`, `demo`.

pub mod app;
pub mod assistant_cache;
pub mod auth;
pub mod canary;
pub mod cli;
pub mod config;
pub mod demo;
pub mod dialog_service;
pub mod error;
pub mod http;
pub mod hub;
pub mod inbox_feed;
pub mod lifecycle;
pub mod limits;
pub mod metrics;
pub mod presence;
pub mod probe;
pub mod queue;
pub mod responder;
pub mod secret;
pub mod state;
pub mod telemetry;
mod wal_metrics;
pub mod ws;
