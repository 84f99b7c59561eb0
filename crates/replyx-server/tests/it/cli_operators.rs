//! `replyx operator …` and `replyx keys …` as an administrator runs them, against the
//! database a running server uses: a change made from the command line ends the
//! sessions it should, and the server's open sockets see it.

use crate::ws_base;
use replyx_testkit::{Fixture, TestOptions, TestServer, WsClient, TEST_SECRET};
use std::process::Stdio;
use std::sync::Arc;

const BIN: &str = env!("CARGO_BIN_EXE_replyx");

/// Runs `replyx args…` on `db`, feeding `stdin`; returns stdout, asserting success.
/// Awaited, not blocked on: the server under test runs on the test's runtime, and a
/// blocked runtime would hold a write transaction the command then waits for.
pub(crate) async fn replyx(db: &str, args: &[&str], stdin: Option<&str>) -> String {
    use tokio::io::AsyncWriteExt;
    let mut child = tokio::process::Command::new(BIN)
        .args(args)
        .env("REPLYX_DATABASE_URL", db)
        .env("REPLYX_SECRET", TEST_SECRET)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("replyx runs");
    let mut input = child.stdin.take().unwrap();
    if let Some(text) = stdin {
        input.write_all(text.as_bytes()).await.unwrap();
    }
    drop(input);
    let out = child.wait_with_output().await.unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "replyx {args:?}: {stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

#[tokio::test]
async fn operators_are_managed_from_the_command_line_while_the_server_runs() {
    let dir = Arc::new(tempfile::tempdir().unwrap());
    let db = replyx_testkit::database_url(&dir);
    let server = TestServer::start_with(TestOptions {
        dir: Some(dir.clone()),
        ..Default::default()
    })
    .await;
    let pw = "a long enough password\n";
    replyx(
        &db,
        &[
            "operator",
            "add",
            "--email",
            "root@example.test",
            "--name",
            "Root",
            "--password-stdin",
        ],
        Some(pw),
    )
    .await;
    let added = replyx(
        &db,
        &[
            "operator",
            "add",
            "--email",
            "bo@example.test",
            "--name",
            "Bo",
            "--password-stdin",
            "--role",
            "agent",
        ],
        Some(pw),
    )
    .await;
    assert!(added.contains("role agent"), "{added}");
    let listed = replyx(&db, &["operator", "list"], None).await;
    assert!(
        listed.contains("admin  active") && listed.contains("agent  active"),
        "{listed}"
    );

    let api = replyx_testkit::Api::new(&server.base);
    let token = Fixture::login(&api, "bo@example.test", pw.trim_end()).await;
    let url = format!("{}/ws/admin/inbox", ws_base(&server));
    let mut inbox = WsClient::connect_operator(&url, &token).await.unwrap();
    inbox.handshake().await;

    // Disabled from the command line: the server's socket closes, the token is dead.
    let out = replyx(
        &db,
        &["operator", "set", "--email", "bo@example.test", "--disable"],
        None,
    )
    .await;
    assert!(out.contains("ended 1 session"), "{out}");
    inbox.expect_close(4001).await;
    let (status, _) = api.get("/api/dialogs", Some(&token)).await;
    assert_eq!(status, 401);

    // Enabled again with a new password: the old one is refused, the new one works.
    replyx(
        &db,
        &["operator", "set", "--email", "bo@example.test", "--enable"],
        None,
    )
    .await;
    replyx(
        &db,
        &[
            "operator",
            "password",
            "--email",
            "bo@example.test",
            "--password-stdin",
        ],
        Some("the new password\n"),
    )
    .await;
    let (status, _) = api
        .post(
            "/api/auth/login",
            None,
            serde_json::json!({"email": "bo@example.test", "password": pw.trim_end()}),
        )
        .await;
    assert_eq!(status, 401);
    let token = Fixture::login(&api, "bo@example.test", "the new password").await;
    let mut inbox = WsClient::connect_operator(&url, &token).await.unwrap();
    inbox.handshake().await;
    let out = replyx(
        &db,
        &["operator", "logout", "--email", "bo@example.test"],
        None,
    )
    .await;
    assert!(out.contains("ended 1 session"), "{out}");
    inbox.expect_close(4001).await;

    replyx(
        &db,
        &["operator", "remove", "--email", "bo@example.test"],
        None,
    )
    .await;
    assert!(!replyx(&db, &["operator", "list"], None)
        .await
        .contains("bo@example.test"));
    server.stop().await;
}

#[tokio::test]
async fn a_key_from_keys_new_is_read_back_by_keys_check() {
    let dir = tempfile::tempdir().unwrap();
    let db = format!("sqlite://{}/replyx.db", dir.path().display());
    let entry = replyx(
        &db,
        &["keys", "new", "--purpose", "site", "--kid", "site-2"],
        None,
    )
    .await;
    // As printed it only verifies; the file needs a signing key for the purpose too.
    let signing = replyx(
        &db,
        &["keys", "new", "--purpose", "site", "--kid", "site-3"],
        None,
    )
    .await
    .replace("verify_only = true", "verify_only = false");
    let file = dir.path().join("keys.toml");
    std::fs::write(&file, format!("{entry}\n{signing}")).unwrap();
    let checked = replyx(
        &db,
        &["keys", "check", "--keys-file", file.to_str().unwrap()],
        None,
    )
    .await;
    assert!(checked.contains("site     site-3 site-2"), "{checked}");
    assert!(checked.contains("operator operator-derived"), "{checked}");
}
