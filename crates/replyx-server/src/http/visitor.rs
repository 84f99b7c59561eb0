//! The visitor API for both ways in (widget iframe and site embed): load-or-create the
//! dialog, read the visitor stream, post messages. A guest token writes to exactly one
//! dialog through exactly one way in, and reads that one and the same guest's earlier
//! dialogs with the assistant; site routes also check the page's Origin.

use super::admin_dialogs::{events_page, parse_dialog, wire, EventPage, EventsQuery};
use super::extract::{origin, ClientIp, GuestAuth};
use super::visitor_identity::{self, Visitor};
use crate::auth::{origin::is_allowed, GuestClaims};
use crate::dialog_service;
use crate::error::{ApiError, AppJson, ErrorBody};
use crate::error::{AppPath, AppQuery};
use crate::state::AppState;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use replyx_core::model::DialogRecord;
use replyx_core::{Assistant, IdentityMode, NewMessage, Stream};
use replyx_protocol::{
    AssistantId, ConnectionKind, DialogId, DialogView, ErrorCode, Event, GuestId, QueueStanding,
    Sender, VisitorContext, VisitorIdentity,
};
use serde::{Deserialize, Serialize};
use std::net::IpAddr;
use utoipa::ToSchema;

/// Events returned with a dialog load.
const HISTORY: u32 = 50;

/// The per-IP limit on visitor requests (429 with `Retry-After`); socket sends
/// (`message.send`) count against it too.
pub(crate) fn rate_limit(state: &AppState, ip: IpAddr) -> Result<(), ApiError> {
    state.visitor_requests.check(ip).map_err(|wait| ApiError {
        retry_after: Some(wait.as_secs().max(1)),
        ..ApiError::new(ErrorCode::RateLimited, "too many requests; retry later")
    })
}

/// Body of `POST /api/widget/dialogs`.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct WidgetOpen {
    /// The assistant whose widget this is.
    #[schema(value_type = AssistantId)]
    assistant_id: String,
    /// The id the browser kept from an earlier load (8 to 64 characters of
    /// `A-Z a-z 0-9 _ -`); without it, a new visitor.
    #[schema(value_type = Option<GuestId>)]
    guest_id: Option<String>,
    /// The signed-in user, as the site's backend signed them (docs/security.md,
    /// "Visitor identity"); `guest_id` is then ignored.
    identity_token: Option<String>,
    /// The page the visitor chats from, shown to operators.
    context: Option<VisitorContext>,
}

/// Body of `POST /api/site/dialogs`.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SiteOpen {
    /// The assistant's site token (`POST /api/assistants/{id}/site-token`).
    site_token: String,
    /// As for the widget.
    #[schema(value_type = Option<GuestId>)]
    guest_id: Option<String>,
    /// As for the widget.
    identity_token: Option<String>,
    /// As for the widget.
    context: Option<VisitorContext>,
}

/// An assistant as visitors see it.
#[derive(Serialize, ToSchema)]
pub struct AssistantRef {
    /// The assistant.
    id: AssistantId,
    /// Its display name.
    name: String,
}

/// A visitor's dialog, loaded or created.
#[derive(Serialize, ToSchema)]
pub struct DialogLoad {
    /// The dialog with its visitor-stream positions.
    dialog: DialogView,
    /// The visitor's id, to keep for the next load.
    guest_id: GuestId,
    /// The token for this dialog's events, messages and socket.
    guest_token: String,
    /// The newest events of the visitor stream (at most 50).
    events: Vec<Event>,
    /// Who answers.
    assistant: AssistantRef,
    /// The signed-in user, when the load carried a valid identity token.
    #[serde(skip_serializing_if = "Option::is_none")]
    visitor: Option<VisitorIdentity>,
    /// Where the dialog stands in the queue, while it waits for an operator (then
    /// `queue.position` frames keep it current).
    #[serde(skip_serializing_if = "Option::is_none")]
    queue: Option<QueueStanding>,
}

