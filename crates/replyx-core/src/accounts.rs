//! Operator accounts and their login sessions: roles, disabling and removal, and the
//! server-side session each operator token belongs to. A token is only as good as its
//! session: logout, a password change, disabling or removing the operator end sessions
//! in the store, and every process sees that on its next check.

use chrono::{DateTime, Utc};
use replyx_protocol::{OperatorId, SessionId};
use serde::{Deserialize, Serialize};

/// What an operator may do.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Everything an agent may, plus operators and assistants.
    Admin,
    /// Dialogs: read, reply, take, release, close.
    Agent,
}

impl Role {
    /// The stored and wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::Agent => "agent",
        }
    }

    /// Parses the stored name.
    pub fn parse(s: &str) -> Option<Role> {
        match s {
            "admin" => Some(Role::Admin),
            "agent" => Some(Role::Agent),
            _ => None,
        }
    }
}

/// Whether an operator account can be used.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AccountStatus {
    /// Can log in.
    Active,
    /// Cannot log in until enabled again; kept in lists.
    Disabled,
    /// Gone: cannot log in, not listed. The row stays because dialogs and events name
    /// the operator; its e-mail stays taken.
    Removed,
}

impl AccountStatus {
    /// The stored and wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            AccountStatus::Active => "active",
            AccountStatus::Disabled => "disabled",
            AccountStatus::Removed => "removed",
        }
    }

    /// Parses the stored name.
    pub fn parse(s: &str) -> Option<AccountStatus> {
        match s {
            "active" => Some(AccountStatus::Active),
            "disabled" => Some(AccountStatus::Disabled),
            "removed" => Some(AccountStatus::Removed),
            _ => None,
        }
    }
}

/// A change to an operator; `None` leaves a field as it is.
#[derive(Debug, Clone, Default)]
pub struct OperatorPatch {
    /// New display name.
    pub name: Option<String>,
    /// New role.
    pub role: Option<Role>,
    /// New status.
    pub status: Option<AccountStatus>,
    /// New Argon2 PHC string.
    pub password_hash: Option<String>,
    /// New capacity override (`Some(None)` clears it).
    pub max_dialogs: Option<Option<u32>>,
}

/// A session to create at login.
#[derive(Debug, Clone)]
pub struct NewSession {
    /// The id the token carries.
    pub id: SessionId,
    /// Whose it is.
    pub operator: OperatorId,
    /// When it ends by itself (the token's expiry).
    pub expires_at: DateTime<Utc>,
}

/// A stored session with its operator as it is now.
#[derive(Debug, Clone)]
pub struct SessionRecord {
    /// The session.
    pub id: SessionId,
    /// The operator, with current role and status.
    pub operator: crate::Operator,
    /// When it ends by itself.
    pub expires_at: DateTime<Utc>,
    /// Ended early (logout, password change, disabling, removal).
    pub revoked: bool,
}

impl SessionRecord {
    /// Usable now: not revoked, not expired, operator active.
    pub fn is_live(&self, now: DateTime<Utc>) -> bool {
        !self.revoked && self.expires_at > now && self.operator.status == AccountStatus::Active
    }
}
