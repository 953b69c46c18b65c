//! The bridge: an observer of the primary's journal that applies it with the same engine and
//! publishes what the core produced to systems built for what one machine cannot do — NATS
//! JetStream for fan-out to market-data edges and drop-copy consumers, PostgreSQL for the back
//! office. The exchange never waits for it: it reads the journal as an observer on the
//! replication port, and its cursors live in the sinks, committed with the data.
//!
//! - [`rows`]: what one command produced, in the units people read ([`Applied`]);
//! - [`apply`]: the engine and the market-data builder that turn commands into [`Applied`];
//! - [`sink`]: the [`Sink`] each external system implements;
//! - [`postgres`]: the back office's sink, [`PostgresSink`] (tables `trades`, `order_events`,
//!   `balances`, cursor in `bridge_cursor`).

pub mod apply;
pub mod postgres;
pub mod rows;
pub mod sink;

pub use self::postgres::PostgresSink;
pub use apply::Applier;
pub use rows::{
    Applied, BalanceRow, MarketChannel, MarketMessage, MarketSnapshot, OrderEventRow, TradeRow,
};
pub use sink::{Sink, SinkError};
