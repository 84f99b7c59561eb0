//! Token verification (`verify_operator`, `verify_guest`, `verify_site`) on three kinds
//! of input, chosen by the first byte:
//! - any string: at most one kind accepts it, an accepted token carries its own kind's
//!   `typ`, unexpired where the kind expires, and nothing verifies under another key;
//! - any JSON claims, correctly signed: the same, so no claim set is two kinds at once;
//! - a token the server signs (through its own `sign_*`): it verifies as that kind with
//!   the claims it was given, and never as either other kind.
#![no_main]

use jsonwebtoken::{encode, Algorithm, EncodingKey, Header};
use libfuzzer_sys::arbitrary::{Result, Unstructured};
use libfuzzer_sys::fuzz_target;
use replyx_protocol::{AssistantId, ConnectionKind, DialogId, GuestId, OperatorId, SessionId};
use replyx_server::auth::{TokenError, Tokens};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// The key the seed tokens in `corpus/token/` are signed with.
const SECRET: &str = "fuzz-secret-0123456789";
const OTHER: &str = "another-secret-0123456789";

fn uuid(u: &mut Unstructured<'_>) -> Result<uuid::Uuid> {
    Ok(uuid::Uuid::from_bytes(u.arbitrary()?))
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// Which kinds accept `token` under `tokens`, checking each acceptance's claims.
fn accepted(tokens: &Tokens, token: &str) -> Vec<&'static str> {
    let mut kinds = Vec::new();
    // Taken before verifying: the check's own clock reads at least this.
    let before = now();
    match tokens.verify_operator(token) {
        Ok(c) => {
            assert_eq!(c.typ, "operator");
            assert!(c.exp >= before, "an expired operator token was accepted");
            kinds.push("operator");
        }
        Err(TokenError::Expired | TokenError::Invalid) => {}
    }
    match tokens.verify_guest(token) {
        Ok(c) => {
            assert_eq!(c.typ, "guest");
            assert!(c.exp >= before, "an expired guest token was accepted");
            kinds.push("guest");
        }
        Err(TokenError::Expired | TokenError::Invalid) => {}
    }
    match tokens.verify_site(token) {
        Ok(c) => {
            assert_eq!(c.typ, "site");
            kinds.push("site");
        }
        // Site tokens do not expire: "expired" would be a claim read from an unchecked field.
        Err(e) => assert_eq!(e, TokenError::Invalid, "site token reported {e:?}"),
    }
    assert!(kinds.len() <= 1, "one token accepted as {kinds:?}: {token}");
    kinds
}

fn check_any(token: &str) {
    let tokens = Tokens::new(SECRET, Duration::from_secs(3600));
    accepted(&tokens, token);
    let other = Tokens::new(OTHER, Duration::from_secs(3600));
    assert!(
        accepted(&other, token).is_empty(),
        "verified under a key that never signed it"
    );
}

fn check_signed_claims(json: &[u8]) {
    let Ok(claims) = serde_json::from_slice::<serde_json::Value>(json) else {
        return;
    };
    let token = encode(
        &Header::new(Algorithm::HS256),
        &claims,
        &EncodingKey::from_secret(SECRET.as_bytes()),
    )
    .expect("HS256 signs any JSON");
    let tokens = Tokens::new(SECRET, Duration::from_secs(3600));
    if let Some(kind) = accepted(&tokens, &token).first() {
        assert_eq!(claims.get("typ").and_then(|t| t.as_str()), Some(*kind));
    }
    check_any(&token);
}

fn check_server_signed(u: &mut Unstructured<'_>) -> Result<()> {
    let tokens = Tokens::new(
        SECRET,
        Duration::from_secs(u.int_in_range(60..=90 * 24 * 3600)?),
    );
    let kind: u8 = u.int_in_range(0..=2)?;
    let token = match kind {
        0 => {
            let id = OperatorId(uuid(u)?);
            let name: String = u.arbitrary()?;
            let sid = SessionId(uuid(u)?);
            let exp = tokens.operator_expiry();
            let token = tokens.sign_operator(id, &name, sid, exp);
            let claims = tokens
                .verify_operator(&token)
                .expect("a fresh operator token verifies");
            assert_eq!(
                (claims.sub, claims.name, claims.sid, claims.exp),
                (id, name, sid, exp)
            );
            token
        }
        1 => {
            let raw: String = u.arbitrary()?;
            let guest = GuestId::parse(&raw).unwrap_or_else(GuestId::generate);
            let dialog = DialogId(uuid(u)?);
            let assistant = AssistantId(uuid(u)?);
            let via = *u.choose(&ConnectionKind::ALL)?;
            let token = tokens.sign_guest(&guest, dialog, assistant, via);
            let claims = tokens
                .verify_guest(&token)
                .expect("a fresh guest token verifies");
            assert_eq!(claims.sub, guest);
            assert_eq!(
                (claims.dialog, claims.assistant, claims.via),
                (dialog, assistant, via)
            );
            token
        }
        _ => {
            let assistant = AssistantId(uuid(u)?);
            let domains: Vec<String> = u.arbitrary()?;
            let token = tokens.sign_site(assistant, &domains);
            let claims = tokens.verify_site(&token).expect("a site token verifies");
            assert_eq!((claims.assistant, claims.domains), (assistant, domains));
            token
        }
    };
    let kinds = accepted(&tokens, &token);
    assert_eq!(kinds.len(), 1);
    check_any(&token);
    Ok(())
}

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    match mode % 3 {
        0 => check_any(&String::from_utf8_lossy(rest)),
        1 => check_signed_claims(rest),
        _ => {
            let _ = check_server_signed(&mut Unstructured::new(rest));
        }
    }
});
