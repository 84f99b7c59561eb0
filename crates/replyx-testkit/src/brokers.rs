//! Brokers a test owns: a `nats-server` or `redis-server` child on a free loopback port,
//! which the test can stop (by its PID) and start again on the same port, to cut the
//! bus mid-traffic. Nothing here touches the brokers other programs run (4222, 6379).
//!
//! A missing binary fails the test with the package to install: a cluster test that
//! skipped itself would pass without proving anything.

use std::net::SocketAddr;
use std::process::Stdio;
use std::time::Duration;
use tokio::process::{Child, Command};

/// Which broker.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BrokerKind {
    /// `nats-server` (Debian package `nats-server`).
    Nats,
    /// `redis-server` (Debian package `redis-server`).
    Redis,
}

impl BrokerKind {
    fn binary(self) -> &'static str {
        match self {
            BrokerKind::Nats => "nats-server",
            BrokerKind::Redis => "redis-server",
        }
    }
}

/// A broker process this test started.
pub struct Broker {
    /// Which broker.
    pub kind: BrokerKind,
    /// Where it listens (`127.0.0.1:PORT`).
    pub addr: SocketAddr,
    child: Option<Child>,
}

impl Broker {
    /// Starts one on a free port and waits until it accepts connections.
    ///
    /// # Panics
    /// The binary is missing or the broker does not come up.
    pub async fn start(kind: BrokerKind) -> Broker {
        let port = free_port();
        let mut broker = Broker {
            kind,
            addr: SocketAddr::from(([127, 0, 0, 1], port)),
            child: None,
        };
        broker.resume().await;
        broker
    }

    /// The bus URL for it (`nats://…` or `redis://…`).
    pub fn url(&self) -> String {
        match self.kind {
            BrokerKind::Nats => format!("nats://{}", self.addr),
            BrokerKind::Redis => format!("redis://{}", self.addr),
        }
    }

    /// Kills it (SIGKILL, by its PID): every connection drops, nothing is flushed.
    pub async fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.start_kill();
            let _ = child.wait().await;
        }
    }

    /// Freezes it (SIGSTOP, by its PID): connections stay open but nothing is answered,
    /// as over a link cut by a partition, where no FIN or RST arrives.
    ///
    /// # Panics
    /// It is not running, or the signal could not be sent.
    pub fn freeze(&self) {
        self.signal("-STOP");
    }

    /// Lets a frozen broker run again (SIGCONT).
    ///
    /// # Panics
    /// It is not running, or the signal could not be sent.
    pub fn thaw(&self) {
        self.signal("-CONT");
    }

    fn signal(&self, which: &str) {
        let pid = self
            .child
            .as_ref()
            .and_then(Child::id)
            .expect("the broker is running");
        // kill(1) rather than a libc binding: two signals in tests need no unsafe code.
        let status = std::process::Command::new("kill")
            .args([which, &pid.to_string()])
            .status()
            .expect("kill(1) runs");
        assert!(status.success(), "kill {which} {pid} failed");
    }

    /// Starts it again on the same port (after [`Broker::kill`]).
    ///
    /// # Panics
    /// The binary is missing or the broker does not come up.
    pub async fn resume(&mut self) {
        assert!(self.child.is_none(), "the broker is running");
        let port = self.addr.port().to_string();
        let mut cmd = Command::new(self.kind.binary());
        match self.kind {
            BrokerKind::Nats => cmd.args(["-a", "127.0.0.1", "-p", &port]),
            BrokerKind::Redis => cmd.args([
                "--bind",
                "127.0.0.1",
                "--port",
                &port,
                "--save",
                "",
                "--appendonly",
                "no",
            ]),
        };
        cmd.stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .kill_on_drop(true);
        let child = cmd.spawn().unwrap_or_else(|e| {
            panic!(
                "cannot start {bin} ({e}): this test needs it; install the Debian package \
                 `{bin}` (`apt-get install {bin}`; scripts/setup does)",
                bin = self.kind.binary()
            )
        });
        self.child = Some(child);
        let deadline = tokio::time::Instant::now() + crate::WAIT;
        while tokio::net::TcpStream::connect(self.addr).await.is_err() {
            assert!(
                tokio::time::Instant::now() < deadline,
                "{} did not listen on {} in time",
                self.kind.binary(),
                self.addr
            );
            // Polling a port that has no event to await; bounded by the deadline.
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

/// A port free on loopback now (the kernel's pick for port 0).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}
