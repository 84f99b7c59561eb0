//! Settings out of bounds stop `replyx serve` at start with a message naming the
//! variable, before anything listens: the values that used to panic every session (a
//! zero heartbeat) or kill the bus poll task while health stayed green (a zero poll
//! interval) among them.

use std::process::Command;

fn serve_with(var: &str, value: &str) -> (bool, String) {
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_replyx"))
        .arg("serve")
        .env("REPLYX_BIND", "127.0.0.1:0")
        .env(
            "REPLYX_DATABASE_URL",
            format!("sqlite://{}/replyx.db", dir.path().display()),
        )
        .env(var, value)
        .output()
        .expect("replyx runs");
    let text =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    (out.status.success(), text)
}

#[test]
fn serve_refuses_out_of_bounds_settings_by_name_before_listening() {
    for (var, value) in [
        ("REPLYX_HEARTBEAT_INTERVAL", "0s"),
        ("REPLYX_BUS_POLL_INTERVAL", "0s"),
        ("REPLYX_OUTBOX_CAPACITY", "0"),
        ("REPLYX_MAX_FRAME_BYTES", "10"),
        ("REPLYX_CANARY_TIMEOUT", "0s"),
    ] {
        let (ok, text) = serve_with(var, value);
        assert!(!ok, "{var}={value} was accepted:\n{text}");
        assert!(
            text.contains(var),
            "{var}={value}: the error names it:\n{text}"
        );
        assert!(
            !text.contains("listening on"),
            "{var}={value}: refused before listening:\n{text}"
        );
    }
}
