//! The handoff table: every action from every status, the holder rules and capacity.

use super::*;
use replyx_protocol::OperatorId;
use DialogStatus::*;

fn op(n: u128) -> OperatorRef {
    OperatorRef {
        id: OperatorId(uuid::Uuid::from_u128(n)),
        name: format!("op{n}"),
    }
}

fn room(held: u64) -> Limits {
    Limits {
        held_by_target: held,
        max_held: 5,
        release_to: ReleaseTo::Queue,
    }
}

fn to_bot() -> Limits {
    Limits {
        release_to: ReleaseTo::Bot,
        ..room(0)
    }
}

#[test]
fn second_operator_cannot_take_a_held_dialog() {
    let a = op(1);
    let taken = decide(Ai, None, &HandoffAction::Take(a.clone()), room(0))
        .unwrap()
        .unwrap();
    assert_eq!(
        (taken.status, taken.reason),
        (Operator, StatusReason::Taken)
    );
    let again = decide(Operator, Some(&a), &HandoffAction::Take(op(2)), room(0));
    assert_eq!(again, Err(HandoffError::AlreadyTaken));
    let by_holder = decide(Operator, Some(&a), &HandoffAction::Take(a.clone()), room(1));
    assert_eq!(by_holder, Ok(None));
}

#[test]
fn take_and_assign_respect_the_target_operators_capacity() {
    for action in [HandoffAction::Take(op(1)), HandoffAction::Assign(op(1))] {
        let r = decide(WaitingOperator, None, &action, room(5));
        assert_eq!(r, Err(HandoffError::OperatorCapacity), "{action:?}");
    }
    let assigned = decide(
        WaitingOperator,
        None,
        &HandoffAction::Assign(op(1)),
        room(4),
    )
    .unwrap()
    .unwrap();
    assert_eq!(assigned.reason, StatusReason::Assigned);
    assert_eq!(assigned.notice, "op1 joined the conversation.");
}

#[test]
fn the_queue_only_assigns_waiting_dialogs() {
    for status in [Ai, Operator] {
        let r = decide(status, Some(&op(9)), &HandoffAction::Assign(op(1)), room(0));
        assert_eq!(r, Err(HandoffError::InvalidTransition), "{status:?}");
    }
}

#[test]
fn request_operator_only_from_ai_and_only_once() {
    let t = decide(Ai, None, &HandoffAction::RequestOperator, room(0)).unwrap();
    let t = t.unwrap();
    assert_eq!(
        (t.status, t.reason),
        (WaitingOperator, StatusReason::Requested)
    );
    assert_eq!(
        decide(
            WaitingOperator,
            None,
            &HandoffAction::RequestOperator,
            room(0)
        ),
        Ok(None)
    );
}

#[test]
fn a_transfer_passes_a_held_dialog_to_an_operator_with_room() {
    let (ann, bo) = (op(1), op(2));
    let moved = decide(
        Operator,
        Some(&ann),
        &HandoffAction::Transfer {
            by: ann.clone(),
            to: bo.clone(),
        },
        room(2),
    )
    .unwrap()
    .unwrap();
    assert_eq!(moved.operator, Some(bo.clone()));
    assert_eq!(moved.from, Some(ann.clone()));
    assert_eq!(moved.reason, StatusReason::Transferred);
    assert_eq!(moved.notice, "op1 passed the conversation to op2.");
    let full = HandoffAction::Transfer {
        by: ann.clone(),
        to: bo.clone(),
    };
    assert_eq!(
        decide(Operator, Some(&ann), &full, room(5)),
        Err(HandoffError::OperatorCapacity)
    );
    let not_mine = HandoffAction::Transfer {
        by: bo.clone(),
        to: op(3),
    };
    assert_eq!(
        decide(Operator, Some(&ann), &not_mine, room(0)),
        Err(HandoffError::AlreadyTaken)
    );
    assert_eq!(
        decide(WaitingOperator, None, &not_mine, room(0)),
        Err(HandoffError::InvalidTransition)
    );
    let to_self = HandoffAction::Transfer {
        by: ann.clone(),
        to: ann.clone(),
    };
    assert_eq!(decide(Operator, Some(&ann), &to_self, room(0)), Ok(None));
}

