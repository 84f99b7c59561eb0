//! When the store cannot write — its writer stuck behind another process's lock, or
//! appends failing — readiness says so, and writes are refused with 503 `unavailable`
//! and `Retry-After`, storing nothing; the client's retry with the same
//! `client_msg_id` stores the message once.

use crate::seeded;
use replyx_testkit::faults::{Fault, Faults};
use replyx_testkit::{database_url, Fixture, TestOptions, TestServer};
use serde_json::json;

#[tokio::test]
async fn readiness_is_503_while_another_process_holds_the_write_lock() {
    let (server, fx) = seeded().await;
    let (status, _) = fx.api.get("/health/ready", None).await;
    assert_eq!(status, 200);
    let mut peer =
        <sqlx::SqliteConnection as sqlx::Connection>::connect(&database_url(&server.dir))
            .await
            .unwrap();
    sqlx::query("BEGIN IMMEDIATE")
        .execute(&mut peer)
        .await
        .unwrap();
    let (status, body) = fx.api.get("/health/ready", None).await;
    assert_eq!(status, 503, "{body}");
    assert!(
        body["store"].as_str().unwrap().contains("write lock"),
        "{body}"
    );
    sqlx::query("ROLLBACK").execute(&mut peer).await.unwrap();
    let (status, body) = fx.api.get("/health/ready", None).await;
    assert_eq!(status, 200, "{body}");
}

#[tokio::test]
async fn a_failing_store_answers_503_unavailable_and_the_retry_stores_once() {
    let faults = Faults::default();
    let server = TestServer::start_with(TestOptions {
        seams: faults.seams(),
        ..Default::default()
    })
    .await;
    let fx = Fixture::seed(&server).await;
    let v = fx.open_widget(None).await;
    let before = fx.admin_events(&v.dialog_id).await.len();

    faults.store.appends(Fault::Fail);
    let resp = reqwest::Client::new()
        .post(format!(
            "{}/api/widget/dialogs/{}/messages",
            server.base, v.dialog_id
        ))
        .bearer_auth(&v.guest_token)
        .json(&json!({"text": "are you there?", "client_msg_id": "m-1"}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 503);
    assert_eq!(resp.headers()["retry-after"], "1");
    let body: serde_json::Value = resp.json().await.unwrap();
    assert_eq!(body["error"]["code"], "unavailable", "{body}");
    assert_eq!(fx.admin_events(&v.dialog_id).await.len(), before);

    faults.store.appends(Fault::None);
    let (status, first) = v.says(&fx.api, "are you there?", Some("m-1")).await;
    assert_eq!(status, 201, "{first}");
    let (status, again) = v.says(&fx.api, "are you there?", Some("m-1")).await;
    assert_eq!((status, &again["seq"]), (200, &first["seq"]));
    let texts = crate::texts(&fx.admin_events(&v.dialog_id).await);
    assert_eq!(
        texts.iter().filter(|t| *t == "are you there?").count(),
        1,
        "{texts:?}"
    );
}
