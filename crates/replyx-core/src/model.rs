//! Domain records: operators, assistants, and stored events with both stream positions.

use crate::handoff::ReleaseTo;
use crate::identity::IdentityMode;
use chrono::{DateTime, Utc};
use replyx_protocol::{
    AssistantId, ConnectionKind, DialogId, Event, EventPayload, OperatorId, OperatorRef, Sender,
    Seq,
};
use serde::{Deserialize, Serialize};

/// Which view of a dialog's log a reader gets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Stream {
    /// Every event, notes included.
    Admin,
    /// Everything but internal notes.
    Visitor,
}

impl Stream {
    /// The stream a connection kind reads.
    pub fn of(kind: ConnectionKind) -> Self {
        if kind.is_visitor() {
            Self::Visitor
        } else {
            Self::Admin
        }
    }
}

/// One event as stored, with what both streams need: the admin stream's previous seq is
/// always `seq - 1`; the visitor stream's is `prev_visitor_seq`, kept by the store when it
/// appends, so gap detection works in either stream. Serializable for cluster buses,
/// which carry it between nodes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredEvent {
    /// The dialog.
    pub dialog_id: DialogId,
    /// Position in the dialog's log.
    pub seq: Seq,
    /// Seq of the previous event visible to visitors (0 if none).
    pub prev_visitor_seq: Seq,
    /// What happened.
    pub payload: EventPayload,
}

impl StoredEvent {
    /// Whether visitors may see this event at all.
    pub fn is_internal(&self) -> bool {
        self.payload.is_internal()
    }

    /// The event as `stream` sees it, or `None` when the stream excludes it.
    pub fn to_wire(&self, stream: Stream) -> Option<Event> {
        let prev_seq = match stream {
            Stream::Admin => Seq(self.seq.0.saturating_sub(1)),
            Stream::Visitor if self.is_internal() => return None,
            Stream::Visitor => self.prev_visitor_seq,
        };
        Some(Event {
            dialog_id: self.dialog_id,
            seq: self.seq,
            prev_seq,
            payload: self.payload.clone(),
        })
    }

    /// The previous seq in `stream` (for gap detection).
    pub fn prev_seq_in(&self, stream: Stream) -> Seq {
        match stream {
            Stream::Admin => Seq(self.seq.0.saturating_sub(1)),
            Stream::Visitor => self.prev_visitor_seq,
        }
    }
}

/// A message to append.
#[derive(Debug, Clone)]
pub struct NewMessage {
    /// The dialog.
    pub dialog_id: DialogId,
    /// Who wrote it (fixed by the route, never by the client).
    pub sender: Sender,
    /// The text, already validated.
    pub text: String,
    /// Idempotency key: the same key from the same sender (the visitor, one operator,
    /// the assistant) in the same dialog returns that sender's first event.
    pub client_msg_id: Option<String>,
    /// The operator, for operator messages and notes.
    pub operator: Option<OperatorRef>,
    /// Internal note (operators only).
    pub internal: bool,
    /// Append only while the dialog has this status (the bot's replies use `Ai`, so a
    /// reply being produced when an operator takes over is discarded).
    pub require_status: Option<replyx_protocol::DialogStatus>,
}

impl NewMessage {
    /// A visitor's message with no idempotency key and no condition; the other kinds
    /// start from it with struct update syntax.
    pub fn visitor(dialog_id: DialogId, text: impl Into<String>) -> NewMessage {
        NewMessage {
            dialog_id,
            sender: Sender::Visitor,
            text: text.into(),
            client_msg_id: None,
            operator: None,
            internal: false,
            require_status: None,
        }
    }
}

/// A new operator account.
#[derive(Debug, Clone)]
pub struct NewOperator {
    /// Login e-mail, unique.
    pub email: String,
    /// Display name.
    pub name: String,
    /// Argon2 PHC string.
    pub password_hash: String,
    /// What the operator may do.
    pub role: crate::accounts::Role,
}

/// An operator as the API shows it.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Operator {
    /// The id.
    pub id: OperatorId,
    /// Login e-mail.
    pub email: String,
    /// Display name.
    pub name: String,
    /// What the operator may do.
    pub role: crate::accounts::Role,
    /// Whether the account can be used.
    pub status: crate::accounts::AccountStatus,
    /// How many dialogs this operator may hold at once, when it differs from the
    /// server's `REPLYX_MAX_DIALOGS_PER_OPERATOR`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_dialogs: Option<u32>,
}