pub(super) async fn assistant(state: &AppState, id: AssistantId) -> Result<Assistant, ApiError> {
    state
        .store
        .assistant(id)
        .await?
        .ok_or_else(|| ApiError::not_found("assistant"))
}

/// `POST /api/widget/dialogs`: load the visitor's open dialog or create one.
#[utoipa::path(
    post,
    path = "/api/widget/dialogs",
    tag = "visitors",
    request_body = WidgetOpen,
    security(()),
    responses(
        (status = 201, description = "A new dialog (its first event the welcome message, if any)", body = DialogLoad),
        (status = 200, description = "The visitor's open dialog", body = DialogLoad),
        (status = 400, description = "The body is not JSON", body = ErrorBody),
        (status = 401, description = "An identity token that does not verify (`identity_invalid`), none where the assistant requires one, or a signed-in user's guest id without their token (`identity_required`)", body = ErrorBody),
        (status = 404, description = "No such assistant", body = ErrorBody),
        (status = 413, description = "The body is too large", body = ErrorBody),
        (status = 415, description = "The body is not `application/json`", body = ErrorBody),
        (status = 422, description = "Wrong shape or a malformed `guest_id`", body = ErrorBody),
        (status = 429, description = "Too many requests from this IP", body = ErrorBody,
            headers(("Retry-After" = u64, description = "Seconds to wait"))),
        (status = 503, description = "The store is unavailable", body = ErrorBody),
    )
)]
pub async fn open_widget_dialog(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    AppJson(body): AppJson<WidgetOpen>,
) -> Result<(StatusCode, AppJson<DialogLoad>), ApiError> {
    rate_limit(&state, ip)?;
    let id = body
        .assistant_id
        .parse()
        .map_err(|_| ApiError::not_found("assistant"))?;
    let assistant = assistant(&state, id).await?;
    let visitor =
        visitor_identity::resolve(&state, &assistant, body.guest_id, body.identity_token).await?;
    open(
        &state,
        &assistant,
        visitor,
        body.context,
        ConnectionKind::Widget,
    )
    .await
}

/// `POST /api/site/dialogs` (Origin checked against the assistant's domains).
#[utoipa::path(
    post,
    path = "/api/site/dialogs",
    tag = "visitors",
    request_body = SiteOpen,
    security(()),
    responses(
        (status = 201, description = "A new dialog (its first event the welcome message, if any)", body = DialogLoad),
        (status = 200, description = "The visitor's open dialog", body = DialogLoad),
        (status = 400, description = "The body is not JSON", body = ErrorBody),
        (status = 401, description = "An invalid site token; an identity token that does not verify (`identity_invalid`), none where the assistant requires one, or a signed-in user's guest id without their token (`identity_required`)", body = ErrorBody),
        (status = 403, description = "The page's Origin is not among the assistant's domains", body = ErrorBody),
        (status = 404, description = "The token's assistant no longer exists", body = ErrorBody),
        (status = 413, description = "The body is too large", body = ErrorBody),
        (status = 415, description = "The body is not `application/json`", body = ErrorBody),
        (status = 422, description = "Wrong shape or a malformed `guest_id`", body = ErrorBody),
        (status = 429, description = "Too many requests from this IP", body = ErrorBody,
            headers(("Retry-After" = u64, description = "Seconds to wait"))),
        (status = 503, description = "The store is unavailable", body = ErrorBody),
    )
)]
pub async fn open_site_dialog(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    headers: HeaderMap,
    AppJson(body): AppJson<SiteOpen>,
) -> Result<(StatusCode, AppJson<DialogLoad>), ApiError> {
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
    let visitor =
        visitor_identity::resolve(&state, &assistant, body.guest_id, body.identity_token).await?;
    open(
        &state,
        &assistant,
        visitor,
        body.context,
        ConnectionKind::Site,
    )
    .await
}

