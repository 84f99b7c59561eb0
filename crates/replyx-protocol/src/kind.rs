//! The three ways in. The route that accepted a connection fixes its kind; nothing
//! else may choose it (the old system registered connections in the wrong pool).

use serde::{Deserialize, Serialize};
use std::fmt;

/// Which endpoint a WebSocket came in through.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ConnectionKind {
    /// Operator console, `/ws/dialogs/{id}` and `/ws/admin/inbox`.
    Admin,
    /// Widget embedded on a customer page, `/ws/site/dialogs/{id}`.
    Site,
    /// Widget in our own iframe, `/ws/widget/dialogs/{id}`.
    Widget,
}

impl ConnectionKind {
    /// Every kind, for tables and metrics.
    pub const ALL: [ConnectionKind; 3] = [Self::Admin, Self::Site, Self::Widget];

    /// The wire and metric label spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Admin => "admin",
            Self::Site => "site",
            Self::Widget => "widget",
        }
    }

    /// Site and widget connections see the visitor stream.
    pub fn is_visitor(self) -> bool {
        !matches!(self, Self::Admin)
    }
}

impl fmt::Display for ConnectionKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}
