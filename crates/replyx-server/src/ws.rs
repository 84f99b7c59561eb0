//! WebSocket entry points: exactly one thin handler per protocol path. Each one only
//! authenticates and fixes the connection's kind; everything after the upgrade runs in
//! the one shared `session` loop. Refusals upgrade and then close with the protocol's
//! close code, because browsers cannot read an HTTP status of a failed upgrade.

pub mod admin;
pub mod inbox;
pub mod session;
pub mod site;
pub mod widget;

use crate::config::Limits;
use crate::http::extract::{bearer, query_param};
use crate::limits::client_ip;
use crate::state::AppState;
use axum::extract::ws::WebSocketUpgrade;
use axum::http::{HeaderMap, Uri};
use axum::response::Response;
use replyx_protocol::{ClientId, CloseCode, ConnectionKind, DialogId, Seq};
use session::SessionContext;
use std::net::SocketAddr;

/// A socket's read buffer. tungstenite allocates it when the socket opens, keeps it for
/// the socket's life and zero-fills its free part before every read, so its size is
/// both per-socket memory and work per read. Client frames are small (pongs, typing,
/// read marks, a chat message): 1 KiB reads nearly all of them in one go, and a larger
/// frame grows the buffer to its own length (docs/perf/RESULTS.md: 4 KiB cost 3 KiB
/// more per idle socket and 12,000 instructions per message in zero-filling).
const READ_BUFFER: usize = 1024;

/// Applies the frame and buffer limits: tungstenite's 128 KiB default read buffer and
/// unbounded write buffer would dominate per-socket memory.
fn configure(ws: WebSocketUpgrade, limits: &Limits) -> WebSocketUpgrade {
    // Frames up to 4x the limit are read and then refused with 1009 by the session,
    // so the client gets a clear close; larger ones fail inside tungstenite.
    let hard_max = limits
        .max_frame_bytes
        .saturating_mul(4)
        .saturating_add(1024);
    ws.read_buffer_size(READ_BUFFER)
        .write_buffer_size(0)
        .max_write_buffer_size(1024 * 1024)
        .max_message_size(hard_max)
        .max_frame_size(hard_max)
}

/// Checks common to every way in: not draining, under the per-IP connect rate. Returns
/// the client's address (behind trusted proxies, the one they name).
fn admit(
    state: &AppState,
    peer: SocketAddr,
    headers: &HeaderMap,
) -> Result<std::net::IpAddr, CloseCode> {
    if state.lifecycle.is_draining() {
        return Err(CloseCode::ServiceRestart);
    }
    let ip = client_ip(peer, headers, &state.settings.trusted_proxies);
    state
        .ws_connects
        .check(ip)
        .map_err(|_| CloseCode::RateLimited)?;
    Ok(ip)
}

/// Parses the dialog id of the path (unknown shape: 4004).
fn dialog_id(raw: &str) -> Result<DialogId, CloseCode> {
    raw.parse().map_err(|_| CloseCode::NotFound)
}

/// Parses `since` (malformed: 1008).
///
/// Public only so that the fuzz targets (`fuzz/`) can reach this parser of client input;
/// the socket handlers are its one caller in the server.
pub fn since(query: Option<&str>) -> Result<Option<Seq>, CloseCode> {
    match query_param(query, "since") {
        None => Ok(None),
        Some(s) if s.is_empty() => Ok(None),
        Some(s) => s
            .parse::<u64>()
            .map(|n| Some(Seq(n)))
            .map_err(|_| CloseCode::PolicyViolation),
    }
}

/// Parses `client_id` (malformed: 1008).
///
/// Public only so that the fuzz targets (`fuzz/`) can reach this parser of client input;
/// the socket handlers are its one caller in the server.
pub fn client_id(query: Option<&str>) -> Result<Option<ClientId>, CloseCode> {
    match query_param(query, "client_id") {
        None => Ok(None),
        Some(s) => ClientId::parse(&s)
            .map(Some)
            .ok_or(CloseCode::PolicyViolation),
    }
}

