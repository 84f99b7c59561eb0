//! `/ws/dialogs/{id}`: an operator's socket on one dialog (kind `admin`).

use super::session::SessionContext;
use crate::auth::TokenError;
use crate::error::AppPath;
use crate::http::extract::{bearer, query_param};
use crate::state::AppState;
use axum::extract::ws::WebSocketUpgrade;
use axum::extract::{ConnectInfo, State};
use axum::http::{HeaderMap, Uri};
use axum::response::Response;
use replyx_protocol::{CloseCode, ConnectionKind};
use std::net::SocketAddr;

/// Authenticates an operator token (`token` query or bearer): 4001 expired, 4002 bad.
pub(crate) fn operator(
    state: &AppState,
    uri: &Uri,
    headers: &HeaderMap,
) -> Result<crate::auth::OperatorClaims, CloseCode> {
    let token = query_param(uri.query(), "token")
        .or_else(|| bearer(headers).map(str::to_owned))
        .ok_or(CloseCode::AuthFailed)?;
    match state.tokens.verify_operator(&token) {
        Ok(claims) => Ok(claims),
        Err(TokenError::Expired) => Err(CloseCode::AuthExpired),
        Err(TokenError::Invalid) => Err(CloseCode::AuthFailed),
    }
}

/// The upgrade handler.
pub async fn upgrade(
    ws: WebSocketUpgrade,
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    AppPath(id): AppPath<String>,
    uri: Uri,
    headers: HeaderMap,
) -> Response {
    let decision = async {
        super::admit(&state, peer, &headers)?;
        let op = operator(&state, &uri, &headers)?;
        let dialog_id = super::dialog_id(&id)?;
        let since = super::since(uri.query())?;
        let client = super::client_key(uri.query(), op.sub.to_string())?;
        super::load_dialog(&state, dialog_id).await?;
        Ok(SessionContext {
            kind: ConnectionKind::Admin,
            dialog_id: Some(dialog_id),
            since,
            client,
            expires_at: Some(op.exp),
        })
    }
    .await;
    super::respond(ws, state, ConnectionKind::Admin, decision)
}
