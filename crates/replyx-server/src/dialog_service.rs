//! The dialog service: every write follows one path — validate, store (seq assigned
//! there), publish the stored events, refresh the operators' inbox row, and for visitor
//! messages let the assistant answer. HTTP handlers and socket sessions call these
//! functions; none of them publishes anything that was not stored first.

use crate::error::ApiError;
use crate::responder;
use crate::state::AppState;
use replyx_core::handoff::HandoffAction;
use replyx_core::model::DialogRecord;
use replyx_core::{Appended, Assistant, BusMessage, NewMessage, Signal, SignalBody, StoredEvent};
use replyx_protocol::{DialogId, ErrorCode, GuestId, Reader, Sender, Seq};
use std::sync::Arc;
use std::time::Instant;

/// Checks a message text against the limits: not blank, at most `max_message_chars`.
///
/// # Errors
/// 422 for blank text, 413 for too long.
pub fn validate_text(state: &AppState, text: &str) -> Result<(), ApiError> {
    if text.trim().is_empty() {
        return Err(ApiError::invalid("text must not be empty"));
    }
    let max = state.settings.limits.max_message_chars;
    if text.chars().count() > max {
        return Err(ApiError::new(
            ErrorCode::TooLarge,
            format!("text is longer than {max} characters"),
        ));
    }
    Ok(())
}

/// Validates an optional `client_msg_id`: 1 to 128 printable characters.
///
/// # Errors
/// 422 when malformed.
pub fn validate_client_msg_id(id: Option<&str>) -> Result<(), ApiError> {
    match id {
        Some(id) if id.is_empty() || id.len() > 128 || id.chars().any(char::is_control) => Err(
            ApiError::invalid("client_msg_id must be 1 to 128 printable characters"),
        ),
        _ => Ok(()),
    }
}

/// Publishes stored events, in order. A bus failure is logged: the events are stored,
/// and clients recover them through `since` and the pong's `last_seq`.
pub async fn publish_events(state: &AppState, events: &[StoredEvent]) {
    for event in events {
        if let Err(e) = state
            .bus
            .publish(BusMessage::Event(Arc::new(event.clone())))
            .await
        {
            tracing::warn!(error = %e, dialog = %event.dialog_id, seq = %event.seq, "publishing event failed");
        }
    }
}

/// Publishes an ephemeral signal.
pub async fn publish_signal(state: &AppState, dialog_id: DialogId, body: SignalBody) {
    let signal = Arc::new(Signal { dialog_id, body });
    if let Err(e) = state.bus.publish(BusMessage::Signal(signal)).await {
        tracing::warn!(error = %e, dialog = %dialog_id, "publishing signal failed");
    }
}

/// Publishes a new dialog's inbox row (`dialog.created`) to every process; later
/// changes are derived locally by `inbox_feed`.
pub async fn refresh_inbox(state: &AppState, dialog_id: DialogId, created: bool) {
    match state.store.dialog_summary(dialog_id).await {
        Ok(Some(summary)) => {
            let summary = Box::new(summary);
            publish_signal(state, dialog_id, SignalBody::Inbox { created, summary }).await
        }
        Ok(None) => {}
        Err(e) => tracing::warn!(error = %e, dialog = %dialog_id, "reading inbox row failed"),
    }
}

/// Loads the guest's open dialog or creates one (with the welcome message stored in the
/// same transaction). Returns the dialog and whether it was created.
///
/// # Errors
/// Store failures.
pub async fn open_dialog(
    state: &AppState,
    assistant: &Assistant,
    guest: &GuestId,
) -> Result<(DialogRecord, bool), ApiError> {
    let started = Instant::now();
    let (dialog, stored, created) = state.store.open_dialog(assistant, guest).await?;
    state.metrics.store_append(started.elapsed().as_secs_f64());
    if created {
        // The new row first, so that consoles see `dialog.created` before any update.
        refresh_inbox(state, dialog.id, true).await;
        publish_events(state, &stored).await;
    }
    Ok((dialog, created))
}

