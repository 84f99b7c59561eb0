//! Building and running the server: open the store, choose the bus, wire the hub, bind
//! the listener; then serve until the shutdown future fires and drain in stages:
//! readiness 503 → sockets closed with 1012 in spread-out batches → HTTP in flight
//! finished → background tasks stopped, all under the drain grace deadline.

use crate::auth::Tokens;
use crate::config::Settings;
use crate::config::{redact, StoreKind};
use crate::hub::{Hub, HubLimits};
use crate::lifecycle::Lifecycle;
use crate::limits::PerIpLimiter;
use crate::metrics::Metrics;
use crate::state::{AppState, Inner};
use crate::{http, secret};
use replyx_bus::{ClusterBus, ClusterOptions, LocalBus, StoreWatchBus};
use replyx_core::{Bus, BusSink, Store};
use replyx_store::{PgStore, SqliteStore};
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;

/// A function that wraps a part of the server.
pub type Wrap<T> = Box<dyn FnOnce(Arc<T>) -> Arc<T> + Send>;

/// Seams where tests break the server on purpose: each wraps (or replaces) a part the
/// settings imply, before anything uses it. Production builds leave them empty.
#[derive(Default)]
pub struct Seams {
    /// Wraps the store every part of the server uses (the bus's change feed included);
    /// the canary's peer-origin writer shares the database but not the wrapper.
    pub store: Option<Wrap<dyn Store>>,
    /// Wraps or replaces the bus (already started); the hub attaches to what it
    /// returns.
    pub bus: Option<Wrap<dyn Bus>>,
}

/// A built server: state plus a bound listener.
pub struct App {
    /// The state handlers share.
    pub state: AppState,
    listener: TcpListener,
}

/// A store opened from its URL, and the canary's handle on the same database.
pub struct OpenedStore {
    /// What the server uses.
    pub store: Arc<dyn Store>,
    /// The same database under another origin: the canary writes as a peer process
    /// would, so that its round trip crosses the path other processes' events take.
    pub canary_peer: Arc<dyn Store>,
    /// Which backend.
    pub kind: StoreKind,
    /// The embedded store's checkpoint reports (a SQLite file only), for its metrics.
    pub checkpoints: Option<tokio::sync::watch::Receiver<replyx_store::Checkpoint>>,
}

/// Opens (and migrates) the store named by `url`: SQLite or PostgreSQL.
///
/// # Errors
/// An unsupported URL, or the database cannot be opened or migrated.
pub async fn open_store(url: &str, origin: &str) -> anyhow::Result<OpenedStore> {
    let kind = StoreKind::of(url)?;
    let shown = redact(url);
    let canary = format!("{origin}/canary");
    let (store, canary_peer, checkpoints): (Arc<dyn Store>, Arc<dyn Store>, _) = match kind {
        StoreKind::Sqlite => {
            let s = SqliteStore::build(url, origin)
                .await
                .map_err(|e| anyhow::anyhow!("opening store {shown}: {e}"))?;
            let peer = s.with_origin(&canary);
            let checkpoints = s.checkpoints();
            (Arc::new(s), Arc::new(peer), checkpoints)
        }
        StoreKind::Postgres => {
            let s = PgStore::build(url, origin)
                .await
                .map_err(|e| anyhow::anyhow!("opening store {shown}: {e}"))?;
            let peer = s.with_origin(&canary);
            (Arc::new(s), Arc::new(peer), None)
        }
    };
    Ok(OpenedStore {
        store,
        canary_peer,
        kind,
        checkpoints,
    })
}

/// How long a cluster node waits for its broker at start before it listens anyway.
const BUS_START_WAIT: std::time::Duration = std::time::Duration::from_secs(5);

