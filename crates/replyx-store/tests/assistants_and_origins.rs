//! The store's other promises: the assistants' table, and a handle that writes as
//! another process (what the delivery canary's round trip rests on).

#[macro_use]
mod support;
use replyx_core::bus::{Signal, SignalBody};
use replyx_core::{AssistantPatch, Store};
use replyx_protocol::{GuestId, TypingActor, TypingState};
use std::sync::Arc;
use support::{assistant, changes_when, message};

/// Every assistant is listed, and a patch changes only what it names: an absent field
/// stays, `null` clears, a value replaces.
async fn assistants_are_listed_and_a_patch_changes_only_what_it_names(
    a: Arc<dyn Store>,
    _b: Arc<dyn Store>,
) {
    let first = assistant(a.as_ref(), Some("Hello")).await;
    let second = assistant(a.as_ref(), None).await;
    let mut listed: Vec<_> = a
        .list_assistants()
        .await
        .unwrap()
        .into_iter()
        .map(|x| x.id)
        .collect();
    listed.sort();
    let mut want = vec![first.id, second.id];
    want.sort();
    assert_eq!(listed, want);

    let patch = |json: serde_json::Value| serde_json::from_value::<AssistantPatch>(json).unwrap();
    let renamed = a
        .update_assistant(first.id, patch(serde_json::json!({"name": "Renamed"})))
        .await
        .unwrap();
    assert_eq!(renamed.name, "Renamed");
    assert_eq!(
        renamed.welcome_message.as_deref(),
        Some("Hello"),
        "an absent field stays as it was"
    );
    let cleared = a
        .update_assistant(
            first.id,
            patch(serde_json::json!({"welcome_message": null})),
        )
        .await
        .unwrap();
    assert_eq!(cleared.welcome_message, None, "null clears");
    let set = a
        .update_assistant(
            first.id,
            patch(serde_json::json!({"fallback_reply": "Later"})),
        )
        .await
        .unwrap();
    assert_eq!(set.fallback_reply.as_deref(), Some("Later"));
    assert_eq!(a.assistant(first.id).await.unwrap(), Some(set));
}

/// A handle made with `with_origin` writes as another process: its rows are in this
/// process's change feed (the canary's round trip depends on it), and this process's
/// own rows are not.
async fn a_handle_under_another_origin_writes_as_another_process(
    own: Arc<dyn Store>,
    peer: Arc<dyn Store>,
) {
    let asst = assistant(own.as_ref(), None).await;
    let start = own.change_cursor().await.unwrap();
    let (d, _, _) = own
        .open_dialog(&asst, &GuestId::parse("guest-0042").unwrap())
        .await
        .unwrap();
    let typing = |actor| Signal {
        dialog_id: d.id,
        body: SignalBody::Typing {
            actor,
            state: TypingState::Start,
        },
    };
    own.append_signal(&typing(TypingActor::Visitor))
        .await
        .unwrap();
    peer.append_signal(&typing(TypingActor::Operator))
        .await
        .unwrap();
    peer.append_message(message(d.id, "from the peer", None, false))
        .await
        .unwrap();
    own.append_message(message(d.id, "own", None, false))
        .await
        .unwrap();
    let seen = changes_when(own.as_ref(), start, 100, |c| {
        !c.events.is_empty() && !c.signals.is_empty()
    })
    .await;
    assert_eq!(seen.signals, vec![typing(TypingActor::Operator)]);
    assert_eq!(
        seen.events.iter().map(|e| e.seq.0).collect::<Vec<_>>(),
        [1],
        "only the peer's message"
    );
}

backend_suite!(sqlite = crate::support::sqlite_pair, postgres = crate::support::pg_pair;
    assistants_are_listed_and_a_patch_changes_only_what_it_names,
);

mod with_origin {
    backend_suite!(
        sqlite = crate::support::sqlite_origin_pair,
        postgres = crate::support::pg_origin_pair;
        a_handle_under_another_origin_writes_as_another_process,
    );
}
