//! Races between two nodes (two handles, two origins) on one database, run on both
//! backends: what the database must decide, because no process can.

#[macro_use]
mod support;

use replyx_core::handoff::HandoffAction;
use replyx_core::{HandoffError, Store, StoreError, Stream};
use replyx_protocol::{GuestId, Seq};
use std::sync::Arc;
use support::{assistant, message, op};

/// Many visitors' first page loads arrive at both nodes at once: each guest gets one
/// dialog and one welcome, however the creations interleave.
async fn concurrent_opens_for_one_guest_make_one_dialog_with_one_welcome(
    a: Arc<dyn Store>,
    b: Arc<dyn Store>,
) {
    let asst = assistant(a.as_ref(), Some("Welcome")).await;
    for g in 0..10 {
        let guest = GuestId::parse(&format!("guest-race-{g:04}")).unwrap();
        let opens = (0..8).map(|i| {
            let store = if i % 2 == 0 { a.clone() } else { b.clone() };
            let (asst, guest) = (asst.clone(), guest.clone());
            tokio::spawn(async move { store.open_dialog(&asst, &guest).await.unwrap() })
        });
        let opened: Vec<_> = futures_util::future::join_all(opens)
            .await
            .into_iter()
            .map(Result::unwrap)
            .collect();
        let id = opened[0].0.id;
        assert!(opened.iter().all(|(d, _, _)| d.id == id), "one dialog");
        assert_eq!(opened.iter().filter(|(_, _, created)| *created).count(), 1);
        let welcomes: usize = opened.iter().map(|(_, stored, _)| stored.len()).sum();
        assert_eq!(welcomes, 1, "the welcome is stored once");
        let log = a
            .events_since(id, Seq(0), 100, Stream::Admin)
            .await
            .unwrap();
        assert_eq!(log.len(), 1);
    }
}

/// Two operators on two nodes take the same dialog at once: exactly one wins, the
/// other is told it is taken (409), and the log holds one status change.
async fn two_operators_on_two_nodes_taking_one_dialog_one_wins(
    a: Arc<dyn Store>,
    b: Arc<dyn Store>,
) {
    let asst = assistant(a.as_ref(), None).await;
    let ann = op(a.as_ref(), "Ann").await;
    let bob = op(b.as_ref(), "Bob").await;
    for g in 0..10 {
        let guest = GuestId::parse(&format!("guest-take-{g:04}")).unwrap();
        let (d, _, _) = a.open_dialog(&asst, &guest).await.unwrap();
        let take_a = {
            let (a, ann) = (a.clone(), ann.clone());
            tokio::spawn(async move { a.handoff(d.id, HandoffAction::Take(ann), 5).await })
        };
        let take_b = {
            let (b, bob) = (b.clone(), bob.clone());
            tokio::spawn(async move { b.handoff(d.id, HandoffAction::Take(bob), 5).await })
        };
        let results = [take_a.await.unwrap(), take_b.await.unwrap()];
        let won = results.iter().filter(|r| r.is_ok()).count();
        assert_eq!(won, 1, "{results:?}");
        assert!(results
            .iter()
            .any(|r| matches!(r, Err(StoreError::Handoff(HandoffError::AlreadyTaken)))));
        // Close it again so neither operator reaches the held-dialogs limit.
        let holder = a.dialog(d.id).await.unwrap().unwrap().operator.unwrap();
        a.handoff(d.id, HandoffAction::Close(holder), 5)
            .await
            .unwrap();
        let log = a
            .events_since(d.id, Seq(0), 100, Stream::Admin)
            .await
            .unwrap();
        assert_eq!(
            log.iter().map(|e| e.seq.0).collect::<Vec<_>>(),
            [1, 2, 3, 4],
            "one take (status + notice) and one close"
        );
    }
}

/// A visitor's retry reaches the other node while the first send is being stored:
/// one copy is stored, and both callers get that copy's seq.
async fn a_retry_on_the_other_node_stores_one_copy(a: Arc<dyn Store>, b: Arc<dyn Store>) {
    let asst = assistant(a.as_ref(), None).await;
    let (d, _, _) = a
        .open_dialog(&asst, &GuestId::parse("guest-retry-0001").unwrap())
        .await
        .unwrap();
    for i in 0..20 {
        let key = format!("k{i}");
        let sends = [a.clone(), b.clone(), a.clone(), b.clone()].map(|store| {
            let key = key.clone();
            tokio::spawn(async move {
                store
                    .append_message(message(d.id, "once", Some(&key), false))
                    .await
                    .unwrap()
            })
        });
        let results: Vec<_> = futures_util::future::join_all(sends)
            .await
            .into_iter()
            .map(Result::unwrap)
            .collect();
        assert_eq!(results.iter().filter(|r| !r.duplicate).count(), 1);
        assert!(results.iter().all(|r| r.event == results[0].event));
    }
    let log = a
        .events_since(d.id, Seq(0), 100, Stream::Admin)
        .await
        .unwrap();
    assert_eq!(
        log.iter().map(|e| e.seq.0).collect::<Vec<_>>(),
        (1..=20).collect::<Vec<_>>()
    );
}

backend_suite!(sqlite = crate::support::sqlite_pair, postgres = crate::support::pg_pair;
    concurrent_opens_for_one_guest_make_one_dialog_with_one_welcome,
    two_operators_on_two_nodes_taking_one_dialog_one_wins,
    a_retry_on_the_other_node_stores_one_copy,
);
