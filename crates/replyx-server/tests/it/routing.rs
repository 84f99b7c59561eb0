//! Connections are registered under the kind of the path they came through, and
//! every path has exactly one handler.

use crate::{seeded, ws_base};
use serde_json::Value;
use std::collections::HashSet;

async fn counts(api: &replyx_testkit::Api) -> Value {
    let (status, body) = api.get("/health/websocket", None).await;
    assert_eq!(status, 200);
    body
}

fn active(body: &Value) -> (u64, u64, u64) {
    (
        body["active_admin_connections"].as_u64().unwrap(),
        body["active_site_connections"].as_u64().unwrap(),
        body["active_widget_connections"].as_u64().unwrap(),
    )
}

#[tokio::test]
async fn each_connection_is_counted_under_its_own_kind_and_no_other() {
    let (server, fx) = seeded().await;
    let base = ws_base(&server);
    let widget = fx.open_widget(None).await;
    let site = fx.open_site(None).await;

    let mut w = widget.connect(&base, &fx, None).await;
    assert_eq!(w.handshake().await.0["kind"], "widget");
    let body = counts(&fx.api).await;
    assert_eq!(active(&body), (0, 0, 1), "{body}");
    assert_eq!(body["total_dialogs_widget"], 1);
    assert_eq!(body["total_dialogs_site"], 0);

    let mut s = site.connect(&base, &fx, None).await;
    assert_eq!(s.handshake().await.0["kind"], "site");
    assert_eq!(active(&counts(&fx.api).await), (0, 1, 1));

    let mut a = fx.admin_socket(&base, &widget.dialog_id, None).await;
    assert_eq!(a.handshake().await.0["kind"], "admin");
    let body = counts(&fx.api).await;
    assert_eq!(active(&body), (1, 1, 1), "{body}");
    assert_eq!(body["total_dialogs_admin"], 1);

    // The hub agrees with the health endpoint.
    let hub = server.state.hub.counts();
    assert_eq!(hub.active, [1, 1, 1]);

    // The Prometheus gauge is per kind too.
    let metrics = server.metrics().await;
    assert!(
        metrics.contains("websocket_connections_total{type=\"widget\"} 1"),
        "{metrics}"
    );
    assert!(metrics.contains("websocket_connections_total{type=\"admin\"} 1"));
}

#[tokio::test]
async fn the_inbox_feed_counts_as_an_admin_socket_without_a_dialog() {
    let (server, fx) = seeded().await;
    let url = format!("{}/ws/admin/inbox", ws_base(&server));
    let mut inbox = replyx_testkit::WsClient::connect_operator(&url, &fx.operator_token)
        .await
        .unwrap();
    let established = inbox.expect_type("connection.established").await;
    assert_eq!(established["kind"], "admin");
    assert!(established.get("dialog_id").is_none());
    let body = counts(&fx.api).await;
    assert_eq!(active(&body), (1, 0, 0));
    assert_eq!(body["total_dialogs_admin"], 0);
}

#[tokio::test]
async fn route_table_serves_each_method_and_path_once_and_each_socket_path_by_one_handler() {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_replyx"))
        .args(["routes", "--check"])
        .output()
        .expect("replyx routes runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let table = String::from_utf8(out.stdout).unwrap();
    let rows: Vec<Vec<&str>> = table
        .lines()
        .skip(1)
        .map(|l| l.split_whitespace().collect())
        .collect();
    let mut seen = HashSet::new();
    for row in &rows {
        assert!(
            seen.insert((row[0], row[1])),
            "{} {} listed twice",
            row[0],
            row[1]
        );
    }
    for (path, handler) in [
        ("/ws/dialogs/{id}", "ws::admin::upgrade"),
        ("/ws/site/dialogs/{id}", "ws::site::upgrade"),
        ("/ws/widget/dialogs/{id}", "ws::widget::upgrade"),
        ("/ws/admin/inbox", "ws::inbox::upgrade"),
    ] {
        let handlers: Vec<&str> = rows.iter().filter(|r| r[1] == path).map(|r| r[2]).collect();
        assert_eq!(handlers, vec![handler], "{path}");
    }
    // Every protocol route is in the table.
    for (method, path) in [
        ("POST", "/api/auth/login"),
        ("POST", "/api/widget/dialogs"),
        ("POST", "/api/site/dialogs"),
        ("GET", "/api/dialogs/{id}/events"),
        ("POST", "/api/dialogs/{id}/handoff"),
        ("GET", "/health/ready"),
        ("GET", "/metrics"),
    ] {
        assert!(seen.contains(&(method, path)), "{method} {path} missing");
    }
}
