//! Tokens this process verified lately, so that a client sending many requests with one
//! token pays for its signature once: verifying a guest token (two base64 and JSON
//! decodings and an HMAC-SHA256) is about 21,000 instructions, a twentieth of a stored
//! message's whole cost (docs/perf/RESULTS.md §7).
//!
//! The key is the whole token, byte for byte: a hit is the very string whose signature
//! was checked, so no forged or altered token can match an entry. What a hit skips is
//! the signature and the key's validity window; its expiry is checked on every hit. A
//! key retired while a token it signed is cached keeps verifying that token for at most
//! [`LIFETIME`].

use super::KeyUse;
use moka::sync::Cache;
use std::sync::Arc;
use std::time::Duration;

/// How long a verification is trusted.
pub(super) const LIFETIME: Duration = Duration::from_secs(30);
/// Tokens kept, least recently used dropped first: a bound on memory (a guest token and
/// its claims are about half a KiB), not a limit on clients.
const CAPACITY: u64 = 8_192;

/// Claims that end.
pub(super) trait Expiring: Clone + Send + Sync + 'static {
    /// Expiry (unix seconds).
    fn exp(&self) -> u64;
}

/// What a lookup found.
#[derive(Debug, PartialEq)]
pub(super) enum Found<C> {
    /// Verified lately and not expired: the claims and the key that verified them.
    Valid(C, KeyUse),
    /// Verified lately, but expired since.
    Expired,
    /// Not verified lately.
    Unknown,
}

/// The verified tokens of one kind.
#[derive(Clone)]
pub(super) struct Verified<C: Expiring> {
    cache: Cache<Arc<str>, (C, KeyUse)>,
}

impl<C: Expiring> Verified<C> {
    /// An empty cache.
    pub(super) fn new() -> Self {
        Self {
            cache: Cache::builder()
                .time_to_live(LIFETIME)
                .max_capacity(CAPACITY)
                .build(),
        }
    }

    /// `token`'s claims if it was verified lately, judged at `now` (unix seconds) with
    /// the leeway the full check uses: none.
    pub(super) fn get(&self, token: &str, now: u64) -> Found<C> {
        match self.cache.get(token) {
            None => Found::Unknown,
            Some((claims, _)) if claims.exp() < now => {
                self.cache.invalidate(token);
                Found::Expired
            }
            Some((claims, used)) => Found::Valid(claims, used),
        }
    }

    /// Remembers that `token` verified, with these claims, by this key.
    pub(super) fn insert(&self, token: &str, claims: C, used: KeyUse) {
        self.cache.insert(Arc::from(token), (claims, used));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, Clone, PartialEq)]
    struct Claims(u64);

    impl Expiring for Claims {
        fn exp(&self) -> u64 {
            self.0
        }
    }

    #[test]
    fn a_cached_token_is_valid_until_its_expiry_and_no_other_token_matches() {
        let verified = Verified::new();
        verified.insert("header.payload.signature", Claims(100), KeyUse::Overlap);
        assert_eq!(
            verified.get("header.payload.signature", 100),
            Found::Valid(Claims(100), KeyUse::Overlap)
        );
        assert_eq!(
            verified.get("header.payload.signaturf", 100),
            Found::Unknown
        );
        assert_eq!(
            verified.get("header.payload.signature", 101),
            Found::Expired
        );
        assert_eq!(
            verified.get("header.payload.signature", 100),
            Found::Unknown,
            "an expired entry is dropped"
        );
    }
}
