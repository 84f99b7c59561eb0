//! `replyx-crossnode`: the cluster's feature check (see `replyx_testkit::crossnode`).
//! Logs in on the first node, creates an assistant with a site token for
//! `https://shop.example`, then runs one round per rotation of the nodes' roles and
//! prints each step. Exits non-zero naming the step that failed.

use clap::Parser;
use replyx_testkit::crossnode::run_round;
use replyx_testkit::{Api, Fixture};

/// Typing, handoff, read marks, the live inbox and the site way in, across nodes.
#[derive(Parser)]
#[command(name = "replyx-crossnode")]
struct Args {
    /// Base URLs of the nodes (at least one), comma-separated
    #[arg(long, value_delimiter = ',', required = true)]
    nodes: Vec<String>,
    /// Operator login e-mail
    #[arg(long)]
    operator_email: String,
    /// Operator password
    #[arg(long, env = "REPLYX_LOAD_OPERATOR_PASSWORD")]
    operator_password: String,
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let args = Args::parse();
    let nodes: Vec<String> = args
        .nodes
        .iter()
        .map(|n| n.trim_end_matches('/').to_owned())
        .collect();
    let fixture = Fixture::seed_http(
        &Api::new(&nodes[0]),
        &args.operator_email,
        &args.operator_password,
    )
    .await;
    let n = nodes.len();
    let mut events = 0;
    for r in 0..n {
        let roles = [0, 1, 2].map(|k| nodes[(r + k) % n].as_str());
        match run_round(&fixture, roles).await {
            Ok(log) => {
                for step in &log.passed {
                    println!("ok   round {}: {step}", r + 1);
                }
                events += log.audited_events;
            }
            Err(failure) => {
                for step in &failure.log.passed {
                    println!("ok   round {}: {step}", r + 1);
                }
                println!("FAIL round {}: {failure}", r + 1);
                return std::process::ExitCode::FAILURE;
            }
        }
    }
    println!("crossnode: {n} rounds on {n} nodes passed, {events} events audited");
    std::process::ExitCode::SUCCESS
}
