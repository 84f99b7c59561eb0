//! The TOML settings file (`replyx serve --config`), read and resolved as at start.
//! Any file is either refused with an error or resolves to settings inside the bounds
//! the server depends on (a zero heartbeat or poll interval panics a timer, a zero
//! capacity panics a channel); the settings' `Debug` never shows the secret, and
//! `redact` never shows a URL's password.
#![no_main]

use libfuzzer_sys::fuzz_target;
use replyx_server::config::{redact, ServeOptions, Settings};
use std::time::Duration;

fn check_redact(url: &str) {
    let shown = redact(url);
    if let Ok(parsed) = url::Url::parse(url) {
        if let Some(password) = parsed.password() {
            // The password must not decide what is shown: another one shows the same.
            let mut other = parsed.clone();
            if other.set_password(Some("x-other-password-x")).is_ok() {
                assert_eq!(
                    shown,
                    redact(other.as_str()),
                    "redact shows the password of {url:?}"
                );
            }
            let _ = password;
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(options) = toml::from_str::<ServeOptions>(text) else {
        return;
    };
    if let Some(url) = &options.database_url {
        check_redact(url);
    }
    if let Some(url) = &options.bus_url {
        check_redact(url);
    }
    let Ok(settings) = Settings::resolve(options) else {
        return;
    };
    let l = &settings.limits;
    assert!(l.heartbeat_interval >= Duration::from_millis(50));
    assert!(l.heartbeat_timeout >= Duration::from_millis(100));
    assert!(settings.bus_poll_interval > Duration::ZERO);
    assert!(settings.canary_timeout > Duration::ZERO);
    assert!(l.outbox_capacity >= 1 && l.max_connections >= 1);
    assert!(l.max_visitor_connections_per_dialog >= 1 && l.max_admin_connections_per_dialog >= 1);
    assert!(l.client_frames_per_second >= 1 && l.ws_connects_per_ip_per_minute >= 1);
    assert!(l.visitor_requests_per_ip_per_minute >= 1 && l.login.attempts_per_ip_per_minute >= 1);
    assert!(l.login.hash_concurrency >= 1 && l.max_frame_bytes >= 64);
    assert!(settings.listen_backlog >= 1);
    let _ = settings.data_dir();
    let shown = format!("{settings:?}");
    let mut other = settings.clone();
    other.secret = other.secret.map(|_| "x-another-secret-x".to_owned());
    assert_eq!(
        shown,
        format!("{other:?}"),
        "Debug of the settings shows the secret"
    );
});
