//! Faults on command, for tests that break the server on purpose and show that what
//! guards it notices: a store whose change feed or appends fail, hang or panic, and a
//! bus that drops, holds back, duplicates or reorders what it hands to the hub.
//!
//! Both wrap the real part (`Seams`), so everything not faulted behaves as in
//! production. Faults on the bus act where the hub receives (the sink), which covers
//! this process's own publishes and what the change feed brings from other processes.

use replyx_core::{
    Appended, Assistant, AssistantPatch, Bus, BusMessage, BusSink, ChangeBatch, ChangeCursor,
    DialogQuery, DialogRecord, HandoffAction, NewAssistant, NewMessage, NewOperator, Operator,
    OperatorRecord, Signal, Store, StoreError, StoredEvent, Stream,
};
use replyx_protocol::{AssistantId, DialogId, DialogSummary, GuestId, OperatorId, Reader, Seq};
use replyx_server::app::{Seams, Wrap};
use std::sync::{Arc, Mutex};

/// What a faulted store operation does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Fault {
    /// Works.
    #[default]
    None,
    /// Fails with `StoreError::Unavailable`.
    Fail,
    /// Never answers.
    Hang,
    /// Panics (the task that called it dies).
    Panic,
}

/// Which store operations are faulted; shared with the test.
#[derive(Debug, Default)]
pub struct StoreFaults {
    changes: Mutex<Fault>,
    appends: Mutex<Fault>,
}

impl StoreFaults {
    /// Faults the change feed (`changes_since`: the store-watching bus's poll).
    pub fn changes(&self, fault: Fault) {
        *self.changes.lock().expect("faults") = fault;
    }

    /// Faults message appends.
    pub fn appends(&self, fault: Fault) {
        *self.appends.lock().expect("faults") = fault;
    }

    async fn apply(slot: &Mutex<Fault>, what: &str) -> Result<(), StoreError> {
        let fault = *slot.lock().expect("faults");
        match fault {
            Fault::None => Ok(()),
            Fault::Fail => Err(StoreError::Unavailable(format!("{what} failed on purpose"))),
            Fault::Hang => std::future::pending().await,
            Fault::Panic => panic!("{what} panicked on purpose"),
        }
    }
}

/// A store that delegates everything and applies `StoreFaults` where set.
pub struct FaultyStore {
    inner: Arc<dyn Store>,
    faults: Arc<StoreFaults>,
}

/// Which bus deliveries are faulted, and what was held back; shared with the test.
#[derive(Default)]
pub struct BusFaults {
    state: Mutex<BusState>,
}

/// What happens to the next stored events handed to the hub.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum EventFault {
    /// Delivered.
    #[default]
    Pass,
    /// Never delivered.
    Drop,
    /// Kept until `release` or `release_reversed`.
    Hold,
    /// Delivered twice.
    Duplicate,
}

#[derive(Default)]
struct BusState {
    mode: EventFault,
    /// Faults apply to this dialog only, when set.
    dialog: Option<DialogId>,
    held: Vec<BusMessage>,
    dropped: u64,
    sink: Option<Arc<dyn BusSink>>,
}

impl BusFaults {
    /// What happens to the stored events that follow (signals always pass).
    pub fn set(&self, mode: EventFault) {
        self.state.lock().expect("faults").mode = mode;
    }

    /// Limits the faults to one dialog's events (the canary's go on working).
    pub fn only(&self, dialog: DialogId) {
        self.state.lock().expect("faults").dialog = Some(dialog);
    }

    /// Events dropped so far.
    pub fn dropped(&self) -> u64 {
        self.state.lock().expect("faults").dropped
    }

    /// Events held back now.
    pub fn held(&self) -> usize {
        self.state.lock().expect("faults").held.len()
    }

    /// Delivers what was held back, in the order it came, and passes what follows.
    pub fn release(&self) {
        self.release_in(false);
    }

    /// Delivers what was held back in reverse order (a reordering bus).
    pub fn release_reversed(&self) {
        self.release_in(true);
    }

    fn release_in(&self, reversed: bool) {
        let (mut held, sink) = {
            let mut state = self.state.lock().expect("faults");
            state.mode = EventFault::Pass;
            (std::mem::take(&mut state.held), state.sink.clone())
        };
        if reversed {
            held.reverse();
        }
        if let Some(sink) = sink {
            for message in held {
                sink.deliver(message);
            }
        }
    }
}

/// The sink the wrapped bus delivers to: the hub's, behind the faults.
struct FaultySink(Arc<BusFaults>);

