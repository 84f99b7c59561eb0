//! The operators' view of dialogs: list, read, events (the admin stream, notes
//! included), replies and notes, and handoff.

use super::extract::OperatorAuth;
use crate::dialog_service;
use crate::error::{ApiError, AppJson, ErrorBody};
use crate::error::{AppPath, AppQuery};
use crate::state::AppState;
use axum::extract::State;
use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use replyx_core::handoff::OperatorAction;
use replyx_core::model::DialogQuery;
use replyx_core::{NewMessage, StoredEvent, Stream};
use replyx_protocol::{
    AssistantId, ConnectionKind, DialogId, DialogStatus, DialogSummary, DialogView, Event, GuestId,
    OperatorRef, Sender, Seq,
};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

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
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListQuery {
    /// Only dialogs in this status (empty: any).
    #[param(value_type = Option<DialogStatus>)]
    status: Option<String>,
    /// Only dialogs of this assistant (empty: any).
    #[param(value_type = Option<AssistantId>)]
    assistant_id: Option<String>,
    /// At most this many (default 50, clamped to 1..=200).
    limit: Option<u32>,
    /// Only dialogs whose last activity is before this instant (the next page).
    before: Option<DateTime<Utc>>,
    /// Only dialogs with a message containing this text, or whose verified visitor's
    /// name or e-mail contains it (1 to 200 characters; case-insensitive for ASCII).
    q: Option<String>,
    /// Only the dialogs the calling operator holds.
    mine: Option<bool>,
}

/// The operator inbox.
#[derive(Serialize, ToSchema)]
pub struct DialogList {
    /// Newest activity first.
    dialogs: Vec<DialogSummary>,
}

/// `GET /api/dialogs`: newest activity first.
#[utoipa::path(
    get,
    path = "/api/dialogs",
    tag = "dialogs",
    params(ListQuery),
    security(("operator" = [])),
    responses(
        (status = 200, description = "The dialogs", body = DialogList),
        (status = 400, description = "A malformed query parameter", body = ErrorBody),
        (status = 401, description = "No, bad, expired or ended operator token", body = ErrorBody),
        (status = 422, description = "An unknown status, an assistant_id that is not an id, or a q longer than 200 characters", body = ErrorBody),
        (status = 503, description = "The store is unavailable", body = ErrorBody),
    )
)]
pub async fn list_dialogs(
    State(state): State<AppState>,
    OperatorAuth(me): OperatorAuth,
    AppQuery(q): AppQuery<ListQuery>,
) -> Result<AppJson<DialogList>, ApiError> {
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
    let text = q.q.map(|t| t.trim().to_owned()).filter(|t| !t.is_empty());
    if text.as_ref().is_some_and(|t| t.chars().count() > 200) {
        return Err(ApiError::invalid("q must be at most 200 characters"));
    }
    let query = DialogQuery {
        status,
        assistant_id,
        limit: q.limit.unwrap_or(50).clamp(1, 200),
        before: q.before,
        exclude_assistant: state.canary.assistant(),
        operator: q.mine.unwrap_or(false).then_some(me.operator.id),
        text,
    };
    let dialogs = state.store.list_dialogs(query).await?;
    Ok(AppJson(DialogList { dialogs }))
}

/// A dialog as operators see it: its admin-stream positions and its visitor.
#[derive(Serialize, ToSchema)]
pub struct AdminDialog {
    #[serde(flatten)]
    dialog: DialogView,
    /// The visitor's id.
    guest_id: GuestId,
}

/// `GET /api/dialogs/{id}`.
#[utoipa::path(
    get,
    path = "/api/dialogs/{id}",
    tag = "dialogs",
    params(("id" = DialogId, Path, description = "The dialog")),
    security(("operator" = [])),
    responses(
        (status = 200, description = "The dialog with its admin-stream `last_seq`", body = AdminDialog),
        (status = 400, description = "A malformed path", body = ErrorBody),
        (status = 401, description = "No, bad, expired or ended operator token", body = ErrorBody),
        (status = 404, description = "No such dialog", body = ErrorBody),
        (status = 503, description = "The store is unavailable", body = ErrorBody),
    )
)]
pub async fn get_dialog(
    State(state): State<AppState>,
    _: OperatorAuth,
    AppPath(id): AppPath<String>,
) -> Result<AppJson<AdminDialog>, ApiError> {
    let dialog = state
        .store
        .dialog(parse_dialog(&id)?)
        .await?
        .ok_or_else(|| ApiError::not_found("dialog"))?;
    Ok(AppJson(AdminDialog {
        dialog: dialog.admin_view(),
        guest_id: dialog.guest_id,
    }))
}

/// Query of the events routes.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct EventsQuery {
    /// Return events after this seq.
    pub since: Option<u64>,
    /// At most this many.
    pub limit: Option<u32>,
}

/// A page of a dialog's events, for one stream.
#[derive(Serialize, ToSchema)]
pub struct EventPage {
    /// Events after `since`, oldest first.
    events: Vec<Event>,
    /// The stream's newest seq (more pages follow while it is past the last event).
    last_seq: Seq,
}

