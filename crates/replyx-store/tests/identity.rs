//! Visitor identity in the store: identity keys per assistant, one guest id per
//! verified user (the same from any handle, any number of times, at once), verified
//! visitors shown with their dialogs, a guest's dialogs without internal notes in their
//! previews, and the identity mode kept with the assistant.

#[macro_use]
mod support;
use chrono::Utc;
use replyx_core::{AssistantPatch, IdentityKey, IdentityMode, Store, StoreError};
use replyx_protocol::{GuestId, Sender, VisitorIdentity};
use std::sync::Arc;
use support::{assistant, message};

fn key(kid: &str) -> IdentityKey {
    IdentityKey {
        kid: kid.into(),
        secret: format!("secret-of-{kid}-0123456789abcdef0123456789"),
        created_at: chrono::SubsecRound::trunc_subsecs(Utc::now(), 6),
    }
}

fn user(id: &str, name: &str) -> VisitorIdentity {
    VisitorIdentity {
        user_id: id.into(),
        name: Some(name.into()),
        email: Some(format!("{id}@shop.example")),
    }
}

/// Keys belong to one assistant: listed oldest first with their secrets, a second key
/// with the same id is a conflict, another assistant's list is its own, a removed key
/// is gone, and an unknown assistant gets none.
async fn identity_keys_are_per_assistant_unique_by_id_and_removable(
    a: Arc<dyn Store>,
    b: Arc<dyn Store>,
) {
    let shop = assistant(a.as_ref(), None).await;
    let other = assistant(a.as_ref(), None).await;
    a.add_identity_key(shop.id, key("k1")).await.unwrap();
    b.add_identity_key(shop.id, key("k2")).await.unwrap();
    a.add_identity_key(other.id, key("k1")).await.unwrap();
    assert!(matches!(
        b.add_identity_key(shop.id, key("k1")).await,
        Err(StoreError::Conflict(_))
    ));
    assert!(matches!(
        a.add_identity_key(replyx_protocol::AssistantId::new(), key("k9"))
            .await,
        Err(StoreError::NotFound)
    ));
    let keys = b.identity_keys(shop.id).await.unwrap();
    assert_eq!(
        keys.iter().map(|k| k.kid.as_str()).collect::<Vec<_>>(),
        ["k1", "k2"]
    );
    assert_eq!(keys[0], key("k1").clone_with(keys[0].created_at));
    assert!(a.remove_identity_key(shop.id, "k1").await.unwrap());
    assert!(!a.remove_identity_key(shop.id, "k1").await.unwrap());
    let left: Vec<_> = b.identity_keys(shop.id).await.unwrap();
    assert_eq!(left.len(), 1);
    assert_eq!(left[0].kid, "k2");
    assert_eq!(
        b.identity_keys(other.id).await.unwrap().len(),
        1,
        "the other assistant's own key stays"
    );
}

trait CloneWith {
    fn clone_with(self, at: chrono::DateTime<Utc>) -> Self;
}

impl CloneWith for IdentityKey {
    fn clone_with(self, at: chrono::DateTime<Utc>) -> Self {
        IdentityKey {
            created_at: at,
            ..self
        }
    }
}

/// A verified user is one guest of an assistant: the same guest id on every call from
/// either handle (two devices at once included), a different one for another user or
/// another assistant, never the id an anonymous visitor could have chosen; the name
/// and e-mail are the last ones signed.
async fn a_verified_user_is_one_guest_per_assistant_on_every_device(
    a: Arc<dyn Store>,
    b: Arc<dyn Store>,
) {
    let shop = assistant(a.as_ref(), None).await;
    let other = assistant(a.as_ref(), None).await;
    let at_once = futures_util::future::join_all((0..8).map(|i| {
        let store = if i % 2 == 0 { a.clone() } else { b.clone() };
        async move {
            store
                .identify_visitor(shop.id, &user("u-1", "Ann"))
                .await
                .unwrap()
        }
    }))
    .await;
    let guest = at_once[0].clone();
    assert!(at_once.iter().all(|g| *g == guest), "{at_once:?}");
    assert!(guest.as_str().starts_with("v-") && guest.as_str().len() > 30);
    let renamed = b
        .identify_visitor(shop.id, &user("u-1", "Ann Smith"))
        .await
        .unwrap();
    assert_eq!(renamed, guest);
    assert_eq!(
        a.verified_visitor(shop.id, &guest).await.unwrap(),
        Some(user("u-1", "Ann Smith"))
    );
    let someone_else = a
        .identify_visitor(shop.id, &user("u-2", "Bob"))
        .await
        .unwrap();
    let elsewhere = a
        .identify_visitor(other.id, &user("u-1", "Ann"))
        .await
        .unwrap();
    assert_ne!(someone_else, guest);
    assert_ne!(elsewhere, guest);
    assert_eq!(a.verified_visitor(other.id, &guest).await.unwrap(), None);
    let anonymous = GuestId::parse("anon-guest-1").unwrap();
    assert_eq!(a.verified_visitor(shop.id, &anonymous).await.unwrap(), None);
}