/// Refuses a context longer than its limits (a page address of 2,048 characters, a
/// title of 300, a language tag of 35).
fn bounded_context(c: VisitorContext) -> Result<VisitorContext, ApiError> {
    let fits = |v: &Option<String>, max: usize| v.as_ref().is_none_or(|s| s.chars().count() <= max);
    if !fits(&c.page_url, 2048) || !fits(&c.page_title, 300) || !fits(&c.language, 35) {
        return Err(ApiError::invalid(
            "context: page_url at most 2048, page_title 300, language 35 characters",
        ));
    }
    Ok(c)
}

pub(super) fn forbidden_origin(page: Option<&str>) -> ApiError {
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
    visitor: Visitor,
    context: Option<VisitorContext>,
    via: ConnectionKind,
) -> Result<(StatusCode, AppJson<DialogLoad>), ApiError> {
    let context = context.map(bounded_context).transpose()?;
    let Visitor { guest, identity } = visitor;
    let (dialog, created) = dialog_service::open_dialog(state, assistant, &guest).await?;
    if let Some(context) = context.filter(|c| dialog.context.as_ref() != Some(c)) {
        // Context, not content: a failure to keep it must not fail the visitor's load.
        if let Err(e) = state.store.set_context(dialog.id, &context).await {
            tracing::warn!(error = %e, dialog = %dialog.id, "keeping the visitor's page failed");
        }
    }
    let queue = crate::queue::standing_of(state, &dialog).await;
    let events = state
        .store
        .recent_events(dialog.id, HISTORY, Stream::Visitor)
        .await?;
    let token = state
        .tokens
        .sign_guest(&guest, dialog.id, assistant.id, via);
    let body = DialogLoad {
        dialog: dialog_service::visitor_view(state, &dialog).await?,
        guest_id: guest,
        guest_token: token,
        events: wire(state, &events, via),
        assistant: AssistantRef {
            id: assistant.id,
            name: assistant.name.clone(),
        },
        visitor: identity,
        queue,
    };
    let status = if created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((status, AppJson(body)))
}

/// What a guest token is used for: writing goes to its own dialog only; reading also
/// reaches the same guest's other dialogs with the assistant (their history, on any
/// device the verified user signs in on).
#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum Access {
    Read,
    Write,
}

/// Checks that a guest token opens dialog `id` through `via` for `access`, for site mode
/// that the page's origin is still allowed, and that an assistant enforcing identity
/// still talks to this dialog's visitor.
pub(super) async fn authorize(
    state: &AppState,
    claims: &GuestClaims,
    id: &str,
    via: ConnectionKind,
    access: Access,
    headers: &HeaderMap,
) -> Result<DialogRecord, ApiError> {
    let id = parse_dialog(id)?;
    let own = claims.dialog == id;
    if claims.via != via || (!own && access == Access::Write) {
        return Err(not_this());
    }
    let dialog = state.store.dialog(id).await?;
    let dialog = match dialog {
        Some(d) if own || (d.guest_id == claims.sub && d.assistant_id == claims.assistant) => d,
        // Another guest's dialog and no dialog at all look the same.
        _ if !own => return Err(not_this()),
        _ => return Err(ApiError::not_found("dialog")),
    };
    // Only a site check or an anonymous visitor's dialog needs the assistant: a
    // verified visitor passes any identity mode.
    if via == ConnectionKind::Site || dialog.visitor.is_none() {
        let assistant = cached_assistant(state, dialog.assistant_id).await?;
        check_origin(&assistant, via, headers)?;
        visitor_identity::check_enforced(state, assistant.identity_mode, &dialog)?;
    }
    Ok(dialog)
}

/// [`authorize`] for writing a message, without reading the dialog where nothing needs
/// it: a guest token writes only to the dialog it was issued for, whose assistant it
/// names, and the append itself refuses a dialog that is gone or closed. The dialog is
/// read only while the assistant enforces identity (to tell an anonymous visitor's
/// dialog from a verified one's).
async fn authorize_write(
    state: &AppState,
    claims: &GuestClaims,
    id: &str,
    via: ConnectionKind,
    headers: &HeaderMap,
) -> Result<DialogId, ApiError> {
    let id = parse_dialog(id)?;
    if claims.via != via || claims.dialog != id {
        return Err(not_this());
    }
    let assistant = cached_assistant(state, claims.assistant).await?;
    check_origin(&assistant, via, headers)?;
    if assistant.identity_mode == IdentityMode::Enforce {
        let dialog = state
            .store
            .dialog(id)
            .await?
            .ok_or_else(|| ApiError::not_found("dialog"))?;
        visitor_identity::check_enforced(state, assistant.identity_mode, &dialog)?;
    }
    Ok(id)
}

