//! Signing and checking the three token kinds, each with its own keyring
//! (`auth::keys`): the header's `kid` names the key, and a token of one kind can never
//! verify as another (different keys, and the `typ` claim besides).

mod verified;

use super::keys::{Keys, Purpose};
use jsonwebtoken::{
    decode, decode_header, encode, errors::ErrorKind, Algorithm, Header, Validation,
};
use replyx_protocol::{AssistantId, ConnectionKind, DialogId, GuestId, OperatorId, SessionId};
use serde::{Deserialize, Serialize};
use std::time::Duration;
use verified::{Expiring, Found, Verified};

/// Guest tokens live long by default: a visitor coming back next week finds the dialog
/// again (`REPLYX_GUEST_TOKEN_TTL`).
pub const GUEST_TOKEN_TTL: Duration = Duration::from_secs(30 * 24 * 3600);

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
    /// The server-side session: the token is good only while it is live.
    pub sid: SessionId,
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

impl Expiring for OperatorClaims {
    fn exp(&self) -> u64 {
        self.exp
    }
}

impl Expiring for GuestClaims {
    fn exp(&self) -> u64 {
        self.exp
    }
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

/// Which key verified a token, for `replyx_token_verifications_total{key}`: a key
/// rotation is over when `overlap` and `legacy` stop counting.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyUse {
    /// The key that signs now.
    Signing,
    /// An older (or newer, not yet signing) key still accepted.
    Overlap,
    /// The raw server secret, for tokens from before key ids.
    Legacy,
}

impl KeyUse {
    /// Every value, as metric labels.
    pub const ALL: [KeyUse; 3] = [KeyUse::Signing, KeyUse::Overlap, KeyUse::Legacy];

    /// The metric label.
    pub fn as_str(self) -> &'static str {
        match self {
            KeyUse::Signing => "signing",
            KeyUse::Overlap => "overlap",
            KeyUse::Legacy => "legacy",
        }
    }
}

/// Told of every verified token: which purpose, which key.
pub type KeyObserver = std::sync::Arc<dyn Fn(Purpose, KeyUse) + Send + Sync>;

/// Keys for signing and checking tokens.
#[derive(Clone)]
pub struct Tokens {
    keys: Keys,
    operator_ttl: Duration,
    observer: Option<KeyObserver>,
    guest_ttl: Duration,
    /// Operator and guest tokens verified lately (`verified`): every request carries
    /// one, most of them a token already seen. Site tokens are checked when a dialog
    /// or a socket opens, not per message.
    operators: Verified<OperatorClaims>,
    guests: Verified<GuestClaims>,
}

fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

impl Tokens {
    /// Keys derived from the server secret, one per purpose.
    pub fn new(secret: &str, operator_ttl: Duration) -> Self {
        Self::with_keys(Keys::derived(secret), operator_ttl)
    }

    /// These keys.
    pub fn with_keys(keys: Keys, operator_ttl: Duration) -> Self {
        Self {
            keys,
            operator_ttl,
            observer: None,
            guest_ttl: GUEST_TOKEN_TTL,
            operators: Verified::new(),
            guests: Verified::new(),
        }
    }

    /// The same keys, signing guest tokens that last `ttl`.
    pub fn with_guest_ttl(self, ttl: Duration) -> Self {
        Self {
            guest_ttl: ttl,
            ..self
        }
    }

    /// Reports every verification to `observer` (the metrics).
    pub fn observed(mut self, observer: KeyObserver) -> Self {
        self.observer = Some(observer);
        self
    }

    /// The keys in use.
    pub fn keys(&self) -> &Keys {
        &self.keys
    }

    fn sign<T: Serialize>(&self, purpose: Purpose, claims: &T) -> String {
        let ring = self.keys.ring(purpose);
        let mut header = Header::new(Algorithm::HS256);
        header.kid = Some(ring.signing_kid().to_owned());
        encode(&header, claims, ring.signing_key())
            .expect("HS256 signing of plain claims cannot fail")
    }

