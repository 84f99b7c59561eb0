//! The invariants every run must end with, checked against the store once the world is
//! at rest. (What must hold at every moment — no visitor ever sees an internal note or
//! visitor typing, no replaced socket is the client's current one, no event outside a
//! stream reaches a session — is checked where it happens, in `world`.)

use super::world::World;
use super::Failure;
use replyx_core::Stream;
use replyx_protocol::{DialogStatus, EventPayload, OperatorId, Seq};
use std::collections::BTreeMap;

/// Every client's stream has every event of its audience once, in seq order; one
/// stored message per `client_msg_id` and per intended message (retries included), and
/// every acknowledged send is that message; never two operators holding a dialog.
pub(crate) fn at_rest(world: &World) -> Result<(), Failure> {
    for (c, client) in world.clients.iter().enumerate() {
        let stream = Stream::of(client.kind);
        let want: Vec<Seq> = world
            .block_on(world.store().events_since(
                world.dialogs[client.dialog],
                Seq::ZERO,
                100_000,
                stream,
            ))
            .map_err(|e| world.fail(format!("events_since: {e}")))?
            .iter()
            .map(|e| e.seq)
            .collect();
        let got: Vec<Seq> = client.log.events.iter().map(|e| e.seq).collect();
        if got != want {
            let missing: Vec<u64> = want
                .iter()
                .filter(|s| !got.contains(s))
                .map(|s| s.0)
                .collect();
            return Err(world.fail(format!(
                "client {c} ({:?} stream) has {} of {} events; missing {missing:?}",
                stream,
                got.len(),
                want.len()
            )));
        }
    }
    for (d, &dialog) in world.dialogs.iter().enumerate() {
        let log = world
            .block_on(
                world
                    .store()
                    .events_since(dialog, Seq::ZERO, 100_000, Stream::Admin),
            )
            .map_err(|e| world.fail(format!("events_since: {e}")))?;
        let mut by_key: BTreeMap<&str, Vec<Seq>> = BTreeMap::new();
        let mut by_text: BTreeMap<&str, Vec<Seq>> = BTreeMap::new();
        let mut holder: Option<OperatorId> = None;
        for e in &log {
            match &e.payload {
                EventPayload::MessageCreated { message } => {
                    if let Some(key) = &message.client_msg_id {
                        by_key.entry(key).or_default().push(e.seq);
                        // Every send of the simulation has its own text.
                        by_text.entry(&message.text).or_default().push(e.seq);
                    }
                }
                EventPayload::DialogStatus {
                    status,
                    operator,
                    reason,
                    ..
                } => {
                    let next = operator.as_ref().map(|o| o.id);
                    // A transfer is the one way a held dialog changes hands.
                    let transfer = *reason == Some(replyx_protocol::StatusReason::Transferred);
                    if *status == DialogStatus::Operator && !transfer {
                        if let (Some(held), Some(taker)) = (holder, next) {
                            if held != taker {
                                return Err(world.fail(format!(
                                    "dialog {d}: seq {} hands it to another operator while one holds it",
                                    e.seq
                                )));
                            }
                        }
                    }
                    holder = next;
                }
                EventPayload::DialogRated { .. } => {}
            }
        }
        if let Some((key, seqs)) = by_key.iter().find(|(_, seqs)| seqs.len() > 1) {
            return Err(world.fail(format!(
                "dialog {d}: client_msg_id {key} stored {} times: {seqs:?}",
                seqs.len()
            )));
        }
        if let Some((text, seqs)) = by_text.iter().find(|(_, seqs)| seqs.len() > 1) {
            return Err(world.fail(format!(
                "dialog {d}: the message {text:?} was stored {} times: {seqs:?}",
                seqs.len()
            )));
        }
        for (_, key, seq) in world.acked.iter().filter(|(ad, _, _)| *ad == d) {
            if by_key.get(key.as_str()) != Some(&vec![*seq]) {
                return Err(world.fail(format!(
                    "dialog {d}: acknowledged {key} as seq {seq}, the log has {:?}",
                    by_key.get(key.as_str())
                )));
            }
        }
    }
    Ok(())
}
