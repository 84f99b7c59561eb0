//! Settings of `replyx serve`: one struct that clap fills from flags and `REPLYX_*`
//! environment variables and serde fills from the optional TOML file, merged as
//! flag/env > file > default and validated once at start (`bounds`).

mod bounds;
mod topology;
pub use topology::{redact, StoreKind};

use clap::Args;
use serde::Deserialize;
use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Every `serve` setting. `None` means "not given here".
#[derive(Debug, Clone, Default, Args, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServeOptions {
    /// Address to listen on [default: 127.0.0.1:8080]
    #[arg(long, env = "REPLYX_BIND")]
    pub bind: Option<SocketAddr>,
    /// Connections the kernel queues before they are accepted; a reconnect storm
    /// arrives all at once [default: 4096; the kernel caps it at net.core.somaxconn]
    #[arg(long, env = "REPLYX_LISTEN_BACKLOG")]
    pub listen_backlog: Option<u32>,
    /// Store URL: `sqlite://PATH` (one host) or `postgres://…` (a cluster); created or
    /// migrated on start [default: sqlite://replyx.db]
    #[arg(long, env = "REPLYX_DATABASE_URL")]
    pub database_url: Option<String>,
    /// Bus between cluster nodes: `nats://HOST:PORT` or `redis://HOST:PORT`; needed with
    /// PostgreSQL [default: none: in-process, or a shared SQLite file's change feed]
    #[arg(long, env = "REPLYX_BUS_URL")]
    pub bus_url: Option<String>,
    /// Signing secret for tokens; generated into the data directory when unset
    #[arg(long, env = "REPLYX_SECRET", hide_env_values = true)]
    pub secret: Option<String>,
    /// TOML file of signing keys with key ids, per purpose (operator, site, guest), for
    /// rotation [default: none: one key per purpose derived from the secret]
    #[arg(long, env = "REPLYX_KEYS_FILE")]
    pub keys_file: Option<std::path::PathBuf>,
    /// Also create (once) a demo operator and assistant, and print how to try them
    #[arg(long, env = "REPLYX_DEMO")]
    #[serde(default)]
    pub demo: bool,
    /// Visitor (site + widget) connections per dialog [default: 50]
    #[arg(long, env = "REPLYX_MAX_VISITOR_CONNECTIONS_PER_DIALOG")]
    pub max_visitor_connections_per_dialog: Option<usize>,
    /// Admin connections per dialog [default: 50]
    #[arg(long, env = "REPLYX_MAX_ADMIN_CONNECTIONS_PER_DIALOG")]
    pub max_admin_connections_per_dialog: Option<usize>,
    /// WebSocket connections in total in this process [default: 100000]
    #[arg(long, env = "REPLYX_MAX_CONNECTIONS")]
    pub max_connections: Option<usize>,
    /// New WebSocket connections per client IP per minute [default: 100]
    #[arg(long, env = "REPLYX_WS_CONNECTS_PER_IP_PER_MINUTE")]
    pub ws_connects_per_ip_per_minute: Option<u32>,
    /// Visitor HTTP requests (dialog loads, messages) per client IP per minute [default: 600]
    #[arg(long, env = "REPLYX_VISITOR_REQUESTS_PER_IP_PER_MINUTE")]
    pub visitor_requests_per_ip_per_minute: Option<u32>,
    /// Login attempts per client IP per minute; more is 429 [default: 30]
    #[arg(long, env = "REPLYX_LOGIN_ATTEMPTS_PER_IP_PER_MINUTE")]
    pub login_attempts_per_ip_per_minute: Option<u32>,
    /// Wrong passwords in a row for one e-mail before each further one locks it for
    /// twice as long (1 s, 2 s … 15 min) [default: 5]
    #[arg(long, env = "REPLYX_LOGIN_FAILURES_BEFORE_BACKOFF")]
    pub login_failures_before_backoff: Option<u32>,
    /// Password hashes verified at once (each takes ~19 MiB) [default: 2]
    #[arg(long, env = "REPLYX_LOGIN_HASH_CONCURRENCY")]
    pub login_hash_concurrency: Option<usize>,
    /// How long a login waits for a hashing slot before 503 [default: 2s]
    #[arg(long, env = "REPLYX_LOGIN_QUEUE_WAIT", value_parser = humantime::parse_duration)]
    #[serde(default, with = "humantime_serde::option")]
    pub login_queue_wait: Option<Duration>,
    /// Client frames per connection per second; more closes with 1008 [default: 20]
    #[arg(long, env = "REPLYX_CLIENT_FRAMES_PER_SECOND")]
    pub client_frames_per_second: Option<u32>,
    /// Largest client frame in bytes; larger closes with 1009 [default: 16384]
    #[arg(long, env = "REPLYX_MAX_FRAME_BYTES")]
    pub max_frame_bytes: Option<usize>,
    /// Longest message text in characters; longer is HTTP 413 [default: 4000]
    #[arg(long, env = "REPLYX_MAX_MESSAGE_CHARS")]
    pub max_message_chars: Option<usize>,
    /// Events queued per connection; a consumer behind this is closed with 1013 [default: 256]
    #[arg(long, env = "REPLYX_OUTBOX_CAPACITY")]
    pub outbox_capacity: Option<usize>,
    /// Interval of protocol pings [default: 25s]
    #[arg(long, env = "REPLYX_HEARTBEAT_INTERVAL", value_parser = humantime::parse_duration)]
    #[serde(default, with = "humantime_serde::option")]
    pub heartbeat_interval: Option<Duration>,
    /// Silence after which a connection is closed [default: 40s]
    #[arg(long, env = "REPLYX_HEARTBEAT_TIMEOUT", value_parser = humantime::parse_duration)]
    #[serde(default, with = "humantime_serde::option")]
    pub heartbeat_timeout: Option<Duration>,
    /// Drain grace period on SIGTERM/SIGINT [default: 30s]
    #[arg(long, env = "REPLYX_DRAIN_GRACE", value_parser = humantime::parse_duration)]
    #[serde(default, with = "humantime_serde::option")]
    pub drain_grace: Option<Duration>,
    /// Peers whose X-Forwarded-For is trusted (comma-separated IPs) [default: none]
    #[arg(long, env = "REPLYX_TRUSTED_PROXIES", value_delimiter = ',')]
    pub trusted_proxies: Option<Vec<IpAddr>>,
    /// Dialogs one operator may hold at once [default: 20]
    #[arg(long, env = "REPLYX_MAX_DIALOGS_PER_OPERATOR")]
    pub max_dialogs_per_operator: Option<u64>,
    /// How often other processes' changes are read from a shared SQLite file [default: 25ms]
    #[arg(long, env = "REPLYX_BUS_POLL_INTERVAL", value_parser = humantime::parse_duration)]
    #[serde(default, with = "humantime_serde::option")]
    pub bus_poll_interval: Option<Duration>,
    /// Lifetime of operator login tokens [default: 12h]
    #[arg(long, env = "REPLYX_OPERATOR_TOKEN_TTL", value_parser = humantime::parse_duration)]
    #[serde(default, with = "humantime_serde::option")]
    pub operator_token_ttl: Option<Duration>,
    /// How long a checked operator session is trusted before the store is asked again,
    /// and how often open operator sockets re-check theirs [default: 2s]
    #[arg(long, env = "REPLYX_SESSION_CHECK_INTERVAL", value_parser = humantime::parse_duration)]
    #[serde(default, with = "humantime_serde::option")]
    pub session_check_interval: Option<Duration>,
    /// How long an assistant's settings (domains, identity mode, rules) read from the
    /// store are trusted by the per-request paths (a visitor's messages and reads, the
    /// assistant's reply); a change made on this process
    /// applies at once, on other processes within this time; 0 reads every time
    /// [default: 2s]
    #[arg(long, env = "REPLYX_ASSISTANT_CACHE_TTL", value_parser = humantime::parse_duration)]
    #[serde(default, with = "humantime_serde::option")]
    pub assistant_cache_ttl: Option<Duration>,
    /// How long an operator whose console is gone stays online (a reload or a short
    /// network loss is not "offline"); past it their dialogs go back to the queue
    /// [default: 30s]
    #[arg(long, env = "REPLYX_PRESENCE_GRACE", value_parser = humantime::parse_duration)]
    #[serde(default, with = "humantime_serde::option")]
    pub presence_grace: Option<Duration>,
    /// Longest wait for a request's line and headers (and between requests on a
    /// kept-alive connection); then the connection is closed [default: 10s]
    #[arg(long, env = "REPLYX_HTTP_HEADER_TIMEOUT", value_parser = humantime::parse_duration)]
    #[serde(default, with = "humantime_serde::option")]
    pub http_header_timeout: Option<Duration>,
    /// Longest wait for a whole request body, from its headers on; then 408 and the
    /// connection is closed [default: 30s]
    #[arg(long, env = "REPLYX_HTTP_BODY_TIMEOUT", value_parser = humantime::parse_duration)]
    #[serde(default, with = "humantime_serde::option")]
    pub http_body_timeout: Option<Duration>,
    /// Lifetime of visitors' guest tokens; a visitor socket is closed with 4001 when
    /// its token expires [default: 30d]
    #[arg(long, env = "REPLYX_GUEST_TOKEN_TTL", value_parser = humantime::parse_duration)]
    #[serde(default, with = "humantime_serde::option")]
    pub guest_token_ttl: Option<Duration>,
    /// How often the delivery canary runs; 0s turns it off [default: 30s]
    #[arg(long, env = "REPLYX_CANARY_INTERVAL", value_parser = humantime::parse_duration)]
    #[serde(default, with = "humantime_serde::option")]
    pub canary_interval: Option<Duration>,
    /// How long the canary waits for its event to come back [default: 5s]
    #[arg(long, env = "REPLYX_CANARY_TIMEOUT", value_parser = humantime::parse_duration)]
    #[serde(default, with = "humantime_serde::option")]
    pub canary_timeout: Option<Duration>,
    /// Pause before the built-in assistant answers, with its typing indicator [default: 500ms]
    #[arg(long, env = "REPLYX_ASSISTANT_REPLY_DELAY", value_parser = humantime::parse_duration)]
    #[serde(default, with = "humantime_serde::option")]
    pub assistant_reply_delay: Option<Duration>,
}

