//! `/ws/dialogs/{id}`: an operator's socket on one dialog (kind `admin`).

use super::session::SessionContext;
use crate::auth::sessions::{ActiveSession, SessionRefusal};
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

/// Authenticates an operator socket by a single-use `ticket` (from
/// `POST /api/auth/ws-ticket`; browsers) or an `Authorization: Bearer` token (other
/// clients), then checks the session is live. A token in the URL (`?token=`) is
/// refused: URLs end up in proxy access logs. 4001: expired or the session ended;
/// 4002: anything else bad; 1011: the store could not answer.
pub(crate) async fn operator(
    state: &AppState,
    uri: &Uri,
    headers: &HeaderMap,
) -> Result<ActiveSession, CloseCode> {
    let checked = if let Some(ticket) = query_param(uri.query(), "ticket") {
        state.sessions.redeem_ticket(&ticket).await
    } else if query_param(uri.query(), "token").is_some() {
        return Err(CloseCode::AuthFailed);
    } else {
        let token = bearer(headers).ok_or(CloseCode::AuthFailed)?;
        let claims = match state.tokens.verify_operator(token) {
            Ok(claims) => claims,
            Err(TokenError::Expired) => return Err(CloseCode::AuthExpired),
            Err(TokenError::Invalid) => return Err(CloseCode::AuthFailed),
        };
        state.sessions.check(claims.sid).await
    };
    checked.map_err(|refusal| match refusal {
        SessionRefusal::Ended => CloseCode::AuthExpired,
        SessionRefusal::Unavailable(_) => CloseCode::InternalError,
    })
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
        let peer_ip = super::admit(&state, peer, &headers)?;
        let dialog_id = super::dialog_id(&id)?;
        let since = super::since(uri.query())?;
        let op = operator(&state, &uri, &headers).await?;
        let client = super::client_key(uri.query(), op.operator.id.to_string())?;
        super::load_dialog(&state, dialog_id).await?;
        Ok(SessionContext {
            kind: ConnectionKind::Admin,
            dialog_id: Some(dialog_id),
            since,
            client,
            expires_at: Some(op.expires_at),
            operator_session: Some(op.id),
            peer_ip,
            operator: Some(replyx_protocol::OperatorRef {
                id: op.operator.id,
                name: op.operator.name.clone(),
            }),
            console_of: None,
        })
    }
    .await;
    super::respond(ws, state, ConnectionKind::Admin, decision)
}