/// Stores a message and publishes it. A repeated `client_msg_id` returns the first
/// event and publishes nothing.
///
/// # Errors
/// Validation, unknown or closed dialog, store failures.
pub async fn post_message(state: &AppState, message: NewMessage) -> Result<Appended, ApiError> {
    validate_text(state, &message.text)?;
    validate_client_msg_id(message.client_msg_id.as_deref())?;
    let from_visitor = message.sender == Sender::Visitor;
    let text = message.text.clone();
    let started = Instant::now();
    let appended = state.store.append_message(message).await?;
    state.metrics.store_append(started.elapsed().as_secs_f64());
    if !appended.duplicate {
        let dialog_id = appended.event.dialog_id;
        publish_events(state, std::slice::from_ref(&appended.event)).await;
        if let (true, Some(seen)) = (from_visitor, appended.dialog) {
            responder::on_visitor_message(state, dialog_id, seen, text);
        }
    }
    Ok(appended)
}

/// Applies a handoff action; stores and publishes its status event and notice.
/// Empty when nothing changed.
///
/// # Errors
/// Refused transitions (409), unknown dialog, store failures.
pub async fn handoff(
    state: &AppState,
    dialog_id: DialogId,
    action: HandoffAction,
) -> Result<Vec<StoredEvent>, ApiError> {
    let max = state.settings.limits.max_dialogs_per_operator;
    let requested = action == HandoffAction::RequestOperator;
    let stored = state.store.handoff(dialog_id, action, max).await?;
    if stored.is_empty() {
        return Ok(stored);
    }
    publish_events(state, &stored).await;
    if requested && nobody_online(state).await {
        // The visitor is told what happens next: the assistant goes on, and the first
        // operator to come online picks the dialog up.
        let notice = NewMessage {
            sender: Sender::System,
            ..NewMessage::visitor(dialog_id, NOBODY_ONLINE)
        };
        if let Ok(appended) = state.store.append_message(notice).await {
            publish_events(state, std::slice::from_ref(&appended.event)).await;
        }
    }
    // Any handover may change a queue or free an operator's room.
    if let Ok(Some(dialog)) = state.store.dialog(dialog_id).await {
        crate::queue::announce(state, dialog.assistant_id).await;
    }
    crate::queue::assign_pending(state).await;
    Ok(stored)
}

/// What a visitor asking for a human reads when no operator is online.
pub const NOBODY_ONLINE: &str = "No operator is online right now. The assistant will keep \
    helping you here, and an operator will join as soon as one is online.";

/// Whether no operator is online (away ones do not take dialogs).
pub async fn nobody_online(state: &AppState) -> bool {
    let max = state.settings.limits.max_dialogs_per_operator;
    match state.store.presence(max).await {
        Ok(all) => !all
            .iter()
            .any(|p| p.status == replyx_protocol::PresenceState::Online),
        Err(_) => false,
    }
}

/// Moves a side's read mark and tells the dialog's subscribers (the inbox feed derives
/// the new unread count from the same signal). The signal carries the mark in both
/// streams' numbering: only here is the store at hand, while the audience is known only
/// where each node hands the frame to its sockets.
///
/// # Errors
/// Unknown dialog, store failures.
pub async fn mark_read(
    state: &AppState,
    dialog_id: DialogId,
    reader: Reader,
    up_to: Seq,
) -> Result<Seq, ApiError> {
    let mark = state.store.mark_read(dialog_id, reader, up_to).await?;
    let visitor_up_to = match state.store.visitor_position(dialog_id, mark).await {
        Ok(position) => Some(position),
        Err(e) => {
            // The mark is stored; visitors miss this frame, operators still get it.
            tracing::warn!(error = %e, dialog = %dialog_id, "mapping a read mark failed");
            None
        }
    };
    publish_signal(
        state,
        dialog_id,
        SignalBody::Read {
            reader,
            up_to: mark,
            visitor_up_to,
        },
    )
    .await;
    Ok(mark)
}

/// A dialog as a visitor may see it: the visitor stream's newest seq, and both read
/// marks mapped into the visitor stream's numbering (`Store::visitor_position`).
///
/// # Errors
/// Store failures.
pub async fn visitor_view(
    state: &AppState,
    dialog: &DialogRecord,
) -> Result<replyx_protocol::DialogView, ApiError> {
    let visitor = state
        .store
        .visitor_position(dialog.id, dialog.visitor_read_up_to)
        .await?;
    let operator = state
        .store
        .visitor_position(dialog.id, dialog.operator_read_up_to)
        .await?;
    let view = dialog.visitor_view(visitor, operator);
    Ok(view)
}