impl ServeOptions {
    /// Fills every field not given here from `file`.
    pub fn or_file(self, file: ServeOptions) -> ServeOptions {
        macro_rules! pick {
            ($($f:ident),*) => { ServeOptions { demo: self.demo || file.demo, $($f: self.$f.or(file.$f)),* } };
        }
        pick!(
            bind,
            listen_backlog,
            database_url,
            bus_url,
            secret,
            keys_file,
            max_visitor_connections_per_dialog,
            max_admin_connections_per_dialog,
            max_connections,
            ws_connects_per_ip_per_minute,
            visitor_requests_per_ip_per_minute,
            login_attempts_per_ip_per_minute,
            login_failures_before_backoff,
            login_hash_concurrency,
            login_queue_wait,
            client_frames_per_second,
            max_frame_bytes,
            max_message_chars,
            outbox_capacity,
            heartbeat_interval,
            heartbeat_timeout,
            drain_grace,
            trusted_proxies,
            max_dialogs_per_operator,
            bus_poll_interval,
            operator_token_ttl,
            session_check_interval,
            assistant_cache_ttl,
            presence_grace,
            guest_token_ttl,
            http_header_timeout,
            http_body_timeout,
            assistant_reply_delay,
            canary_interval,
            canary_timeout
        )
    }

