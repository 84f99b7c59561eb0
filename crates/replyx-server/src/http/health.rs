//! Health and metrics: liveness, readiness (draining, store and bus checked),
//! per-kind socket counts, and the Prometheus exposition.

use crate::state::AppState;
use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use replyx_protocol::ConnectionKind;
use serde_json::json;

/// `GET /health`: the process runs.
pub async fn live() -> Json<serde_json::Value> {
    Json(json!({"status": "ok"}))
}

/// `GET /health/ready`: 200 when accepting connections; 503 while draining or when the
/// store or bus does not answer.
pub async fn ready(State(state): State<AppState>) -> Response {
    if state.lifecycle.is_draining() {
        return (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(json!({"status": "draining"})),
        )
            .into_response();
    }
    let store = state.store.ping().await.map_err(|e| e.to_string());
    let bus = state.bus.health().await;
    match (store, bus) {
        (Ok(()), Ok(())) => Json(json!({"status": "ready"})).into_response(),
        (store, bus) => (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(json!({
                "status": "unavailable",
                "store": store.err().unwrap_or_else(|| "ok".into()),
                "bus": bus.err().unwrap_or_else(|| "ok".into()),
            })),
        )
            .into_response(),
    }
}

/// `GET /health/websocket`: open sockets and dialogs with sockets, per kind.
pub async fn websocket(State(state): State<AppState>) -> Json<serde_json::Value> {
    let counts = state.hub.counts();
    let interval = state.settings.canary_interval;
    let problem = state.canary.problem(!interval.is_zero(), interval * 3);
    let status = match (state.lifecycle.is_draining(), &problem) {
        (true, _) => "draining",
        (false, Some(_)) => "degraded",
        (false, None) => "healthy",
    };
    let mut body = json!({
        "status": status,
        "uptime_seconds": state.lifecycle.uptime_seconds(),
        "version": env!("CARGO_PKG_VERSION"),
        "bus": state.bus.name(),
        "instance": state.instance_id,
        "canary": {
            "enabled": !interval.is_zero(),
            "age_seconds": state.metrics.canary_age_seconds().round(),
            "problem": problem,
        },
    });
    for kind in ConnectionKind::ALL {
        body[format!("active_{kind}_connections")] = json!(counts.active(kind));
        body[format!("total_dialogs_{kind}")] = json!(counts.dialogs(kind));
    }
    Json(body)
}

/// `GET /metrics`: Prometheus text format.
pub async fn metrics(State(state): State<AppState>) -> Response {
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        state.metrics.render(),
    )
        .into_response()
}