impl Operator {
    /// The short form carried in events.
    pub fn to_ref(&self) -> OperatorRef {
        OperatorRef {
            id: self.id,
            name: self.name.clone(),
        }
    }
}

/// An operator with the password hash, for login only.
#[derive(Debug, Clone)]
pub struct OperatorRecord {
    /// The operator.
    pub operator: Operator,
    /// Argon2 PHC string.
    pub password_hash: String,
}

/// One keyword rule of the built-in responder.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReplyRule {
    /// Any of these (case-insensitive substrings) triggers the reply.
    pub keywords: Vec<String>,
    /// The reply text.
    pub reply: String,
}

/// A configured chat bot.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Assistant {
    /// The id.
    pub id: AssistantId,
    /// Display name.
    pub name: String,
    /// First message of every new dialog, if any.
    pub welcome_message: Option<String>,
    /// Hosts allowed to embed the site widget (subdomains included).
    pub allowed_domains: Vec<String>,
    /// Keyword rules of the built-in responder.
    pub rules: Vec<ReplyRule>,
    /// Reply when no rule matches; silence when `None`.
    pub fallback_reply: Option<String>,
    /// Whether anonymous visitors may chat, or only those whose identity the site's
    /// backend signed.
    #[serde(default)]
    pub identity_mode: IdentityMode,
    /// Whether the server gives queued dialogs to online operators itself.
    #[serde(default)]
    pub auto_assign: bool,
    /// Where a released dialog, or one whose operator went offline, goes.
    #[serde(default)]
    pub release_to: ReleaseTo,
    /// Created (UTC).
    pub created_at: DateTime<Utc>,
}

/// A new assistant. Unknown keys are refused, as in a patch: a misspelt
/// `allowed_domains` would otherwise create an assistant no site may embed.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewAssistant {
    /// Display name.
    pub name: String,
    /// First message of new dialogs.
    #[serde(default)]
    pub welcome_message: Option<String>,
    /// Allowed embedding hosts.
    #[serde(default)]
    pub allowed_domains: Vec<String>,
    /// Keyword rules.
    #[serde(default)]
    pub rules: Vec<ReplyRule>,
    /// Reply when no rule matches.
    #[serde(default)]
    pub fallback_reply: Option<String>,
    /// `optional` (the default) or `enforce`.
    #[serde(default)]
    pub identity_mode: IdentityMode,
    /// Give queued dialogs to online operators automatically (default off).
    #[serde(default)]
    pub auto_assign: bool,
    /// `queue` (the default) or `bot`.
    #[serde(default)]
    pub release_to: ReleaseTo,
}

/// A partial update of an assistant; absent fields stay as they are.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AssistantPatch {
    /// New name.
    pub name: Option<String>,
    /// New welcome message (`null` clears it).
    #[serde(default, with = "double_option")]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>))]
    pub welcome_message: Option<Option<String>>,
    /// New allowed hosts.
    pub allowed_domains: Option<Vec<String>>,
    /// New rules.
    pub rules: Option<Vec<ReplyRule>>,
    /// New fallback reply (`null` clears it).
    #[serde(default, with = "double_option")]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>))]
    pub fallback_reply: Option<Option<String>>,
    /// New identity mode.
    pub identity_mode: Option<IdentityMode>,
    /// Auto-assignment on or off.
    pub auto_assign: Option<bool>,
    /// Where released dialogs go.
    pub release_to: Option<ReleaseTo>,
}

/// Distinguishes an absent field from an explicit `null` in a patch.
mod double_option {
    use serde::{Deserialize, Deserializer};

    pub(crate) fn deserialize<'de, D, T>(d: D) -> Result<Option<Option<T>>, D::Error>
    where
        D: Deserializer<'de>,
        T: Deserialize<'de>,
    {
        Option::<T>::deserialize(d).map(Some)
    }
}

/// A dialog row with everything the server needs to authorize and describe it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DialogRecord {
    /// The dialog.
    pub id: DialogId,
    /// Its assistant.
    pub assistant_id: AssistantId,
    /// The visitor's browser id.
    pub guest_id: replyx_protocol::GuestId,
    /// Who answers now.
    pub status: replyx_protocol::DialogStatus,
    /// The operator holding it.
    pub operator: Option<OperatorRef>,
    /// The verified user behind the guest, when the site's backend signed one.
    pub visitor: Option<replyx_protocol::VisitorIdentity>,
    /// When it joined the queue (while waiting for an operator).
    pub queued_at: Option<DateTime<Utc>>,
    /// The page the visitor chats from, as last reported.
    pub context: Option<replyx_protocol::VisitorContext>,
    /// The visitor's rating, once given.
    pub rating: Option<replyx_protocol::Rating>,
    /// Newest seq of the admin stream.
    pub last_seq: Seq,
    /// Newest seq of the visitor stream.
    pub last_visitor_seq: Seq,
    /// The visitor's read mark.
    pub visitor_read_up_to: Seq,
    /// The operators' read mark.
    pub operator_read_up_to: Seq,
    /// Created (UTC).
    pub created_at: DateTime<Utc>,
    /// Last activity (UTC).
    pub updated_at: DateTime<Utc>,
}

