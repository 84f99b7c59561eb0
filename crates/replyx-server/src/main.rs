//! The `replyx` binary.

use clap::Parser;

/// mimalloc instead of the system's malloc: a message's ~220 allocations cost a fifth
/// of its instructions under glibc (docs/perf/RESULTS.md §7), and mimalloc's per-thread
/// free lists make each one a few dozen instructions. Written by others for exactly this;
/// the `mimalloc` feature (default) switches it off for heap profiles.
#[cfg(feature = "mimalloc")]
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

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
