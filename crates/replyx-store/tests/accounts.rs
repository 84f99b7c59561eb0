//! Operator accounts and sessions in the store: roles and status, sessions that end,
//! and socket tickets that open at most one socket, whichever process presents them.

#[macro_use]
mod support;
use chrono::{Duration, Utc};
use replyx_core::{AccountStatus, NewOperator, NewSession, OperatorPatch, Role, Store};
use replyx_protocol::SessionId;
use std::sync::Arc;

async fn operator(store: &dyn Store, email: &str, role: Role) -> replyx_core::Operator {
    store
        .create_operator(NewOperator {
            email: email.into(),
            name: "Op".into(),
            password_hash: "hash-1".into(),
            role,
        })
        .await
        .unwrap()
}

async fn session(store: &dyn Store, operator: &replyx_core::Operator) -> SessionId {
    let id = SessionId::new();
    store
        .create_session(NewSession {
            id,
            operator: operator.id,
            expires_at: Utc::now() + Duration::hours(1),
        })
        .await
        .unwrap();
    id
}

async fn operators_have_roles_and_status_and_removed_ones_are_not_listed(
    a: Arc<dyn Store>,
    b: Arc<dyn Store>,
) {
    let admin = operator(a.as_ref(), "admin@example.test", Role::Admin).await;
    let agent = operator(a.as_ref(), "agent@example.test", Role::Agent).await;
    assert_eq!(
        (admin.role, admin.status),
        (Role::Admin, AccountStatus::Active)
    );
    let changed = b
        .update_operator(
            agent.id,
            OperatorPatch {
                name: Some("Renamed".into()),
                role: Some(Role::Admin),
                status: Some(AccountStatus::Disabled),
                password_hash: Some("hash-2".into()),
                max_dialogs: None,
            },
        )
        .await
        .unwrap();
    assert_eq!(
        (changed.name.as_str(), changed.role, changed.status),
        ("Renamed", Role::Admin, AccountStatus::Disabled)
    );
    assert_eq!(
        a.operator_password_hash(agent.id).await.unwrap().as_deref(),
        Some("hash-2")
    );
    let listed: Vec<_> = a.list_operators().await.unwrap();
    assert_eq!(listed.len(), 2);
    b.update_operator(
        agent.id,
        OperatorPatch {
            status: Some(AccountStatus::Removed),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    let listed: Vec<_> = a.list_operators().await.unwrap();
    assert_eq!(listed.iter().map(|o| o.id).collect::<Vec<_>>(), [admin.id]);
    // A removed operator cannot be changed back, and has no password to check.
    assert!(matches!(
        a.update_operator(
            agent.id,
            OperatorPatch {
                status: Some(AccountStatus::Active),
                ..Default::default()
            },
        )
        .await,
        Err(replyx_core::StoreError::NotFound)
    ));
    assert_eq!(a.operator_password_hash(agent.id).await.unwrap(), None);
}

async fn sessions_end_one_at_a_time_or_all_but_one(a: Arc<dyn Store>, b: Arc<dyn Store>) {
    let op = operator(a.as_ref(), "ann@example.test", Role::Agent).await;
    let [one, two, three] = [
        session(a.as_ref(), &op).await,
        session(a.as_ref(), &op).await,
        session(a.as_ref(), &op).await,
    ];
    let now = Utc::now();
    assert!(b.session(one).await.unwrap().unwrap().is_live(now));
    assert!(b.session(SessionId::new()).await.unwrap().is_none());

    assert!(b.revoke_session(one).await.unwrap());
    assert!(!b.revoke_session(one).await.unwrap(), "already ended");
    assert!(!a.session(one).await.unwrap().unwrap().is_live(now));

    assert_eq!(a.revoke_sessions(op.id, Some(three)).await.unwrap(), 1);
    assert!(!b.session(two).await.unwrap().unwrap().is_live(now));
    assert!(b.session(three).await.unwrap().unwrap().is_live(now));

    // Disabling the operator makes the remaining session unusable without revoking it.
    a.update_operator(
        op.id,
        OperatorPatch {
            status: Some(AccountStatus::Disabled),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    let record = b.session(three).await.unwrap().unwrap();
    assert!(!record.revoked);
    assert!(!record.is_live(now));
}

async fn a_ticket_opens_one_socket_on_any_process_and_only_before_it_expires(
    a: Arc<dyn Store>,
    b: Arc<dyn Store>,
) {
    let op = operator(a.as_ref(), "ann@example.test", Role::Agent).await;
    let sid = session(a.as_ref(), &op).await;
    a.create_ticket("ticket-hash-1", sid, Utc::now() + Duration::seconds(30))
        .await
        .unwrap();
    // Twenty takers at once, on two handles: exactly one gets the session.
    let takers = (0..20).map(|i| {
        let store = if i % 2 == 0 { a.clone() } else { b.clone() };
        tokio::spawn(async move { store.take_ticket("ticket-hash-1").await.unwrap() })
    });
    let won: Vec<_> = futures_util::future::join_all(takers)
        .await
        .into_iter()
        .filter_map(Result::unwrap)
        .collect();
    assert_eq!(won, [sid]);

    a.create_ticket("ticket-hash-2", sid, Utc::now() - Duration::seconds(1))
        .await
        .unwrap();
    assert_eq!(
        b.take_ticket("ticket-hash-2").await.unwrap(),
        None,
        "expired"
    );
    assert_eq!(b.take_ticket("never-issued").await.unwrap(), None);
}

async fn sessions_that_ended_a_week_ago_are_pruned_at_the_next_login(
    a: Arc<dyn Store>,
    b: Arc<dyn Store>,
) {
    let op = operator(a.as_ref(), "ann@example.test", Role::Agent).await;
    let (old, recent) = (SessionId::new(), SessionId::new());
    for (id, days) in [(old, 8), (recent, 6)] {
        a.create_session(NewSession {
            id,
            operator: op.id,
            expires_at: Utc::now() - Duration::days(days),
        })
        .await
        .unwrap();
    }
    // The old one was pruned by the second insert already; one more login changes nothing.
    session(b.as_ref(), &op).await;
    assert!(
        a.session(old).await.unwrap().is_none(),
        "a week past its end"
    );
    assert!(a.session(recent).await.unwrap().is_some(), "not yet a week");
}

backend_suite!(sqlite = crate::support::sqlite_pair, postgres = crate::support::pg_pair;
    operators_have_roles_and_status_and_removed_ones_are_not_listed,
    sessions_end_one_at_a_time_or_all_but_one,
    a_ticket_opens_one_socket_on_any_process_and_only_before_it_expires,
    sessions_that_ended_a_week_ago_are_pruned_at_the_next_login,
);
