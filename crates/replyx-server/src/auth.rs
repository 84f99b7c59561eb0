//! Credentials: operator JWTs, signed site tokens, guest tokens, password hashes and
//! the Origin check. All tokens are HS256 JWTs signed with the server secret and carry
//! a `typ` claim, so one kind of token can never be used as another.

pub mod login_guard;
pub mod origin;
pub mod password;
pub mod tokens;

pub use tokens::{GuestClaims, OperatorClaims, SiteClaims, TokenError, Tokens};
