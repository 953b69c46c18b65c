//! Sockets: the gateway's mio event loop ([`server`]) and its connection buffers. Framing and
//! the edge limits are shared with the feed and replication, so they sit beside this module
//! ([`crate::framing`], [`crate::limits`]), not in it.

mod connection;
pub mod server;
