//! Dialog representations returned by HTTP and pushed on the admin inbox feed.

use crate::event::{DialogStatus, OperatorRef, Sender};
use crate::ids::{AssistantId, DialogId, Seq};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// A dialog with its positions, as `GET /api/dialogs/{id}` and the dialog load return it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DialogView {
    /// The dialog.
    pub id: DialogId,
    /// Its assistant.
    pub assistant_id: AssistantId,
    /// Who answers now.
    pub status: DialogStatus,
    /// The operator holding it, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub operator: Option<OperatorRef>,
    /// Newest seq of the stream of whoever asked (admin or visitor).
    pub last_seq: Seq,
    /// The visitor has read up to this seq.
    pub visitor_read_up_to: Seq,
    /// Operators have read up to this seq.
    pub operator_read_up_to: Seq,
    /// Created (UTC).
    pub created_at: DateTime<Utc>,
    /// Last activity (UTC).
    pub updated_at: DateTime<Utc>,
}

/// The newest visible message of a dialog, shortened for lists.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MessagePreview {
    /// Who wrote it.
    pub sender: Sender,
    /// At most 140 characters of its text.
    pub text: String,
    /// When it was stored.
    pub created_at: DateTime<Utc>,
}

/// One row of the operator inbox: `GET /api/dialogs` and the `/ws/admin/inbox` feed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DialogSummary {
    /// The dialog.
    pub id: DialogId,
    /// Its assistant.
    pub assistant_id: AssistantId,
    /// Who answers now.
    pub status: DialogStatus,
    /// The operator holding it, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub operator: Option<OperatorRef>,
    /// Newest seq (admin stream).
    pub last_seq: Seq,
    /// The newest message, notes included (operators see them).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_message: Option<MessagePreview>,
    /// Visitor messages after the operators' read mark.
    pub unread_count: u64,
    /// Created (UTC).
    pub created_at: DateTime<Utc>,
    /// Last activity (UTC).
    pub updated_at: DateTime<Utc>,
}
