//! A blue-green deploy of the release that scoped `client_msg_id` per sender: for a
//! moment the old colour still writes rows without `sender_key` into the same SQLite
//! file. A retry of such a message that reaches the new colour must find it, not store
//! it a second time.

#[allow(unused_macros)]
mod support;
use replyx_core::Store;
use replyx_protocol::GuestId;
use replyx_store::SqliteStore;
use support::{assistant, message};

#[tokio::test]
async fn a_message_the_old_colour_wrote_is_found_by_the_new_colours_retry() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("t.db").display());
    let store = SqliteStore::build(&url, "new-colour").await.unwrap();
    let a = assistant(&store, None).await;
    let (d, _, _) = store
        .open_dialog(&a, &GuestId::parse("guest-0001").unwrap())
        .await
        .unwrap();
    // What the old colour's insert looks like: every column but `sender_key`.
    let old = sqlx::SqlitePool::connect(&url).await.unwrap();
    let payload = serde_json::json!({
        "type": "message.created",
        "message": {"id": replyx_protocol::MessageId::new(), "sender": "visitor", "text": "hello",
                    "client_msg_id": "k-1", "created_at": chrono::Utc::now()}
    });
    sqlx::query(
        "INSERT INTO events (dialog_id, seq, prev_visitor_seq, internal, sender, client_msg_id, \
         payload, origin, created_at) VALUES (?, 1, 0, 0, 'visitor', 'k-1', ?, 'old-colour', ?)",
    )
    .bind(d.id.to_string())
    .bind(payload.to_string())
    .bind(chrono::Utc::now())
    .execute(&old)
    .await
    .unwrap();
    sqlx::query("UPDATE dialogs SET last_seq = 1, last_visitor_seq = 1 WHERE id = ?")
        .bind(d.id.to_string())
        .execute(&old)
        .await
        .unwrap();

    let retried = store
        .append_message(message(d.id, "hello", Some("k-1"), false))
        .await
        .unwrap();
    assert!(retried.duplicate, "the retry finds the old colour's row");
    assert_eq!(retried.event.seq.0, 1);
}
