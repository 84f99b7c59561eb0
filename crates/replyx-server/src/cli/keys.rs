//! `replyx keys new` prints a fresh key entry for a keys file; `replyx keys check`
//! reads one the way the server will and lists its key ids (never the secrets).

use crate::auth::keys::{new_secret, Keys, Purpose};
use std::path::PathBuf;

/// A purpose on the command line.
#[derive(Clone, Copy, clap::ValueEnum)]
pub(crate) enum PurposeArg {
    /// Operator login tokens.
    Operator,
    /// Site embed tokens.
    Site,
    /// Visitors' guest tokens.
    Guest,
}

impl From<PurposeArg> for Purpose {
    fn from(p: PurposeArg) -> Purpose {
        match p {
            PurposeArg::Operator => Purpose::Operator,
            PurposeArg::Site => Purpose::Site,
            PurposeArg::Guest => Purpose::Guest,
        }
    }
}

#[derive(clap::Subcommand)]
pub(crate) enum KeysCommand {
    /// Print a new `[[key]]` entry with a random secret (add it as `verify_only` on
    /// every process first, then make it the signing key; see docs/runbooks/key-rotation.md).
    New {
        /// What the key signs.
        #[arg(long, value_enum)]
        purpose: PurposeArg,
        /// Key id [default: <purpose>-<date>-<random>]
        #[arg(long)]
        kid: Option<String>,
    },
    /// Read a keys file as the server would; print each purpose's key ids, signing first.
    Check {
        /// The keys file.
        #[arg(long, env = "REPLYX_KEYS_FILE")]
        keys_file: PathBuf,
    },
}

pub(super) fn run(command: KeysCommand) -> anyhow::Result<()> {
    match command {
        KeysCommand::New { purpose, kid } => {
            let purpose = Purpose::from(purpose);
            let kid = kid.unwrap_or_else(|| {
                let suffix: String = new_secret()
                    .chars()
                    .filter(char::is_ascii_alphanumeric)
                    .take(4)
                    .collect();
                format!(
                    "{}-{}-{suffix}",
                    purpose.as_str(),
                    chrono::Utc::now().format("%Y%m%d")
                )
            });
            println!(
                "[[key]]\npurpose = \"{}\"\nkid = \"{kid}\"\nsecret = \"{}\"\nverify_only = true",
                purpose.as_str(),
                new_secret()
            );
            Ok(())
        }
        KeysCommand::Check { keys_file } => {
            // The secret only backs purposes the file does not list; any stand-in does.
            let keys = Keys::load("unlisted purposes keep their derived key", Some(&keys_file))?;
            for purpose in Purpose::ALL {
                println!(
                    "{:<8} {}",
                    purpose.as_str(),
                    keys.ring(purpose).kids().join(" ")
                );
            }
            Ok(())
        }
    }
}
