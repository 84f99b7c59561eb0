//! Operator sessions can be ended, and ending one ends everything it opened: each test
//! replays what worked before sessions existed (a removed operator's token still
//! listing dialogs, posting, opening the admin socket and creating an assistant; a
//! logged-out or re-passworded token still working; a token in a socket URL) and
//! checks it no longer does.

use crate::{seeded, ws_base};
use replyx_testkit::{create_operator, Fixture, TestServer, WsClient};
use serde_json::{json, Value};

const PASSWORD: &str = "correct horse battery";

/// Adds an operator over the admin API and logs them in.
async fn add_operator(fx: &Fixture, email: &str, role: &str) -> (String, String) {
    let (status, created) = fx
        .api
        .post(
            "/api/operators",
            Some(&fx.operator_token),
            json!({"email": email, "name": "Bo", "password": PASSWORD, "role": role}),
        )
        .await;
    assert_eq!(status, 201, "{created}");
    assert_eq!(created["role"], role);
    let id = created["id"].as_str().unwrap().to_owned();
    (id, Fixture::login(&fx.api, email, PASSWORD).await)
}

/// An admin socket on a fresh dialog, past its replay.
async fn admin_socket(server: &TestServer, fx: &Fixture, token: &str) -> WsClient {
    let v = fx.open_widget(None).await;
    let url = format!("{}/ws/dialogs/{}", ws_base(server), v.dialog_id);
    let mut socket = WsClient::connect_operator(&url, token).await.unwrap();
    socket.handshake().await;
    socket
}

fn code(body: &Value) -> &str {
    body["error"]["code"].as_str().unwrap_or_default()
}

#[tokio::test]
async fn a_removed_operator_can_do_nothing_with_an_earlier_token() {
    let (server, fx) = seeded().await;
    let (id, token) = add_operator(&fx, "bo@example.test", "admin").await;
    let mut socket = admin_socket(&server, &fx, &token).await;
    let mut inbox =
        WsClient::connect_operator(&format!("{}/ws/admin/inbox", ws_base(&server)), &token)
            .await
            .unwrap();
    inbox.handshake().await;

    let (status, _) = fx
        .api
        .delete(&format!("/api/operators/{id}"), Some(&fx.operator_token))
        .await;
    assert_eq!(status, 204);

    socket.expect_close(4001).await;
    inbox.expect_close(4001).await;
    let (status, body) = fx.api.get("/api/dialogs", Some(&token)).await;
    assert_eq!((status, code(&body)), (401, "session_ended"), "{body}");
    let v = fx.open_widget(None).await;
    let (status, _) = fx
        .api
        .post(
            &format!("/api/dialogs/{}/messages", v.dialog_id),
            Some(&token),
            json!({"text": "still here"}),
        )
        .await;
    assert_eq!(status, 401);
    let (status, _) = fx
        .api
        .post(
            "/api/assistants",
            Some(&token),
            json!({"name": "Mine", "allowed_domains": []}),
        )
        .await;
    assert_eq!(status, 401);
    let url = format!("{}/ws/dialogs/{}", ws_base(&server), v.dialog_id);
    WsClient::connect_operator(&url, &token)
        .await
        .unwrap()
        .expect_close(4001)
        .await;
    // Gone from the list, and the password no longer logs in.
    let (_, list) = fx.api.get("/api/operators", Some(&fx.operator_token)).await;
    assert!(!list.to_string().contains("bo@example.test"), "{list}");
    let (status, _) = fx
        .api
        .post(
            "/api/auth/login",
            None,
            json!({"email": "bo@example.test", "password": PASSWORD}),
        )
        .await;
    assert_eq!(status, 401);
}

#[tokio::test]
async fn logout_ends_this_session_only_and_closes_its_sockets() {
    let (server, fx) = seeded().await;
    let other = Fixture::login(&fx.api, "ann@example.test", PASSWORD).await;
    let mut mine = admin_socket(&server, &fx, &fx.operator_token).await;
    let mut theirs = admin_socket(&server, &fx, &other).await;

    let (status, _) = fx
        .api
        .post("/api/auth/logout", Some(&fx.operator_token), json!({}))
        .await;
    assert_eq!(status, 204);
    mine.expect_close(4001).await;
    let (status, body) = fx.api.get("/api/dialogs", Some(&fx.operator_token)).await;
    assert_eq!((status, code(&body)), (401, "session_ended"));

    // The other session was not touched: its socket still answers, its token works.
    theirs.barrier().await;
    let (status, _) = fx.api.get("/api/dialogs", Some(&other)).await;
    assert_eq!(status, 200);
}

