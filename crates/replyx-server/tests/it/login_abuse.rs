//! The login route under attack: each test replays an attack that worked before the
//! login guard (a password spray, a hash-memory flood, account discovery by timing)
//! and checks it no longer does.

use replyx_server::config::ServeOptions;
use replyx_testkit::{create_operator, metric, TestOptions, TestServer};
use serde_json::{json, Value};
use std::time::Duration;

const EMAIL: &str = "ann@example.test";
const PASSWORD: &str = "correct horse battery";

async fn server(options: ServeOptions) -> TestServer {
    let server = TestServer::start_with(TestOptions {
        options,
        ..Default::default()
    })
    .await;
    create_operator(&server, EMAIL, "Ann", PASSWORD).await;
    server
}

/// Status, `Retry-After` (seconds) and body of one login.
async fn login(server: &TestServer, email: &str, password: &str) -> (u16, Option<u64>, Value) {
    let resp = reqwest::Client::new()
        .post(format!("{}/api/auth/login", server.base))
        .json(&json!({"email": email, "password": password}))
        .send()
        .await
        .expect("answered");
    let status = resp.status().as_u16();
    let retry = resp
        .headers()
        .get("retry-after")
        .and_then(|v| v.to_str().ok()?.parse().ok());
    (status, retry, resp.json().await.unwrap_or(Value::Null))
}

async fn metric_of(server: &TestServer, name: &str) -> f64 {
    metric(&server.metrics().await, name)
}

/// Before: 50 wrong passwords in 1.2 s, then the right one worked.
#[tokio::test]
async fn a_password_spray_locks_the_account_and_even_the_right_password_waits() {
    let server = server(ServeOptions::default()).await;
    for _ in 0..5 {
        assert_eq!(login(&server, EMAIL, "guess").await.0, 401);
    }
    let (status, retry, body) = login(&server, EMAIL, PASSWORD).await;
    assert_eq!(status, 429, "{body}");
    assert_eq!(body["error"]["code"], "rate_limited");
    assert!(retry.is_some_and(|s| (1..=900).contains(&s)), "{retry:?}");
    // The same e-mail in other spellings is the same account.
    let (status, _, _) = login(&server, " ANN@example.test", PASSWORD).await;
    assert_eq!(status, 429);
    assert_eq!(
        metric_of(
            &server,
            "replyx_login_attempts_total{outcome=\"throttled_account\"}"
        )
        .await,
        2.0
    );
    assert_eq!(
        metric_of(&server, "replyx_login_attempts_total{outcome=\"wrong\"}").await,
        5.0
    );
    // Another operator is not locked out by the spray against Ann.
    create_operator(&server, "bob@example.test", "Bob", PASSWORD).await;
    assert_eq!(login(&server, "bob@example.test", PASSWORD).await.0, 200);
}

#[tokio::test]
async fn one_ip_gets_its_attempts_per_minute_then_429_with_retry_after() {
    let server = server(ServeOptions {
        login_attempts_per_ip_per_minute: Some(3),
        ..Default::default()
    })
    .await;
    for i in 0..3 {
        let (status, _, _) = login(&server, &format!("nobody{i}@example.test"), "x").await;
        assert_eq!(status, 401);
    }
    let (status, retry, body) = login(&server, EMAIL, PASSWORD).await;
    assert_eq!(status, 429, "{body}");
    assert!(retry.is_some_and(|s| (1..=60).contains(&s)), "{retry:?}");
    assert_eq!(
        metric_of(
            &server,
            "replyx_login_attempts_total{outcome=\"throttled_ip\"}"
        )
        .await,
        1.0
    );
}

/// Before: 96 concurrent wrong-password logins ran 96 hashes of ~19 MiB at once. Now
/// with every slot held, a login waits the queue time and gets 503 without hashing.
#[tokio::test]
async fn password_hashing_is_bounded_and_a_login_without_a_slot_gets_503() {
    let server = server(ServeOptions {
        login_hash_concurrency: Some(2),
        login_queue_wait: Some(Duration::from_millis(50)),
        ..Default::default()
    })
    .await;
    let held = [
        server.state.login.hash_slot().await.expect("slot"),
        server.state.login.hash_slot().await.expect("slot"),
    ];
    let checks = metric_of(&server, "replyx_login_password_checks_total").await;
    let (status, retry, body) = login(&server, EMAIL, PASSWORD).await;
    assert_eq!(status, 503, "{body}");
    assert_eq!(body["error"]["code"], "unavailable");
    assert_eq!(retry, Some(1));
    assert_eq!(
        metric_of(&server, "replyx_login_password_checks_total").await,
        checks,
        "no hash ran"
    );
    drop(held);
    assert_eq!(login(&server, EMAIL, PASSWORD).await.0, 200);

    // Many at once: none fails otherwise than by the documented answers.
    let logins = (0..24).map(|_| login(&server, EMAIL, "wrong"));
    for (status, _, body) in futures_util::future::join_all(logins).await {
        assert!([401, 429, 503].contains(&status), "{status} {body}");
    }
}

/// Before: a known e-mail took ~20 ms (one hash), an unknown one ~1 ms (none). Now both
/// verify one hash.
#[tokio::test]
async fn an_unknown_email_costs_the_same_hash_as_a_wrong_password() {
    let server = server(ServeOptions::default()).await;
    let name = "replyx_login_password_checks_total";
    let start = metric_of(&server, name).await;
    assert_eq!(login(&server, "nobody@example.test", PASSWORD).await.0, 401);
    assert_eq!(metric_of(&server, name).await, start + 1.0);
    let (status, _, unknown) = login(&server, "nobody@example.test", PASSWORD).await;
    let (_, _, wrong) = login(&server, EMAIL, "wrong").await;
    assert_eq!(status, 401);
    assert_eq!(metric_of(&server, name).await, start + 3.0);
    assert_eq!(unknown, wrong, "the same answer for both");
}
