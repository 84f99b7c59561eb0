//! The `Store` contract, written once against the trait. `backend_suite!` runs every
//! case on SQLite and on PostgreSQL (needs the server named by `REPLYX_TEST_PG_URL`,
//! default 127.0.0.1:5432), each on a fresh database.

use replyx_core::bus::{Signal, SignalBody};
use replyx_core::handoff::HandoffAction;
use replyx_core::{HandoffError, NewMessage, StoreError, Stream};
use replyx_protocol::{DialogStatus, GuestId, Reader, Sender, Seq, TypingActor, TypingState};

#[macro_use]
mod support;
use replyx_core::Store;
use std::sync::Arc;
use support::{assistant, changes_when, message, op};

async fn a_new_dialog_stores_its_welcome_as_seq_1_and_a_reload_adds_nothing(
    store: Arc<dyn Store>,
    _b: Arc<dyn Store>,
) {
    let a = assistant(store.as_ref(), Some("Welcome")).await;
    let guest = GuestId::parse("guest-0001").unwrap();
    let (d, stored, created) = store.open_dialog(&a, &guest).await.unwrap();
    assert!(created);
    assert_eq!(stored.len(), 1);
    assert_eq!(stored[0].seq, Seq(1));
    let (again, stored, created) = store.open_dialog(&a, &guest).await.unwrap();
    assert_eq!((again.id, stored.len(), created), (d.id, 0, false));
    assert_eq!(
        store
            .events_since(d.id, Seq(0), 100, Stream::Admin)
            .await
            .unwrap()
            .len(),
        1
    );
    let silent = assistant(store.as_ref(), None).await;
    let (_, stored, _) = store.open_dialog(&silent, &guest).await.unwrap();
    assert!(stored.is_empty(), "no welcome configured, none stored");
}

async fn concurrent_appends_from_two_handles_get_contiguous_unique_seqs(
    a: Arc<dyn Store>,
    b: Arc<dyn Store>,
) {
    let asst = assistant(a.as_ref(), Some("Welcome")).await;
    let (d, _, _) = a
        .open_dialog(&asst, &GuestId::parse("guest-0002").unwrap())
        .await
        .unwrap();
    let tasks = (0..40).map(|i| {
        let store = if i % 2 == 0 { a.clone() } else { b.clone() };
        tokio::spawn(async move {
            store
                .append_message(message(d.id, &format!("m{i}"), None, false))
                .await
                .unwrap()
        })
    });
    let mut seqs: Vec<u64> = futures_util::future::join_all(tasks)
        .await
        .into_iter()
        .map(|r| r.unwrap().event.seq.0)
        .collect();
    seqs.sort();
    assert_eq!(seqs, (2..=41).collect::<Vec<_>>());
    assert_eq!(a.dialog(d.id).await.unwrap().unwrap().last_seq, Seq(41));
}

async fn a_client_msg_id_is_stored_once_per_dialog(store: Arc<dyn Store>, _b: Arc<dyn Store>) {
    let asst = assistant(store.as_ref(), None).await;
    let (d, _, _) = store
        .open_dialog(&asst, &GuestId::parse("guest-0003").unwrap())
        .await
        .unwrap();
    let first = store
        .append_message(message(d.id, "hi", Some("k"), false))
        .await
        .unwrap();
    let second = store
        .append_message(message(d.id, "hi again", Some("k"), false))
        .await
        .unwrap();
    assert!(!first.duplicate && second.duplicate);
    assert_eq!(first.event, second.event);
    // The status read under the write lock comes back with a new message only.
    let seen = first.dialog.unwrap();
    assert_eq!(
        (seen.status, seen.assistant_id),
        (DialogStatus::Ai, asst.id)
    );
    assert!(second.dialog.is_none());
    assert_eq!(store.dialog(d.id).await.unwrap().unwrap().last_seq, Seq(1));
}

