//! The route table: every served (method, path), its handler's name and who may call
//! it. It builds the router *and* prints `replyx routes`, so the printed table can never
//! differ from what is served. `check_table` enforces "no (method, path) served twice,
//! each WebSocket path served by exactly one handler of its kind".

use super::{
    admin_dialogs, admin_guest, assistants, canned, health, identity_keys, login, openapi,
    operators, routing, session, visitor, visitor_history, visitor_rating, web,
};
use crate::state::AppState;
use crate::ws;
use axum::routing::{delete, get, patch, post, put, MethodRouter};
use replyx_protocol::ConnectionKind;
use std::collections::HashMap;

/// One served route.
#[derive(Clone)]
pub struct RouteSpec {
    /// HTTP method (`GET` for WebSocket upgrades).
    pub method: &'static str,
    /// Path template.
    pub path: &'static str,
    /// The handler's name, for the printed table.
    pub handler: &'static str,
    /// Who may call it.
    pub auth: &'static str,
    /// For WebSocket routes, the connection kind the handler registers.
    pub ws_kind: Option<ConnectionKind>,
    /// Builds the route's method router.
    pub(super) make: fn() -> MethodRouter<AppState>,
}

const fn route(
    method: &'static str,
    path: &'static str,
    handler: &'static str,
    auth: &'static str,
    ws_kind: Option<ConnectionKind>,
    make: fn() -> MethodRouter<AppState>,
) -> RouteSpec {
    RouteSpec {
        method,
        path,
        handler,
        auth,
        ws_kind,
        make,
    }
}

