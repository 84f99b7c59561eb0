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
    let decision = async {
        let peer_ip = super::admit(&state, peer, &headers)?;
        let op = operator(&state, &uri, &headers).await?;
        Ok(SessionContext {
            kind: ConnectionKind::Admin,
            dialog_id: None,
            since: None,
            client: super::client_key(uri.query(), op.operator.id.to_string())?,
            expires_at: Some(op.expires_at),
            operator_session: Some(op.id),
            peer_ip,
            operator: Some(replyx_protocol::OperatorRef {
                id: op.operator.id,
                name: op.operator.name.clone(),
            }),
            console_of: Some(op.operator.id),
        })
    }
    .await;
    super::respond(ws, state, ConnectionKind::Admin, decision)
}
