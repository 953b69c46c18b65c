//! What a WebSocket client may ask: `subscribe` and `unsubscribe`, in Coinbase's shape —
//! `{"type":"subscribe","product_ids":["BTC-JPY"],"channels":["level2",{"name":"ticker","product_ids":["BTC-JPY"]}]}`.
//! Anything else is refused with a message that says what is wrong (the connection stays open).

use hayate_core::EngineConfig;
use hayate_core::units::SymbolId;
use serde_json::Value;

/// A feed channel.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Channel {
    /// Snapshot, then `l2update`s.
    Level2 = 0,
    /// One `match` per trade.
    Matches = 1,
    /// Best bid/offer and last trade, when they change.
    Ticker = 2,
    /// Trading status, when it changes.
    Status = 3,
}

impl Channel {
    /// Every channel, in index order.
    pub const ALL: [Channel; 4] = [
        Channel::Level2,
        Channel::Matches,
        Channel::Ticker,
        Channel::Status,
    ];

    /// Its name in the protocol.
    pub fn name(self) -> &'static str {
        match self {
            Channel::Level2 => "level2",
            Channel::Matches => "matches",
            Channel::Ticker => "ticker",
            Channel::Status => "status",
        }
    }

    fn from_name(name: &str) -> Option<Channel> {
        Channel::ALL.into_iter().find(|c| c.name() == name)
    }
}

/// A client's request, checked against the configured products.
#[derive(Debug, PartialEq, Eq)]
pub struct Request {
    /// `true` for subscribe, `false` for unsubscribe.
    pub subscribe: bool,
    /// (product, channel) pairs, without repeats.
    pub pairs: Vec<(SymbolId, Channel)>,
}

/// Reads one client message; the error is what the `error` message says.
pub fn parse(text: &str, engine: &EngineConfig) -> Result<Request, String> {
    let value: Value = serde_json::from_str(text).map_err(|e| format!("malformed JSON: {e}"))?;
    let subscribe = match value.get("type").and_then(Value::as_str) {
        Some("subscribe") => true,
        Some("unsubscribe") => false,
        Some(other) => return Err(format!("unknown message type {other:?}")),
        None => return Err("a message needs a \"type\": subscribe or unsubscribe".to_owned()),
    };
    let products = |value: Option<&Value>| -> Result<Vec<SymbolId>, String> {
        let Some(value) = value else {
            return Ok(Vec::new());
        };
        let list = value
            .as_array()
            .ok_or_else(|| "product_ids must be a list".to_owned())?;
        list.iter()
            .map(|p| {
                let name = p
                    .as_str()
                    .ok_or_else(|| "product_ids must be strings".to_owned())?;
                engine
                    .symbol_id(name)
                    .ok_or_else(|| format!("unknown product {name:?}"))
            })
            .collect()
    };
    let top = products(value.get("product_ids"))?;
    let channels = value
        .get("channels")
        .and_then(Value::as_array)
        .ok_or_else(|| "channels must be a list".to_owned())?;
    let mut pairs = Vec::new();
    for channel in channels {
        let (name, own) = match channel {
            Value::String(name) => (name.as_str(), Vec::new()),
            Value::Object(_) => (
                channel
                    .get("name")
                    .and_then(Value::as_str)
                    .ok_or_else(|| "a channel object needs a \"name\"".to_owned())?,
                products(channel.get("product_ids"))?,
            ),
            _ => return Err("channels must be names or objects".to_owned()),
        };
        let channel =
            Channel::from_name(name).ok_or_else(|| format!("unknown channel {name:?}"))?;
        let list = if own.is_empty() { &top } else { &own };
        for &symbol in list {
            if !pairs.contains(&(symbol, channel)) {
                pairs.push((symbol, channel));
            }
        }
    }
    if pairs.is_empty() {
        return Err("no product and channel to (un)subscribe".to_owned());
    }
    Ok(Request { subscribe, pairs })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn engine() -> EngineConfig {
        crate::config::ExchangeConfig::demo()
            .engine_config()
            .clone()
    }

    #[test]
    fn reads_coinbase_shaped_subscriptions() {
        let request = parse(
            r#"{"type":"subscribe","product_ids":["BTC-JPY"],"channels":["level2",{"name":"ticker","product_ids":["BTC-JPY"]}]}"#,
            &engine(),
        )
        .expect("valid");
        assert!(request.subscribe);
        assert_eq!(
            request.pairs,
            vec![
                (SymbolId(0), Channel::Level2),
                (SymbolId(0), Channel::Ticker)
            ]
        );
    }

    #[test]
    fn refuses_what_it_cannot_serve_with_a_reason() {
        for (text, why) in [
            ("nope", "malformed JSON"),
            (r#"{"type":"dance"}"#, "unknown message type"),
            (r#"{"channels":[]}"#, "needs a \"type\""),
            (
                r#"{"type":"subscribe","product_ids":["X"],"channels":["level2"]}"#,
                "unknown product",
            ),
            (
                r#"{"type":"subscribe","product_ids":["BTC-JPY"],"channels":["gossip"]}"#,
                "unknown channel",
            ),
            (
                r#"{"type":"subscribe","product_ids":["BTC-JPY"],"channels":[]}"#,
                "no product",
            ),
        ] {
            let error = parse(text, &engine()).expect_err(text);
            assert!(error.contains(why), "{text}: {error}");
        }
    }
}
