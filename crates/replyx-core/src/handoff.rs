//! Who answers a dialog, as a pure transition function: the assistant, the routing
//! queue (waiting for an operator), an operator, or nobody (closed). The store calls
//! it inside the transaction that writes the resulting events, so the decision and its
//! record cannot drift apart. Every change is a stored `dialog.status` with its reason
//! and a system notice the visitor reads.

use replyx_protocol::{DialogStatus, OperatorRef, StatusReason};
use serde::{Deserialize, Serialize};

/// What someone asks of a dialog's handoff state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HandoffAction {
    /// The visitor asked for a human (a handoff phrase): the dialog joins the queue.
    RequestOperator,
    /// An operator takes the dialog (from the queue, or from the assistant).
    Take(OperatorRef),
    /// The routing queue gives a waiting dialog to this operator.
    Assign(OperatorRef),
    /// The holding operator passes the dialog to another operator.
    Transfer {
        /// The holder.
        by: OperatorRef,
        /// Who gets it.
        to: OperatorRef,
    },
    /// The holding operator lets it go: to the queue, or to the assistant where the
    /// assistant is configured so.
    Release(OperatorRef),
    /// An operator hands the dialog (held, or waiting) back to the assistant.
    HandBack(OperatorRef),
    /// This operator went offline past the grace period: a dialog they still hold goes
    /// where a released one would.
    OperatorLost(OperatorRef),
    /// An operator closes the dialog.
    Close(OperatorRef),
}

/// The HTTP spelling of the operator actions.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OperatorAction {
    /// Take the dialog.
    Take,
    /// Let it go: back to the queue (or to the assistant, per the assistant's
    /// `release_to`).
    Release,
    /// Give it back to the assistant.
    HandBack,
    /// Close it.
    Close,
}

impl OperatorAction {
    /// The action performed by `operator`.
    pub fn by(self, operator: OperatorRef) -> HandoffAction {
        match self {
            Self::Take => HandoffAction::Take(operator),
            Self::Release => HandoffAction::Release(operator),
            Self::HandBack => HandoffAction::HandBack(operator),
            Self::Close => HandoffAction::Close(operator),
        }
    }
}

/// Where a dialog goes when its operator releases it or is lost.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ReleaseTo {
    /// Back to the routing queue, for the next operator.
    #[default]
    Queue,
    /// Back to the assistant.
    Bot,
}

impl ReleaseTo {
    /// The stored and wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            ReleaseTo::Queue => "queue",
            ReleaseTo::Bot => "bot",
        }
    }

    /// Parses the stored name.
    pub fn parse(s: &str) -> Option<ReleaseTo> {
        match s {
            "queue" => Some(ReleaseTo::Queue),
            "bot" => Some(ReleaseTo::Bot),
            _ => None,
        }
    }
}

/// What the decision needs to know besides the dialog's status and holder.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// How many open dialogs the operator who would hold the dialog afterwards (the
    /// taker, the assignee, the transfer's target) holds now.
    pub held_by_target: u64,
    /// How many that operator may hold.
    pub max_held: u64,
    /// The assistant's choice for released and orphaned dialogs.
    pub release_to: ReleaseTo,
}

/// A change to apply: the new status, its holder and the one system notice to store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transition {
    /// The new status.
    pub status: DialogStatus,
    /// The operator holding the dialog afterwards.
    pub operator: Option<OperatorRef>,
    /// Why.
    pub reason: StatusReason,
    /// The operator who held it before, when one did and it matters to say so.
    pub from: Option<OperatorRef>,
    /// The system message stored with the status event.
    pub notice: String,
}

/// Why an action was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HandoffError {
    /// Another operator holds the dialog.
    AlreadyTaken,
    /// The operator who would hold it already holds the maximum number of dialogs.
    OperatorCapacity,
    /// The dialog is closed.
    DialogClosed,
    /// The action does not apply to the current status.
    InvalidTransition,
}

const QUEUED: &str = "Connecting you to an operator. Please wait.";
const BOT_BACK: &str = "The assistant is back in the conversation.";

fn joined(op: &OperatorRef, reason: StatusReason) -> Transition {
    Transition {
        status: DialogStatus::Operator,
        operator: Some(op.clone()),
        reason,
        from: None,
        notice: format!("{} joined the conversation.", op.name),
    }
}

