//! Rate limits (governor's GCRA limiters) and the client IP they are keyed by.

use axum::http::HeaderMap;
use governor::clock::{Clock, DefaultClock};
use governor::{DefaultDirectRateLimiter, DefaultKeyedRateLimiter, Quota, RateLimiter};
use std::net::{IpAddr, SocketAddr};
use std::num::NonZeroU32;
use std::time::Duration;

/// The client's IP: the socket peer, or, when the peer is a trusted proxy, the
/// right-most `X-Forwarded-For` address that is not itself a trusted proxy.
///
/// Each proxy appends the address it received the request from (nginx's
/// `$proxy_add_x_forwarded_for`), so everything left of the last trusted hop's entry
/// was written by the client and proves nothing: taking the left-most entry let any
/// client pick a new "IP" per request and escape the per-IP limits. Walking from the
/// right, every trusted hop vouches for the entry before it; the first entry that is
/// not a trusted proxy is the client. An unreadable entry ends the walk at the last
/// address vouched for.
pub fn client_ip(peer: SocketAddr, headers: &HeaderMap, trusted: &[IpAddr]) -> IpAddr {
    let mut client = peer.ip();
    if !trusted.contains(&client) {
        return client;
    }
    for value in headers.get_all("x-forwarded-for").iter().rev() {
        let Ok(value) = value.to_str() else {
            return client;
        };
        for entry in value.rsplit(',') {
            match entry.trim().parse::<IpAddr>() {
                Ok(ip) => {
                    client = ip;
                    if !trusted.contains(&ip) {
                        return ip;
                    }
                }
                Err(_) => return client,
            }
        }
    }
    client
}

/// A per-IP limit of so many events per minute.
pub struct PerIpLimiter {
    limiter: DefaultKeyedRateLimiter<IpAddr>,
}

impl PerIpLimiter {
    /// Allows `per_minute` events per IP per minute, with that many as burst.
    pub fn per_minute(per_minute: u32) -> Self {
        let n = NonZeroU32::new(per_minute).unwrap_or(NonZeroU32::MIN);
        Self {
            limiter: RateLimiter::keyed(Quota::per_minute(n)),
        }
    }

    /// Counts one event for `ip`; `Err(wait)` when over the limit.
    ///
    /// # Errors
    /// Over the limit; the duration is when the next event would be allowed.
    pub fn check(&self, ip: IpAddr) -> Result<(), Duration> {
        self.limiter
            .check_key(&ip)
            .map_err(|not_until| not_until.wait_time_from(DefaultClock::default().now()))
    }

    /// Forgets IPs whose budget is full again, so the map does not grow without bound.
    pub fn forget_idle(&self) {
        self.limiter.retain_recent();
    }
}

/// Client frames per second for one connection.
pub fn frame_limiter(per_second: u32) -> DefaultDirectRateLimiter {
    RateLimiter::direct(Quota::per_second(
        NonZeroU32::new(per_second).unwrap_or(NonZeroU32::MIN),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn xff(value: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert("x-forwarded-for", value.parse().unwrap());
        headers
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn forwarded_for_is_used_only_from_trusted_peers() {
        let proxy: SocketAddr = "127.0.0.1:5000".parse().unwrap();
        let headers = xff("203.0.113.7");
        assert_eq!(
            client_ip(proxy, &headers, &[ip("127.0.0.1")]),
            ip("203.0.113.7")
        );
        assert_eq!(
            client_ip(proxy, &headers, &[]),
            proxy.ip(),
            "untrusted peer"
        );
    }

    /// What a client sends is left of what the proxy appends: a forged entry is never
    /// the client's address, whatever it says.
    #[test]
    fn a_forged_forwarded_for_entry_is_not_believed() {
        let proxy: SocketAddr = "127.0.0.1:5000".parse().unwrap();
        let trusted = [ip("127.0.0.1")];
        let forged = xff("1.2.3.4, 198.51.100.9");
        assert_eq!(client_ip(proxy, &forged, &trusted), ip("198.51.100.9"));
        let garbage = xff("not-an-ip, 198.51.100.9");
        assert_eq!(client_ip(proxy, &garbage, &trusted), ip("198.51.100.9"));
    }

    #[test]
    fn trusted_hops_are_skipped_from_the_right() {
        let proxy: SocketAddr = "127.0.0.1:5000".parse().unwrap();
        let trusted = [ip("127.0.0.1"), ip("10.0.0.1")];
        let chain = xff("6.6.6.6, 203.0.113.7, 10.0.0.1");
        assert_eq!(client_ip(proxy, &chain, &trusted), ip("203.0.113.7"));
        let mut two_headers = xff("6.6.6.6, 203.0.113.7");
        two_headers.append("x-forwarded-for", "10.0.0.1".parse().unwrap());
        assert_eq!(client_ip(proxy, &two_headers, &trusted), ip("203.0.113.7"));
        // Only trusted hops: the left-most of them; nothing readable: the peer.
        assert_eq!(client_ip(proxy, &xff("10.0.0.1"), &trusted), ip("10.0.0.1"));
        assert_eq!(client_ip(proxy, &xff("junk"), &trusted), proxy.ip());
        assert_eq!(client_ip(proxy, &HeaderMap::new(), &trusted), proxy.ip());
        // An unreadable header ends the walk like an unreadable entry.
        let mut broken = HeaderMap::new();
        broken.append("x-forwarded-for", "6.6.6.6".parse().unwrap());
        broken.append("x-forwarded-for", HeaderValue::from_bytes(b"\xff").unwrap());
        broken.append("x-forwarded-for", "10.0.0.1".parse().unwrap());
        assert_eq!(client_ip(proxy, &broken, &trusted), ip("10.0.0.1"));
    }

    #[test]
    fn per_ip_limit_counts_each_ip_separately() {
        let l = PerIpLimiter::per_minute(2);
        let a: IpAddr = "127.0.0.2".parse().unwrap();
        let b: IpAddr = "127.0.0.3".parse().unwrap();
        assert!(l.check(a).is_ok() && l.check(a).is_ok());
        assert!(l.check(a).is_err());
        assert!(l.check(b).is_ok());
    }
}
