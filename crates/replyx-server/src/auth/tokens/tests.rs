//! Token kinds, expiry, key rotation and legacy tokens.

use super::*;

#[test]
fn a_token_of_one_kind_is_not_accepted_as_another() {
    let t = Tokens::new("secret", Duration::from_secs(60));
    let op = t.sign_operator(
        OperatorId::new(),
        "Ann",
        SessionId::new(),
        t.operator_expiry(),
    );
    let site = t.sign_site(AssistantId::new(), &["a.example".into()]);
    assert!(t.verify_operator(&op).is_ok());
    assert_eq!(t.verify_guest(&op).unwrap_err(), TokenError::Invalid);
    assert_eq!(t.verify_operator(&site).unwrap_err(), TokenError::Invalid);
    assert!(t.verify_site(&site).is_ok());
    let other = Tokens::new("other", Duration::from_secs(60));
    assert_eq!(other.verify_operator(&op).unwrap_err(), TokenError::Invalid);
}

#[test]
fn expired_operator_token_is_reported_as_expired() {
    let t = Tokens::new("secret", Duration::from_secs(60));
    let claims = OperatorClaims {
        typ: "operator".into(),
        sub: OperatorId::new(),
        name: "A".into(),
        sid: SessionId::new(),
        exp: now() - 5,
    };
    let token = t.sign(Purpose::Operator, &claims);
    assert_eq!(t.verify_operator(&token).unwrap_err(), TokenError::Expired);
}

const OLD: &str = "old-operator-key-0123456789abcdefghij";
const NEW: &str = "new-operator-key-0123456789abcdefghij";

fn keys_file(entries: &[(&str, &str, &str)]) -> String {
    entries
        .iter()
        .map(|(kid, secret, extra)| {
            format!("[[key]]\npurpose = \"operator\"\nkid = \"{kid}\"\nsecret = \"{secret}\"\n{extra}\n")
        })
        .collect()
}

#[test]
fn an_operator_key_rotates_with_an_overlap_and_site_tokens_never_notice() {
    let secret = "server secret 0123456789";
    let ttl = Duration::from_secs(600);
    let before = Tokens::with_keys(
        Keys::from_file_text(secret, &keys_file(&[("op-1", OLD, "")])).unwrap(),
        ttl,
    );
    let old = before.sign_operator(
        OperatorId::new(),
        "Ann",
        SessionId::new(),
        before.operator_expiry(),
    );
    let site = before.sign_site(AssistantId::new(), &["a.example".into()]);
    let guest = before.sign_guest(
        &GuestId::parse("guest-0001").unwrap(),
        DialogId::new(),
        AssistantId::new(),
        ConnectionKind::Widget,
    );

    // Overlap: the new key signs, the old one still verifies.
    let during = Tokens::with_keys(
        Keys::from_file_text(
            secret,
            &keys_file(&[("op-2", NEW, ""), ("op-1", OLD, "verify_only = true")]),
        )
        .unwrap(),
        ttl,
    );
    assert!(during.verify_operator(&old).is_ok());
    let new = during.sign_operator(
        OperatorId::new(),
        "Ann",
        SessionId::new(),
        during.operator_expiry(),
    );
    assert_eq!(decode_header(&new).unwrap().kid.as_deref(), Some("op-2"));

    // After: the old key is gone, its tokens with it; the new ones, and every site
    // and guest token, still verify.
    let after = Tokens::with_keys(
        Keys::from_file_text(secret, &keys_file(&[("op-2", NEW, "")])).unwrap(),
        ttl,
    );
    assert_eq!(
        after.verify_operator(&old).unwrap_err(),
        TokenError::Invalid
    );
    assert!(after.verify_operator(&new).is_ok());
    assert!(after.verify_site(&site).is_ok());
    assert!(after.verify_guest(&guest).is_ok());
}

#[test]
fn a_token_signed_with_another_purposes_key_is_refused_whatever_it_claims() {
    let t = Tokens::new("server secret 0123456789", Duration::from_secs(60));
    // Operator claims signed with the site key, under the site key's id.
    let forged = t.sign(
        Purpose::Site,
        &OperatorClaims {
            typ: "operator".into(),
            sub: OperatorId::new(),
            name: "Mallory".into(),
            sid: SessionId::new(),
            exp: now() + 60,
        },
    );
    assert_eq!(t.verify_operator(&forged).unwrap_err(), TokenError::Invalid);
}

#[test]
fn site_tokens_from_before_key_ids_still_verify_and_operator_ones_do_not() {
    let secret = "server secret 0123456789";
    let raw = jsonwebtoken::EncodingKey::from_secret(secret.as_bytes());
    let site = encode(
        &Header::new(Algorithm::HS256),
        &SiteClaims {
            typ: "site".into(),
            assistant: AssistantId::new(),
            domains: vec!["a.example".into()],
        },
        &raw,
    )
    .unwrap();
    let operator = encode(
        &Header::new(Algorithm::HS256),
        &OperatorClaims {
            typ: "operator".into(),
            sub: OperatorId::new(),
            name: "Old".into(),
            sid: SessionId::new(),
            exp: now() + 60,
        },
        &raw,
    )
    .unwrap();
    let used = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let seen = used.clone();
    let t =
        Tokens::new(secret, Duration::from_secs(60)).observed(std::sync::Arc::new(move |p, k| {
            seen.lock().unwrap().push((p, k))
        }));
    assert!(t.verify_site(&site).is_ok());
    assert_eq!(
        t.verify_operator(&operator).unwrap_err(),
        TokenError::Invalid
    );
    assert_eq!(*used.lock().unwrap(), [(Purpose::Site, KeyUse::Legacy)]);
}

#[test]
fn a_token_verified_before_is_still_counted_and_only_its_exact_bytes_pass() {
    let seen = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let t = Tokens::new("secret", Duration::from_secs(60)).observed({
        let seen = seen.clone();
        std::sync::Arc::new(move |purpose, used| seen.lock().unwrap().push((purpose, used)))
    });
    let guest = t.sign_guest(
        &GuestId::parse("guest-0001").unwrap(),
        DialogId::new(),
        AssistantId::new(),
        ConnectionKind::Widget,
    );
    let first = t.verify_guest(&guest).unwrap();
    let again = t.verify_guest(&guest).unwrap();
    assert_eq!((first.sub, first.dialog), (again.sub, again.dialog));
    assert_eq!(
        *seen.lock().unwrap(),
        [(Purpose::Guest, KeyUse::Signing); 2],
        "a verification served from the cache is counted by its key too"
    );
    // The same claims under a signature with one character in its middle changed (the
    // last one carries unused bits).
    let at = guest.len() - 10;
    let swapped = if &guest[at..=at] == "A" { "B" } else { "A" };
    let forged = format!("{}{swapped}{}", &guest[..at], &guest[at + 1..]);
    assert_eq!(t.verify_guest(&forged).unwrap_err(), TokenError::Invalid);
    assert_eq!(
        t.verify_operator(&guest).unwrap_err(),
        TokenError::Invalid,
        "a cached guest token is no operator token"
    );
}