/// Where a dialog let go by `op` goes, and what the visitor is told.
fn let_go(op: &OperatorRef, release_to: ReleaseTo, reason: StatusReason) -> Transition {
    let gone = match reason {
        StatusReason::OperatorOffline => format!("{} is no longer available.", op.name),
        _ => format!("{} left the conversation.", op.name),
    };
    let (status, next) = match release_to {
        ReleaseTo::Queue => (
            DialogStatus::WaitingOperator,
            "You are back in the queue for the next operator.",
        ),
        ReleaseTo::Bot => (DialogStatus::Ai, BOT_BACK),
    };
    Transition {
        status,
        operator: None,
        reason,
        from: Some(op.clone()),
        notice: format!("{gone} {next}"),
    }
}

/// Decides an action. `Ok(None)` means "nothing changes" (a repeated take by the holder,
/// a second handoff request, a lost operator who no longer holds the dialog): no event
/// is stored, so nothing is ever shown twice.
pub fn decide(
    status: DialogStatus,
    holder: Option<&OperatorRef>,
    action: &HandoffAction,
    limits: Limits,
) -> Result<Option<Transition>, HandoffError> {
    use DialogStatus::*;
    if status == Closed {
        return Err(HandoffError::DialogClosed);
    }
    let holds = |op: &OperatorRef| status == Operator && holder.is_some_and(|h| h.id == op.id);
    let held_by_other = |op: &OperatorRef| status == Operator && !holds(op);
    let has_room = || limits.held_by_target < limits.max_held;
    match action {
        HandoffAction::RequestOperator => Ok((status == Ai).then(|| Transition {
            status: WaitingOperator,
            operator: None,
            reason: StatusReason::Requested,
            from: None,
            notice: QUEUED.into(),
        })),
        HandoffAction::Take(op) => {
            if held_by_other(op) {
                return Err(HandoffError::AlreadyTaken);
            }
            if holds(op) {
                return Ok(None);
            }
            if !has_room() {
                return Err(HandoffError::OperatorCapacity);
            }
            Ok(Some(joined(op, StatusReason::Taken)))
        }
        HandoffAction::Assign(op) => {
            if status != WaitingOperator {
                return Err(HandoffError::InvalidTransition);
            }
            if !has_room() {
                return Err(HandoffError::OperatorCapacity);
            }
            Ok(Some(joined(op, StatusReason::Assigned)))
        }
        HandoffAction::Transfer { by, to } => {
            if status != Operator {
                return Err(HandoffError::InvalidTransition);
            }
            if !holds(by) {
                return Err(HandoffError::AlreadyTaken);
            }
            if by.id == to.id {
                return Ok(None);
            }
            if !has_room() {
                return Err(HandoffError::OperatorCapacity);
            }
            Ok(Some(Transition {
                status: Operator,
                operator: Some(to.clone()),
                reason: StatusReason::Transferred,
                from: Some(by.clone()),
                notice: format!("{} passed the conversation to {}.", by.name, to.name),
            }))
        }
        HandoffAction::Release(op) => {
            if held_by_other(op) {
                return Err(HandoffError::AlreadyTaken);
            }
            if status != Operator {
                return Err(HandoffError::InvalidTransition);
            }
            Ok(Some(let_go(op, limits.release_to, StatusReason::Released)))
        }
        HandoffAction::HandBack(op) => {
            if held_by_other(op) {
                return Err(HandoffError::AlreadyTaken);
            }
            if status == Ai {
                return Err(HandoffError::InvalidTransition);
            }
            Ok(Some(Transition {
                status: Ai,
                operator: None,
                reason: StatusReason::HandedBack,
                from: holder.cloned(),
                notice: BOT_BACK.into(),
            }))
        }
        HandoffAction::OperatorLost(op) => {
            Ok(holds(op).then(|| let_go(op, limits.release_to, StatusReason::OperatorOffline)))
        }
        HandoffAction::Close(op) => {
            if held_by_other(op) {
                return Err(HandoffError::AlreadyTaken);
            }
            Ok(Some(Transition {
                status: Closed,
                operator: None,
                reason: StatusReason::Closed,
                from: None,
                notice: "The conversation was closed.".into(),
            }))
        }
    }
}

#[cfg(test)]
mod tests;
