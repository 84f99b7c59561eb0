//! Stored dialog events as they appear on the wire: `message.created` and
//! `dialog.status`, each with its `seq` and the `prev_seq` of the receiving stream.

use crate::ids::{DialogId, MessageId, OperatorId, Seq};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// Who wrote a message. Visitors can never choose this: the route decides.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Sender {
    /// The person on the website.
    Visitor,
    /// The bot.
    Assistant,
    /// A human in the console.
    Operator,
    /// The server itself (handoff notices).
    System,
}

impl Sender {
    /// The wire spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Visitor => "visitor",
            Self::Assistant => "assistant",
            Self::Operator => "operator",
            Self::System => "system",
        }
    }
}

/// Who is answering a dialog.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DialogStatus {
    /// The assistant answers.
    Ai,
    /// The visitor asked for a human; the assistant is silent.
    WaitingOperator,
    /// An operator holds the dialog.
    Operator,
    /// Finished; the visitor's next load opens a new dialog.
    Closed,
}

impl DialogStatus {
    /// The wire and database spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Ai => "ai",
            Self::WaitingOperator => "waiting_operator",
            Self::Operator => "operator",
            Self::Closed => "closed",
        }
    }

    /// Parses the database spelling.
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "ai" => Self::Ai,
            "waiting_operator" => Self::WaitingOperator,
            "operator" => Self::Operator,
            "closed" => Self::Closed,
            _ => return None,
        })
    }
}

/// Why a dialog's status changed, carried on `dialog.status` so clients can say it in
/// words ("transferred to Bo", "back in the queue: Ann went offline"). Absent on events
/// stored before reasons existed.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StatusReason {
    /// The visitor asked for a human: the dialog joined the queue.
    Requested,
    /// An operator took it from the queue or from the assistant.
    Taken,
    /// The routing queue gave it to an online operator with free capacity.
    Assigned,
    /// Its operator passed it to another operator.
    Transferred,
    /// Its operator let it go: back to the queue (or the assistant, where configured).
    Released,
    /// An operator handed it back to the assistant.
    HandedBack,
    /// Its operator went offline past the grace period: back to the queue (or the
    /// assistant, where configured).
    OperatorOffline,
    /// An operator closed it.
    Closed,
}

impl StatusReason {
    /// The wire spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Requested => "requested",
            Self::Taken => "taken",
            Self::Assigned => "assigned",
            Self::Transferred => "transferred",
            Self::Released => "released",
            Self::HandedBack => "handed_back",
            Self::OperatorOffline => "operator_offline",
            Self::Closed => "closed",
        }
    }
}

/// A visitor's rating of a closed dialog.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Rating {
    /// 1 (bad) to 5 (great).
    pub score: u8,
    /// What the visitor wrote, if anything.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub comment: Option<String>,
}

/// An operator as shown to others.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OperatorRef {
    /// The operator's id.
    pub id: OperatorId,
    /// Display name.
    pub name: String,
}

/// A stored message.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Message {
    /// Unique message id.
    pub id: MessageId,
    /// Who wrote it.
    pub sender: Sender,
    /// The text, at most the configured number of characters.
    pub text: String,
    /// When it was stored (UTC).
    #[serde(serialize_with = "crate::timestamp::serialize")]
    pub created_at: DateTime<Utc>,
    /// The client's idempotency key, when it sent one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_msg_id: Option<String>,
    /// The operator who wrote it, for operator messages and notes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub operator: Option<OperatorRef>,
    /// An operator's internal note: never shown to visitors.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub internal: bool,
}

/// What happened, without its position.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type")]
pub enum EventPayload {
    /// A message was stored.
    #[serde(rename = "message.created")]
    MessageCreated {
        /// The message.
        message: Message,
    },
    /// The dialog changed hands or closed.
    #[serde(rename = "dialog.status")]
    DialogStatus {
        /// The new status.
        status: DialogStatus,
        /// The operator holding the dialog, when one does.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        operator: Option<OperatorRef>,
        /// Why it changed.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        reason: Option<StatusReason>,
        /// The operator who held it before (a transfer, a release, an operator gone
        /// offline).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        from: Option<OperatorRef>,
    },
    /// The visitor rated the closed dialog (at most once).
    #[serde(rename = "dialog.rated")]
    DialogRated {
        /// The rating.
        rating: Rating,
    },
}

impl EventPayload {
    /// Whether the visitor stream excludes this event (an internal note).
    pub fn is_internal(&self) -> bool {
        matches!(self, Self::MessageCreated { message } if message.internal)
    }
}

/// One event of a dialog's log as one stream sees it. `prev_seq` is the seq of the
/// previous event *in that stream* (admin sees every seq; visitors skip notes).
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Event {
    /// The dialog.
    pub dialog_id: DialogId,
    /// Position in the dialog's log.
    pub seq: Seq,
    /// Position of the previous event in this stream; 0 for the first.
    pub prev_seq: Seq,
    /// What happened.
    #[serde(flatten)]
    pub payload: EventPayload,
}