/// The replacement key of a socket: its `client_id` (malformed: 1008) and the identity
/// that authenticated it, so that only the same operator or guest can replace a socket.
fn client_key(
    query: Option<&str>,
    owner: String,
) -> Result<Option<crate::hub::ClientKey>, CloseCode> {
    Ok(client_id(query)?.map(|id| crate::hub::ClientKey::new(id, owner)))
}

/// Loads the dialog a socket asks for: 4004 when unknown, 1011 when the store fails.
async fn load_dialog(
    state: &AppState,
    id: DialogId,
) -> Result<replyx_core::model::DialogRecord, CloseCode> {
    match state.store.dialog(id).await {
        Ok(Some(dialog)) => Ok(dialog),
        Ok(None) => Err(CloseCode::NotFound),
        Err(_) => Err(CloseCode::InternalError),
    }
}

/// Refuses an anonymous visitor's dialog when its assistant enforces identity (4002):
/// a dialog opened before the switch stops being reachable. A verified visitor's
/// dialog needs no look at the assistant (`assistant`: the one already loaded, if any).
async fn check_identity(
    state: &AppState,
    dialog: &replyx_core::model::DialogRecord,
    assistant: Option<&replyx_core::Assistant>,
) -> Result<(), CloseCode> {
    if dialog.visitor.is_some() {
        return Ok(());
    }
    let mode = match assistant {
        Some(a) => a.identity_mode,
        None => match state.store.assistant(dialog.assistant_id).await {
            Ok(Some(a)) => a.identity_mode,
            Ok(None) => return Err(CloseCode::NotFound),
            Err(_) => return Err(CloseCode::InternalError),
        },
    };
    if mode == replyx_core::IdentityMode::Enforce {
        state.metrics.identity_checked("required");
        return Err(CloseCode::AuthFailed);
    }
    Ok(())
}

/// Checks a guest token for `dialog` through `via`: 4001 expired, 4002 otherwise bad.
fn guest_for(
    state: &AppState,
    uri: &Uri,
    headers: &HeaderMap,
    dialog: replyx_protocol::DialogId,
    via: ConnectionKind,
) -> Result<crate::auth::GuestClaims, CloseCode> {
    let token = query_param(uri.query(), "guest_token")
        .or_else(|| bearer(headers).map(str::to_owned))
        .ok_or(CloseCode::AuthFailed)?;
    let claims = state.tokens.verify_guest(&token).map_err(|e| match e {
        crate::auth::TokenError::Expired => CloseCode::AuthExpired,
        crate::auth::TokenError::Invalid => CloseCode::AuthFailed,
    })?;
    if claims.dialog != dialog || claims.via != via {
        return Err(CloseCode::AuthFailed);
    }
    Ok(claims)
}

/// Upgrades and runs the session, or closes at once with the refusal's code.
fn respond(
    ws: WebSocketUpgrade,
    state: AppState,
    kind: ConnectionKind,
    decision: Result<SessionContext, CloseCode>,
) -> Response {
    let ws = configure(ws, &state.settings.limits);
    let lifecycle = state.lifecycle.clone();
    state.metrics.connection_attempt(kind);
    if let Err(code) = &decision {
        state.metrics.connection_error(code.name());
        tracing::debug!(%kind, code = code.code(), "refusing websocket");
    }
    // Boxed: the upgrade's task and the session's both hold their context for the
    // socket's life, and a pointer costs less there than the context itself.
    let decision = decision.map(Box::new);
    ws.on_upgrade(move |socket| {
        lifecycle.track(async move {
            match decision {
                Ok(ctx) => session::run(socket, state, ctx).await,
                Err(code) => session::refuse(socket, &state, code).await,
            }
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `since` absent or empty means "no resume"; a number resumes after it; anything
    /// else is refused with 1008 rather than read as 0 (which would replay everything).
    #[test]
    fn since_is_absent_empty_a_number_or_refused() {
        assert_eq!(since(None), Ok(None));
        assert_eq!(since(Some("client_id=tab-0000aaaa")), Ok(None));
        assert_eq!(since(Some("since=")), Ok(None));
        assert_eq!(since(Some("since=7")), Ok(Some(Seq(7))));
        assert_eq!(since(Some("since=-1")), Err(CloseCode::PolicyViolation));
    }
}