/// The dialogs of a verified guest carry the identity (operators see who it is);
/// anonymous ones carry none. A guest's dialogs are its own, newest first, closed ones
/// included, and their previews never show an internal note.
async fn a_guests_dialogs_are_listed_with_identity_and_visitor_previews(
    a: Arc<dyn Store>,
    b: Arc<dyn Store>,
) {
    let shop = assistant(a.as_ref(), Some("Welcome")).await;
    let guest = a
        .identify_visitor(shop.id, &user("u-7", "Cleo"))
        .await
        .unwrap();
    let (first, _, _) = a.open_dialog(&shop, &guest).await.unwrap();
    assert_eq!(first.visitor, Some(user("u-7", "Cleo")));
    a.append_message(message(first.id, "my order?", None, false))
        .await
        .unwrap();
    a.append_message(message(first.id, "secret note", None, true))
        .await
        .unwrap();
    let ann = support::op(a.as_ref(), "ann").await;
    a.handoff(first.id, replyx_core::HandoffAction::Close(ann), 10)
        .await
        .unwrap();
    let (second, _, created) = b.open_dialog(&shop, &guest).await.unwrap();
    assert!(created, "the first one is closed");
    b.append_message(message(second.id, "again", None, false))
        .await
        .unwrap();
    let anonymous = GuestId::parse("anon-guest-7").unwrap();
    let (stranger, _, _) = a.open_dialog(&shop, &anonymous).await.unwrap();
    assert_eq!(stranger.visitor, None);

    let listed = b.guest_dialogs(shop.id, &guest, 10).await.unwrap();
    assert_eq!(
        listed.iter().map(|g| g.dialog.id).collect::<Vec<_>>(),
        [second.id, first.id]
    );
    let previews: Vec<_> = listed
        .iter()
        .map(|g| g.last_message.as_ref().map(|m| m.text.as_str()))
        .collect();
    // The first dialog's newest visible message is the close notice, never the note.
    assert_eq!(previews[0], Some("again"));
    assert_ne!(previews[1], Some("secret note"));
    assert_eq!(
        listed[1].last_message.as_ref().unwrap().sender,
        Sender::System
    );
    assert_eq!(b.guest_dialogs(shop.id, &guest, 1).await.unwrap().len(), 1);
    let summary = a.dialog_summary(second.id).await.unwrap().unwrap();
    assert_eq!(summary.visitor, Some(user("u-7", "Cleo")));
    let row = a
        .list_dialogs(replyx_core::DialogQuery {
            limit: 10,
            ..Default::default()
        })
        .await
        .unwrap();
    assert!(row.iter().any(|d| d.id == second.id && d.visitor.is_some()));
    assert!(row
        .iter()
        .any(|d| d.id == stranger.id && d.visitor.is_none()));
}

/// The identity mode is stored with the assistant: `optional` unless created or
/// patched to `enforce`, and a patch that does not name it leaves it.
async fn the_identity_mode_is_kept_with_the_assistant(a: Arc<dyn Store>, b: Arc<dyn Store>) {
    let shop = assistant(a.as_ref(), None).await;
    assert_eq!(shop.identity_mode, IdentityMode::Optional);
    let enforced = a
        .update_assistant(
            shop.id,
            AssistantPatch {
                identity_mode: Some(IdentityMode::Enforce),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(enforced.identity_mode, IdentityMode::Enforce);
    let renamed = b
        .update_assistant(
            shop.id,
            AssistantPatch {
                name: Some("Shop".into()),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(renamed.identity_mode, IdentityMode::Enforce);
    assert_eq!(
        b.assistant(shop.id).await.unwrap().unwrap().identity_mode,
        IdentityMode::Enforce
    );
}

backend_suite!(sqlite = crate::support::sqlite_pair, postgres = crate::support::pg_pair;
    identity_keys_are_per_assistant_unique_by_id_and_removable,
    a_verified_user_is_one_guest_per_assistant_on_every_device,
    a_guests_dialogs_are_listed_with_identity_and_visitor_previews,
    the_identity_mode_is_kept_with_the_assistant,
);
