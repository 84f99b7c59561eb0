//! What stands between the login route and the password hash: a per-IP rate limit, a
//! per-account backoff after repeated failures, and a small, bounded number of hashes
//! at once. An Argon2 verification takes ~19 MiB and tens of milliseconds of a core;
//! without a bound, a burst of wrong-password logins for one public e-mail took the
//! process from 170 MB to 2.5 GB and every other request with it.
//!
//! - **Per IP** (governor, all attempts): `login_attempts_per_ip_per_minute`, then 429
//!   with `Retry-After`.
//! - **Per account** (failures only, keyed by the normalised e-mail whether or not an
//!   operator has it, so the answer never tells which e-mails exist): after
//!   `login_failures_before_backoff` failures in a row, each further failure locks the
//!   account for twice as long as the last (1 s, 2 s, 4 s … up to 15 min); a success
//!   resets it. Attempts during a lock are refused with 429 and `Retry-After` without
//!   hashing, the right password included. Governor's limiters refill at a constant
//!   rate and count every attempt; an exponential backoff that counts failures only is
//!   not one of their shapes, hence the small map here.
//! - **Hashing**: at most `login_hash_concurrency` verifications at once; a login waits
//!   up to `login_queue_wait` for a slot, with at most eight waiters per slot, then gets
//!   503 with `Retry-After`.
//! - **Same work for unknown e-mails**: the caller verifies against [`LoginGuard::decoy`]
//!   (a hash of a random password with the same parameters) when no operator has the
//!   e-mail, so both answers take one hash.

use crate::limits::PerIpLimiter;
use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// The longest lock after repeated failures.
const MAX_BACKOFF: Duration = Duration::from_secs(15 * 60);
/// Accounts remembered at once; past this, new accounts are limited per IP only (the
/// map never grows without bound under a spray of random e-mails).
const MAX_ACCOUNTS: usize = 100_000;
/// Waiters allowed per hashing slot before a login is refused at once.
const WAITERS_PER_SLOT: usize = 8;

/// The login limits (see the settings of the same names).
#[derive(Debug, Clone)]
pub struct LoginLimits {
    /// Login attempts per client IP per minute.
    pub attempts_per_ip_per_minute: u32,
    /// Failures in a row before the account backs off.
    pub failures_before_backoff: u32,
    /// Password verifications at once.
    pub hash_concurrency: usize,
    /// How long a login waits for a verification slot.
    pub queue_wait: Duration,
}

/// Why a login was not even checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// Too many attempts from this IP; retry after this long.
    Ip(Duration),
    /// The account is backing off after failures; retry after this long.
    Account(Duration),
    /// Every verification slot is busy and the wait ran out.
    Busy,
}

impl Refusal {
    /// The metric label.
    pub fn outcome(self) -> &'static str {
        match self {
            Refusal::Ip(_) => "throttled_ip",
            Refusal::Account(_) => "throttled_account",
            Refusal::Busy => "busy",
        }
    }
}

#[derive(Debug)]
struct Failures {
    count: u32,
    locked_until: Option<Instant>,
    last: Instant,
}

/// Shared by every login of the process.
pub struct LoginGuard {
    limits: LoginLimits,
    per_ip: PerIpLimiter,
    accounts: Mutex<HashMap<String, Failures>>,
    slots: Arc<Semaphore>,
    waiting: AtomicUsize,
    decoy: OnceLock<String>,
}

impl LoginGuard {
    /// A guard with these limits.
    pub fn new(limits: LoginLimits) -> LoginGuard {
        LoginGuard {
            per_ip: PerIpLimiter::per_minute(limits.attempts_per_ip_per_minute),
            slots: Arc::new(Semaphore::new(limits.hash_concurrency.max(1))),
            accounts: Mutex::new(HashMap::new()),
            waiting: AtomicUsize::new(0),
            decoy: OnceLock::new(),
            limits,
        }
    }

    /// The key an e-mail's failures are counted under.
    pub fn account_key(email: &str) -> String {
        email.trim().to_lowercase()
    }

    /// Counts one attempt from `ip` for `account`; refused when the IP is over its
    /// limit or the account is backing off.
    ///
    /// # Errors
    /// The refusal, with how long to wait.
    pub fn admit(&self, ip: IpAddr, account: &str) -> Result<(), Refusal> {
        self.per_ip.check(ip).map_err(Refusal::Ip)?;
        let accounts = self.accounts.lock().expect("accounts");
        if let Some(until) = accounts.get(account).and_then(|f| f.locked_until) {
            let now = Instant::now();
            if until > now {
                return Err(Refusal::Account(until - now));
            }
        }
        Ok(())
    }

    /// A verification slot, waiting up to the queue wait for one.
    ///
    /// # Errors
    /// `Busy` when none came free in time, or too many logins wait already.
    pub async fn hash_slot(&self) -> Result<OwnedSemaphorePermit, Refusal> {
        if let Ok(permit) = self.slots.clone().try_acquire_owned() {
            return Ok(permit);
        }
        let most = self.limits.hash_concurrency.max(1) * WAITERS_PER_SLOT;
        if self.waiting.fetch_add(1, Ordering::SeqCst) >= most {
            self.waiting.fetch_sub(1, Ordering::SeqCst);
            return Err(Refusal::Busy);
        }
        let got =
            tokio::time::timeout(self.limits.queue_wait, self.slots.clone().acquire_owned()).await;
        self.waiting.fetch_sub(1, Ordering::SeqCst);
        match got {
            Ok(Ok(permit)) => Ok(permit),
            _ => Err(Refusal::Busy),
        }
    }

