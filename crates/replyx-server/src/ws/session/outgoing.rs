//! Server → client: the opening frames, replay and gap fill from the store, and live
//! items from the outbox, in seq order without duplicates.

use super::{Exit, Session};
use crate::hub::Outbound;
use axum::extract::ws::{Message, Utf8Bytes};
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
        let newest = match self.dialog_id {
            None => (Seq::ZERO, Seq::ZERO),
            Some(dialog) => match self.state.store.dialog(dialog).await {
                Ok(Some(d)) => (d.last_seq_in(self.stream), d.last_seq),
                Ok(None) => return Err(Exit::Close(CloseCode::NotFound)),
                Err(_) => return Err(Exit::Close(CloseCode::InternalError)),
            },
        };
        let (stream_newest, log_newest) = newest;
        self.send_frame(&ServerFrame::ConnectionEstablished {
            connection_id: id,
            kind: self.kind,
            dialog_id: self.dialog_id,
            last_seq: stream_newest,
            heartbeat_ms: self.state.settings.limits.heartbeat_interval.as_millis() as u64,
        })
        .await?;
        match since {
            // A `since` past the log's end is clamped, or it would hide new events.
            Some(since) => {
                self.last = since.min(log_newest);
                self.catch_up().await?;
            }
            None => self.last = stream_newest,
        }
        self.send_frame(&ServerFrame::ReplayComplete {
            last_seq: self.last,
        })
        .await?;
        self.state.metrics.connection_success(self.kind);
        Ok(())
    }

    /// Sends every stored event of this stream after `self.last`, page by page.
    pub(super) async fn catch_up(&mut self) -> Result<(), Exit> {
        let Some(dialog) = self.dialog_id else {
            return Ok(());
        };
        loop {
            let page = self
                .state
                .store
                .events_since(dialog, self.last, REPLAY_PAGE, self.stream)
                .await
                .map_err(|_| Exit::Close(CloseCode::InternalError))?;
            let n = page.len();
            for event in page {
                if let Some(wire) = event.to_wire(self.stream) {
                    let json = serde_json::to_string(&wire).expect("events serialize");
                    self.send_text(json.into()).await?;
                }
                self.last = event.seq;
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
                if event.seq <= self.last {
                    return Ok(());
                }
                if event.prev_seq_in(self.stream) > self.last {
                    return self.catch_up().await;
                }
                let Some(json) = fanout.json(self.stream) else {
                    return Ok(());
                };
                self.send_text(json).await?;
                self.last = event.seq;
                let latency = match &event.payload {
                    EventPayload::MessageCreated { message } => (chrono::Utc::now()
                        - message.created_at)
                        .to_std()
                        .unwrap_or_default()
                        .as_secs_f64(),
                    EventPayload::DialogStatus { .. } => fanout.received.elapsed().as_secs_f64(),
                };
                self.state.metrics.delivered(self.kind, latency);
                Ok(())
            }
            Outbound::Frame { json, .. } | Outbound::Inbox(json) => self.send_text(json).await,
        }
    }
}
