//! Appending a whole group-commit batch of messages in one write transaction, on the
//! writer's thread (see `group_commit`), with SQLite called directly (rusqlite) on the
//! write connection.
//!
//! A guarded `INSERT … SELECT … RETURNING` per message made SQLite build two temporary
//! B-trees per message (the row triggers make it materialise the SELECT; RETURNING
//! collects its rows). Inside the batch's `BEGIN IMMEDIATE` nothing else can write, so
//! the guard is read once for the whole batch instead:
//!
//! 1. `BEGIN IMMEDIATE`, then the positions and status of each dialog of the batch and
//!    the stored event of each `client_msg_id` it carries, one indexed lookup each;
//! 2. the seqs, duplicates and refusals worked out here, in order ([`plan`]);
//! 3. one multi-row INSERT of the accepted rows, and the `COMMIT`.
//!
//! Called directly, a statement costs no hop to another thread, so the guard is read
//! with small indexed lookups (before, the dialogs travelled as one JSON array to
//! spare sqlx's copies of each value). The statements are prepared once per stretch
//! the writer holds the connection (see `group_commit`). The
//! `events_advance_dialog` trigger moves each dialog's positions row by row, so the
//! dialog rows end where one-statement-per-message appends left them. On an error the
//! transaction may still be open: the caller rolls it back (see `group_commit`).

use super::borrowed::sqlite_error;
use crate::records::{self, new_message_payload, now, refusal_reason, sender_key};
use replyx_core::{Appended, AppendedTo, NewMessage, StoreError, StoredEvent};
use replyx_protocol::{AssistantId, DialogId, DialogStatus, EventPayload, Seq};
use rusqlite::Connection;
use std::collections::HashMap;
use std::sync::OnceLock;

/// A dialog as the batch's guard sees it, moved along as the plan accepts messages.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Position {
    pub(crate) status: DialogStatus,
    pub(crate) assistant_id: AssistantId,
    pub(crate) last_seq: u64,
    pub(crate) last_visitor_seq: u64,
}

/// A retry's identity: one sender's key in one dialog (see `records::sender_key`).
type RetryKey = (DialogId, String, String);

/// One row the batch writes.
pub(crate) struct Row {
    dialog_id: String,
    seq: i64,
    prev_visitor_seq: i64,
    internal: bool,
    sender: &'static str,
    client_msg_id: Option<String>,
    payload: String,
    sender_key: String,
}

/// Appends `messages` in one write transaction that it opens and commits, one result
/// per message in order: the stored event, the first copy of a retried
/// `client_msg_id` (stored before or earlier in the batch), or the refusal (no such
/// dialog, closed, another status than required). On any other error the transaction
/// may still be open: the caller must roll it back.
pub(crate) fn append_messages(
    db: &Connection,
    messages: &[&NewMessage],
    origin: &str,
) -> Result<Vec<Result<Appended, StoreError>>, StoreError> {
    let (positions, stored) = begin_and_read_guard(db, messages)?;
    let (results, rows) = plan(messages, positions, stored);
    insert_and_commit(db, &rows, origin)?;
    Ok(results)
}

/// Each dialog of a batch as the guard read it; `None` for one that does not exist (so
/// it is looked up once however many messages it has).
type Positions = HashMap<DialogId, Option<Position>>;

/// What the guard needs, read in the statements that open the transaction.
type Guard = (Positions, HashMap<RetryKey, StoredEvent>);

/// One dialog's guard: `?1` its id.
const DIALOG_SQL: &str =
    "SELECT status, assistant_id, last_seq, last_visitor_seq FROM dialogs WHERE id = ?1";

/// The stored event a retried key repeats, through the `events_client_msg_id` index:
/// `?1` the dialog, `?2` the sender's key, `?3` the `client_msg_id`.
const COPY_SQL: &str = "SELECT seq, prev_visitor_seq, payload FROM events \
    WHERE dialog_id = ?1 AND sender_key = ?2 AND client_msg_id = ?3";

