//! Credentials: operator JWTs and the server-side sessions they belong to, signed site
//! tokens, guest tokens, password hashes and the Origin check. All tokens are HS256
//! JWTs signed with the server secret and carry a `typ` claim, so one kind of token can
//! never be used as another; an operator token is only good while its session is live.

pub mod identity;
pub mod keys;
pub mod login_guard;
pub mod origin;
pub mod password;
pub mod sessions;
pub mod tokens;

pub use tokens::{GuestClaims, OperatorClaims, SiteClaims, TokenError, Tokens};
