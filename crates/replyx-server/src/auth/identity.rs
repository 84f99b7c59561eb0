//! Checking a visitor identity token: a JWT that a customer site's own backend signs
//! for its logged-in user with one of the assistant's identity keys (HS256, the key's
//! id in the header's `kid`). Claims: `sub` (the site's user id), optional `name` and
//! `email`, and `exp`, which is required and at most [`MAX_LIFETIME`] away, so a token
//! copied out of a page stops working soon. Unknown claims (`iat`, `iss`, `jti` …) are
//! allowed and ignored; `nbf` is honoured.
//!
//! The signature is checked by `jsonwebtoken`, with HS256 as the only algorithm (a
//! token naming `none` or an RSA algorithm is refused before any key is tried).

use jsonwebtoken::{decode, decode_header, errors::ErrorKind, Algorithm, DecodingKey, Validation};
use replyx_core::IdentityKey;
use replyx_protocol::VisitorIdentity;
use serde::Deserialize;
use std::time::Duration;

/// The longest an identity token may still be valid for when it arrives. Sites sign a
/// fresh one with every page for a logged-in user; a day covers a tab left open.
pub const MAX_LIFETIME: Duration = Duration::from_secs(24 * 3600);

/// Clock difference tolerated between the site's backend and this server.
pub const LEEWAY: Duration = Duration::from_secs(60);

/// Longest token accepted, in bytes (a few claims fit in well under 1 KiB).
pub const MAX_TOKEN_BYTES: usize = 4096;

/// Longest user id, name and e-mail, in characters.
pub const MAX_USER_ID_CHARS: usize = 128;
const MAX_NAME_CHARS: usize = 200;
const MAX_EMAIL_CHARS: usize = 254;

/// Why an identity token was refused: each is `401 identity_invalid`, the reason goes
/// into the error message and the metric label.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IdentityError {
    /// Past its `exp` (or before its `nbf`).
    Expired,
    /// No `kid`, or one that is not among the assistant's keys.
    UnknownKey,
    /// Not an HS256 JWT signed by the named key, or claims out of shape.
    Invalid(&'static str),
}

impl IdentityError {
    /// The message for the API error body.
    pub fn message(self) -> &'static str {
        match self {
            IdentityError::Expired => "the identity token has expired",
            IdentityError::UnknownKey => {
                "the identity token's kid is not one of this assistant's identity keys"
            }
            IdentityError::Invalid(why) => why,
        }
    }

    /// The `outcome` label of `replyx_identity_verifications_total`.
    pub fn outcome(self) -> &'static str {
        match self {
            IdentityError::Expired => "expired",
            IdentityError::UnknownKey => "unknown_key",
            IdentityError::Invalid(_) => "invalid",
        }
    }
}

#[derive(Deserialize)]
struct Claims {
    sub: String,
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    email: Option<String>,
    exp: u64,
}

fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// Checks `token` against the assistant's `keys` and returns who it names, with the
/// id of the key that verified it.
///
/// # Errors
/// Expired, signed by no key of the assistant's, or malformed.
pub fn verify(
    token: &str,
    keys: &[IdentityKey],
) -> Result<(VisitorIdentity, String), IdentityError> {
    if token.len() > MAX_TOKEN_BYTES {
        return Err(IdentityError::Invalid("the identity token is too long"));
    }
    let header = decode_header(token)
        .map_err(|_| IdentityError::Invalid("the identity token is not a JWT"))?;
    if header.alg != Algorithm::HS256 {
        return Err(IdentityError::Invalid(
            "identity tokens must be signed with HS256",
        ));
    }
    let kid = header.kid.ok_or(IdentityError::UnknownKey)?;
    let key = keys
        .iter()
        .find(|k| k.kid == kid)
        .ok_or(IdentityError::UnknownKey)?;
    let mut validation = Validation::new(Algorithm::HS256);
    validation.leeway = LEEWAY.as_secs();
    validation.validate_nbf = true;
    validation.set_required_spec_claims(&["exp", "sub"]);
    let claims = decode::<Claims>(
        token,
        &DecodingKey::from_secret(key.secret.as_bytes()),
        &validation,
    )
    .map_err(|e| match e.kind() {
        ErrorKind::ExpiredSignature | ErrorKind::ImmatureSignature => IdentityError::Expired,
        ErrorKind::InvalidSignature => {
            IdentityError::Invalid("the identity token's signature does not match its key")
        }
        ErrorKind::Json(_) | ErrorKind::MissingRequiredClaim(_) => IdentityError::Invalid(
            "the identity token needs a string sub and a numeric exp; name and email are strings",
        ),
        _ => IdentityError::Invalid("the identity token is malformed"),
    })?
    .claims;
    if claims.exp > now() + MAX_LIFETIME.as_secs() + LEEWAY.as_secs() {
        return Err(IdentityError::Invalid(
            "the identity token's exp is more than 24 hours away",
        ));
    }
    Ok((identity(claims)?, kid))
}

/// A new identity key: a random id and a random 256-bit secret, base64url text (which
/// the site's backend uses as the HMAC key's bytes, as JWT libraries do with a string).
pub fn new_key() -> IdentityKey {
    use base64::Engine;
    use rand::RngCore;
    let mut raw = [0u8; 32];
    rand::thread_rng().fill_bytes(&mut raw);
    let id: [u8; 8] = rand::random();
    IdentityKey {
        kid: format!(
            "ik_{}",
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(id)
        ),
        secret: base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(raw),
        created_at: chrono::Utc::now(),
    }
}

fn identity(claims: Claims) -> Result<VisitorIdentity, IdentityError> {
    let printable = |s: &str| !s.chars().any(char::is_control);
    let sub = claims.sub;
    if sub.trim().is_empty() || sub.chars().count() > MAX_USER_ID_CHARS || !printable(&sub) {
        return Err(IdentityError::Invalid(
            "the identity token's sub must be 1 to 128 printable characters",
        ));
    }
    let name = claims
        .name
        .map(|n| n.trim().to_owned())
        .filter(|n| !n.is_empty());
    if name
        .as_deref()
        .is_some_and(|n| n.chars().count() > MAX_NAME_CHARS || !printable(n))
    {
        return Err(IdentityError::Invalid(
            "the identity token's name must be at most 200 printable characters",
        ));
    }
    let email = claims
        .email
        .map(|e| e.trim().to_owned())
        .filter(|e| !e.is_empty());
    if email.as_deref().is_some_and(|e| {
        e.chars().count() > MAX_EMAIL_CHARS
            || !printable(e)
            || e.contains(char::is_whitespace)
            || !e
                .split_once('@')
                .is_some_and(|(l, d)| !l.is_empty() && !d.is_empty())
    }) {
        return Err(IdentityError::Invalid(
            "the identity token's email must be an e-mail address",
        ));
    }
    Ok(VisitorIdentity {
        user_id: sub,
        name,
        email,
    })
}

#[cfg(test)]
mod tests;