fn not_this() -> ApiError {
    ApiError::new(
        ErrorCode::Forbidden,
        "this guest token does not open this dialog",
    )
}

async fn cached_assistant(
    state: &AppState,
    id: AssistantId,
) -> Result<std::sync::Arc<Assistant>, ApiError> {
    state
        .assistants
        .get(id)
        .await?
        .ok_or_else(|| ApiError::not_found("assistant"))
}

/// A site route's page must be on the assistant's domains.
fn check_origin(
    assistant: &Assistant,
    via: ConnectionKind,
    headers: &HeaderMap,
) -> Result<(), ApiError> {
    if via == ConnectionKind::Site && !is_allowed(origin(headers), &assistant.allowed_domains) {
        return Err(forbidden_origin(origin(headers)));
    }
    Ok(())
}

async fn list_events(
    state: AppState,
    claims: GuestClaims,
    id: String,
    q: EventsQuery,
    via: ConnectionKind,
    headers: HeaderMap,
) -> Result<AppJson<EventPage>, ApiError> {
    let dialog = authorize(&state, &claims, &id, via, Access::Read, &headers).await?;
    events_page(&state, dialog.id, dialog.last_visitor_seq, q, via).await
}

/// `GET /api/widget/dialogs/{id}/events?since=N`.
#[utoipa::path(
    get,
    path = "/api/widget/dialogs/{id}/events",
    tag = "visitors",
    params(("id" = DialogId, Path, description = "The dialog"), EventsQuery),
    security(("guest_token" = []), ("guest_token_query" = [])),
    responses(
        (status = 200, description = "Events of the visitor stream (no internal notes)", body = EventPage),
        (status = 400, description = "A malformed path or query parameter", body = ErrorBody),
        (status = 401, description = "No, bad or expired guest token, or an anonymous visitor of an assistant that now requires signed-in users (`identity_required`)", body = ErrorBody),
        (status = 403, description = "The guest token does not open this dialog through this way in (it reads its own dialog and the same guest's earlier ones)", body = ErrorBody),
        (status = 404, description = "No such dialog", body = ErrorBody),
        (status = 503, description = "The store is unavailable", body = ErrorBody),
    )
)]
pub async fn list_widget_events(
    State(state): State<AppState>,
    GuestAuth(claims): GuestAuth,
    AppPath(id): AppPath<String>,
    AppQuery(q): AppQuery<EventsQuery>,
    headers: HeaderMap,
) -> Result<AppJson<EventPage>, ApiError> {
    list_events(state, claims, id, q, ConnectionKind::Widget, headers).await
}

/// `GET /api/site/dialogs/{id}/events?since=N`.
#[utoipa::path(
    get,
    path = "/api/site/dialogs/{id}/events",
    tag = "visitors",
    params(("id" = DialogId, Path, description = "The dialog"), EventsQuery),
    security(("guest_token" = []), ("guest_token_query" = [])),
    responses(
        (status = 200, description = "Events of the visitor stream (no internal notes)", body = EventPage),
        (status = 400, description = "A malformed path or query parameter", body = ErrorBody),
        (status = 401, description = "No, bad or expired guest token, or an anonymous visitor of an assistant that now requires signed-in users (`identity_required`)", body = ErrorBody),
        (status = 403, description = "The guest token does not open this dialog through this way in, or the page's Origin is not allowed", body = ErrorBody),
        (status = 404, description = "No such dialog", body = ErrorBody),
        (status = 503, description = "The store is unavailable", body = ErrorBody),
    )
)]
pub async fn list_site_events(
    State(state): State<AppState>,
    GuestAuth(claims): GuestAuth,
    AppPath(id): AppPath<String>,
    AppQuery(q): AppQuery<EventsQuery>,
    headers: HeaderMap,
) -> Result<AppJson<EventPage>, ApiError> {
    list_events(state, claims, id, q, ConnectionKind::Site, headers).await
}

