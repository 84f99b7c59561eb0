//! `/ws/admin/inbox`: an operator's live feed of dialog rows (kind `admin`, no dialog).

use super::admin::operator;
use super::session::SessionContext;
use crate::state::AppState;
use axum::extract::ws::WebSocketUpgrade;
use axum::extract::{ConnectInfo, State};
use axum::http::{HeaderMap, Uri};
use axum::response::Response;
use replyx_protocol::ConnectionKind;
use std::net::SocketAddr;

/// The upgrade handler.
pub async fn upgrade(
    ws: WebSocketUpgrade,
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    uri: Uri,
    headers: HeaderMap,
) -> Response {
    let decision = super::admit(&state, peer, &headers).and_then(|()| {
        let op = operator(&state, &uri, &headers)?;
        Ok(SessionContext {
            kind: ConnectionKind::Admin,
            dialog_id: None,
            since: None,
            client: super::client_key(uri.query(), op.sub.to_string())?,
            expires_at: Some(op.exp),
        })
    });
    super::respond(ws, state, ConnectionKind::Admin, decision)
}
