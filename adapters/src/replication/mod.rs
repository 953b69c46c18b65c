//! Replication between a primary and its hot standby: the wire protocol ([`protocol`]), where
//! their journals part ways ([`handshake`]) and how the standby applies the primary's records
//! ([`standby`]).

pub mod handshake;
pub mod protocol;
pub mod standby;
