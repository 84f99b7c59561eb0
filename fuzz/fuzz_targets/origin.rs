//! The `Origin` check of the site widget's routes and socket. A page passes only when
//! its host is one of the allowed domains or a subdomain of one, label by label (so
//! `evilshop.example` never passes for `shop.example`), and never without an origin
//! or with one that has no host.
#![no_main]

use libfuzzer_sys::fuzz_target;
use replyx_server::auth::origin::{domain_host, is_allowed, origin_host};

/// Whether `host` is `domain` or below it, comparing whole labels.
fn within(host: &str, domain: &str) -> bool {
    let host: Vec<&str> = host.split('.').collect();
    let domain: Vec<&str> = domain.split('.').collect();
    !domain.iter().all(|l| l.is_empty()) && host.ends_with(&domain)
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    // The first line is the Origin header; each further line an allowed-domains entry.
    let mut lines = text.split('\n');
    let origin = lines.next().unwrap_or_default();
    let allowed: Vec<String> = lines.map(str::to_owned).collect();
    let passed = is_allowed(Some(origin), &allowed);
    assert!(!is_allowed(None, &allowed));
    if passed {
        let host = origin_host(origin).expect("a passing origin has a host");
        assert!(!host.is_empty());
        assert!(
            allowed.iter().any(|d| within(&host, &domain_host(d))),
            "{origin:?} passed for {allowed:?} (host {host:?})"
        );
    }
});