/// A `client_msg_id` is one sender's idempotency key: the visitor, each operator, the
/// assistant. Another sender's message with the same key is a message of its own (it
/// was answered with the first sender's event, stored nothing, and for a visitor
/// reusing a note's key ended in a 500); a retry by the same sender still returns its
/// first copy.
async fn a_client_msg_id_is_scoped_to_its_sender(store: Arc<dyn Store>, _b: Arc<dyn Store>) {
    let asst = assistant(store.as_ref(), None).await;
    let (d, _, _) = store
        .open_dialog(&asst, &GuestId::parse("guest-0010").unwrap())
        .await
        .unwrap();
    let ann = op(store.as_ref(), "Ann").await;
    let bob = op(store.as_ref(), "Bob").await;
    let by =
        |who: &replyx_protocol::OperatorRef, text: &str, key: &str, internal: bool| NewMessage {
            sender: Sender::Operator,
            operator: Some(who.clone()),
            ..message(d.id, text, Some(key), internal)
        };
    let visitor = store
        .append_message(message(d.id, "visitor", Some("k"), false))
        .await
        .unwrap();
    let reply = store
        .append_message(by(&ann, "ann", "k", false))
        .await
        .unwrap();
    assert!(!reply.duplicate, "an operator's key is not the visitor's");
    assert_eq!(reply.event.seq, Seq(2));
    let other = store
        .append_message(by(&bob, "bob", "k", false))
        .await
        .unwrap();
    assert!(!other.duplicate, "nor another operator's");
    let retry = store
        .append_message(by(&ann, "again", "k", true))
        .await
        .unwrap();
    assert!(retry.duplicate);
    assert_eq!(
        retry.event, reply.event,
        "a retry returns the sender's own first copy"
    );
    let retry = store
        .append_message(message(d.id, "visitor again", Some("k"), false))
        .await
        .unwrap();
    assert!(retry.duplicate);
    assert_eq!(retry.event, visitor.event);

    let note = store
        .append_message(by(&ann, "note", "n", true))
        .await
        .unwrap();
    let mine = store
        .append_message(message(d.id, "visitor n", Some("n"), false))
        .await
        .unwrap();
    assert!(!mine.duplicate, "a note's key is not the visitor's");
    assert!(mine.event.to_wire(Stream::Visitor).is_some());
    assert_eq!(
        (note.event.seq, mine.event.seq),
        (Seq(4), Seq(5)),
        "each stored once, in order"
    );
    let assistant_says = NewMessage {
        sender: Sender::Assistant,
        ..message(d.id, "bot", Some("n"), false)
    };
    assert!(
        !store
            .append_message(assistant_says)
            .await
            .unwrap()
            .duplicate
    );
    assert_eq!(store.dialog(d.id).await.unwrap().unwrap().last_seq, Seq(6));
}

async fn the_visitor_stream_skips_notes_and_links_prev_seq_over_them(
    store: Arc<dyn Store>,
    _b: Arc<dyn Store>,
) {
    let asst = assistant(store.as_ref(), Some("W")).await;
    let (d, _, _) = store
        .open_dialog(&asst, &GuestId::parse("guest-0004").unwrap())
        .await
        .unwrap();
    store
        .append_message(message(d.id, "note", None, true))
        .await
        .unwrap();
    let after = store
        .append_message(message(d.id, "public", None, false))
        .await
        .unwrap()
        .event;
    assert_eq!((after.seq, after.prev_visitor_seq), (Seq(3), Seq(1)));
    let visitor = store
        .events_since(d.id, Seq(0), 10, Stream::Visitor)
        .await
        .unwrap();
    assert_eq!(visitor.iter().map(|e| e.seq.0).collect::<Vec<_>>(), [1, 3]);
    assert_eq!(after.to_wire(Stream::Visitor).unwrap().prev_seq, Seq(1));
    assert_eq!(after.to_wire(Stream::Admin).unwrap().prev_seq, Seq(2));
    let record = store.dialog(d.id).await.unwrap().unwrap();
    assert_eq!((record.last_seq, record.last_visitor_seq), (Seq(3), Seq(3)));
    store
        .append_message(message(d.id, "note 2", None, true))
        .await
        .unwrap();
    let record = store.dialog(d.id).await.unwrap().unwrap();
    assert_eq!((record.last_seq, record.last_visitor_seq), (Seq(4), Seq(3)));
}

