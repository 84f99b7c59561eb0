//! Framing and content policies as the browser receives them: before, `/widget/frame`
//! could be framed by any site (the assistant id is public in every embed) and the
//! console and API sent no policy at all.

use crate::seeded;

async fn headers(base: &str, path: &str) -> reqwest::header::HeaderMap {
    let resp = reqwest::get(format!("{base}{path}"))
        .await
        .expect("answered");
    assert!(resp.status().is_success(), "{path}: {}", resp.status());
    resp.headers().clone()
}

fn policy(h: &reqwest::header::HeaderMap) -> String {
    h["content-security-policy"].to_str().unwrap().to_owned()
}

#[tokio::test]
async fn the_widget_frame_may_be_framed_only_by_its_assistants_domains() {
    let (server, fx) = seeded().await;
    let h = headers(
        &server.base,
        &format!("/widget/frame?assistant_id={}", fx.assistant_id),
    )
    .await;
    assert!(
        policy(&h).starts_with("frame-ancestors 'self' shop.example:* *.shop.example:*;"),
        "{}",
        policy(&h)
    );
    // No assistant, or an unknown one: only this server's own pages.
    for path in [
        "/widget/frame",
        "/widget/frame?assistant_id=01a23b46-66e0-7457-8028-67dbcfea0b27",
    ] {
        assert!(policy(&headers(&server.base, path).await).starts_with("frame-ancestors 'self';"));
    }
}

#[tokio::test]
async fn the_console_gets_a_strict_policy_and_is_never_framed() {
    let (server, _) = seeded().await;
    let h = headers(&server.base, "/console").await;
    let p = policy(&h);
    for part in [
        "script-src 'self'",
        "frame-ancestors 'none'",
        "object-src 'none'",
        &format!("ws://{}", server.addr),
    ] {
        assert!(p.contains(part), "{part} in {p}");
    }
    assert!(!p.contains("unsafe-inline"), "{p}");
    assert_eq!(h["x-content-type-options"], "nosniff");
    assert_eq!(h["referrer-policy"], "no-referrer");
}

#[tokio::test]
async fn api_answers_allow_nothing_and_no_framing() {
    let (server, _) = seeded().await;
    for path in ["/health", "/api/widget/dialogs/x/events"] {
        let resp = reqwest::get(format!("{}{path}", server.base))
            .await
            .unwrap();
        let h = resp.headers();
        assert_eq!(
            policy(h),
            "default-src 'none'; frame-ancestors 'none'; base-uri 'none'"
        );
        assert_eq!(h["x-frame-options"], "DENY");
        assert_eq!(h["x-content-type-options"], "nosniff");
    }
}
