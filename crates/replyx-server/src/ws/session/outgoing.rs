//! Server → client: the opening frames, replay and gap fill from the store, and live
//! items from the outbox, in seq order without duplicates (the order is the
//! connection's `Cursor`, `replyx_core::delivery`).
//!
//! Two filters keep internal notes from visitors, and neither silently covers for the
//! other: the audience rule (the hub for live events, the store's query for replays)
//! keeps them away, and the stream's wire form (`StoredEvent::to_wire`) cannot carry
//! one. An event that passes the first and is stopped by the second is counted in
//! `replyx_audience_violations_total`, so a broken first filter is seen, not masked.

use super::{Exit, Session};
use crate::hub::Outbound;
use axum::extract::ws::{Message, Utf8Bytes};
use replyx_core::delivery::{Cursor, Next};
use replyx_core::Stream;
use replyx_protocol::{CloseCode, ConnectionId, EventPayload, Seq, ServerFrame};

/// Events read from the store per page of a replay or gap fill.
const REPLAY_PAGE: u32 = 500;

impl Session {
    pub(super) async fn send_frame(&mut self, frame: &ServerFrame) -> Result<(), Exit> {
        let json = serde_json::to_string(frame).expect("frames serialize");
        self.send(Message::Text(json.into())).await
    }

    async fn send_text(&mut self, json: Utf8Bytes) -> Result<(), Exit> {
        self.send(Message::Text(json)).await
    }

    /// `connection.established`, the replay of `seq > since`, `replay.complete`.
    pub(super) async fn start(&mut self, id: ConnectionId, since: Option<Seq>) -> Result<(), Exit> {
        let stream_newest = match self.dialog_id {
            None => Seq::ZERO,
            Some(dialog) => match self.state.store.dialog(dialog).await {
                Ok(Some(d)) => d.last_seq_in(self.cursor.stream()),
                Ok(None) => return Err(Exit::Close(CloseCode::NotFound)),
                Err(_) => return Err(Exit::Close(CloseCode::InternalError)),
            },
        };
        self.send_frame(&ServerFrame::ConnectionEstablished {
            connection_id: id,
            kind: self.kind,
            dialog_id: self.dialog_id,
            last_seq: stream_newest,
            heartbeat_ms: self.state.settings.limits.heartbeat_interval.as_millis() as u64,
        })
        .await?;
        self.cursor = Cursor::resume(self.cursor.stream(), since, stream_newest);
        if since.is_some() {
            self.catch_up().await?;
        }
        self.send_frame(&ServerFrame::ReplayComplete {
            last_seq: self.cursor.last(),
        })
        .await?;
        self.state.metrics.connection_success(self.kind);
        Ok(())
    }

    /// Sends every stored event of this stream after the cursor, page by page.
    pub(super) async fn catch_up(&mut self) -> Result<(), Exit> {
        let Some(dialog) = self.dialog_id else {
            return Ok(());
        };
        let stream = self.cursor.stream();
        loop {
            let page = self
                .state
                .store
                .events_since(dialog, self.cursor.last(), REPLAY_PAGE, stream)
                .await
                .map_err(|_| Exit::Close(CloseCode::InternalError))?;
            let n = page.len();
            for event in page {
                match event.to_wire(stream) {
                    Some(wire) => {
                        let json = serde_json::to_string(&wire).expect("events serialize");
                        self.send_text(json.into()).await?;
                    }
                    // The store's query for this stream should have left it out.
                    None => self.state.metrics.audience_violation(self.kind),
                }
                self.cursor.advance(&event);
            }
            self.state.metrics.replayed(self.kind, n);
            if (n as u32) < REPLAY_PAGE {
                return Ok(());
            }
        }
    }

    /// One item from the hub.
    pub(super) async fn on_outbound(&mut self, outbound: Outbound) -> Result<(), Exit> {
        match outbound {
            Outbound::Event(fanout) => {
                let event = &fanout.event;
                match self.cursor.next(event) {
                    Next::Duplicate => return Ok(()),
                    Next::Gap => {
                        self.state.metrics.gap_fill(self.kind);
                        return Box::pin(self.catch_up()).await;
                    }
                    Next::NotInStream => {
                        tracing::error!(kind = %self.kind, dialog = %event.dialog_id, seq = %event.seq,
                            "the hub offered an event outside this connection's stream; dropped");
                        self.state.metrics.audience_violation(self.kind);
                        return Ok(());
                    }
                    Next::Send => {}
                }
                let Some(json) = fanout.json(self.cursor.stream()) else {
                    self.state.metrics.audience_violation(self.kind);
                    return Ok(());
                };
                self.send_text(json).await?;
                self.cursor.advance(event);
                let latency = match &event.payload {
                    EventPayload::MessageCreated { message } => (chrono::Utc::now()
                        - message.created_at)
                        .to_std()
                        .unwrap_or_default()
                        .as_secs_f64(),
                    EventPayload::DialogStatus { .. } | EventPayload::DialogRated { .. } => {
                        fanout.received.elapsed().as_secs_f64()
                    }
                };
                self.state.metrics.delivered(self.kind, latency);
                Ok(())
            }
            Outbound::Frame(frame) => self.send_text(frame.json.clone()).await,
            Outbound::Inbox(json) => self.send_text(json.as_ref().clone()).await,
            // The stream picks its numbering of the mark (see `ReadFrames`).
            Outbound::Read(read) => match self.cursor.stream() {
                Stream::Admin => self.send_text(read.admin.clone()).await,
                Stream::Visitor => match &read.visitor {
                    Some(json) => self.send_text(json.clone()).await,
                    None => Ok(()),
                },
            },
            Outbound::Resync if self.dialog_id.is_some() => {
                self.state.metrics.gap_fill(self.kind);
                Box::pin(self.catch_up()).await
            }
            // Inbox rows are not replayed: the console reloads its list on reconnect.
            Outbound::Resync => Err(Exit::Close(CloseCode::ServiceRestart)),
        }
    }
}