async fn handoff_stores_status_and_notice_atomically_and_guards_conditional_appends(
    store: Arc<dyn Store>,
    _b: Arc<dyn Store>,
) {
    let asst = assistant(store.as_ref(), None).await;
    let (d, _, _) = store
        .open_dialog(&asst, &GuestId::parse("guest-0005").unwrap())
        .await
        .unwrap();
    let ann = op(store.as_ref(), "Ann").await;
    let stored = store
        .handoff(d.id, HandoffAction::Take(ann.clone()), 5)
        .await
        .unwrap();
    assert_eq!(stored.iter().map(|e| e.seq.0).collect::<Vec<_>>(), [1, 2]);
    let err = store
        .handoff(
            d.id,
            HandoffAction::Take(op(store.as_ref(), "Bob").await),
            5,
        )
        .await
        .unwrap_err();
    assert!(matches!(
        err,
        StoreError::Handoff(HandoffError::AlreadyTaken)
    ));
    assert!(store
        .handoff(d.id, HandoffAction::Take(ann.clone()), 5)
        .await
        .unwrap()
        .is_empty());
    let visitor = store
        .append_message(message(d.id, "to the operator", None, false))
        .await
        .unwrap();
    assert_eq!(visitor.dialog.unwrap().status, DialogStatus::Operator);
    assert_eq!(visitor.event.seq, Seq(3));
    let bot = NewMessage {
        require_status: Some(DialogStatus::Ai),
        sender: Sender::Assistant,
        ..message(d.id, "late bot", None, false)
    };
    assert!(matches!(
        store.append_message(bot).await,
        Err(StoreError::StatusChanged)
    ));
    assert_eq!(
        store.dialog(d.id).await.unwrap().unwrap().last_seq,
        Seq(3),
        "nothing stored"
    );
    store
        .handoff(d.id, HandoffAction::Close(ann), 5)
        .await
        .unwrap();
    assert!(matches!(
        store.append_message(message(d.id, "x", None, false)).await,
        Err(StoreError::DialogClosed)
    ));
    let (next, _, created) = store
        .open_dialog(&asst, &GuestId::parse("guest-0005").unwrap())
        .await
        .unwrap();
    assert!(
        created && next.id != d.id,
        "a closed dialog is not reopened"
    );
}

async fn read_marks_only_move_forward_and_never_past_the_log(
    store: Arc<dyn Store>,
    _b: Arc<dyn Store>,
) {
    let asst = assistant(store.as_ref(), Some("W")).await;
    let (d, _, _) = store
        .open_dialog(&asst, &GuestId::parse("guest-0006").unwrap())
        .await
        .unwrap();
    assert_eq!(
        store
            .mark_read(d.id, Reader::Visitor, Seq(9))
            .await
            .unwrap(),
        Seq(1)
    );
    assert_eq!(
        store
            .mark_read(d.id, Reader::Visitor, Seq(0))
            .await
            .unwrap(),
        Seq(1)
    );
    assert_eq!(
        store
            .mark_read(d.id, Reader::Operator, Seq(0))
            .await
            .unwrap(),
        Seq(0)
    );
    let summary = store.dialog_summary(d.id).await.unwrap().unwrap();
    assert_eq!(
        summary.unread_count, 0,
        "the welcome is not a visitor message"
    );
    store
        .append_message(message(d.id, "hello", None, false))
        .await
        .unwrap();
    assert_eq!(
        store
            .dialog_summary(d.id)
            .await
            .unwrap()
            .unwrap()
            .unread_count,
        1
    );
    store
        .mark_read(d.id, Reader::Operator, Seq(2))
        .await
        .unwrap();
    assert_eq!(
        store
            .dialog_summary(d.id)
            .await
            .unwrap()
            .unwrap()
            .unread_count,
        0
    );
}

