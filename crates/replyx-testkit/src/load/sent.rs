//! When each message of a pair was first posted, so its sockets time delivery from the
//! HTTP POST (what a user waits for: request, store, fan-out, socket) rather than from
//! the server's own timestamp, which is taken after the message waited for the store.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// `client_msg_id` → when its first POST went out (a retry keeps the first time).
#[derive(Debug, Default)]
pub(crate) struct SentTimes(Mutex<HashMap<String, Instant>>);

impl SentTimes {
    /// Records that `client_msg_id` is being posted now, unless it was posted before.
    pub(crate) fn posting(&self, client_msg_id: &str) {
        self.0
            .lock()
            .expect("sent times")
            .entry(client_msg_id.to_owned())
            .or_insert_with(Instant::now);
    }

    /// Time since `client_msg_id` was first posted; `None` for messages this run did
    /// not post (the welcome, assistant replies).
    pub(crate) fn since_posted(&self, client_msg_id: &str) -> Option<Duration> {
        let times = self.0.lock().expect("sent times");
        times.get(client_msg_id).map(Instant::elapsed)
    }
}
