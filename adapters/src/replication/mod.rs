//! Replication between a primary and its hot standby: where their journals part ways
//! ([`handshake`]).

pub mod handshake;