impl DialogRecord {
    /// Newest seq of `stream`.
    pub fn last_seq_in(&self, stream: Stream) -> Seq {
        match stream {
            Stream::Admin => self.last_seq,
            Stream::Visitor => self.last_visitor_seq,
        }
    }

    /// The API representation for operators: the admin stream's positions and who the
    /// visitor is.
    pub fn admin_view(&self) -> replyx_protocol::DialogView {
        replyx_protocol::DialogView {
            visitor: self.visitor.clone(),
            visitor_label: Some(self.guest_id.label()),
            context: self.context.clone(),
            rating: self.rating.clone(),
            ..self.view(
                Stream::Admin,
                self.visitor_read_up_to,
                self.operator_read_up_to,
            )
        }
    }

    /// The API representation for the visitor, with both read marks already mapped into
    /// the visitor stream's numbering (`Store::visitor_position`): the stored marks
    /// count internal notes, so there is no visitor view without the mapped ones.
    pub fn visitor_view(
        &self,
        visitor_read_up_to: Seq,
        operator_read_up_to: Seq,
    ) -> replyx_protocol::DialogView {
        self.view(Stream::Visitor, visitor_read_up_to, operator_read_up_to)
    }

    fn view(
        &self,
        stream: Stream,
        visitor_read_up_to: Seq,
        operator_read_up_to: Seq,
    ) -> replyx_protocol::DialogView {
        replyx_protocol::DialogView {
            id: self.id,
            assistant_id: self.assistant_id,
            status: self.status,
            operator: self.operator.clone(),
            visitor: None,
            visitor_label: None,
            context: None,
            queued_at: self.queued_at,
            rating: None,
            last_seq: self.last_seq_in(stream),
            visitor_read_up_to,
            operator_read_up_to,
            created_at: self.created_at,
            updated_at: self.updated_at,
        }
    }
}

/// Filters of the operator inbox list.
#[derive(Debug, Clone, Default)]
pub struct DialogQuery {
    /// Only this status.
    pub status: Option<replyx_protocol::DialogStatus>,
    /// Only this assistant.
    pub assistant_id: Option<AssistantId>,
    /// At most this many (the caller clamps it).
    pub limit: u32,
    /// Only dialogs whose last activity is older than this (paging).
    pub before: Option<DateTime<Utc>>,
    /// Leave out this assistant's dialogs (the server's own canary).
    pub exclude_assistant: Option<AssistantId>,
    /// Only dialogs this operator holds.
    pub operator: Option<replyx_protocol::OperatorId>,
    /// Only dialogs with a message containing this text, or whose verified visitor's
    /// name or e-mail contains it (case-insensitive for ASCII).
    pub text: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An assistant body with a key it does not know (a misspelling, or a value that is
    /// not even UTF-8 under it) is refused, as a patch is. Found by the `http_body` fuzz
    /// target (fuzz/corpus/http_body/crash-assistant-create-unknown-key).
    #[test]
    fn a_new_assistant_refuses_unknown_keys_in_it_and_its_rules() {
        let typo = r#"{"name":"Shop","allowed_domain":["shop.example"]}"#;
        assert!(serde_json::from_str::<NewAssistant>(typo).is_err());
        let rule = r#"{"name":"Shop","rules":[{"keywords":["a"],"reply":"b","x":1}]}"#;
        assert!(serde_json::from_str::<NewAssistant>(rule).is_err());
        let not_utf8 = b"{\"name\":\"Shop\",\"x\":\"\xff\"}";
        assert!(serde_json::from_slice::<NewAssistant>(not_utf8).is_err());
        let good = r#"{"name":"Shop","allowed_domains":["shop.example"],"rules":[{"keywords":["a"],"reply":"b"}]}"#;
        let new: NewAssistant = serde_json::from_str(good).unwrap();
        assert_eq!(new.allowed_domains, ["shop.example"]);
    }
}
