//! Domain records built from column values, shared by both backends: each backend
//! reads its own row type into plain values, and the parsing (ids, statuses, JSON
//! payloads, the inbox preview) is written once here so the two cannot drift apart.

use chrono::{DateTime, SubsecRound, Utc};
use replyx_core::model::DialogRecord;
use replyx_core::{Assistant, StoreError, StoredEvent};
use replyx_protocol::{
    DialogStatus, DialogSummary, EventPayload, GuestId, Message, MessageId, MessagePreview,
    OperatorRef, Sender, Seq,
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
    let last_message = last_payload.and_then(|json| match serde_json::from_str(json) {
        Ok(EventPayload::MessageCreated { message }) => Some(MessagePreview {
            sender: message.sender,
            text: message.text.chars().take(PREVIEW_CHARS).collect(),
            created_at: message.created_at,
        }),
        _ => None,
    });
    DialogSummary {
        id: d.id,
        assistant_id: d.assistant_id,
        status: d.status,
        operator: d.operator,
        last_seq: d.last_seq,
        last_message,
        unread_count: unread.max(0) as u64,
        created_at: d.created_at,
        updated_at: d.updated_at,
    }
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

/// The two events a handoff stores, in order: the status change and its system
/// notice.
pub(crate) fn handoff_payloads(t: replyx_core::handoff::Transition) -> [EventPayload; 2] {
    let notice = message_payload(Sender::System, t.notice, None, None, false);
    [
        EventPayload::DialogStatus {
            status: t.status,
            operator: t.operator,
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
