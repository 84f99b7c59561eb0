//! Health and metrics: liveness, readiness (draining, store and bus checked),
//! per-kind socket counts, and the Prometheus exposition.

use crate::canary::Verdict;
use crate::state::AppState;
use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use replyx_protocol::ConnectionKind;
use serde::Serialize;
use std::time::Duration;
use utoipa::ToSchema;

/// `{"status": "ok"}`.
#[derive(Serialize, ToSchema)]
pub struct Live {
    /// Always `ok`.
    #[schema(value_type = String, example = "ok")]
    status: &'static str,
}

/// `GET /health`: the process runs.
#[utoipa::path(
    get,
    path = "/health",
    tag = "health",
    security(()),
    responses((status = 200, description = "The process runs", body = Live))
)]
pub async fn live() -> Json<Live> {
    Json(Live { status: "ok" })
}

/// Readiness: `ready`, `draining`, or `unavailable` with what failed.
#[derive(Serialize, ToSchema)]
pub struct Readiness {
    /// `ready`, `draining` or `unavailable`.
    #[schema(value_type = String)]
    status: &'static str,
    /// With `unavailable`: the store's problem, or `ok`.
    #[serde(skip_serializing_if = "Option::is_none")]
    store: Option<String>,
    /// With `unavailable`: the bus's problem, or `ok`.
    #[serde(skip_serializing_if = "Option::is_none")]
    bus: Option<String>,
}

impl Readiness {
    fn just(status: &'static str) -> Json<Self> {
        Json(Self {
            status,
            store: None,
            bus: None,
        })
    }
}

/// How long readiness waits for the store and the bus to answer.
const READY_TIMEOUT: Duration = Duration::from_secs(3);

/// `GET /health/ready`: 200 when accepting connections; 503 while draining, and when
/// the store cannot be read, its writer cannot write (dead, or stuck behind another
/// writer's lock), or the bus is not delivering (its poll loop failing, stopped or
/// stuck). Each check is bounded: a hung dependency answers 503, not nothing.
#[utoipa::path(
    get,
    path = "/health/ready",
    tag = "health",
    security(()),
    responses(
        (status = 200, description = "Accepting connections", body = Readiness),
        (status = 503, description = "Draining, or the store or the bus is not working", body = Readiness),
    )
)]
pub async fn ready(State(state): State<AppState>) -> Response {
    if state.lifecycle.is_draining() {
        return (StatusCode::SERVICE_UNAVAILABLE, Readiness::just("draining")).into_response();
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
        (Ok(()), Ok(())) => Readiness::just("ready").into_response(),
        (store, bus) => (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(Readiness {
                status: "unavailable",
                store: Some(store.err().unwrap_or_else(|| "ok".into())),
                bus: Some(bus.err().unwrap_or_else(|| "ok".into())),
            }),
        )
            .into_response(),
    }
}

/// `GET /health/websocket`: open sockets and dialogs with sockets, per kind, and the
/// canary's verdict: `starting` until its first round trip, then `healthy` or
/// `degraded`; `draining` during shutdown.
#[utoipa::path(
    get,
    path = "/health/websocket",
    tag = "health",
    security(()),
    responses((status = 200, description = "Socket counts and the delivery canary's verdict", body = WebsocketHealth))
)]
pub async fn websocket(State(state): State<AppState>) -> Json<WebsocketHealth> {
    let counts = state.hub.counts();
    let interval = state.settings.canary_interval;
    let verdict = state.canary.verdict(!interval.is_zero(), interval * 3);
    let (status, problem) = match (state.lifecycle.is_draining(), verdict) {
        (true, _) => ("draining", None),
        (false, Verdict::Degraded(reason)) => ("degraded", Some(reason)),
        (false, Verdict::Starting) => ("starting", None),
        (false, Verdict::Healthy | Verdict::Off) => ("healthy", None),
    };
    use ConnectionKind::{Admin, Site, Widget};
    Json(WebsocketHealth {
        status,
        uptime_seconds: state.lifecycle.uptime_seconds(),
        version: env!("CARGO_PKG_VERSION"),
        bus: state.bus.name(),
        instance: state.instance_id.clone(),
        canary: Canary {
            enabled: !interval.is_zero(),
            age_seconds: state.metrics.canary_age_seconds().round(),
            problem,
        },
        active_admin_connections: counts.active(Admin),
        active_site_connections: counts.active(Site),
        active_widget_connections: counts.active(Widget),
        total_dialogs_admin: counts.dialogs(Admin),
        total_dialogs_site: counts.dialogs(Site),
        total_dialogs_widget: counts.dialogs(Widget),
    })
}

/// The answer of `GET /health/websocket`.
#[derive(Serialize, ToSchema)]
pub struct WebsocketHealth {
    /// `starting`, `healthy`, `degraded` or `draining`.
    #[schema(value_type = String)]
    status: &'static str,
    /// Seconds since the process started.
    uptime_seconds: u64,
    /// The server's version.
    #[schema(value_type = String)]
    version: &'static str,
    /// The cluster bus in use.
    #[schema(value_type = String)]
    bus: &'static str,
    /// This process's instance id.
    instance: String,
    /// The delivery canary.
    canary: Canary,
    /// Open operator sockets (the inbox feed included).
    active_admin_connections: usize,
    /// Open site-widget sockets.
    active_site_connections: usize,
    /// Open iframe-widget sockets.
    active_widget_connections: usize,
    /// Dialogs with at least one operator socket.
    total_dialogs_admin: usize,
    /// Dialogs with at least one site-widget socket.
    total_dialogs_site: usize,
    /// Dialogs with at least one iframe-widget socket.
    total_dialogs_widget: usize,
}

/// The delivery canary's state.
#[derive(Serialize, ToSchema)]
pub struct Canary {
    /// Whether it runs.
    enabled: bool,
    /// Seconds since its last good round trip.
    age_seconds: f64,
    /// Why it is degraded, when it is.
    problem: Option<String>,
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
