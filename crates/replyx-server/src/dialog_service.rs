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
        if from_visitor {
            responder::on_visitor_message(state, dialog_id, text);
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
    let stored = state.store.handoff(dialog_id, action, max).await?;
    if !stored.is_empty() {
        publish_events(state, &stored).await;
    }
    Ok(stored)
}

/// Moves a side's read mark and tells the dialog's subscribers (the inbox feed derives
/// the new unread count from the same signal).
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
    publish_signal(
        state,
        dialog_id,
        SignalBody::Read {
            reader,
            up_to: mark,
        },
    )
    .await;
    Ok(mark)
}
