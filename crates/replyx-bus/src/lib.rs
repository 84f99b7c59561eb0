//! Bus implementations. `LocalBus` fans out within one process. `StoreWatchBus` adds
//! delivery across processes sharing one SQLite file by reading the store's change feed,
//! so a blue-green pair (or any processes on one host) see each other's events. Redis
//! and NATS buses implement the same `replyx_core::Bus` trait.

mod local;
mod store_watch;

pub use local::LocalBus;
pub use store_watch::StoreWatchBus;
