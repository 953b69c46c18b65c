//! The bridge: an observer of the primary's journal that applies it with the same engine and
//! publishes what the core produced to systems built for what one machine cannot do — NATS
//! JetStream for fan-out to market-data edges and drop-copy consumers, PostgreSQL for the back
//! office. The exchange never waits for it: it reads the journal as an observer on the
//! replication port, and its cursors live in the sinks, committed with the data.
//!
//! - [`config`]: its configuration file;
//! - [`rows`]: what one command produced, in the units people read ([`Applied`]);
//! - [`apply`]: the engine and the market-data builder that turn commands into [`Applied`];
//! - [`sink`]: the [`Sink`] each external system implements;
//! - [`runner`]: the loop that observes the primary, applies and writes ([`Bridge`]);
//! - [`metrics`]: its `/metrics` (lag in sequences and seconds, per sink);
//! - [`nats`]: the NATS JetStream sink ([`NatsSink`]);
//! - [`postgres`]: the back office's sink, [`PostgresSink`] (tables `trades`, `order_events`,
//!   `balances`, cursor in `bridge_cursor`);
//! - [`edge`]: a market-data edge serving the WebSocket feed from JetStream ([`edge::Edge`]).

pub mod apply;
pub mod config;
pub mod edge;
pub mod metrics;
pub mod nats;
pub mod postgres;
pub mod rows;
pub mod runner;
pub mod sink;

pub use self::postgres::PostgresSink;
pub use apply::Applier;
pub use nats::{NatsSettings, NatsSink, subject_token};
pub use rows::{
    Applied, BalanceRow, MarketChannel, MarketMessage, MarketSnapshot, OrderEventRow, TradeRow,
};
pub use runner::{Bridge, BridgeSettings, BridgeStatus};
pub use sink::{Sink, SinkError};
