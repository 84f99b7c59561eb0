//! `replyx serve`.

use crate::app::App;
use crate::config::{ServeOptions, Settings};
use crate::demo;
use std::path::PathBuf;

pub(super) async fn run(config: Option<PathBuf>, options: ServeOptions) -> anyhow::Result<()> {
    let options = match config {
        Some(path) => options.or_file(ServeOptions::from_file(&path)?),
        None => options,
    };
    let settings = Settings::resolve(options)?;
    warn_unknown_env();
    let demo_wanted = settings.demo;
    let app = App::build(settings).await?;
    if demo_wanted {
        let seeded = demo::seed(app.state.store.as_ref(), &app.state.tokens).await?;
        let base = format!("http://{}", app.local_addr()?);
        println!(
            "\nReplyX demo is ready.\n  demo shop:      {base}/demo  (widget in an iframe; {base}/demo?mode=site embeds it in the page)\n  \
             console:        {base}/console  (log in as {email} / {password})\n  \
             assistant id:   {id}\n  site token:     {token}\n  health:         {base}/health/websocket\n",
            email = demo::DEMO_EMAIL,
            password = demo::DEMO_PASSWORD,
            id = seeded.assistant.id,
            token = seeded.site_token,
        );
    }
    app.run(shutdown_signal()).await
}

/// Resolves on SIGTERM or SIGINT.
async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(e) => {
                tracing::warn!(error = %e, "cannot listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {}
        _ = term => {}
    }
}

/// Warns about `REPLYX_*` variables that no setting reads (usually a typo).
fn warn_unknown_env() {
    use clap::CommandFactory;
    let cmd = super::Cli::command();
    let known: Vec<String> = cmd
        .get_subcommands()
        .flat_map(|c| c.get_arguments())
        .filter_map(|a| a.get_env().map(|e| e.to_string_lossy().into_owned()))
        .collect();
    for (key, _) in std::env::vars() {
        if key.starts_with("REPLYX_") && !known.contains(&key) {
            tracing::warn!(variable = %key, "unknown REPLYX_ environment variable ignored");
        }
    }
}
