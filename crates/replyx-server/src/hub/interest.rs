//! `BusInterest`: this node's subscription to one topic on the bus, held as long as a
//! connection (or the canary) needs it. Cluster buses carry a dialog's events only to
//! the nodes holding one; the others never see them.

use replyx_core::{Bus, Topic};
use replyx_protocol::DialogId;
use std::sync::Arc;

/// One subscriber's share of a bus topic. Unsubscribes on drop.
pub struct BusInterest {
    bus: Arc<dyn Bus>,
    topic: Topic,
}

impl BusInterest {
    /// Subscribes to the topic of a connection on `dialog` (`None`: the inbox feed)
    /// and waits for the bus to confirm. Acquire it after registering in the hub and
    /// before reading the replay: then an event is in the replay, or reaches the hub.
    pub async fn acquire(bus: Arc<dyn Bus>, dialog: Option<DialogId>) -> BusInterest {
        let topic = dialog.map_or(Topic::Inbox, Topic::Dialog);
        bus.subscribe(topic).await;
        BusInterest { bus, topic }
    }
}

impl Drop for BusInterest {
    fn drop(&mut self) {
        self.bus.unsubscribe(self.topic);
    }
}
