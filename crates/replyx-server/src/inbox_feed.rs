//! The operators' inbox feed (`/ws/admin/inbox`) kept current locally: every process
//! derives `dialog.updated` rows from the events and read marks its hub delivers —
//! its own and, through the bus, other processes' — but only while an inbox socket is
//! open here. Nothing is written per message for it, and a process without an open
//! console pays nothing. (`dialog.created` is still published once per new dialog.)
//!
//! Notices are coalesced: a burst of events in one dialog costs one summary query.

use crate::state::AppState;
use replyx_core::{BusMessage, BusSink, Signal, SignalBody};
use replyx_protocol::DialogId;
use std::collections::HashSet;
use std::sync::Arc;

/// Pending notices before new ones are dropped (they would only repeat a refresh).
const QUEUE: usize = 4096;

/// Wires the hub to a refresher task.
pub fn start(state: &AppState) {
    let (tx, mut rx) = tokio::sync::mpsc::channel::<DialogId>(QUEUE);
    state.hub.notify_inbox_changes(tx);
    let task_state = state.clone();
    let stop = state.lifecycle.stop_token();
    state.lifecycle.spawn(async move {
        loop {
            let first = tokio::select! {
                _ = stop.cancelled() => return,
                next = rx.recv() => match next { Some(d) => d, None => return },
            };
            let mut dialogs = HashSet::from([first]);
            while let Ok(more) = rx.try_recv() {
                dialogs.insert(more);
            }
            for dialog in dialogs {
                refresh(&task_state, dialog).await;
            }
        }
    });
}

async fn refresh(state: &AppState, dialog: DialogId) {
    match state.store.dialog_summary(dialog).await {
        Ok(Some(summary)) if Some(summary.assistant_id) != state.canary.assistant() => {
            let signal = Signal {
                dialog_id: dialog,
                body: SignalBody::Inbox {
                    created: false,
                    summary: Box::new(summary),
                },
            };
            // Local only: every process derives its own rows from what it delivers.
            state.hub.deliver(BusMessage::Signal(Arc::new(signal)));
        }
        Ok(_) => {}
        Err(e) => tracing::warn!(error = %e, %dialog, "reading an inbox row failed"),
    }
}
