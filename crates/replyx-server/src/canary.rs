//! The canary: every `REPLYX_CANARY_INTERVAL` the server stores an internal note in the
//! canary dialog *as a peer process would* (through a store handle with its own origin,
//! `SqliteStore::with_origin`), sends it on the bus's round trip
//! (`Bus::publish_round_trip`), and checks that it comes back through the bus and the
//! hub to its own subscriber. On the store-watching bus the note therefore returns only
//! through the change feed poll, the path every other process's events take: a dead or
//! stuck poll loop, or any break of the cross-process path, fails the round. A silent
//! widget — sockets open, nothing arriving — shows up here first: `/health/websocket`
//! turns `degraded` and `replyx_canary_age_seconds` grows.
//!
//! Until its first round trip succeeds the canary says `starting`, never `healthy`.
//!
//! The canary dialog belongs to an assistant named [`CANARY_ASSISTANT`]; it is left out
//! of the operators' inbox, and only its newest events are kept.

use crate::hub::{BusInterest, Outbound, Subscription};
use crate::state::AppState;
use replyx_core::{NewAssistant, NewMessage, Store};
use replyx_protocol::{AssistantId, DialogId, EventPayload, GuestId, Sender};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

/// Name of the canary's assistant.
pub const CANARY_ASSISTANT: &str = "ReplyX canary";
const CANARY_GUEST: &str = "replyx-canary-dialog";
/// Canary events kept in the store.
const KEEP_EVENTS: u32 = 100;

/// What the canary says about delivery.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Off (`REPLYX_CANARY_INTERVAL=0s`): it says nothing.
    Off,
    /// No round has succeeded yet, and it is not late.
    Starting,
    /// The last round succeeded, recently enough.
    Healthy,
    /// The last round failed, or no round succeeded for too long.
    Degraded(String),
}

/// What the canary last saw; shared with the health endpoint.
#[derive(Clone)]
pub struct Canary {
    inner: Arc<Inner>,
}

struct Inner {
    assistant: OnceLock<AssistantId>,
    started: Instant,
    last: Mutex<Option<Result<Instant, String>>>,
}

impl Default for Canary {
    fn default() -> Self {
        Self {
            inner: Arc::new(Inner {
                assistant: OnceLock::new(),
                started: Instant::now(),
                last: Mutex::new(None),
            }),
        }
    }
}

impl Canary {
    /// The canary's assistant, once set up.
    pub fn assistant(&self) -> Option<AssistantId> {
        self.inner.assistant.get().copied()
    }

    /// The verdict: `stale` (three intervals) is how long the canary may go without a
    /// good round trip, counted from start while it has had none.
    pub fn verdict(&self, enabled: bool, stale: Duration) -> Verdict {
        if !enabled {
            return Verdict::Off;
        }
        match &*self.inner.last.lock().unwrap_or_else(|p| p.into_inner()) {
            Some(Err(reason)) => Verdict::Degraded(reason.clone()),
            Some(Ok(at)) if at.elapsed() > stale => {
                Verdict::Degraded(format!("no good round trip for {:?}", at.elapsed()))
            }
            Some(Ok(_)) => Verdict::Healthy,
            None if self.inner.started.elapsed() > stale => Verdict::Degraded(format!(
                "no round trip has succeeded since the start, {:?} ago",
                self.inner.started.elapsed()
            )),
            None => Verdict::Starting,
        }
    }

    fn record(&self, result: Result<Instant, String>) {
        *self.inner.last.lock().unwrap_or_else(|p| p.into_inner()) = Some(result);
    }
}

/// Starts the canary loop, unless its interval is zero. `peer` writes to the same
/// store as the server under another origin.
pub fn start(state: &AppState, peer: Arc<dyn Store>) {
    let interval = state.settings.canary_interval;
    if interval.is_zero() {
        return;
    }
    let task_state = state.clone();
    let stop = state.lifecycle.stop_token();
    state.lifecycle.spawn(async move {
        let mut tick = tokio::time::interval(interval);
        let mut set_up: Option<(DialogId, Subscription, BusInterest)> = None;
        let mut rounds: u64 = 0;
        loop {
            tokio::select! {
                _ = stop.cancelled() => return,
                _ = tick.tick() => {}
            }
            if set_up.is_none() {
                match setup(&task_state).await {
                    Ok(parts) => set_up = Some(parts),
                    Err(e) => {
                        fail(&task_state, format!("setup failed: {e}"));
                        continue;
                    }
                }
            }
            let Some((dialog, sub, _)) = set_up.as_mut() else {
                continue;
            };
            // A round waiting on a stuck store must not hold up shutdown.
            tokio::select! {
                _ = stop.cancelled() => return,
                _ = round(&task_state, peer.as_ref(), *dialog, sub) => {}
            }
            rounds += 1;
            if rounds.is_multiple_of(u64::from(KEEP_EVENTS)) {
                if let Err(e) = task_state.store.trim_events(*dialog, KEEP_EVENTS).await {
                    tracing::warn!(error = %e, "trimming the canary dialog failed");
                }
            }
        }
    });
}

async fn setup(state: &AppState) -> anyhow::Result<(DialogId, Subscription, BusInterest)> {
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
    let sub = state.hub.register_internal(dialog.id);
    // On a cluster bus the round trip comes back only on a subscribed dialog.
    let interest = BusInterest::acquire(state.bus.clone(), Some(dialog.id)).await;
    Ok((dialog.id, sub, interest))
}

async fn round(state: &AppState, peer: &dyn Store, dialog: DialogId, sub: &mut Subscription) {
    let started = Instant::now();
    let nonce = format!("canary {}", uuid::Uuid::new_v4());
    let message = NewMessage {
        sender: Sender::System,
        internal: true,
        ..NewMessage::visitor(dialog, nonce.clone())
    };
    let stored = match peer.append_message(message).await {
        Ok(appended) => appended.event,
        Err(e) => return fail(state, format!("store: {e}")),
    };
    if let Err(e) = state.bus.publish_round_trip(Arc::new(stored)).await {
        return fail(state, format!("bus: {e}"));
    }
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