    /// Reads a TOML file of the same keys (snake_case).
    ///
    /// # Errors
    /// The file is unreadable or has unknown keys or bad values.
    pub fn from_file(path: &Path) -> anyhow::Result<ServeOptions> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| anyhow::anyhow!("cannot read config {}: {e}", path.display()))?;
        toml::from_str(&text).map_err(|e| anyhow::anyhow!("bad config {}: {e}", path.display()))
    }
}

/// Limits enforced per connection, per dialog and per process.
#[derive(Debug, Clone)]
pub struct Limits {
    /// Visitor connections per dialog.
    pub max_visitor_connections_per_dialog: usize,
    /// Admin connections per dialog.
    pub max_admin_connections_per_dialog: usize,
    /// Connections per process.
    pub max_connections: usize,
    /// New sockets per IP per minute.
    pub ws_connects_per_ip_per_minute: u32,
    /// Visitor HTTP requests per IP per minute.
    pub visitor_requests_per_ip_per_minute: u32,
    /// Client frames per second per connection.
    pub client_frames_per_second: u32,
    /// Largest client frame.
    pub max_frame_bytes: usize,
    /// Longest message text, in characters.
    pub max_message_chars: usize,
    /// Outbox capacity.
    pub outbox_capacity: usize,
    /// Protocol ping interval.
    pub heartbeat_interval: Duration,
    /// Silence timeout.
    pub heartbeat_timeout: Duration,
    /// Dialogs one operator may hold.
    pub max_dialogs_per_operator: u64,
    /// Login throttling and the bound on password hashing.
    pub login: crate::auth::login_guard::LoginLimits,
}

