//! Handoff between the assistant and operators as a pure transition function. The store
//! calls it inside the transaction that writes the resulting events, so the decision
//! and its record cannot drift apart.

use replyx_protocol::{DialogStatus, OperatorId, OperatorRef};
use serde::Deserialize;

/// What someone asks of a dialog's handoff state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HandoffAction {
    /// The visitor asked for a human (a handoff phrase).
    RequestOperator,
    /// An operator takes the dialog.
    Take(OperatorRef),
    /// The holding operator hands the dialog back to the assistant.
    Release(OperatorRef),
    /// An operator closes the dialog.
    Close(OperatorRef),
}

/// The HTTP spelling of the operator actions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OperatorAction {
    /// Take the dialog.
    Take,
    /// Release it to the assistant.
    Release,
    /// Close it.
    Close,
}

impl OperatorAction {
    /// The action performed by `operator`.
    pub fn by(self, operator: OperatorRef) -> HandoffAction {
        match self {
            Self::Take => HandoffAction::Take(operator),
            Self::Release => HandoffAction::Release(operator),
            Self::Close => HandoffAction::Close(operator),
        }
    }
}

/// A change to apply: the new status, its holder and the one system notice to store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transition {
    /// The new status.
    pub status: DialogStatus,
    /// The operator holding the dialog afterwards.
    pub operator: Option<OperatorRef>,
    /// The system message stored with the status event.
    pub notice: String,
}

/// Why an action was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HandoffError {
    /// Another operator holds the dialog.
    AlreadyTaken,
    /// The operator already holds the maximum number of dialogs.
    OperatorCapacity,
    /// The dialog is closed.
    DialogClosed,
    /// The action does not apply to the current status.
    InvalidTransition,
}

/// Decides an action. `Ok(None)` means "nothing changes" (a repeated take by the holder,
/// a second handoff request): no event is stored, so nothing is ever shown twice.
/// `held_by_actor` is how many open dialogs the acting operator holds now.
pub fn decide(
    status: DialogStatus,
    holder: Option<OperatorId>,
    action: &HandoffAction,
    held_by_actor: u64,
    max_held: u64,
) -> Result<Option<Transition>, HandoffError> {
    use DialogStatus::*;
    if status == Closed {
        return Err(HandoffError::DialogClosed);
    }
    let held_by_other = |op: &OperatorRef| status == Operator && holder != Some(op.id);
    match action {
        HandoffAction::RequestOperator => Ok((status == Ai).then(|| Transition {
            status: WaitingOperator,
            operator: None,
            notice: "Connecting you to an operator. Please wait.".into(),
        })),
        HandoffAction::Take(op) => {
            if held_by_other(op) {
                return Err(HandoffError::AlreadyTaken);
            }
            if status == Operator {
                return Ok(None);
            }
            if held_by_actor >= max_held {
                return Err(HandoffError::OperatorCapacity);
            }
            Ok(Some(Transition {
                status: Operator,
                operator: Some(op.clone()),
                notice: format!("{} joined the conversation.", op.name),
            }))
        }
        HandoffAction::Release(op) => {
            if held_by_other(op) {
                return Err(HandoffError::AlreadyTaken);
            }
            if status == Ai {
                return Err(HandoffError::InvalidTransition);
            }
            Ok(Some(Transition {
                status: Ai,
                operator: None,
                notice: "The assistant is back in the conversation.".into(),
            }))
        }
        HandoffAction::Close(op) => {
            if held_by_other(op) {
                return Err(HandoffError::AlreadyTaken);
            }
            Ok(Some(Transition {
                status: Closed,
                operator: None,
                notice: "The conversation was closed.".into(),
            }))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use DialogStatus::*;

    fn op(n: u128) -> OperatorRef {
        OperatorRef {
            id: OperatorId(uuid::Uuid::from_u128(n)),
            name: format!("op{n}"),
        }
    }

    #[test]
    fn second_operator_cannot_take_a_held_dialog() {
        let a = op(1);
        let taken = decide(Ai, None, &HandoffAction::Take(a.clone()), 0, 5)
            .unwrap()
            .unwrap();
        assert_eq!(taken.status, Operator);
        let again = decide(Operator, Some(a.id), &HandoffAction::Take(op(2)), 0, 5);
        assert_eq!(again, Err(HandoffError::AlreadyTaken));
        let by_holder = decide(Operator, Some(a.id), &HandoffAction::Take(a), 1, 5);
        assert_eq!(by_holder, Ok(None));
    }

    #[test]
    fn take_respects_operator_capacity() {
        let r = decide(WaitingOperator, None, &HandoffAction::Take(op(1)), 5, 5);
        assert_eq!(r, Err(HandoffError::OperatorCapacity));
    }

    #[test]
    fn request_operator_only_from_ai_and_only_once() {
        let t = decide(Ai, None, &HandoffAction::RequestOperator, 0, 5).unwrap();
        assert_eq!(t.unwrap().status, WaitingOperator);
        assert_eq!(
            decide(WaitingOperator, None, &HandoffAction::RequestOperator, 0, 5),
            Ok(None)
        );
    }

    #[test]
    fn release_and_close_by_non_holder_are_refused() {
        let holder = op(1);
        for action in [HandoffAction::Release(op(2)), HandoffAction::Close(op(2))] {
            assert_eq!(
                decide(Operator, Some(holder.id), &action, 0, 5),
                Err(HandoffError::AlreadyTaken)
            );
        }
        let released = decide(
            Operator,
            Some(holder.id),
            &HandoffAction::Release(holder),
            1,
            5,
        );
        assert_eq!(released.unwrap().unwrap().status, Ai);
    }

    #[test]
    fn closed_dialog_refuses_everything() {
        for action in [HandoffAction::RequestOperator, HandoffAction::Take(op(1))] {
            assert_eq!(
                decide(Closed, None, &action, 0, 5),
                Err(HandoffError::DialogClosed)
            );
        }
    }

    #[test]
    fn release_of_an_ai_dialog_is_invalid() {
        let r = decide(Ai, None, &HandoffAction::Release(op(1)), 0, 5);
        assert_eq!(r, Err(HandoffError::InvalidTransition));
    }
}
