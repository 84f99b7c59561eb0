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
mod send;

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
    /// When the credentials expire (unix seconds): the operator's token or the guest
    /// token. The socket is closed with 4001 then, as a new one would be refused.
    pub expires_at: Option<u64>,
    /// The operator session behind the socket, re-checked every
    /// `session_check_interval`: an ended session closes the socket with 4001.
    pub operator_session: Option<replyx_protocol::SessionId>,
    /// The operator whose console this is (the inbox feed): counted for their
    /// presence while the socket is open.
    pub console_of: Option<replyx_protocol::OperatorId>,
    /// The client's address: a visitor's `message.send` counts against the same
    /// per-IP request limit as the POST.
    pub peer_ip: std::net::IpAddr,
    /// The operator behind an operator socket: the sender of its `message.send`.
    pub operator: Option<replyx_protocol::OperatorRef>,
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
    peer_ip: std::net::IpAddr,
    operator: Option<replyx_protocol::OperatorRef>,
}

/// Upgrades that were refused: close at once with `code`.
pub async fn refuse(mut socket: WebSocket, state: &AppState, code: CloseCode) {
    close(&mut socket, state, code).await;
}

/// Runs an accepted connection to its end.
pub async fn run(mut socket: WebSocket, state: AppState, ctx: Box<SessionContext>) {
    let mut sub = match state
        .hub
        .register(ctx.kind, ctx.dialog_id, ctx.client.clone())
    {
        Ok(sub) => sub,
        Err(e) => {
            tracing::debug!(kind = %ctx.kind, error = ?e, "connection limit reached");
            state.metrics.connection_error("limit");
            return close(&mut socket, &state, CloseCode::TryAgainLater).await;
        }
    };
    let console = ctx.console_of.map(|op| state.consoles.open(op));
    // Before the replay is read (see the module docs): a cluster bus carries this
    // dialog's events to this node from now on.
    let interest = crate::hub::BusInterest::acquire(state.bus.clone(), ctx.dialog_id).await;
    let limits = &state.settings.limits;
    let mut session = Session {
        frames: crate::limits::frame_limiter(limits.client_frames_per_second),
        socket,
        kind: ctx.kind,
        dialog_id: ctx.dialog_id,
        cursor: Cursor::resume(Stream::of(ctx.kind), None, Seq::ZERO),
        last_activity: Instant::now(),
        state: state.clone(),
        peer_ip: ctx.peer_ip,
        operator: ctx.operator.clone(),
    };
    // The replay at connect is boxed and freed once done: an idle socket's task then
    // holds only the live loop's state (docs/perf/RESULTS.md, memory per socket).
    let exit = match Box::pin(session.start(sub.id(), ctx.since)).await {
        Ok(()) => {
            session
                .serve(&mut sub, ctx.expires_at, ctx.operator_session)
                .await
        }
        Err(exit) => exit,
    };
    // Unregister before the close handshake: nothing more is queued for this socket.
    drop(sub);
    drop(interest);
    drop(console);
    if let Exit::Close(code) = exit {
        close(&mut session.socket, &state, code).await;
    }
}

impl Session {
    async fn serve(
        &mut self,
        sub: &mut crate::hub::Subscription,
        expires_at: Option<u64>,
        operator_session: Option<replyx_protocol::SessionId>,
    ) -> Exit {
        let closer = sub.closer().clone();
        // The two settings the loop reads, not a copy of every limit: the loop's state
        // is held for the socket's life.
        let (heartbeat, silence) = {
            let limits = &self.state.settings.limits;
            (limits.heartbeat_interval, limits.heartbeat_timeout)
        };
        let mut ping = tokio::time::interval_at(Instant::now() + heartbeat, heartbeat);
        let check_every = self.state.settings.session_check_interval;
        let mut session_check = tokio::time::interval_at(Instant::now() + check_every, check_every);
        session_check.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let expiry = tokio::time::sleep_until(expiry_instant(expires_at));
        tokio::pin!(expiry);
        // One timer for the client's silence, moved only when the client was heard
        // from: a timer made afresh on every turn of the loop would be registered and
        // removed once per event delivered.
        let mut heard_at = self.last_activity;
        let silent = tokio::time::sleep_until(heard_at + silence);
        tokio::pin!(silent);
        loop {
            if self.last_activity != heard_at {
                heard_at = self.last_activity;
                silent.as_mut().reset(heard_at + silence);
            }
            let step = tokio::select! {
                code = closer.requested() => Err(Exit::Close(code)),
                item = sub.recv() => match item {
                    // Boxed (one allocation per item): held inline, its state would be
                    // reserved in every session's task while the socket is idle.
                    Some(outbound) => Box::pin(self.on_outbound(outbound)).await,
                    None => Err(Exit::Close(CloseCode::InternalError)),
                },
                // Boxed, as are the replay, the gap fill and the session re-check:
                // the session's task would otherwise hold room for the largest future
                // any of its awaits can be (a `message.send` through the store) for as
                // long as the socket is open. One allocation per client frame instead.
                message = self.socket.recv() => Box::pin(self.on_incoming(message)).await,
                _ = ping.tick() => self.heartbeat().await,
                _ = &mut expiry, if expires_at.is_some() => Err(Exit::Close(CloseCode::AuthExpired)),
                _ = session_check.tick(), if operator_session.is_some() => {
                    Box::pin(self.recheck(operator_session)).await
                }
                _ = &mut silent => Err(Exit::Close(CloseCode::GoingAway)),
            };
            if let Err(exit) = step {
                return exit;
            }
        }
    }

    async fn heartbeat(&mut self) -> Result<(), Exit> {
        self.send(Message::Ping(Default::default())).await
    }

    /// Re-checks the operator session: ended (logout, password change, operator disabled
    /// or removed, on any process) closes with 4001. A store that cannot answer keeps
    /// the socket: an outage of the store is not a revocation.
    async fn recheck(&mut self, session: Option<replyx_protocol::SessionId>) -> Result<(), Exit> {
        let Some(id) = session else { return Ok(()) };
        match self.state.sessions.check(id).await {
            Err(crate::auth::sessions::SessionRefusal::Ended) => {
                Err(Exit::Close(CloseCode::AuthExpired))
            }
            Ok(_) | Err(crate::auth::sessions::SessionRefusal::Unavailable(_)) => Ok(()),
        }
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

/// The moment a token expiring at `exp` (unix seconds) runs out, on tokio's clock; far
/// off without an expiry (the timer is then never polled). The session closes right
/// then rather than at its next heartbeat: a guest token is checked once, at connect,
/// and a socket must not carry it past its `exp`. Token checks count whole seconds and
/// accept a token through its `exp` second, so the first moment it is refused, and the
/// socket closed, is `exp + 1`.
fn expiry_instant(exp: Option<u64>) -> Instant {
    const FAR: Duration = Duration::from_secs(100 * 365 * 24 * 3600);
    let Some(exp) = exp else {
        return Instant::now() + FAR;
    };
    let at = std::time::UNIX_EPOCH + Duration::from_secs(exp.saturating_add(1));
    let left = at
        .duration_since(std::time::SystemTime::now())
        .unwrap_or(Duration::ZERO);
    Instant::now() + left.min(FAR)
}

/// Sends a close frame with `code`, then waits briefly for the client's close so the
/// connection ends with a clean TCP shutdown.
///
/// Borrows the socket: a session's task reserves room for each of its awaits, and a
/// close that owned the socket would hold a second copy of it for the socket's life.
async fn close(socket: &mut WebSocket, state: &AppState, code: CloseCode) {
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
