//! What the store's test files share: fresh stores and the rows they write.
#![allow(dead_code)] // each test file uses its own share of these

use replyx_core::{Assistant, NewAssistant, NewMessage, Store};
use replyx_protocol::{OperatorRef, Sender};
use replyx_store::SqliteStore;
use std::sync::Arc;

/// A fresh SQLite store in its own directory, plus a second handle on the same file
/// (another process's view, with another origin).
pub(crate) async fn sqlite_pair() -> (Arc<dyn Store>, Arc<dyn Store>, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("t.db").display());
    let a = SqliteStore::build(&url, "process-a").await.unwrap();
    let b = SqliteStore::build(&url, "process-b").await.unwrap();
    (Arc::new(a), Arc::new(b), dir)
}

pub(crate) async fn assistant(store: &dyn Store, welcome: Option<&str>) -> Assistant {
    store
        .create_assistant(NewAssistant {
            name: "Helper".into(),
            welcome_message: welcome.map(str::to_owned),
            allowed_domains: vec!["shop.example".into()],
            rules: vec![],
            fallback_reply: None,
        })
        .await
        .unwrap()
}

pub(crate) fn message(
    dialog: replyx_protocol::DialogId,
    text: &str,
    key: Option<&str>,
    internal: bool,
) -> NewMessage {
    NewMessage {
        dialog_id: dialog,
        sender: if internal {
            Sender::Operator
        } else {
            Sender::Visitor
        },
        text: text.into(),
        client_msg_id: key.map(str::to_owned),
        operator: None,
        internal,
        require_status: None,
    }
}

pub(crate) async fn op(store: &dyn Store, name: &str) -> OperatorRef {
    let new = replyx_core::NewOperator {
        email: format!("{name}@example.test"),
        name: name.into(),
        password_hash: "not used here".into(),
    };
    store.create_operator(new).await.unwrap().to_ref()
}