/// Body of a visitor message. Unknown fields (such as `sender`) are refused: the route,
/// not the client, decides who wrote it.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct VisitorMessage {
    /// The text: not blank, at most the configured number of characters.
    #[schema(min_length = 1, pattern = "\\S")]
    text: String,
    /// An idempotency key, 1 to 128 printable characters.
    #[schema(min_length = 1, max_length = 128)]
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
    let dialog_id = authorize_write(&state, &claims, &id, via, &headers).await?;
    let message = NewMessage {
        dialog_id,
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
#[utoipa::path(
    post,
    path = "/api/widget/dialogs/{id}/messages",
    tag = "visitors",
    params(("id" = DialogId, Path, description = "The dialog")),
    request_body = VisitorMessage,
    security(("guest_token" = []), ("guest_token_query" = [])),
    responses(
        (status = 201, description = "The stored `message.created` event", body = Event),
        (status = 200, description = "A repeated `client_msg_id`: the first stored event", body = Event),
        (status = 400, description = "The body is not JSON, or a malformed path", body = ErrorBody),
        (status = 401, description = "No, bad or expired guest token, or an anonymous visitor of an assistant that now requires signed-in users (`identity_required`)", body = ErrorBody),
        (status = 403, description = "The guest token does not open this dialog through this way in", body = ErrorBody),
        (status = 404, description = "No such dialog", body = ErrorBody),
        (status = 409, description = "The dialog is closed", body = ErrorBody),
        (status = 413, description = "The text or the body is too large", body = ErrorBody),
        (status = 415, description = "The body is not `application/json`", body = ErrorBody),
        (status = 422, description = "Wrong shape, blank text or a malformed `client_msg_id`", body = ErrorBody),
        (status = 429, description = "Too many requests from this IP", body = ErrorBody,
            headers(("Retry-After" = u64, description = "Seconds to wait"))),
        (status = 503, description = "The store cannot write now; retry with the same `client_msg_id`", body = ErrorBody,
            headers(("Retry-After" = u64, description = "Seconds to wait"))),
    )
)]
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
#[utoipa::path(
    post,
    path = "/api/site/dialogs/{id}/messages",
    tag = "visitors",
    params(("id" = DialogId, Path, description = "The dialog")),
    request_body = VisitorMessage,
    security(("guest_token" = []), ("guest_token_query" = [])),
    responses(
        (status = 201, description = "The stored `message.created` event", body = Event),
        (status = 200, description = "A repeated `client_msg_id`: the first stored event", body = Event),
        (status = 400, description = "The body is not JSON, or a malformed path", body = ErrorBody),
        (status = 401, description = "No, bad or expired guest token, or an anonymous visitor of an assistant that now requires signed-in users (`identity_required`)", body = ErrorBody),
        (status = 403, description = "The guest token does not open this dialog through this way in, or the page's Origin is not allowed", body = ErrorBody),
        (status = 404, description = "No such dialog", body = ErrorBody),
        (status = 409, description = "The dialog is closed", body = ErrorBody),
        (status = 413, description = "The text or the body is too large", body = ErrorBody),
        (status = 415, description = "The body is not `application/json`", body = ErrorBody),
        (status = 422, description = "Wrong shape, blank text or a malformed `client_msg_id`", body = ErrorBody),
        (status = 429, description = "Too many requests from this IP", body = ErrorBody,
            headers(("Retry-After" = u64, description = "Seconds to wait"))),
        (status = 503, description = "The store cannot write now; retry with the same `client_msg_id`", body = ErrorBody,
            headers(("Retry-After" = u64, description = "Seconds to wait"))),
    )
)]
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
