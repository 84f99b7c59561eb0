//! Bus implementations. `LocalBus` fans out within one process. `StoreWatchBus` adds
//! delivery across processes sharing one SQLite file by reading the store's change feed,
//! so a blue-green pair (or any processes on one host) see each other's events.
//! `ClusterBus` carries them between nodes over NATS or Redis, per dialog.

mod cluster;
mod local;
mod store_watch;

pub use cluster::{ClusterBus, ClusterOptions, ROWS_EVERY};
pub use local::LocalBus;
pub use store_watch::StoreWatchBus;
