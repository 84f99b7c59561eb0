//! The `replyx` command line: `serve`, `migrate`, `operator add`, `assistant add`,
//! `routes`.

mod admin;
mod probe;
mod serve;

use crate::config::ServeOptions;
use clap::{Args, Parser, Subcommand};
use std::path::PathBuf;

/// ReplyX Realtime: the realtime core of a website chat.
#[derive(Parser)]
#[command(name = "replyx", version, about)]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the server (HTTP API, WebSockets, health, metrics).
    Serve {
        /// TOML file with the same keys as the flags (snake_case); flags and
        /// environment variables take precedence over it.
        #[arg(long, env = "REPLYX_CONFIG")]
        config: Option<PathBuf>,
        #[command(flatten)]
        options: Box<ServeOptions>,
    },
    /// Create or upgrade the database schema, then exit.
    Migrate(StoreArgs),
    /// Manage operators.
    #[command(subcommand)]
    Operator(OperatorCommand),
    /// Manage assistants.
    #[command(subcommand)]
    Assistant(AssistantCommand),
    /// Act as a visitor from outside: check health, load a dialog, connect, post, and
    /// time the round trip. Exits non-zero with the reason when anything is off.
    Probe(probe::ProbeArgs),
    /// Print the route table: method, path, handler, auth.
    Routes {
        /// Exit non-zero when a (method, path) is served twice, a WebSocket path is not
        /// served by exactly one handler of its kind, or the router the server builds
        /// serves anything else than the table (read off the built router itself).
        #[arg(long)]
        check: bool,
    },
}

/// Where the store is (and its secret, for commands that sign tokens).
#[derive(Args, Clone)]
struct StoreArgs {
    /// Store URL [default: sqlite://replyx.db]
    #[arg(
        long,
        env = "REPLYX_DATABASE_URL",
        default_value = "sqlite://replyx.db"
    )]
    database_url: String,
    /// Signing secret; by default the one kept beside the database
    #[arg(long, env = "REPLYX_SECRET", hide_env_values = true)]
    secret: Option<String>,
}

#[derive(Subcommand)]
enum OperatorCommand {
    /// Add an operator; the password is read from standard input.
    Add {
        /// Login e-mail.
        #[arg(long)]
        email: String,
        /// Display name.
        #[arg(long)]
        name: String,
        /// Read the password from stdin (required: passwords never go in arguments).
        #[arg(long, required = true)]
        password_stdin: bool,
        #[command(flatten)]
        store: StoreArgs,
    },
}

#[derive(Subcommand)]
enum AssistantCommand {
    /// Add an assistant; prints its id and a site token.
    Add {
        /// Display name.
        #[arg(long)]
        name: String,
        /// Welcome message stored as the first event of each new dialog.
        #[arg(long)]
        welcome: Option<String>,
        /// Allowed embedding host (repeat for several).
        #[arg(long = "domain")]
        domains: Vec<String>,
        /// Reply when no rule matches.
        #[arg(long)]
        fallback: Option<String>,
        #[command(flatten)]
        store: StoreArgs,
    },
}

impl Cli {
    /// Runs the chosen command.
    ///
    /// # Errors
    /// Whatever the command reports.
    pub async fn run(self) -> anyhow::Result<()> {
        match self.command {
            Command::Serve { config, options } => serve::run(config, *options).await,
            Command::Migrate(store) => admin::migrate(&store).await,
            Command::Operator(OperatorCommand::Add {
                email, name, store, ..
            }) => admin::add_operator(&store, email, name).await,
            Command::Assistant(AssistantCommand::Add {
                name,
                welcome,
                domains,
                fallback,
                store,
            }) => admin::add_assistant(&store, name, welcome, domains, fallback).await,
            Command::Routes { check } => admin::routes(check).await,
            Command::Probe(args) => probe::run(args).await,
        }
    }
}
