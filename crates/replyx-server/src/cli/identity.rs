//! `replyx identity-key new|list|remove|mode`: an assistant's identity keys (what a
//! customer site's backend signs its logged-in users with) and its identity mode,
//! straight in the store, as the admin API does.

use super::admin::origin;
use super::StoreArgs;
use crate::app::open_store;
use crate::auth::identity::new_key;
use crate::http::identity_keys::MAX_KEYS;
use anyhow::{bail, Context};
use clap::{Subcommand, ValueEnum};
use replyx_core::{AssistantPatch, IdentityMode, Store};
use replyx_protocol::AssistantId;

/// What to do with identity keys.
#[derive(Subcommand)]
pub(crate) enum IdentityCommand {
    /// Create a key; prints its id and secret (shown this once).
    New {
        /// The assistant.
        #[arg(long)]
        assistant_id: AssistantId,
        #[command(flatten)]
        store: StoreArgs,
    },
    /// List the assistant's key ids and when they were made (never the secrets).
    List {
        /// The assistant.
        #[arg(long)]
        assistant_id: AssistantId,
        #[command(flatten)]
        store: StoreArgs,
    },
    /// Remove a key: tokens it signed stop verifying at once.
    Remove {
        /// The assistant.
        #[arg(long)]
        assistant_id: AssistantId,
        /// The key id.
        #[arg(long)]
        kid: String,
        #[command(flatten)]
        store: StoreArgs,
    },
    /// Set whether anonymous visitors may chat (`optional`) or only signed-in users
    /// (`enforce`).
    Mode {
        /// The assistant.
        #[arg(long)]
        assistant_id: AssistantId,
        /// The mode.
        mode: Mode,
        #[command(flatten)]
        store: StoreArgs,
    },
}

/// The identity modes, as the command line spells them.
#[derive(Clone, Copy, ValueEnum)]
pub(crate) enum Mode {
    /// Anonymous visitors welcome; identities checked when given.
    Optional,
    /// Signed-in users only.
    Enforce,
}

async fn store(
    args: &StoreArgs,
    assistant: AssistantId,
) -> anyhow::Result<std::sync::Arc<dyn Store>> {
    let store = open_store(&args.database_url, &origin()).await?.store;
    if store.assistant(assistant).await?.is_none() {
        bail!("no assistant {assistant}");
    }
    Ok(store)
}

/// Runs the command.
///
/// # Errors
/// An unknown assistant or key, a full key list, store failures.
pub(crate) async fn run(command: IdentityCommand) -> anyhow::Result<()> {
    match command {
        IdentityCommand::New {
            assistant_id,
            store: args,
        } => {
            let store = store(&args, assistant_id).await?;
            if store.identity_keys(assistant_id).await?.len() >= MAX_KEYS {
                bail!("the assistant holds {MAX_KEYS} identity keys already; remove an old one");
            }
            let key = new_key();
            let (kid, secret) = (key.kid.clone(), key.secret.clone());
            store
                .add_identity_key(assistant_id, key)
                .await
                .context("adding the identity key")?;
            println!("kid {kid}\nsecret {secret}");
        }
        IdentityCommand::List {
            assistant_id,
            store: args,
        } => {
            for key in store(&args, assistant_id)
                .await?
                .identity_keys(assistant_id)
                .await?
            {
                println!("{}\t{}", key.kid, key.created_at.to_rfc3339());
            }
        }
        IdentityCommand::Remove {
            assistant_id,
            kid,
            store: args,
        } => {
            let store = store(&args, assistant_id).await?;
            if !store.remove_identity_key(assistant_id, &kid).await? {
                bail!("the assistant has no identity key {kid}");
            }
            println!("removed {kid}");
        }
        IdentityCommand::Mode {
            assistant_id,
            mode,
            store: args,
        } => {
            let mode = match mode {
                Mode::Optional => IdentityMode::Optional,
                Mode::Enforce => IdentityMode::Enforce,
            };
            let patch = AssistantPatch {
                identity_mode: Some(mode),
                ..Default::default()
            };
            store(&args, assistant_id)
                .await?
                .update_assistant(assistant_id, patch)
                .await?;
            println!("identity mode {}", mode.as_str());
        }
    }
    Ok(())
}
