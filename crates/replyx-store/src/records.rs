//! Domain records built from column values, shared by both backends: each backend
//! reads its own row type into plain values, and the parsing (ids, statuses, JSON
//! payloads, the inbox preview) is written once here so the two cannot drift apart.

use chrono::{DateTime, SubsecRound, Utc};
use replyx_core::model::DialogRecord;
use replyx_core::{Assistant, IdentityMode, StoreError, StoredEvent};
use replyx_protocol::{
    DialogStatus, DialogSummary, EventPayload, GuestId, Message, MessageId, MessagePreview,
    OperatorRef, Rating, Sender, Seq, VisitorIdentity,
};
use std::str::FromStr;

/// Longest preview text in the inbox, in characters.
pub(crate) const PREVIEW_CHARS: usize = 140;

/// Now, at the microsecond precision both databases store, so a time read back
/// equals the time written (PostgreSQL's `timestamptz` keeps microseconds).
pub(crate) fn now() -> DateTime<Utc> {
    Utc::now().trunc_subsecs(6)
}

pub(crate) fn parse_id<T: FromStr>(s: &str) -> Result<T, StoreError> {
    s.parse()
        .map_err(|_| StoreError::Backend(format!("corrupt id {s:?}")))
}

pub(crate) fn role(s: &str) -> Result<replyx_core::Role, StoreError> {
    replyx_core::Role::parse(s).ok_or_else(|| StoreError::Backend(format!("unknown role {s:?}")))
}

pub(crate) fn account_status(s: &str) -> Result<replyx_core::AccountStatus, StoreError> {
    replyx_core::AccountStatus::parse(s)
        .ok_or_else(|| StoreError::Backend(format!("unknown account status {s:?}")))
}

/// A `LIKE … ESCAPE '\'` pattern matching `text` anywhere, lowercased (the caller
/// lowercases the column): `%`, `_` and `\` in the text match themselves.
pub(crate) fn like_pattern(text: &str) -> String {
    let mut pattern = String::with_capacity(text.len() + 2);
    pattern.push('%');
    for c in text.to_lowercase().chars() {
        if matches!(c, '%' | '_' | '\\') {
            pattern.push('\\');
        }
        pattern.push(c);
    }
    pattern.push('%');
    pattern
}

/// A stored capacity override (never negative: the column's CHECK says so).
pub(crate) fn capacity(n: Option<i64>) -> Option<u32> {
    n.map(|n| n.clamp(0, i64::from(u32::MAX)) as u32)
}

pub(crate) fn seq(n: i64) -> Seq {
    Seq(n.max(0) as u64)
}

pub(crate) fn status(s: &str) -> Result<DialogStatus, StoreError> {
    DialogStatus::parse(s).ok_or_else(|| StoreError::Backend(format!("corrupt status {s:?}")))
}

