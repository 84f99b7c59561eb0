//! `replyx-load`: the lean load generator (see `replyx_testkit::load`). Prints a JSON
//! report and exits non-zero, naming each reason, when an event was lost, repeated,
//! reordered or misrouted, a dialog's log could not be audited, a send failed for good,
//! nothing was audited, a reconnect storm did not drop and resume every socket, or the
//! connection success rate fell below `--min-success-rate`.

use clap::Parser;
use replyx_testkit::load::{run_chat, ChatLoad, SendVia, SiteEntry, StormPlan};
use std::time::Duration;

/// Visitor/operator pairs exchanging messages, with a seq audit of every socket.
#[derive(Parser)]
#[command(name = "replyx-load")]
struct Args {
    /// Base URL (a server or the proxy in front of it)
    #[arg(long)]
    url: String,
    /// Send HTTP requests (dialog loads, messages, the audit's reads) here instead of
    /// `--url`, which then takes only the sockets
    #[arg(long)]
    http_url: Option<String>,
    /// Assistant the visitors talk to
    #[arg(long)]
    assistant_id: String,
    /// Operator login e-mail
    #[arg(long)]
    operator_email: String,
    /// Operator password
    #[arg(long, env = "REPLYX_LOAD_OPERATOR_PASSWORD")]
    operator_password: String,
    /// Visitor/operator pairs (two sockets each)
    #[arg(long, default_value_t = 50)]
    pairs: usize,
    /// How long messages are sent (SIGINT ends it earlier; the audit still runs)
    #[arg(long, default_value = "30s", value_parser = humantime::parse_duration)]
    duration: Duration,
    /// Pause between one pair's messages (jittered ±50%)
    #[arg(long, default_value = "1s", value_parser = humantime::parse_duration)]
    interval: Duration,
    /// How long sockets may take to catch up at the end
    #[arg(long, default_value = "30s", value_parser = humantime::parse_duration)]
    settle: Duration,
    /// Source addresses for the sockets, comma-separated (e.g. 127.0.0.1,127.0.0.2):
    /// past ~28,000 sockets one address runs out of ports
    #[arg(long, value_delimiter = ',')]
    sources: Vec<std::net::IpAddr>,
    /// Drop every socket at once this long after the set-up (a reconnect storm): each
    /// dialog then gets one message while its sockets are down, and all of them
    /// resume together with `since`
    #[arg(long, value_parser = humantime::parse_duration)]
    storm_at: Option<Duration>,
    /// How long the sockets stay down in the storm
    #[arg(long, default_value = "2s", value_parser = humantime::parse_duration)]
    storm_outage: Duration,
    /// A site token: every second pair is then a visitor of the widget embedded on a
    /// customer page (site routes and sockets, with `--site-origin`)
    #[arg(long, requires = "site_origin")]
    site_token: Option<String>,
    /// The page origin those visitors send (one of the assistant's allowed domains)
    #[arg(long, requires = "site_token")]
    site_origin: Option<String>,
    /// How messages are sent: `http` (POST) or `socket` (`message.send` on the
    /// sender's own socket, POST when it gives no answer)
    #[arg(long, default_value = "http", value_parser = ["http", "socket"])]
    send_via: String,
    /// Lowest acceptable connection success rate
    #[arg(long, default_value_t = 0.999)]
    min_success_rate: f64,
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let args = Args::parse();
    let load = ChatLoad {
        url: args.url.trim_end_matches('/').to_owned(),
        http_url: args.http_url.map(|u| u.trim_end_matches('/').to_owned()),
        assistant_id: args.assistant_id,
        operator_email: args.operator_email,
        operator_password: args.operator_password,
        pairs: args.pairs,
        duration: args.duration,
        interval: args.interval,
        settle: args.settle,
        sources: args.sources,
        storm: args.storm_at.map(|at| StormPlan {
            at,
            outage: args.storm_outage,
        }),
        site: args
            .site_token
            .zip(args.site_origin)
            .map(|(token, origin)| SiteEntry { token, origin }),
        send_via: if args.send_via == "socket" {
            SendVia::Socket
        } else {
            SendVia::Http
        },
    };
    match run_chat(load).await {
        Ok(report) => {
            println!(
                "{}",
                serde_json::to_string_pretty(&report).expect("report serializes")
            );
            let failures = report.failures(args.min_success_rate);
            if failures.is_empty() {
                std::process::ExitCode::SUCCESS
            } else {
                eprintln!("replyx-load: the run failed: {}", failures.join("; "));
                std::process::ExitCode::FAILURE
            }
        }
        Err(e) => {
            eprintln!("replyx-load: {e:#}");
            std::process::ExitCode::from(2)
        }
    }
}
