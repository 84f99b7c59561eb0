//! `replyx migrate`, `assistant add`, `routes`.

use super::StoreArgs;
use crate::app::open_store;
use crate::auth::Tokens;
use crate::config::{ServeOptions, Settings};
use crate::{http, secret};
use replyx_core::NewAssistant;
use std::time::Duration;

pub(super) fn origin() -> String {
    format!("cli-{}", uuid::Uuid::new_v4())
}

pub(super) async fn migrate(args: &StoreArgs) -> anyhow::Result<()> {
    open_store(&args.database_url, &origin()).await?;
    println!("migrated {}", crate::config::redact(&args.database_url));
    Ok(())
}

pub(super) async fn add_assistant(
    args: &StoreArgs,
    name: String,
    welcome: Option<String>,
    domains: Vec<String>,
    fallback: Option<String>,
) -> anyhow::Result<()> {
    let store = open_store(&args.database_url, &origin()).await?.store;
    // Only the data directory matters here (where a generated secret is kept).
    let settings = Settings::from_options_unchecked(ServeOptions {
        database_url: Some(args.database_url.clone()),
        ..Default::default()
    });
    let secret = secret::resolve(args.secret.as_deref(), settings.data_dir().as_deref())?;
    let assistant = store
        .create_assistant(NewAssistant {
            name,
            welcome_message: welcome,
            allowed_domains: domains,
            rules: Vec::new(),
            fallback_reply: fallback,
            ..Default::default()
        })
        .await
        .map_err(|e| anyhow::anyhow!("adding assistant: {e}"))?;
    let keys = crate::auth::keys::Keys::load(&secret, args.keys_file.as_deref())?;
    let token = Tokens::with_keys(keys, Duration::from_secs(1))
        .sign_site(assistant.id, &assistant.allowed_domains);
    println!("assistant_id {}\nsite_token {}", assistant.id, token);
    Ok(())
}

/// Prints the route table; with `check`, also checks it, and checks it against the
/// router the server actually builds (see `http::served`).
pub(super) async fn routes(check: bool) -> anyhow::Result<()> {
    let table = http::table();
    print!("{}", http::render_table(&table));
    if check {
        let mut problems = http::check_table(&table).err().unwrap_or_default();
        let router = http::router(built_state().await?);
        match http::served::served(&router).await {
            Ok(served) => {
                problems.extend(http::served::compare(&table, &served));
                if problems.is_empty() {
                    eprintln!(
                        "route check: ok ({} routes in the table, {} (method, path) pairs served by the built router)",
                        table.len(),
                        served.len()
                    );
                }
            }
            Err(e) => problems.push(e),
        }
        if !problems.is_empty() {
            for p in &problems {
                eprintln!("route check: {p}");
            }
            anyhow::bail!("{} route problem(s)", problems.len());
        }
    }
    Ok(())
}

/// The server's state, built as `serve` builds it, on an in-memory store with the
/// canary off: enough to build the real router and ask it what it serves.
async fn built_state() -> anyhow::Result<crate::state::AppState> {
    let settings = Settings::resolve(ServeOptions {
        database_url: Some("sqlite::memory:".into()),
        canary_interval: Some(Duration::ZERO),
        ..Default::default()
    })?;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    Ok(crate::app::App::build_with_listener(settings, listener)
        .await?
        .state)
}
