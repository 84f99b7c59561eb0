//! Appending a whole group-commit batch of messages in two round trips to SQLite.
//!
//! sqlx runs each SQLite connection on a thread of its own, so every statement sent on
//! its own costs two thread wake-ups, and a guarded `INSERT … SELECT … RETURNING` per
//! message also made SQLite build two temporary B-trees per message (the row triggers
//! make it materialise the SELECT; RETURNING collects its rows). Inside the batch's
//! `BEGIN IMMEDIATE` nothing else can write, so the guard is read once for the whole
//! batch instead, and statements that need no answer in between travel together:
//!
//! 1. `BEGIN IMMEDIATE`, the positions and status of every dialog in the batch, and
//!    the stored events whose `client_msg_id` the batch repeats: one trip;
//! 2. the seqs, duplicates and refusals worked out here, in order ([`plan`]);
//! 3. one multi-row INSERT of the accepted rows and the `COMMIT`: one trip.
//!
//! The `events_advance_dialog` trigger still moves each dialog's positions row by row,
//! so the dialog rows end where one-statement-per-message appends left them. The
//! transaction is opened and closed by these statements, not by sqlx's `Transaction`
//! (which would cost a trip each for BEGIN and COMMIT): the caller rolls back when an
//! error leaves it open (see `group_commit`).

use super::{backend, rows};
use crate::records::{new_message_payload, now, refusal_reason, sender_key};
use replyx_core::{Appended, AppendedTo, NewMessage, StoreError, StoredEvent};
use replyx_protocol::{AssistantId, DialogId, DialogStatus, EventPayload, Seq};
use sqlx::SqliteConnection;
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
pub(crate) async fn append_messages(
    conn: &mut SqliteConnection,
    messages: &[&NewMessage],
    origin: &str,
) -> Result<Vec<Result<Appended, StoreError>>, StoreError> {
    let (positions, stored) = begin_and_read_guard(conn, messages).await?;
    let (results, rows) = plan(messages, positions, stored);
    insert_and_commit(conn, &rows, origin).await?;
    Ok(results)
}

/// What the guard needs, read in the trip that opens the transaction.
type Guard = (HashMap<DialogId, Position>, HashMap<RetryKey, StoredEvent>);

/// Opens the write transaction and reads the batch's dialogs (a missing one has no
/// entry) and the stored events its keys repeat (through the `events_client_msg_id`
/// index, the batch's keys driving the lookup). The dialogs come back as one JSON
/// array in one value: sqlx copies every value of every row it returns, and as a row
/// each (six values) the guard's rows cost more than its SQL did (a callgrind profile
/// of a 50-writer append: ≈ 10,000 instructions per message). The repeated keys, rare,
/// stay rows; the first column tells the two apart.
async fn begin_and_read_guard(
    conn: &mut SqliteConnection,
    messages: &[&NewMessage],
) -> Result<Guard, StoreError> {
    let mut ids: Vec<String> = messages.iter().map(|m| m.dialog_id.to_string()).collect();
    ids.sort_unstable();
    ids.dedup();
    let keys: Vec<[String; 3]> = messages
        .iter()
        .filter_map(|m| {
            let key = m.client_msg_id.clone()?;
            Some([
                m.dialog_id.to_string(),
                sender_key(m.sender, m.operator.as_ref()),
                key,
            ])
        })
        .collect();
    let found = sqlx::query(GUARD_SQL)
        .bind(serde_json::to_string(&ids).expect("strings serialize"))
        .bind(serde_json::to_string(&keys).expect("strings serialize"))
        .fetch_all(&mut *conn)
        .await
        .map_err(backend)?;
    let mut positions = HashMap::new();
    let mut stored = HashMap::new();
    for row in &found {
        if rows::text(row, "kind")? == "dialogs" {
            positions = parse_positions(&rows::text(row, "positions")?)?;
        } else {
            let event = rows::event(row)?;
            let key = (
                event.dialog_id,
                rows::text(row, "sender_key")?,
                rows::text(row, "client_msg_id")?,
            );
            stored.insert(key, event);
        }
    }
    Ok((positions, stored))
}

