//! The ReplyX realtime protocol v1 as types: every id, frame, event, close code and
//! error code that crosses the wire. PROTOCOL.md is the source of truth; this crate is
//! its one Rust spelling, shared by the server, the test kit, benches and load tools.
//!
//! Invariants: wire strings (event names, codes) are spelled here once; nothing in
//! this crate does I/O.
#![warn(missing_docs)]

pub mod close_code;
pub mod error_code;
pub mod event;
pub mod frame;
pub mod ids;
pub mod kind;
mod object_only;
pub mod presence;
pub mod timestamp;
pub mod view;

pub use close_code::{CloseCode, ReconnectPolicy};
pub use error_code::ErrorCode;
pub use event::{
    DialogStatus, Event, EventPayload, Message, OperatorRef, Rating, Sender, StatusReason,
};
pub use frame::{ClientFrame, Reader, ServerFrame, TypingActor, TypingState};
pub use ids::{
    AssistantId, ClientId, ConnectionId, DialogId, GuestId, MessageId, OperatorId, Seq, SessionId,
};
pub use kind::ConnectionKind;
pub use presence::{PresenceState, QueueStanding};
pub use view::{DialogSummary, DialogView, MessagePreview, VisitorContext, VisitorIdentity};
