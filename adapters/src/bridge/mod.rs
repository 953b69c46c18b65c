//! The bridge: an observer of the primary's journal that applies it with the same engine and
//! publishes what the core produced to systems built for what one machine cannot do — NATS
//! JetStream for fan-out to market-data edges and drop-copy consumers, PostgreSQL for the back
//! office. The exchange never waits for it: it reads the journal as an observer on the
//! replication port, and its cursors live in the sinks, committed with the data.
//!
//! - [`rows`]: what one command produced, in the units people read ([`Applied`]);
//! - [`apply`]: the engine and the market-data builder that turn commands into [`Applied`];
//! - [`sink`]: the [`Sink`] each external system implements;
//! - [`nats`]: the NATS JetStream sink ([`NatsSink`]).

pub mod apply;
pub mod nats;
pub mod rows;
pub mod sink;

pub use apply::Applier;
pub use nats::{NatsSettings, NatsSink, subject_token};
pub use rows::{
    Applied, BalanceRow, MarketChannel, MarketMessage, MarketSnapshot, OrderEventRow, TradeRow,
};
pub use sink::{Sink, SinkError};
