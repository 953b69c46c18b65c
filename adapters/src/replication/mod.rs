//! Replication between a primary and its hot standby: the wire protocol ([`protocol`]), where
//! their journals part ways ([`handshake`]), the primary's server that streams its journal
//! ([`primary`]) and the standby that applies it ([`standby`]).

pub mod handshake;
mod peer;
pub mod primary;
pub mod protocol;
pub mod standby;
