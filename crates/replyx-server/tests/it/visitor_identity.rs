//! Visitor identity verification, as a customer site and an attacker would use it: a
//! site's backend signs its logged-in user with one of the assistant's identity keys;
//! the user's dialogs follow them to every device, operators see who they are, and in
//! enforce mode nobody else gets in. Forged, expired, foreign and removed-key tokens
//! open nothing.

use crate::{seeded, texts, ws_base};
use jsonwebtoken::{encode, Algorithm, EncodingKey, Header};
use replyx_testkit::metric;
use replyx_testkit::{Fixture, TestServer, SITE_ORIGIN, WELCOME};
use serde_json::{json, Value};

/// An identity key as the admin API hands it out.
struct Key {
    kid: String,
    secret: String,
}

async fn new_key(fx: &Fixture, assistant: &str) -> Key {
    let (status, body) = fx
        .api
        .post(
            &format!("/api/assistants/{assistant}/identity-keys"),
            Some(&fx.operator_token),
            json!({}),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    Key {
        kid: body["kid"].as_str().unwrap().to_owned(),
        secret: body["secret"].as_str().unwrap().to_owned(),
    }
}

fn unix_now() -> i64 {
    chrono::Utc::now().timestamp()
}

/// What the site's backend does for its logged-in user.
fn sign(key: &Key, user: &str, name: &str, expires_in: i64) -> String {
    let mut header = Header::new(Algorithm::HS256);
    header.kid = Some(key.kid.clone());
    let claims = json!({"sub": user, "name": name, "email": format!("{user}@shop.example"),
        "exp": unix_now() + expires_in, "iat": unix_now()});
    encode(
        &header,
        &claims,
        &EncodingKey::from_secret(key.secret.as_bytes()),
    )
    .unwrap()
}

async fn open_widget(fx: &Fixture, guest_id: Option<&str>, identity: Option<&str>) -> (u16, Value) {
    fx.api
        .post(
            "/api/widget/dialogs",
            None,
            json!({"assistant_id": fx.assistant_id, "guest_id": guest_id, "identity_token": identity}),
        )
        .await
}

fn code(body: &Value) -> &str {
    body["error"]["code"].as_str().unwrap_or_default()
}

async fn counted(server: &TestServer, outcome: &str) -> f64 {
    metric(
        &server.metrics().await,
        &format!("replyx_identity_verifications_total{{outcome=\"{outcome}\"}}"),
    )
}

async fn set_mode(fx: &Fixture, mode: &str) {
    let (status, body) = fx
        .api
        .patch(
            &format!("/api/assistants/{}", fx.assistant_id),
            Some(&fx.operator_token),
            json!({"identity_mode": mode}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["identity_mode"], mode);
}

#[tokio::test]
async fn a_signed_in_user_gets_the_same_dialog_on_every_device_and_operators_see_who_it_is() {
    let (server, fx) = seeded().await;
    let key = new_key(&fx, &fx.assistant_id).await;
    // The laptop: an anonymous guest id from before sign-in is set aside.
    let (status, laptop) = open_widget(
        &fx,
        Some("anonymous-before"),
        Some(&sign(&key, "u-1", "Ann", 600)),
    )
    .await;
    assert_eq!(status, 201, "{laptop}");
    assert_eq!(
        laptop["visitor"],
        json!({"user_id": "u-1", "name": "Ann", "email": "u-1@shop.example"})
    );
    assert_ne!(laptop["guest_id"], "anonymous-before");
    let dialog = laptop["dialog"]["id"].as_str().unwrap().to_owned();
    let post = format!("/api/widget/dialogs/{dialog}/messages");
    let token = laptop["guest_token"].as_str().unwrap();
    let (status, _) = fx
        .api
        .post(
            &post,
            Some(token),
            json!({"text": "where is my order?", "client_msg_id": "c1"}),
        )
        .await;
    assert_eq!(status, 201);
    // The phone: another browser, a fresh token for the same user, a new name.
    let (status, phone) = open_widget(&fx, None, Some(&sign(&key, "u-1", "Ann Smith", 600))).await;
    assert_eq!(status, 200, "{phone}");
    assert_eq!(phone["dialog"]["id"], dialog.as_str());
    assert_eq!(phone["guest_id"], laptop["guest_id"]);
    assert!(texts(phone["events"].as_array().unwrap()).contains(&"where is my order?".to_owned()));
    // Operators see the verified user, with the name last signed, in the dialog and
    // the inbox; the visitor's own view of the dialog carries no identity field.
    let (_, seen) = fx
        .api
        .get(&format!("/api/dialogs/{dialog}"), Some(&fx.operator_token))
        .await;
    assert_eq!(seen["visitor"]["user_id"], "u-1");
    assert_eq!(seen["visitor"]["name"], "Ann Smith");
    let (_, inbox) = fx.api.get("/api/dialogs", Some(&fx.operator_token)).await;
    let row = inbox["dialogs"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["id"] == dialog.as_str())
        .unwrap()
        .clone();
    assert_eq!(row["visitor"]["email"], "u-1@shop.example");
    assert!(phone["dialog"].get("visitor").is_none(), "{phone}");
    // Someone else's identity opens someone else's dialog.
    let (_, other) = open_widget(&fx, None, Some(&sign(&key, "u-2", "Bob", 600))).await;
    assert_ne!(other["dialog"]["id"], dialog.as_str());
    assert_eq!(counted(&server, "verified").await, 3.0);
}

#[tokio::test]
async fn earlier_dialogs_follow_the_user_without_notes_and_only_their_own() {
    let (_server, fx) = seeded().await;
    let key = new_key(&fx, &fx.assistant_id).await;
    let (_, first) = open_widget(&fx, None, Some(&sign(&key, "u-7", "Cleo", 600))).await;
    let old = first["dialog"]["id"].as_str().unwrap().to_owned();
    fx.operator_says(&old, "internal: VIP customer", true).await;
    assert_eq!(fx.handoff(&old, "close").await.0, 201);
    // Next week, on another device: a new dialog, and the closed one in the list.
    let (status, second) = open_widget(&fx, None, Some(&sign(&key, "u-7", "Cleo", 600))).await;
    assert_eq!(status, 201, "a new dialog: the old one is closed");
    let token = second["guest_token"].as_str().unwrap();
    let (status, listed) = fx.api.get("/api/widget/dialogs", Some(token)).await;
    assert_eq!(status, 200, "{listed}");
    let ids: Vec<&str> = listed["dialogs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["id"].as_str().unwrap())
        .collect();
    assert_eq!(
        ids,
        [second["dialog"]["id"].as_str().unwrap(), old.as_str()]
    );
    assert_eq!(listed["dialogs"][1]["status"], "closed");
    assert!(
        !listed.to_string().contains("VIP"),
        "no note in a preview: {listed}"
    );
    // The old dialog's history is readable with the new token, without the note.
    let (status, page) = fx
        .api
        .get(
            &format!("/api/widget/dialogs/{old}/events?since=0"),
            Some(token),
        )
        .await;
    assert_eq!(status, 200, "{page}");
    let shown = texts(page["events"].as_array().unwrap());
    assert_eq!(shown[0], WELCOME);
    assert!(!shown.iter().any(|t| t.contains("VIP")), "{shown:?}");
    // Read, not write: the old dialog takes no message through this token.
    let (status, _) = fx
        .api
        .post(
            &format!("/api/widget/dialogs/{old}/messages"),
            Some(token),
            json!({"text": "hi"}),
        )
        .await;
    assert_eq!(status, 403);
    // Another user sees neither the list entry nor the history.
    let (_, stranger) = open_widget(&fx, None, Some(&sign(&key, "u-8", "Dan", 600))).await;
    let theirs = stranger["guest_token"].as_str().unwrap();
    let (status, _) = fx
        .api
        .get(
            &format!("/api/widget/dialogs/{old}/events?since=0"),
            Some(theirs),
        )
        .await;
    assert_eq!(status, 403);
    let (_, their_list) = fx.api.get("/api/widget/dialogs", Some(theirs)).await;
    assert_eq!(their_list["dialogs"].as_array().unwrap().len(), 1);
    // A widget guest token does not list through the site routes.
    let (status, _) = fx
        .api
        .get_from(SITE_ORIGIN, "/api/site/dialogs", Some(token))
        .await;
    assert_eq!(status, 403);
}

#[tokio::test]
async fn forged_expired_foreign_and_removed_key_tokens_open_nothing() {
    let (server, fx) = seeded().await;
    let key = new_key(&fx, &fx.assistant_id).await;
    let (_, other_assistant) = fx
        .api
        .post(
            "/api/assistants",
            Some(&fx.operator_token),
            json!({"name": "Other"}),
        )
        .await;
    let foreign = new_key(&fx, other_assistant["id"].as_str().unwrap()).await;
    let forged = Key {
        kid: key.kid.clone(),
        secret: "guessed-secret-0123456789abcdefghij".into(),
    };
    let before = fx.api.get("/api/dialogs", Some(&fx.operator_token)).await.1["dialogs"]
        .as_array()
        .unwrap()
        .len();
    let cases = [
        (sign(&forged, "u-1", "Ann", 600), "invalid"),
        (sign(&key, "u-1", "Ann", -600), "expired"),
        (sign(&key, "u-1", "Ann", 3 * 24 * 3600), "invalid"),
        (sign(&foreign, "u-1", "Ann", 600), "unknown_key"),
        ("not.a.token".to_owned(), "invalid"),
    ];
    for (token, outcome) in &cases {
        let was = counted(&server, outcome).await;
        let (status, body) = open_widget(&fx, None, Some(token)).await;
        assert_eq!(
            (status, code(&body)),
            (401, "identity_invalid"),
            "{outcome}: {body}"
        );
        assert_eq!(counted(&server, outcome).await, was + 1.0, "{outcome}");
    }
    // A removed key stops verifying at once; a second one keeps working (rotation).
    let next = new_key(&fx, &fx.assistant_id).await;
    let old_signed = sign(&key, "u-1", "Ann", 600);
    assert_eq!(open_widget(&fx, None, Some(&old_signed)).await.0, 201);
    let (status, _) = fx
        .api
        .delete(
            &format!(
                "/api/assistants/{}/identity-keys/{}",
                fx.assistant_id, key.kid
            ),
            Some(&fx.operator_token),
        )
        .await;
    assert_eq!(status, 204);
    let (status, body) = open_widget(&fx, None, Some(&old_signed)).await;
    assert_eq!((status, code(&body)), (401, "identity_invalid"));
    assert_eq!(
        open_widget(&fx, None, Some(&sign(&next, "u-1", "Ann", 600)))
            .await
            .0,
        200
    );
    let after = fx.api.get("/api/dialogs", Some(&fx.operator_token)).await.1["dialogs"]
        .as_array()
        .unwrap()
        .len();
    assert_eq!(after, before + 1, "only the one good open made a dialog");
}

#[tokio::test]
async fn a_signed_in_users_guest_id_cannot_be_borrowed_without_their_token() {
    let (server, fx) = seeded().await;
    let key = new_key(&fx, &fx.assistant_id).await;
    let (_, load) = open_widget(&fx, None, Some(&sign(&key, "u-3", "Eve", 600))).await;
    let guest = load["guest_id"].as_str().unwrap();
    let was = counted(&server, "required").await;
    let (status, body) = open_widget(&fx, Some(guest), None).await;
    assert_eq!((status, code(&body)), (401, "identity_required"), "{body}");
    assert_eq!(counted(&server, "required").await, was + 1.0);
    // An anonymous visitor is as welcome as before.
    assert_eq!(
        fx.open_widget(Some("just-a-browser")).await.load["events"][0]["seq"],
        1
    );
}

#[tokio::test]
async fn enforce_mode_lets_in_signed_in_users_only_and_closes_older_anonymous_dialogs() {
    let (server, fx) = seeded().await;
    let key = new_key(&fx, &fx.assistant_id).await;
    let anonymous = fx.open_widget(None).await;
    let site_anonymous = fx.open_site(None).await;
    let (_, verified) = open_widget(&fx, None, Some(&sign(&key, "u-5", "Fay", 600))).await;
    set_mode(&fx, "enforce").await;

    let (status, body) = open_widget(&fx, None, None).await;
    assert_eq!((status, code(&body)), (401, "identity_required"), "{body}");
    let (status, body) = fx
        .api
        .post_from(
            SITE_ORIGIN,
            "/api/site/dialogs",
            None,
            json!({"site_token": fx.site_token}),
        )
        .await;
    assert_eq!((status, code(&body)), (401, "identity_required"), "{body}");
    // The anonymous dialogs from before the switch: no reading, writing or socket.
    let (status, body) = anonymous.says(&fx.api, "still there?", None).await;
    assert_eq!((status, code(&body)), (401, "identity_required"));
    let (status, _) = fx
        .api
        .get(
            &format!("/api/widget/dialogs/{}/events?since=0", anonymous.dialog_id),
            Some(&anonymous.guest_token),
        )
        .await;
    assert_eq!(status, 401);
    let (status, _) = fx
        .api
        .get("/api/widget/dialogs", Some(&anonymous.guest_token))
        .await;
    assert_eq!(status, 401);
    let (status, _) = site_anonymous.says(&fx.api, "hello?", None).await;
    assert_eq!(status, 401);
    for v in [&anonymous, &site_anonymous] {
        let mut socket = v.connect(&ws_base(&server), &fx, None).await;
        socket.expect_close(4002).await;
    }
    // The signed-in user chats on, over HTTP and the socket.
    let dialog = verified["dialog"]["id"].as_str().unwrap();
    let token = verified["guest_token"].as_str().unwrap();
    let (status, _) = fx
        .api
        .post(
            &format!("/api/widget/dialogs/{dialog}/messages"),
            Some(token),
            json!({"text": "hi"}),
        )
        .await;
    assert_eq!(status, 201);
    let url = format!(
        "{}/ws/widget/dialogs/{dialog}?assistant_id={}&guest_token={token}&since=0",
        ws_base(&server),
        fx.assistant_id
    );
    let mut socket = replyx_testkit::WsClient::connect(&url, None).await.unwrap();
    socket.handshake().await;
    assert_eq!(
        open_widget(&fx, None, Some(&sign(&key, "u-6", "Gus", 600)))
            .await
            .0,
        201
    );
    // Back to optional: the anonymous visitor is back too.
    set_mode(&fx, "optional").await;
    assert_eq!(anonymous.says(&fx.api, "back", None).await.0, 201);
}

#[tokio::test]
async fn site_embeds_verify_identity_too_and_keep_their_origin_check() {
    let (_server, fx) = seeded().await;
    let key = new_key(&fx, &fx.assistant_id).await;
    let token = sign(&key, "u-9", "Hal", 600);
    let body = json!({"site_token": fx.site_token, "identity_token": token});
    let (status, load) = fx
        .api
        .post_from(SITE_ORIGIN, "/api/site/dialogs", None, body.clone())
        .await;
    assert_eq!(status, 201, "{load}");
    assert_eq!(load["visitor"]["user_id"], "u-9");
    let (status, _) = fx
        .api
        .post_from("https://evil.example", "/api/site/dialogs", None, body)
        .await;
    assert_eq!(
        status, 403,
        "a valid identity does not lift the origin check"
    );
    // The same user in the iframe widget is the same guest, so the same dialog.
    let (_, framed) = open_widget(&fx, None, Some(&sign(&key, "u-9", "Hal", 600))).await;
    assert_eq!(framed["dialog"]["id"], load["dialog"]["id"]);
    let guest_token = load["guest_token"].as_str().unwrap();
    let (status, listed) = fx
        .api
        .get_from(SITE_ORIGIN, "/api/site/dialogs?limit=5", Some(guest_token))
        .await;
    assert_eq!(status, 200, "{listed}");
    assert_eq!(listed["dialogs"].as_array().unwrap().len(), 1);
    let (status, _) = fx
        .api
        .get_from(
            "https://evil.example",
            "/api/site/dialogs",
            Some(guest_token),
        )
        .await;
    assert_eq!(status, 403);
    let (status, _) = fx
        .api
        .get_from(SITE_ORIGIN, "/api/site/dialogs?limit=0", Some(guest_token))
        .await;
    assert_eq!(status, 422);
}

#[tokio::test]
async fn identity_keys_are_for_admins_shown_once_and_bounded() {
    let (_server, fx) = seeded().await;
    let keys = format!("/api/assistants/{}/identity-keys", fx.assistant_id);
    let (status, _) = fx
        .api
        .post(
            "/api/operators",
            Some(&fx.operator_token),
            json!({"email": "agent@example.test", "name": "Ag", "password": "agent password 1", "role": "agent"}),
        )
        .await;
    assert_eq!(status, 201);
    let agent = Fixture::login(&fx.api, "agent@example.test", "agent password 1").await;
    assert_eq!(fx.api.post(&keys, Some(&agent), json!({})).await.0, 403);
    assert_eq!(fx.api.get(&keys, Some(&agent)).await.0, 403);
    let first = new_key(&fx, &fx.assistant_id).await;
    assert!(first.secret.len() >= 43);
    let (status, listed) = fx.api.get(&keys, Some(&fx.operator_token)).await;
    assert_eq!(status, 200);
    assert_eq!(listed["keys"][0]["kid"], first.kid.as_str());
    assert!(
        !listed.to_string().contains(&first.secret),
        "no secret in a list"
    );
    for _ in 1..10 {
        new_key(&fx, &fx.assistant_id).await;
    }
    let (status, body) = fx
        .api
        .post(&keys, Some(&fx.operator_token), json!({}))
        .await;
    assert_eq!((status, code(&body)), (409, "conflict"), "{body}");
    let one = format!("{keys}/{}", first.kid);
    assert_eq!(fx.api.delete(&one, Some(&fx.operator_token)).await.0, 204);
    assert_eq!(fx.api.delete(&one, Some(&fx.operator_token)).await.0, 404);
    let unknown = format!(
        "/api/assistants/{}/identity-keys",
        replyx_protocol::AssistantId::new()
    );
    assert_eq!(
        fx.api
            .post(&unknown, Some(&fx.operator_token), json!({}))
            .await
            .0,
        404
    );
}

#[tokio::test]
async fn identity_keys_and_the_mode_are_managed_from_the_command_line() {
    let dir = std::sync::Arc::new(tempfile::tempdir().unwrap());
    let db = replyx_testkit::database_url(&dir);
    let server = TestServer::start_with(replyx_testkit::TestOptions {
        dir: Some(dir.clone()),
        ..Default::default()
    })
    .await;
    let fx = Fixture::seed(&server).await;
    let id = fx.assistant_id.as_str();
    let printed =
        crate::cli_operators::replyx(&db, &["identity-key", "new", "--assistant-id", id], None)
            .await;
    let field = |name: &str| {
        printed
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .unwrap()
            .trim()
            .to_owned()
    };
    let key = Key {
        kid: field("kid "),
        secret: field("secret "),
    };
    let listed =
        crate::cli_operators::replyx(&db, &["identity-key", "list", "--assistant-id", id], None)
            .await;
    assert!(listed.contains(&key.kid));
    let token = sign(&key, "cli-user", "Ivy", 600);
    assert_eq!(open_widget(&fx, None, Some(&token)).await.0, 201);
    crate::cli_operators::replyx(
        &db,
        &["identity-key", "mode", "--assistant-id", id, "enforce"],
        None,
    )
    .await;
    let (status, body) = open_widget(&fx, None, None).await;
    assert_eq!((status, code(&body)), (401, "identity_required"));
    let remove = [
        "identity-key",
        "remove",
        "--assistant-id",
        id,
        "--kid",
        &key.kid,
    ];
    crate::cli_operators::replyx(&db, &remove, None).await;
    let (status, body) = open_widget(&fx, None, Some(&token)).await;
    assert_eq!((status, code(&body)), (401, "identity_invalid"));
}