async fn the_change_feed_returns_only_other_processes_rows_in_order(
    a: Arc<dyn Store>,
    b: Arc<dyn Store>,
) {
    let asst = assistant(a.as_ref(), Some("W")).await;
    let start = b.change_cursor().await.unwrap();
    let (d, _, _) = a
        .open_dialog(&asst, &GuestId::parse("guest-0007").unwrap())
        .await
        .unwrap();
    a.append_message(message(d.id, "from a", None, false))
        .await
        .unwrap();
    b.append_message(message(d.id, "from b", None, false))
        .await
        .unwrap();
    let typing = Signal {
        dialog_id: d.id,
        body: SignalBody::Typing {
            actor: TypingActor::Visitor,
            state: TypingState::Start,
        },
    };
    a.append_signal(&typing).await.unwrap();

    let seen_by_b = changes_when(b.as_ref(), start, 100, |c| {
        c.events.len() >= 2 && !c.signals.is_empty()
    })
    .await;
    assert_eq!(
        seen_by_b.events.iter().map(|e| e.seq.0).collect::<Vec<_>>(),
        [1, 2],
        "b's own row is skipped"
    );
    assert_eq!(seen_by_b.signals, vec![typing]);
    let again = b.changes_since(seen_by_b.cursor, 100).await.unwrap();
    assert!(again.events.is_empty() && again.signals.is_empty());
    let seen_by_a = changes_when(a.as_ref(), start, 100, |c| !c.events.is_empty()).await;
    assert_eq!(
        seen_by_a.events.iter().map(|e| e.seq.0).collect::<Vec<_>>(),
        [3]
    );
    assert_eq!(
        a.prune_signals(chrono::Utc::now() + chrono::TimeDelta::seconds(1))
            .await
            .unwrap(),
        1
    );
}

/// A full page of either table says more may follow, so a reader reads on at once; a
/// short page of both says it is drained.
async fn the_change_feed_says_when_a_page_was_full(a: Arc<dyn Store>, b: Arc<dyn Store>) {
    let asst = assistant(a.as_ref(), None).await;
    let start = b.change_cursor().await.unwrap();
    let (d, _, _) = a
        .open_dialog(&asst, &GuestId::parse("guest-0009").unwrap())
        .await
        .unwrap();
    for i in 0..3 {
        a.append_message(message(d.id, &format!("m{i}"), None, false))
            .await
            .unwrap();
    }
    let page = changes_when(b.as_ref(), start, 2, |c| c.events.len() == 2).await;
    assert!(page.more, "two of three event rows: a full page");
    let rest = changes_when(b.as_ref(), page.cursor, 2, |c| !c.events.is_empty()).await;
    assert_eq!(rest.events.len(), 1);
    assert!(!rest.more, "one event row and no signal row: drained");
    let typing = Signal {
        dialog_id: d.id,
        body: SignalBody::Typing {
            actor: TypingActor::Operator,
            state: TypingState::Stop,
        },
    };
    a.append_signal(&typing).await.unwrap();
    a.append_signal(&typing).await.unwrap();
    let signals = changes_when(b.as_ref(), rest.cursor, 2, |c| c.signals.len() == 2).await;
    assert_eq!((signals.events.len(), signals.signals.len()), (0, 2));
    assert!(signals.more, "a full page of signals alone");
}

/// A page of the reader's own rows is still a page: nothing of it is returned, the
/// cursor moves past it, and a full one says more may follow. (A process alone on its
/// file reads only its own rows; the page is counted in the store, not by returning
/// them.)
async fn the_change_feed_pages_over_the_readers_own_rows(a: Arc<dyn Store>, b: Arc<dyn Store>) {
    let asst = assistant(a.as_ref(), None).await;
    let start = b.change_cursor().await.unwrap();
    let (d, _, _) = b
        .open_dialog(&asst, &GuestId::parse("guest-0010").unwrap())
        .await
        .unwrap();
    for i in 0..3 {
        b.append_message(message(d.id, &format!("own {i}"), None, false))
            .await
            .unwrap();
    }
    // PostgreSQL's feed may show b's rows a moment late (see `changes_when`).
    let own = changes_when(b.as_ref(), start, 2, |c| c.more).await;
    assert!(own.events.is_empty(), "{:?}", own.events);
    assert!(own.more, "two of b's three rows: a full page");
    // Had the cursor stayed before b's rows, the next page would be the same full one.
    let rest = changes_when(b.as_ref(), own.cursor, 2, |c| c.cursor != own.cursor).await;
    assert!(
        rest.events.is_empty() && !rest.more,
        "the third row, then drained"
    );

    a.append_message(message(d.id, "from a", None, false))
        .await
        .unwrap();
    let theirs = changes_when(b.as_ref(), rest.cursor, 2, |c| !c.events.is_empty()).await;
    assert_eq!(
        theirs.events.iter().map(|e| e.seq.0).collect::<Vec<_>>(),
        [4],
        "only a's row, after b's three"
    );
}

