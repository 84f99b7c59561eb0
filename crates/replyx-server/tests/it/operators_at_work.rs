//! Operators at work, through real HTTP and sockets: presence follows consoles with a
//! grace period, the queue keeps order and tells visitors where they stand, the routing
//! queue assigns by itself under concurrent pickups without ever giving a dialog twice
//! or overfilling an operator, a lost operator's dialogs go back to the queue, transfers
//! and hand-backs, "no one is online", ratings, canned responses and the inbox search.

use crate::ws_base;
use replyx_server::config::ServeOptions;
use replyx_testkit::{create_operator, Fixture, TestOptions, TestServer, WsClient};
use serde_json::{json, Value};
use std::time::{Duration, Instant};

/// Presence settles every sixth of this: fast enough for tests, slow enough to tell a
/// reload from a departure.
const GRACE: Duration = Duration::from_millis(900);

async fn server(max_dialogs: u64) -> (TestServer, Fixture) {
    let server = TestServer::start_with(TestOptions {
        options: ServeOptions {
            presence_grace: Some(GRACE),
            max_dialogs_per_operator: Some(max_dialogs),
            ..Default::default()
        },
        ..Default::default()
    })
    .await;
    let fx = Fixture::seed(&server).await;
    (server, fx)
}

/// Another operator of the fixture's assistant, logged in.
async fn colleague(server: &TestServer, fx: &Fixture, name: &str) -> Fixture {
    let email = format!("{}@example.test", name.to_lowercase());
    create_operator(server, &email, name, "a good long password").await;
    Fixture {
        operator_token: Fixture::login(&fx.api, &email, "a good long password").await,
        ..fx.clone()
    }
}

async fn me(fx: &Fixture) -> Value {
    fx.api.get("/api/auth/me", Some(&fx.operator_token)).await.1
}

