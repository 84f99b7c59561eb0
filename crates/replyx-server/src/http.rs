//! The HTTP surface: the router built from the route table (`routes`), with the CORS
//! layer on the site widget's routes, the body limit and request metrics.

pub mod admin_dialogs;
pub mod assistants;
pub mod extract;
pub mod health;
pub mod login;
pub mod routes;
pub mod security_headers;
pub mod served;
pub mod telemetry;
pub mod visitor;
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
        .layer(axum::middleware::from_fn(security_headers::add))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            telemetry::count_requests,
        ))
        .with_state(state)
}
