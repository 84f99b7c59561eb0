//! Health and metrics: liveness, readiness (draining, store and bus checked),
//! per-kind socket counts, and the Prometheus exposition.

use crate::canary::Verdict;
use crate::state::AppState;
use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use replyx_protocol::ConnectionKind;
use serde_json::json;
use std::time::Duration;

/// `GET /health`: the process runs.
pub async fn live() -> Json<serde_json::Value> {
    Json(json!({"status": "ok"}))
}

/// How long readiness waits for the store and the bus to answer.
const READY_TIMEOUT: Duration = Duration::from_secs(3);

/// `GET /health/ready`: 200 when accepting connections; 503 while draining, and when
/// the store cannot be read, its writer cannot write (dead, or stuck behind another
/// writer's lock), or the bus is not delivering (its poll loop failing, stopped or
/// stuck). Each check is bounded: a hung dependency answers 503, not nothing.
pub async fn ready(State(state): State<AppState>) -> Response {
    if state.lifecycle.is_draining() {
        return (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(json!({"status": "draining"})),
        )
            .into_response();
    }
    let bounded = |what: &'static str, r: Result<Result<(), String>, _>| {
        r.unwrap_or_else(|_| Err(format!("{what} did not answer within {READY_TIMEOUT:?}")))
    };
    let (store, bus) = tokio::join!(
        tokio::time::timeout(READY_TIMEOUT, async {
            state.store.ping().await.map_err(|e| e.to_string())
        }),
        tokio::time::timeout(READY_TIMEOUT, state.bus.health()),
    );
    match (bounded("the store", store), bounded("the bus", bus)) {
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

/// `GET /health/websocket`: open sockets and dialogs with sockets, per kind, and the
/// canary's verdict: `starting` until its first round trip, then `healthy` or
/// `degraded`; `draining` during shutdown.
pub async fn websocket(State(state): State<AppState>) -> Json<serde_json::Value> {
    let counts = state.hub.counts();
    let interval = state.settings.canary_interval;
    let verdict = state.canary.verdict(!interval.is_zero(), interval * 3);
    let (status, problem) = match (state.lifecycle.is_draining(), verdict) {
        (true, _) => ("draining", None),
        (false, Verdict::Degraded(reason)) => ("degraded", Some(reason)),
        (false, Verdict::Starting) => ("starting", None),
        (false, Verdict::Healthy | Verdict::Off) => ("healthy", None),
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
