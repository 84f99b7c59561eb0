//! `/ws/widget/dialogs/{id}`: the widget in our iframe (kind `widget`), authenticated
//! by `assistant_id` and a widget guest token for this dialog.

use super::session::SessionContext;
use crate::error::AppPath;
use crate::http::extract::query_param;
use crate::hub::ClientKey;
use crate::state::AppState;
use axum::extract::ws::WebSocketUpgrade;
use axum::extract::{ConnectInfo, State};
use axum::http::{HeaderMap, Uri};
use axum::response::Response;
use replyx_protocol::{AssistantId, CloseCode, ConnectionKind};
use std::net::SocketAddr;

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
        let client_id = super::client_id(uri.query())?;
        let assistant_id: AssistantId = query_param(uri.query(), "assistant_id")
            .and_then(|a| a.parse().ok())
            .ok_or(CloseCode::NotFound)?;
        let dialog = super::load_dialog(&state, dialog_id).await?;
        if dialog.assistant_id != assistant_id {
            return Err(CloseCode::NotFound);
        }
        let guest = super::guest_for(&state, &uri, &headers, dialog_id, ConnectionKind::Widget)?;
        super::check_identity(&state, &dialog, None).await?;
        Ok(SessionContext {
            kind: ConnectionKind::Widget,
            dialog_id: Some(dialog_id),
            since,
            client: client_id.map(|id| ClientKey::new(id, guest.sub.to_string())),
            expires_at: Some(guest.exp),
            operator_session: None,
            peer_ip,
            operator: None,
            console_of: None,
        })
    }
    .await;
    super::respond(ws, state, ConnectionKind::Widget, decision)
}