impl BusSink for FaultySink {
    fn deliver(&self, message: BusMessage) {
        let (mode, sink) = {
            let mut state = self.0.state.lock().expect("faults");
            let Some(sink) = state.sink.clone() else {
                return;
            };
            let applies = matches!(&message, BusMessage::Event(e)
                if state.dialog.is_none_or(|d| d == e.dialog_id));
            let mode = if applies {
                state.mode
            } else {
                EventFault::Pass
            };
            match mode {
                EventFault::Drop => {
                    state.dropped += 1;
                    return;
                }
                EventFault::Hold => {
                    state.held.push(message);
                    return;
                }
                EventFault::Pass | EventFault::Duplicate => (mode, sink),
            }
        };
        if mode == EventFault::Duplicate {
            sink.deliver(message.clone());
        }
        sink.deliver(message);
    }

    fn observe_remote_lag(&self, seconds: f64) {
        let sink = self.0.state.lock().expect("faults").sink.clone();
        if let Some(sink) = sink {
            sink.observe_remote_lag(seconds);
        }
    }

    fn broker_traffic(&self, way: replyx_core::BrokerTraffic, body: &'static str) {
        let sink = self.0.state.lock().expect("faults").sink.clone();
        if let Some(sink) = sink {
            sink.broker_traffic(way, body);
        }
    }
}

/// The bus the settings imply, with its deliveries to the hub faulted.
struct FaultyBus {
    inner: Arc<dyn Bus>,
    faults: Arc<BusFaults>,
}

#[async_trait::async_trait]
impl Bus for FaultyBus {
    fn attach(&self, sink: Arc<dyn BusSink>) {
        self.faults.state.lock().expect("faults").sink = Some(sink);
        self.inner
            .attach(Arc::new(FaultySink(Arc::clone(&self.faults))));
    }
    async fn publish(&self, message: BusMessage) -> Result<(), String> {
        self.inner.publish(message).await
    }
    async fn publish_round_trip(&self, event: Arc<StoredEvent>) -> Result<(), String> {
        self.inner.publish_round_trip(event).await
    }
    async fn health(&self) -> Result<(), String> {
        self.inner.health().await
    }
    fn name(&self) -> &'static str {
        self.inner.name()
    }
}

/// A bus that takes every publish and delivers nothing, while every health check says
/// it works: the silent broker ("sockets open, nothing arriving"). Replaces the bus
/// (`Seams::bus`), where `Faults` wraps it.
pub struct DeafBus;

#[async_trait::async_trait]
impl Bus for DeafBus {
    fn attach(&self, _sink: Arc<dyn BusSink>) {}
    async fn publish(&self, _message: BusMessage) -> Result<(), String> {
        Ok(())
    }
    async fn health(&self) -> Result<(), String> {
        Ok(())
    }
    fn name(&self) -> &'static str {
        "deaf"
    }
}

impl DeafBus {
    /// Seams that put a `DeafBus` in place of the server's bus.
    pub fn seams() -> Seams {
        Seams {
            bus: Some(Box::new(|_| Arc::new(DeafBus) as Arc<dyn Bus>)),
            ..Default::default()
        }
    }
}

/// Handles on the faults of one server.
#[derive(Clone, Default)]
pub struct Faults {
    /// The store's.
    pub store: Arc<StoreFaults>,
    /// The bus's.
    pub bus: Arc<BusFaults>,
}

impl Faults {
    /// Seams that put this server's store and bus behind these faults.
    pub fn seams(&self) -> Seams {
        let store_faults = Arc::clone(&self.store);
        let bus_faults = Arc::clone(&self.bus);
        let store: Wrap<dyn Store> = Box::new(move |inner| {
            Arc::new(FaultyStore {
                inner,
                faults: store_faults,
            })
        });
        let bus: Wrap<dyn Bus> = Box::new(move |inner| {
            Arc::new(FaultyBus {
                inner,
                faults: bus_faults,
            })
        });
        Seams {
            store: Some(store),
            bus: Some(bus),
        }
    }
}

