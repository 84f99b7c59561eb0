//! Operators at work, in the store: presence settled once per change, the routing
//! queue in order, auto-assignment that never gives a dialog twice or overfills an
//! operator (two handles at once), transfers, hand-backs, releases and lost operators
//! with their reasons, ratings, canned responses and the inbox search.

#[macro_use]
mod support;
use chrono::{Duration, Utc};
use replyx_core::handoff::{HandoffAction, ReleaseTo};
use replyx_core::{
    AssistantPatch, CannedResponse, DialogQuery, HandoffError, OperatorPatch, Store, StoreError,
    StoredEvent,
};
use replyx_protocol::{
    AssistantId, DialogId, DialogStatus, EventPayload, GuestId, OperatorRef, PresenceState, Rating,
    StatusReason,
};
use std::sync::Arc;
use support::{assistant, message, op};

const MAX: u64 = 3;

/// An assistant with auto-assignment switched as asked.
async fn shop(
    store: &dyn Store,
    auto_assign: bool,
    release_to: ReleaseTo,
) -> replyx_core::Assistant {
    let a = assistant(store, None).await;
    store
        .update_assistant(
            a.id,
            AssistantPatch {
                auto_assign: Some(auto_assign),
                release_to: Some(release_to),
                ..Default::default()
            },
        )
        .await
        .unwrap()
}

/// A dialog of a new guest that asked for an operator.
async fn queued(store: &dyn Store, a: &replyx_core::Assistant, guest: &str) -> DialogId {
    let (d, _, _) = store
        .open_dialog(a, &GuestId::parse(guest).unwrap())
        .await
        .unwrap();
    let events = store
        .handoff(d.id, HandoffAction::RequestOperator, MAX)
        .await
        .unwrap();
    assert_eq!(reason(&events), Some(StatusReason::Requested));
    d.id
}

fn reason(events: &[StoredEvent]) -> Option<StatusReason> {
    events.iter().find_map(|e| match &e.payload {
        EventPayload::DialogStatus { reason, .. } => *reason,
        _ => None,
    })
}

/// Marks operators' consoles seen now and settles presence.
async fn online(store: &dyn Store, ops: &[&OperatorRef]) {
    let ids: Vec<_> = ops.iter().map(|o| o.id).collect();
    store.presence_seen(&ids).await.unwrap();
    store
        .settle_presence(Utc::now() - Duration::seconds(30))
        .await
        .unwrap();
}

async fn holder(store: &dyn Store, dialog: DialogId) -> Option<OperatorRef> {
    store.dialog(dialog).await.unwrap().unwrap().operator
}

/// Seen consoles make operators online (or away, as chosen); a grace period without
/// one makes them offline; each change is returned once, whichever handle settles it,
/// even when both settle at once.
async fn presence_is_settled_once_per_change(a: Arc<dyn Store>, b: Arc<dyn Store>) {
    let ann = op(a.as_ref(), "ann").await;
    let bo = op(a.as_ref(), "bo").await;
    a.presence_seen(&[ann.id, bo.id]).await.unwrap();
    b.set_presence_choice(bo.id, PresenceState::Away)
        .await
        .unwrap();
    let grace = Utc::now() - Duration::seconds(30);
    let (first, second) = tokio::join!(a.settle_presence(grace), b.settle_presence(grace));
    let mut changes = first.unwrap();
    changes.extend(second.unwrap());
    changes.sort_by(|x, y| x.operator.name.cmp(&y.operator.name));
    let seen: Vec<_> = changes
        .iter()
        .map(|c| (c.operator.name.as_str(), c.was, c.now))
        .collect();
    assert_eq!(
        seen,
        [
            ("ann", PresenceState::Offline, PresenceState::Online),
            ("bo", PresenceState::Offline, PresenceState::Away)
        ]
    );
    assert!(
        a.settle_presence(grace).await.unwrap().is_empty(),
        "settled already"
    );
    // Nobody seen since a moment from now: both go offline, once.
    let later = Utc::now() + Duration::seconds(1);
    let gone = b.settle_presence(later).await.unwrap();
    assert_eq!(gone.len(), 2);
    assert!(gone.iter().all(|c| c.now == PresenceState::Offline));
    let listed = a.presence(MAX).await.unwrap();
    assert!(listed.iter().all(|p| p.status == PresenceState::Offline));
    assert_eq!(
        listed
            .iter()
            .find(|p| p.operator.id == bo.id)
            .unwrap()
            .chosen,
        PresenceState::Away
    );
    assert!(matches!(
        a.set_presence_choice(ann.id, PresenceState::Offline).await,
        Err(StoreError::Conflict(_))
    ));
}

