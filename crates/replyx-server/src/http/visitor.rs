//! The visitor API for both ways in (widget iframe and site embed): load-or-create the
//! dialog, read the visitor stream, post messages. A guest token opens exactly one
//! dialog through exactly one way in; site routes also check the page's Origin.

use super::admin_dialogs::{events_page, parse_dialog, wire, EventsQuery};
use super::extract::{origin, ClientIp, GuestAuth};
use crate::auth::{origin::is_allowed, GuestClaims};
use crate::dialog_service;
use crate::error::{ApiError, AppJson};
use crate::error::{AppPath, AppQuery};
use crate::state::AppState;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use replyx_core::model::DialogRecord;
use replyx_core::{Assistant, NewMessage, Stream};
use replyx_protocol::{AssistantId, ConnectionKind, ErrorCode, Event, GuestId, Sender};
use serde::Deserialize;
use serde_json::{json, Value};
use std::net::IpAddr;

/// Events returned with a dialog load.
const HISTORY: u32 = 50;

fn rate_limit(state: &AppState, ip: IpAddr) -> Result<(), ApiError> {
    state.visitor_requests.check(ip).map_err(|wait| ApiError {
        retry_after: Some(wait.as_secs().max(1)),
        ..ApiError::new(ErrorCode::RateLimited, "too many requests; retry later")
    })
}

/// Body of `POST /api/widget/dialogs`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WidgetOpen {
    assistant_id: String,
    guest_id: Option<String>,
}

/// Body of `POST /api/site/dialogs`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SiteOpen {
    site_token: String,
    guest_id: Option<String>,
}

async fn assistant(state: &AppState, id: AssistantId) -> Result<Assistant, ApiError> {
    state
        .store
        .assistant(id)
        .await?
        .ok_or_else(|| ApiError::not_found("assistant"))
}

/// `POST /api/widget/dialogs`.
pub async fn open_widget_dialog(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    AppJson(body): AppJson<WidgetOpen>,
) -> Result<(StatusCode, AppJson<Value>), ApiError> {
    rate_limit(&state, ip)?;
    let id = body
        .assistant_id
        .parse()
        .map_err(|_| ApiError::not_found("assistant"))?;
    let assistant = assistant(&state, id).await?;
    open(&state, &assistant, body.guest_id, ConnectionKind::Widget).await
}

/// `POST /api/site/dialogs` (Origin checked against the assistant's domains).
pub async fn open_site_dialog(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    headers: HeaderMap,
    AppJson(body): AppJson<SiteOpen>,
) -> Result<(StatusCode, AppJson<Value>), ApiError> {
    rate_limit(&state, ip)?;
    let claims = state
        .tokens
        .verify_site(&body.site_token)
        .map_err(|_| ApiError::unauthorized("invalid site token"))?;
    let assistant = assistant(&state, claims.assistant).await?;
    let page = origin(&headers);
    if !is_allowed(page, &claims.domains) || !is_allowed(page, &assistant.allowed_domains) {
        return Err(forbidden_origin(page));
    }
    open(&state, &assistant, body.guest_id, ConnectionKind::Site).await
}

fn forbidden_origin(page: Option<&str>) -> ApiError {
    ApiError::new(
        ErrorCode::ForbiddenOrigin,
        format!(
            "origin {} is not allowed for this assistant",
            page.unwrap_or("(none)")
        ),
    )
}

async fn open(
    state: &AppState,
    assistant: &Assistant,
    guest_id: Option<String>,
    via: ConnectionKind,
) -> Result<(StatusCode, AppJson<Value>), ApiError> {
    let guest = match guest_id {
        Some(g) => GuestId::parse(&g).ok_or_else(|| {
            ApiError::invalid("guest_id must be 8 to 64 characters of A-Z a-z 0-9 _ -")
        })?,
        None => GuestId::generate(),
    };
    let (dialog, created) = dialog_service::open_dialog(state, assistant, &guest).await?;
    let events = state
        .store
        .recent_events(dialog.id, HISTORY, Stream::Visitor)
        .await?;
    let token = state
        .tokens
        .sign_guest(&guest, dialog.id, assistant.id, via);
    let body = json!({
        "dialog": dialog.to_view(Stream::Visitor),
        "guest_id": guest,
        "guest_token": token,
        "events": wire(state, &events, via),
        "assistant": {"id": assistant.id, "name": assistant.name},
    });
    let status = if created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((status, AppJson(body)))
}

