//! The query strings of socket URLs (`since`, `client_id`, and every parameter read
//! with `query_param`) and of the HTTP event pages (`since`, `limit`, the dialog list's
//! filters). `since` resumes exactly after the number it names and refuses anything
//! that is not one (never read as 0, which would replay everything); `client_id` holds
//! exactly when its value is a valid client id; a refused HTTP query is a 400.
#![no_main]

use axum::extract::FromRequestParts;
use axum::http::{Request, Uri};
use libfuzzer_sys::fuzz_target;
use replyx_protocol::{ClientId, CloseCode, Seq};
use replyx_server::error::AppQuery;
use replyx_server::http::admin_dialogs::{EventsQuery, ListQuery};
use replyx_server::http::extract::query_param;
use replyx_server::ws::{client_id, since};
use std::sync::OnceLock;

fn runtime() -> &'static tokio::runtime::Runtime {
    static RT: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
    RT.get_or_init(|| {
        tokio::runtime::Builder::new_current_thread()
            .build()
            .expect("a runtime")
    })
}

/// The value of a `since` the server should accept: decimal digits of a u64.
fn decimal(value: &str) -> Option<u64> {
    let digits = value.strip_prefix('+').unwrap_or(value);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok()
}

fn http_query<T: serde::de::DeserializeOwned + Send + 'static>(uri: &Uri) {
    let (mut parts, ()) = Request::builder()
        .uri(uri.clone())
        .body(())
        .expect("a request")
        .into_parts();
    if let Err(e) = runtime().block_on(AppQuery::<T>::from_request_parts(&mut parts, &())) {
        assert_eq!(
            e.code.status(),
            400,
            "query refused with {}: {}",
            e.code.status(),
            e.message
        );
    }
}

fuzz_target!(|data: &[u8]| {
    let Ok(query) = std::str::from_utf8(data) else {
        return;
    };
    let raw = query_param(Some(query), "since");
    match since(Some(query)) {
        Ok(None) => assert!(
            raw.as_deref().is_none_or(str::is_empty),
            "since={raw:?} ignored"
        ),
        Ok(Some(Seq(n))) => assert_eq!(raw.as_deref().and_then(decimal), Some(n), "since={raw:?}"),
        Err(code) => {
            assert_eq!(code, CloseCode::PolicyViolation);
            let value = raw.expect("a refused since was given");
            assert!(decimal(&value).is_none(), "since={value:?} refused");
        }
    }
    let raw = query_param(Some(query), "client_id");
    match client_id(Some(query)) {
        Ok(None) => assert!(raw.is_none(), "client_id={raw:?} ignored"),
        Ok(Some(id)) => assert_eq!(Some(id), raw.as_deref().and_then(ClientId::parse)),
        Err(code) => {
            assert_eq!(code, CloseCode::PolicyViolation);
            assert!(ClientId::parse(&raw.expect("a refused client_id was given")).is_none());
        }
    }
    for name in ["token", "guest_token", "site_token", "assistant_id"] {
        let _ = query_param(Some(query), name);
    }
    if let Ok(uri) = Uri::try_from(format!("/api/dialogs/x/events?{query}")) {
        http_query::<EventsQuery>(&uri);
        http_query::<ListQuery>(&uri);
    }
});