/// Every route the server serves.
pub fn table() -> Vec<RouteSpec> {
    use ConnectionKind::*;
    vec![
        route("GET", "/health", "health::live", "none", None, || {
            get(health::live)
        }),
        route(
            "GET",
            "/health/ready",
            "health::ready",
            "none",
            None,
            || get(health::ready),
        ),
        route(
            "GET",
            "/health/websocket",
            "health::websocket",
            "none",
            None,
            || get(health::websocket),
        ),
        route("GET", "/metrics", "health::metrics", "none", None, || {
            get(health::metrics)
        }),
        route(
            "GET",
            "/api/openapi.json",
            "openapi::document",
            "none",
            None,
            || get(openapi::document),
        ),
        route(
            "POST",
            "/api/auth/login",
            "login::login",
            "none",
            None,
            || post(login::login),
        ),
        route(
            "GET",
            "/api/auth/me",
            "session::me",
            "operator",
            None,
            || get(session::me),
        ),
        route(
            "POST",
            "/api/auth/logout",
            "session::logout",
            "operator",
            None,
            || post(session::logout),
        ),
        route(
            "POST",
            "/api/auth/password",
            "session::change_password",
            "operator",
            None,
            || post(session::change_password),
        ),
        route(
            "POST",
            "/api/auth/ws-ticket",
            "session::ws_ticket",
            "operator",
            None,
            || post(session::ws_ticket),
        ),
        route(
            "PUT",
            "/api/auth/presence",
            "routing::set_presence",
            "operator",
            None,
            || put(routing::set_presence),
        ),
        route(
            "GET",
            "/api/operators/presence",
            "routing::list_presence",
            "operator",
            None,
            || get(routing::list_presence),
        ),
        route(
            "GET",
            "/api/operators",
            "operators::list_operators",
            "admin",
            None,
            || get(operators::list_operators),
        ),
        route(
            "POST",
            "/api/operators",
            "operators::create_operator",
            "admin",
            None,
            || post(operators::create_operator),
        ),
        route(
            "PATCH",
            "/api/operators/{id}",
            "operators::update_operator",
            "admin",
            None,
            || patch(operators::update_operator),
        ),
        route(
            "DELETE",
            "/api/operators/{id}",
            "operators::remove_operator",
            "admin",
            None,
            || delete(operators::remove_operator),
        ),
        route(
            "GET",
            "/api/assistants",
            "assistants::list_assistants",
            "operator",
            None,
            || get(assistants::list_assistants),
        ),
        route(
            "POST",
            "/api/assistants",
            "assistants::create_assistant",
            "admin",
            None,
            || post(assistants::create_assistant),
        ),
        route(
            "PATCH",
            "/api/assistants/{id}",
            "assistants::update_assistant",
            "admin",
            None,
            || patch(assistants::update_assistant),
        ),
        route(
            "POST",
            "/api/assistants/{id}/site-token",
            "assistants::create_site_token",
            "admin",
            None,
            || post(assistants::create_site_token),
        ),
        route(
            "GET",
            "/api/assistants/{id}/identity-keys",
            "identity_keys::list_identity_keys",
            "admin",
            None,
            || get(identity_keys::list_identity_keys),
        ),
        route(
            "POST",
            "/api/assistants/{id}/identity-keys",
            "identity_keys::create_identity_key",
            "admin",
            None,
            || post(identity_keys::create_identity_key),
        ),
        route(
            "DELETE",
            "/api/assistants/{id}/identity-keys/{kid}",
            "identity_keys::remove_identity_key",
            "admin",
            None,
            || delete(identity_keys::remove_identity_key),
        ),
        route(
            "GET",
            "/api/assistants/{id}/canned-responses",
            "canned::list_canned",
            "operator",
            None,
            || get(canned::list_canned),
        ),
        route(
            "POST",
            "/api/assistants/{id}/canned-responses",
            "canned::create_canned",
            "operator",
            None,
            || post(canned::create_canned),
        ),
        route(
            "PATCH",
            "/api/canned-responses/{id}",
            "canned::update_canned",
            "operator",
            None,
            || patch(canned::update_canned),
        ),
        route(
            "DELETE",
            "/api/canned-responses/{id}",
            "canned::remove_canned",
            "operator",
            None,
            || delete(canned::remove_canned),
        ),
        route(
            "GET",
            "/api/dialogs",
            "admin_dialogs::list_dialogs",
            "operator",
            None,
            || get(admin_dialogs::list_dialogs),
        ),
        route(
            "GET",
            "/api/dialogs/{id}",
            "admin_dialogs::get_dialog",
            "operator",
            None,
            || get(admin_dialogs::get_dialog),
        ),
        route(
            "GET",
            "/api/dialogs/{id}/events",
            "admin_dialogs::list_events",
            "operator",
            None,
            || get(admin_dialogs::list_events),
        ),
        route(
            "POST",
            "/api/dialogs/{id}/messages",
            "admin_dialogs::create_message",
            "operator",
            None,
            || post(admin_dialogs::create_message),
        ),
        route(
            "POST",
            "/api/dialogs/{id}/handoff",
            "admin_dialogs::handoff",
            "operator",
            None,
            || post(admin_dialogs::handoff),
        ),
        route(
            "POST",
            "/api/dialogs/{id}/transfer",
            "routing::transfer",
            "operator",
            None,
            || post(routing::transfer),
        ),
        route(
            "GET",
            "/api/dialogs/{id}/guest-dialogs",
            "admin_guest::list_guest_dialogs",
            "operator",
            None,
            || get(admin_guest::list_guest_dialogs),
        ),
        route(
            "POST",
            "/api/widget/dialogs",
            "visitor::open_widget_dialog",
            "assistant_id",
            None,
            || post(visitor::open_widget_dialog),
        ),
        route(
            "POST",
            "/api/site/dialogs",
            "visitor::open_site_dialog",
            "site_token+origin",
            None,
            || post(visitor::open_site_dialog),
        ),
        route(
            "GET",
            "/api/widget/dialogs",
            "visitor_history::list_widget_dialogs",
            "guest_token",
            None,
            || get(visitor_history::list_widget_dialogs),
        ),
        route(
            "GET",
            "/api/site/dialogs",
            "visitor_history::list_site_dialogs",
            "guest_token+origin",
            None,
            || get(visitor_history::list_site_dialogs),
        ),
        route(
            "GET",
            "/api/widget/dialogs/{id}/events",
            "visitor::list_widget_events",
            "guest_token",
            None,
            || get(visitor::list_widget_events),
        ),
        route(
            "GET",
            "/api/site/dialogs/{id}/events",
            "visitor::list_site_events",
            "guest_token+origin",
            None,
            || get(visitor::list_site_events),
        ),
        route(
            "POST",
            "/api/widget/dialogs/{id}/messages",
            "visitor::create_widget_message",
            "guest_token",
            None,
            || post(visitor::create_widget_message),
        ),
        route(
            "POST",
            "/api/site/dialogs/{id}/messages",
            "visitor::create_site_message",
            "guest_token+origin",
            None,
            || post(visitor::create_site_message),
        ),
        route(
            "POST",
            "/api/widget/dialogs/{id}/rating",
            "visitor_rating::rate_widget_dialog",
            "guest_token",
            None,
            || post(visitor_rating::rate_widget_dialog),
        ),
        route(
            "POST",
            "/api/site/dialogs/{id}/rating",
            "visitor_rating::rate_site_dialog",
            "guest_token+origin",
            None,
            || post(visitor_rating::rate_site_dialog),
        ),
        route("GET", "/", "web::index", "none", None, || get(web::index)),
        route("GET", "/demo", "web::demo_page", "none", None, || {
            get(web::demo_page)
        }),
        route("GET", "/console", "web::console_page", "none", None, || {
            get(web::console_page)
        }),
        route(
            "GET",
            "/widget.js",
            "web::widget_loader",
            "none",
            None,
            || get(web::widget_loader),
        ),
        route(
            "GET",
            "/widget/frame",
            "web::widget_frame",
            "none",
            None,
            || get(web::widget_frame),
        ),
        route(
            "GET",
            "/static/{*path}",
            "web::static_asset",
            "none",
            None,
            || get(web::static_asset),
        ),
        route(
            "GET",
            "/ws/dialogs/{id}",
            "ws::admin::upgrade",
            "operator",
            Some(Admin),
            || get(ws::admin::upgrade),
        ),
        route(
            "GET",
            "/ws/admin/inbox",
            "ws::inbox::upgrade",
            "operator",
            Some(Admin),
            || get(ws::inbox::upgrade),
        ),
        route(
            "GET",
            "/ws/site/dialogs/{id}",
            "ws::site::upgrade",
            "site_token+guest_token+origin",
            Some(Site),
            || get(ws::site::upgrade),
        ),
        route(
            "GET",
            "/ws/widget/dialogs/{id}",
            "ws::widget::upgrade",
            "assistant_id+guest_token",
            Some(Widget),
            || get(ws::widget::upgrade),
        ),
    ]
}

