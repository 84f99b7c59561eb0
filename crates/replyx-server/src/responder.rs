//! Runs the built-in rules assistant after a visitor message: a keyword reply, the
//! fallback, or a handoff to operators. The reply is stored only while the dialog is
//! still with the assistant (a conditional append), so a reply being produced when an
//! operator takes over is discarded: never stored, never shown.

use crate::dialog_service;
use crate::state::AppState;
use replyx_core::handoff::HandoffAction;
use replyx_core::rules::{respond, RuleOutcome};
use replyx_core::{AppendedTo, NewMessage, SignalBody};
use replyx_protocol::{DialogId, DialogStatus, Sender, TypingActor, TypingState};

/// Lets the assistant answer `text` in a tracked background task. `seen` is the dialog
/// as the append saw it under the write lock: no read of it is needed, and a dialog an
/// operator holds needs no task at all.
pub fn on_visitor_message(state: &AppState, dialog_id: DialogId, seen: AppendedTo, text: String) {
    if !matches!(
        seen.status,
        DialogStatus::Ai | DialogStatus::WaitingOperator
    ) {
        return;
    }
    let task_state = state.clone();
    state.lifecycle.spawn(async move {
        if let Err(e) = answer(&task_state, dialog_id, seen, &text).await {
            tracing::warn!(error = %e.message, dialog = %dialog_id, "assistant reply failed");
        }
    });
}

async fn answer(
    state: &AppState,
    dialog_id: DialogId,
    seen: AppendedTo,
    text: &str,
) -> Result<(), crate::error::ApiError> {
    // The assistant answers its own dialogs, and keeps answering a visitor waiting
    // for an operator while no operator is online.
    let answers = match seen.status {
        DialogStatus::Ai => true,
        DialogStatus::WaitingOperator => dialog_service::nobody_online(state).await,
        _ => false,
    };
    if !answers {
        return Ok(());
    }
    let Some(assistant) = state.assistants.get(seen.assistant_id).await? else {
        return Ok(());
    };
    match respond(&assistant, text) {
        RuleOutcome::Silent => Ok(()),
        RuleOutcome::Handoff => {
            dialog_service::handoff(state, dialog_id, HandoffAction::RequestOperator).await?;
            Ok(())
        }
        RuleOutcome::Reply(reply) => {
            let typing = |s| SignalBody::Typing {
                actor: TypingActor::Assistant,
                state: s,
            };
            dialog_service::publish_signal(state, dialog_id, typing(TypingState::Start)).await;
            let stop = state.lifecycle.stop_token();
            tokio::select! {
                _ = tokio::time::sleep(state.settings.assistant_reply_delay) => {}
                _ = stop.cancelled() => {}
            }
            let message = NewMessage {
                dialog_id,
                sender: Sender::Assistant,
                text: reply,
                client_msg_id: None,
                operator: None,
                internal: false,
                require_status: Some(seen.status),
            };
            let result = dialog_service::post_message(state, message).await;
            dialog_service::publish_signal(state, dialog_id, typing(TypingState::Stop)).await;
            match result {
                Ok(_) => Ok(()),
                Err(e)
                    if e.code == replyx_protocol::ErrorCode::InvalidTransition
                        || e.code == replyx_protocol::ErrorCode::DialogClosed =>
                {
                    tracing::debug!(dialog = %dialog_id, "assistant reply discarded: dialog left the assistant");
                    Ok(())
                }
                Err(e) => Err(e),
            }
        }
    }
}