/// Opens the write transaction and reads the batch's dialogs (a missing one has no
/// entry) and the stored events its keys repeat. Values are read in place (borrowed
/// from SQLite's row, not copied out first).
fn begin_and_read_guard(db: &Connection, messages: &[&NewMessage]) -> Result<Guard, StoreError> {
    run(db, "BEGIN IMMEDIATE")?;
    let mut positions: Positions = HashMap::with_capacity(messages.len());
    let mut dialog = db.prepare_cached(DIALOG_SQL).map_err(sqlite_error)?;
    for m in messages {
        let std::collections::hash_map::Entry::Vacant(slot) = positions.entry(m.dialog_id) else {
            continue;
        };
        let mut found = dialog
            .query([m.dialog_id.to_string()])
            .map_err(sqlite_error)?;
        let position = match found.next().map_err(sqlite_error)? {
            Some(row) => Some(Position {
                status: records::status(text(row, 0)?)?,
                assistant_id: records::parse_id(text(row, 1)?)?,
                last_seq: number(row, 2)?,
                last_visitor_seq: number(row, 3)?,
            }),
            None => None,
        };
        slot.insert(position);
    }
    let mut stored = HashMap::new();
    let mut copy = None;
    for m in messages {
        let Some(key) = &m.client_msg_id else {
            continue;
        };
        let retry = (
            m.dialog_id,
            sender_key(m.sender, m.operator.as_ref()),
            key.clone(),
        );
        if stored.contains_key(&retry) {
            continue;
        }
        // Looked up in the statement cache once per batch, and only when a message
        // carries a key.
        let copy = match &mut copy {
            Some(copy) => copy,
            None => copy.insert(db.prepare_cached(COPY_SQL).map_err(sqlite_error)?),
        };
        let dialog_id = m.dialog_id.to_string();
        let mut found = copy
            .query((&dialog_id, &retry.1, &retry.2))
            .map_err(sqlite_error)?;
        if let Some(row) = found.next().map_err(sqlite_error)? {
            let event = records::event(
                &dialog_id,
                number(row, 0)? as i64,
                number(row, 1)? as i64,
                text(row, 2)?,
            )?;
            stored.insert(retry, event);
        }
    }
    Ok((positions, stored))
}

/// Runs a statement that takes no parameters and returns no rows.
fn run(db: &Connection, sql: &str) -> Result<(), StoreError> {
    db.prepare_cached(sql)
        .and_then(|mut statement| statement.execute([]))
        .map(drop)
        .map_err(sqlite_error)
}

/// Column `i` of `row` as text, borrowed from SQLite.
fn text<'r>(row: &'r rusqlite::Row<'_>, i: usize) -> Result<&'r str, StoreError> {
    row.get_ref(i)
        .and_then(|v| v.as_str().map_err(Into::into))
        .map_err(sqlite_error)
}

/// Column `i` of `row` as a seq (never negative).
fn number(row: &rusqlite::Row<'_>, i: usize) -> Result<u64, StoreError> {
    let n = row.get_ref(i).and_then(|v| v.as_i64().map_err(Into::into));
    n.map_err(sqlite_error)
        .and_then(|n| u64::try_from(n).map_err(|_| StoreError::Backend(format!("corrupt seq {n}"))))
}

