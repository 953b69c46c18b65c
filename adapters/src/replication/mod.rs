//! Replication between a primary and its hot standby: where their journals part ways
//! ([`handshake`]) and how the standby applies the primary's records ([`standby`]).

pub mod handshake;
pub mod standby;
