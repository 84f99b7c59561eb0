//! The routing queue, as the server runs it: auto-assignment rounds (the store picks
//! and hands over in one transaction, so rounds on several processes at once never
//! give a dialog twice) and each waiting visitor's standing, sent to the dialog's
//! sockets as `queue.position` whenever the queue or the operators online change.

use crate::dialog_service;
use crate::state::AppState;
use replyx_core::{SignalBody, StoredEvent};
use replyx_protocol::{AssistantId, DialogStatus, PresenceState, QueueStanding};
use std::time::Duration;

/// Most dialogs one round hands out; the next round (a presence beat away) goes on.
const ROUND: usize = 50;

/// How far back pickups count for the expected wait, and how many.
const RECENT: Duration = Duration::from_secs(3600);
const RECENT_PICKUPS: u32 = 20;

/// Gives waiting dialogs of auto-assigning assistants to online operators with room
/// until none fits, publishing each handover.
pub async fn assign_pending(state: &AppState) {
    let max = state.settings.limits.max_dialogs_per_operator;
    for _ in 0..ROUND {
        match state.store.assign_next(max).await {
            Ok(Some(events)) => {
                state.metrics.assigned();
                announce_handover(state, &events).await;
            }
            Ok(None) => return,
            Err(e) => {
                tracing::warn!(error = %e, "auto-assignment round failed; the next one retries");
                return;
            }
        }
    }
}

/// Publishes a handover's events and tells the dialog's queue where everyone stands.
async fn announce_handover(state: &AppState, events: &[StoredEvent]) {
    let Some(first) = events.first() else {
        return;
    };
    dialog_service::publish_events(state, events).await;
    dialog_service::refresh_inbox(state, first.dialog_id, false).await;
    if let Ok(Some(dialog)) = state.store.dialog(first.dialog_id).await {
        announce(state, dialog.assistant_id).await;
    }
}

/// Operators online now (away ones do not take dialogs).
async fn online(state: &AppState) -> u32 {
    let max = state.settings.limits.max_dialogs_per_operator;
    match state.store.presence(max).await {
        Ok(all) => all
            .iter()
            .filter(|p| p.status == PresenceState::Online)
            .count() as u32,
        Err(_) => 0,
    }
}

/// The median of recent pickups' waits times the position, in seconds.
fn expected_wait(mut waits_ms: Vec<u64>, position: u32) -> Option<u64> {
    if waits_ms.is_empty() {
        return None;
    }
    waits_ms.sort_unstable();
    let median = waits_ms[waits_ms.len() / 2];
    Some((median.saturating_mul(u64::from(position)) / 1000).max(1))
}

/// The standings of an assistant's queue, first to last.
async fn standings(
    state: &AppState,
    assistant: AssistantId,
) -> Vec<(replyx_protocol::DialogId, QueueStanding)> {
    let Ok(queue) = state.store.queue(assistant).await else {
        return Vec::new();
    };
    if queue.is_empty() {
        return Vec::new();
    }
    let since = chrono::Utc::now() - chrono::Duration::from_std(RECENT).unwrap_or_default();
    let waits = state
        .store
        .recent_waits(assistant, since, RECENT_PICKUPS)
        .await
        .unwrap_or_default();
    let operators_online = online(state).await;
    let length = queue.len() as u32;
    queue
        .into_iter()
        .enumerate()
        .map(|(i, dialog)| {
            let position = i as u32 + 1;
            let standing = QueueStanding {
                position,
                queue_length: length,
                operators_online,
                expected_wait_s: if operators_online == 0 {
                    None
                } else {
                    expected_wait(waits.clone(), position)
                },
            };
            (dialog, standing)
        })
        .collect()
}

/// Sends every waiting dialog of the assistant its standing.
pub async fn announce(state: &AppState, assistant: AssistantId) {
    for (dialog, standing) in standings(state, assistant).await {
        dialog_service::publish_signal(state, dialog, SignalBody::Queue { standing }).await;
    }
}

/// Sends every waiting dialog of every assistant its standing (the operators online
/// changed).
pub async fn announce_all(state: &AppState) {
    let Ok(assistants) = state.store.list_assistants().await else {
        return;
    };
    for assistant in assistants {
        announce(state, assistant.id).await;
    }
}

/// A dialog's standing now, when it waits for an operator (for its load).
pub async fn standing_of(
    state: &AppState,
    dialog: &replyx_core::model::DialogRecord,
) -> Option<QueueStanding> {
    if dialog.status != DialogStatus::WaitingOperator {
        return None;
    }
    standings(state, dialog.assistant_id)
        .await
        .into_iter()
        .find_map(|(d, s)| (d == dialog.id).then_some(s))
}

#[cfg(test)]
mod tests {
    use super::expected_wait;

    #[test]
    fn the_expected_wait_is_the_median_pickup_times_the_position() {
        assert_eq!(expected_wait(vec![], 3), None);
        assert_eq!(expected_wait(vec![60_000, 1_000, 30_000], 1), Some(30));
        assert_eq!(expected_wait(vec![60_000, 1_000, 30_000], 3), Some(90));
        assert_eq!(expected_wait(vec![10], 1), Some(1), "never zero seconds");
    }
}
