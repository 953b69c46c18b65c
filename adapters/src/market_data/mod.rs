//! The public market-data feed (BEHAVIOUR.md §9) over WebSocket, and `/book` and `/trades`: a thread of
//! its own ([`Feed`]) with its own builder, so subscribers never touch order entry.
//!
//! ```no_run
//! use std::sync::Arc;
//! use hayate_adapters::market_data::{Feed, FeedMetrics};
//! use hayate_adapters::config::ExchangeConfig;
//! use hayate_core::market_data::MarketData;
//!
//! let config = ExchangeConfig::demo();
//! let market = MarketData::new(config.engine_config()); // or market_data::recover(…)
//! let metrics = Arc::new(FeedMetrics::default());
//! let mut feed = Feed::start(config.market_data(), config.engine_config().clone(), market, metrics)?;
//! println!("subscribe at ws://{:?}", feed.ws_addr());
//! // For every event polled from the output ring: `feed.push(&out)`; after each batch:
//! feed.flush();
//! feed.stop();
//! # Ok::<(), std::io::Error>(())
//! ```
//!
//! A client: `cargo run --release --example watch -- BTC-JPY` (`examples/watch.rs`).

mod feed;
pub mod http;
pub(crate) mod json;
pub(crate) mod request;

pub use feed::{Feed, FeedMetrics, FeedQueries};
