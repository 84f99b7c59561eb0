//! The front ends, served by the server itself from files embedded in the binary
//! (`rust-embed`; read from `web/` on disk in debug builds): the widget loader and its
//! modules, the iframe page, the operator console and the demo page.

use super::security_headers;
use crate::demo::DEMO_ASSISTANT;
use crate::state::AppState;
use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{Html, IntoResponse, Redirect, Response};
use replyx_protocol::AssistantId;
use rust_embed::Embed;
use serde::Deserialize;

/// The browser-side files. Only these folders ship; tests and tooling stay out.
#[derive(Embed)]
#[folder = "../../web/"]
#[include = "shared/*.js"]
#[include = "widget/*.js"]
#[include = "widget/*.html"]
#[include = "widget/ui/*.js"]
#[include = "console/*"]
#[include = "demo/*"]
struct Assets;

fn asset(path: &str) -> Response {
    match Assets::get(path) {
        Some(file) => {
            let mime = file.metadata.mimetype().to_owned();
            let mut response = (StatusCode::OK, file.data.into_owned()).into_response();
            let headers = response.headers_mut();
            if let Ok(v) = HeaderValue::from_str(&mime) {
                headers.insert(header::CONTENT_TYPE, v);
            }
            // Modules are imported from customers' pages (site mode): allow any origin
            // to load them. They carry no credentials.
            headers.insert(
                header::ACCESS_CONTROL_ALLOW_ORIGIN,
                HeaderValue::from_static("*"),
            );
            headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
            response
        }
        None => (StatusCode::NOT_FOUND, "not found").into_response(),
    }
}

/// `GET /widget.js`: the loader a site owner embeds.
pub async fn widget_loader() -> Response {
    asset("widget/widget.js")
}

/// Query of the widget frame.
#[derive(Deserialize)]
pub struct FrameQuery {
    assistant_id: Option<String>,
}

/// `GET /widget/frame`: the page inside the widget's iframe. Only pages on the
/// assistant's allowed domains may frame it (`frame-ancestors`): the assistant id is
/// public in every page that embeds it, so without this any site could show it.
pub async fn widget_frame(State(state): State<AppState>, Query(q): Query<FrameQuery>) -> Response {
    let assistant = match q.assistant_id.as_deref().map(str::parse::<AssistantId>) {
        Some(Ok(id)) => state.store.assistant(id).await.ok().flatten(),
        _ => None,
    };
    let domains = assistant.map(|a| a.allowed_domains).unwrap_or_default();
    let mut response = asset("widget/frame.html");
    security_headers::set_policy(&mut response, &security_headers::frame_policy(&domains));
    response
}

/// `GET /console`: the operator console, with a strict policy and never framed.
pub async fn console_page(headers: HeaderMap) -> Response {
    let mut response = asset("console/index.html");
    security_headers::set_policy(&mut response, &security_headers::console_policy(&headers));
    response
}

/// `GET /static/{*path}`: widget, console and shared modules.
pub async fn static_asset(Path(path): Path<String>) -> Response {
    if path.contains("..") || path.starts_with("demo/") {
        return (StatusCode::NOT_FOUND, "not found").into_response();
    }
    asset(&path)
}

/// `GET /`: the demo.
pub async fn index() -> Redirect {
    Redirect::to("/demo")
}

/// Query of the demo page.
#[derive(Deserialize)]
pub struct DemoQuery {
    mode: Option<String>,
    /// A demo user to show as signed in (`ann`, `bob` …): the page signs their
    /// identity as a customer site's backend would.
    user: Option<String>,
}

/// `GET /demo`: a fake customer site with the widget embedded (`?mode=site` for the site
/// embed), wired to the demo assistant when the server runs with `--demo`.
pub async fn demo_page(State(state): State<AppState>, Query(q): Query<DemoQuery>) -> Response {
    let template = match Assets::get("demo/index.html") {
        Some(file) => String::from_utf8_lossy(&file.data).into_owned(),
        None => return (StatusCode::NOT_FOUND, "not found").into_response(),
    };
    let assistants = match state.store.list_assistants().await {
        Ok(list) => list,
        Err(e) => return crate::error::ApiError::from(e).into_response(),
    };
    let site = q.mode.as_deref() == Some("site");
    let Some(assistant) = assistants.into_iter().find(|a| a.name == DEMO_ASSISTANT) else {
        let page = template
            .replace("{{MODE_LABEL}}", "nowhere yet")
            .replace("{{NOTE}}", "Start the server with <code>replyx serve --demo</code> to create the demo assistant.")
            .replace("{{EMBED}}", "");
        let mut response = Html(page).into_response();
        security_headers::set_policy(&mut response, DEMO_POLICY);
        return response;
    };
    let user = q.user.as_deref().unwrap_or_default();
    let identity = match crate::demo::identity_token(state.store.as_ref(), &assistant, user).await {
        Ok(token) => token,
        Err(e) => return crate::error::ApiError::internal(e).into_response(),
    };
    // Only letters reach here with a token (`identity_token` checks), so the name is
    // safe in the page.
    let signed_in = match &identity {
        Some(token) => format!(r#" data-user-token="{token}""#),
        None => String::new(),
    };
    let who = match &identity {
        Some(_) => format!(
            " Signed in as <strong>{}{}</strong>: this page signed who you are, so your \
             dialogs follow you to any browser that opens this link, and operators see your \
             name. <a href=\"?{}\">Sign out</a>.",
            user[..1].to_ascii_uppercase(),
            &user[1..],
            if site { "mode=site" } else { "" }
        ),
        None => format!(
            " Try it as a signed-in visitor: <a href=\"?user=ann{0}\">Ann</a> or \
             <a href=\"?user=bob{0}\">Bob</a>.",
            if site { "&mode=site" } else { "" }
        ),
    };
    let (label, note, embed) = if site {
        let token = state
            .tokens
            .sign_site(assistant.id, &assistant.allowed_domains);
        (
            "straight into the page (site mode)",
            format!("Site mode: this page's origin is checked against the assistant's allowed domains.{who}"),
            format!(r#"<script src="/widget.js" data-site-token="{token}"{signed_in} async></script>"#),
        )
    } else {
        (
            "in an iframe (widget mode)",
            format!("Widget mode: the chat runs in an iframe served by ReplyX.{who}"),
            format!(
                r#"<script src="/widget.js" data-assistant-id="{}"{signed_in} async></script>"#,
                assistant.id
            ),
        )
    };
    let mut response = Html(
        template
            .replace("{{MODE_LABEL}}", label)
            .replace("{{NOTE}}", &note)
            .replace("{{EMBED}}", &embed),
    )
    .into_response();
    // A stand-in for a customer's page: its own scripts and the widget's, not framed.
    security_headers::set_policy(&mut response, DEMO_POLICY);
    response
}

const DEMO_POLICY: &str = "frame-ancestors 'none'; object-src 'none'; base-uri 'none'";
