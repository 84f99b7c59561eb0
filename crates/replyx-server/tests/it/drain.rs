//! SIGTERM drains: readiness turns 503, sockets get 1012 in spread-out batches, the
//! process exits 0 within its grace period.

use replyx_testkit::{Fixture, Incoming, ServerProcess, TEST_SECRET};
use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};

/// Adds an operator through the CLI, as an administrator would.
pub(crate) fn add_operator(bin: &Path, database_url: &str, email: &str, password: &str) {
    let mut child = Command::new(bin)
        .args([
            "operator",
            "add",
            "--email",
            email,
            "--name",
            "Ann",
            "--password-stdin",
        ])
        .env("REPLYX_DATABASE_URL", database_url)
        .env("REPLYX_SECRET", TEST_SECRET)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("replyx operator add runs");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(format!("{password}\n").as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "operator add failed");
    assert!(String::from_utf8_lossy(&out.stdout).contains(email));
}

pub(crate) fn env(database_url: &str) -> Vec<(&'static str, String)> {
    vec![
        ("REPLYX_DATABASE_URL", database_url.to_owned()),
        ("REPLYX_SECRET", TEST_SECRET.to_owned()),
        ("REPLYX_ASSISTANT_REPLY_DELAY", "0ms".to_owned()),
        // Presence settles every sixth of this: quick enough for the cases that wait
        // for an operator to go offline.
        ("REPLYX_PRESENCE_GRACE", "900ms".to_owned()),
    ]
}

#[tokio::test]
async fn sigterm_closes_sockets_with_1012_while_readiness_answers_503_then_exits_0() {
    let bin = Path::new(env!("CARGO_BIN_EXE_replyx"));
    let dir = tempfile::tempdir().unwrap();
    let url = replyx_testkit::database_url(&dir);
    add_operator(bin, &url, "ann@example.test", "correct horse battery");
    let mut env = env(&url);
    env.push(("REPLYX_DRAIN_GRACE", "6s".to_owned()));
    let mut server = ServerProcess::spawn(bin, &env).await;
    let fx = Fixture::seed_http(
        &replyx_testkit::Api::new(&server.base),
        "ann@example.test",
        "correct horse battery",
    )
    .await;
    let (status, _) = fx.api.get("/health/ready", None).await;
    assert_eq!(status, 200);

    let one = fx.open_widget(None).await;
    let two = fx.open_widget(None).await;
    let mut a = one.connect(&server.ws_base(), &fx, None).await;
    let mut b = two.connect(&server.ws_base(), &fx, None).await;
    a.handshake().await;
    b.handshake().await;

    server.terminate();
    // The two sockets are closed in different batches; after the first close the
    // process is still up and says it is draining.
    let (first, second) = tokio::select! {
        c = a.recv() => (c, &mut b),
        c = b.recv() => (c, &mut a),
    };
    assert_eq!(first, Incoming::Closed(Some(1012)));
    let (status, body) = fx.api.get("/health/ready", None).await;
    assert_eq!(
        (status, body["status"].as_str()),
        (503, Some("draining")),
        "{body}"
    );
    let (_, ws_health) = fx.api.get("/health/websocket", None).await;
    assert_eq!(ws_health["status"], "draining");
    assert_eq!(second.recv().await, Incoming::Closed(Some(1012)));
    assert!(
        server.wait_exit(std::time::Duration::from_secs(10)).await,
        "exit 0 within the grace period:\n{}",
        server.output()
    );
}
