//! The bounds of every number and duration among the settings, checked once at start.
//! A value outside them is refused with a message naming the setting in all three of
//! its spellings (TOML key, environment variable, flag), because left alone it fails
//! far from its cause: `tokio::time::interval` panics on a zero period (a zero
//! heartbeat panicked every session; a zero bus poll interval killed the poll task
//! while health stayed green), a zero-capacity channel panics, a zero rate limit
//! silently means one.
//!
//! Each bound is the widest range the server works correctly in, not a recommendation.

use super::Settings;
use std::time::Duration;

/// The range a setting must lie in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Bound {
    /// A count, `min..=max`.
    Count {
        /// Smallest allowed.
        min: u64,
        /// Largest allowed.
        max: u64,
    },
    /// A duration, `min..=max`.
    Time {
        /// Shortest allowed.
        min: Duration,
        /// Longest allowed.
        max: Duration,
    },
    /// A duration that is either zero (the feature is off) or within `min..=max`.
    TimeOrOff {
        /// Shortest allowed when on.
        min: Duration,
        /// Longest allowed.
        max: Duration,
    },
}

/// One setting's current value.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Value {
    /// A count.
    Count(u64),
    /// A duration.
    Time(Duration),
}

/// A setting, its value and its bound.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Rule {
    /// The TOML key (snake case); the variable and flag are derived from it.
    pub(crate) key: &'static str,
    pub(crate) value: Value,
    pub(crate) bound: Bound,
}

const fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

const fn secs(n: u64) -> Duration {
    Duration::from_secs(n)
}

fn count(key: &'static str, value: impl TryInto<u64>, min: u64, max: u64) -> Rule {
    Rule {
        key,
        value: Value::Count(value.try_into().unwrap_or(u64::MAX)),
        bound: Bound::Count { min, max },
    }
}

fn time(key: &'static str, value: Duration, min: Duration, max: Duration) -> Rule {
    Rule {
        key,
        value: Value::Time(value),
        bound: Bound::Time { min, max },
    }
}

/// Every bounded setting of `s`.
pub(crate) fn rules(s: &Settings) -> Vec<Rule> {
    let l = &s.limits;
    vec![
        count("listen_backlog", s.listen_backlog, 1, 65_535),
        count(
            "max_visitor_connections_per_dialog",
            l.max_visitor_connections_per_dialog,
            1,
            100_000,
        ),
        count(
            "max_admin_connections_per_dialog",
            l.max_admin_connections_per_dialog,
            1,
            100_000,
        ),
        count("max_connections", l.max_connections, 1, 10_000_000),
        count(
            "ws_connects_per_ip_per_minute",
            l.ws_connects_per_ip_per_minute,
            1,
            100_000_000,
        ),
        count(
            "visitor_requests_per_ip_per_minute",
            l.visitor_requests_per_ip_per_minute,
            1,
            100_000_000,
        ),
        count(
            "login_attempts_per_ip_per_minute",
            l.login.attempts_per_ip_per_minute,
            1,
            1_000_000,
        ),
        count(
            "login_failures_before_backoff",
            l.login.failures_before_backoff,
            1,
            1_000,
        ),
        // Each verification holds ~19 MiB: 64 at once is over a gigabyte already.
        count("login_hash_concurrency", l.login.hash_concurrency, 1, 64),
        time(
            "login_queue_wait",
            l.login.queue_wait,
            Duration::ZERO,
            secs(30),
        ),
        count(
            "client_frames_per_second",
            l.client_frames_per_second,
            1,
            10_000,
        ),
        // Below 64 bytes not even a `read` frame fits; above 16 MiB one socket could
        // hold a quarter of a gigabyte in its read buffer (frames up to 4x are read).
        count("max_frame_bytes", l.max_frame_bytes, 64, 16 << 20),
        count("max_message_chars", l.max_message_chars, 1, 100_000),
        count("outbox_capacity", l.outbox_capacity, 1, 1_000_000),
        count(
            "max_dialogs_per_operator",
            l.max_dialogs_per_operator,
            1,
            100_000,
        ),
        time(
            "heartbeat_interval",
            l.heartbeat_interval,
            ms(50),
            secs(600),
        ),
        time(
            "heartbeat_timeout",
            l.heartbeat_timeout,
            ms(100),
            secs(3600),
        ),
        time("drain_grace", s.drain_grace, ms(100), secs(3600)),
        time("bus_poll_interval", s.bus_poll_interval, ms(1), secs(10)),
        time(
            "operator_token_ttl",
            s.operator_token_ttl,
            secs(60),
            secs(90 * 24 * 3600),
        ),
        // Past a few minutes a half-sent request holds its connection as if unbounded.
        time(
            "http_header_timeout",
            s.http_header_timeout,
            ms(100),
            secs(600),
        ),
        time("http_body_timeout", s.http_body_timeout, ms(100), secs(600)),
        // Token expiry is counted in whole seconds; a year is past any visitor's return.
        time(
            "guest_token_ttl",
            s.guest_token_ttl,
            secs(1),
            secs(365 * 24 * 3600),
        ),
        time(
            "session_check_interval",
            s.session_check_interval,
            ms(50),
            secs(60),
        ),
        // Zero turns the cache off; past a minute a change on another process takes
        // longer to apply than an operator would wait for it.
        time(
            "assistant_cache_ttl",
            s.assistant_cache_ttl,
            Duration::ZERO,
            secs(60),
        ),
        // Presence is beaten every sixth of the grace: at least 50 ms apart.
        time("presence_grace", s.presence_grace, ms(300), secs(3600)),
        time(
            "assistant_reply_delay",
            s.assistant_reply_delay,
            Duration::ZERO,
            secs(60),
        ),
        Rule {
            key: "canary_interval",
            value: Value::Time(s.canary_interval),
            bound: Bound::TimeOrOff {
                min: ms(50),
                max: secs(3600),
            },
        },
        time("canary_timeout", s.canary_timeout, ms(10), secs(60)),
    ]
}