/// Connects the bus the settings name: a broker for a cluster, the shared SQLite
/// file's change feed for processes on one host, or in-process fan-out.
async fn open_bus(
    settings: &Settings,
    store: &Arc<dyn Store>,
    origin: &str,
    lifecycle: &Lifecycle,
) -> anyhow::Result<Arc<dyn Bus>> {
    if let Some(url) = &settings.bus_url {
        let options = ClusterOptions {
            url: url.clone(),
            origin: origin.to_owned(),
            prefix: "replyx".into(),
        };
        let bus = ClusterBus::connect(options, lifecycle.tracker(), lifecycle.stop_token())
            .await
            .map_err(|e| anyhow::anyhow!("connecting the bus {}: {e}", redact(url)))?;
        // Sockets accepted before the link is up would be resynced (consoles closed
        // with 1012) as soon as it comes up: give the broker a moment first. A broker
        // still down after that does not stop the node; it is just not ready.
        if tokio::time::timeout(BUS_START_WAIT, bus.wait_connected(1))
            .await
            .is_err()
        {
            tracing::warn!(bus = %redact(url), "the bus is not reachable yet; not ready until it is");
        }
        return Ok(bus);
    }
    if settings.data_dir().is_some() {
        // A database file may be shared by other processes (a blue-green pair):
        // read their changes from it, or their events would never reach us.
        let bus = StoreWatchBus::new(store.clone(), settings.bus_poll_interval);
        bus.start(lifecycle.tracker(), lifecycle.stop_token())
            .await
            .map_err(|e| anyhow::anyhow!("starting the store-watching bus: {e}"))?;
        return Ok(bus);
    }
    Ok(Arc::new(LocalBus::new()))
}

/// Binds with an explicit accept queue: `TcpListener::bind` uses 1,024, and when every
/// client of a large process reconnects at once (after a network blip or a deploy) the
/// connections past the queue are dropped and retried by the kernel only after a
/// second.
fn listen(addr: std::net::SocketAddr, backlog: u32) -> std::io::Result<TcpListener> {
    let socket = if addr.is_ipv4() {
        tokio::net::TcpSocket::new_v4()?
    } else {
        tokio::net::TcpSocket::new_v6()?
    };
    socket.set_reuseaddr(true)?;
    socket.bind(addr)?;
    socket.listen(backlog)
}

impl App {
    /// Opens the store, starts the bus and binds the listener.
    ///
    /// # Errors
    /// Store, secret or bind failures.
    pub async fn build(settings: Settings) -> anyhow::Result<App> {
        let listener = listen(settings.bind, settings.listen_backlog)
            .map_err(|e| anyhow::anyhow!("cannot listen on {}: {e}", settings.bind))?;
        Self::build_with_listener(settings, listener).await
    }

    /// As `build`, on an already bound listener (tests bind port 0).
    ///
    /// # Errors
    /// Store or secret failures.
    pub async fn build_with_listener(
        settings: Settings,
        listener: TcpListener,
    ) -> anyhow::Result<App> {
        Self::build_with(settings, listener, Seams::default()).await
    }

    /// As `build_with_listener`, with test seams (faults injected on purpose).
    ///
    /// # Errors
    /// Store or secret failures.
    pub async fn build_with(
        settings: Settings,
        listener: TcpListener,
        seams: Seams,
    ) -> anyhow::Result<App> {
        let origin = uuid::Uuid::new_v4().to_string();
        let opened = open_store(&settings.database_url, &origin).await?;
        let canary_peer = opened.canary_peer;
        let mut store = opened.store;
        if let Some(wrap) = seams.store {
            store = wrap(store);
        }
        let secret = secret::resolve(settings.secret.as_deref(), settings.data_dir().as_deref())?;
        let keys = crate::auth::keys::Keys::load(&secret, settings.keys_file.as_deref())?;
        let lifecycle = Lifecycle::new();
        let mut bus = open_bus(&settings, &store, &origin, &lifecycle).await?;
        if let Some(wrap) = seams.bus {
            bus = wrap(bus);
        }
        tracing::info!(
            store = ?opened.kind,
            database = %redact(&settings.database_url),
            bus = bus.name(),
            bus_url = settings.bus_url.as_deref().map(redact).as_deref().unwrap_or("-"),
            node = %origin,
            "store and bus"
        );
        let metrics = Metrics::new();
        let limits = &settings.limits;
        let hub = Hub::new(
            HubLimits {
                visitor_per_dialog: limits.max_visitor_connections_per_dialog,
                admin_per_dialog: limits.max_admin_connections_per_dialog,
                total: limits.max_connections,
                outbox: limits.outbox_capacity,
            },
            metrics.clone(),
        );
        bus.attach(Arc::new(hub.clone()) as Arc<dyn BusSink>);
        let state = AppState::new(Inner {
            tokens: Tokens::with_keys(keys, settings.operator_token_ttl)
                .with_guest_ttl(settings.guest_token_ttl)
                .observed({
                    let metrics = metrics.clone();
                    Arc::new(move |purpose, key| metrics.token_verified(purpose, key))
                }),
            ws_connects: PerIpLimiter::per_minute(limits.ws_connects_per_ip_per_minute),
            visitor_requests: PerIpLimiter::per_minute(limits.visitor_requests_per_ip_per_minute),
            login: crate::auth::login_guard::LoginGuard::new(limits.login.clone()),
            sessions: crate::auth::sessions::OperatorSessions::new(
                store.clone(),
                settings.session_check_interval,
            ),
            assistants: crate::assistant_cache::AssistantCache::new(
                store.clone(),
                settings.assistant_cache_ttl,
            ),
            settings,
            store,
            bus,
            hub,
            metrics,
            lifecycle,
            canary: crate::canary::Canary::default(),
            consoles: Default::default(),
            instance_id: origin.clone(),
        });
        spawn_limiter_cleanup(&state);
        // The decoy hash for unknown e-mails, made now so that the first one does not
        // take two hashes where a known one takes one.
        let warm = state.clone();
        tokio::task::spawn_blocking(move || {
            warm.login.decoy();
        });
        crate::inbox_feed::start(&state);
        crate::canary::start(&state, canary_peer);
        if let Some(reports) = opened.checkpoints {
            crate::wal_metrics::WalMetrics::register(state.metrics.registry())?
                .follow(reports, &state.lifecycle);
        }
        state.lifecycle.spawn(crate::presence::run(state.clone()));
        Ok(App { state, listener })
    }

