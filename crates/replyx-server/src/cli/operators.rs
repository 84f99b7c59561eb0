//! `replyx operator …`: accounts from the command line, for the first admin of an
//! install and for an admin locked out of the console. These write to the store; a
//! running server sees an ended session on its next check (`session_check_interval`).

use super::admin::origin;
use super::{OperatorCommand, StoreArgs};
use crate::app::open_store;
use crate::auth::password;
use replyx_core::{AccountStatus, NewOperator, Operator, OperatorPatch, Role, Store};
use std::io::Read;
use std::sync::Arc;

/// A role on the command line.
#[derive(Clone, Copy, clap::ValueEnum)]
pub(crate) enum RoleArg {
    /// Operators and assistants as well as dialogs.
    Admin,
    /// Dialogs only.
    Agent,
}

impl From<RoleArg> for Role {
    fn from(r: RoleArg) -> Role {
        match r {
            RoleArg::Admin => Role::Admin,
            RoleArg::Agent => Role::Agent,
        }
    }
}

pub(super) async fn run(command: OperatorCommand) -> anyhow::Result<()> {
    match command {
        OperatorCommand::Add {
            email,
            name,
            role,
            store,
            ..
        } => add(&store, email, name, role.into()).await,
        OperatorCommand::List { store } => list(&store).await,
        OperatorCommand::Set {
            email,
            role,
            disable,
            enable,
            store,
        } => {
            let status = match (disable, enable) {
                (true, _) => Some(AccountStatus::Disabled),
                (_, true) => Some(AccountStatus::Active),
                _ => None,
            };
            anyhow::ensure!(
                role.is_some() || status.is_some(),
                "nothing to change: give --role, --disable or --enable"
            );
            let patch = OperatorPatch {
                role: role.map(Role::from),
                status,
                ..Default::default()
            };
            change(&store, &email, patch).await
        }
        OperatorCommand::Remove { email, store } => {
            let patch = OperatorPatch {
                status: Some(AccountStatus::Removed),
                ..Default::default()
            };
            change(&store, &email, patch).await
        }
        OperatorCommand::Password { email, store, .. } => {
            let hash = password::hash(&read_password()?)?;
            let patch = OperatorPatch {
                password_hash: Some(hash),
                ..Default::default()
            };
            change(&store, &email, patch).await
        }
        OperatorCommand::Logout { email, store } => {
            let store = open(&store).await?;
            let operator = find(&store, &email).await?;
            let ended = store.revoke_sessions(operator.id, None).await?;
            println!("ended {ended} session(s) of {}", operator.email);
            Ok(())
        }
    }
}

async fn open(args: &StoreArgs) -> anyhow::Result<Arc<dyn Store>> {
    Ok(open_store(&args.database_url, &origin()).await?.store)
}

fn read_password() -> anyhow::Result<String> {
    let mut password = String::new();
    std::io::stdin().read_to_string(&mut password)?;
    let password = password.trim_end_matches(['\n', '\r']).to_owned();
    anyhow::ensure!(
        crate::http::session::PASSWORD_CHARS.contains(&password.chars().count()),
        "the password must be 8 to 256 characters"
    );
    Ok(password)
}

async fn find(store: &Arc<dyn Store>, email: &str) -> anyhow::Result<Operator> {
    store
        .operator_by_email(email.trim())
        .await?
        .map(|r| r.operator)
        .filter(|o| o.status != AccountStatus::Removed)
        .ok_or_else(|| anyhow::anyhow!("no operator with e-mail {email}"))
}

fn show(o: &Operator) {
    println!(
        "{}  {:<6} {:<8} {} <{}>",
        o.id,
        o.role.as_str(),
        o.status.as_str(),
        o.name,
        o.email
    );
}

async fn add(args: &StoreArgs, email: String, name: String, role: Role) -> anyhow::Result<()> {
    let password = read_password()?;
    anyhow::ensure!(email.contains('@'), "the e-mail must contain @");
    let store = open(args).await?;
    let hash = password::hash(&password)?;
    let operator = store
        .create_operator(NewOperator {
            email,
            name,
            password_hash: hash,
            role,
        })
        .await
        .map_err(|e| anyhow::anyhow!("adding operator: {e}"))?;
    println!(
        "operator {} <{}> id {} role {}",
        operator.name,
        operator.email,
        operator.id,
        operator.role.as_str()
    );
    Ok(())
}

async fn list(args: &StoreArgs) -> anyhow::Result<()> {
    for o in open(args).await?.list_operators().await? {
        show(&o);
    }
    Ok(())
}

/// Applies a change; a password change or an account that can no longer be used ends
/// every session of the operator.
async fn change(args: &StoreArgs, email: &str, patch: OperatorPatch) -> anyhow::Result<()> {
    let store = open(args).await?;
    let operator = find(&store, email).await?;
    let ends_sessions =
        patch.password_hash.is_some() || patch.status.is_some_and(|s| s != AccountStatus::Active);
    let updated = store.update_operator(operator.id, patch).await?;
    if ends_sessions {
        let ended = store.revoke_sessions(updated.id, None).await?;
        println!("ended {ended} session(s)");
    }
    show(&updated);
    Ok(())
}
