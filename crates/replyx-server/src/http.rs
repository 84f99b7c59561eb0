//! The HTTP surface: the router built from the route table (`routes`), with the CORS
//! layer on the site widget's routes, the body limit and deadline and request metrics;
//! and the connections it is served on (`connections`).

pub mod admin_dialogs;
pub mod admin_guest;
pub mod assistants;
pub mod body_deadline;
pub mod canned;
pub mod connections;
pub mod extract;
pub mod health;
pub mod identity_keys;
pub mod login;
pub mod openapi;
pub mod operators;
pub mod routes;
pub mod routing;
pub mod security_headers;
pub mod served;
pub mod session;
pub mod telemetry;
pub mod visitor;
pub mod visitor_history;
pub mod visitor_identity;
pub mod visitor_rating;
pub mod web;

pub use routes::{check_table, render_table, table, RouteSpec, WS_PATHS};

use crate::state::AppState;
use axum::Router;

fn site_cors() -> tower_http::cors::CorsLayer {
    use axum::http::{header, Method};
    tower_http::cors::CorsLayer::new()
        .allow_origin(tower_http::cors::AllowOrigin::mirror_request())
        .allow_methods([Method::GET, Method::POST])
        .allow_headers([header::AUTHORIZATION, header::CONTENT_TYPE])
        .max_age(std::time::Duration::from_secs(600))
}

/// Builds the router from the table.
pub fn router(state: AppState) -> Router {
    let mut router = Router::new();
    for r in table() {
        let method_router = (r.make)();
        // The site widget calls these from customers' pages; the handlers check the
        // Origin against the assistant's domains, CORS only lets the browser ask.
        router = if r.path.starts_with("/api/site/") {
            router.route(r.path, method_router.layer(site_cors()))
        } else {
            router.route(r.path, method_router)
        };
    }
    let body_limit = (state.settings.limits.max_message_chars * 4 + 4096).max(64 * 1024);
    router
        .layer(axum::extract::DefaultBodyLimit::max(body_limit))
        .layer(axum::middleware::from_fn_with_state(
            state.settings.http_body_timeout,
            body_deadline::limit,
        ))
        .layer(axum::middleware::from_fn(security_headers::add))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            telemetry::count_requests,
        ))
        .with_state(state)
}
