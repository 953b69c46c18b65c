//! Sockets: the gateway's mio event loop ([`server`]), connection buffers, and the edge limits
//! ([`limits`]) that keep one client from hurting the others.

mod connection;
pub mod limits;
pub mod server;