/// A dialog row's values, in `DIALOG_COLUMNS` order.
pub(crate) struct DialogValues {
    pub id: String,
    pub assistant_id: String,
    pub guest_id: String,
    pub status: String,
    pub operator_id: Option<String>,
    pub operator_name: Option<String>,
    pub visitor_user_id: Option<String>,
    pub visitor_name: Option<String>,
    pub visitor_email: Option<String>,
    pub queued_at: Option<DateTime<Utc>>,
    pub context: Option<String>,
    pub rating_score: Option<i64>,
    pub rating_comment: Option<String>,
    pub last_seq: i64,
    pub last_visitor_seq: i64,
    pub visitor_read_up_to: i64,
    pub operator_read_up_to: i64,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

pub(crate) fn dialog(v: DialogValues) -> Result<DialogRecord, StoreError> {
    let operator = match (v.operator_id, v.operator_name) {
        (Some(id), Some(name)) => Some(OperatorRef {
            id: parse_id(&id)?,
            name,
        }),
        _ => None,
    };
    Ok(DialogRecord {
        id: parse_id(&v.id)?,
        assistant_id: parse_id(&v.assistant_id)?,
        guest_id: GuestId::parse(&v.guest_id)
            .ok_or_else(|| StoreError::Backend(format!("corrupt guest id {:?}", v.guest_id)))?,
        status: status(&v.status)?,
        operator,
        visitor: v.visitor_user_id.map(|user_id| VisitorIdentity {
            user_id,
            name: v.visitor_name,
            email: v.visitor_email,
        }),
        queued_at: v.queued_at,
        context: v
            .context
            .as_deref()
            .map(serde_json::from_str)
            .transpose()
            .map_err(|e| StoreError::Backend(format!("corrupt dialog context: {e}")))?,
        rating: v.rating_score.map(|score| Rating {
            score: score.clamp(1, 5) as u8,
            comment: v.rating_comment,
        }),
        last_seq: seq(v.last_seq),
        last_visitor_seq: seq(v.last_visitor_seq),
        visitor_read_up_to: seq(v.visitor_read_up_to),
        operator_read_up_to: seq(v.operator_read_up_to),
        created_at: v.created_at,
        updated_at: v.updated_at,
    })
}

/// An inbox row: the dialog, the JSON payload of its newest message and its unread
/// count.
pub(crate) fn summary(d: DialogRecord, last_payload: Option<&str>, unread: i64) -> DialogSummary {
    let last_message = preview(last_payload);
    DialogSummary {
        id: d.id,
        assistant_id: d.assistant_id,
        status: d.status,
        operator: d.operator,
        visitor: d.visitor,
        visitor_label: d.guest_id.label(),
        queued_at: d.queued_at,
        rating: d.rating.map(|r| r.score),
        last_seq: d.last_seq,
        last_message,
        unread_count: unread.max(0) as u64,
        created_at: d.created_at,
        updated_at: d.updated_at,
    }
}

/// The list preview of a message payload (JSON text), if it is a message.
pub(crate) fn preview(payload: Option<&str>) -> Option<MessagePreview> {
    payload.and_then(|json| match serde_json::from_str(json) {
        Ok(EventPayload::MessageCreated { message }) => Some(MessagePreview {
            sender: message.sender,
            text: message.text.chars().take(PREVIEW_CHARS).collect(),
            created_at: message.created_at,
        }),
        _ => None,
    })
}

/// An identity mode as stored.
pub(crate) fn identity_mode(s: &str) -> Result<IdentityMode, StoreError> {
    IdentityMode::parse(s)
        .ok_or_else(|| StoreError::Backend(format!("unknown identity mode {s:?}")))
}

/// A fresh guest id for a verified user: random like an anonymous one (a guest id
/// opens dialogs, so it must not be guessable), with a `v-` prefix for readers of the
/// database.
pub(crate) fn verified_guest_id() -> GuestId {
    GuestId::parse(&format!("v-{}", GuestId::generate())).expect("34 characters of [0-9a-f-v]")
}

pub(crate) fn event(
    dialog_id: &str,
    seq_n: i64,
    prev_visitor_seq: i64,
    payload: &str,
) -> Result<StoredEvent, StoreError> {
    let payload: EventPayload = serde_json::from_str(payload)
        .map_err(|e| StoreError::Backend(format!("corrupt event payload: {e}")))?;
    Ok(StoredEvent {
        dialog_id: parse_id(dialog_id)?,
        seq: seq(seq_n),
        prev_visitor_seq: seq(prev_visitor_seq),
        payload,
    })
}

/// An assistant row's values; domains and rules are JSON text.
pub(crate) struct AssistantValues {
    pub id: String,
    pub name: String,
    pub welcome_message: Option<String>,
    pub allowed_domains: String,
    pub rules: String,
    pub fallback_reply: Option<String>,
    pub identity_mode: String,
    pub auto_assign: bool,
    pub release_to: String,
    pub created_at: DateTime<Utc>,
}

pub(crate) fn assistant(v: AssistantValues) -> Result<Assistant, StoreError> {
    let corrupt = |e: serde_json::Error| StoreError::Backend(format!("corrupt assistant: {e}"));
    Ok(Assistant {
        id: parse_id(&v.id)?,
        name: v.name,
        welcome_message: v.welcome_message,
        allowed_domains: serde_json::from_str(&v.allowed_domains).map_err(corrupt)?,
        rules: serde_json::from_str(&v.rules).map_err(corrupt)?,
        fallback_reply: v.fallback_reply,
        identity_mode: identity_mode(&v.identity_mode)?,
        auto_assign: v.auto_assign,
        release_to: replyx_core::ReleaseTo::parse(&v.release_to)
            .ok_or_else(|| StoreError::Backend(format!("unknown release_to {:?}", v.release_to)))?,
        created_at: v.created_at,
    })
}

/// Plain data as JSON text (assistant domains and rules, payloads).
pub(crate) fn json<T: serde::Serialize>(value: &T) -> String {
    serde_json::to_string(value).expect("plain data serializes")
}

/// A new message payload stamped now.
pub(crate) fn message_payload(
    sender: Sender,
    text: String,
    client_msg_id: Option<String>,
    operator: Option<OperatorRef>,
    internal: bool,
) -> EventPayload {
    EventPayload::MessageCreated {
        message: Message {
            id: MessageId::new(),
            sender,
            text,
            created_at: now(),
            client_msg_id,
            operator,
            internal,
        },
    }
}

/// The payload a [`NewMessage`](replyx_core::NewMessage) is stored as, stamped now.
pub(crate) fn new_message_payload(m: &replyx_core::NewMessage) -> EventPayload {
    message_payload(
        m.sender,
        m.text.clone(),
        m.client_msg_id.clone(),
        m.operator.clone(),
        m.internal,
    )
}

/// Whose idempotency keys a message's `client_msg_id` is among: the visitor, one
/// operator (by id), the assistant or the system. Keys are unique per sender in a
/// dialog, not per dialog, so that an operator reusing the visitor's key (or the
/// visitor a note's) stores a message of their own instead of being answered with
/// someone else's. An operator message without an operator has the key `operator:`.
pub(crate) fn sender_key(sender: Sender, operator: Option<&OperatorRef>) -> String {
    match sender {
        Sender::Operator => format!(
            "operator:{}",
            operator.map(|o| o.id.to_string()).unwrap_or_default()
        ),
        other => other.as_str().to_owned(),
    }
}

/// The two events a handoff stores, in order: the status change (with its reason and
/// the previous holder) and its system notice.
pub(crate) fn handoff_payloads(t: replyx_core::handoff::Transition) -> [EventPayload; 2] {
    let notice = message_payload(Sender::System, t.notice, None, None, false);
    [
        EventPayload::DialogStatus {
            status: t.status,
            operator: t.operator,
            reason: Some(t.reason),
            from: t.from,
        },
        notice,
    ]
}

/// What a guarded append wrote nothing for, once the dialog's status is known.
pub(crate) fn refusal_reason(
    status: DialogStatus,
    require_status: Option<DialogStatus>,
) -> StoreError {
    if status == DialogStatus::Closed {
        StoreError::DialogClosed
    } else if require_status.is_some_and(|s| s != status) {
        StoreError::StatusChanged
    } else {
        StoreError::Backend("append refused for no known reason".into())
    }
}
