//! What the router the server builds actually serves, read off that router rather than
//! off the route table it was meant to be built from — so a route added any other way
//! (a `.route` after the table, a merged router, a second handler for a socket path)
//! shows up in `replyx routes --check`.
//!
//! axum has no API to list a router's routes, so the paths come from the router's own
//! `Debug` output (its path node lists every path it matches), and the methods of each
//! path from asking the router itself: a request it answers with anything but 405 is
//! served. Should a new axum print its router differently, no path is found and the
//! check fails loudly (`served` refuses an empty router); it cannot pass blind.

use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use axum::Router;
use tower::ServiceExt;

/// Methods probed on every path (HEAD comes with GET in axum; OPTIONS is CORS's).
const METHODS: [Method; 5] = [
    Method::GET,
    Method::POST,
    Method::PUT,
    Method::PATCH,
    Method::DELETE,
];

/// Every (method, path template) `router` serves, sorted.
///
/// # Errors
/// No path could be read off the router, or it has a fallback that answers unknown
/// paths.
pub async fn served(router: &Router) -> Result<Vec<(String, String)>, String> {
    let paths = paths(router);
    if paths.is_empty() {
        return Err(
            "no route could be read off the built router (has axum's Debug output changed?)".into(),
        );
    }
    if !unknown_paths_get_the_default_404(router).await {
        return Err(
            "the built router answers paths it has no route for (a fallback handler?)".into(),
        );
    }
    let mut served = Vec::new();
    for path in paths {
        for method in METHODS {
            if answers(router, &method, &path).await {
                served.push((method.to_string(), path.clone()));
            }
        }
    }
    served.sort();
    Ok(served)
}

/// Whether a path no route matches gets axum's own answer, an empty 404; otherwise a
/// fallback handler serves every path the route list cannot show.
async fn unknown_paths_get_the_default_404(router: &Router) -> bool {
    let request = Request::get("/replyx-route-check/no-such-path")
        .body(Body::empty())
        .expect("a valid request");
    let Ok(response) = router.clone().oneshot(request).await;
    if response.status() != StatusCode::NOT_FOUND {
        return false;
    }
    matches!(axum::body::to_bytes(response.into_body(), 1024).await, Ok(b) if b.is_empty())
}

/// The path templates in the router's own matcher (its `path_router`, not the
/// fallback's).
fn paths(router: &Router) -> Vec<String> {
    let text = format!("{router:?}");
    let Some(own) = text
        .find("path_router:")
        .map(|start| &text[start..text.find("fallback_router:").unwrap_or(text.len())])
    else {
        return Vec::new();
    };
    let Some(node) = own.find("paths: {").map(|i| &own[i + "paths: {".len()..]) else {
        return Vec::new();
    };
    // `{RouteId(1): "/a", RouteId(2): "/b/{id}"}`: the quoted strings up to the first
    // brace outside quotes.
    let mut paths = Vec::new();
    let mut quoted: Option<String> = None;
    for ch in node.chars() {
        match (&mut quoted, ch) {
            (Some(path), '"') => {
                paths.push(std::mem::take(path));
                quoted = None;
            }
            (Some(path), ch) => path.push(ch),
            (None, '"') => quoted = Some(String::new()),
            (None, '}') => break,
            (None, _) => {}
        }
    }
    paths.retain(|p| p.starts_with('/'));
    paths.sort();
    paths.dedup();
    paths
}

/// Whether `router` serves `method` on `template` (with its parameters filled in).
async fn answers(router: &Router, method: &Method, template: &str) -> bool {
    let path: String = template
        .split('/')
        .map(|segment| match segment {
            s if s.starts_with("{*") => "x",
            s if s.starts_with('{') => "00000000-0000-0000-0000-000000000000",
            s => s,
        })
        .collect::<Vec<_>>()
        .join("/");
    let request = Request::builder()
        .method(method.clone())
        .uri(&path)
        .header("content-type", "application/json")
        .body(Body::empty())
        .expect("a valid request");
    match router.clone().oneshot(request).await {
        Ok(response) => response.status() != StatusCode::METHOD_NOT_ALLOWED,
        Err(never) => match never {},
    }
}

/// Where the built router and the route table disagree, one line each.
pub fn compare(table: &[super::RouteSpec], served: &[(String, String)]) -> Vec<String> {
    let listed: Vec<(String, String)> = table
        .iter()
        .map(|r| (r.method.to_owned(), r.path.to_owned()))
        .collect();
    let mut problems = Vec::new();
    for (method, path) in served {
        if !listed.iter().any(|(m, p)| m == method && p == path) {
            problems.push(format!(
                "{method} {path} is served but not in the route table (added around it?)"
            ));
        }
    }
    for (method, path) in &listed {
        if !served.iter().any(|(m, p)| m == method && p == path) {
            problems.push(format!(
                "{method} {path} is in the route table but the built router does not serve it"
            ));
        }
    }
    problems
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::app::App;
    use crate::config::{ServeOptions, Settings};
    use axum::routing::get;

    async fn state() -> crate::state::AppState {
        let settings = Settings::resolve(ServeOptions {
            database_url: Some("sqlite::memory:".into()),
            canary_interval: Some(std::time::Duration::ZERO),
            ..Default::default()
        })
        .unwrap();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        App::build_with_listener(settings, listener)
            .await
            .unwrap()
            .state
    }

    #[tokio::test]
    async fn the_built_router_serves_exactly_the_table() {
        let router = crate::http::router(state().await);
        let served = served(&router).await.unwrap();
        assert!(served.len() >= 30, "{served:?}");
        assert_eq!(
            compare(&crate::http::table(), &served),
            Vec::<String>::new()
        );
    }

    /// A second way into site sockets, added around the table: the table alone would
    /// never show it.
    #[tokio::test]
    async fn a_route_added_outside_the_table_is_found() {
        let state = state().await;
        let extra = Router::new()
            .route("/ws/site/{id}", get(|| async { "legacy" }))
            .with_state(());
        let router = crate::http::router(state).merge(extra);
        let served = served(&router).await.unwrap();
        let problems = compare(&crate::http::table(), &served);
        assert_eq!(
            problems,
            ["GET /ws/site/{id} is served but not in the route table (added around it?)"]
        );
    }

    #[tokio::test]
    async fn a_table_route_the_router_lacks_is_found_and_an_unreadable_router_is_an_error() {
        let mut table = crate::http::table();
        table.push(super::super::RouteSpec {
            method: "DELETE",
            path: "/api/dialogs/{id}",
            handler: "admin_dialogs::delete",
            auth: "operator",
            ws_kind: None,
            make: || get(|| async {}),
        });
        let router = crate::http::router(state().await);
        let problems = compare(&table, &served(&router).await.unwrap());
        assert_eq!(
            problems,
            ["DELETE /api/dialogs/{id} is in the route table but the built router does not serve it"]
        );
        assert!(served(&Router::new()).await.is_err());
    }

    /// A fallback serves every path without a route: no list of routes can show it.
    #[tokio::test]
    async fn a_fallback_that_answers_unknown_paths_is_found() {
        let router = crate::http::router(state().await).fallback(|| async { "legacy" });
        let e = served(&router).await.unwrap_err();
        assert!(e.contains("fallback"), "{e}");
    }
}