    /// The hash to verify against when no operator has the e-mail (made on first use,
    /// in the caller's blocking task).
    pub fn decoy(&self) -> &str {
        self.decoy.get_or_init(|| {
            let random: [u8; 16] = rand::random();
            super::password::hash(&format!("{random:?}")).unwrap_or_default()
        })
    }

    /// A wrong password (or unknown e-mail) for `account`: past the free failures, the
    /// account locks for twice as long as last time.
    pub fn failed(&self, account: &str) {
        let now = Instant::now();
        let mut accounts = self.accounts.lock().expect("accounts");
        if accounts.len() >= MAX_ACCOUNTS && !accounts.contains_key(account) {
            forget_idle_in(&mut accounts, now);
            if accounts.len() >= MAX_ACCOUNTS {
                return;
            }
        }
        let f = accounts.entry(account.to_owned()).or_insert(Failures {
            count: 0,
            locked_until: None,
            last: now,
        });
        f.count = f.count.saturating_add(1);
        f.last = now;
        if let Some(lock) = backoff(f.count, self.limits.failures_before_backoff) {
            f.locked_until = Some(now + lock);
        }
    }

    /// A successful login: the account's failures are forgotten.
    pub fn succeeded(&self, account: &str) {
        self.accounts.lock().expect("accounts").remove(account);
    }

    /// Forgets IPs and accounts with nothing left to hold against them.
    pub fn forget_idle(&self) {
        self.per_ip.forget_idle();
        forget_idle_in(&mut self.accounts.lock().expect("accounts"), Instant::now());
    }
}

/// The lock after the `count`-th failure in a row, when there is one.
fn backoff(count: u32, free: u32) -> Option<Duration> {
    let over = count.checked_sub(free)?;
    let doubled = Duration::from_secs(1).checked_mul(1u32.checked_shl(over).unwrap_or(u32::MAX));
    Some(doubled.map_or(MAX_BACKOFF, |d| d.min(MAX_BACKOFF)))
}

/// Drops accounts that are not locked and failed last longer ago than the longest lock.
fn forget_idle_in(accounts: &mut HashMap<String, Failures>, now: Instant) {
    accounts.retain(|_, f| {
        f.locked_until.is_some_and(|u| u > now) || now.duration_since(f.last) < MAX_BACKOFF
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    fn guard(free: u32, slots: usize) -> LoginGuard {
        LoginGuard::new(LoginLimits {
            attempts_per_ip_per_minute: 1000,
            failures_before_backoff: free,
            hash_concurrency: slots,
            queue_wait: Duration::from_millis(20),
        })
    }

    #[test]
    fn the_lock_doubles_after_the_free_failures_and_is_capped() {
        assert_eq!(backoff(4, 5), None);
        assert_eq!(backoff(5, 5), Some(Duration::from_secs(1)));
        assert_eq!(backoff(6, 5), Some(Duration::from_secs(2)));
        assert_eq!(backoff(9, 5), Some(Duration::from_secs(16)));
        assert_eq!(backoff(40, 5), Some(MAX_BACKOFF));
        assert_eq!(backoff(u32::MAX, 5), Some(MAX_BACKOFF));
    }

    #[test]
    fn an_account_locks_after_its_free_failures_and_a_success_unlocks_it() {
        let g = guard(3, 1);
        let ip: IpAddr = "192.0.2.1".parse().unwrap();
        for _ in 0..2 {
            g.admit(ip, "ann@x").unwrap();
            g.failed("ann@x");
        }
        g.admit(ip, "ann@x").unwrap();
        g.failed("ann@x");
        assert!(
            matches!(g.admit(ip, "ann@x"), Err(Refusal::Account(d)) if d <= Duration::from_secs(1))
        );
        assert_eq!(
            g.admit(ip, "bob@x"),
            Ok(()),
            "other accounts are not affected"
        );
        g.succeeded("ann@x");
        assert_eq!(g.admit(ip, "ann@x"), Ok(()));
    }

    #[test]
    fn the_ip_limit_counts_every_attempt() {
        let g = LoginGuard::new(LoginLimits {
            attempts_per_ip_per_minute: 2,
            ..guard(5, 1).limits
        });
        let ip: IpAddr = "192.0.2.2".parse().unwrap();
        g.admit(ip, "a").unwrap();
        g.admit(ip, "b").unwrap();
        assert!(matches!(g.admit(ip, "c"), Err(Refusal::Ip(_))));
        assert_eq!(g.admit("192.0.2.3".parse().unwrap(), "c"), Ok(()));
    }

    #[tokio::test]
    async fn slots_are_bounded_and_a_wait_past_the_queue_time_is_busy() {
        let g = guard(5, 2);
        let a = g.hash_slot().await.unwrap();
        let _b = g.hash_slot().await.unwrap();
        assert_eq!(g.hash_slot().await.unwrap_err(), Refusal::Busy);
        drop(a);
        assert!(g.hash_slot().await.is_ok());
    }

    #[test]
    fn keys_ignore_case_and_surrounding_space() {
        assert_eq!(
            LoginGuard::account_key(" Ann@Example.TEST "),
            "ann@example.test"
        );
    }
}
