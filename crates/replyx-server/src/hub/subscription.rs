//! `Subscription`: one registered connection's receiving end. Dropping it unregisters
//! the connection and updates the counts, whatever way the session ended.

use super::fanout::Outbound;
use super::registry::Closer;
use super::Hub;
use replyx_protocol::{ConnectionId, ConnectionKind, DialogId};
use tokio::sync::mpsc::Receiver;

/// A registered connection. Unregisters on drop.
pub struct Subscription {
    hub: Hub,
    id: ConnectionId,
    kind: ConnectionKind,
    dialog: Option<DialogId>,
    rx: Receiver<Outbound>,
    closer: Closer,
    /// The server's own subscriber (not a socket).
    internal: bool,
}

impl Subscription {
    pub(crate) fn new(
        hub: Hub,
        id: ConnectionId,
        kind: ConnectionKind,
        dialog: Option<DialogId>,
        rx: Receiver<Outbound>,
        closer: Closer,
        internal: bool,
    ) -> Self {
        Self {
            hub,
            id,
            kind,
            dialog,
            rx,
            closer,
            internal,
        }
    }

    /// This connection's id.
    pub fn id(&self) -> ConnectionId {
        self.id
    }

    /// The next item for this connection; `None` never happens while registered.
    ///
    /// # Cancel safety
    /// Cancel safe.
    pub async fn recv(&mut self) -> Option<Outbound> {
        self.rx.recv().await
    }

    /// The next item if one is queued, without waiting (the delivery simulation drives
    /// sessions step by step).
    pub fn try_recv(&mut self) -> Option<Outbound> {
        self.rx.try_recv().ok()
    }

    /// The close handle the hub and drain use for this connection.
    pub fn closer(&self) -> &Closer {
        &self.closer
    }
}

impl Drop for Subscription {
    fn drop(&mut self) {
        self.hub
            .unregister(self.id, self.kind, self.dialog, self.internal);
    }
}

#[cfg(test)]
impl Subscription {
    /// Whether nothing is queued (tests).
    pub(crate) fn rx_is_empty(&self) -> bool {
        self.rx.is_empty()
    }
}