    /// The claims of a correctly signed token, and which key verified it.
    fn check<T: for<'de> Deserialize<'de>>(
        &self,
        purpose: Purpose,
        token: &str,
        expiring: bool,
    ) -> Result<(T, KeyUse), TokenError> {
        let header = decode_header(token).map_err(|_| TokenError::Invalid)?;
        if header.alg != Algorithm::HS256 {
            return Err(TokenError::Invalid);
        }
        let ring = self.keys.ring(purpose);
        let (key, used) = match header.kid.as_deref() {
            Some(kid) => {
                let key = ring
                    .verifier(kid, chrono::Utc::now())
                    .ok_or(TokenError::Invalid)?;
                let used = if kid == ring.signing_kid() {
                    KeyUse::Signing
                } else {
                    KeyUse::Overlap
                };
                (key, used)
            }
            // Before key ids: site and guest tokens were signed with the raw secret.
            // Operator tokens from then have no session and are refused anyway.
            None if purpose != Purpose::Operator => (self.keys.legacy(), KeyUse::Legacy),
            None => return Err(TokenError::Invalid),
        };
        let mut validation = Validation::new(Algorithm::HS256);
        validation.leeway = 0;
        if !expiring {
            validation.validate_exp = false;
            validation.required_spec_claims.clear();
        }
        let claims = decode::<T>(token, key, &validation)
            .map(|d| d.claims)
            .map_err(|e| match e.kind() {
                ErrorKind::ExpiredSignature => TokenError::Expired,
                _ => TokenError::Invalid,
            })?;
        Ok((claims, used))
    }

    fn observe(&self, purpose: Purpose, used: KeyUse) {
        if let Some(observe) = &self.observer {
            observe(purpose, used);
        }
    }

    /// A token of `kind` (`typ`), from `verified` when it was checked lately.
    fn check_cached<C: Expiring + for<'de> Deserialize<'de>>(
        &self,
        purpose: Purpose,
        verified: &Verified<C>,
        token: &str,
        kind: impl Fn(&C) -> bool,
    ) -> Result<C, TokenError> {
        let (claims, used) = match verified.get(token, now()) {
            Found::Valid(claims, used) => (claims, used),
            Found::Expired => return Err(TokenError::Expired),
            Found::Unknown => {
                let (claims, used) = self.check::<C>(purpose, token, true)?;
                if !kind(&claims) {
                    return Err(TokenError::Invalid);
                }
                verified.insert(token, claims.clone(), used);
                (claims, used)
            }
        };
        self.observe(purpose, used);
        Ok(claims)
    }

    /// When an operator login made now expires (unix seconds).
    pub fn operator_expiry(&self) -> u64 {
        now() + self.operator_ttl.as_secs()
    }

    /// Signs an operator login for session `sid`, ending at `exp` (unix seconds).
    pub fn sign_operator(&self, id: OperatorId, name: &str, sid: SessionId, exp: u64) -> String {
        self.sign(
            Purpose::Operator,
            &OperatorClaims {
                typ: "operator".into(),
                sub: id,
                name: name.into(),
                sid,
                exp,
            },
        )
    }

    /// Checks an operator token.
    ///
    /// # Errors
    /// Expired, or invalid / of another kind.
    pub fn verify_operator(&self, token: &str) -> Result<OperatorClaims, TokenError> {
        self.check_cached(Purpose::Operator, &self.operators, token, |c| {
            c.typ == "operator"
        })
    }

    /// Signs a guest's access to one dialog.
    pub fn sign_guest(
        &self,
        guest: &GuestId,
        dialog: DialogId,
        assistant: AssistantId,
        via: ConnectionKind,
    ) -> String {
        self.sign(
            Purpose::Guest,
            &GuestClaims {
                typ: "guest".into(),
                sub: guest.clone(),
                dialog,
                assistant,
                via,
                exp: now() + self.guest_ttl.as_secs(),
            },
        )
    }

    /// Checks a guest token.
    ///
    /// # Errors
    /// Expired, or invalid / of another kind.
    pub fn verify_guest(&self, token: &str) -> Result<GuestClaims, TokenError> {
        self.check_cached(Purpose::Guest, &self.guests, token, |c| c.typ == "guest")
    }

    /// Signs a site embed token.
    pub fn sign_site(&self, assistant: AssistantId, domains: &[String]) -> String {
        self.sign(
            Purpose::Site,
            &SiteClaims {
                typ: "site".into(),
                assistant,
                domains: domains.to_vec(),
            },
        )
    }

    /// Checks a site token.
    ///
    /// # Errors
    /// Invalid or of another kind.
    pub fn verify_site(&self, token: &str) -> Result<SiteClaims, TokenError> {
        let (claims, used) = self.check::<SiteClaims>(Purpose::Site, token, false)?;
        if claims.typ != "site" {
            return Err(TokenError::Invalid);
        }
        self.observe(Purpose::Site, used);
        Ok(claims)
    }
}

#[cfg(test)]
mod tests;