/// `GET /api/dialogs/{id}/events?since=N&limit=M`: the admin stream.
#[utoipa::path(
    get,
    path = "/api/dialogs/{id}/events",
    tag = "dialogs",
    params(("id" = DialogId, Path, description = "The dialog"), EventsQuery),
    security(("operator" = [])),
    responses(
        (status = 200, description = "Events of the admin stream (notes included)", body = EventPage),
        (status = 400, description = "A malformed path or query parameter", body = ErrorBody),
        (status = 401, description = "No, bad, expired or ended operator token", body = ErrorBody),
        (status = 404, description = "No such dialog", body = ErrorBody),
        (status = 503, description = "The store is unavailable", body = ErrorBody),
    )
)]
pub async fn list_events(
    State(state): State<AppState>,
    _: OperatorAuth,
    AppPath(id): AppPath<String>,
    AppQuery(q): AppQuery<EventsQuery>,
) -> Result<AppJson<EventPage>, ApiError> {
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
) -> Result<AppJson<EventPage>, ApiError> {
    let limit = q.limit.unwrap_or(100).clamp(1, MAX_EVENTS_PAGE);
    let events = state
        .store
        .events_since(dialog, Seq(q.since.unwrap_or(0)), limit, Stream::of(reader))
        .await?;
    Ok(AppJson(EventPage {
        events: wire(state, &events, reader),
        last_seq,
    }))
}

/// Body of an operator message.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OperatorMessage {
    /// The text: not blank, at most the configured number of characters.
    #[schema(min_length = 1, pattern = "\\S")]
    text: String,
    /// An idempotency key, 1 to 128 printable characters: the same key in the same
    /// dialog returns the first stored event (200) and stores nothing.
    #[schema(min_length = 1, max_length = 128)]
    client_msg_id: Option<String>,
    /// An internal note, never shown to visitors.
    #[serde(default)]
    internal: bool,
}

/// `POST /api/dialogs/{id}/messages`: a reply, or an internal note with `internal: true`.
#[utoipa::path(
    post,
    path = "/api/dialogs/{id}/messages",
    tag = "dialogs",
    params(("id" = DialogId, Path, description = "The dialog")),
    request_body = OperatorMessage,
    security(("operator" = [])),
    responses(
        (status = 201, description = "The stored `message.created` event", body = Event),
        (status = 200, description = "A repeated `client_msg_id`: the first stored event", body = Event),
        (status = 400, description = "The body is not JSON, or a malformed path", body = ErrorBody),
        (status = 401, description = "No, bad, expired or ended operator token", body = ErrorBody),
        (status = 404, description = "No such dialog", body = ErrorBody),
        (status = 409, description = "The dialog is closed", body = ErrorBody),
        (status = 413, description = "The text or the body is too large", body = ErrorBody),
        (status = 415, description = "The body is not `application/json`", body = ErrorBody),
        (status = 422, description = "Wrong shape, blank text or a malformed `client_msg_id`", body = ErrorBody),
        (status = 503, description = "The store cannot write now; retry with the same `client_msg_id`", body = ErrorBody,
            headers(("Retry-After" = u64, description = "Seconds to wait"))),
    )
)]
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
            id: op.operator.id,
            name: op.operator.name,
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
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct HandoffRequest {
    /// Take, release or close.
    action: OperatorAction,
}

/// `POST /api/dialogs/{id}/handoff`: take, release or close. Taking a dialog you
/// already hold answers 200 with its current status event and stores nothing.
#[utoipa::path(
    post,
    path = "/api/dialogs/{id}/handoff",
    tag = "dialogs",
    params(("id" = DialogId, Path, description = "The dialog")),
    request_body = HandoffRequest,
    security(("operator" = [])),
    responses(
        (status = 201, description = "The stored `dialog.status` event", body = Event),
        (status = 200, description = "Nothing changed (taking a dialog you hold): its current `dialog.status` event", body = Event),
        (status = 400, description = "The body is not JSON, or a malformed path", body = ErrorBody),
        (status = 401, description = "No, bad, expired or ended operator token", body = ErrorBody),
        (status = 404, description = "No such dialog", body = ErrorBody),
        (status = 409, description = "Another operator holds it, you hold the most allowed, it is closed, or the action does not apply to its status", body = ErrorBody),
        (status = 413, description = "The body is too large", body = ErrorBody),
        (status = 415, description = "The body is not `application/json`", body = ErrorBody),
        (status = 422, description = "Wrong shape or an unknown action", body = ErrorBody),
        (status = 503, description = "The store cannot write now", body = ErrorBody,
            headers(("Retry-After" = u64, description = "Seconds to wait"))),
    )
)]
pub async fn handoff(
    State(state): State<AppState>,
    OperatorAuth(op): OperatorAuth,
    AppPath(id): AppPath<String>,
    AppJson(body): AppJson<HandoffRequest>,
) -> Result<(StatusCode, AppJson<Event>), ApiError> {
    let dialog = parse_dialog(&id)?;
    let operator = OperatorRef {
        id: op.operator.id,
        name: op.operator.name,
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