/// Decides every message of the batch in order, as one guarded append after another
/// would: a repeated key answers with its first copy (whatever the dialog's status
/// now), a missing, closed or differently held dialog refuses, anything else takes
/// the dialog's next seq. Returns the results and the rows to write.
pub(crate) fn plan(
    messages: &[&NewMessage],
    mut positions: Positions,
    mut stored: HashMap<RetryKey, StoredEvent>,
) -> (Vec<Result<Appended, StoreError>>, Vec<Row>) {
    let mut results = Vec::with_capacity(messages.len());
    let mut rows = Vec::with_capacity(messages.len());
    for m in messages {
        let sender_key = sender_key(m.sender, m.operator.as_ref());
        let retry_key = m
            .client_msg_id
            .as_ref()
            .map(|key| (m.dialog_id, sender_key.clone(), key.clone()));
        if let Some(first) = retry_key.as_ref().and_then(|k| stored.get(k)) {
            results.push(Ok(Appended {
                event: first.clone(),
                duplicate: true,
                dialog: None,
            }));
            continue;
        }
        let Some(position) = positions.get_mut(&m.dialog_id).and_then(Option::as_mut) else {
            results.push(Err(StoreError::NotFound));
            continue;
        };
        let refused = position.status == DialogStatus::Closed
            || m.require_status.is_some_and(|s| s != position.status);
        if refused {
            results.push(Err(refusal_reason(position.status, m.require_status)));
            continue;
        }
        let payload = new_message_payload(m);
        let internal = payload.is_internal();
        let event = StoredEvent {
            dialog_id: m.dialog_id,
            seq: Seq(position.last_seq + 1),
            prev_visitor_seq: Seq(position.last_visitor_seq),
            payload,
        };
        position.last_seq = event.seq.0;
        if !internal {
            position.last_visitor_seq = event.seq.0;
        }
        rows.push(Row {
            dialog_id: m.dialog_id.to_string(),
            seq: event.seq.0 as i64,
            prev_visitor_seq: event.prev_visitor_seq.0 as i64,
            internal,
            sender: m.sender.as_str(),
            client_msg_id: m.client_msg_id.clone(),
            payload: encode(&event.payload),
            sender_key,
        });
        if let Some(key) = retry_key {
            stored.insert(key, event.clone());
        }
        results.push(Ok(Appended {
            event,
            duplicate: false,
            dialog: Some(AppendedTo {
                status: position.status,
                assistant_id: position.assistant_id,
            }),
        }));
    }
    (results, rows)
}

fn encode(payload: &EventPayload) -> String {
    serde_json::to_string(payload).expect("payload serializes")
}

/// The INSERT of `rows` rows (at least one), its text built on the first batch of
/// each size (building all 256 at once cost as much as 25 appends). One statement for
/// the batch, not one per row: each statement inside the transaction opens, fills and
/// closes a statement journal of the pages it changes (the row triggers and the
/// foreign key make SQLite keep one), and under callgrind one INSERT per row cost 30%
/// more per message with 50 writers. A batch holds at most `group_commit::MAX_BATCH`
/// (256) messages: 2,560 parameters, far below SQLite's 32,766 per statement.
fn insert_sql(rows: usize) -> &'static str {
    static SQL: [OnceLock<String>; super::group_commit::MAX_BATCH + 1] =
        [const { OnceLock::new() }; super::group_commit::MAX_BATCH + 1];
    SQL[rows].get_or_init(|| {
        let values = vec!["(?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"; rows].join(", ");
        format!(
            "INSERT INTO events (dialog_id, seq, prev_visitor_seq, internal, \
             sender, client_msg_id, payload, origin, created_at, sender_key) \
             VALUES {values}"
        )
    })
}

/// Writes `rows` in order and commits. A failed INSERT stops before the COMMIT.
fn insert_and_commit(db: &Connection, rows: &[Row], origin: &str) -> Result<(), StoreError> {
    if !rows.is_empty() {
        // As sqlx writes a time (RFC 3339, as many fraction digits as needed): the
        // column holds the same text whichever path wrote it.
        let created_at = now().to_rfc3339_opts(chrono::SecondsFormat::AutoSi, false);
        let mut insert = db
            .prepare_cached(insert_sql(rows.len()))
            .map_err(sqlite_error)?;
        let mut at = 0;
        let mut bind = |value: &dyn rusqlite::ToSql| {
            at += 1;
            insert.raw_bind_parameter(at, value)
        };
        for row in rows {
            bind(&row.dialog_id)
                .and_then(|()| bind(&row.seq))
                .and_then(|()| bind(&row.prev_visitor_seq))
                .and_then(|()| bind(&row.internal))
                .and_then(|()| bind(&row.sender))
                .and_then(|()| bind(&row.client_msg_id))
                .and_then(|()| bind(&row.payload))
                .and_then(|()| bind(&origin))
                .and_then(|()| bind(&created_at))
                .and_then(|()| bind(&row.sender_key))
                .map_err(sqlite_error)?;
        }
        insert.raw_execute().map_err(sqlite_error)?;
    }
    run(db, "COMMIT")
}

