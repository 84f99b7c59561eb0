//! The `replyx` command line: `serve`, `migrate`, `operator add|list|set|remove|
//! password|logout`, `assistant add`, `identity-key new|list|remove|mode`, `keys
//! new|check`, `routes`, `probe`.

mod admin;
mod identity;
mod keys;
mod operators;
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
    /// An assistant's identity keys (visitor identity verification) and its identity
    /// mode.
    #[command(subcommand)]
    IdentityKey(identity::IdentityCommand),
    /// Signing keys: make a new one for a keys file, or check a keys file.
    #[command(subcommand)]
    Keys(keys::KeysCommand),
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
pub(crate) struct StoreArgs {
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
    /// Signing keys file (see `replyx keys new`)
    #[arg(long, env = "REPLYX_KEYS_FILE")]
    keys_file: Option<PathBuf>,
}

#[derive(Subcommand)]
pub(crate) enum OperatorCommand {
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
        /// What the operator may do (the first operator of a new install is an admin).
        #[arg(long, value_enum, default_value = "admin")]
        role: operators::RoleArg,
        #[command(flatten)]
        store: StoreArgs,
    },
    /// List operators (removed ones are not shown).
    List {
        #[command(flatten)]
        store: StoreArgs,
    },
    /// Change an operator's role or status; disabling ends their sessions.
    Set {
        /// Login e-mail.
        #[arg(long)]
        email: String,
        /// New role.
        #[arg(long, value_enum)]
        role: Option<operators::RoleArg>,
        /// Disable the account (sessions end, sockets close with 4001).
        #[arg(long, conflicts_with = "enable")]
        disable: bool,
        /// Enable a disabled account.
        #[arg(long)]
        enable: bool,
        #[command(flatten)]
        store: StoreArgs,
    },
    /// Remove an operator: they cannot log in, their sessions end.
    Remove {
        /// Login e-mail.
        #[arg(long)]
        email: String,
        #[command(flatten)]
        store: StoreArgs,
    },
    /// Set a new password, read from standard input; every session of the operator ends.
    Password {
        /// Login e-mail.
        #[arg(long)]
        email: String,
        /// Read the password from stdin (required: passwords never go in arguments).
        #[arg(long, required = true)]
        password_stdin: bool,
        #[command(flatten)]
        store: StoreArgs,
    },
    /// End every session of an operator (a lost laptop) without other changes.
    Logout {
        /// Login e-mail.
        #[arg(long)]
        email: String,
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
            Command::Operator(command) => operators::run(command).await,
            Command::Keys(command) => keys::run(command),
            Command::IdentityKey(command) => identity::run(command).await,
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
