//! Operators at work: everyone's presence, one's own (online or away), and passing a
//! dialog to another operator.

use super::admin_dialogs::parse_dialog;
use super::extract::OperatorAuth;
use crate::dialog_service;
use crate::error::{ApiError, AppJson, AppPath, ErrorBody};
use crate::state::AppState;
use axum::extract::State;
use axum::http::StatusCode;
use replyx_core::handoff::HandoffAction;
use replyx_core::{AccountStatus, OperatorPresence};
use replyx_protocol::{DialogId, ErrorCode, Event, OperatorId, OperatorRef, PresenceState};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// Everyone's presence.
#[derive(Serialize, ToSchema)]
pub struct PresenceList {
    /// Every active operator, by name.
    operators: Vec<OperatorPresence>,
}

/// `GET /api/operators/presence`: who is online, away or offline, and how loaded.
#[utoipa::path(
    get,
    path = "/api/operators/presence",
    tag = "operators",
    security(("operator" = [])),
    responses(
        (status = 200, description = "Every active operator's presence and load", body = PresenceList),
        (status = 401, description = "No, bad, expired or ended operator token", body = ErrorBody),
        (status = 503, description = "The store is unavailable", body = ErrorBody),
    )
)]
pub async fn list_presence(
    State(state): State<AppState>,
    _: OperatorAuth,
) -> Result<AppJson<PresenceList>, ApiError> {
    let max = state.settings.limits.max_dialogs_per_operator;
    let operators = state.store.presence(max).await?;
    Ok(AppJson(PresenceList { operators }))
}

/// Body of `PUT /api/auth/presence`.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PresenceChoice {
    /// `online` (take dialogs, auto-assignment included) or `away` (no new ones).
    status: PresenceState,
}

/// `PUT /api/auth/presence`: the calling operator's status while their console is open.
#[utoipa::path(
    put,
    path = "/api/auth/presence",
    tag = "auth",
    request_body = PresenceChoice,
    security(("operator" = [])),
    responses(
        (status = 200, description = "The operator's presence now", body = OperatorPresence),
        (status = 400, description = "The body is not JSON", body = ErrorBody),
        (status = 401, description = "No, bad, expired or ended operator token", body = ErrorBody),
        (status = 413, description = "The body is too large", body = ErrorBody),
        (status = 415, description = "The body is not `application/json`", body = ErrorBody),
        (status = 422, description = "A status other than online or away", body = ErrorBody),
        (status = 503, description = "The store is unavailable", body = ErrorBody),
    )
)]
pub async fn set_presence(
    State(state): State<AppState>,
    OperatorAuth(me): OperatorAuth,
    AppJson(body): AppJson<PresenceChoice>,
) -> Result<AppJson<OperatorPresence>, ApiError> {
    if body.status == PresenceState::Offline {
        return Err(ApiError::invalid(
            "status must be online or away; closing the console makes you offline",
        ));
    }
    state
        .store
        .set_presence_choice(me.operator.id, body.status)
        .await?;
    // Settled and announced now, not at the next beat.
    crate::presence::round(&state).await?;
    let max = state.settings.limits.max_dialogs_per_operator;
    let mine = state
        .store
        .presence(max)
        .await?
        .into_iter()
        .find(|p| p.operator.id == me.operator.id)
        .ok_or_else(|| ApiError::not_found("operator"))?;
    Ok(AppJson(mine))
}

/// Body of a transfer.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TransferRequest {
    /// Who gets the dialog: an active operator who is not offline.
    #[schema(value_type = OperatorId)]
    operator_id: String,
}

/// `POST /api/dialogs/{id}/transfer`: the holder passes the dialog to another operator.
#[utoipa::path(
    post,
    path = "/api/dialogs/{id}/transfer",
    tag = "dialogs",
    params(("id" = DialogId, Path, description = "The dialog")),
    request_body = TransferRequest,
    security(("operator" = [])),
    responses(
        (status = 201, description = "The stored `dialog.status` event (reason `transferred`)", body = Event),
        (status = 200, description = "Transferred to yourself: nothing changed; the current status event", body = Event),
        (status = 400, description = "The body is not JSON, or a malformed path", body = ErrorBody),
        (status = 401, description = "No, bad, expired or ended operator token", body = ErrorBody),
        (status = 404, description = "No such dialog or operator", body = ErrorBody),
        (status = 409, description = "You do not hold it, it is not held, the target is offline or full", body = ErrorBody),
        (status = 413, description = "The body is too large", body = ErrorBody),
        (status = 415, description = "The body is not `application/json`", body = ErrorBody),
        (status = 422, description = "Wrong shape", body = ErrorBody),
        (status = 503, description = "The store cannot write now", body = ErrorBody,
            headers(("Retry-After" = u64, description = "Seconds to wait"))),
    )
)]
pub async fn transfer(
    State(state): State<AppState>,
    OperatorAuth(me): OperatorAuth,
    AppPath(id): AppPath<String>,
    AppJson(body): AppJson<TransferRequest>,
) -> Result<(StatusCode, AppJson<Event>), ApiError> {
    let dialog = parse_dialog(&id)?;
    let target: OperatorId = body
        .operator_id
        .parse()
        .map_err(|_| ApiError::not_found("operator"))?;
    let to = state
        .store
        .operator(target)
        .await?
        .filter(|o| o.status == AccountStatus::Active)
        .ok_or_else(|| ApiError::not_found("operator"))?;
    let max = state.settings.limits.max_dialogs_per_operator;
    let offline = state
        .store
        .presence(max)
        .await?
        .iter()
        .find(|p| p.operator.id == to.id)
        .is_none_or(|p| p.status == PresenceState::Offline);
    if offline && to.id != me.operator.id {
        return Err(ApiError::new(
            ErrorCode::Conflict,
            format!("{} is offline; pass the dialog to someone online", to.name),
        ));
    }
    let by = OperatorRef {
        id: me.operator.id,
        name: me.operator.name,
    };
    let action = HandoffAction::Transfer {
        by,
        to: to.to_ref(),
    };
    let stored = dialog_service::handoff(&state, dialog, action).await?;
    let (status, event) = match stored.into_iter().next() {
        Some(first) => (StatusCode::CREATED, first),
        None => (
            StatusCode::OK,
            state
                .store
                .last_status_event(dialog)
                .await?
                .ok_or_else(|| ApiError::internal("held dialog without a status event"))?,
        ),
    };
    let event = event
        .to_wire(replyx_core::Stream::Admin)
        .ok_or_else(|| ApiError::internal("admin stream excludes nothing"))?;
    Ok((status, AppJson(event)))
}
