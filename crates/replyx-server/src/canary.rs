//! The canary: every `REPLYX_CANARY_INTERVAL` the server stores an internal note in its
//! own canary dialog, publishes it like any event, and checks that it comes back through
//! the bus and the hub to its own subscriber. A silent widget — sockets open, nothing
//! arriving — shows up here first: `/health/websocket` turns `degraded` and
//! `replyx_canary_age_seconds` grows.
//!
//! The canary dialog belongs to an assistant named [`CANARY_ASSISTANT`]; it is left out
//! of the operators' inbox, and only its newest events are kept.

use crate::dialog_service;
use crate::hub::{Outbound, Subscription};
use crate::state::AppState;
use replyx_core::{NewAssistant, NewMessage};
use replyx_protocol::{AssistantId, DialogId, EventPayload, GuestId, Sender};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

/// Name of the canary's assistant.
pub const CANARY_ASSISTANT: &str = "ReplyX canary";
const CANARY_GUEST: &str = "replyx-canary-dialog";
/// Canary events kept in the store.
const KEEP_EVENTS: u32 = 100;

/// What the canary last saw; shared with the health endpoint.
#[derive(Clone, Default)]
pub struct Canary {
    inner: Arc<Inner>,
}

#[derive(Default)]
struct Inner {
    assistant: OnceLock<AssistantId>,
    last: Mutex<Option<Result<Instant, String>>>,
}

impl Canary {
    /// The canary's assistant, once set up.
    pub fn assistant(&self) -> Option<AssistantId> {
        self.inner.assistant.get().copied()
    }

    /// `Some(reason)` when the canary is failing: its last round failed, or no round has
    /// succeeded within `stale` (three intervals).
    pub fn problem(&self, enabled: bool, stale: Duration) -> Option<String> {
        if !enabled {
            return None;
        }
        match &*self.inner.last.lock().unwrap_or_else(|p| p.into_inner()) {
            None => None,
            Some(Err(reason)) => Some(reason.clone()),
            Some(Ok(at)) if at.elapsed() > stale => {
                Some(format!("no good round trip for {:?}", at.elapsed()))
            }
            Some(Ok(_)) => None,
        }
    }

    fn record(&self, result: Result<Instant, String>) {
        *self.inner.last.lock().unwrap_or_else(|p| p.into_inner()) = Some(result);
    }
}

/// Starts the canary loop, unless its interval is zero.
pub fn start(state: &AppState) {
    let interval = state.settings.canary_interval;
    if interval.is_zero() {
        return;
    }
    let task_state = state.clone();
    let stop = state.lifecycle.stop_token();
    state.lifecycle.spawn(async move {
        let (dialog, mut sub) = match setup(&task_state).await {
            Ok(parts) => parts,
            Err(e) => {
                tracing::error!(error = %e, "canary setup failed");
                task_state.canary.record(Err(format!("setup failed: {e}")));
                return;
            }
        };
        let mut tick = tokio::time::interval(interval);
        let mut rounds: u64 = 0;
        loop {
            tokio::select! {
                _ = stop.cancelled() => return,
                _ = tick.tick() => {}
            }
            round(&task_state, dialog, &mut sub).await;
            rounds += 1;
            if rounds.is_multiple_of(u64::from(KEEP_EVENTS)) {
                if let Err(e) = task_state.store.trim_events(dialog, KEEP_EVENTS).await {
                    tracing::warn!(error = %e, "trimming the canary dialog failed");
                }
            }
        }
    });
}

async fn setup(state: &AppState) -> anyhow::Result<(DialogId, Subscription)> {
    let existing = state
        .store
        .list_assistants()
        .await?
        .into_iter()
        .find(|a| a.name == CANARY_ASSISTANT);
    let assistant = match existing {
        Some(a) => a,
        None => {
            let new = NewAssistant {
                name: CANARY_ASSISTANT.into(),
                ..Default::default()
            };
            state.store.create_assistant(new).await?
        }
    };
    let _ = state.canary.inner.assistant.set(assistant.id);
    let guest = GuestId::parse(CANARY_GUEST).expect("valid guest id");
    let (dialog, _, _) = state.store.open_dialog(&assistant, &guest).await?;
    Ok((dialog.id, state.hub.register_internal(dialog.id)))
}

async fn round(state: &AppState, dialog: DialogId, sub: &mut Subscription) {
    let started = Instant::now();
    let nonce = format!("canary {}", uuid::Uuid::new_v4());
    let message = NewMessage {
        dialog_id: dialog,
        sender: Sender::System,
        text: nonce.clone(),
        client_msg_id: None,
        operator: None,
        internal: true,
        require_status: None,
    };
    let stored = match state.store.append_message(message).await {
        Ok(appended) => appended.event,
        Err(e) => return fail(state, format!("store: {e}")),
    };
    dialog_service::publish_events(state, std::slice::from_ref(&stored)).await;
    let timeout = state.settings.canary_timeout;
    let came_back = tokio::time::timeout(timeout, async {
        while let Some(item) = sub.recv().await {
            if let Outbound::Event(e) = item {
                if matches!(&e.event.payload, EventPayload::MessageCreated { message } if message.text == nonce) {
                    return true;
                }
            }
        }
        false
    })
    .await;
    match came_back {
        Ok(true) => {
            state.metrics.canary_ok(started.elapsed().as_secs_f64());
            state.canary.record(Ok(Instant::now()));
        }
        _ => fail(state, format!("event not delivered within {timeout:?}")),
    }
}

fn fail(state: &AppState, reason: String) {
    tracing::warn!(%reason, "canary round failed");
    state.metrics.canary_failed();
    state.canary.record(Err(reason));
}
