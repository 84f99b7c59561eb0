//! Key rotation against a running server: the operator key is replaced with an overlap
//! window (tokens signed with the old key keep working during it, new logins get the
//! new key), and site tokens on customers' pages never notice, because site tokens
//! have their own key. Before keyrings, the only remedy for a leaked operator key was
//! rotating the one secret, which broke every site token.

use replyx_server::config::ServeOptions;
use replyx_testkit::{metric, Fixture, TestOptions, TestServer};
use std::path::Path;
use std::sync::Arc;

const OLD: &str = "old-operator-key-0123456789abcdefghijkl";
const NEW: &str = "new-operator-key-0123456789abcdefghijkl";

fn write_keys(path: &Path, entries: &[(&str, &str, bool)]) {
    let text: String = entries
        .iter()
        .map(|(kid, secret, verify_only)| {
            format!(
                "[[key]]\npurpose = \"operator\"\nkid = \"{kid}\"\nsecret = \"{secret}\"\nverify_only = {verify_only}\n"
            )
        })
        .collect();
    std::fs::write(path, text).unwrap();
}

async fn start(dir: &Arc<tempfile::TempDir>, keys: &Path) -> TestServer {
    TestServer::start_with(TestOptions {
        dir: Some(dir.clone()),
        options: ServeOptions {
            keys_file: Some(keys.to_owned()),
            ..Default::default()
        },
        ..Default::default()
    })
    .await
}

fn kid(token: &str) -> String {
    jsonwebtoken::decode_header(token).unwrap().kid.unwrap()
}

#[tokio::test]
async fn the_operator_key_rotates_with_an_overlap_and_site_tokens_keep_working() {
    let dir = Arc::new(tempfile::tempdir().unwrap());
    let keys = dir.path().join("keys.toml");
    write_keys(&keys, &[("op-1", OLD, false)]);
    let server = start(&dir, &keys).await;
    let fx = Fixture::seed(&server).await;
    assert_eq!(kid(&fx.operator_token), "op-1");
    let visitor = fx.open_site(None).await;
    server.stop().await;

    // Overlap: the new key signs, the old one still verifies.
    write_keys(&keys, &[("op-2", NEW, false), ("op-1", OLD, true)]);
    let server = start(&dir, &keys).await;
    let (status, _) = replyx_testkit::Api::new(&server.base)
        .get("/api/dialogs", Some(&fx.operator_token))
        .await;
    assert_eq!(
        status, 200,
        "a token of the old key works during the overlap"
    );
    let fresh = Fixture::login(
        &replyx_testkit::Api::new(&server.base),
        "ann@example.test",
        "correct horse battery",
    )
    .await;
    assert_eq!(kid(&fresh), "op-2");
    let overlap = metric(
        &server.metrics().await,
        "replyx_token_verifications_total{key=\"overlap\",purpose=\"operator\"}",
    );
    assert!(overlap >= 1.0, "the old key's use is counted: {overlap}");
    server.stop().await;

    // After: the old key is gone and its tokens with it; site tokens and guest tokens,
    // signed with their own keys, were never touched.
    write_keys(&keys, &[("op-2", NEW, false)]);
    let server = start(&dir, &keys).await;
    let api = replyx_testkit::Api::new(&server.base);
    let (status, _) = api.get("/api/dialogs", Some(&fx.operator_token)).await;
    assert_eq!(status, 401);
    let (status, _) = api.get("/api/dialogs", Some(&fresh)).await;
    assert_eq!(status, 200);
    let (status, body) = api
        .post_from(
            replyx_testkit::SITE_ORIGIN,
            "/api/site/dialogs",
            None,
            serde_json::json!({"site_token": fx.site_token, "guest_id": visitor.guest_id}),
        )
        .await;
    assert_eq!(status, 200, "the site token still opens dialogs: {body}");
    let (status, _) = visitor.says(&api, "still here", None).await;
    assert_eq!(status, 201, "the guest token still posts");
    server.stop().await;
}

#[tokio::test]
async fn a_bad_keys_file_stops_the_start_with_a_reason() {
    let dir = tempfile::tempdir().unwrap();
    let keys = dir.path().join("keys.toml");
    write_keys(&keys, &[("op-1", "short", false)]);
    let settings = replyx_server::config::Settings::resolve(ServeOptions {
        database_url: Some(format!("sqlite://{}/replyx.db", dir.path().display())),
        bind: Some("127.0.0.1:0".parse().unwrap()),
        keys_file: Some(keys.clone()),
        secret: Some("a test secret of some length".into()),
        ..Default::default()
    })
    .unwrap();
    let err = replyx_server::app::App::build(settings)
        .await
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
    assert!(err.contains("at least 32 characters"), "{err}");
}
