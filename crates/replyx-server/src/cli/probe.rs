//! `replyx probe`.

use crate::probe::{self, ProbeTarget};
use clap::Args;
use std::time::Duration;

#[derive(Args)]
#[command(group(clap::ArgGroup::new("target").required(true).args(["assistant_id", "site_token"])))]
pub(super) struct ProbeArgs {
    /// Base URL of the server (or of the proxy in front of it)
    #[arg(long)]
    url: String,
    /// Probe the widget way in with this assistant
    #[arg(long)]
    assistant_id: Option<String>,
    /// Probe the site way in with this site token
    #[arg(long)]
    site_token: Option<String>,
    /// Origin to send in site mode [default: https:// + the token's first domain]
    #[arg(long)]
    origin: Option<String>,
    /// Longest acceptable round trip from POST to the event on the socket
    #[arg(long, default_value = "100ms", value_parser = humantime::parse_duration)]
    max_latency: Duration,
    /// Give up after this long
    #[arg(long, default_value = "15s", value_parser = humantime::parse_duration)]
    timeout: Duration,
    /// Print the report as JSON
    #[arg(long)]
    json: bool,
}

pub(super) async fn run(args: ProbeArgs) -> anyhow::Result<()> {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let target = match (args.assistant_id, args.site_token) {
        (Some(id), _) => ProbeTarget::Widget(id),
        (None, Some(token)) => ProbeTarget::Site {
            token,
            origin: args.origin,
        },
        (None, None) => anyhow::bail!("give --assistant-id or --site-token"),
    };
    let report = probe::run(&args.url, &target, args.max_latency, args.timeout).await;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        for check in &report.checks {
            println!(
                "{} {:<10} {}",
                if check.ok { "ok  " } else { "FAIL" },
                check.name,
                check.detail
            );
        }
    }
    match report.checks.iter().find(|c| !c.ok) {
        None if report.ok => Ok(()),
        Some(failed) => anyhow::bail!("probe failed at {}: {}", failed.name, failed.detail),
        None => anyhow::bail!("probe failed"),
    }
}
