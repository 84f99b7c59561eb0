//! The maps behind the hub: connections by dialog (and the inbox feed), with counts by
//! kind. Only the hub touches them, under its lock.

use super::fanout::Outbound;
use super::HubLimits;
use replyx_core::may_receive;
use replyx_protocol::ClientId;
use replyx_protocol::{CloseCode, ConnectionId, ConnectionKind, DialogId};
use std::collections::HashMap;
use std::sync::{Arc, OnceLock};
use tokio::sync::mpsc::{error::TrySendError, Sender};
use tokio_util::sync::CancellationToken;

/// Asks one connection to close with a code; the first code asked for wins.
#[derive(Debug, Clone, Default)]
pub struct Closer {
    inner: Arc<(OnceLock<CloseCode>, CancellationToken)>,
}

impl Closer {
    pub(crate) fn new() -> Self {
        Self::default()
    }

    /// Requests the close.
    pub fn close(&self, code: CloseCode) {
        let _first_wins = self.inner.0.set(code);
        self.inner.1.cancel();
    }

    /// Resolves once a close was requested.
    ///
    /// # Cancel safety
    /// Cancel safe.
    pub async fn requested(&self) -> CloseCode {
        self.inner.1.cancelled().await;
        self.code().unwrap_or(CloseCode::InternalError)
    }

    /// The requested code, if any.
    pub fn code(&self) -> Option<CloseCode> {
        self.inner.0.get().copied()
    }
}

/// Which connection a new one may replace: the same `client_id` from the same
/// identity (operator or guest), so nobody can close another's socket with 4009.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientKey {
    id: ClientId,
    owner: String,
}

impl ClientKey {
    /// The key of `id` sent by `owner`.
    pub fn new(id: ClientId, owner: String) -> Self {
        Self { id, owner }
    }
}

/// Why a connection could not be registered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RegisterError {
    /// The dialog has as many connections of this class as allowed.
    DialogFull,
    /// The process has as many connections as allowed.
    ProcessFull,
}

/// Open connections and dialogs-with-connections, indexed like `ConnectionKind::ALL`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct HubCounts {
    /// Open sockets per kind.
    pub active: [usize; 3],
    /// Dialogs with at least one socket of the kind.
    pub dialogs: [usize; 3],
}

impl HubCounts {
    /// Open sockets of `kind`.
    pub fn active(&self, kind: ConnectionKind) -> usize {
        self.active[index(kind)]
    }

    /// Dialogs with a socket of `kind`.
    pub fn dialogs(&self, kind: ConnectionKind) -> usize {
        self.dialogs[index(kind)]
    }
}

fn index(kind: ConnectionKind) -> usize {
    match kind {
        ConnectionKind::Admin => 0,
        ConnectionKind::Site => 1,
        ConnectionKind::Widget => 2,
    }
}

struct Conn {
    id: ConnectionId,
    kind: ConnectionKind,
    /// The client's own id for its logical connection (`client_id`) and who sent it.
    client: Option<ClientKey>,
    tx: Sender<Outbound>,
    closer: Closer,
    /// The server's own subscriber (the canary): not a socket, so not counted, not
    /// limited and not drained.
    internal: bool,
}

#[derive(Default)]
pub(crate) struct Registry {
    dialogs: HashMap<DialogId, Vec<Conn>>,
    inbox: Vec<Conn>,
    active: [usize; 3],
}

impl Registry {
    pub(crate) fn insert_internal(
        &mut self,
        dialog: DialogId,
        tx: Sender<Outbound>,
        closer: Closer,
    ) -> ConnectionId {
        let id = ConnectionId::new();
        let conn = Conn {
            id,
            kind: ConnectionKind::Admin,
            client: None,
            tx,
            closer,
            internal: true,
        };
        self.dialogs.entry(dialog).or_default().push(conn);
        id
    }