/// The three spellings of a setting, for error messages.
pub(crate) fn spellings(key: &str) -> String {
    format!(
        "{key} (REPLYX_{}, --{})",
        key.to_ascii_uppercase(),
        key.replace('_', "-")
    )
}

fn show(d: Duration) -> String {
    humantime::format_duration(d).to_string()
}

impl Rule {
    /// `Err` with a message naming the setting when the value is out of bounds.
    pub(crate) fn check(&self) -> Result<(), String> {
        let name = spellings(self.key);
        match (self.bound, self.value) {
            (Bound::Count { min, max }, Value::Count(v)) if !(min..=max).contains(&v) => {
                Err(format!("{name} must be between {min} and {max}; got {v}"))
            }
            (Bound::Time { min, max }, Value::Time(v)) if !(min..=max).contains(&v) => {
                Err(format!(
                    "{name} must be between {} and {}; got {}",
                    show(min),
                    show(max),
                    show(v)
                ))
            }
            (Bound::TimeOrOff { min, max }, Value::Time(v))
                if !v.is_zero() && !(min..=max).contains(&v) =>
            {
                Err(format!(
                    "{name} must be 0s (off) or between {} and {}; got {}",
                    show(min),
                    show(max),
                    show(v)
                ))
            }
            _ => Ok(()),
        }
    }
}

