//! Replication between a primary and its hot standby: the wire protocol (`protocol`), where
//! their journals part ways (`handshake`), the primary's server that streams its journal
//! ([`primary`]) and the standby that applies it ([`standby`]); `role` is what the node is now,
//! and [`node`] runs either side inside a gateway, including the promotion. Every connection
//! first proves both ends hold the pair's secret ([`auth`]).

pub mod auth;
pub(crate) mod handshake;
pub mod node;
pub mod observer;
pub mod observers;
mod peer;
pub mod primary;
pub(crate) mod protocol;
pub(crate) mod role;
pub mod standby;