    /// The bound address.
    ///
    /// # Errors
    /// The socket cannot tell.
    pub fn local_addr(&self) -> std::io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    /// Serves until `shutdown` resolves, then drains (see the module docs).
    ///
    /// # Errors
    /// The HTTP server failed.
    pub async fn run(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> anyhow::Result<()> {
        let App { state, listener } = self;
        let addr = listener.local_addr()?;
        let router = http::router(state.clone());
        let stop_http = tokio_util::sync::CancellationToken::new();
        let server = tokio::spawn(http::connections::serve(
            listener,
            router,
            state.settings.http_header_timeout,
            stop_http.clone(),
        ));
        tracing::info!(bus = state.bus.name(), "listening on http://{addr}");

        shutdown.await;
        let grace = state.settings.drain_grace;
        let deadline = tokio::time::Instant::now() + grace;
        tracing::info!(grace = ?grace, "draining: readiness is 503, closing sockets with 1012");
        state.lifecycle.begin_drain();
        state.metrics.draining();
        let window = (grace / 3).min(Duration::from_secs(10));
        if tokio::time::timeout_at(deadline, state.hub.drain(window))
            .await
            .is_err()
        {
            tracing::warn!("socket drain did not finish within the grace period");
        }
        stop_http.cancel();
        match tokio::time::timeout_at(deadline, server).await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => return Err(anyhow::anyhow!("http server task: {e}")),
            Err(_) => tracing::warn!("HTTP requests still running at the end of the grace period"),
        }
        if tokio::time::timeout_at(deadline, state.lifecycle.stop_and_wait())
            .await
            .is_err()
        {
            tracing::warn!("tasks still running at the end of the grace period");
        }
        tracing::info!("drained; exiting");
        Ok(())
    }
}

fn spawn_limiter_cleanup(state: &AppState) {
    let stop = state.lifecycle.stop_token();
    let task_state = state.clone();
    state.lifecycle.spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_secs(60));
        loop {
            tokio::select! {
                _ = stop.cancelled() => return,
                _ = tick.tick() => {
                    task_state.ws_connects.forget_idle();
                    task_state.visitor_requests.forget_idle();
                    task_state.login.forget_idle();
                }
            }
        }
    });
}

#[cfg(test)]
mod tests {
    /// The accept queue is the one configured (Linux: `ss` shows a listener's queue
    /// length as its Send-Q).
    #[tokio::test]
    async fn the_listener_queues_the_configured_number_of_connections() {
        let listener = super::listen("127.0.0.1:0".parse().unwrap(), 77).unwrap();
        let port = listener.local_addr().unwrap().port();
        let out = std::process::Command::new("ss")
            .args(["-ltnH", &format!("sport = :{port}")])
            .output()
            .expect(
                "this test reads the queue length with `ss` (Debian: apt-get install iproute2)",
            );
        let line = String::from_utf8_lossy(&out.stdout).into_owned();
        let send_q: Vec<&str> = line.split_whitespace().collect();
        assert_eq!(send_q.get(2), Some(&"77"), "ss printed {line:?}");
    }
}
