//! Client WebSocket frames, decoded as the session decodes a text frame. A frame that
//! decodes is a JSON object with a known `type` and no key the protocol does not name,
//! and it re-encodes to JSON that decodes to the same frame. Server frames and events
//! (which `replyx probe` and the test kit decode) must round-trip too.
#![no_main]

use libfuzzer_sys::fuzz_target;
use replyx_protocol::{ClientFrame, Event, ServerFrame};
use serde_json::Value;

fuzz_target!(|data: &[u8]| {
    // WebSocket text frames are UTF-8; the session decodes them with `from_str`.
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(frame) = serde_json::from_str::<ClientFrame>(text) {
        let value: Value = serde_json::from_str(text).expect("a decoded frame is valid JSON");
        let object = value.as_object().expect("a decoded frame is a JSON object");
        let allowed: &[&str] = match &frame {
            ClientFrame::Ping {} => &["type"],
            ClientFrame::Typing { .. } => &["type", "state"],
            ClientFrame::Read { .. } => &["type", "up_to"],
            ClientFrame::MessageSend { .. } => &["type", "text", "client_msg_id", "internal"],
        };
        for key in object.keys() {
            assert!(
                allowed.contains(&key.as_str()),
                "{key:?} accepted in {frame:?}"
            );
        }
        let tag = object.get("type").and_then(Value::as_str);
        let expected = match frame {
            ClientFrame::Ping {} => "ping",
            ClientFrame::Typing { .. } => "typing",
            ClientFrame::Read { .. } => "read",
            ClientFrame::MessageSend { .. } => "message.send",
        };
        assert_eq!(tag, Some(expected), "type tag of {frame:?}");
        let encoded = serde_json::to_string(&frame).expect("a frame encodes");
        let again: ClientFrame = serde_json::from_str(&encoded).expect("an encoded frame decodes");
        assert_eq!(again, frame, "round trip through {encoded}");
    }
    if let Ok(frame) = serde_json::from_str::<ServerFrame>(text) {
        let encoded = serde_json::to_string(&frame).expect("a server frame encodes");
        let again: ServerFrame = serde_json::from_str(&encoded).expect("it decodes again");
        assert_eq!(again, frame, "round trip through {encoded}");
    }
    if let Ok(event) = serde_json::from_str::<Event>(text) {
        let encoded = serde_json::to_string(&event).expect("an event encodes");
        let again: Event = serde_json::from_str(&encoded).expect("it decodes again");
        assert_eq!(again, event, "round trip through {encoded}");
    }
});
