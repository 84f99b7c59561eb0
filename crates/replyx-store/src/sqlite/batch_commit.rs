//! A group-commit batch committed on the borrowed write connection, with its fallback:
//! when the batch as a whole fails, its appends run again one transaction each, so a
//! message that fails, fails alone (ADR 0007).

use super::message_batch;
use replyx_core::{Appended, NewMessage, StoreError};

/// Appends `messages` in one transaction, falling back to one transaction each when
/// the batch as a whole fails. Returns one result per message, in order. Leaves no
/// transaction open unless its ROLLBACK failed (then `db.is_autocommit()` is false).
pub(crate) fn commit_batch(
    db: &rusqlite::Connection,
    origin: &str,
    messages: &[&NewMessage],
) -> Vec<Result<Appended, StoreError>> {
    match append_together(db, origin, messages) {
        Ok(results) => results,
        // The database is locked or unreachable: one by one, each would wait its own
        // busy timeout for the same answer.
        Err(e @ StoreError::Unavailable(_)) => messages.iter().map(|_| Err(e.clone())).collect(),
        Err(e) => {
            tracing::warn!(error = %e, batch = messages.len(), "group commit failed; appending one by one");
            let mut results = Vec::with_capacity(messages.len());
            for m in messages {
                if !db.is_autocommit() {
                    results.push(Err(e.clone()));
                    continue;
                }
                let alone = append_together(db, origin, &[m]);
                results.push(alone.and_then(|r| r.into_iter().next().expect("one result")));
            }
            results
        }
    }
}

/// One transaction for all of `messages`. A refusal is a per-message result; any other
/// error abandons the transaction, rolled back here.
fn append_together(
    db: &rusqlite::Connection,
    origin: &str,
    messages: &[&NewMessage],
) -> Result<Vec<Result<Appended, StoreError>>, StoreError> {
    message_batch::append_messages(db, messages, origin).inspect_err(|_| {
        // "No transaction is active" needs no ROLLBACK: the BEGIN itself failed, or
        // SQLite already rolled back on its own (a full disk, an I/O error).
        if !db.is_autocommit() {
            let _ = db.execute_batch("ROLLBACK");
        }
    })
}

#[cfg(test)]
mod tests {
    use crate::sqlite::append_fixtures::{commit, msg, store_with_open_and_closed, texts};
    use replyx_core::{NewMessage, Store, StoreError};
    use replyx_protocol::{DialogId, DialogStatus, Seq};

    #[tokio::test]
    async fn refusals_in_a_batch_leave_the_other_appends_committed_in_order() {
        let (store, open, closed, _dir) = store_with_open_and_closed().await;
        let retry_of_first = msg(open, "first, sent twice", Some("k1"));
        let bot_reply = NewMessage {
            require_status: Some(DialogStatus::Operator),
            ..msg(open, "a reply for a status the dialog is not in", None)
        };
        let batch = [
            msg(open, "first, sent twice", Some("k1")),
            retry_of_first,
            msg(closed, "too late", None),
            bot_reply,
            msg(DialogId::new(), "nowhere", None),
            msg(open, "second", Some("k2")),
        ];
        let results = commit(&store, &batch).await;

        let first = results[0].as_ref().unwrap();
        assert!(!first.duplicate);
        assert_eq!(first.event.seq, Seq(1));
        let retry = results[1].as_ref().unwrap();
        assert!(
            retry.duplicate,
            "the retry in the same batch finds the first copy"
        );
        assert_eq!(retry.event.seq, Seq(1));
        assert!(matches!(results[2], Err(StoreError::DialogClosed)));
        assert!(matches!(results[3], Err(StoreError::StatusChanged)));
        assert!(matches!(results[4], Err(StoreError::NotFound)));
        assert_eq!(results[5].as_ref().unwrap().event.seq, Seq(2));
        assert_eq!(
            texts(&store, open).await,
            [(1, "first, sent twice".into()), (2, "second".into())]
        );
        let dialog = store.dialog(open).await.unwrap().unwrap();
        assert_eq!((dialog.last_seq, dialog.last_visitor_seq), (Seq(2), Seq(2)));
    }

    #[tokio::test]
    async fn a_failure_that_undoes_the_batch_is_retried_one_by_one_and_fails_alone() {
        let (store, open, _closed, _dir) = store_with_open_and_closed().await;
        // A database error that rolls back the whole transaction (as a full disk or
        // an I/O error would), raised by one message only.
        sqlx::query(
            "CREATE TRIGGER poison BEFORE INSERT ON events WHEN NEW.payload LIKE '%poison%' \
             BEGIN SELECT RAISE(ROLLBACK, 'poisoned'); END",
        )
        .execute(&store.write)
        .await
        .unwrap();
        let batch = [
            msg(open, "before", None),
            msg(open, "poison", None),
            msg(open, "after", None),
        ];
        let results = commit(&store, &batch).await;

        assert_eq!(results[0].as_ref().unwrap().event.seq, Seq(1));
        assert!(
            matches!(&results[1], Err(StoreError::Backend(e)) if e.contains("poisoned")),
            "{:?}",
            results[1]
        );
        assert_eq!(results[2].as_ref().unwrap().event.seq, Seq(2));
        assert_eq!(
            texts(&store, open).await,
            [(1, "before".into()), (2, "after".into())]
        );
    }
}
