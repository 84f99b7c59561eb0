//! The pure domain of ReplyX Realtime: stored events and their audiences, handoff
//! transitions, and the `Store`, `Bus` and `Responder`-facing types that the I/O
//! crates implement. No I/O crate is a dependency here, so these rules are unit-tested
//! without sockets or databases.
#![warn(missing_docs)]

pub mod accounts;
pub mod audience;
pub mod bus;
pub mod canned;
pub mod delivery;
pub mod error;
pub mod handoff;
pub mod identity;
pub mod model;
pub mod presence;
pub mod rules;
pub mod store;

pub use accounts::{AccountStatus, NewSession, OperatorPatch, Role, SessionRecord};
pub use audience::{may_receive, Delivery};
pub use bus::{BrokerTraffic, Bus, BusMessage, BusSink, Signal, SignalBody, Topic};
pub use canned::CannedResponse;
pub use error::StoreError;
pub use handoff::{HandoffAction, HandoffError, Limits, OperatorAction, ReleaseTo, Transition};
pub use identity::{GuestDialog, IdentityKey, IdentityMode};
pub use model::{
    Assistant, AssistantPatch, DialogQuery, DialogRecord, NewAssistant, NewMessage, NewOperator,
    Operator, OperatorRecord, ReplyRule, StoredEvent, Stream,
};
pub use presence::{OperatorPresence, PresenceChange};
pub use store::{Appended, AppendedTo, ChangeBatch, ChangeCursor, Store};
