//! Signing and checking the three token kinds.

use jsonwebtoken::{
    decode, encode, errors::ErrorKind, Algorithm, DecodingKey, EncodingKey, Header, Validation,
};
use replyx_protocol::{AssistantId, ConnectionKind, DialogId, GuestId, OperatorId};
use serde::{Deserialize, Serialize};
use std::time::Duration;

/// Guest tokens live long: a visitor coming back next week finds the dialog again.
const GUEST_TOKEN_TTL: Duration = Duration::from_secs(30 * 24 * 3600);

/// Why a token was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenError {
    /// Well-formed and correctly signed, but past its expiry.
    Expired,
    /// Missing, malformed, wrongly signed, or of another kind.
    Invalid,
}

/// An operator's login.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct OperatorClaims {
    /// Token kind: `operator`.
    pub typ: String,
    /// The operator.
    pub sub: OperatorId,
    /// Display name.
    pub name: String,
    /// Expiry (unix seconds).
    pub exp: u64,
}

/// A visitor's access to one dialog through one way in.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct GuestClaims {
    /// Token kind: `guest`.
    pub typ: String,
    /// The guest.
    pub sub: GuestId,
    /// The one dialog this token opens.
    pub dialog: DialogId,
    /// The dialog's assistant.
    pub assistant: AssistantId,
    /// `site` or `widget`: the routes this token is valid on.
    pub via: ConnectionKind,
    /// Expiry (unix seconds).
    pub exp: u64,
}

/// An embed token for a customer site. It does not expire; changing the assistant's
/// domains revokes it for the removed domains, because the Origin check uses both.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SiteClaims {
    /// Token kind: `site`.
    pub typ: String,
    /// The assistant.
    pub assistant: AssistantId,
    /// Domains allowed when the token was issued.
    pub domains: Vec<String>,
}

/// Keys for signing and checking tokens.
#[derive(Clone)]
pub struct Tokens {
    encoding: EncodingKey,
    decoding: DecodingKey,
    operator_ttl: Duration,
}

fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

impl Tokens {
    /// Keys derived from the server secret.
    pub fn new(secret: &str, operator_ttl: Duration) -> Self {
        Self {
            encoding: EncodingKey::from_secret(secret.as_bytes()),
            decoding: DecodingKey::from_secret(secret.as_bytes()),
            operator_ttl,
        }
    }

    fn sign<T: Serialize>(&self, claims: &T) -> String {
        encode(&Header::new(Algorithm::HS256), claims, &self.encoding)
            .expect("HS256 signing of plain claims cannot fail")
    }

    fn check<T: for<'de> Deserialize<'de>>(
        &self,
        token: &str,
        expiring: bool,
    ) -> Result<T, TokenError> {
        let mut validation = Validation::new(Algorithm::HS256);
        validation.leeway = 0;
        if !expiring {
            validation.validate_exp = false;
            validation.required_spec_claims.clear();
        }
        decode::<T>(token, &self.decoding, &validation)
            .map(|d| d.claims)
            .map_err(|e| match e.kind() {
                ErrorKind::ExpiredSignature => TokenError::Expired,
                _ => TokenError::Invalid,
            })
    }

    /// Signs an operator login; returns the token and its expiry (unix seconds).
    pub fn sign_operator(&self, id: OperatorId, name: &str) -> (String, u64) {
        let exp = now() + self.operator_ttl.as_secs();
        let claims = OperatorClaims {
            typ: "operator".into(),
            sub: id,
            name: name.into(),
            exp,
        };
        (self.sign(&claims), exp)
    }

    /// Checks an operator token.
    ///
    /// # Errors
    /// Expired, or invalid / of another kind.
    pub fn verify_operator(&self, token: &str) -> Result<OperatorClaims, TokenError> {
        let claims: OperatorClaims = self.check(token, true)?;
        (claims.typ == "operator")
            .then_some(claims)
            .ok_or(TokenError::Invalid)
    }

    /// Signs a guest's access to one dialog.
    pub fn sign_guest(
        &self,
        guest: &GuestId,
        dialog: DialogId,
        assistant: AssistantId,
        via: ConnectionKind,
    ) -> String {
        self.sign(&GuestClaims {
            typ: "guest".into(),
            sub: guest.clone(),
            dialog,
            assistant,
            via,
            exp: now() + GUEST_TOKEN_TTL.as_secs(),
        })
    }

    /// Checks a guest token.
    ///
    /// # Errors
    /// Expired, or invalid / of another kind.
    pub fn verify_guest(&self, token: &str) -> Result<GuestClaims, TokenError> {
        let claims: GuestClaims = self.check(token, true)?;
        (claims.typ == "guest")
            .then_some(claims)
            .ok_or(TokenError::Invalid)
    }

    /// Signs a site embed token.
    pub fn sign_site(&self, assistant: AssistantId, domains: &[String]) -> String {
        self.sign(&SiteClaims {
            typ: "site".into(),
            assistant,
            domains: domains.to_vec(),
        })
    }

    /// Checks a site token.
    ///
    /// # Errors
    /// Invalid or of another kind.
    pub fn verify_site(&self, token: &str) -> Result<SiteClaims, TokenError> {
        let claims: SiteClaims = self.check(token, false)?;
        (claims.typ == "site")
            .then_some(claims)
            .ok_or(TokenError::Invalid)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_token_of_one_kind_is_not_accepted_as_another() {
        let t = Tokens::new("secret", Duration::from_secs(60));
        let (op, _) = t.sign_operator(OperatorId::new(), "Ann");
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
            exp: now() - 5,
        };
        let token = t.sign(&claims);
        assert_eq!(t.verify_operator(&token).unwrap_err(), TokenError::Expired);
    }
}
