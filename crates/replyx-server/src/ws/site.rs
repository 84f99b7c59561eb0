//! `/ws/site/dialogs/{id}`: the widget embedded on a customer page (kind `site`),
//! authenticated by a site token, a site guest token for this dialog, and the page's
//! Origin (4003 when not among the assistant's domains).

use super::session::SessionContext;
use crate::auth::origin::is_allowed;
use crate::error::AppPath;
use crate::http::extract::{origin, query_param};
use crate::hub::ClientKey;
use crate::state::AppState;
use axum::extract::ws::WebSocketUpgrade;
use axum::extract::{ConnectInfo, State};
use axum::http::{HeaderMap, Uri};
use axum::response::Response;
use replyx_protocol::{CloseCode, ConnectionKind};
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
        let site = query_param(uri.query(), "site_token")
            .and_then(|t| state.tokens.verify_site(&t).ok())
            .ok_or(CloseCode::AuthFailed)?;
        let assistant = match state.store.assistant(site.assistant).await {
            Ok(Some(a)) => a,
            Ok(None) => return Err(CloseCode::NotFound),
            Err(_) => return Err(CloseCode::InternalError),
        };
        let page = origin(&headers);
        if !is_allowed(page, &site.domains) || !is_allowed(page, &assistant.allowed_domains) {
            return Err(CloseCode::ForbiddenDomain);
        }
        let dialog = super::load_dialog(&state, dialog_id).await?;
        if dialog.assistant_id != assistant.id {
            return Err(CloseCode::NotFound);
        }
        let guest = super::guest_for(&state, &uri, &headers, dialog_id, ConnectionKind::Site)?;
        super::check_identity(&state, &dialog, Some(&assistant)).await?;
        Ok(SessionContext {
            kind: ConnectionKind::Site,
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
    super::respond(ws, state, ConnectionKind::Site, decision)
}
