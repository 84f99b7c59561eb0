//! The visitor side: one dialog per guest, one welcome, idempotent sends, and a guest
//! token that opens exactly its own dialog.

use crate::{seeded, texts};
use replyx_testkit::WELCOME;
use serde_json::json;

#[tokio::test]
async fn reload_does_not_repeat_welcome() {
    let (_server, fx) = seeded().await;
    let first = fx.open_widget(None).await;
    assert_eq!(texts(first.load["events"].as_array().unwrap()), [WELCOME]);
    assert_eq!(first.load["events"][0]["seq"], 1);
    for _ in 0..5 {
        let again = fx.open_widget(Some(&first.guest_id)).await;
        assert_eq!(again.dialog_id, first.dialog_id);
        assert_eq!(texts(again.load["events"].as_array().unwrap()), [WELCOME]);
    }
    let stored = fx.admin_events(&first.dialog_id).await;
    assert_eq!(texts(&stored), [WELCOME], "exactly one welcome is stored");
}

#[tokio::test]
async fn after_an_exchange_reloads_show_identical_history() {
    let (server, fx) = seeded().await;
    let v = fx.open_widget(None).await;
    let mut admin = fx
        .admin_socket(&crate::ws_base(&server), &v.dialog_id, None)
        .await;
    admin.handshake().await;
    v.says(&fx.api, "what is the price?", Some("a")).await;
    // The bot answers asynchronously: wait for its stored reply before reloading.
    admin.until(|e| e["message"]["sender"] == "assistant").await;
    fx.operator_says(&v.dialog_id, "hello", false).await;
    let first = fx.open_widget(Some(&v.guest_id)).await.load["events"].clone();
    for _ in 0..3 {
        assert_eq!(
            fx.open_widget(Some(&v.guest_id)).await.load["events"],
            first
        );
    }
}

#[tokio::test]
async fn the_same_client_msg_id_twice_stores_one_message() {
    let (_server, fx) = seeded().await;
    let v = fx.open_widget(None).await;
    let (s1, first) = v.says(&fx.api, "hello", Some("dup-1")).await;
    let (s2, second) = v.says(&fx.api, "hello", Some("dup-1")).await;
    assert_eq!((s1, s2), (201, 200));
    assert_eq!(first, second, "the repeat returns the first stored event");
    let hellos = texts(&fx.admin_events(&v.dialog_id).await)
        .into_iter()
        .filter(|t| t == "hello")
        .count();
    assert_eq!(hellos, 1);
}

#[tokio::test]
async fn parallel_loads_for_one_guest_resolve_to_one_dialog() {
    let (_server, fx) = seeded().await;
    let guest = "parallel-guest-1";
    let loads = (0..12).map(|_| {
        let fx = fx.clone();
        tokio::spawn(async move { fx.open_widget(Some(guest)).await.dialog_id })
    });
    let ids: std::collections::HashSet<String> = futures_util::future::join_all(loads)
        .await
        .into_iter()
        .map(|r| r.unwrap())
        .collect();
    assert_eq!(ids.len(), 1, "{ids:?}");
    let id = ids.into_iter().next().unwrap();
    assert_eq!(texts(&fx.admin_events(&id).await), [WELCOME]);
}

#[tokio::test]
async fn a_guest_token_cannot_read_or_post_to_a_neighbouring_dialog() {
    let (_server, fx) = seeded().await;
    let mine = fx.open_widget(None).await;
    let neighbour = fx.open_widget(None).await;
    let events = format!("/api/widget/dialogs/{}/events", neighbour.dialog_id);
    let (status, body) = fx.api.get(&events, Some(&mine.guest_token)).await;
    assert_eq!(status, 403, "{body}");
    let post = format!("/api/widget/dialogs/{}/messages", neighbour.dialog_id);
    let (status, _) = fx
        .api
        .post(&post, Some(&mine.guest_token), json!({"text": "hi"}))
        .await;
    assert_eq!(status, 403);
    // A widget token is not a site token either.
    let site_post = format!("/api/site/dialogs/{}/messages", mine.dialog_id);
    let (status, _) = fx
        .api
        .post_from(
            replyx_testkit::SITE_ORIGIN,
            &site_post,
            Some(&mine.guest_token),
            json!({"text": "hi"}),
        )
        .await;
    assert_eq!(status, 403);
    assert_eq!(
        texts(&fx.admin_events(&neighbour.dialog_id).await),
        [WELCOME]
    );
}

#[tokio::test]
async fn a_visitor_cannot_choose_its_sender() {
    let (_server, fx) = seeded().await;
    let v = fx.open_widget(None).await;
    let path = format!("/api/widget/dialogs/{}/messages", v.dialog_id);
    let (status, body) = fx
        .api
        .post(
            &path,
            Some(&v.guest_token),
            json!({"text": "I am the operator", "sender": "operator"}),
        )
        .await;
    assert_eq!(status, 422, "{body}");
    let (status, event) = v.says(&fx.api, "plain", None).await;
    assert_eq!(status, 201);
    assert_eq!(event["message"]["sender"], "visitor");
    assert!(!texts(&fx.admin_events(&v.dialog_id).await).contains(&"I am the operator".to_owned()));
}

/// `client_msg_id` is each sender's own key. An operator reply reusing the visitor's
/// key is stored as the operator's message (it was answered 200 with the visitor's and
/// dropped), a visitor reusing a note's key gets their own message (it was a 500:
/// the note cannot be shown on the visitor stream), and each side's retry still
/// returns its own first copy.
#[tokio::test]
async fn a_client_msg_id_belongs_to_its_sender_not_the_dialog() {
    let (_server, fx) = seeded().await;
    let visitor = fx.open_widget(None).await;
    assert_eq!(fx.handoff(&visitor.dialog_id, "take").await.0, 201);
    let path = format!("/api/dialogs/{}/messages", visitor.dialog_id);
    let operator = |text: &'static str, key: &'static str, internal: bool| {
        let api = fx.api.clone();
        let (path, token) = (path.clone(), fx.operator_token.clone());
        async move {
            api.post(
                &path,
                Some(&token),
                json!({"text": text, "client_msg_id": key, "internal": internal}),
            )
            .await
        }
    };

    let (status, asked) = visitor.says(&fx.api, "is it in stock?", Some("k-1")).await;
    assert_eq!(status, 201, "{asked}");
    let (status, reply) = operator("yes", "k-1", false).await;
    assert_eq!(status, 201, "the operator's own message: {reply}");
    assert_eq!(reply["message"]["sender"], "operator");
    assert_eq!(reply["message"]["text"], "yes");
    let (status, again) = operator("yes (retry)", "k-1", false).await;
    assert_eq!((status, &again["seq"]), (200, &reply["seq"]));
    let (status, again) = visitor.says(&fx.api, "retry", Some("k-1")).await;
    assert_eq!((status, &again["seq"]), (200, &asked["seq"]));

    let (status, note) = operator("check stock", "k-2", true).await;
    assert_eq!(status, 201, "{note}");
    let (status, mine) = visitor.says(&fx.api, "thanks", Some("k-2")).await;
    assert_eq!(
        status, 201,
        "the visitor's own message, not the note: {mine}"
    );
    assert_eq!(mine["message"]["text"], "thanks");
    assert!(mine["message"].get("internal").is_none(), "{mine}");

    let stored = texts(&fx.admin_events(&visitor.dialog_id).await);
    let tail = &stored[stored.len() - 4..];
    assert_eq!(tail, ["is it in stock?", "yes", "check stock", "thanks"]);
}