/// Checks that a guest token opens dialog `id` through `via`, and for site mode that
/// the page's origin is still allowed.
async fn authorize(
    state: &AppState,
    claims: &GuestClaims,
    id: &str,
    via: ConnectionKind,
    headers: &HeaderMap,
) -> Result<DialogRecord, ApiError> {
    let id = parse_dialog(id)?;
    if claims.via != via || claims.dialog != id {
        return Err(ApiError::new(
            ErrorCode::Forbidden,
            "this guest token does not open this dialog",
        ));
    }
    let dialog = state
        .store
        .dialog(id)
        .await?
        .ok_or_else(|| ApiError::not_found("dialog"))?;
    if via == ConnectionKind::Site {
        let assistant = assistant(state, dialog.assistant_id).await?;
        if !is_allowed(origin(headers), &assistant.allowed_domains) {
            return Err(forbidden_origin(origin(headers)));
        }
    }
    Ok(dialog)
}

async fn list_events(
    state: AppState,
    claims: GuestClaims,
    id: String,
    q: EventsQuery,
    via: ConnectionKind,
    headers: HeaderMap,
) -> Result<AppJson<Value>, ApiError> {
    let dialog = authorize(&state, &claims, &id, via, &headers).await?;
    events_page(&state, dialog.id, dialog.last_visitor_seq, q, via).await
}

/// `GET /api/widget/dialogs/{id}/events?since=N`.
pub async fn list_widget_events(
    State(state): State<AppState>,
    GuestAuth(claims): GuestAuth,
    AppPath(id): AppPath<String>,
    AppQuery(q): AppQuery<EventsQuery>,
    headers: HeaderMap,
) -> Result<AppJson<Value>, ApiError> {
    list_events(state, claims, id, q, ConnectionKind::Widget, headers).await
}

/// `GET /api/site/dialogs/{id}/events?since=N`.
pub async fn list_site_events(
    State(state): State<AppState>,
    GuestAuth(claims): GuestAuth,
    AppPath(id): AppPath<String>,
    AppQuery(q): AppQuery<EventsQuery>,
    headers: HeaderMap,
) -> Result<AppJson<Value>, ApiError> {
    list_events(state, claims, id, q, ConnectionKind::Site, headers).await
}

/// Body of a visitor message. Unknown fields (such as `sender`) are refused: the route,
/// not the client, decides who wrote it.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VisitorMessage {
    text: String,
    client_msg_id: Option<String>,
}

#[allow(clippy::too_many_arguments)]
async fn create_message(
    state: AppState,
    ip: IpAddr,
    claims: GuestClaims,
    id: String,
    body: VisitorMessage,
    via: ConnectionKind,
    headers: HeaderMap,
) -> Result<(StatusCode, AppJson<Event>), ApiError> {
    rate_limit(&state, ip)?;
    let dialog = authorize(&state, &claims, &id, via, &headers).await?;
    let message = NewMessage {
        dialog_id: dialog.id,
        sender: Sender::Visitor,
        text: body.text,
        client_msg_id: body.client_msg_id,
        operator: None,
        internal: false,
        require_status: None,
    };
    let appended = dialog_service::post_message(&state, message).await?;
    let status = if appended.duplicate {
        StatusCode::OK
    } else {
        StatusCode::CREATED
    };
    let event = appended
        .event
        .to_wire(Stream::Visitor)
        .ok_or_else(|| ApiError::internal("visitor message hidden from visitor stream"))?;
    Ok((status, AppJson(event)))
}

/// `POST /api/widget/dialogs/{id}/messages`.
pub async fn create_widget_message(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    GuestAuth(claims): GuestAuth,
    AppPath(id): AppPath<String>,
    headers: HeaderMap,
    AppJson(body): AppJson<VisitorMessage>,
) -> Result<(StatusCode, AppJson<Event>), ApiError> {
    create_message(state, ip, claims, id, body, ConnectionKind::Widget, headers).await
}

/// `POST /api/site/dialogs/{id}/messages`.
pub async fn create_site_message(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    GuestAuth(claims): GuestAuth,
    AppPath(id): AppPath<String>,
    headers: HeaderMap,
    AppJson(body): AppJson<VisitorMessage>,
) -> Result<(StatusCode, AppJson<Event>), ApiError> {
    create_message(state, ip, claims, id, body, ConnectionKind::Site, headers).await
}
