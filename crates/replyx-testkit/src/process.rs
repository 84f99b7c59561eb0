//! `ServerProcess`: the real `replyx` binary as a child process, for tests that need
//! separate processes (two servers on one database) or signals (SIGTERM drain). Ready
//! when it prints `listening on http://ADDR`; never waited for by sleeping.

use crate::WAIT;
use std::net::SocketAddr;
use std::path::Path;
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

/// A running `replyx serve` process.
pub struct ServerProcess {
    /// Its address.
    pub addr: SocketAddr,
    /// `http://addr`.
    pub base: String,
    child: Child,
    output: Arc<Mutex<Vec<String>>>,
}

impl ServerProcess {
    /// Starts `bin serve` on a free port with `env` (plus `REPLYX_BIND=127.0.0.1:0`).
    pub async fn spawn(bin: &Path, env: &[(&str, String)]) -> ServerProcess {
        let mut cmd = Command::new(bin);
        cmd.arg("serve")
            .env("REPLYX_BIND", "127.0.0.1:0")
            .env("RUST_LOG", "info")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        for (k, v) in env {
            cmd.env(k, v);
        }
        let mut child = cmd.spawn().expect("replyx binary starts");
        let output = Arc::new(Mutex::new(Vec::new()));
        let (tx, rx) = tokio::sync::oneshot::channel();
        let stdout = child.stdout.take().expect("stdout");
        let stderr = child.stderr.take().expect("stderr");
        let lines = output.clone();
        tokio::spawn(async move {
            let mut tx = Some(tx);
            let mut reader = BufReader::new(stdout).lines();
            while let Ok(Some(line)) = reader.next_line().await {
                if let Some(rest) = line.split("listening on http://").nth(1) {
                    let addr = rest
                        .split_whitespace()
                        .next()
                        .unwrap_or_default()
                        .to_owned();
                    if let Some(tx) = tx.take() {
                        let _ = tx.send(addr);
                    }
                }
                lines.lock().expect("log lock").push(line);
            }
        });
        let lines = output.clone();
        tokio::spawn(async move {
            let mut reader = BufReader::new(stderr).lines();
            while let Ok(Some(line)) = reader.next_line().await {
                lines.lock().expect("log lock").push(line);
            }
        });
        let addr = match tokio::time::timeout(WAIT, rx).await {
            Ok(Ok(addr)) => addr,
            _ => panic!(
                "server did not report listening; output:\n{}",
                output.lock().expect("log lock").join("\n")
            ),
        };
        let addr: SocketAddr = addr.parse().expect("listening address");
        ServerProcess {
            addr,
            base: format!("http://{addr}"),
            child,
            output,
        }
    }

    /// `ws://addr`.
    pub fn ws_base(&self) -> String {
        format!("ws://{}", self.addr)
    }

    /// Sends SIGTERM.
    pub fn terminate(&self) {
        let pid = self.child.id().expect("running");
        let status = std::process::Command::new("kill")
            .args(["-TERM", &pid.to_string()])
            .status()
            .expect("kill runs");
        assert!(status.success(), "kill -TERM {pid}");
    }

    /// Waits for the process to exit; returns whether it exited with status 0.
    pub async fn wait_exit(&mut self, within: std::time::Duration) -> bool {
        match tokio::time::timeout(within, self.child.wait()).await {
            Ok(Ok(status)) => status.success(),
            _ => false,
        }
    }

    /// Everything it printed so far.
    pub fn output(&self) -> String {
        self.output.lock().expect("log lock").join("\n")
    }
}