/// Checks every bound, then the relations between settings.
pub(crate) fn check(s: &Settings) -> anyhow::Result<()> {
    let problems: Vec<String> = rules(s).iter().filter_map(|r| r.check().err()).collect();
    anyhow::ensure!(problems.is_empty(), "{}", problems.join("; "));
    anyhow::ensure!(
        s.limits.heartbeat_timeout > s.limits.heartbeat_interval,
        "{} must be longer than {}",
        spellings("heartbeat_timeout"),
        spellings("heartbeat_interval")
    );
    // On a shared file the canary's note comes back through the change feed: a timeout
    // under two poll intervals would fail rounds that work.
    anyhow::ensure!(
        s.canary_interval.is_zero() || s.canary_timeout >= s.bus_poll_interval * 2,
        "{} must be at least twice {} (the canary's round trip waits for a poll)",
        spellings("canary_timeout"),
        spellings("bus_poll_interval")
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{ServeOptions, Settings};

    /// The TOML spelling of a value of the same kind as `value`.
    fn toml_value(value: Value, n: u128) -> String {
        match value {
            Value::Count(_) => n.to_string(),
            Value::Time(_) => format!("\"{n}ms\""),
        }
    }

    fn millis(d: Duration) -> u128 {
        d.as_millis()
    }

    /// Resolves settings from one TOML line, as an operator would write it.
    fn resolve(line: &str) -> anyhow::Result<Settings> {
        let options: ServeOptions = toml::from_str(line).expect("the test writes valid TOML");
        Settings::resolve(options)
    }

    /// (just outside the bound, the bound itself) pairs of a rule, in the rule's unit
    /// (milliseconds for durations).
    fn edges(bound: Bound) -> Vec<(Option<u128>, u128)> {
        match bound {
            Bound::Count { min, max } => vec![
                (min.checked_sub(1).map(u128::from), u128::from(min)),
                (Some(u128::from(max) + 1), u128::from(max)),
            ],
            Bound::Time { min, max } | Bound::TimeOrOff { min, max } => vec![
                (millis(min).checked_sub(1), millis(min)),
                (Some(millis(max) + 1), millis(max)),
            ],
        }
    }

    /// Every bound of every setting, through the real parser: one past each end is
    /// refused with a message naming the setting; each end itself is within range.
    #[test]
    fn every_bound_refuses_the_value_past_it_and_accepts_the_bound() {
        let defaults = Settings::resolve(ServeOptions::default()).expect("defaults are valid");
        let all = rules(&defaults);
        assert!(all.len() >= 22, "a bounded setting went missing");
        for rule in all {
            for (outside, at) in edges(rule.bound) {
                if let Some(outside) = outside {
                    // Zero turns the canary off: the one value below its minimum that is valid.
                    let off = matches!(rule.bound, Bound::TimeOrOff { .. }) && outside == 0;
                    let line = format!("{} = {}", rule.key, toml_value(rule.value, outside));
                    match resolve(&line) {
                        Ok(_) => assert!(off, "{line}: accepted"),
                        Err(e) => {
                            let e = e.to_string();
                            assert!(!off, "{line}: refused: {e}");
                            assert!(
                                e.contains(&spellings(rule.key)),
                                "{line}: the error names the setting: {e}"
                            );
                        }
                    }
                }
                let line = format!("{} = {}", rule.key, toml_value(rule.value, at));
                let options: ServeOptions = toml::from_str(&line).unwrap();
                let settings = Settings::from_options_unchecked(options);
                let mine = rules(&settings)
                    .into_iter()
                    .find(|r| r.key == rule.key)
                    .unwrap();
                assert_eq!(mine.check(), Ok(()), "{line}: the bound itself is allowed");
            }
        }
    }

    #[test]
    fn the_zero_durations_that_used_to_panic_are_refused_by_name() {
        for (key, var) in [
            ("heartbeat_interval", "REPLYX_HEARTBEAT_INTERVAL"),
            ("bus_poll_interval", "REPLYX_BUS_POLL_INTERVAL"),
        ] {
            let e = resolve(&format!("{key} = \"0s\"")).unwrap_err().to_string();
            assert!(e.contains(var), "{e}");
        }
        let e = resolve("outbox_capacity = 0").unwrap_err().to_string();
        assert!(e.contains("REPLYX_OUTBOX_CAPACITY"), "{e}");
    }

    #[test]
    fn the_canary_timeout_must_leave_room_for_two_polls_while_the_canary_is_on() {
        let e = resolve("bus_poll_interval = \"3s\"")
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("REPLYX_CANARY_TIMEOUT") && e.contains("REPLYX_BUS_POLL_INTERVAL"),
            "{e}"
        );
        assert!(
            resolve("bus_poll_interval = \"2500ms\"").is_ok(),
            "exactly twice is enough"
        );
        let off: ServeOptions =
            toml::from_str("bus_poll_interval = \"3s\"\ncanary_interval = \"0s\"").unwrap();
        assert!(Settings::resolve(off).is_ok(), "no canary, no relation");
    }

    #[test]
    fn the_heartbeat_timeout_must_be_longer_than_the_interval() {
        let e = resolve("heartbeat_interval = \"40s\"")
            .unwrap_err()
            .to_string();
        assert!(e.contains("REPLYX_HEARTBEAT_TIMEOUT"), "{e}");
        assert!(resolve("heartbeat_interval = \"39s\"").is_ok());
    }
}
