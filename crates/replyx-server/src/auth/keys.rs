//! Signing keys: one keyring per token purpose (operator, site, guest), so that one
//! can be rotated without the other: a leaked operator key is replaced without
//! breaking a single site token on customers' pages. Every token carries its key's id
//! (`kid`); a keyring has one key that signs and any number that still verify, each
//! until an optional end of its overlap window.
//!
//! Without a keys file every purpose gets one key derived from the server secret
//! (HMAC-SHA256 of the secret and the purpose), so the embedded default needs nothing
//! configured. With `REPLYX_KEYS_FILE`, the purposes it lists take their keys from it.
//! Tokens signed before key ids existed (no `kid`, signed with the raw secret) are
//! still accepted for site and guest tokens while the secret is the same: site tokens
//! live on customers' pages and do not expire.

use chrono::{DateTime, Utc};
use hmac::{Hmac, Mac};
use jsonwebtoken::{DecodingKey, EncodingKey};
use serde::Deserialize;
use sha2::Sha256;
use std::collections::HashMap;
use std::path::Path;

/// Shortest key secret accepted in a keys file.
pub const MIN_KEY_LEN: usize = 32;

/// What a key signs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Purpose {
    /// Operator login tokens.
    Operator,
    /// Site embed tokens.
    Site,
    /// Visitors' guest tokens.
    Guest,
}

impl Purpose {
    /// Every purpose.
    pub const ALL: [Purpose; 3] = [Purpose::Operator, Purpose::Site, Purpose::Guest];

    /// The name in files and metrics.
    pub fn as_str(self) -> &'static str {
        match self {
            Purpose::Operator => "operator",
            Purpose::Site => "site",
            Purpose::Guest => "guest",
        }
    }
}

/// One key that verifies, and until when.
#[derive(Clone)]
struct Verifier {
    key: DecodingKey,
    until: Option<DateTime<Utc>>,
}

/// The keys of one purpose.
#[derive(Clone)]
pub struct Keyring {
    signing_kid: String,
    signing: EncodingKey,
    verifying: HashMap<String, Verifier>,
}

impl Keyring {
    fn single(kid: String, secret: &[u8]) -> Keyring {
        Keyring {
            signing: EncodingKey::from_secret(secret),
            verifying: HashMap::from([(
                kid.clone(),
                Verifier {
                    key: DecodingKey::from_secret(secret),
                    until: None,
                },
            )]),
            signing_kid: kid,
        }
    }

    /// The id of the key that signs.
    pub fn signing_kid(&self) -> &str {
        &self.signing_kid
    }

    /// The signing key.
    pub(crate) fn signing_key(&self) -> &EncodingKey {
        &self.signing
    }

    /// The key for `kid`, if it still verifies at `now`.
    pub(crate) fn verifier(&self, kid: &str, now: DateTime<Utc>) -> Option<&DecodingKey> {
        self.verifying
            .get(kid)
            .filter(|v| v.until.is_none_or(|until| now < until))
            .map(|v| &v.key)
    }

    /// Every key id that verifies, signing key first (for `replyx keys check`).
    pub fn kids(&self) -> Vec<String> {
        let mut kids: Vec<String> = self.verifying.keys().cloned().collect();
        kids.sort_by_key(|k| (k != &self.signing_kid, k.clone()));
        kids
    }
}

/// Every keyring, and the raw secret for tokens from before key ids.
#[derive(Clone)]
pub struct Keys {
    rings: HashMap<Purpose, Keyring>,
    legacy: DecodingKey,
}

/// One key of a keys file.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct KeyEntry {
    purpose: Purpose,
    kid: String,
    secret: String,
    /// Verifies but does not sign (the old key during a rotation, or the new one
    /// before every process has it).
    #[serde(default)]
    verify_only: bool,
    /// Stops verifying at this time: the end of the overlap window.
    until: Option<DateTime<Utc>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct KeysFile {
    #[serde(default)]
    key: Vec<KeyEntry>,
}

fn derive(secret: &str, purpose: Purpose) -> Vec<u8> {
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(secret.as_bytes())
        .expect("HMAC takes a key of any length");
    mac.update(b"replyx token key v1: ");
    mac.update(purpose.as_str().as_bytes());
    mac.finalize().into_bytes().to_vec()
}

impl Keys {
    /// One key per purpose derived from the server secret.
    pub fn derived(secret: &str) -> Keys {
        let rings = Purpose::ALL
            .into_iter()
            .map(|p| {
                let kid = format!("{}-derived", p.as_str());
                (p, Keyring::single(kid, &derive(secret, p)))
            })
            .collect();
        Keys {
            rings,
            legacy: DecodingKey::from_secret(secret.as_bytes()),
        }
    }