async fn auto_assign(fx: &Fixture, on: bool) {
    let (status, body) = fx
        .api
        .patch(
            &format!("/api/assistants/{}", fx.assistant_id),
            Some(&fx.operator_token),
            json!({"auto_assign": on}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
}

/// The next `operator.presence` frame for `name` on a console feed.
async fn presence_of(feed: &mut WsClient, name: &str) -> String {
    let (frame, _) = feed
        .until(|f| f["type"] == "operator.presence" && f["operator"]["name"] == name)
        .await;
    frame["status"].as_str().unwrap().to_owned()
}

async fn request_operator(fx: &Fixture) -> replyx_testkit::Visitor {
    let v = fx.open_widget(None).await;
    v.says(&fx.api, "operator please", None).await;
    v
}

async fn status_of(fx: &Fixture, dialog: &str) -> Value {
    fx.api
        .get(&format!("/api/dialogs/{dialog}"), Some(&fx.operator_token))
        .await
        .1
}

#[tokio::test]
async fn presence_follows_consoles_and_a_reload_is_not_offline() {
    let (server, ann) = server(5).await;
    let bo = colleague(&server, &ann, "Bo").await;
    let mut watching = bo.console(&ws_base(&server)).await;
    let console = ann.console(&ws_base(&server)).await;
    assert_eq!(presence_of(&mut watching, "Ann").await, "online");
    // A reload: the console closes and opens again at once.
    drop(console);
    let console = ann.console_again(&ws_base(&server)).await;
    // Away and back are announced; the reload in between was not.
    let (status, body) = ann
        .api
        .put(
            "/api/auth/presence",
            Some(&ann.operator_token),
            json!({"status": "away"}),
        )
        .await;
    assert_eq!(
        (status, body["status"].as_str()),
        (200, Some("away")),
        "{body}"
    );
    assert_eq!(presence_of(&mut watching, "Ann").await, "away");
    ann.api
        .put(
            "/api/auth/presence",
            Some(&ann.operator_token),
            json!({"status": "online"}),
        )
        .await;
    assert_eq!(presence_of(&mut watching, "Ann").await, "online");
    // Gone for good: offline once the grace period is over, not before.
    let left = Instant::now();
    drop(console);
    assert_eq!(presence_of(&mut watching, "Ann").await, "offline");
    assert!(
        left.elapsed() >= GRACE,
        "offline after {:?}",
        left.elapsed()
    );
    let (_, listed) = bo
        .api
        .get("/api/operators/presence", Some(&bo.operator_token))
        .await;
    let states: Vec<(&str, &str)> = listed["operators"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            (
                p["operator"]["name"].as_str().unwrap(),
                p["status"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(states, [("Ann", "offline"), ("Bo", "online")]);
    let (status, _) = ann
        .api
        .put(
            "/api/auth/presence",
            Some(&ann.operator_token),
            json!({"status": "offline"}),
        )
        .await;
    assert_eq!(status, 422, "offline is not a choice");
}

#[tokio::test]
async fn the_queue_keeps_order_and_tells_each_visitor_where_they_stand() {
    let (server, ann) = server(5).await;
    let _console = ann.console(&ws_base(&server)).await;
    let mut visitors = Vec::new();
    for _ in 0..3 {
        let v = request_operator(&ann).await;
        let mut socket = v.connect(&ws_base(&server), &ann, None).await;
        socket.handshake().await;
        visitors.push((v, socket));
    }
    // The last one's load says where it stands.
    let (status, load) = ann
        .api
        .post(
            "/api/widget/dialogs",
            None,
            json!({"assistant_id": ann.assistant_id, "guest_id": visitors[2].0.guest_id}),
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(load["queue"]["position"], 3, "{load}");
    assert_eq!(load["queue"]["queue_length"], 3);
    assert_eq!(load["queue"]["operators_online"], 1);
    // The first is taken: the others move up, and hear it.
    assert_eq!(ann.handoff(&visitors[0].0.dialog_id, "take").await.0, 201);
    for (i, (_, socket)) in visitors.iter_mut().enumerate().skip(1) {
        // Stood at i + 1 of 3 before; now i of 2.
        let (frame, _) = socket
            .until(|f| {
                f["type"] == "queue.position" && f["queue_length"] == 2 && f["position"] == i as u64
            })
            .await;
        assert!(
            frame["expected_wait_s"].as_u64().is_some(),
            "a pickup happened: {frame}"
        );
    }
    let (_, inbox) = ann
        .api
        .get(
            "/api/dialogs?status=waiting_operator",
            Some(&ann.operator_token),
        )
        .await;
    let rows = inbox["dialogs"].as_array().unwrap();
    assert_eq!(rows.len(), 2);
    assert!(rows
        .iter()
        .all(|r| r["queued_at"].is_string() && r["visitor_label"].is_string()));
}

#[tokio::test]
async fn auto_assignment_gives_each_dialog_once_and_never_past_capacity() {
    let (server, ann) = server(2).await;
    let bo = colleague(&server, &ann, "Bo").await;
    auto_assign(&ann, true).await;
    let _a = ann.console(&ws_base(&server)).await;
    let _b = bo.console(&ws_base(&server)).await;
    // Six visitors ask at once; two operators with room for two each. Each waits on
    // its own stream for an operator; four get one, two stay in the queue.
    let (given, mut handed) = tokio::sync::mpsc::unbounded_channel();
    let mut asking = Vec::new();
    let mut visitors = Vec::new();
    for _ in 0..6 {
        let v = ann.open_widget(None).await;
        visitors.push(v.clone());
        let (fx, base, given) = (ann.clone(), ws_base(&server), given.clone());
        asking.push(tokio::spawn(async move {
            let mut socket = v.connect(&base, &fx, Some(v.loaded_seq())).await;
            socket.handshake().await;
            v.says(&fx.api, "operator please", None).await;
            socket
                .until(|e| e["type"] == "dialog.status" && e["status"] == "waiting_operator")
                .await;
            given.send((v.dialog_id.clone(), None)).unwrap();
            let (assigned, _) = socket
                .until(|e| e["type"] == "dialog.status" && e["reason"] == "assigned")
                .await;
            let name = assigned["operator"]["name"].as_str().unwrap().to_owned();
            given.send((v.dialog_id.clone(), Some(name))).unwrap();
        }));
    }
    let mut held = std::collections::HashMap::new();
    let mut assigned_dialogs = Vec::new();
    let (mut queued, mut assigned) = (0, 0);
    // Every one queued, and four given to someone (in any order).
    while queued < 6 || assigned < 4 {
        match handed.recv().await.unwrap() {
            (_, None) => queued += 1,
            (dialog, Some(name)) => {
                assigned += 1;
                *held.entry(name).or_insert(0) += 1;
                assigned_dialogs.push(dialog);
            }
        }
    }
    for task in &asking {
        task.abort();
    }
    assert_eq!(held.get("Ann"), Some(&2), "{held:?}");
    assert_eq!(held.get("Bo"), Some(&2), "{held:?}");
    let waiting: Vec<String> = visitors
        .iter()
        .map(|v| v.dialog_id.clone())
        .filter(|d| !assigned_dialogs.contains(d))
        .collect();
    for d in &waiting {
        assert_eq!(status_of(&ann, d).await["status"], "waiting_operator");
    }
    for v in &visitors {
        let events = ann.admin_events(&v.dialog_id).await;
        let assigned = events
            .iter()
            .filter(|e| e["type"] == "dialog.status" && e["reason"] == "assigned")
            .count();
        assert!(assigned <= 1, "{} assigned {assigned} times", v.dialog_id);
    }
    // A place frees up: the longest-waiting dialog is given to that operator.
    let me_ann = me(&ann).await;
    let mine = visitors
        .iter()
        .find(|v| !waiting.contains(&v.dialog_id))
        .unwrap();
    let holder = status_of(&ann, &mine.dialog_id).await["operator"]["id"].clone();
    let closer = if holder == me_ann["id"] { &ann } else { &bo };
    assert_eq!(closer.handoff(&mine.dialog_id, "close").await.0, 201);
    let mut first = waiting[0].clone();
    for d in &waiting {
        if status_of(&ann, d).await["queued_at"].as_str()
            < status_of(&ann, &first).await["queued_at"].as_str()
        {
            first = d.clone();
        }
    }
    let v = visitors.iter().find(|v| v.dialog_id == first).unwrap();
    let mut socket = v.connect(&ws_base(&server), &ann, Some(0)).await;
    socket
        .until(|e| e["type"] == "dialog.status" && e["reason"] == "assigned")
        .await;
    assert_eq!(status_of(&ann, &first).await["operator"]["id"], holder);
}

#[tokio::test]
async fn a_lost_operators_dialog_goes_back_to_the_queue_and_to_the_next_one() {
    let (server, ann) = server(5).await;
    let bo = colleague(&server, &ann, "Bo").await;
    let console = ann.console(&ws_base(&server)).await;
    let v = request_operator(&ann).await;
    assert_eq!(ann.handoff(&v.dialog_id, "take").await.0, 201);
    let mut socket = v.connect(&ws_base(&server), &ann, None).await;
    socket.handshake().await;
    drop(console);
    let (lost, _) = socket
        .until(|e| e["type"] == "dialog.status" && e["status"] == "waiting_operator")
        .await;
    assert_eq!(lost["reason"], "operator_offline");
    assert_eq!(lost["from"]["name"], "Ann");
    let (notice, _) = socket.until(|e| e["message"]["sender"] == "system").await;
    assert_eq!(
        notice["message"]["text"],
        "Ann is no longer available. You are back in the queue for the next operator."
    );
    // Bo comes online with auto-assignment on: he gets it.
    auto_assign(&ann, true).await;
    let _b = bo.console(&ws_base(&server)).await;
    let (assigned, _) = socket
        .until(|e| e["type"] == "dialog.status" && e["status"] == "operator")
        .await;
    assert_eq!(
        (
            assigned["reason"].as_str(),
            assigned["operator"]["name"].as_str()
        ),
        (Some("assigned"), Some("Bo"))
    );
}

#[tokio::test]
async fn a_transfer_goes_to_an_online_colleague_only() {
    let (server, ann) = server(5).await;
    let bo = colleague(&server, &ann, "Bo").await;
    let cy = colleague(&server, &ann, "Cy").await;
    let _a = ann.console(&ws_base(&server)).await;
    let _b = bo.console(&ws_base(&server)).await;
    let v = request_operator(&ann).await;
    assert_eq!(ann.handoff(&v.dialog_id, "take").await.0, 201);
    let transfer = |fx: &Fixture, to: &Value| {
        let (fx, to, d) = (fx.clone(), to.clone(), v.dialog_id.clone());
        async move {
            fx.api
                .post(
                    &format!("/api/dialogs/{d}/transfer"),
                    Some(&fx.operator_token),
                    json!({"operator_id": to}),
                )
                .await
        }
    };
    let (status, body) = transfer(&ann, &me(&cy).await["id"]).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (409, Some("conflict")),
        "Cy is offline: {body}"
    );
    let (status, _) = transfer(&bo, &me(&cy).await["id"]).await;
    assert_eq!(status, 409, "only the holder passes a dialog on");
    let (status, moved) = transfer(&ann, &me(&bo).await["id"]).await;
    assert_eq!(status, 201, "{moved}");
    assert_eq!(
        (moved["reason"].as_str(), moved["operator"]["name"].as_str()),
        (Some("transferred"), Some("Bo"))
    );
    let events = v.events(&ann.api, 0).await;
    assert!(events
        .iter()
        .any(|e| e["message"]["text"] == "Ann passed the conversation to Bo."));
    let (_, mine) = bo
        .api
        .get("/api/dialogs?mine=true", Some(&bo.operator_token))
        .await;
    assert_eq!(mine["dialogs"][0]["id"], v.dialog_id.as_str());
    let (_, hers) = ann
        .api
        .get("/api/dialogs?mine=true", Some(&ann.operator_token))
        .await;
    assert!(hers["dialogs"].as_array().unwrap().is_empty());
}

#[tokio::test]
async fn with_nobody_online_the_visitor_is_told_and_the_bot_keeps_answering() {
    let (server, fx) = server(5).await;
    let v = fx.open_widget(None).await;
    let mut socket = v
        .connect(&ws_base(&server), &fx, Some(v.loaded_seq()))
        .await;
    socket.handshake().await;
    v.says(&fx.api, "operator please", None).await;
    let (notice, _) = socket
        .until(|e| {
            e["message"]["text"]
                .as_str()
                .is_some_and(|t| t.starts_with("No operator is online"))
        })
        .await;
    assert_eq!(notice["message"]["sender"], "system");
    let (standing, _) = socket.until(|e| e["type"] == "queue.position").await;
    assert_eq!(standing["operators_online"], 0);
    assert!(standing.get("expected_wait_s").is_none(), "{standing}");
    v.says(&fx.api, "what is the price?", None).await;
    let (reply, _) = socket
        .until(|e| e["message"]["sender"] == "assistant")
        .await;
    assert_eq!(reply["message"]["text"], "It costs 10.");
    assert_eq!(
        status_of(&fx, &v.dialog_id).await["status"],
        "waiting_operator"
    );
}

#[tokio::test]
async fn a_closed_dialog_is_rated_once_and_operators_see_it() {
    let (server, fx) = server(5).await;
    let v = fx.open_widget(None).await;
    let rate = |body: Value| {
        let (fx, v) = (fx.clone(), v.clone());
        async move {
            fx.api
                .post(
                    &format!("/api/widget/dialogs/{}/rating", v.dialog_id),
                    Some(&v.guest_token),
                    body,
                )
                .await
        }
    };
    let (status, body) = rate(json!({"score": 5})).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (409, Some("invalid_transition"))
    );
    let mut admin = fx.admin_socket(&ws_base(&server), &v.dialog_id, None).await;
    admin.handshake().await;
    assert_eq!(fx.handoff(&v.dialog_id, "close").await.0, 201);
    assert_eq!(rate(json!({"score": 0})).await.0, 422);
    assert_eq!(
        rate(json!({"score": 4, "comment": "x".repeat(1001)}))
            .await
            .0,
        413
    );
    let before = replyx_testkit::metric(
        &server.metrics().await,
        "replyx_dialog_ratings_total{score=\"4\"}",
    );
    let (status, rated) = rate(json!({"score": 4, "comment": "  quick and kind "})).await;
    assert_eq!(status, 201, "{rated}");
    assert_eq!(rated["type"], "dialog.rated");
    assert_eq!(
        rated["rating"],
        json!({"score": 4, "comment": "quick and kind"})
    );
    let (live, _) = admin.until(|e| e["type"] == "dialog.rated").await;
    assert_eq!(live["seq"], rated["seq"]);
    assert_eq!(rate(json!({"score": 1})).await.0, 409, "once");
    assert_eq!(status_of(&fx, &v.dialog_id).await["rating"]["score"], 4);
    let after = replyx_testkit::metric(
        &server.metrics().await,
        "replyx_dialog_ratings_total{score=\"4\"}",
    );
    assert_eq!(after, before + 1.0);
    // The visitor's own stream has it, so a reload does not ask again.
    assert!(v
        .events(&fx.api, 0)
        .await
        .iter()
        .any(|e| e["type"] == "dialog.rated"));
}

#[tokio::test]
async fn canned_responses_are_managed_and_bad_ones_refused() {
    let (_server, fx) = server(5).await;
    let path = format!("/api/assistants/{}/canned-responses", fx.assistant_id);
    let add = |shortcut: &str, text: &str| {
        let (fx, path) = (fx.clone(), path.clone());
        let body = json!({"shortcut": shortcut, "text": text});
        async move { fx.api.post(&path, Some(&fx.operator_token), body).await }
    };
    let (status, hello) = add("hello", "Hello! How can I help?").await;
    assert_eq!(status, 201, "{hello}");
    assert_eq!(add("hello", "again").await.0, 409);
    assert_eq!(add("Hello There", "x").await.0, 422);
    assert_eq!(add("blank", "   ").await.0, 422);
    let id = hello["id"].as_str().unwrap();
    let (status, changed) = fx
        .api
        .patch(
            &format!("/api/canned-responses/{id}"),
            Some(&fx.operator_token),
            json!({"text": "Hi! What can I do?"}),
        )
        .await;
    assert_eq!((status, changed["shortcut"].as_str()), (200, Some("hello")));
    let (_, listed) = fx.api.get(&path, Some(&fx.operator_token)).await;
    assert_eq!(listed["canned_responses"][0]["text"], "Hi! What can I do?");
    assert_eq!(
        fx.api
            .delete(
                &format!("/api/canned-responses/{id}"),
                Some(&fx.operator_token)
            )
            .await
            .0,
        204
    );
    assert_eq!(
        fx.api
            .delete(
                &format!("/api/canned-responses/{id}"),
                Some(&fx.operator_token)
            )
            .await
            .0,
        404
    );
}

#[tokio::test]
async fn the_inbox_is_searched_and_shows_the_visitors_page_and_history() {
    let (_server, fx) = server(5).await;
    let (status, load) = fx
        .api
        .post(
            "/api/widget/dialogs",
            None,
            json!({"assistant_id": fx.assistant_id, "guest_id": "search-guest-1",
                   "context": {"page_url": "https://shop.example/teapots", "page_title": "Teapots", "language": "en-GB"}}),
        )
        .await;
    assert_eq!(status, 201, "{load}");
    let dialog = load["dialog"]["id"].as_str().unwrap();
    let path = format!("/api/widget/dialogs/{dialog}/messages");
    let token = load["guest_token"].as_str().unwrap();
    fx.api
        .post(
            &path,
            Some(token),
            json!({"text": "Is the BLUE teapot in stock?"}),
        )
        .await;
    let other = fx.open_widget(None).await;
    other.says(&fx.api, "delivery to Oslo?", None).await;
    let (_, found) = fx
        .api
        .get("/api/dialogs?q=blue%20teapot", Some(&fx.operator_token))
        .await;
    let ids: Vec<&str> = found["dialogs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, [dialog]);
    let (status, _) = fx
        .api
        .get(
            &format!("/api/dialogs?q={}", "x".repeat(201)),
            Some(&fx.operator_token),
        )
        .await;
    assert_eq!(status, 422);
    let (_, seen) = fx
        .api
        .get(&format!("/api/dialogs/{dialog}"), Some(&fx.operator_token))
        .await;
    assert_eq!(seen["context"]["page_title"], "Teapots");
    assert_eq!(seen["context"]["language"], "en-GB");
    assert!(seen["visitor_label"]
        .as_str()
        .unwrap()
        .starts_with("Visitor "));
    // Closed and back: the visitor's history holds both, the first seen date the oldest.
    assert_eq!(fx.handoff(dialog, "close").await.0, 201);
    let again = fx.open_widget(Some("search-guest-1")).await;
    let (_, history) = fx
        .api
        .get(
            &format!("/api/dialogs/{}/guest-dialogs", again.dialog_id),
            Some(&fx.operator_token),
        )
        .await;
    let listed: Vec<&str> = history["dialogs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["id"].as_str().unwrap())
        .collect();
    assert_eq!(listed, [again.dialog_id.as_str(), dialog]);
    assert_eq!(history["first_seen"], seen["created_at"]);
    let (status, _) = fx
        .api
        .post(
            "/api/widget/dialogs",
            None,
            json!({"assistant_id": fx.assistant_id, "context": {"page_url": "x".repeat(2049)}}),
        )
        .await;
    assert_eq!(status, 422);
}
