//! Visitor identity tokens (`auth::identity::verify`), which any visitor's browser
//! hands the server, on two kinds of input chosen by the first byte:
//! - any string: a verified token names one of the assistant's key ids and a user id
//!   of 1 to 128 printable characters, and never verifies under keys with the same ids
//!   but other secrets;
//! - any JSON claims, signed with the first key: accepted only when `sub` is such a
//!   string and `exp` a number from a minute ago to a day and a minute ahead, and then
//!   with exactly the signed user id, trimmed name and e-mail.
#![no_main]

use jsonwebtoken::{encode, Algorithm, EncodingKey, Header};
use libfuzzer_sys::fuzz_target;
use replyx_core::IdentityKey;
use replyx_server::auth::identity::{verify, LEEWAY, MAX_LIFETIME, MAX_USER_ID_CHARS};
use serde_json::Value;
use std::time::{SystemTime, UNIX_EPOCH};

/// The secrets the seed tokens in `corpus/identity_token/` are signed with.
const SECRETS: [(&str, &str); 2] = [
    ("ik_seed1", "seed-identity-secret-one-0123456789abcdef"),
    ("ik_seed2", "seed-identity-secret-two-0123456789abcdef"),
];

fn keys(secret_suffix: &str) -> Vec<IdentityKey> {
    SECRETS
        .iter()
        .map(|(kid, secret)| IdentityKey {
            kid: (*kid).into(),
            secret: format!("{secret}{secret_suffix}"),
            created_at: chrono::Utc::now(),
        })
        .collect()
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

fn check_any(token: &str) {
    if let Ok((who, kid)) = verify(token, &keys("")) {
        assert!(SECRETS.iter().any(|(k, _)| *k == kid), "unknown kid {kid}");
        let chars = who.user_id.chars().count();
        assert!((1..=MAX_USER_ID_CHARS).contains(&chars), "{:?}", who.user_id);
        assert!(!who.user_id.trim().is_empty());
        assert!(!who.user_id.chars().any(char::is_control));
    }
    assert!(
        verify(token, &keys("-other")).is_err(),
        "verified under a key that never signed it: {token}"
    );
}

fn check_signed_claims(json: &[u8]) {
    let Ok(claims) = serde_json::from_slice::<Value>(json) else {
        return;
    };
    let mut header = Header::new(Algorithm::HS256);
    header.kid = Some(SECRETS[0].0.into());
    let token = encode(
        &header,
        &claims,
        &EncodingKey::from_secret(SECRETS[0].1.as_bytes()),
    )
    .expect("HS256 signs any JSON");
    let before = now();
    if let Ok((who, _)) = verify(&token, &keys("")) {
        let after = now();
        assert_eq!(claims["sub"].as_str(), Some(who.user_id.as_str()));
        let exp = claims["exp"].as_u64().expect("accepted without a numeric exp");
        assert!(exp + LEEWAY.as_secs() >= before, "accepted expired: {exp}");
        assert!(
            exp <= after + MAX_LIFETIME.as_secs() + LEEWAY.as_secs(),
            "accepted a token valid for too long: {exp}"
        );
        let trimmed = |k: &str| {
            claims[k]
                .as_str()
                .map(|s| s.trim().to_owned())
                .filter(|s| !s.is_empty())
        };
        assert_eq!(who.name, trimmed("name"));
        assert_eq!(who.email, trimmed("email"));
    }
    check_any(&token);
}

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    match mode % 2 {
        0 => check_any(&String::from_utf8_lossy(rest)),
        _ => check_signed_claims(rest),
    }
});