    /// Registers a connection. A connection of the same kind and `client` already on
    /// the same dialog (or the inbox) is replaced: asked to close with 4009, and not
    /// counted against the limits, so a client whose old socket the server still holds
    /// (a link that died without a close) is never refused its own reconnect.
    pub(crate) fn insert(
        &mut self,
        kind: ConnectionKind,
        dialog: Option<DialogId>,
        client: Option<ClientKey>,
        tx: Sender<Outbound>,
        closer: Closer,
        limits: &HubLimits,
    ) -> Result<ConnectionId, RegisterError> {
        let list = match dialog {
            None => &self.inbox,
            Some(d) => self.dialogs.get(&d).map(Vec::as_slice).unwrap_or(&[]),
        };
        let replaced = client.as_ref().and_then(|c| {
            list.iter()
                .find(|x| {
                    !x.internal
                        && x.kind == kind
                        && x.client.as_ref() == Some(c)
                        && x.closer.code().is_none()
                })
                .map(|x| x.closer.clone())
        });
        let replacing = usize::from(replaced.is_some());
        if self.active.iter().sum::<usize>() - replacing >= limits.total {
            return Err(RegisterError::ProcessFull);
        }
        if dialog.is_some() {
            let (limit, same_class) = if kind.is_visitor() {
                (
                    limits.visitor_per_dialog,
                    visitor_class as fn(&Conn) -> bool,
                )
            } else {
                (limits.admin_per_dialog, admin_class as fn(&Conn) -> bool)
            };
            // Sockets already asked to close (replaced, drained, too slow) are on their
            // way out: they do not keep a reconnecting client out.
            let held = list
                .iter()
                .filter(|c| same_class(c) && c.closer.code().is_none())
                .count();
            if held - replacing >= limit {
                return Err(RegisterError::DialogFull);
            }
        }
        let id = ConnectionId::new();
        let conn = Conn {
            id,
            kind,
            client,
            tx,
            closer,
            internal: false,
        };
        match dialog {
            None => self.inbox.push(conn),
            Some(d) => self.dialogs.entry(d).or_default().push(conn),
        }
        self.active[index(kind)] += 1;
        if let Some(old) = replaced {
            old.close(CloseCode::Replaced);
        }
        Ok(id)
    }

    pub(crate) fn remove(&mut self, id: ConnectionId, dialog: Option<DialogId>) {
        let list = match dialog {
            None => Some(&mut self.inbox),
            Some(d) => self.dialogs.get_mut(&d),
        };
        let Some(list) = list else { return };
        if let Some(pos) = list.iter().position(|c| c.id == id) {
            let conn = list.swap_remove(pos);
            if !conn.internal {
                self.active[index(conn.kind)] -= 1;
            }
        }
        if let Some(d) = dialog {
            if self.dialogs.get(&d).is_some_and(Vec::is_empty) {
                self.dialogs.remove(&d);
            }
        }
    }

    pub(crate) fn counts(&self) -> HubCounts {
        let mut dialogs = [0; 3];
        for conns in self.dialogs.values() {
            for kind in ConnectionKind::ALL {
                if conns.iter().any(|c| c.kind == kind && !c.internal) {
                    dialogs[index(kind)] += 1;
                }
            }
        }
        HubCounts {
            active: self.active,
            dialogs,
        }
    }

    pub(crate) fn has_inbox(&self) -> bool {
        !self.inbox.is_empty()
    }

    pub(crate) fn closers(&self) -> Vec<Closer> {
        self.dialogs
            .values()
            .flatten()
            .chain(self.inbox.iter())
            .filter(|c| !c.internal)
            .map(|c| c.closer.clone())
            .collect()
    }

    /// Offers `outbound` to every connection allowed to see it. Returns the kinds of
    /// the connections found too slow (now asked to close with 1013).
    pub(crate) fn deliver(&self, outbound: &Outbound) -> Vec<ConnectionKind> {
        let mut slow = Vec::new();
        let (dialog, delivery) = match outbound {
            Outbound::Resync => {
                for conn in self.dialogs.values().flatten().chain(self.inbox.iter()) {
                    offer(conn, Outbound::Resync, &mut slow);
                }
                return slow;
            }
            Outbound::Inbox(_) => {
                for conn in &self.inbox {
                    offer(conn, outbound.clone(), &mut slow);
                }
                return slow;
            }
            Outbound::Event(e) => (e.event.dialog_id, e.delivery()),
            Outbound::Read(read) => (read.dialog_id, replyx_core::audience::Delivery::Read),
            Outbound::Frame(frame) => (frame.dialog_id, frame.delivery),
        };
        let conns = self.dialogs.get(&dialog).map(Vec::as_slice).unwrap_or(&[]);
        let targets = conns.iter().filter(|c| may_receive(delivery, c.kind));
        for conn in targets {
            offer(conn, outbound.clone(), &mut slow);
        }
        slow
    }
}

fn visitor_class(c: &Conn) -> bool {
    !c.internal && c.kind.is_visitor()
}

fn admin_class(c: &Conn) -> bool {
    !c.internal && !c.kind.is_visitor()
}

fn offer(conn: &Conn, outbound: Outbound, slow: &mut Vec<ConnectionKind>) {
    match conn.tx.try_send(outbound) {
        Ok(()) => {}
        Err(TrySendError::Full(_)) => {
            if conn.closer.code().is_none() {
                slow.push(conn.kind);
            }
            conn.closer.close(CloseCode::TryAgainLater);
        }
        // The session is ending and will unregister itself.
        Err(TrySendError::Closed(_)) => {}
    }
}
