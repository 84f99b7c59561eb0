//! The OpenAPI 3.1 document of the HTTP API, generated from the handlers'
//! `#[utoipa::path]` attributes and the wire types, served at `GET /api/openapi.json`.
//! The route table stays the one source of what is served: the `openapi` integration
//! test fails when a JSON route of the table is missing from the document or the
//! document names a route that is not served.

use super::{
    admin_dialogs, admin_guest, assistants, canned, health, identity_keys, login, operators,
    routing, session, visitor, visitor_history, visitor_rating, WS_PATHS,
};
use crate::error::{ErrorBody, ErrorDetail};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use std::sync::OnceLock;
use utoipa::openapi::path::{HttpMethod, OperationBuilder, PathItem};
use utoipa::openapi::security::{ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::{ResponseBuilder, ResponsesBuilder};
use utoipa::{Modify, OpenApi};

/// Where the wire protocol is described in prose.
const PROTOCOL_DOC: &str = "docs/protocol.md";

#[derive(OpenApi)]
#[openapi(
    info(
        title = "ReplyX Realtime HTTP API",
        description = "The JSON API of the ReplyX realtime server. Every error is \
            `{\"error\": {\"code\", \"message\"}}` with the code fixing the status. The \
            WebSocket paths are listed for reference; their frames, close codes and \
            reconnection rules are in docs/protocol.md.",
        license(name = "Apache-2.0", identifier = "Apache-2.0"),
    ),
    paths(
        health::live,
        health::ready,
        health::websocket,
        login::login,
        session::me,
        session::logout,
        session::change_password,
        session::ws_ticket,
        routing::set_presence,
        routing::list_presence,
        operators::list_operators,
        operators::create_operator,
        operators::update_operator,
        operators::remove_operator,
        assistants::list_assistants,
        assistants::create_assistant,
        assistants::update_assistant,
        assistants::create_site_token,
        identity_keys::list_identity_keys,
        identity_keys::create_identity_key,
        identity_keys::remove_identity_key,
        canned::list_canned,
        canned::create_canned,
        canned::update_canned,
        canned::remove_canned,
        admin_dialogs::list_dialogs,
        admin_dialogs::get_dialog,
        admin_dialogs::list_events,
        admin_dialogs::create_message,
        admin_dialogs::handoff,
        routing::transfer,
        admin_guest::list_guest_dialogs,
        visitor::open_widget_dialog,
        visitor::open_site_dialog,
        visitor_history::list_widget_dialogs,
        visitor_history::list_site_dialogs,
        visitor::list_widget_events,
        visitor::list_site_events,
        visitor::create_widget_message,
        visitor::create_site_message,
        visitor_rating::rate_widget_dialog,
        visitor_rating::rate_site_dialog,
        document,
    ),
    components(schemas(ErrorBody, ErrorDetail)),
    modifiers(&Security, &WebSockets),
    tags(
        (name = "auth", description = "Operator login and sessions"),
        (name = "operators", description = "Operator accounts (admin)"),
        (name = "assistants", description = "Assistants, their site tokens and identity keys"),
        (name = "dialogs", description = "Dialogs as operators see them"),
        (name = "visitors", description = "The widget's and the site embed's API"),
        (name = "health", description = "Liveness, readiness and socket counts"),
        (name = "websocket", description = "WebSocket upgrades: see docs/protocol.md"),
        (name = "meta", description = "This document"),
    )
)]
struct ApiDoc;

/// The security schemes the paths name.
struct Security;

impl Modify for Security {
    fn modify(&self, doc: &mut utoipa::openapi::OpenApi) {
        let components = doc.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "operator",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("JWT")
                    .description(Some(
                        "The operator token of `POST /api/auth/login`, bound to a \
                         server-side session",
                    ))
                    .build(),
            ),
        );
        components.add_security_scheme(
            "guest_token",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some(
                        "The `guest_token` of a dialog load: opens one dialog through one \
                         way in",
                    ))
                    .build(),
            ),
        );
        components.add_security_scheme(
            "guest_token_query",
            SecurityScheme::ApiKey(ApiKey::Query(ApiKeyValue::with_description(
                "guest_token",
                "The guest token as a query parameter instead of the header",
            ))),
        );
    }
}

/// The WebSocket paths, from `WS_PATHS`, for reference (they answer upgrades only).
struct WebSockets;

impl Modify for WebSockets {
    fn modify(&self, doc: &mut utoipa::openapi::OpenApi) {
        for (path, kind) in WS_PATHS {
            let operation = OperationBuilder::new()
                .tag("websocket")
                .summary(Some(format!("WebSocket upgrade ({kind} connections)")))
                .description(Some(format!(
                    "A WebSocket upgrade, not a JSON route: the frames, the close codes, \
                     authentication and reconnection are described in {PROTOCOL_DOC}. \
                     Refusals upgrade and then close with the protocol's close code."
                )))
                .responses(
                    ResponsesBuilder::new()
                        .response(
                            "101",
                            ResponseBuilder::new().description("Switching Protocols"),
                        )
                        .build(),
                )
                .build();
            doc.paths
                .paths
                .insert(path.to_owned(), PathItem::new(HttpMethod::Get, operation));
        }
    }
}

/// The document (built once).
pub fn spec() -> &'static utoipa::openapi::OpenApi {
    static SPEC: OnceLock<utoipa::openapi::OpenApi> = OnceLock::new();
    SPEC.get_or_init(ApiDoc::openapi)
}

/// `GET /api/openapi.json`: this document.
#[utoipa::path(
    get,
    path = "/api/openapi.json",
    tag = "meta",
    security(()),
    responses((status = 200, description = "The OpenAPI 3.1 document of this API", body = serde_json::Value))
)]
pub async fn document() -> Response {
    static JSON: OnceLock<String> = OnceLock::new();
    let body = JSON.get_or_init(|| spec().to_json().unwrap_or_else(|_| "{}".to_owned()));
    ([(header::CONTENT_TYPE, "application/json")], body.as_str()).into_response()
}