#[test]
fn a_release_goes_to_the_queue_or_the_bot_as_configured() {
    let ann = op(1);
    let queued = decide(
        Operator,
        Some(&ann),
        &HandoffAction::Release(ann.clone()),
        room(1),
    )
    .unwrap()
    .unwrap();
    assert_eq!(queued.status, WaitingOperator);
    assert_eq!(
        (queued.reason, queued.from.clone()),
        (StatusReason::Released, Some(ann.clone()))
    );
    assert_eq!(
        queued.notice,
        "op1 left the conversation. You are back in the queue for the next operator."
    );
    let bot = decide(
        Operator,
        Some(&ann),
        &HandoffAction::Release(ann.clone()),
        to_bot(),
    )
    .unwrap()
    .unwrap();
    assert_eq!(bot.status, Ai);
    for status in [Ai, WaitingOperator] {
        assert_eq!(
            decide(status, None, &HandoffAction::Release(ann.clone()), room(0)),
            Err(HandoffError::InvalidTransition)
        );
    }
}

#[test]
fn hand_back_returns_a_held_or_waiting_dialog_to_the_assistant() {
    let ann = op(1);
    for (status, holder) in [(Operator, Some(&ann)), (WaitingOperator, None)] {
        let t = decide(
            status,
            holder,
            &HandoffAction::HandBack(ann.clone()),
            room(0),
        )
        .unwrap()
        .unwrap();
        assert_eq!((t.status, t.reason), (Ai, StatusReason::HandedBack));
        assert_eq!(t.notice, "The assistant is back in the conversation.");
    }
    assert_eq!(
        decide(Ai, None, &HandoffAction::HandBack(ann.clone()), room(0)),
        Err(HandoffError::InvalidTransition)
    );
    assert_eq!(
        decide(
            Operator,
            Some(&op(2)),
            &HandoffAction::HandBack(ann),
            room(0)
        ),
        Err(HandoffError::AlreadyTaken)
    );
}

#[test]
fn a_lost_operator_frees_only_what_they_still_hold() {
    let ann = op(1);
    let lost = HandoffAction::OperatorLost(ann.clone());
    let t = decide(Operator, Some(&ann), &lost, room(0))
        .unwrap()
        .unwrap();
    assert_eq!(
        (t.status, t.reason),
        (WaitingOperator, StatusReason::OperatorOffline)
    );
    assert_eq!(
        t.notice,
        "op1 is no longer available. You are back in the queue for the next operator."
    );
    let t = decide(Operator, Some(&ann), &lost, to_bot())
        .unwrap()
        .unwrap();
    assert_eq!(t.status, Ai);
    // Someone else took it meanwhile, or it is no longer held: nothing to do.
    assert_eq!(decide(Operator, Some(&op(2)), &lost, room(0)), Ok(None));
    assert_eq!(decide(WaitingOperator, None, &lost, room(0)), Ok(None));
    assert_eq!(decide(Ai, None, &lost, room(0)), Ok(None));
}

#[test]
fn close_by_a_non_holder_is_refused() {
    let holder = op(1);
    assert_eq!(
        decide(
            Operator,
            Some(&holder),
            &HandoffAction::Close(op(2)),
            room(0)
        ),
        Err(HandoffError::AlreadyTaken)
    );
    let closed = decide(
        Operator,
        Some(&holder),
        &HandoffAction::Close(holder.clone()),
        room(0),
    );
    assert_eq!(closed.unwrap().unwrap().reason, StatusReason::Closed);
}

#[test]
fn closed_dialog_refuses_everything() {
    for action in [
        HandoffAction::RequestOperator,
        HandoffAction::Take(op(1)),
        HandoffAction::Assign(op(1)),
        HandoffAction::HandBack(op(1)),
        HandoffAction::OperatorLost(op(1)),
    ] {
        assert_eq!(
            decide(Closed, None, &action, room(0)),
            Err(HandoffError::DialogClosed),
            "{action:?}"
        );
    }
}

#[test]
fn release_targets_round_trip_through_their_names() {
    for to in [ReleaseTo::Queue, ReleaseTo::Bot] {
        assert_eq!(ReleaseTo::parse(to.as_str()), Some(to));
        assert_eq!(serde_json::to_value(to).unwrap(), to.as_str());
    }
    assert_eq!(ReleaseTo::Queue.as_str(), "queue");
    assert_eq!(ReleaseTo::Bot.as_str(), "bot");
    assert_eq!(ReleaseTo::parse("Queue"), None);
    assert_eq!(ReleaseTo::parse(""), None);
    assert_eq!(ReleaseTo::default(), ReleaseTo::Queue);
}
