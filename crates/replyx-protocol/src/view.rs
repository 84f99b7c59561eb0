//! Dialog representations returned by HTTP and pushed on the admin inbox feed.

use crate::event::{DialogStatus, OperatorRef, Rating, Sender};
use crate::ids::{AssistantId, DialogId, Seq};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// A dialog with its positions, as `GET /api/dialogs/{id}` and the dialog load return it.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
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
    /// Who the visitor is, as the site's backend signed it (operators only; absent for
    /// anonymous visitors and in the visitor's own view).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub visitor: Option<VisitorIdentity>,
    /// Operators only: a short stable name for the visitor ("Visitor K7QF"), the same
    /// for every dialog of one guest.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub visitor_label: Option<String>,
    /// Operators only: the page the visitor chats from, as the widget last reported.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub context: Option<VisitorContext>,
    /// When the dialog joined the queue, while it waits for an operator.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub queued_at: Option<DateTime<Utc>>,
    /// The visitor's rating, once given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rating: Option<Rating>,
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
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
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
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
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
    /// The verified visitor, if the site's backend signed who they are.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub visitor: Option<VisitorIdentity>,
    /// A short stable name for the visitor ("Visitor K7QF"), for anonymous ones.
    pub visitor_label: String,
    /// When it joined the queue, while it waits for an operator.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub queued_at: Option<DateTime<Utc>>,
    /// The visitor's rating score, once given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rating: Option<u8>,
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

/// A visitor whose identity the customer site's own backend signed (identity
/// verification): its user id, and the name and e-mail it signed with it. The server
/// only ever fills this from a verified token; nothing a browser sends unsigned ends
/// up here.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VisitorIdentity {
    /// The site's own id of the user (the token's `sub`).
    pub user_id: String,
    /// The user's name, as last signed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// The user's e-mail, as last signed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
}

/// Where a visitor chats from, as the widget reports it on every dialog load: shown to
/// operators beside the dialog. Reported by the browser, so context, not proof.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VisitorContext {
    /// The page's address (at most 2,048 characters).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub page_url: Option<String>,
    /// The page's title (at most 300 characters).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub page_title: Option<String>,
    /// The browser's language, e.g. `en-GB` (at most 35 characters).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub language: Option<String>,
}