/// The queue is per assistant and in the order dialogs asked; a pickup leaves it and
/// records how long it waited.
async fn the_queue_keeps_order_and_records_waits(a: Arc<dyn Store>, b: Arc<dyn Store>) {
    let s = shop(a.as_ref(), false, ReleaseTo::Queue).await;
    let other = shop(a.as_ref(), false, ReleaseTo::Queue).await;
    let first = queued(a.as_ref(), &s, "guest-q-0001").await;
    let second = queued(b.as_ref(), &s, "guest-q-0002").await;
    let elsewhere = queued(a.as_ref(), &other, "guest-q-0003").await;
    assert_eq!(a.queue(s.id).await.unwrap(), [first, second]);
    assert_eq!(b.queue(other.id).await.unwrap(), [elsewhere]);
    assert!(a.dialog(first).await.unwrap().unwrap().queued_at.is_some());
    let ann = op(a.as_ref(), "ann").await;
    let taken = b
        .handoff(first, HandoffAction::Take(ann), MAX)
        .await
        .unwrap();
    assert_eq!(reason(&taken), Some(StatusReason::Taken));
    assert_eq!(a.queue(s.id).await.unwrap(), [second]);
    assert!(a.dialog(first).await.unwrap().unwrap().queued_at.is_none());
    let since = Utc::now() - Duration::minutes(5);
    assert_eq!(a.recent_waits(s.id, since, 10).await.unwrap().len(), 1);
    assert!(a
        .recent_waits(other.id, since, 10)
        .await
        .unwrap()
        .is_empty());
}

