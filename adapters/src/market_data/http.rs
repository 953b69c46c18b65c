//! `GET /book/SYMBOL?depth=N` and `GET /trades/SYMBOL?limit=N`: the pages the feed's thread
//! answers from its own builder (so a page and the stream agree), kept apart from the thread so
//! the parsing of a request is tested alone.

use hayate_core::EngineConfig;
use hayate_core::market_data::{MarketData, TAPE_CAPACITY};

use super::json;

/// Levels per side of `/book` without `depth` (0 asks for the full book).
pub const DEFAULT_DEPTH: usize = 50;
/// Trades of `/trades` without `limit` (at most [`TAPE_CAPACITY`], what the tape keeps).
pub const DEFAULT_LIMIT: usize = 100;

const UNKNOWN_PRODUCT: &str = "{\"message\":\"unknown product\"}";

/// (status code, JSON body) for `url`, which starts with `/book/` or `/trades/`: 404 for an
/// unknown product, 400 for a `depth` or `limit` that is not a whole number.
pub fn page(market: &MarketData, engine: &EngineConfig, url: &str) -> (u16, String) {
    let (path, query) = url.split_once('?').unwrap_or((url, ""));
    let (book, name) = match path.strip_prefix("/book/") {
        Some(name) => (true, name),
        None => (false, path.strip_prefix("/trades/").unwrap_or("")),
    };
    let Some((symbol, spec)) = engine
        .symbol_id(name)
        .and_then(|id| Some((id, engine.symbol(id)?)))
    else {
        return (404, UNKNOWN_PRODUCT.to_owned());
    };
    let key = if book { "depth" } else { "limit" };
    let value = query
        .split('&')
        .find_map(|pair| pair.strip_prefix(key).and_then(|v| v.strip_prefix('=')));
    let number = match value.map(str::parse::<usize>) {
        None => None,
        Some(Ok(n)) => Some(n),
        Some(Err(_)) => {
            return (
                400,
                format!("{{\"message\":\"{key} must be a whole number\"}}"),
            );
        }
    };
    let mut body = String::with_capacity(1024);
    if book {
        let depth = number.unwrap_or(DEFAULT_DEPTH);
        json::book_page(&mut body, market, spec, symbol, depth);
    } else {
        let limit = number.unwrap_or(DEFAULT_LIMIT).clamp(1, TAPE_CAPACITY);
        json::trades_page(&mut body, market, spec, symbol, limit);
    }
    (200, body)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pages_refuse_unknown_products_and_bad_numbers() {
        let config = crate::config::ExchangeConfig::demo();
        let engine = config.engine_config();
        let market = MarketData::new(engine);
        let page = |url| page(&market, engine, url);
        assert_eq!(page("/book/NOPE"), (404, UNKNOWN_PRODUCT.to_owned()));
        assert_eq!(page("/trades/").0, 404);
        assert_eq!(page("/book/BTC-JPY?depth=x").0, 400);
        assert_eq!(page("/trades/BTC-JPY?limit=-1").0, 400);
        let (code, body) = page("/book/BTC-JPY?depth=0&x=1");
        assert_eq!(code, 200);
        assert!(
            body.starts_with("{\"product_id\":\"BTC-JPY\",\"sequence\":0,"),
            "{body}"
        );
        assert_eq!(page("/trades/BTC-JPY?limit=0"), (200, "[]".to_owned()));
    }
}
