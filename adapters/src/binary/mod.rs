//! The binary order-entry protocol (see `adapters/BINARY_PROTOCOL.md`): framing ([`codec`]),
//! messages ([`messages`]) and their mapping to engine commands (`orders`).

pub mod client;
pub mod codec;
pub mod messages;
pub(crate) mod orders;
