//! The public market-data feed (SPEC §9) over WebSocket, and `/book` and `/trades`: a thread of
//! its own ([`Feed`]) with its own builder, so subscribers never touch order entry.
//!
//! ```no_run
//! // In the gateway: for every output event, `feed.push(&out)`; after each batch, `feed.flush()`.
//! // A client: cargo run --release --example watch -- BTC-JPY
//! ```

mod feed;
pub mod json;
pub mod request;

pub use feed::{Feed, FeedMetrics, FeedQueries};