async fn trimming_keeps_the_newest_events_and_the_seq_counter(
    store: Arc<dyn Store>,
    _b: Arc<dyn Store>,
) {
    let asst = assistant(store.as_ref(), None).await;
    let (d, _, _) = store
        .open_dialog(&asst, &GuestId::parse("guest-0008").unwrap())
        .await
        .unwrap();
    for i in 0..10 {
        store
            .append_message(message(d.id, &format!("m{i}"), None, false))
            .await
            .unwrap();
    }
    assert_eq!(store.trim_events(d.id, 3).await.unwrap(), 7);
    let left = store
        .events_since(d.id, Seq(0), 100, Stream::Admin)
        .await
        .unwrap();
    assert_eq!(left.iter().map(|e| e.seq.0).collect::<Vec<_>>(), [8, 9, 10]);
    let next = store
        .append_message(message(d.id, "after", None, false))
        .await
        .unwrap();
    assert_eq!(next.event.seq, Seq(11));
}

/// Read marks are shown to visitors in their own stream's numbering: the newest
/// visitor-visible seq at or below the mark, never a seq that counts internal notes.
async fn a_position_maps_to_the_newest_visitor_seq_at_or_below_it(
    store: Arc<dyn Store>,
    _b: Arc<dyn Store>,
) {
    let asst = assistant(store.as_ref(), Some("W")).await;
    let (d, _, _) = store
        .open_dialog(&asst, &GuestId::parse("guest-0009").unwrap())
        .await
        .unwrap();
    // 1 welcome, 2 visitor, 3 and 4 notes, 5 reply, 6 note.
    store
        .append_message(message(d.id, "hello", None, false))
        .await
        .unwrap();
    for internal in [true, true, false, true] {
        store
            .append_message(message(d.id, "op", None, internal))
            .await
            .unwrap();
    }
    let mut mapped = Vec::new();
    for seq in 0..=8 {
        mapped.push(store.visitor_position(d.id, Seq(seq)).await.unwrap().0);
    }
    assert_eq!(mapped, [0, 1, 2, 2, 2, 5, 5, 5, 5]);
    assert!(matches!(
        store
            .visitor_position(replyx_protocol::DialogId::new(), Seq(1))
            .await,
        Err(StoreError::NotFound)
    ));
}

backend_suite!(sqlite = crate::support::sqlite_pair, postgres = crate::support::pg_pair;
    a_new_dialog_stores_its_welcome_as_seq_1_and_a_reload_adds_nothing,
    concurrent_appends_from_two_handles_get_contiguous_unique_seqs,
    a_client_msg_id_is_stored_once_per_dialog,
    a_client_msg_id_is_scoped_to_its_sender,
    the_visitor_stream_skips_notes_and_links_prev_seq_over_them,
    handoff_stores_status_and_notice_atomically_and_guards_conditional_appends,
    read_marks_only_move_forward_and_never_past_the_log,
    the_change_feed_returns_only_other_processes_rows_in_order,
    the_change_feed_says_when_a_page_was_full,
    the_change_feed_pages_over_the_readers_own_rows,
    trimming_keeps_the_newest_events_and_the_seq_counter,
    a_position_maps_to_the_newest_visitor_seq_at_or_below_it,
);