    /// Derived keys, with the purposes `text` (a keys file) lists taken from it.
    ///
    /// # Errors
    /// Not valid TOML of the documented shape; a secret under [`MIN_KEY_LEN`]; a `kid`
    /// used twice; a listed purpose without exactly one signing key.
    pub fn from_file_text(secret: &str, text: &str) -> anyhow::Result<Keys> {
        let file: KeysFile = toml::from_str(text).map_err(|e| anyhow::anyhow!("keys file: {e}"))?;
        let mut keys = Keys::derived(secret);
        let mut seen = std::collections::HashSet::new();
        for purpose in Purpose::ALL {
            let entries: Vec<&KeyEntry> =
                file.key.iter().filter(|k| k.purpose == purpose).collect();
            if entries.is_empty() {
                continue;
            }
            let signing: Vec<&&KeyEntry> = entries.iter().filter(|k| !k.verify_only).collect();
            anyhow::ensure!(
                signing.len() == 1,
                "keys file: {} keys need exactly one key without verify_only (the one that signs), found {}",
                purpose.as_str(),
                signing.len()
            );
            let mut verifying = HashMap::new();
            for k in &entries {
                anyhow::ensure!(
                    !k.kid.is_empty()
                        && k.kid.len() <= 64
                        && k.kid
                            .chars()
                            .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c)),
                    "keys file: kid {:?} must be 1 to 64 characters of A-Z a-z 0-9 - _ .",
                    k.kid
                );
                anyhow::ensure!(
                    seen.insert(k.kid.clone()),
                    "keys file: kid {:?} is used twice",
                    k.kid
                );
                anyhow::ensure!(
                    k.secret.len() >= MIN_KEY_LEN,
                    "keys file: the secret of {:?} must be at least {MIN_KEY_LEN} characters",
                    k.kid
                );
                verifying.insert(
                    k.kid.clone(),
                    Verifier {
                        key: DecodingKey::from_secret(k.secret.as_bytes()),
                        until: k.until,
                    },
                );
            }
            let signer = signing[0];
            anyhow::ensure!(
                signer.until.is_none(),
                "keys file: the signing key {:?} cannot have `until`",
                signer.kid
            );
            keys.rings.insert(
                purpose,
                Keyring {
                    signing_kid: signer.kid.clone(),
                    signing: EncodingKey::from_secret(signer.secret.as_bytes()),
                    verifying,
                },
            );
        }
        Ok(keys)
    }

    /// Derived keys, or those of the keys file at `path` when given.
    ///
    /// # Errors
    /// The file cannot be read, or see [`Keys::from_file_text`].
    pub fn load(secret: &str, path: Option<&Path>) -> anyhow::Result<Keys> {
        match path {
            None => Ok(Keys::derived(secret)),
            Some(path) => {
                let text = std::fs::read_to_string(path)
                    .map_err(|e| anyhow::anyhow!("reading keys file {}: {e}", path.display()))?;
                Keys::from_file_text(secret, &text)
            }
        }
    }

    /// The keyring of `purpose`.
    pub fn ring(&self, purpose: Purpose) -> &Keyring {
        &self.rings[&purpose]
    }

    /// The raw secret, for tokens without a `kid`.
    pub(crate) fn legacy(&self) -> &DecodingKey {
        &self.legacy
    }
}

/// A new random key secret, as `replyx keys new` prints it.
pub fn new_secret() -> String {
    use base64::Engine;
    use rand::RngCore;
    let mut raw = [0u8; 32];
    rand::thread_rng().fill_bytes(&mut raw);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(raw)
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: &str = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
    const B: &str = "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb";

    #[test]
    fn derived_keys_differ_per_purpose() {
        let keys = Keys::derived("server secret 0123456789");
        assert_ne!(
            derive("server secret 0123456789", Purpose::Operator),
            derive("server secret 0123456789", Purpose::Site)
        );
        assert_eq!(keys.ring(Purpose::Site).signing_kid(), "site-derived");
    }

    #[test]
    fn a_keys_file_is_checked_before_it_is_used() {
        let ok = format!(
            "[[key]]\npurpose = \"operator\"\nkid = \"op-2\"\nsecret = \"{A}\"\n\
             [[key]]\npurpose = \"operator\"\nkid = \"op-1\"\nsecret = \"{B}\"\nverify_only = true\n\
             until = \"2030-01-01T00:00:00Z\"\n"
        );
        let keys = Keys::from_file_text("server secret 0123456789", &ok).unwrap();
        assert_eq!(keys.ring(Purpose::Operator).kids(), ["op-2", "op-1"]);
        assert_eq!(keys.ring(Purpose::Site).signing_kid(), "site-derived");
        let after = "2030-01-01T00:00:01Z".parse().unwrap();
        assert!(keys
            .ring(Purpose::Operator)
            .verifier("op-1", after)
            .is_none());
        assert!(keys
            .ring(Purpose::Operator)
            .verifier("op-2", after)
            .is_some());

        for (bad, says) in [
            ("[[key]]\npurpose = \"site\"\nkid = \"s\"\nsecret = \"short\"\n".to_owned(), "at least"),
            (
                format!("[[key]]\npurpose = \"site\"\nkid = \"s\"\nsecret = \"{A}\"\nverify_only = true\n"),
                "exactly one",
            ),
            (
                format!("[[key]]\npurpose = \"site\"\nkid = \"s\"\nsecret = \"{A}\"\n[[key]]\npurpose = \"guest\"\nkid = \"s\"\nsecret = \"{B}\"\n"),
                "used twice",
            ),
            (format!("[[key]]\npurpose = \"root\"\nkid = \"s\"\nsecret = \"{A}\"\n"), "keys file"),
            (format!("[[key]]\npurpose = \"site\"\nkid = \"a b\"\nsecret = \"{A}\"\n"), "kid"),
        ] {
            let err = Keys::from_file_text("server secret 0123456789", &bad).err().map(|e| e.to_string());
            assert!(err.as_deref().is_some_and(|e| e.contains(says)), "{bad}: {err:?}");
        }
    }
}
