//! Operator sessions as the server checks them: every request and every open operator
//! socket asks "is this session still live?". The answer comes from the store, trusted
//! for `session_check_interval` in a per-process cache so a busy console does not turn
//! into one query per request; a revocation on this process also drops the cached
//! answer at once. Another process sees the revocation when its cached answer expires,
//! and its open sockets re-check on the same period, so a revoked session's sockets
//! close everywhere within about twice the interval.
//!
//! Socket tickets live here too: a browser cannot set headers on a WebSocket, and a
//! token in a URL ends up in proxy logs, so the console trades its token for a
//! single-use ticket that expires in [`TICKET_TTL`].

use base64::Engine;
use chrono::{DateTime, Utc};
use moka::future::Cache;
use rand::RngCore;
use replyx_core::{NewSession, Operator, SessionRecord, Store, StoreError};
use replyx_protocol::{OperatorId, SessionId};
use sha2::{Digest, Sha256};
use std::sync::Arc;
use std::time::Duration;

/// How long a socket ticket can be used: enough to open a socket right after asking.
pub const TICKET_TTL: Duration = Duration::from_secs(30);

/// A live session and its operator as they are now.
#[derive(Debug, Clone)]
pub struct ActiveSession {
    /// The session.
    pub id: SessionId,
    /// The operator, with current role.
    pub operator: Operator,
    /// When the session ends by itself (unix seconds).
    pub expires_at: u64,
}

/// Why a session was refused.
#[derive(Debug, Clone)]
pub enum SessionRefusal {
    /// Unknown, revoked, expired, or its operator disabled or removed.
    Ended,
    /// The store could not answer.
    Unavailable(Arc<StoreError>),
}

/// The session checker and ticket issuer of one process.
#[derive(Clone)]
pub struct OperatorSessions {
    store: Arc<dyn Store>,
    cache: Cache<SessionId, Option<Arc<SessionRecord>>>,
}

impl OperatorSessions {
    /// A checker trusting an answer for `check_interval`.
    pub fn new(store: Arc<dyn Store>, check_interval: Duration) -> Self {
        Self {
            store,
            cache: Cache::builder()
                .time_to_live(check_interval)
                .max_capacity(100_000)
                .support_invalidation_closures()
                .build(),
        }
    }

    /// Starts a session for a login that ends at `expires_at` (unix seconds).
    ///
    /// # Errors
    /// The store failed.
    pub async fn start(
        &self,
        operator: OperatorId,
        expires_at: u64,
    ) -> Result<SessionId, StoreError> {
        let id = SessionId::new();
        self.store
            .create_session(NewSession {
                id,
                operator,
                expires_at: DateTime::from_timestamp(expires_at as i64, 0).unwrap_or_else(Utc::now),
            })
            .await?;
        Ok(id)
    }

    /// Checks a session. Concurrent checks of one session share one store read.
    ///
    /// # Errors
    /// Ended, or the store could not answer (not cached: the next check asks again).
    pub async fn check(&self, id: SessionId) -> Result<ActiveSession, SessionRefusal> {
        let store = self.store.clone();
        let record = self
            .cache
            .try_get_with(id, async move {
                store.session(id).await.map(|r| r.map(Arc::new))
            })
            .await
            .map_err(SessionRefusal::Unavailable)?;
        match record {
            Some(r) if r.is_live(Utc::now()) => Ok(ActiveSession {
                id,
                operator: r.operator.clone(),
                expires_at: r.expires_at.timestamp().max(0) as u64,
            }),
            _ => Err(SessionRefusal::Ended),
        }
    }

    /// Ends one session (logout).
    ///
    /// # Errors
    /// The store failed.
    pub async fn end(&self, id: SessionId) -> Result<(), StoreError> {
        self.store.revoke_session(id).await?;
        self.cache.invalidate(&id).await;
        Ok(())
    }

    /// Ends every session of `operator` but `keep`, and forgets them here at once.
    ///
    /// # Errors
    /// The store failed.
    pub async fn end_all(
        &self,
        operator: OperatorId,
        keep: Option<SessionId>,
    ) -> Result<u64, StoreError> {
        let ended = self.store.revoke_sessions(operator, keep).await?;
        // Cached answers of this operator's sessions, whichever they are: dropping them
        // all is cheap and makes this process's sockets see the change on their next
        // check rather than after the cache's lifetime.
        self.forget_operator(operator).await;
        Ok(ended)
    }

    /// Forgets every cached answer of `operator` (after a role or status change).
    pub async fn forget_operator(&self, operator: OperatorId) {
        let _ = self.cache.invalidate_entries_if(move |_, record| {
            record.as_ref().is_some_and(|r| r.operator.id == operator)
        });
        self.cache.run_pending_tasks().await;
    }

    /// Issues a single-use socket ticket for a live session; returns it and its expiry.
    ///
    /// # Errors
    /// The store failed.
    pub async fn issue_ticket(
        &self,
        session: SessionId,
    ) -> Result<(String, DateTime<Utc>), StoreError> {
        let mut raw = [0u8; 32];
        rand::thread_rng().fill_bytes(&mut raw);
        let ticket = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(raw);
        let expires_at = Utc::now()
            + chrono::Duration::from_std(TICKET_TTL)
                .unwrap_or_else(|_| chrono::Duration::seconds(30));
        self.store
            .create_ticket(&ticket_hash(&ticket), session, expires_at)
            .await?;
        Ok((ticket, expires_at))
    }

    /// Redeems a ticket once: its session, then checked like any session.
    ///
    /// # Errors
    /// Unknown, used, expired, or its session ended; or the store failed.
    pub async fn redeem_ticket(&self, ticket: &str) -> Result<ActiveSession, SessionRefusal> {
        let session = self
            .store
            .take_ticket(&ticket_hash(ticket))
            .await
            .map_err(|e| SessionRefusal::Unavailable(Arc::new(e)))?
            .ok_or(SessionRefusal::Ended)?;
        self.check(session).await
    }
}

/// Tickets are stored by their SHA-256: a copy of the table opens nothing.
fn ticket_hash(ticket: &str) -> String {
    let digest = Sha256::digest(ticket.as_bytes());
    digest.iter().map(|b| format!("{b:02x}")).collect()
}
