//! A deserializer adapter that lets only a JSON object through.
//!
//! serde's internally tagged enums (`#[serde(tag = "type")]`) also accept a sequence
//! whose first element is the tag, so `["ping"]` decoded as a `ping` frame and
//! `["typing","start"]` as a typing frame: a second spelling of every client frame
//! that the protocol never names. serde has no attribute to turn that off; asking the
//! wrapped deserializer for a map instead of "anything" makes serde_json refuse a
//! sequence with an `invalid type` error, at no extra cost for an object.
//! Found by the `client_frame` fuzz target (fuzz/corpus/client_frame/crash-array-frame).

use serde::de::{Deserializer, Visitor};

/// Wraps a deserializer so that every request for a value becomes a request for a map.
pub(crate) struct ObjectOnly<D>(pub(crate) D);

impl<'de, D: Deserializer<'de>> Deserializer<'de> for ObjectOnly<D> {
    type Error = D::Error;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Self::Error> {
        self.0.deserialize_map(visitor)
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string
        bytes byte_buf option unit unit_struct newtype_struct seq tuple
        tuple_struct map struct enum identifier ignored_any
    }
}
