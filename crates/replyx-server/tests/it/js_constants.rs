//! The browser clients' protocol constants (`web/shared/protocol.js`) match the server's
//! tables, so a close code or its reconnect policy cannot drift between Rust and JS.

use replyx_protocol::{CloseCode, ErrorCode};
use serde_json::{json, Map, Value};

fn js_block(name: &str) -> Map<String, Value> {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../web/shared/protocol.js");
    let source = std::fs::read_to_string(path).expect("web/shared/protocol.js exists");
    let begin = format!("/* BEGIN {name} */");
    let end = format!("/* END {name} */");
    let start = source.find(&begin).expect("begin marker") + begin.len();
    let stop = source.find(&end).expect("end marker");
    serde_json::from_str(&source[start..stop]).expect("the marked block is JSON")
}

#[test]
fn js_close_codes_match_the_rust_table() {
    let js = js_block("close-codes");
    let rust: Map<String, Value> = CloseCode::ALL
        .iter()
        .map(|c| {
            (
                c.code().to_string(),
                json!({"name": c.name(), "policy": c.policy()}),
            )
        })
        .collect();
    assert_eq!(js, rust);
}

#[test]
fn js_error_codes_match_the_rust_table() {
    let js = js_block("error-codes");
    let rust: Map<String, Value> = ErrorCode::ALL
        .iter()
        .map(|c| (c.as_str().to_owned(), json!(c.status())))
        .collect();
    assert_eq!(js, rust);
}
