//! [`super::MarketData::save`] and [`super::MarketData::load`]: the builder's state as bytes.
//!
//! Layout (little-endian): magic `HAYMD`, format, the symbol names (a snapshot taken under other
//! symbols is refused), the journal sequence, the exchange's halt flag; per symbol its
//! market-data sequence, halt flag and tape (oldest first); then the resting orders by id. The
//! levels are not written: they are the orders' sums, rebuilt on load, so they cannot disagree.

use super::{MarketData, Shadow, Trade};
use crate::engine::EngineConfig;
use crate::fields::{Reader, SnapshotError, Writer};
use crate::units::{Price, Qty, Side, SymbolId, TradeId};

const MAGIC: &[u8; 5] = b"HAYMD";
/// 2: the symbol names are written (1 had only their number).
const FORMAT: u32 = 2;

pub(super) fn write_state(market: &MarketData, out: &mut Vec<u8>) {
    let mut w = Writer(std::mem::take(out));
    w.bytes(MAGIC);
    w.u32(FORMAT);
    w.u32(market.names.len() as u32);
    for name in &market.names {
        w.str(name);
    }
    w.u64(market.journal_seq);
    w.u8(u8::from(market.exchange_halted));
    for s in 0..market.symbols {
        w.u64(market.sequences[s]);
        w.u8(u8::from(market.symbol_halted[s]));
        let tape: Vec<&Trade> = market.tapes[s].newest_first().collect();
        w.u32(tape.len() as u32);
        for trade in tape.into_iter().rev() {
            w.u64(trade.trade_id.0);
            w.u64(trade.price.0);
            w.u64(trade.qty.0);
            w.u8(trade.taker_side as u8);
            w.u64(trade.timestamp_ns);
            w.u64(trade.journal_seq);
        }
    }
    // By id: a loaded builder's hash map iterates in another order than the live one's.
    let mut orders: Vec<(&u64, &Shadow)> = market.orders.iter().collect();
    orders.sort_unstable_by_key(|(id, _)| **id);
    w.u32(orders.len() as u32);
    for (id, order) in orders {
        w.u64(*id);
        w.u16(order.symbol.0);
        w.u8(order.side as u8);
        w.u64(order.price.0);
        w.u64(order.leaves);
    }
    *out = w.0;
}

pub(super) fn read_state(config: &EngineConfig, bytes: &[u8]) -> Result<MarketData, SnapshotError> {
    let mut r = Reader { bytes, at: 0 };
    if r.take(MAGIC.len())? != MAGIC {
        return Err(SnapshotError::Magic);
    }
    let found = r.u32()?;
    if found != FORMAT {
        return Err(SnapshotError::Format {
            found,
            supported: FORMAT,
        });
    }
    let symbols = r.count("symbol count", 4)?;
    let mut same = symbols == config.symbols.len();
    for s in 0..symbols {
        let name = r.str()?;
        same &= config.symbols.get(s).is_some_and(|spec| spec.name == name);
    }
    if !same {
        return Err(SnapshotError::Inconsistent(format!(
            "market data taken under other symbols than the configuration's {} ({})",
            config.symbols.len(),
            config
                .symbols
                .iter()
                .map(|s| s.name.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        )));
    }
    let mut market = MarketData::new(config);
    market.journal_seq = r.u64()?;
    market.exchange_halted = r.bool("exchange halted")?;
    for s in 0..symbols {
        market.sequences[s] = r.u64()?;
        market.symbol_halted[s] = r.bool("symbol halted")?;
        let trades = r.count("tape length", 41)?;
        if trades > super::TAPE_CAPACITY {
            return Err(SnapshotError::Invalid {
                field: "tape length",
                offset: r.at,
            });
        }
        for _ in 0..trades {
            let trade = Trade {
                trade_id: TradeId(r.u64()?),
                price: Price(r.u64()?),
                qty: Qty(r.u64()?),
                taker_side: r.enumerated("taker side", Side::from_u8)?,
                timestamp_ns: r.u64()?,
                journal_seq: r.u64()?,
            };
            market.tapes[s].push(trade);
        }
    }
    let orders = r.count("order count", 27)?;
    for _ in 0..orders {
        let offset = r.at;
        let id = r.u64()?;
        let symbol = SymbolId(r.u16()?);
        let side = r.enumerated("order side", Side::from_u8)?;
        let price = Price(r.u64()?);
        let leaves = r.u64()?;
        if symbol.0 as usize >= symbols || leaves == 0 || market.orders.contains_key(&id) {
            return Err(SnapshotError::Invalid {
                field: "resting order",
                offset,
            });
        }
        market.set_order(
            id,
            Shadow {
                symbol,
                side,
                price,
                leaves,
            },
        );
    }
    if r.at != bytes.len() {
        return Err(SnapshotError::Invalid {
            field: "trailing bytes",
            offset: r.at,
        });
    }
    market.settle();
    Ok(market)
}
