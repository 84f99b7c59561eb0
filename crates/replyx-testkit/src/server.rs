//! `TestServer`: the real application in-process on 127.0.0.1:0.

use replyx_server::app::{App, Seams};
use replyx_server::config::{ServeOptions, Settings};
use replyx_server::state::AppState;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;
use tempfile::TempDir;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// The secret every test server signs with, so tokens survive a restart.
pub const TEST_SECRET: &str = "replyx-test-secret-0123456789abcdef";

/// How to start a test server.
#[derive(Default)]
pub struct TestOptions {
    /// Directory of the database; a new temporary one when `None`. Share it to
    /// restart on the same data or to run two servers on one file.
    pub dir: Option<Arc<TempDir>>,
    /// Adjusts settings before start.
    pub options: ServeOptions,
    /// Wraps the store or the bus to break them on purpose (see `faults`).
    pub seams: Seams,
}

/// A running in-process server.
pub struct TestServer {
    /// Its address.
    pub addr: SocketAddr,
    /// `http://addr`.
    pub base: String,
    /// Its state (store, hub, settings) for assertions.
    pub state: AppState,
    /// The data directory (kept alive while any server uses it).
    pub dir: Arc<TempDir>,
    shutdown: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<anyhow::Result<()>>>,
}

impl TestServer {
    /// Starts a server with defaults suited to tests (no assistant reply delay).
    pub async fn start() -> TestServer {
        Self::start_with(TestOptions::default()).await
    }

    /// Starts a server with options.
    pub async fn start_with(opts: TestOptions) -> TestServer {
        let dir = opts
            .dir
            .unwrap_or_else(|| Arc::new(tempfile::tempdir().expect("temp dir")));
        let mut options = opts.options;
        options.bind = Some("127.0.0.1:0".parse().expect("addr"));
        options
            .database_url
            .get_or_insert_with(|| database_url(&dir));
        options.secret.get_or_insert_with(|| TEST_SECRET.into());
        options.assistant_reply_delay.get_or_insert(Duration::ZERO);
        options.drain_grace.get_or_insert(Duration::from_secs(5));
        let settings = Settings::resolve(options).expect("valid test settings");
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("port 0");
        let app = App::build_with(settings, listener, opts.seams)
            .await
            .expect("server builds");
        let addr = app.local_addr().expect("bound");
        let state = app.state.clone();
        let (tx, rx) = oneshot::channel::<()>();
        let task = tokio::spawn(app.run(async move {
            let _ = rx.await;
        }));
        TestServer {
            addr,
            base: format!("http://{addr}"),
            state,
            dir,
            shutdown: Some(tx),
            task: Some(task),
        }
    }

    /// Drains and stops the server, waiting for it to finish.
    pub async fn stop(mut self) {
        self.stop_inner().await;
    }

    async fn stop_inner(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(task) = self.task.take() {
            task.await
                .expect("server task")
                .expect("server exits cleanly");
        }
    }

    /// The server's `/metrics` text (read with `replyx_testkit::metric`).
    pub async fn metrics(&self) -> String {
        reqwest::get(format!("{}/metrics", self.base))
            .await
            .expect("GET /metrics")
            .text()
            .await
            .expect("the metrics text")
    }

    /// `ws://addr` + path.
    pub fn ws_url(&self, path_and_query: &str) -> String {
        format!("ws://{}{}", self.addr, path_and_query)
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}

/// The SQLite URL of the database in `dir`.
pub fn database_url(dir: &TempDir) -> String {
    let path: PathBuf = dir.path().join("replyx.db");
    format!("sqlite://{}", path.display())
}
