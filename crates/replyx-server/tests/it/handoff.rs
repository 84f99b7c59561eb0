//! Handoff: the visitor asks for a human, one operator takes the dialog, the bot stays
//! silent while an operator is online and until it is handed back, and every change is
//! one stored status event (with its reason) plus one notice.

use crate::{seeded, texts, ws_base};
use replyx_server::config::ServeOptions;
use replyx_testkit::{create_operator, Fixture, TestOptions, TestServer};
use serde_json::Value;
use std::time::Duration;

fn statuses(events: &[Value]) -> Vec<String> {
    events
        .iter()
        .filter(|e| e["type"] == "dialog.status")
        .map(|e| e["status"].as_str().unwrap().to_owned())
        .collect()
}

fn from(events: &[Value], sender: &str) -> Vec<String> {
    events
        .iter()
        .filter(|e| e["type"] == "message.created" && e["message"]["sender"] == sender)
        .map(|e| e["message"]["text"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn handoff_phrase_take_release_and_hand_back_drive_the_bot_and_are_recorded_once() {
    let (server, fx) = seeded().await;
    // Ann's console is open: an operator is online, so the bot falls silent for a
    // visitor waiting in the queue.
    let _console = fx.console(&ws_base(&server)).await;
    let v = fx.open_widget(None).await;
    let mut vs = v
        .connect(&ws_base(&server), &fx, Some(v.loaded_seq()))
        .await;
    vs.handshake().await;

    v.says(&fx.api, "what is the price?", None).await;
    let (reply, _) = vs.until(|e| e["message"]["sender"] == "assistant").await;
    assert_eq!(reply["message"]["text"], "It costs 10.");

    v.says(&fx.api, "Позовите оператора", None).await;
    let (status, _) = vs.until(|e| e["type"] == "dialog.status").await;
    assert_eq!(status["status"], "waiting_operator");
    assert_eq!(status["reason"], "requested");
    let (position, _) = vs.until(|e| e["type"] == "queue.position").await;
    assert_eq!(
        (
            position["position"].as_u64(),
            position["operators_online"].as_u64()
        ),
        (Some(1), Some(1))
    );
    v.says(&fx.api, "price again?", None).await;
    let (_, after) = vs.until(|e| e["message"]["text"] == "price again?").await;
    let (more, _) = vs.barrier().await;
    assert!(
        from(&[after, more].concat(), "assistant").is_empty(),
        "the bot is silent while an online operator is awaited"
    );

    let (code, taken) = fx.handoff(&v.dialog_id, "take").await;
    assert_eq!(code, 201, "{taken}");
    assert_eq!(taken["status"], "operator");
    assert_eq!(taken["operator"]["name"], "Ann");
    let (code, again) = fx.handoff(&v.dialog_id, "take").await;
    assert_eq!(
        (code, &again["seq"]),
        (200, &taken["seq"]),
        "a repeated take stores nothing"
    );

    create_operator(&server, "bob@example.test", "Bob", "another good password").await;
    let bob = Fixture {
        operator_token: Fixture::login(&fx.api, "bob@example.test", "another good password").await,
        ..fx.clone()
    };
    let (code, body) = bob.handoff(&v.dialog_id, "take").await;
    assert_eq!(code, 409, "{body}");
    assert_eq!(body["error"]["code"], "already_taken");
    let (code, _) = bob.handoff(&v.dialog_id, "release").await;
    assert_eq!(code, 409);

    // Released: back in the queue, not to the bot.
    let (code, released) = fx.handoff(&v.dialog_id, "release").await;
    assert_eq!(
        (code, released["status"].as_str()),
        (201, Some("waiting_operator"))
    );
    assert_eq!(released["reason"], "released");
    assert_eq!(released["from"]["name"], "Ann");
    // Handed back: the bot answers again.
    let (code, back) = fx.handoff(&v.dialog_id, "hand_back").await;
    assert_eq!((code, back["status"].as_str()), (201, Some("ai")));
    v.says(&fx.api, "price now?", None).await;
    let (reply, _) = vs.until(|e| e["message"]["sender"] == "assistant").await;
    assert_eq!(
        reply["message"]["text"], "It costs 10.",
        "the bot answers again"
    );

    let events = fx.admin_events(&v.dialog_id).await;
    let want = ["waiting_operator", "operator", "waiting_operator", "ai"];
    assert_eq!(statuses(&events), want);
    assert_eq!(
        from(&events, "assistant"),
        [replyx_testkit::WELCOME, "It costs 10.", "It costs 10."],
        "no reply while an operator was wanted or held the dialog"
    );
    assert_eq!(
        from(&events, "system").len(),
        4,
        "one notice per change: {:?}",
        from(&events, "system")
    );
    let reload = fx.open_widget(Some(&v.guest_id)).await;
    let reloaded = reload.load["events"].as_array().unwrap();
    assert_eq!(statuses(reloaded), want);
    assert_eq!(from(reloaded, "system"), from(&events, "system"));
}

#[tokio::test]
async fn an_operator_holds_at_most_the_configured_number_of_dialogs() {
    let options = ServeOptions {
        max_dialogs_per_operator: Some(1),
        ..Default::default()
    };
    let server = TestServer::start_with(TestOptions {
        options,
        ..Default::default()
    })
    .await;
    let fx = Fixture::seed(&server).await;
    let a = fx.open_widget(None).await;
    let b = fx.open_widget(None).await;
    assert_eq!(fx.handoff(&a.dialog_id, "take").await.0, 201);
    let (code, body) = fx.handoff(&b.dialog_id, "take").await;
    assert_eq!(code, 409);
    assert_eq!(body["error"]["code"], "operator_capacity");
    assert_eq!(fx.handoff(&a.dialog_id, "close").await.0, 201);
    assert_eq!(
        fx.handoff(&b.dialog_id, "take").await.0,
        201,
        "closing frees a place"
    );
    let (code, body) = fx.handoff(&a.dialog_id, "take").await;
    assert_eq!(
        (code, body["error"]["code"].as_str()),
        (409, Some("dialog_closed"))
    );
}

#[tokio::test]
async fn a_bot_reply_in_production_when_an_operator_takes_over_is_discarded() {
    let options = ServeOptions {
        assistant_reply_delay: Some(Duration::from_secs(2)),
        ..Default::default()
    };
    let server = TestServer::start_with(TestOptions {
        options,
        ..Default::default()
    })
    .await;
    let fx = Fixture::seed(&server).await;
    let v = fx.open_widget(None).await;
    let mut admin = fx
        .admin_socket(&ws_base(&server), &v.dialog_id, Some(v.loaded_seq()))
        .await;
    admin.handshake().await;

    v.says(&fx.api, "price?", None).await;
    admin
        .until(|f| f["type"] == "typing" && f["actor"] == "assistant" && f["state"] == "start")
        .await;
    assert_eq!(fx.handoff(&v.dialog_id, "take").await.0, 201);
    let (_, before_stop) = admin
        .until(|f| f["type"] == "typing" && f["actor"] == "assistant" && f["state"] == "stop")
        .await;
    let (after, _) = admin.barrier().await;
    assert!(from(&[before_stop, after].concat(), "assistant").is_empty());
    let events = fx.admin_events(&v.dialog_id).await;
    assert_eq!(
        from(&events, "assistant"),
        [replyx_testkit::WELCOME],
        "only the welcome; the reply was never stored"
    );
    assert!(!texts(&events).contains(&"It costs 10.".to_owned()));
}
