//! Test fixtures of the message write path: a store with an open and a closed dialog,
//! messages, a batch committed as the writer would, a dialog's texts.

use super::batch_commit::commit_batch;
use super::borrowed::Held;
use crate::sqlite::test_support::store_with_assistant;
use crate::SqliteStore;
use replyx_core::handoff::HandoffAction;
use replyx_core::{NewMessage, NewOperator, Store, StoreError, Stream};
use replyx_protocol::{DialogId, GuestId, Seq};

pub(crate) fn msg(dialog: DialogId, text: &str, key: Option<&str>) -> NewMessage {
    NewMessage {
        client_msg_id: key.map(str::to_owned),
        ..NewMessage::visitor(dialog, text)
    }
}

/// A store with two open dialogs (no welcome, so both logs are empty) and the
/// second one closed.
pub(crate) async fn store_with_open_and_closed(
) -> (SqliteStore, DialogId, DialogId, tempfile::TempDir) {
    let (store, a, dir) = store_with_assistant().await;
    let (open, _, _) = store.open_dialog(&a, &GuestId::generate()).await.unwrap();
    let (closed, _, _) = store.open_dialog(&a, &GuestId::generate()).await.unwrap();
    let op = store
        .create_operator(NewOperator {
            email: "ann@example.test".into(),
            name: "Ann".into(),
            password_hash: "unused".into(),
            role: replyx_core::Role::Admin,
        })
        .await
        .unwrap()
        .to_ref();
    store
        .handoff(closed.id, HandoffAction::Close(op), 5)
        .await
        .unwrap();
    (store, open.id, closed.id, dir)
}

/// Commits `batch` as the writer would, on the store's write connection.
pub(crate) async fn commit(
    store: &SqliteStore,
    batch: &[NewMessage],
) -> Vec<Result<replyx_core::Appended, StoreError>> {
    let mut conn = store.write.acquire().await.unwrap();
    let mut locked = conn.lock_handle().await.unwrap();
    let held = Held::lock(&mut locked).unwrap();
    let results = commit_batch(&held.db, "test", &batch.iter().collect::<Vec<_>>());
    assert!(held.db.is_autocommit(), "no transaction is left open");
    results
}

pub(crate) async fn texts(store: &SqliteStore, dialog: DialogId) -> Vec<(u64, String)> {
    let events = store
        .events_since(dialog, Seq(0), 1000, Stream::Admin)
        .await
        .unwrap();
    events
        .iter()
        .map(|e| match &e.payload {
            replyx_protocol::EventPayload::MessageCreated { message } => {
                (e.seq.0, message.text.clone())
            }
            other => panic!("unexpected event {other:?}"),
        })
        .collect()
}
