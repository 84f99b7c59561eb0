//! The `replyx` binary.

use clap::Parser;

#[tokio::main]
async fn main() -> std::process::ExitCode {
    replyx_server::telemetry::init();
    match replyx_server::cli::Cli::parse().run().await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("replyx: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