/// Resolved settings. `Debug` never shows the secret.
#[derive(Clone)]
pub struct Settings {
    /// Listen address.
    pub bind: SocketAddr,
    /// Accept queue length.
    pub listen_backlog: u32,
    /// Store URL.
    pub database_url: String,
    /// Cluster bus URL, if any.
    pub bus_url: Option<String>,
    /// Explicit secret, if given.
    pub secret: Option<String>,
    /// Keys file, if given.
    pub keys_file: Option<std::path::PathBuf>,
    /// Seed the demo.
    pub demo: bool,
    /// Limits.
    pub limits: Limits,
    /// Drain grace.
    pub drain_grace: Duration,
    /// Trusted proxies.
    pub trusted_proxies: Vec<IpAddr>,
    /// Cross-process poll interval.
    pub bus_poll_interval: Duration,
    /// Operator token lifetime.
    pub operator_token_ttl: Duration,
    /// Operator session cache lifetime and socket re-check period.
    pub session_check_interval: Duration,
    /// Assistant cache lifetime (per-message paths).
    pub assistant_cache_ttl: Duration,
    /// How long an operator without a console stays online.
    pub presence_grace: Duration,
    /// Guest token lifetime.
    pub guest_token_ttl: Duration,
    /// Longest wait for a request's head.
    pub http_header_timeout: Duration,
    /// Longest wait for a request's body.
    pub http_body_timeout: Duration,
    /// Assistant reply pause.
    pub assistant_reply_delay: Duration,
    /// Canary interval (zero: off).
    pub canary_interval: Duration,
    /// Canary timeout.
    pub canary_timeout: Duration,
}

impl std::fmt::Debug for Settings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Settings")
            .field("bind", &self.bind)
            .field("database_url", &topology::redact(&self.database_url))
            .field("bus_url", &self.bus_url.as_deref().map(topology::redact))
            .field("secret", &self.secret.as_ref().map(|_| "<redacted>"))
            .field("limits", &self.limits)
            .field("drain_grace", &self.drain_grace)
            .finish_non_exhaustive()
    }
}

impl Settings {
    /// Applies defaults and validates every bound (`bounds`).
    ///
    /// # Errors
    /// A value is out of its bounds, or two settings contradict each other; the
    /// message names the setting.
    pub fn resolve(o: ServeOptions) -> anyhow::Result<Settings> {
        let settings = Self::from_options_unchecked(o);
        bounds::check(&settings)?;
        topology::check(&settings)?;
        Ok(settings)
    }