/// The guard's dialogs, `[[id, status, assistant_id, last_seq, last_visitor_seq], …]`.
fn parse_positions(json: &str) -> Result<HashMap<DialogId, Position>, StoreError> {
    // Ids and statuses are plain ASCII, never escaped in JSON: borrowed, not copied.
    let found: Vec<(&str, &str, &str, u64, u64)> = serde_json::from_str(json)
        .map_err(|e| StoreError::Backend(format!("the guard's dialogs: {e}")))?;
    found
        .into_iter()
        .map(|(id, status, assistant_id, last_seq, last_visitor_seq)| {
            let position = Position {
                status: crate::records::status(status)?,
                assistant_id: rows::parse_id(assistant_id)?,
                last_seq,
                last_visitor_seq,
            };
            Ok((rows::parse_id(id)?, position))
        })
        .collect()
}

/// The first trip: `?1` the batch's dialog ids, `?2` its `[dialog, sender_key, key]`
/// triples (both JSON arrays). The first SELECT always answers one row (an aggregate).
const GUARD_SQL: &str = "BEGIN IMMEDIATE; \
    SELECT 'dialogs' AS kind, json_group_array(json_array(id, status, assistant_id, \
    last_seq, last_visitor_seq)) AS positions FROM dialogs \
    WHERE id IN (SELECT value FROM json_each(?1)); \
    SELECT 'copy' AS kind, dialog_id, seq, prev_visitor_seq, payload, e.sender_key, \
    e.client_msg_id FROM json_each(?2) j CROSS JOIN events e \
    ON e.dialog_id = j.value ->> 0 AND e.sender_key = j.value ->> 1 \
    AND e.client_msg_id = j.value ->> 2";

/// Decides every message of the batch in order, as one guarded append after another
/// would: a repeated key answers with its first copy (whatever the dialog's status
/// now), a missing, closed or differently held dialog refuses, anything else takes
/// the dialog's next seq. Returns the results and the rows to write.
pub(crate) fn plan(
    messages: &[&NewMessage],
    mut positions: HashMap<DialogId, Position>,
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
        let Some(position) = positions.get_mut(&m.dialog_id) else {
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

/// The second trip: the INSERT of `rows` rows (none: the COMMIT alone), built on the
/// first batch of each size (building all 257 at once cost as much as 25 appends). A
/// batch holds at most `group_commit::MAX_BATCH` (256) messages: 2,560 parameters, far
/// below SQLite's 32,766 per statement. The parameters are anonymous (`?`): sqlx looks
/// up a numbered one (`?NNN`) by name, which SQLite answers by a scan of the
/// statement's parameters, so that binding a batch's shared origin and time once as
/// `?1` and `?2` made binding a 256-row batch cost four times as much.
fn insert_sql(rows: usize) -> &'static str {
    static SQL: [OnceLock<String>; super::group_commit::MAX_BATCH + 1] =
        [const { OnceLock::new() }; super::group_commit::MAX_BATCH + 1];
    SQL[rows].get_or_init(|| match rows {
        0 => "COMMIT".to_owned(),
        n => {
            let values = vec!["(?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"; n].join(", ");
            format!(
                "INSERT INTO events (dialog_id, seq, prev_visitor_seq, internal, \
                 sender, client_msg_id, payload, origin, created_at, sender_key) \
                 VALUES {values}; COMMIT"
            )
        }
    })
}

/// Writes `rows` in order and commits. A failed INSERT stops before the COMMIT.
async fn insert_and_commit(
    conn: &mut SqliteConnection,
    rows: &[Row],
    origin: &str,
) -> Result<(), StoreError> {
    let created_at = now();
    // Every size keeps its prepared statement: the write connection's cache has room for
    // all of them (see `WRITE_STATEMENT_CACHE`).
    let mut insert = sqlx::query(insert_sql(rows.len()));
    for row in rows {
        insert = insert
            .bind(&row.dialog_id)
            .bind(row.seq)
            .bind(row.prev_visitor_seq)
            .bind(row.internal)
            .bind(row.sender)
            .bind(&row.client_msg_id)
            .bind(&row.payload)
            .bind(origin)
            .bind(created_at)
            .bind(&row.sender_key);
    }
    insert.execute(&mut *conn).await.map_err(backend)?;
    Ok(())
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
        let positions = HashMap::from([(a, open(4, 3)), (b, open(9, 9))]);
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
            (a, open(0, 0)),
            (
                closed,
                Position {
                    status: DialogStatus::Closed,
                    ..open(2, 2)
                },
            ),
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
    fn the_second_trip_inserts_every_row_and_commits() {
        assert_eq!(insert_sql(0), "COMMIT");
        assert_eq!(insert_sql(3).matches("(?,").count(), 3);
        assert_eq!(insert_sql(256).matches("(?,").count(), 256);
        assert!(insert_sql(256).ends_with("; COMMIT"));
    }
}
