//! Hayate's business logic: the matching engine and the types it speaks.
//!
//! The engine is plain single-threaded code with no I/O, no clock and no threads: feed it
//! [`Command`]s, it answers with [`Event`]s. Two engines fed the same commands produce the same
//! event bytes and the same [`Engine::digest`].
//!
//! ```
//! use hayate_core::*;
//!
//! let config = CoreConfig::demo();
//! let mut engine = Engine::new(config.engine.clone());
//! let btc_jpy = config.engine.symbol_id("BTC-JPY").unwrap();
//! let jpy = config.engine.asset_id("JPY").unwrap();
//! let mut events = Vec::new();
//! engine.process(&Command::deposit(AccountId(1), jpy, Amount(10_000_000_000)), &mut events);
//! let order = NewOrder::limit(
//!     AccountId(1), btc_jpy, Side::Buy, Price(4_900_000), Qty(10), ClientOrderId::new("o-1").unwrap(),
//! );
//! engine.process(&Command::new_order(order), &mut events);
//! assert_eq!(events.last().unwrap().event_kind(), Some(EventKind::Accepted));
//! ```

#![warn(missing_docs)]

#[cfg(not(target_endian = "little"))]
compile_error!(
    "Hayate's POD commands and events are little-endian on the wire; big-endian hosts are not supported"
);

#[macro_use]
mod wire;

pub mod command;
pub mod config;
mod describe;
mod digest;
pub mod engine;
pub mod event;
mod fields;
pub mod market_data;
pub mod pipeline;
pub mod recovery;
pub mod units;

pub use command::{Command, CommandDecodeError, CommandKind, NewOrder, OrderRef};
pub use config::{ConfigError, CoreConfig};
pub use engine::{
    AccountBalance, AssetSpec, BreakerSpec, Engine, EngineConfig, OrderView, SnapshotError,
    SymbolSpec,
};
pub use event::{Balance, Event, EventKind, EventSink, Fill, OrderStatus, Reason};
pub use units::{
    AccountId, Amount, AssetId, ClientOrderId, MAX_AMOUNT, OrderId, OrderType, Price, Qty,
    SelfTradePrevention, Side, SymbolId, TimeInForce, TradeId,
};