/// Auto-assignment gives the oldest waiting dialog to the least loaded online
/// operator (ties: the one given a dialog longest ago), never to an away or offline
/// one, never past a capacity (the server's, or the operator's own), and only for
/// assistants that auto-assign.
async fn auto_assignment_balances_load_and_respects_capacity(a: Arc<dyn Store>, b: Arc<dyn Store>) {
    let manual = shop(a.as_ref(), false, ReleaseTo::Queue).await;
    let auto = shop(a.as_ref(), true, ReleaseTo::Queue).await;
    let ann = op(a.as_ref(), "ann").await;
    let bo = op(a.as_ref(), "bo").await;
    let cy = op(a.as_ref(), "cy").await;
    queued(a.as_ref(), &manual, "guest-m-0001").await;
    assert!(
        a.assign_next(MAX).await.unwrap().is_none(),
        "nothing auto-assignable"
    );
    let mut dialogs = Vec::new();
    for i in 0..6 {
        dialogs.push(queued(a.as_ref(), &auto, &format!("guest-a-000{i}")).await);
    }
    assert!(a.assign_next(MAX).await.unwrap().is_none(), "nobody online");
    a.update_operator(
        bo.id,
        OperatorPatch {
            max_dialogs: Some(Some(1)),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    online(a.as_ref(), &[&ann, &bo, &cy]).await;
    b.set_presence_choice(cy.id, PresenceState::Away)
        .await
        .unwrap();
    b.settle_presence(Utc::now() - Duration::seconds(30))
        .await
        .unwrap();
    // Two handles assigning at once, more rounds than there is room.
    let rounds = futures_util::future::join_all((0..10).map(|i| {
        let store = if i % 2 == 0 { a.clone() } else { b.clone() };
        async move { store.assign_next(MAX).await.unwrap() }
    }))
    .await;
    let given: Vec<_> = rounds.into_iter().flatten().collect();
    assert_eq!(given.len(), 4, "ann's 3 and bo's 1, then no room");
    for events in &given {
        assert_eq!(reason(events), Some(StatusReason::Assigned));
    }
    let mut per_operator = std::collections::HashMap::new();
    for d in &dialogs {
        if let Some(h) = holder(a.as_ref(), *d).await {
            *per_operator.entry(h.name).or_insert(0) += 1;
        }
    }
    assert_eq!(per_operator.get("ann"), Some(&3));
    assert_eq!(per_operator.get("bo"), Some(&1), "bo's own capacity of 1");
    assert_eq!(per_operator.get("cy"), None, "away: never assigned");
    let left = a.queue(auto.id).await.unwrap();
    assert_eq!(left.len(), 2);
    // Each dialog was given at most once: one Assigned status event per dialog.
    for d in &dialogs {
        let assigned = a
            .events_since(*d, replyx_protocol::Seq(0), 100, replyx_core::Stream::Admin)
            .await
            .unwrap()
            .iter()
            .filter(|e| {
                matches!(
                    e.payload,
                    EventPayload::DialogStatus {
                        reason: Some(StatusReason::Assigned),
                        ..
                    }
                )
            })
            .count();
        assert!(assigned <= 1, "{d} assigned {assigned} times");
    }
}

/// Equally loaded operators take turns.
async fn equally_loaded_operators_take_turns(a: Arc<dyn Store>, _b: Arc<dyn Store>) {
    let auto = shop(a.as_ref(), true, ReleaseTo::Queue).await;
    let ann = op(a.as_ref(), "ann").await;
    let bo = op(a.as_ref(), "bo").await;
    online(a.as_ref(), &[&ann, &bo]).await;
    let mut order = Vec::new();
    for i in 0..4 {
        let d = queued(a.as_ref(), &auto, &format!("guest-t-000{i}")).await;
        a.assign_next(10).await.unwrap().expect("assigned");
        let h = holder(a.as_ref(), d).await.unwrap();
        order.push(h.name.clone());
        // Each finishes at once, so both stay equally loaded.
        a.handoff(d, HandoffAction::Close(h), 10).await.unwrap();
    }
    assert_ne!(order[0], order[1]);
    assert_eq!(order[0], order[2]);
    assert_eq!(order[1], order[3]);
}

/// Transfers, hand-backs, releases and lost operators each store their reason and the
/// previous holder; releases and losses go where the assistant says.
async fn every_transition_stores_its_reason(a: Arc<dyn Store>, b: Arc<dyn Store>) {
    let to_queue = shop(a.as_ref(), false, ReleaseTo::Queue).await;
    let to_bot = shop(a.as_ref(), false, ReleaseTo::Bot).await;
    let ann = op(a.as_ref(), "ann").await;
    let bo = op(a.as_ref(), "bo").await;
    let d = queued(a.as_ref(), &to_queue, "guest-r-0001").await;
    a.handoff(d, HandoffAction::Take(ann.clone()), MAX)
        .await
        .unwrap();
    let moved = b
        .handoff(
            d,
            HandoffAction::Transfer {
                by: ann.clone(),
                to: bo.clone(),
            },
            MAX,
        )
        .await
        .unwrap();
    assert_eq!(reason(&moved), Some(StatusReason::Transferred));
    assert_eq!(holder(a.as_ref(), d).await, Some(bo.clone()));
    assert!(matches!(
        &moved[0].payload,
        EventPayload::DialogStatus { from: Some(f), .. } if f.id == ann.id
    ));
    let released = a
        .handoff(d, HandoffAction::Release(bo.clone()), MAX)
        .await
        .unwrap();
    assert_eq!(reason(&released), Some(StatusReason::Released));
    let now = a.dialog(d).await.unwrap().unwrap();
    assert_eq!(now.status, DialogStatus::WaitingOperator);
    assert!(now.queued_at.is_some());
    let back = a
        .handoff(d, HandoffAction::HandBack(ann.clone()), MAX)
        .await
        .unwrap();
    assert_eq!(reason(&back), Some(StatusReason::HandedBack));
    assert_eq!(a.dialog(d).await.unwrap().unwrap().status, DialogStatus::Ai);

    let e = queued(a.as_ref(), &to_bot, "guest-r-0002").await;
    a.handoff(e, HandoffAction::Take(ann.clone()), MAX)
        .await
        .unwrap();
    assert_eq!(a.held_dialogs(ann.id).await.unwrap(), [e]);
    let lost = b
        .handoff(e, HandoffAction::OperatorLost(ann.clone()), MAX)
        .await
        .unwrap();
    assert_eq!(reason(&lost), Some(StatusReason::OperatorOffline));
    assert_eq!(
        a.dialog(e).await.unwrap().unwrap().status,
        DialogStatus::Ai,
        "to the bot"
    );
    assert!(a.held_dialogs(ann.id).await.unwrap().is_empty());
    assert!(b
        .handoff(e, HandoffAction::OperatorLost(ann), MAX)
        .await
        .unwrap()
        .is_empty());
    // A transfer to an operator without room is refused and changes nothing.
    let f = queued(a.as_ref(), &to_queue, "guest-r-0003").await;
    a.handoff(f, HandoffAction::Take(bo.clone()), 1)
        .await
        .unwrap();
    let g = queued(a.as_ref(), &to_queue, "guest-r-0004").await;
    let cy = op(a.as_ref(), "cy").await;
    a.handoff(g, HandoffAction::Take(cy.clone()), 1)
        .await
        .unwrap();
    assert!(matches!(
        a.handoff(
            g,
            HandoffAction::Transfer {
                by: cy.clone(),
                to: bo.clone()
            },
            1
        )
        .await,
        Err(StoreError::Handoff(HandoffError::OperatorCapacity))
    ));
    assert_eq!(holder(a.as_ref(), g).await, Some(cy));
}

/// A rating is taken once, for a closed dialog only, and stored as an event.
async fn a_closed_dialog_is_rated_once(a: Arc<dyn Store>, b: Arc<dyn Store>) {
    let s = assistant(a.as_ref(), None).await;
    let (d, _, _) = a
        .open_dialog(&s, &GuestId::parse("guest-rate-1").unwrap())
        .await
        .unwrap();
    let good = Rating {
        score: 5,
        comment: Some("quick and kind".into()),
    };
    assert!(matches!(
        a.rate(d.id, good.clone()).await,
        Err(StoreError::Handoff(HandoffError::InvalidTransition))
    ));
    let ann = op(a.as_ref(), "ann").await;
    a.handoff(d.id, HandoffAction::Close(ann), MAX)
        .await
        .unwrap();
    let (first, second) = tokio::join!(a.rate(d.id, good.clone()), b.rate(d.id, good.clone()));
    let stored: Vec<_> = [first, second].into_iter().filter_map(Result::ok).collect();
    assert_eq!(stored.len(), 1, "two ratings at once store one");
    assert!(matches!(&stored[0].payload, EventPayload::DialogRated { rating } if *rating == good));
    assert_eq!(
        a.dialog(d.id).await.unwrap().unwrap().rating,
        Some(good.clone())
    );
    assert_eq!(
        a.dialog_summary(d.id).await.unwrap().unwrap().rating,
        Some(5)
    );
    assert!(matches!(
        a.rate(DialogId::new(), good).await,
        Err(StoreError::NotFound)
    ));
}

/// Canned responses: per assistant, unique by shortcut, changed and removed by id.
async fn canned_responses_are_per_assistant(a: Arc<dyn Store>, b: Arc<dyn Store>) {
    let s = assistant(a.as_ref(), None).await;
    let other = assistant(a.as_ref(), None).await;
    let hello = |assistant_id: AssistantId, id: &str| CannedResponse {
        id: id.into(),
        assistant_id,
        shortcut: "hello".into(),
        text: "Hello! How can I help?".into(),
        created_at: chrono::SubsecRound::trunc_subsecs(Utc::now(), 6),
    };
    a.add_canned_response(hello(s.id, "c1")).await.unwrap();
    b.add_canned_response(hello(other.id, "c2")).await.unwrap();
    assert!(matches!(
        a.add_canned_response(hello(s.id, "c3")).await,
        Err(StoreError::Conflict(_))
    ));
    assert!(matches!(
        a.add_canned_response(hello(AssistantId::new(), "c4")).await,
        Err(StoreError::NotFound)
    ));
    let changed = b
        .update_canned_response("c1", Some("hi".into()), None)
        .await
        .unwrap();
    assert_eq!(
        (changed.shortcut.as_str(), changed.text.as_str()),
        ("hi", "Hello! How can I help?")
    );
    assert_eq!(a.canned_responses(s.id).await.unwrap(), [changed]);
    assert!(a.remove_canned_response("c1").await.unwrap());
    assert!(!a.remove_canned_response("c1").await.unwrap());
    assert!(a.canned_responses(s.id).await.unwrap().is_empty());
    assert_eq!(a.canned_responses(other.id).await.unwrap().len(), 1);
}

/// The inbox filters by holder and finds dialogs by message text (case-insensitive,
/// `%` taken literally) and by a verified visitor's name.
async fn the_inbox_is_searched_by_text_visitor_and_holder(a: Arc<dyn Store>, _b: Arc<dyn Store>) {
    let s = assistant(a.as_ref(), None).await;
    let open = |g: &str| {
        let (store, s) = (a.clone(), s.clone());
        let g = g.to_owned();
        async move {
            store
                .open_dialog(&s, &GuestId::parse(&g).unwrap())
                .await
                .unwrap()
                .0
                .id
        }
    };
    let refund = open("guest-s-0001").await;
    let other = open("guest-s-0002").await;
    a.append_message(message(refund, "I want a REFUND of 100%", None, false))
        .await
        .unwrap();
    a.append_message(message(other, "where is my parcel", None, false))
        .await
        .unwrap();
    let query = |text: Option<&str>, operator| DialogQuery {
        limit: 50,
        text: text.map(str::to_owned),
        operator,
        ..Default::default()
    };
    let ids = |rows: Vec<replyx_protocol::DialogSummary>| {
        rows.into_iter().map(|r| r.id).collect::<Vec<_>>()
    };
    assert_eq!(
        ids(a.list_dialogs(query(Some("refund"), None)).await.unwrap()),
        [refund]
    );
    assert_eq!(
        ids(a.list_dialogs(query(Some("100%"), None)).await.unwrap()),
        [refund]
    );
    assert!(ids(a.list_dialogs(query(Some("1_0"), None)).await.unwrap()).is_empty());
    let named = a
        .identify_visitor(
            s.id,
            &replyx_protocol::VisitorIdentity {
                user_id: "u-1".into(),
                name: Some("Dora Parcel".into()),
                email: None,
            },
        )
        .await
        .unwrap();
    let dora = a.open_dialog(&s, &named).await.unwrap().0.id;
    assert_eq!(
        ids(a.list_dialogs(query(Some("dora"), None)).await.unwrap()),
        [dora]
    );
    let ann = op(a.as_ref(), "ann").await;
    a.handoff(other, HandoffAction::Take(ann.clone()), MAX)
        .await
        .unwrap();
    assert_eq!(
        ids(a.list_dialogs(query(None, Some(ann.id))).await.unwrap()),
        [other]
    );
    let labels: Vec<_> = a
        .list_dialogs(query(None, None))
        .await
        .unwrap()
        .into_iter()
        .map(|r| r.visitor_label)
        .collect();
    assert!(
        labels.iter().all(|l| l.starts_with("Visitor ")),
        "{labels:?}"
    );
}

backend_suite!(sqlite = crate::support::sqlite_pair, postgres = crate::support::pg_pair;
    presence_is_settled_once_per_change,
    the_queue_keeps_order_and_records_waits,
    auto_assignment_balances_load_and_respects_capacity,
    equally_loaded_operators_take_turns,
    every_transition_stores_its_reason,
    a_closed_dialog_is_rated_once,
    canned_responses_are_per_assistant,
    the_inbox_is_searched_by_text_visitor_and_holder,
);
