//! Id parsing: the uuid ids of paths, queries and bodies (`DialogId`, `AssistantId`,
//! `OperatorId`, `MessageId`, `ConnectionId`) and the client-chosen `ClientId` and
//! `GuestId`. A parsed uuid id prints in canonical form and parses back to itself;
//! JSON and `FromStr` accept the same strings as the same id; a client-chosen id is
//! accepted exactly when it is 8 to 64 characters of `[A-Za-z0-9_-]`, whichever way
//! it comes in.
#![no_main]

use libfuzzer_sys::fuzz_target;
use replyx_protocol::{
    AssistantId, ClientId, ConnectionId, DialogId, GuestId, MessageId, OperatorId,
};
use serde::de::DeserializeOwned;
use serde_json::Value;
use std::fmt::{Debug, Display};
use std::str::FromStr;

fn uuid_id<T>(s: &str)
where
    T: FromStr + Display + DeserializeOwned + PartialEq + Debug,
{
    let parsed = s.parse::<T>().ok();
    let from_json = serde_json::from_value::<T>(Value::String(s.to_owned())).ok();
    assert_eq!(parsed, from_json, "FromStr and JSON disagree on {s:?}");
    if let Some(id) = parsed {
        let shown = id.to_string();
        assert_eq!(shown.len(), 36, "{shown}");
        assert!(
            shown
                .bytes()
                .all(|b| b == b'-' || b.is_ascii_digit() || (b'a'..=b'f').contains(&b)),
            "{shown}"
        );
        assert_eq!(
            shown.parse::<T>().ok(),
            Some(id),
            "{shown} does not parse back"
        );
    }
}

fn is_token(s: &str) -> bool {
    (8..=64).contains(&s.len())
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

fuzz_target!(|data: &[u8]| {
    let Ok(s) = std::str::from_utf8(data) else {
        return;
    };
    uuid_id::<DialogId>(s);
    uuid_id::<AssistantId>(s);
    uuid_id::<OperatorId>(s);
    uuid_id::<MessageId>(s);
    uuid_id::<ConnectionId>(s);

    let json = Value::String(s.to_owned());
    let guest = GuestId::parse(s);
    assert_eq!(guest.is_some(), is_token(s), "GuestId::parse({s:?})");
    assert_eq!(
        serde_json::from_value::<GuestId>(json.clone()).ok(),
        guest,
        "a GuestId from JSON skips its validation: {s:?}"
    );
    if let Some(g) = &guest {
        assert_eq!(g.as_str(), s);
        assert_eq!(g.to_string(), s);
    }
    let client = ClientId::parse(s);
    assert_eq!(client.is_some(), is_token(s), "ClientId::parse({s:?})");
    assert_eq!(
        serde_json::from_value::<ClientId>(json).ok(),
        client,
        "a ClientId from JSON skips its validation: {s:?}"
    );
});
