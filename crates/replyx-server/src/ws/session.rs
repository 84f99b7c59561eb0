//! The one session loop behind every WebSocket kind: register in the hub, send
//! `connection.established`, replay `seq > since`, `replay.complete`, then stream live
//! events, answer client frames, keep the link alive, and close with a meaningful code.
//!
//! Invariants:
//! - the connection registers *before* it reads the replay, so an event stored while
//!   it connects is either in the replay or in the outbox (or both: de-duplicated);
//! - events go out in seq order, each once: an event at or below the last sent seq is
//!   dropped, and an event whose `prev_seq` is past it triggers a read of the gap from
//!   the store first;
//! - every way out is an explicit close with a protocol code, then a short wait for the
//!   client's close, so the TCP connection ends cleanly rather than with a reset.

mod incoming;
mod outgoing;

use crate::state::AppState;
use axum::extract::ws::{CloseFrame, Message, WebSocket};
use replyx_core::delivery::Cursor;
use replyx_core::Stream;
use replyx_protocol::{CloseCode, ConnectionKind, DialogId, Seq};
use std::time::Duration;
use tokio::time::Instant;

/// Longest wait for one frame to be written before the connection counts as dead.
const SEND_TIMEOUT: Duration = Duration::from_secs(10);
/// Longest wait for the client's answer to our close frame.
const CLOSE_LINGER: Duration = Duration::from_secs(2);

/// What the upgrade handler decided about a connection.
#[derive(Debug, Clone)]
pub struct SessionContext {
    /// The kind fixed by the route.
    pub kind: ConnectionKind,
    /// The dialog, or `None` for the admin inbox feed.
    pub dialog_id: Option<DialogId>,
    /// The client's last seen seq.
    pub since: Option<Seq>,
    /// The client's id for this logical connection and who it is: replaces a socket
    /// held for it.
    pub client: Option<crate::hub::ClientKey>,
    /// When the credentials expire (unix seconds), for operator sockets.
    pub expires_at: Option<u64>,
}

/// Why the loop ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Exit {
    /// Close with this code.
    Close(CloseCode),
    /// The client closed or the link broke; nothing more to send.
    Ended,
}

/// One live connection.
struct Session {
    socket: WebSocket,
    state: AppState,
    kind: ConnectionKind,
    dialog_id: Option<DialogId>,
    /// Where this connection's stream is: the highest seq sent, and the stream.
    cursor: Cursor,
    last_activity: Instant,
    frames: governor::DefaultDirectRateLimiter,
}

/// Upgrades that were refused: close at once with `code`.
pub async fn refuse(socket: WebSocket, state: &AppState, code: CloseCode) {
    close(socket, state, code).await;
}

/// Runs an accepted connection to its end.
pub async fn run(socket: WebSocket, state: AppState, ctx: SessionContext) {
    let mut sub = match state
        .hub
        .register(ctx.kind, ctx.dialog_id, ctx.client.clone())
    {
        Ok(sub) => sub,
        Err(e) => {
            tracing::debug!(kind = %ctx.kind, error = ?e, "connection limit reached");
            state.metrics.connection_error("limit");
            return close(socket, &state, CloseCode::TryAgainLater).await;
        }
    };
    // Before the replay is read (see the module docs): a cluster bus carries this
    // dialog's events to this node from now on.
    let interest = crate::hub::BusInterest::acquire(state.bus.clone(), ctx.dialog_id).await;
    let limits = &state.settings.limits;
    let mut session = Session {
        frames: crate::limits::frame_limiter(limits.client_frames_per_second),
        socket,
        kind: ctx.kind,
        dialog_id: ctx.dialog_id,
        cursor: Cursor::resume(Stream::of(ctx.kind), None, Seq::ZERO, Seq::ZERO),
        last_activity: Instant::now(),
        state: state.clone(),
    };
    let exit = match session.start(sub.id(), ctx.since).await {
        Ok(()) => session.serve(&mut sub, ctx.expires_at).await,
        Err(exit) => exit,
    };
    // Unregister before the close handshake: nothing more is queued for this socket.
    drop(sub);
    drop(interest);
    if let Exit::Close(code) = exit {
        close(session.socket, &state, code).await;
    }
}

impl Session {
    async fn serve(&mut self, sub: &mut crate::hub::Subscription, expires_at: Option<u64>) -> Exit {
        let closer = sub.closer().clone();
        let limits = self.state.settings.limits.clone();
        let mut ping = tokio::time::interval_at(
            Instant::now() + limits.heartbeat_interval,
            limits.heartbeat_interval,
        );
        loop {
            let silent_until = self.last_activity + limits.heartbeat_timeout;
            let step = tokio::select! {
                code = closer.requested() => Err(Exit::Close(code)),
                item = sub.recv() => match item {
                    Some(outbound) => self.on_outbound(outbound).await,
                    None => Err(Exit::Close(CloseCode::InternalError)),
                },
                message = self.socket.recv() => self.on_incoming(message).await,
                _ = ping.tick() => self.heartbeat(expires_at).await,
                _ = tokio::time::sleep_until(silent_until) => Err(Exit::Close(CloseCode::GoingAway)),
            };
            if let Err(exit) = step {
                return exit;
            }
        }
    }

    async fn heartbeat(&mut self, expires_at: Option<u64>) -> Result<(), Exit> {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0);
        if expires_at.is_some_and(|exp| exp <= now) {
            return Err(Exit::Close(CloseCode::AuthExpired));
        }
        self.send(Message::Ping(Default::default())).await
    }

    /// Writes one message, with a deadline; a failed write ends the session.
    async fn send(&mut self, message: Message) -> Result<(), Exit> {
        match tokio::time::timeout(SEND_TIMEOUT, self.socket.send(message)).await {
            Ok(Ok(())) => {
                self.state.metrics.frame_sent(self.kind);
                Ok(())
            }
            Ok(Err(_)) | Err(_) => Err(Exit::Ended),
        }
    }
}

/// Sends a close frame with `code`, then waits briefly for the client's close so the
/// connection ends with a clean TCP shutdown.
async fn close(mut socket: WebSocket, state: &AppState, code: CloseCode) {
    state.metrics.closed_with(code);
    let frame = CloseFrame {
        code: code.code(),
        reason: code.reason().into(),
    };
    if tokio::time::timeout(SEND_TIMEOUT, socket.send(Message::Close(Some(frame))))
        .await
        .is_err()
    {
        return;
    }
    let _ = tokio::time::timeout(CLOSE_LINGER, async {
        while let Some(Ok(message)) = socket.recv().await {
            if matches!(message, Message::Close(_)) {
                break;
            }
        }
    })
    .await;
}