/// The WebSocket paths of the protocol and the kind each must register.
pub const WS_PATHS: [(&str, ConnectionKind); 4] = [
    ("/ws/dialogs/{id}", ConnectionKind::Admin),
    ("/ws/admin/inbox", ConnectionKind::Admin),
    ("/ws/site/dialogs/{id}", ConnectionKind::Site),
    ("/ws/widget/dialogs/{id}", ConnectionKind::Widget),
];

/// Checks the table: no (method, path) twice; every protocol WebSocket path served by
/// exactly one handler, registering the expected kind; no other route claims a kind.
///
/// # Errors
/// Every problem found, one line each.
pub fn check_table(routes: &[RouteSpec]) -> Result<(), Vec<String>> {
    let mut problems = Vec::new();
    let mut seen: HashMap<(&str, &str), &str> = HashMap::new();
    for r in routes {
        if let Some(first) = seen.insert((r.method, r.path), r.handler) {
            problems.push(format!(
                "{} {} is served twice: {} and {}",
                r.method, r.path, first, r.handler
            ));
        }
    }
    for (path, kind) in WS_PATHS {
        let handlers: Vec<&RouteSpec> = routes.iter().filter(|r| r.path == path).collect();
        match handlers.as_slice() {
            [one] if one.ws_kind == Some(kind) => {}
            [one] => problems.push(format!(
                "{path} is served by {} as {:?}, expected {kind}",
                one.handler, one.ws_kind
            )),
            many => problems.push(format!(
                "{path} has {} handlers, expected exactly one",
                many.len()
            )),
        }
    }
    for r in routes.iter().filter(|r| r.ws_kind.is_some()) {
        if !WS_PATHS.iter().any(|(p, _)| *p == r.path) {
            problems.push(format!(
                "{} {} registers sockets but is not a protocol WebSocket path",
                r.method, r.path
            ));
        }
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(problems)
    }
}

/// Renders the table as `replyx routes` prints it.
pub fn render_table(routes: &[RouteSpec]) -> String {
    let mut out = format!(
        "{:<6} {:<36} {:<36} {}\n",
        "METHOD", "PATH", "HANDLER", "AUTH"
    );
    for r in routes {
        out.push_str(&format!(
            "{:<6} {:<36} {:<36} {}\n",
            r.method, r.path, r.handler, r.auth
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn served_table_passes_the_check() {
        assert_eq!(check_table(&table()), Ok(()));
    }

    #[test]
    fn check_catches_a_second_handler_and_a_wrong_kind() {
        let mut routes = table();
        let mut twice = routes
            .iter()
            .find(|r| r.path == "/ws/widget/dialogs/{id}")
            .unwrap()
            .clone();
        twice.handler = "ws::legacy::upgrade";
        routes.push(twice);
        let problems = check_table(&routes).unwrap_err();
        assert!(
            problems.iter().any(|p| p.contains("served twice")),
            "{problems:?}"
        );
        assert!(
            problems.iter().any(|p| p.contains("2 handlers")),
            "{problems:?}"
        );

        let mut routes = table();
        let site = routes
            .iter_mut()
            .find(|r| r.path == "/ws/site/dialogs/{id}")
            .unwrap();
        site.ws_kind = Some(ConnectionKind::Widget);
        let problems = check_table(&routes).unwrap_err();
        assert!(
            problems.iter().any(|p| p.contains("expected site")),
            "{problems:?}"
        );
    }
}