#[cfg(test)]
mod tests {
    use super::{insert_sql, plan, Position};
    use replyx_core::{NewMessage, StoreError};
    use replyx_protocol::{DialogId, DialogStatus, Seq};
    use std::collections::HashMap;

    fn open(last_seq: u64, last_visitor_seq: u64) -> Position {
        Position {
            status: DialogStatus::Ai,
            assistant_id: replyx_protocol::AssistantId::new(),
            last_seq,
            last_visitor_seq,
        }
    }

    #[test]
    fn seqs_follow_each_dialog_and_notes_leave_the_visitor_position() {
        let (a, b) = (DialogId::new(), DialogId::new());
        let note = NewMessage {
            internal: true,
            ..NewMessage::visitor(a, "note")
        };
        let batch = [
            NewMessage::visitor(a, "a1"),
            NewMessage::visitor(b, "b1"),
            note,
            NewMessage::visitor(a, "a2"),
        ];
        let positions = HashMap::from([(a, Some(open(4, 3))), (b, Some(open(9, 9)))]);
        let (results, rows) = plan(&batch.iter().collect::<Vec<_>>(), positions, HashMap::new());
        let got: Vec<_> = results
            .iter()
            .map(|r| {
                let e = &r.as_ref().unwrap().event;
                (e.dialog_id, e.seq, e.prev_visitor_seq)
            })
            .collect();
        assert_eq!(
            got,
            [
                (a, Seq(5), Seq(3)),
                (b, Seq(10), Seq(9)),
                (a, Seq(6), Seq(5)),
                (a, Seq(7), Seq(5)),
            ]
        );
        assert_eq!(rows.len(), 4);
        assert!(rows[2].internal);
    }

    #[test]
    fn a_repeat_in_the_batch_answers_with_the_first_and_refusals_write_nothing() {
        let (a, closed, gone) = (DialogId::new(), DialogId::new(), DialogId::new());
        let keyed = NewMessage {
            client_msg_id: Some("k".into()),
            ..NewMessage::visitor(a, "once")
        };
        let bot = NewMessage {
            require_status: Some(DialogStatus::Operator),
            ..NewMessage::visitor(a, "bot reply")
        };
        let batch = [
            keyed.clone(),
            keyed,
            bot,
            NewMessage::visitor(closed, "late"),
            NewMessage::visitor(gone, "nowhere"),
        ];
        let positions = HashMap::from([
            (a, Some(open(0, 0))),
            (
                closed,
                Some(Position {
                    status: DialogStatus::Closed,
                    ..open(2, 2)
                }),
            ),
            (gone, None),
        ]);
        let (results, rows) = plan(&batch.iter().collect::<Vec<_>>(), positions, HashMap::new());
        let first = results[0].as_ref().unwrap();
        let repeat = results[1].as_ref().unwrap();
        assert!(!first.duplicate && repeat.duplicate);
        assert_eq!(first.event, repeat.event);
        assert!(matches!(results[2], Err(StoreError::StatusChanged)));
        assert!(matches!(results[3], Err(StoreError::DialogClosed)));
        assert!(matches!(results[4], Err(StoreError::NotFound)));
        assert_eq!(rows.len(), 1, "only the first copy is written");
    }

    #[test]
    fn the_insert_has_a_row_of_parameters_per_message() {
        assert_eq!(insert_sql(3).matches("(?,").count(), 3);
        assert_eq!(insert_sql(256).matches("(?,").count(), 256);
    }
}
