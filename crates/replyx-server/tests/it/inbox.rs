//! The operators' inbox feed shows new dialogs and their changes live.

use crate::{seeded, ws_base};
use replyx_testkit::WsClient;
use serde_json::json;

#[tokio::test]
async fn the_inbox_feed_shows_new_dialogs_messages_and_unread_counts_live() {
    let (server, fx) = seeded().await;
    let url = format!("{}/ws/admin/inbox", ws_base(&server));
    let mut inbox = WsClient::connect_operator(&url, &fx.operator_token)
        .await
        .unwrap();
    inbox.handshake().await;

    let v = fx.open_widget(None).await;
    // The console also hears of its own operator coming online (operator.presence).
    let (created, _) = inbox.until(|f| f["type"] == "dialog.created").await;
    assert_eq!(created["dialog"]["id"], v.dialog_id.as_str());
    assert_eq!(created["dialog"]["status"], "ai");
    assert_eq!(
        created["dialog"]["last_message"]["text"],
        replyx_testkit::WELCOME
    );
    assert_eq!(created["dialog"]["unread_count"], 0);

    v.says(&fx.api, "I need help", None).await;
    // Rows converge on the dialog's latest state; earlier updates may come first.
    let (updated, _) = inbox
        .until(|f| {
            f["type"] == "dialog.updated" && f["dialog"]["last_message"]["text"] == "I need help"
        })
        .await;
    assert_eq!(updated["dialog"]["unread_count"], 1);

    let mut admin = fx.admin_socket(&ws_base(&server), &v.dialog_id, None).await;
    let (established, _) = admin.handshake().await;
    admin
        .send_json(json!({"type": "read", "up_to": established["last_seq"]}))
        .await;
    let (read, _) = inbox
        .until(|f| f["type"] == "dialog.updated" && f["dialog"]["unread_count"] == 0)
        .await;
    assert_eq!(read["dialog"]["last_message"]["text"], "I need help");

    fx.handoff(&v.dialog_id, "take").await;
    let (taken, _) = inbox.until(|f| f["dialog"]["status"] == "operator").await;
    assert_eq!(taken["dialog"]["operator"]["name"], "Ann");

    let (status, list) = fx
        .api
        .get("/api/dialogs?status=operator", Some(&fx.operator_token))
        .await;
    assert_eq!(status, 200);
    assert_eq!(list["dialogs"][0]["id"], v.dialog_id.as_str());
}

#[tokio::test]
async fn metrics_export_the_protocol_names_with_closed_label_sets() {
    let (server, fx) = seeded().await;
    let v = fx.open_widget(None).await;
    let mut s = v.connect(&ws_base(&server), &fx, None).await;
    s.handshake().await;
    fx.operator_says(&v.dialog_id, "measured", false).await;
    s.next_event().await;
    let text = server.metrics().await;
    for name in [
        "websocket_connections_total{type=\"widget\"} 1",
        "websocket_messages_sent_total{type=\"widget\"}",
        "websocket_message_latency_seconds_bucket{type=\"widget\"",
        "websocket_dropped_slow_consumers_total 0",
        "http_requests_total{route=\"/api/dialogs/{id}/messages\",status=\"201\"} 1",
        "process_resident_memory_bytes",
    ] {
        assert!(text.contains(name), "missing {name}");
    }
    assert!(!text.contains(&v.dialog_id), "no dialog ids in labels");
}
