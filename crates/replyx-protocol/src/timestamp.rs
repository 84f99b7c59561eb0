//! Timestamps on the wire: RFC 3339 in UTC with `Z`, and as many fraction digits as
//! the time needs (0, 3, 6 or 9), exactly as chrono's own `Serialize` writes them.
//!
//! Why not chrono's `Serialize`: it hands serde_json a `Display`, which serde_json
//! escapes one character at a time through `fmt::Write`. A profile of the message path
//! (`scripts/profile cpu`) put that at about 5,000 instructions per stored message,
//! which writes its time four times (the stored payload, two streams' frames, the
//! POST's answer). Formatted into a string first and written as one, it is one copy:
//! about 4,500 instructions fewer per message, a fifth of encoding an event.

use chrono::{DateTime, SecondsFormat, Utc};
use serde::Serializer;

/// `#[serde(serialize_with = "crate::timestamp::serialize")]`.
///
/// # Errors
/// Those of the serializer.
pub fn serialize<S: Serializer>(at: &DateTime<Utc>, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.serialize_str(&at.to_rfc3339_opts(SecondsFormat::AutoSi, true))
}

#[cfg(test)]
mod tests {
    use chrono::{DateTime, TimeZone, Utc};
    use serde::Serialize;

    #[derive(Serialize)]
    struct Ours(#[serde(serialize_with = "super::serialize")] DateTime<Utc>);

    #[test]
    fn writes_what_chrono_writes_for_every_precision() {
        let base = Utc.with_ymd_and_hms(2026, 12, 7, 3, 4, 5).unwrap();
        // Whole seconds, milliseconds, microseconds, nanoseconds, and the edges of
        // each (AutoSi picks the digits by what the nanoseconds need).
        let nanos = [
            0,
            1,
            999,
            1_000,
            120_000,
            999_000,
            1_000_000,
            5_000_000,
            123_000_000,
            123_456_000,
            123_456_789,
            999_999_999,
        ];
        for n in nanos {
            let at = base + chrono::Duration::nanoseconds(n);
            let ours = serde_json::to_string(&Ours(at)).unwrap();
            let chrono = serde_json::to_string(&at).unwrap();
            assert_eq!(ours, chrono, "{n} ns");
            let back: DateTime<Utc> = serde_json::from_str(&ours).unwrap();
            assert_eq!(back, at, "reads back as the same instant");
        }
        let epoch = serde_json::to_string(&Ours(DateTime::<Utc>::UNIX_EPOCH)).unwrap();
        assert_eq!(epoch, "\"1970-01-01T00:00:00Z\"");
    }
}
