//! The operators' view of dialogs: list, read, events (the admin stream, notes
//! included), replies and notes, and handoff.

use super::extract::OperatorAuth;
use crate::dialog_service;
use crate::error::{ApiError, AppJson};
use crate::error::{AppPath, AppQuery};
use crate::state::AppState;
use axum::extract::State;
use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use replyx_core::handoff::OperatorAction;
use replyx_core::model::DialogQuery;
use replyx_core::{NewMessage, StoredEvent, Stream};
use replyx_protocol::{
    AssistantId, ConnectionKind, DialogId, DialogStatus, Event, OperatorRef, Sender, Seq,
};
use serde::Deserialize;
use serde_json::{json, Value};

/// Most events one page returns.
pub const MAX_EVENTS_PAGE: u32 = 500;

pub(crate) fn parse_dialog(id: &str) -> Result<DialogId, ApiError> {
    id.parse().map_err(|_| ApiError::not_found("dialog"))
}

/// One stored event as the admin stream shows it (which excludes nothing).
fn admin_wire(event: &StoredEvent) -> Result<Event, ApiError> {
    event
        .to_wire(Stream::Admin)
        .ok_or_else(|| ApiError::internal("admin stream excludes nothing"))
}

/// The wire form of `events` for a reader of `kind`. The store's query for the
/// reader's stream already left out what it may not see; an event the wire form still
/// refuses is counted as an audience violation (see `ws::session::outgoing`).
pub(crate) fn wire(state: &AppState, events: &[StoredEvent], kind: ConnectionKind) -> Vec<Event> {
    let stream = Stream::of(kind);
    events
        .iter()
        .filter_map(|e| {
            let wire = e.to_wire(stream);
            if wire.is_none() {
                state.metrics.audience_violation(kind);
            }
            wire
        })
        .collect()
}

/// Query of `GET /api/dialogs`.
#[derive(Deserialize)]
pub struct ListQuery {
    status: Option<String>,
    assistant_id: Option<String>,
    limit: Option<u32>,
    before: Option<DateTime<Utc>>,
}

/// `GET /api/dialogs`: newest activity first.
pub async fn list_dialogs(
    State(state): State<AppState>,
    _: OperatorAuth,
    AppQuery(q): AppQuery<ListQuery>,
) -> Result<AppJson<Value>, ApiError> {
    let status = match q.status.as_deref().filter(|s| !s.is_empty()) {
        Some(s) => Some(
            DialogStatus::parse(s)
                .ok_or_else(|| ApiError::invalid(format!("unknown status {s:?}")))?,
        ),
        None => None,
    };
    let assistant_id = match q.assistant_id.as_deref().filter(|s| !s.is_empty()) {
        Some(a) => Some(
            a.parse::<AssistantId>()
                .map_err(|_| ApiError::invalid("assistant_id is not an id"))?,
        ),
        None => None,
    };
    let query = DialogQuery {
        status,
        assistant_id,
        limit: q.limit.unwrap_or(50).clamp(1, 200),
        before: q.before,
        exclude_assistant: state.canary.assistant(),
    };
    let dialogs = state.store.list_dialogs(query).await?;
    Ok(AppJson(json!({ "dialogs": dialogs })))
}

/// `GET /api/dialogs/{id}`.
pub async fn get_dialog(
    State(state): State<AppState>,
    _: OperatorAuth,
    AppPath(id): AppPath<String>,
) -> Result<AppJson<Value>, ApiError> {
    let dialog = state
        .store
        .dialog(parse_dialog(&id)?)
        .await?
        .ok_or_else(|| ApiError::not_found("dialog"))?;
    let mut body =
        serde_json::to_value(dialog.to_view(Stream::Admin)).map_err(ApiError::internal)?;
    body["guest_id"] = json!(dialog.guest_id);
    Ok(AppJson(body))
}

/// Query of the events routes.
#[derive(Deserialize)]
pub struct EventsQuery {
    /// Return events after this seq.
    pub since: Option<u64>,
    /// At most this many.
    pub limit: Option<u32>,
}

/// `GET /api/dialogs/{id}/events?since=N&limit=M`: the admin stream.
pub async fn list_events(
    State(state): State<AppState>,
    _: OperatorAuth,
    AppPath(id): AppPath<String>,
    AppQuery(q): AppQuery<EventsQuery>,
) -> Result<AppJson<Value>, ApiError> {
    let dialog = state
        .store
        .dialog(parse_dialog(&id)?)
        .await?
        .ok_or_else(|| ApiError::not_found("dialog"))?;
    events_page(&state, dialog.id, dialog.last_seq, q, ConnectionKind::Admin).await
}

pub(crate) async fn events_page(
    state: &AppState,
    dialog: DialogId,
    last_seq: Seq,
    q: EventsQuery,
    reader: ConnectionKind,
) -> Result<AppJson<Value>, ApiError> {
    let limit = q.limit.unwrap_or(100).clamp(1, MAX_EVENTS_PAGE);
    let events = state
        .store
        .events_since(dialog, Seq(q.since.unwrap_or(0)), limit, Stream::of(reader))
        .await?;
    Ok(AppJson(
        json!({ "events": wire(state, &events, reader), "last_seq": last_seq }),
    ))
}

/// Body of an operator message.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OperatorMessage {
    text: String,
    client_msg_id: Option<String>,
    #[serde(default)]
    internal: bool,
}

/// `POST /api/dialogs/{id}/messages`: a reply, or an internal note with `internal: true`.
pub async fn create_message(
    State(state): State<AppState>,
    OperatorAuth(op): OperatorAuth,
    AppPath(id): AppPath<String>,
    AppJson(body): AppJson<OperatorMessage>,
) -> Result<(StatusCode, AppJson<Event>), ApiError> {
    let message = NewMessage {
        dialog_id: parse_dialog(&id)?,
        sender: Sender::Operator,
        text: body.text,
        client_msg_id: body.client_msg_id,
        operator: Some(OperatorRef {
            id: op.sub,
            name: op.name,
        }),
        internal: body.internal,
        require_status: None,
    };
    let appended = dialog_service::post_message(&state, message).await?;
    let status = if appended.duplicate {
        StatusCode::OK
    } else {
        StatusCode::CREATED
    };
    let event = admin_wire(&appended.event)?;
    Ok((status, AppJson(event)))
}

/// Body of a handoff action.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HandoffRequest {
    action: OperatorAction,
}

/// `POST /api/dialogs/{id}/handoff`: take, release or close. Taking a dialog you
/// already hold answers 200 with its current status event and stores nothing.
pub async fn handoff(
    State(state): State<AppState>,
    OperatorAuth(op): OperatorAuth,
    AppPath(id): AppPath<String>,
    AppJson(body): AppJson<HandoffRequest>,
) -> Result<(StatusCode, AppJson<Event>), ApiError> {
    let dialog = parse_dialog(&id)?;
    let operator = OperatorRef {
        id: op.sub,
        name: op.name,
    };
    let stored = dialog_service::handoff(&state, dialog, body.action.by(operator)).await?;
    let (status, event) = match stored.into_iter().next() {
        Some(first) => (StatusCode::CREATED, first),
        None => {
            let current = state.store.last_status_event(dialog).await?;
            (
                StatusCode::OK,
                current.ok_or_else(|| ApiError::internal("held dialog without a status event"))?,
            )
        }
    };
    let event = admin_wire(&event)?;
    Ok((status, AppJson(event)))
}
