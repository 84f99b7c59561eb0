//! What the store's test files share: fresh stores and the rows they write.
#![allow(dead_code)] // each test file uses its own share of these

use replyx_core::{Assistant, NewAssistant, NewMessage, Store};
use replyx_protocol::{OperatorRef, Sender};
use replyx_store::scratch::ScratchDatabase;
use replyx_store::{PgStore, SqliteStore};
use std::any::Any;
use std::sync::Arc;

/// Two handles on one fresh database (two processes' views, with two origins), and
/// what keeps the database alive.
pub(crate) type Pair = (Arc<dyn Store>, Arc<dyn Store>, Box<dyn Any + Send>);

/// A fresh SQLite file in its own directory, opened twice (as two processes would).
pub(crate) async fn sqlite_pair() -> Pair {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("t.db").display());
    let a = SqliteStore::build(&url, "process-a").await.unwrap();
    let b = SqliteStore::build(&url, "process-b").await.unwrap();
    (Arc::new(a), Arc::new(b), Box::new(dir))
}

/// A fresh PostgreSQL database, opened by two nodes.
pub(crate) async fn pg_pair() -> Pair {
    let db = ScratchDatabase::create().await;
    let a = PgStore::build(db.url(), "process-a").await.unwrap();
    let b = PgStore::build(db.url(), "process-b").await.unwrap();
    (Arc::new(a), Arc::new(b), Box::new(db))
}

/// A fresh SQLite file and a second handle on it made by `with_origin`.
pub(crate) async fn sqlite_origin_pair() -> Pair {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("t.db").display());
    let own = SqliteStore::build(&url, "process-a").await.unwrap();
    let peer = own.with_origin("process-a/canary");
    (Arc::new(own), Arc::new(peer), Box::new(dir))
}

/// A fresh PostgreSQL database and a second handle on it made by `with_origin`.
pub(crate) async fn pg_origin_pair() -> Pair {
    let db = ScratchDatabase::create().await;
    let own = PgStore::build(db.url(), "process-a").await.unwrap();
    let peer = own.with_origin("process-a/canary");
    (Arc::new(own), Arc::new(peer), Box::new(db))
}

/// Runs each named case (an `async fn(Arc<dyn Store>, Arc<dyn Store>)`) once per
/// backend, as `<module>::<case>` tests, each on a fresh database.
macro_rules! backend_suite {
    ($sqlite:ident = $sqlite_pair:path, $postgres:ident = $pg_pair:path; $($case:ident),+ $(,)?) => {
        backend_suite!(@one $sqlite = $sqlite_pair; $($case),+);
        backend_suite!(@one $postgres = $pg_pair; $($case),+);
    };
    (@one $module:ident = $pair:path; $($case:ident),+) => {
        mod $module {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $case() {
                    let (a, b, keep) = $pair().await;
                    $crate::$case(a, b).await;
                    drop(keep);
                }
            )+
        }
    };
}

pub(crate) async fn assistant(store: &dyn Store, welcome: Option<&str>) -> Assistant {
    store
        .create_assistant(NewAssistant {
            name: "Helper".into(),
            welcome_message: welcome.map(str::to_owned),
            allowed_domains: vec!["shop.example".into()],
            rules: vec![],
            fallback_reply: None,
            ..Default::default()
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
        role: replyx_core::Role::Admin,
    };
    store.create_operator(new).await.unwrap().to_ref()
}

/// Reads the change feed from `cursor` until `ready` holds (at most 10 s). SQLite's
/// feed shows every committed row at once; PostgreSQL's shows a row once every older
/// transaction on the server has ended, which other work on the server (other tests'
/// databases included) can delay by a moment. The wait is a bounded poll because the
/// feed is itself polled: there is no event to await.
pub(crate) async fn changes_when(
    store: &dyn Store,
    cursor: replyx_core::ChangeCursor,
    limit: u32,
    ready: impl Fn(&replyx_core::ChangeBatch) -> bool,
) -> replyx_core::ChangeBatch {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let batch = store.changes_since(cursor, limit).await.unwrap();
        if ready(&batch) {
            return batch;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the change feed did not show the rows within 10 s: {batch:?}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}
