//! Sockets: the gateway's mio event loop ([`server`]), connection buffers, length-prefixed
//! framing ([`framing`]), and the edge limits ([`limits`]) that keep one client from hurting the
//! others.

mod connection;
pub mod framing;
pub mod limits;
pub mod server;