#[tokio::test]
async fn a_password_change_ends_every_other_session() {
    let (server, fx) = seeded().await;
    let other = Fixture::login(&fx.api, "ann@example.test", PASSWORD).await;
    let mut theirs = admin_socket(&server, &fx, &other).await;
    let mut mine = admin_socket(&server, &fx, &fx.operator_token).await;

    let (status, body) = fx
        .api
        .post(
            "/api/auth/password",
            Some(&fx.operator_token),
            json!({"current_password": "wrong password", "new_password": "a new long secret"}),
        )
        .await;
    assert_eq!((status, code(&body)), (403, "forbidden"), "{body}");
    let (status, body) = fx
        .api
        .post(
            "/api/auth/password",
            Some(&fx.operator_token),
            json!({"current_password": PASSWORD, "new_password": "short"}),
        )
        .await;
    assert_eq!((status, code(&body)), (422, "invalid_shape"), "{body}");

    let (status, body) = fx
        .api
        .post(
            "/api/auth/password",
            Some(&fx.operator_token),
            json!({"current_password": PASSWORD, "new_password": "a new long secret"}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["other_sessions_ended"], 1);
    theirs.expect_close(4001).await;
    let (status, _) = fx.api.get("/api/dialogs", Some(&other)).await;
    assert_eq!(status, 401);
    // This session goes on.
    mine.barrier().await;
    let (status, _) = fx.api.get("/api/dialogs", Some(&fx.operator_token)).await;
    assert_eq!(status, 200);
    // The old password is dead, the new one logs in.
    let (status, _) = fx
        .api
        .post(
            "/api/auth/login",
            None,
            json!({"email": "ann@example.test", "password": PASSWORD}),
        )
        .await;
    assert_eq!(status, 401);
    Fixture::login(&fx.api, "ann@example.test", "a new long secret").await;
}

#[tokio::test]
async fn a_disabled_operator_is_locked_out_until_enabled_again() {
    let (server, fx) = seeded().await;
    let (id, token) = add_operator(&fx, "bo@example.test", "agent").await;
    let mut socket = admin_socket(&server, &fx, &token).await;

    let (status, body) = fx
        .api
        .patch(
            &format!("/api/operators/{id}"),
            Some(&fx.operator_token),
            json!({"status": "disabled"}),
        )
        .await;
    assert_eq!((status, body["status"].as_str()), (200, Some("disabled")));
    socket.expect_close(4001).await;
    let (status, _) = fx.api.get("/api/dialogs", Some(&token)).await;
    assert_eq!(status, 401);
    let (status, body) = fx
        .api
        .post(
            "/api/auth/login",
            None,
            json!({"email": "bo@example.test", "password": PASSWORD}),
        )
        .await;
    assert_eq!((status, code(&body)), (403, "forbidden"), "{body}");

    let (status, _) = fx
        .api
        .patch(
            &format!("/api/operators/{id}"),
            Some(&fx.operator_token),
            json!({"status": "active"}),
        )
        .await;
    assert_eq!(status, 200);
    let token = Fixture::login(&fx.api, "bo@example.test", PASSWORD).await;
    let (status, _) = fx.api.get("/api/dialogs", Some(&token)).await;
    assert_eq!(status, 200);
}

#[tokio::test]
async fn agents_handle_dialogs_and_only_admins_manage_operators_and_assistants() {
    let (_server, fx) = seeded().await;
    let (agent_id, agent) = add_operator(&fx, "bo@example.test", "agent").await;
    let (status, _) = fx.api.get("/api/dialogs", Some(&agent)).await;
    assert_eq!(status, 200);
    let (status, _) = fx.api.get("/api/assistants", Some(&agent)).await;
    assert_eq!(status, 200);
    for (status, body) in [
        fx.api
            .post(
                "/api/assistants",
                Some(&agent),
                json!({"name": "Mine", "allowed_domains": []}),
            )
            .await,
        fx.api
            .post(
                &format!("/api/assistants/{}/site-token", fx.assistant_id),
                Some(&agent),
                json!({}),
            )
            .await,
        fx.api.get("/api/operators", Some(&agent)).await,
        fx.api
            .post(
                "/api/operators",
                Some(&agent),
                json!({"email": "eve@example.test", "name": "Eve", "password": PASSWORD, "role": "admin"}),
            )
            .await,
        fx.api
            .patch(
                &format!("/api/operators/{agent_id}"),
                Some(&agent),
                json!({"role": "admin"}),
            )
            .await,
    ] {
        assert_eq!((status, code(&body)), (403, "forbidden"), "{body}");
    }

    // Promoted, the same token may manage at once: the role is read from the session,
    // not from the token.
    let (status, _) = fx
        .api
        .patch(
            &format!("/api/operators/{agent_id}"),
            Some(&fx.operator_token),
            json!({"role": "admin"}),
        )
        .await;
    assert_eq!(status, 200);
    let (status, _) = fx.api.get("/api/operators", Some(&agent)).await;
    assert_eq!(status, 200);
    let (status, me) = fx.api.get("/api/auth/me", Some(&agent)).await;
    assert_eq!((status, me["role"].as_str()), (200, Some("admin")));
}

#[tokio::test]
async fn the_last_active_admin_cannot_be_demoted_disabled_or_removed() {
    let (_server, fx) = seeded().await;
    let (_, me) = fx.api.get("/api/auth/me", Some(&fx.operator_token)).await;
    let path = format!("/api/operators/{}", me["id"].as_str().unwrap());
    for (status, body) in [
        fx.api
            .patch(&path, Some(&fx.operator_token), json!({"role": "agent"}))
            .await,
        fx.api
            .patch(
                &path,
                Some(&fx.operator_token),
                json!({"status": "disabled"}),
            )
            .await,
        fx.api.delete(&path, Some(&fx.operator_token)).await,
    ] {
        assert_eq!((status, code(&body)), (409, "conflict"), "{body}");
    }
    let (status, _) = fx.api.get("/api/operators", Some(&fx.operator_token)).await;
    assert_eq!(status, 200);
}

#[tokio::test]
async fn operator_sockets_take_a_single_use_ticket_and_refuse_tokens_in_urls() {
    let (server, fx) = seeded().await;
    let v = fx.open_widget(None).await;
    let base = format!("{}/ws/dialogs/{}", ws_base(&server), v.dialog_id);

    // A token in the URL (which proxies log) is refused.
    WsClient::connect(&format!("{base}?token={}", fx.operator_token), None)
        .await
        .unwrap()
        .expect_close(4002)
        .await;

    let (status, ticket) = fx
        .api
        .post("/api/auth/ws-ticket", Some(&fx.operator_token), json!({}))
        .await;
    assert_eq!(status, 201, "{ticket}");
    let ticket = ticket["ticket"].as_str().unwrap().to_owned();
    assert!(ticket.len() >= 40, "{ticket}");
    let url = format!("{base}?ticket={ticket}");
    let mut first = WsClient::connect(&url, None).await.unwrap();
    let (established, _) = first.handshake().await;
    assert_eq!(established["kind"], "admin");
    // The same ticket again: already used.
    WsClient::connect(&url, None)
        .await
        .unwrap()
        .expect_close(4001)
        .await;
    // A ticket of a session that ended opens nothing either.
    let (_, unused) = fx
        .api
        .post("/api/auth/ws-ticket", Some(&fx.operator_token), json!({}))
        .await;
    fx.api
        .post("/api/auth/logout", Some(&fx.operator_token), json!({}))
        .await;
    first.expect_close(4001).await;
    WsClient::connect(
        &format!("{base}?ticket={}", unused["ticket"].as_str().unwrap()),
        None,
    )
    .await
    .unwrap()
    .expect_close(4001)
    .await;
}

#[tokio::test]
async fn operators_added_from_the_cli_store_are_admins_and_listed() {
    let server = TestServer::start().await;
    create_operator(&server, "root@example.test", "Root", PASSWORD).await;
    let token = Fixture::login(
        &replyx_testkit::Api::new(&server.base),
        "root@example.test",
        PASSWORD,
    )
    .await;
    let (status, list) = replyx_testkit::Api::new(&server.base)
        .get("/api/operators", Some(&token))
        .await;
    assert_eq!(status, 200, "{list}");
    assert_eq!(list["operators"][0]["role"], "admin");
    assert_eq!(list["operators"][0]["status"], "active");
}
