//! The OpenAPI document cannot drift from the router: every JSON route of the table
//! under `/api` and `/health` is documented with its method, nothing else is (the
//! WebSocket paths are listed as they are in `WS_PATHS`), and each operation's security
//! is the one its table row names.

use replyx_server::http::{table, WS_PATHS};
use replyx_testkit::{Api, TestServer};
use serde_json::{json, Value};
use std::collections::BTreeSet;

const METHODS: [&str; 5] = ["get", "post", "put", "patch", "delete"];

type Routes = BTreeSet<(String, String)>;

fn is_json_route(path: &str) -> bool {
    path.starts_with("/api/") || path == "/health" || path.starts_with("/health/")
}

/// (METHOD, path) of the table's JSON routes and of its WebSocket upgrades.
fn served() -> (Routes, Routes) {
    let routes = table();
    let json = routes
        .iter()
        .filter(|r| r.ws_kind.is_none() && is_json_route(r.path))
        .map(|r| (r.method.to_owned(), r.path.to_owned()))
        .collect();
    let ws = WS_PATHS
        .iter()
        .map(|(p, _)| ("GET".to_owned(), (*p).to_owned()))
        .collect();
    (json, ws)
}

/// (METHOD, path) of every operation in the document.
fn documented(doc: &Value) -> Routes {
    let mut out = BTreeSet::new();
    for (path, item) in doc["paths"].as_object().expect("paths") {
        for method in METHODS {
            if item.get(method).is_some() {
                out.insert((method.to_uppercase(), path.clone()));
            }
        }
    }
    out
}

/// What differs between the table and the document, one line each.
fn drift(doc: &Value) -> Vec<String> {
    let (json, ws) = served();
    let served: Routes = json.union(&ws).cloned().collect();
    let documented = documented(doc);
    let mut problems = Vec::new();
    for (m, p) in served.difference(&documented) {
        problems.push(format!("{m} {p} is served but not documented"));
    }
    for (m, p) in documented.difference(&served) {
        problems.push(format!("{m} {p} is documented but not served"));
    }
    problems
}

/// The security requirement names the table's auth column implies.
fn expected_security(auth: &str) -> BTreeSet<String> {
    match auth {
        "operator" | "admin" => ["operator"].into_iter().map(String::from).collect(),
        a if a.starts_with("guest_token") => ["guest_token", "guest_token_query"]
            .into_iter()
            .map(String::from)
            .collect(),
        _ => BTreeSet::new(),
    }
}

async fn served_document() -> Value {
    let server = TestServer::start().await;
    let api = Api::new(&server.base);
    let (status, doc) = api.get("/api/openapi.json", None).await;
    assert_eq!(status, 200, "{doc}");
    doc
}

#[tokio::test]
async fn the_served_document_lists_exactly_the_routes_of_the_table() {
    let doc = served_document().await;
    assert_eq!(doc["openapi"], "3.1.0");
    let problems = drift(&doc);
    assert!(problems.is_empty(), "{problems:#?}");
}

#[tokio::test]
async fn each_operation_has_the_security_and_error_shape_of_its_route() {
    let doc = served_document().await;
    for r in table()
        .iter()
        .filter(|r| r.ws_kind.is_none() && is_json_route(r.path))
    {
        let op = &doc["paths"][r.path][r.method.to_lowercase()];
        let security: BTreeSet<String> = op["security"]
            .as_array()
            .unwrap_or_else(|| panic!("{} {} names no security", r.method, r.path))
            .iter()
            .flat_map(|req| req.as_object().into_iter().flat_map(|o| o.keys().cloned()))
            .collect();
        assert_eq!(
            security,
            expected_security(r.auth),
            "{} {} (auth {})",
            r.method,
            r.path,
            r.auth
        );
        let responses = op["responses"].as_object().expect("responses");
        if r.path.starts_with("/api/") && r.path != "/api/openapi.json" {
            for (status, response) in responses.iter().filter(|(s, _)| s.starts_with('4')) {
                assert_eq!(
                    response["content"]["application/json"]["schema"]["$ref"],
                    "#/components/schemas/ErrorBody",
                    "{} {} {status}",
                    r.method,
                    r.path
                );
            }
            assert!(
                responses.keys().any(|s| s.starts_with('4')),
                "{} {} documents no error",
                r.method,
                r.path
            );
        }
        if !expected_security(r.auth).is_empty() || r.auth.contains("token") {
            assert!(
                responses.contains_key("401"),
                "{} {} takes credentials but documents no 401",
                r.method,
                r.path
            );
        }
    }
}

#[tokio::test]
async fn a_route_missing_from_the_document_or_extra_in_it_is_caught() {
    let mut doc = served_document().await;
    let paths = doc["paths"].as_object_mut().unwrap();
    paths.remove("/api/dialogs/{id}/handoff");
    paths["/api/dialogs"]
        .as_object_mut()
        .unwrap()
        .insert("delete".into(), json!({"responses": {}}));
    paths.insert("/api/legacy".into(), json!({"get": {"responses": {}}}));
    let problems = drift(&doc);
    assert_eq!(
        problems,
        [
            "POST /api/dialogs/{id}/handoff is served but not documented",
            "DELETE /api/dialogs is documented but not served",
            "GET /api/legacy is documented but not served",
        ],
    );
}
