//! Operator presence, derived from open consoles. A console is an operator's inbox
//! socket; this process counts its own and, every sixth of `REPLYX_PRESENCE_GRACE`
//! (and at once when a count changes), tells the store whose consoles it holds and
//! settles everyone's state there. The store keeps presence, so every process agrees,
//! and one process announces each change: it publishes `operator.presence` to consoles
//! and, for an operator gone offline past the grace period, sends their dialogs back to
//! the queue (or the assistant). A reload or a short network loss is shorter than the
//! grace, so it changes nothing.

use crate::dialog_service;
use crate::queue;
use crate::state::AppState;
use replyx_core::handoff::HandoffAction;
use replyx_core::SignalBody;
use replyx_protocol::{DialogId, OperatorId, PresenceState};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use tokio::sync::Notify;

/// The operators whose consoles are open on this process, and how many each.
#[derive(Default)]
pub struct Consoles {
    open: Mutex<HashMap<OperatorId, usize>>,
    /// Operators whose last console here just closed: seen once more, in the round the
    /// close wakes at once ([`Consoles::to_mark_seen`]), so the grace period counts
    /// from the close, not from the beat before it.
    closed: Mutex<Vec<OperatorId>>,
    changed: Notify,
}

/// One open console; closing it (dropping the guard) counts it out.
pub struct ConsoleGuard {
    consoles: Arc<Consoles>,
    operator: OperatorId,
}

impl Consoles {
    /// Counts a console of `operator` in; the presence task runs a round at once when
    /// it is their first here.
    pub fn open(self: &Arc<Self>, operator: OperatorId) -> ConsoleGuard {
        let first = {
            let mut open = self.open.lock().expect("consoles");
            let n = open.entry(operator).or_insert(0);
            *n += 1;
            *n == 1
        };
        if first {
            self.changed.notify_one();
        }
        ConsoleGuard {
            consoles: self.clone(),
            operator,
        }
    }

    /// The operators with a console open here now.
    pub fn operators(&self) -> Vec<OperatorId> {
        self.open
            .lock()
            .expect("consoles")
            .keys()
            .copied()
            .collect()
    }

    /// The operators to mark seen this round: those with a console open here, and
    /// those whose last console here closed since the previous round (taken, so they
    /// are seen once more and no longer). Without the latter, the grace period would
    /// count from the beat before the close and end up to a beat early.
    pub fn to_mark_seen(&self) -> Vec<OperatorId> {
        let closed = std::mem::take(&mut *self.closed.lock().expect("consoles"));
        let mut seen = self.operators();
        for operator in closed {
            if !seen.contains(&operator) {
                seen.push(operator);
            }
        }
        seen
    }
}

impl Drop for ConsoleGuard {
    fn drop(&mut self) {
        let last = {
            let mut open = self.consoles.open.lock().expect("consoles");
            match open.get_mut(&self.operator) {
                Some(n) if *n > 1 => {
                    *n -= 1;
                    false
                }
                Some(_) => {
                    open.remove(&self.operator);
                    true
                }
                None => false,
            }
        };
        if last {
            self.consoles
                .closed
                .lock()
                .expect("consoles")
                .push(self.operator);
            self.consoles.changed.notify_one();
        }
    }
}

/// Runs presence rounds until the process stops.
pub async fn run(state: AppState) {
    let beat = state.settings.presence_grace / 6;
    let mut tick = tokio::time::interval(beat);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let stop = state.lifecycle.stop_token();
    loop {
        tokio::select! {
            _ = stop.cancelled() => return,
            _ = tick.tick() => {}
            _ = state.consoles.changed.notified() => {}
        }
        if let Err(e) = round(&state).await {
            tracing::warn!(error = %e.message, "presence round failed; the next one retries");
        }
    }
}

/// One round: this process's consoles seen, everyone's state settled, each change this
/// process made announced and acted on, then the queue given a chance.
///
/// # Errors
/// Store failures.
pub async fn round(state: &AppState) -> Result<(), crate::error::ApiError> {
    state
        .store
        .presence_seen(&state.consoles.to_mark_seen())
        .await?;
    let seen_after = chrono::Utc::now()
        - chrono::Duration::from_std(state.settings.presence_grace).unwrap_or_default();
    let changes = state.store.settle_presence(seen_after).await?;
    for change in &changes {
        tracing::info!(operator = %change.operator.id, was = change.was.as_str(), now = change.now.as_str(), "operator presence");
        let body = SignalBody::Presence {
            operator: change.operator.clone(),
            status: change.now,
        };
        dialog_service::publish_signal(state, DialogId(uuid::Uuid::nil()), body).await;
        if change.now == PresenceState::Offline {
            for dialog in state.store.held_dialogs(change.operator.id).await? {
                let lost = HandoffAction::OperatorLost(change.operator.clone());
                if let Err(e) = dialog_service::handoff(state, dialog, lost).await {
                    tracing::warn!(error = %e.message, %dialog, "releasing a lost operator's dialog failed");
                }
            }
        }
    }
    if !changes.is_empty() {
        state.metrics.presence(
            &state
                .store
                .presence(state.settings.limits.max_dialogs_per_operator)
                .await?,
        );
        // Who is online changed: every queue's "operators online" and expected wait.
        queue::announce_all(state).await;
    }
    queue::assign_pending(state).await;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_closed_console_is_seen_once_more_then_no_longer() {
        let consoles = Arc::new(Consoles::default());
        let (ann, bo) = (OperatorId::new(), OperatorId::new());
        let ann_console = consoles.open(ann);
        let bo_first = consoles.open(bo);
        let bo_second = consoles.open(bo);
        drop(ann_console);
        drop(bo_first);
        let mut seen = consoles.to_mark_seen();
        seen.sort();
        let mut expected = vec![ann, bo];
        expected.sort();
        assert_eq!(seen, expected, "the closed console is seen at its close");
        assert_eq!(consoles.to_mark_seen(), [bo], "and only once");
        drop(bo_second);
        assert_eq!(consoles.to_mark_seen(), [bo]);
        assert!(consoles.to_mark_seen().is_empty());
    }
}
