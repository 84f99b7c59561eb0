//! Identity tokens as a site's backend signs them, and as an attacker would.

use super::*;
use jsonwebtoken::{encode, EncodingKey, Header};
use serde_json::{json, Value};

fn key(kid: &str) -> IdentityKey {
    IdentityKey {
        kid: kid.into(),
        secret: format!("{kid}-secret-0123456789abcdefghijklmnop"),
        created_at: chrono::Utc::now(),
    }
}

fn sign_with(alg: Algorithm, kid: Option<&str>, secret: &str, claims: &Value) -> String {
    let mut header = Header::new(alg);
    header.kid = kid.map(str::to_owned);
    encode(
        &header,
        claims,
        &EncodingKey::from_secret(secret.as_bytes()),
    )
    .unwrap()
}

fn sign(key: &IdentityKey, claims: &Value) -> String {
    sign_with(Algorithm::HS256, Some(&key.kid), &key.secret, claims)
}

fn in_secs(s: i64) -> u64 {
    (now() as i64 + s) as u64
}

#[test]
fn a_token_signed_with_one_of_the_keys_names_its_user() {
    let keys = [key("old"), key("new")];
    let claims = json!({"sub": "user-42", "name": " Ann Smith ", "email": "ann@shop.example",
        "exp": in_secs(600), "iat": in_secs(0), "iss": "shop"});
    for k in &keys {
        let (who, kid) = verify(&sign(k, &claims), &keys).unwrap();
        assert_eq!(kid, k.kid);
        assert_eq!(who.user_id, "user-42");
        assert_eq!(who.name.as_deref(), Some("Ann Smith"));
        assert_eq!(who.email.as_deref(), Some("ann@shop.example"));
    }
    let bare = verify(
        &sign(&keys[0], &json!({"sub": "7", "exp": in_secs(60)})),
        &keys,
    )
    .unwrap();
    assert_eq!((bare.0.name, bare.0.email), (None, None));
}

#[test]
fn a_forged_or_foreign_token_is_refused() {
    let keys = [key("k1")];
    let claims = json!({"sub": "u", "exp": in_secs(600)});
    // Signed with another secret under the right kid: the signature does not match.
    let forged = sign_with(
        Algorithm::HS256,
        Some("k1"),
        "guessed-secret-0123456789",
        &claims,
    );
    assert!(matches!(
        verify(&forged, &keys),
        Err(IdentityError::Invalid(_))
    ));
    // A key of another assistant (or a removed one): unknown kid.
    assert_eq!(
        verify(&sign(&key("k2"), &claims), &keys).unwrap_err(),
        IdentityError::UnknownKey
    );
    assert_eq!(
        verify(&sign(&keys[0], &claims), &[]).unwrap_err(),
        IdentityError::UnknownKey
    );
    // No kid at all.
    let no_kid = sign_with(Algorithm::HS256, None, &keys[0].secret, &claims);
    assert_eq!(
        verify(&no_kid, &keys).unwrap_err(),
        IdentityError::UnknownKey
    );
    // Another HMAC algorithm with the right key, and alg "none".
    let hs512 = sign_with(Algorithm::HS512, Some("k1"), &keys[0].secret, &claims);
    assert!(matches!(
        verify(&hs512, &keys),
        Err(IdentityError::Invalid(_))
    ));
    let good = sign(&keys[0], &claims);
    let (_, body_sig) = good.split_once('.').unwrap();
    let none_header = base64::Engine::encode(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD,
        br#"{"alg":"none","kid":"k1"}"#,
    );
    let unsigned = format!("{none_header}.{}", body_sig.rsplit_once('.').unwrap().0) + ".";
    assert!(verify(&unsigned, &keys).is_err());
    // A tampered payload under a valid signature.
    let parts: Vec<&str> = good.split('.').collect();
    let other_body = base64::Engine::encode(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD,
        json!({"sub": "admin", "exp": in_secs(600)}).to_string(),
    );
    let tampered = format!("{}.{other_body}.{}", parts[0], parts[2]);
    assert!(matches!(
        verify(&tampered, &keys),
        Err(IdentityError::Invalid(_))
    ));
    assert!(matches!(
        verify("not a jwt", &keys),
        Err(IdentityError::Invalid(_))
    ));
    assert!(matches!(
        verify(&"a".repeat(5000), &keys),
        Err(IdentityError::Invalid(_))
    ));
}

#[test]
fn expiry_is_required_checked_with_a_minute_of_leeway_and_at_most_a_day_away() {
    let keys = [key("k")];
    let check = |claims: Value| verify(&sign(&keys[0], &claims), &keys);
    assert!(
        matches!(check(json!({"sub": "u"})), Err(IdentityError::Invalid(_))),
        "exp required"
    );
    assert_eq!(
        check(json!({"sub": "u", "exp": in_secs(-120)})).unwrap_err(),
        IdentityError::Expired
    );
    assert!(
        check(json!({"sub": "u", "exp": in_secs(-30)})).is_ok(),
        "within the leeway"
    );
    assert!(check(json!({"sub": "u", "exp": in_secs(23 * 3600)})).is_ok());
    assert!(matches!(
        check(json!({"sub": "u", "exp": in_secs(48 * 3600)})),
        Err(IdentityError::Invalid(_))
    ));
    assert_eq!(
        check(json!({"sub": "u", "exp": in_secs(600), "nbf": in_secs(600)})).unwrap_err(),
        IdentityError::Expired,
        "not valid before nbf"
    );
    assert!(matches!(
        check(json!({"sub": "u", "exp": "soon"})),
        Err(IdentityError::Invalid(_))
    ));
}

#[test]
fn claims_out_of_shape_are_refused() {
    let keys = [key("k")];
    let check = |extra: Value| {
        let mut claims = json!({"sub": "u-1", "exp": in_secs(600)});
        claims
            .as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        verify(&sign(&keys[0], &claims), &keys)
    };
    for bad in [
        json!({"sub": ""}),
        json!({"sub": "   "}),
        json!({"sub": "x".repeat(129)}),
        json!({"sub": "a\nb"}),
        json!({"sub": 42}),
        json!({"name": "n".repeat(201)}),
        json!({"name": "a\u{0}b"}),
        json!({"email": "not-an-address"}),
        json!({"email": "a b@c"}),
        json!({"email": "@c"}),
        json!({"email": 5}),
    ] {
        assert!(
            matches!(check(bad.clone()), Err(IdentityError::Invalid(_))),
            "{bad}"
        );
    }
    assert!(check(json!({"sub": "x".repeat(128), "name": "", "email": ""})).is_ok());
}

#[test]
fn new_keys_are_random_and_strong() {
    let (a, b) = (new_key(), new_key());
    assert_ne!(a.kid, b.kid);
    assert_ne!(a.secret, b.secret);
    assert!(a.kid.starts_with("ik_"));
    assert_eq!(a.secret.len(), 43, "256 bits, base64url");
    let claims = json!({"sub": "u", "exp": in_secs(60)});
    assert!(verify(&sign(&a, &claims), std::slice::from_ref(&a)).is_ok());
}