#[async_trait::async_trait]
impl Store for FaultyStore {
    async fn ping(&self) -> Result<(), StoreError> {
        self.inner.ping().await
    }
    async fn create_operator(&self, new: NewOperator) -> Result<Operator, StoreError> {
        self.inner.create_operator(new).await
    }
    async fn operator_by_email(&self, email: &str) -> Result<Option<OperatorRecord>, StoreError> {
        self.inner.operator_by_email(email).await
    }
    async fn operator(&self, id: OperatorId) -> Result<Option<Operator>, StoreError> {
        self.inner.operator(id).await
    }
    async fn list_operators(&self) -> Result<Vec<Operator>, StoreError> {
        self.inner.list_operators().await
    }
    async fn update_operator(
        &self,
        id: OperatorId,
        patch: replyx_core::OperatorPatch,
    ) -> Result<Operator, StoreError> {
        self.inner.update_operator(id, patch).await
    }
    async fn operator_password_hash(&self, id: OperatorId) -> Result<Option<String>, StoreError> {
        self.inner.operator_password_hash(id).await
    }
    async fn create_session(&self, session: replyx_core::NewSession) -> Result<(), StoreError> {
        self.inner.create_session(session).await
    }
    async fn session(
        &self,
        id: replyx_protocol::SessionId,
    ) -> Result<Option<replyx_core::SessionRecord>, StoreError> {
        self.inner.session(id).await
    }
    async fn revoke_session(&self, id: replyx_protocol::SessionId) -> Result<bool, StoreError> {
        self.inner.revoke_session(id).await
    }
    async fn revoke_sessions(
        &self,
        operator: OperatorId,
        keep: Option<replyx_protocol::SessionId>,
    ) -> Result<u64, StoreError> {
        self.inner.revoke_sessions(operator, keep).await
    }
    async fn create_ticket(
        &self,
        hash: &str,
        session: replyx_protocol::SessionId,
        expires_at: chrono::DateTime<chrono::Utc>,
    ) -> Result<(), StoreError> {
        self.inner.create_ticket(hash, session, expires_at).await
    }
    async fn take_ticket(
        &self,
        hash: &str,
    ) -> Result<Option<replyx_protocol::SessionId>, StoreError> {
        self.inner.take_ticket(hash).await
    }
    async fn create_assistant(&self, new: NewAssistant) -> Result<Assistant, StoreError> {
        self.inner.create_assistant(new).await
    }
    async fn update_assistant(
        &self,
        id: AssistantId,
        patch: AssistantPatch,
    ) -> Result<Assistant, StoreError> {
        self.inner.update_assistant(id, patch).await
    }
    async fn assistant(&self, id: AssistantId) -> Result<Option<Assistant>, StoreError> {
        self.inner.assistant(id).await
    }
    async fn list_assistants(&self) -> Result<Vec<Assistant>, StoreError> {
        self.inner.list_assistants().await
    }
    async fn add_identity_key(
        &self,
        assistant: AssistantId,
        key: replyx_core::IdentityKey,
    ) -> Result<(), StoreError> {
        self.inner.add_identity_key(assistant, key).await
    }
    async fn identity_keys(
        &self,
        assistant: AssistantId,
    ) -> Result<Vec<replyx_core::IdentityKey>, StoreError> {
        self.inner.identity_keys(assistant).await
    }
    async fn remove_identity_key(
        &self,
        assistant: AssistantId,
        kid: &str,
    ) -> Result<bool, StoreError> {
        self.inner.remove_identity_key(assistant, kid).await
    }
    async fn identify_visitor(
        &self,
        assistant: AssistantId,
        identity: &replyx_protocol::VisitorIdentity,
    ) -> Result<GuestId, StoreError> {
        self.inner.identify_visitor(assistant, identity).await
    }
    async fn verified_visitor(
        &self,
        assistant: AssistantId,
        guest: &GuestId,
    ) -> Result<Option<replyx_protocol::VisitorIdentity>, StoreError> {
        self.inner.verified_visitor(assistant, guest).await
    }
    async fn guest_dialogs(
        &self,
        assistant: AssistantId,
        guest: &GuestId,
        limit: u32,
    ) -> Result<Vec<replyx_core::GuestDialog>, StoreError> {
        self.inner.guest_dialogs(assistant, guest, limit).await
    }
    async fn open_dialog(
        &self,
        assistant: &Assistant,
        guest: &GuestId,
    ) -> Result<(DialogRecord, Vec<StoredEvent>, bool), StoreError> {
        self.inner.open_dialog(assistant, guest).await
    }
    async fn dialog(&self, id: DialogId) -> Result<Option<DialogRecord>, StoreError> {
        self.inner.dialog(id).await
    }
    async fn list_dialogs(&self, query: DialogQuery) -> Result<Vec<DialogSummary>, StoreError> {
        self.inner.list_dialogs(query).await
    }
    async fn dialog_summary(&self, id: DialogId) -> Result<Option<DialogSummary>, StoreError> {
        self.inner.dialog_summary(id).await
    }
    async fn append_message(&self, message: NewMessage) -> Result<Appended, StoreError> {
        StoreFaults::apply(&self.faults.appends, "append").await?;
        self.inner.append_message(message).await
    }
    async fn handoff(
        &self,
        dialog: DialogId,
        action: HandoffAction,
        max_held: u64,
    ) -> Result<Vec<StoredEvent>, StoreError> {
        self.inner.handoff(dialog, action, max_held).await
    }
    async fn last_status_event(&self, dialog: DialogId) -> Result<Option<StoredEvent>, StoreError> {
        self.inner.last_status_event(dialog).await
    }
    async fn events_since(
        &self,
        dialog: DialogId,
        since: Seq,
        limit: u32,
        stream: Stream,
    ) -> Result<Vec<StoredEvent>, StoreError> {
        self.inner.events_since(dialog, since, limit, stream).await
    }
    async fn recent_events(
        &self,
        dialog: DialogId,
        limit: u32,
        stream: Stream,
    ) -> Result<Vec<StoredEvent>, StoreError> {
        self.inner.recent_events(dialog, limit, stream).await
    }
    async fn mark_read(
        &self,
        dialog: DialogId,
        reader: Reader,
        up_to: Seq,
    ) -> Result<Seq, StoreError> {
        self.inner.mark_read(dialog, reader, up_to).await
    }
    async fn visitor_position(&self, dialog: DialogId, seq: Seq) -> Result<Seq, StoreError> {
        self.inner.visitor_position(dialog, seq).await
    }
    async fn trim_events(&self, dialog: DialogId, keep: u32) -> Result<u64, StoreError> {
        self.inner.trim_events(dialog, keep).await
    }
    async fn presence_seen(&self, operators: &[OperatorId]) -> Result<(), StoreError> {
        self.inner.presence_seen(operators).await
    }
    async fn set_presence_choice(
        &self,
        operator: OperatorId,
        chosen: replyx_protocol::PresenceState,
    ) -> Result<(), StoreError> {
        self.inner.set_presence_choice(operator, chosen).await
    }
    async fn settle_presence(
        &self,
        seen_after: chrono::DateTime<chrono::Utc>,
    ) -> Result<Vec<replyx_core::PresenceChange>, StoreError> {
        self.inner.settle_presence(seen_after).await
    }
    async fn presence(
        &self,
        default_max: u64,
    ) -> Result<Vec<replyx_core::OperatorPresence>, StoreError> {
        self.inner.presence(default_max).await
    }
    async fn assign_next(&self, default_max: u64) -> Result<Option<Vec<StoredEvent>>, StoreError> {
        self.inner.assign_next(default_max).await
    }
    async fn held_dialogs(&self, operator: OperatorId) -> Result<Vec<DialogId>, StoreError> {
        self.inner.held_dialogs(operator).await
    }
    async fn queue(&self, assistant: AssistantId) -> Result<Vec<DialogId>, StoreError> {
        self.inner.queue(assistant).await
    }
    async fn recent_waits(
        &self,
        assistant: AssistantId,
        since: chrono::DateTime<chrono::Utc>,
        limit: u32,
    ) -> Result<Vec<u64>, StoreError> {
        self.inner.recent_waits(assistant, since, limit).await
    }
    async fn set_context(
        &self,
        dialog: DialogId,
        context: &replyx_protocol::VisitorContext,
    ) -> Result<(), StoreError> {
        self.inner.set_context(dialog, context).await
    }
    async fn rate(
        &self,
        dialog: DialogId,
        rating: replyx_protocol::Rating,
    ) -> Result<StoredEvent, StoreError> {
        self.inner.rate(dialog, rating).await
    }
    async fn canned_responses(
        &self,
        assistant: AssistantId,
    ) -> Result<Vec<replyx_core::CannedResponse>, StoreError> {
        self.inner.canned_responses(assistant).await
    }
    async fn add_canned_response(
        &self,
        response: replyx_core::CannedResponse,
    ) -> Result<(), StoreError> {
        self.inner.add_canned_response(response).await
    }
    async fn update_canned_response(
        &self,
        id: &str,
        shortcut: Option<String>,
        text: Option<String>,
    ) -> Result<replyx_core::CannedResponse, StoreError> {
        self.inner.update_canned_response(id, shortcut, text).await
    }
    async fn remove_canned_response(&self, id: &str) -> Result<bool, StoreError> {
        self.inner.remove_canned_response(id).await
    }
    async fn append_signal(&self, signal: &Signal) -> Result<(), StoreError> {
        self.inner.append_signal(signal).await
    }
    async fn change_cursor(&self) -> Result<ChangeCursor, StoreError> {
        self.inner.change_cursor().await
    }
    async fn changes_since(
        &self,
        cursor: ChangeCursor,
        limit: u32,
    ) -> Result<ChangeBatch, StoreError> {
        StoreFaults::apply(&self.faults.changes, "the change feed").await?;
        self.inner.changes_since(cursor, limit).await
    }
    async fn prune_signals(
        &self,
        before: chrono::DateTime<chrono::Utc>,
    ) -> Result<u64, StoreError> {
        self.inner.prune_signals(before).await
    }
}
