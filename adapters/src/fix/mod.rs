//! FIX 4.4: framing, parsing and encoding ([`codec`]), the data dictionary ([`dictionary`]), the
//! session layer ([`session`]) with its persisted sequence numbers ([`seq_store`]) and sent
//! messages ([`message_store`]), and the
//! mapping of order messages to engine commands and of engine events to reports (`orders`).

pub mod codec;
pub mod dictionary;
pub mod market_data;
pub mod message_store;
pub(crate) mod orders;
pub mod seq_store;
pub mod session;
