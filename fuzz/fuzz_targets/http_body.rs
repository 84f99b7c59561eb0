//! The JSON bodies the server deserializes, through the very extractor its routes use
//! (`AppJson`): login, operator and visitor messages, handoff, dialog open (widget and
//! site, with an identity token), assistant create and patch (with the identity mode). A body is either accepted, and then it was a JSON
//! object naming no key its type does not know (for the types that refuse unknown
//! keys) with the values the type holds, or refused with 400 (syntax) or 422 (shape):
//! never a 500, never a panic.
#![no_main]

use axum::body::Body;
use axum::extract::FromRequest;
use axum::http::{header, Request};
use axum::response::IntoResponse;
use libfuzzer_sys::fuzz_target;
use replyx_core::{AssistantPatch, NewAssistant};
use replyx_server::error::{ApiError, AppJson};
use replyx_server::http::admin_dialogs::{HandoffRequest, OperatorMessage};
use replyx_server::http::login::LoginRequest;
use replyx_server::http::visitor::{SiteOpen, VisitorMessage, WidgetOpen};
use serde::de::DeserializeOwned;
use serde_json::{Map, Value};
use std::sync::OnceLock;

fn runtime() -> &'static tokio::runtime::Runtime {
    static RT: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
    RT.get_or_init(|| {
        tokio::runtime::Builder::new_current_thread()
            .build()
            .expect("a runtime")
    })
}

/// Runs the route's extractor on `body`; on success returns the value and the body as
/// a JSON object. A refusal must be a 400 or 422 with the API's error shape.
fn extract<T: DeserializeOwned + Send + 'static>(body: &[u8]) -> Option<(T, Map<String, Value>)> {
    let request = Request::builder()
        .method("POST")
        .uri("/")
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from(body.to_vec()))
        .expect("a request");
    match runtime().block_on(AppJson::<T>::from_request(request, &())) {
        Ok(AppJson(value)) => {
            let json: Value = serde_json::from_slice(body).expect("an accepted body is JSON");
            match json {
                Value::Object(map) => Some((value, map)),
                other => panic!("accepted a body that is not an object: {other}"),
            }
        }
        Err(error) => {
            check_refusal(error);
            None
        }
    }
}

fn check_refusal(error: ApiError) {
    let status = error.code.status();
    assert!(
        status == 400 || status == 422,
        "a body was refused with {status}: {}",
        error.message
    );
    assert!(!error.message.is_empty());
    assert_eq!(error.into_response().status().as_u16(), status);
}

fn only_keys(map: &Map<String, Value>, allowed: &[&str]) {
    for key in map.keys() {
        assert!(
            allowed.contains(&key.as_str()),
            "unknown key {key:?} accepted"
        );
    }
}

fn string(map: &Map<String, Value>, key: &str) -> String {
    map.get(key)
        .and_then(Value::as_str)
        .unwrap_or_else(|| panic!("{key} accepted without being a string"))
        .to_owned()
}

/// `absent` → `None`, `null` → `Some(None)`, a string → `Some(Some(it))`.
fn tri_state(map: &Map<String, Value>, key: &str) -> Option<Option<String>> {
    map.get(key).map(|v| v.as_str().map(str::to_owned))
}

fuzz_target!(|data: &[u8]| {
    let Some((&which, body)) = data.split_first() else {
        return;
    };
    match which % 8 {
        0 => {
            if let Some((_, map)) = extract::<LoginRequest>(body) {
                only_keys(&map, &["email", "password"]);
                string(&map, "email");
                string(&map, "password");
            }
        }
        1 => {
            if let Some((_, map)) = extract::<OperatorMessage>(body) {
                only_keys(&map, &["text", "client_msg_id", "internal"]);
                string(&map, "text");
            }
        }
        2 => {
            if let Some((_, map)) = extract::<HandoffRequest>(body) {
                only_keys(&map, &["action"]);
                let action = string(&map, "action");
                assert!(
                    ["take", "release", "close"].contains(&action.as_str()),
                    "{action:?}"
                );
            }
        }
        3 => {
            if let Some((_, map)) = extract::<WidgetOpen>(body) {
                only_keys(&map, &["assistant_id", "guest_id", "identity_token", "context"]);
                string(&map, "assistant_id");
            }
        }
        4 => {
            if let Some((_, map)) = extract::<SiteOpen>(body) {
                only_keys(&map, &["site_token", "guest_id", "identity_token", "context"]);
                string(&map, "site_token");
            }
        }
        5 => {
            if let Some((_, map)) = extract::<VisitorMessage>(body) {
                only_keys(&map, &["text", "client_msg_id"]);
                string(&map, "text");
            }
        }
        6 => {
            if let Some((new, map)) = extract::<NewAssistant>(body) {
                only_keys(
                    &map,
                    &[
                        "name",
                        "welcome_message",
                        "allowed_domains",
                        "rules",
                        "fallback_reply",
                        "identity_mode",
                        "auto_assign",
                        "release_to",
                    ],
                );
                assert_eq!(new.name, string(&map, "name"));
                assert_eq!(new.auto_assign, map.get("auto_assign").and_then(Value::as_bool).unwrap_or(false));
                assert_eq!(
                    new.identity_mode.as_str(),
                    map.get("identity_mode").and_then(Value::as_str).unwrap_or("optional")
                );
                let domains = new.allowed_domains.len();
                let given = map
                    .get("allowed_domains")
                    .and_then(Value::as_array)
                    .map_or(0, Vec::len);
                assert_eq!(domains, given, "allowed_domains");
            }
        }
        _ => {
            if let Some((patch, map)) = extract::<AssistantPatch>(body) {
                only_keys(
                    &map,
                    &[
                        "name",
                        "welcome_message",
                        "allowed_domains",
                        "rules",
                        "fallback_reply",
                        "identity_mode",
                        "auto_assign",
                        "release_to",
                    ],
                );
                assert_eq!(patch.auto_assign, map.get("auto_assign").and_then(Value::as_bool));
                assert_eq!(
                    patch.identity_mode.map(|m| m.as_str()),
                    map.get("identity_mode").and_then(Value::as_str)
                );
                assert_eq!(patch.welcome_message, tri_state(&map, "welcome_message"));
                assert_eq!(patch.fallback_reply, tri_state(&map, "fallback_reply"));
                assert_eq!(
                    patch.name,
                    map.get("name").and_then(Value::as_str).map(str::to_owned)
                );
            }
        }
    }
});