    /// Applies defaults without validating (the bounds' own tests).
    pub(crate) fn from_options_unchecked(o: ServeOptions) -> Settings {
        let limits = Limits {
            max_visitor_connections_per_dialog: o.max_visitor_connections_per_dialog.unwrap_or(50),
            max_admin_connections_per_dialog: o.max_admin_connections_per_dialog.unwrap_or(50),
            max_connections: o.max_connections.unwrap_or(100_000),
            ws_connects_per_ip_per_minute: o.ws_connects_per_ip_per_minute.unwrap_or(100),
            visitor_requests_per_ip_per_minute: o.visitor_requests_per_ip_per_minute.unwrap_or(600),
            client_frames_per_second: o.client_frames_per_second.unwrap_or(20),
            max_frame_bytes: o.max_frame_bytes.unwrap_or(16 * 1024),
            max_message_chars: o.max_message_chars.unwrap_or(4000),
            outbox_capacity: o.outbox_capacity.unwrap_or(256),
            heartbeat_interval: o.heartbeat_interval.unwrap_or(Duration::from_secs(25)),
            heartbeat_timeout: o.heartbeat_timeout.unwrap_or(Duration::from_secs(40)),
            max_dialogs_per_operator: o.max_dialogs_per_operator.unwrap_or(20),
            login: crate::auth::login_guard::LoginLimits {
                attempts_per_ip_per_minute: o.login_attempts_per_ip_per_minute.unwrap_or(30),
                failures_before_backoff: o.login_failures_before_backoff.unwrap_or(5),
                hash_concurrency: o.login_hash_concurrency.unwrap_or(2),
                queue_wait: o.login_queue_wait.unwrap_or(Duration::from_secs(2)),
            },
        };
        Settings {
            bind: o
                .bind
                .unwrap_or_else(|| "127.0.0.1:8080".parse().expect("valid address")),
            listen_backlog: o.listen_backlog.unwrap_or(4096),
            database_url: o
                .database_url
                .unwrap_or_else(|| "sqlite://replyx.db".into()),
            bus_url: o.bus_url.filter(|s| !s.is_empty()),
            secret: o.secret.filter(|s| !s.is_empty()),
            keys_file: o.keys_file.filter(|p| !p.as_os_str().is_empty()),
            demo: o.demo,
            limits,
            drain_grace: o.drain_grace.unwrap_or(Duration::from_secs(30)),
            trusted_proxies: o.trusted_proxies.unwrap_or_default(),
            bus_poll_interval: o.bus_poll_interval.unwrap_or(Duration::from_millis(25)),
            operator_token_ttl: o
                .operator_token_ttl
                .unwrap_or(Duration::from_secs(12 * 3600)),
            session_check_interval: o.session_check_interval.unwrap_or(Duration::from_secs(2)),
            assistant_cache_ttl: o.assistant_cache_ttl.unwrap_or(Duration::from_secs(2)),
            presence_grace: o.presence_grace.unwrap_or(Duration::from_secs(30)),
            guest_token_ttl: o
                .guest_token_ttl
                .unwrap_or(crate::auth::tokens::GUEST_TOKEN_TTL),
            http_header_timeout: o.http_header_timeout.unwrap_or(Duration::from_secs(10)),
            http_body_timeout: o.http_body_timeout.unwrap_or(Duration::from_secs(30)),
            assistant_reply_delay: o
                .assistant_reply_delay
                .unwrap_or(Duration::from_millis(500)),
            canary_interval: o.canary_interval.unwrap_or(Duration::from_secs(30)),
            canary_timeout: o.canary_timeout.unwrap_or(Duration::from_secs(5)),
        }
    }

    /// The directory holding the database file (where a generated secret is kept), or
    /// `None` for an in-memory store.
    pub fn data_dir(&self) -> Option<PathBuf> {
        let path = self.database_url.strip_prefix("sqlite:")?;
        if path.contains(":memory:") {
            return None;
        }
        let path = path.trim_start_matches("//");
        let path = path.split('?').next().unwrap_or(path);
        let parent = Path::new(path)
            .parent()
            .map(Path::to_path_buf)
            .unwrap_or_default();
        Some(if parent.as_os_str().is_empty() {
            PathBuf::from(".")
        } else {
            parent
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_beat_file_and_file_beats_defaults() {
        let file: ServeOptions = toml::from_str(
            "max_frame_bytes = 100\nheartbeat_interval = \"5s\"\nmax_connections = 7",
        )
        .unwrap();
        let flags = ServeOptions {
            max_connections: Some(9),
            ..Default::default()
        };
        let s = Settings::resolve(flags.or_file(file)).unwrap();
        assert_eq!(s.limits.max_connections, 9);
        assert_eq!(s.limits.max_frame_bytes, 100);
        assert_eq!(s.limits.heartbeat_interval, Duration::from_secs(5));
        assert_eq!(s.limits.outbox_capacity, 256);
    }

    #[test]
    fn unknown_file_keys_and_bad_limits_are_refused() {
        assert!(toml::from_str::<ServeOptions>("max_frame_byte = 1").is_err());
        let zero = ServeOptions {
            outbox_capacity: Some(0),
            ..Default::default()
        };
        assert!(Settings::resolve(zero).is_err());
    }

    #[test]
    fn data_dir_follows_the_database_path() {
        let mut s = Settings::resolve(ServeOptions::default()).unwrap();
        assert_eq!(s.data_dir(), Some(PathBuf::from(".")));
        s.database_url = "sqlite:///var/lib/replyx/replyx.db?mode=rwc".into();
        assert_eq!(s.data_dir(), Some(PathBuf::from("/var/lib/replyx")));
        s.database_url = "sqlite::memory:".into();
        assert_eq!(s.data_dir(), None);
    }
}
