//! `replyx probe` from outside: passes against a working server in both ways in, and
//! fails with a clear reason when something is off.

use crate::seeded;
use std::process::Output;

async fn probe(args: &[&str]) -> Output {
    tokio::process::Command::new(env!("CARGO_BIN_EXE_replyx"))
        .arg("probe")
        .args(args)
        .output()
        .await
        .expect("replyx probe runs")
}

#[tokio::test]
async fn the_probe_passes_against_a_working_server_in_both_ways_in() {
    let (server, fx) = seeded().await;
    let out = probe(&[
        "--url",
        &server.base,
        "--assistant-id",
        &fx.assistant_id,
        "--max-latency",
        "2s",
        "--json",
    ])
    .await;
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["ok"], true, "{report}");
    assert!(report["latency_ms"].as_f64().unwrap() > 0.0);
    let names: Vec<&str> = report["checks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["health", "dialog", "socket", "round_trip"]);

    // Site mode sends the token's first domain as Origin.
    let out = probe(&[
        "--url",
        &server.base,
        "--site-token",
        &fx.site_token,
        "--max-latency",
        "2s",
    ])
    .await;
    assert!(
        out.status.success(),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

#[tokio::test]
async fn the_probe_fails_with_the_reason() {
    let (server, fx) = seeded().await;
    let unknown = replyx_protocol::AssistantId::new().to_string();
    let out = probe(&["--url", &server.base, "--assistant-id", &unknown]).await;
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr)
            .contains("probe failed at probe: dialog load answered 404"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    let out = probe(&[
        "--url",
        &server.base,
        "--assistant-id",
        &fx.assistant_id,
        "--max-latency",
        "0ms",
    ])
    .await;
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("over the limit"));

    let out = probe(&[
        "--url",
        &server.base,
        "--site-token",
        &fx.site_token,
        "--origin",
        "https://evil.example",
    ])
    .await;
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("403"));

    let dead = format!("http://127.0.0.1:{}", server.addr.port());
    server.stop().await;
    let out = probe(&["--url", &dead, "--assistant-id", &fx.assistant_id]).await;
    assert!(!out.status.success(), "a stopped server fails the probe");
}
