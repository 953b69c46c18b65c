//! The engine's whole state as bytes, and back.
//!
//! The encoding is canonical: two engines in the same logical state write the same bytes, whatever
//! their arena slots or hash seeds, which is what lets [`Engine::digest`] hash these bytes. It holds
//! the configuration too, so a snapshot is self-contained. Little-endian throughout:
//!
//! ```text
//! magic "HAYATESN" | format u32
//! config: assets, symbols (sizes as decimal text; from format 3 each ends with max_notional,
//!   from format 4 then the breaker: bps (0 = none), window ns, halt ns), accounts, limits,
//!   capacities
//! counters: next order id, next trade id, exchange halted; epochs (count, then epoch and first
//!   sequence each); (from format 4) the engine's clock
//! accounts in creation order: id, (from format 3) blocked, then (available, reserved) per asset;
//!   supply per asset
//! books per symbol: reference price, halted, (from format 4) the breaker: anchor, halted until,
//!   recent trades (count, then time and price each, oldest first); bids then asks best first:
//!   level price, order count, orders in queue order
//! ```
//!
//! Loading checks every length and enum and then the engine's invariants, so a damaged or
//! hand-edited snapshot is an error, never a panic or a silently wrong engine. (Checksumming the
//! file is the journal's job.)

use super::Engine;
use super::accounts::NIL;
use super::book::Order;
use super::breaker::BreakerState;
use super::config::{AssetSpec, BPS, BreakerSpec, EngineConfig, SymbolSpec};
use crate::fields::{Reader, SnapshotError, Writer};
use crate::units::{
    AccountId, Amount, AssetId, ClientOrderId, OrderId, OrderType, Price, Qty, SelfTradePrevention,
    Side, SymbolId, TimeInForce,
};

const MAGIC: &[u8; 8] = b"HAYATESN";
/// 2: the epoch history follows the exchange halt flag. 3: protections (BEHAVIOUR.md §10), each
/// symbol's `max_notional` and each account's blocked flag. Format 2 still loads, as no limit and
/// nothing blocked, which is what it was taken with. 4: the circuit breaker (BEHAVIOUR.md §10), its
/// configuration and its state per symbol, and the engine's clock it measures by; formats 2 and 3
/// load with no breaker and the clock at 0, as they were taken.
const FORMAT: u32 = 4;
/// The oldest format [`load`] reads.
const OLDEST_FORMAT: u32 = 2;

impl Engine {
    /// The whole state as canonical snapshot bytes; [`Engine::load`] rebuilds it.
    pub fn save(&self) -> Vec<u8> {
        let mut w = Writer(Vec::with_capacity(4096));
        w.bytes(MAGIC);
        w.u32(FORMAT);
        write_config(&mut w, &self.config);
        let state = &self.state;
        w.u64(state.next_order_id);
        w.u64(state.next_trade_id);
        w.u8(state.exchange_halted as u8);
        w.u32(state.epochs.len() as u32);
        for &(epoch, start) in &state.epochs {
            w.u64(epoch);
            w.u64(start);
        }
        w.u64(state.clock);
        let assets = self.config.assets.len();
        w.u32(state.accounts.ids().len() as u32);
        for (index, id) in state.accounts.ids().iter().enumerate() {
            w.u32(id.0);
            w.u8(state.accounts.is_blocked(index as u32) as u8);
            for asset in 0..assets {
                let cell = state.accounts.cell(index as u32, AssetId(asset as u16));
                w.u64(cell.available);
                w.u64(cell.reserved);
            }
        }
        for asset in 0..assets {
            w.u64(state.accounts.supply(AssetId(asset as u16)));
        }
        for book in &state.books {
            w.opt_u64(book.reference_price.map(|p| p.0));
            w.u8(book.halted as u8);
            let breaker = &book.breaker;
            w.opt_u64(breaker.anchor().map(|p| p.0));
            w.opt_u64(breaker.halted_until());
            w.u32(breaker.trades().count() as u32);
            for (time, price) in breaker.trades() {
                w.u64(time);
                w.u64(price.0);
            }
            for side in [Side::Buy, Side::Sell] {
                let levels = book.side(side);
                w.u32(levels.len() as u32);
                for level in levels.iter_best_first() {
                    w.u64(level.price.0);
                    w.u32(level.count);
                    let mut slot = level.head;
                    while slot != NIL {
                        let o = state.arena.get(slot);
                        w.u64(o.id.0);
                        w.u32(state.accounts.id(o.account).0);
                        w.u8(o.order_type as u8);
                        w.u8(o.tif as u8);
                        w.u8(o.stp as u8);
                        w.u8(o.post_only as u8);
                        w.u64(o.order_qty.0);
                        w.u64(o.leaves.0);
                        w.u64(o.cum.0);
                        w.u64(o.cum_cost);
                        w.bytes(&o.client_order_id.0);
                        slot = o.next;
                    }
                }
            }
        }
        w.0
    }

    /// A hash over the whole state (the canonical snapshot bytes), equal for engines in the same
    /// state: after replay, on a standby, after save/load.
    pub fn digest(&self) -> u64 {
        crate::digest::fnv1a_64(&self.save())
    }
}

/// Rebuilds an engine from [`Engine::save`] bytes.
pub(crate) fn load(bytes: &[u8]) -> Result<Engine, SnapshotError> {
    let mut r = Reader { bytes, at: 0 };
    if r.take(8)? != MAGIC {
        return Err(SnapshotError::Magic);
    }
    let format = r.u32()?;
    if !(OLDEST_FORMAT..=FORMAT).contains(&format) {
        return Err(SnapshotError::Format {
            found: format,
            supported: FORMAT,
        });
    }
    let config = read_config(&mut r, format)?;
    let assets = config.assets.len();
    let mut engine = Engine::new(config);
    let state = &mut engine.state;
    state.next_order_id = r.u64()?;
    state.next_trade_id = r.u64()?;
    state.exchange_halted = r.bool("exchange_halted")?;
    let epochs = r.count("epochs", 16)?;
    let mut last = (1, 1);
    for _ in 0..epochs {
        let offset = r.at;
        let (epoch, start) = (r.u64()?, r.u64()?);
        if epoch <= last.0 || start <= last.1 {
            return Err(SnapshotError::Invalid {
                field: "epoch (must rise, with its first sequence)",
                offset,
            });
        }
        state.epochs.push((epoch, start));
        last = (epoch, start);
    }
    if format >= 4 {
        state.clock = r.u64()?;
    }

    let blocked_flag = format >= 3;
    let account_count = r.count("accounts", 4 + blocked_flag as usize + 16 * assets)?;
    let mut balances = Vec::with_capacity(account_count);
    for _ in 0..account_count {
        let offset = r.at;
        let id = AccountId(r.u32()?);
        let index = state.accounts.get_or_create(id);
        if index as usize != balances.len() {
            return Err(SnapshotError::Invalid {
                field: "account id (repeated or out of order)",
                offset,
            });
        }
        if blocked_flag {
            let at = r.at;
            let blocked = r.bool("blocked")?;
            if blocked && id == AccountId::FEES {
                return Err(SnapshotError::Invalid {
                    field: "blocked (the fee account cannot be)",
                    offset: at,
                });
            }
            state.accounts.set_blocked(index, blocked);
        }
        let mut cells = Vec::with_capacity(assets);
        for _ in 0..assets {
            cells.push((r.u64()?, r.u64()?));
        }
        balances.push(cells);
    }
    let mut supply = Vec::with_capacity(assets);
    for _ in 0..assets {
        supply.push(r.u64()?);
    }
    state.accounts.restore(&balances, &supply);

    // Orders go back into the books in queue order; account lists are rebuilt in id order, the
    // order they were accepted in.
    let mut slots = Vec::new();
    for symbol in 0..engine.config.symbols.len() {
        let book = &mut state.books[symbol];
        book.reference_price = r.opt_u64()?.map(Price);
        book.halted = r.bool("halted")?;
        if format >= 4 {
            let breaker_on = engine.config.symbols[symbol].breaker.is_some();
            let at = r.at;
            let anchor = r.opt_u64()?.map(Price);
            let until = r.opt_u64()?;
            let count = r.count("breaker trades", 16)?;
            let mut trades = Vec::with_capacity(count);
            for _ in 0..count {
                trades.push((r.u64()?, Price(r.u64()?)));
            }
            let invalid = SnapshotError::Invalid {
                field: "circuit breaker",
                offset: at,
            };
            // A symbol without a breaker never halts or records by one.
            if !breaker_on && (until.is_some() || count > 0) {
                return Err(invalid);
            }
            book.breaker = BreakerState::restore(anchor, until, &trades).ok_or(invalid)?;
        }
        for side in [Side::Buy, Side::Sell] {
            let levels = r.count("levels", 12)?;
            for _ in 0..levels {
                let price_at = r.at;
                let price = Price(r.u64()?);
                if price.0 == 0 {
                    return Err(SnapshotError::Invalid {
                        field: "level price",
                        offset: price_at,
                    });
                }
                let count = r.count("level order count", 80)?;
                if count == 0 {
                    return Err(SnapshotError::Invalid {
                        field: "level order count",
                        offset: price_at,
                    });
                }
                for _ in 0..count {
                    let at = r.at;
                    let id = OrderId(r.u64()?);
                    let account_id = AccountId(r.u32()?);
                    let account = state
                        .accounts
                        .find(account_id)
                        .filter(|_| account_id != AccountId::FEES)
                        .ok_or(SnapshotError::Invalid {
                            field: "order account",
                            offset: at,
                        })?;
                    let order_type = r.enumerated("order type", OrderType::from_u8)?;
                    let tif = r.enumerated("time in force", TimeInForce::from_u8)?;
                    let stp = r.enumerated("stp", SelfTradePrevention::from_u8)?;
                    let post_only = r.bool("post_only")?;
                    let order = Order {
                        id,
                        account,
                        symbol: SymbolId(symbol as u16),
                        side,
                        order_type,
                        tif,
                        stp,
                        post_only,
                        price,
                        order_qty: Qty(r.u64()?),
                        leaves: Qty(r.u64()?),
                        cum: Qty(r.u64()?),
                        cum_cost: r.u64()?,
                        client_order_id: ClientOrderId(
                            r.take(32)?
                                .try_into()
                                .map_err(|_| SnapshotError::Truncated { offset: r.at })?,
                        ),
                        level: NIL,
                        prev: NIL,
                        next: NIL,
                        account_prev: NIL,
                        account_next: NIL,
                    };
                    if order.id.0 == 0
                        || order.id.0 >= state.next_order_id
                        || order.leaves.0 == 0
                        || order.order_qty.0 != order.leaves.0.wrapping_add(order.cum.0)
                        || !order.client_order_id.is_well_formed()
                        || state.index.by_id(&state.arena, order.id).is_some()
                        || state
                            .index
                            .by_client(&state.arena, account, &order.client_order_id)
                            .is_some()
                    {
                        return Err(SnapshotError::Invalid {
                            field: "order",
                            offset: at,
                        });
                    }
                    let slot = state.arena.insert(order);
                    state.index.insert(&state.arena, slot);
                    state.books[symbol]
                        .side_mut(side)
                        .push_back(&mut state.arena, slot);
                    slots.push((id, slot));
                }
            }
        }
    }
    if r.at != bytes.len() {
        return Err(SnapshotError::Invalid {
            field: "trailing bytes",
            offset: r.at,
        });
    }
    slots.sort_unstable_by_key(|&(id, _)| id);
    for (_, slot) in slots {
        state.link_account_order(slot);
    }
    state.set_breaker_deadline();
    engine
        .check_invariants()
        .map_err(SnapshotError::Inconsistent)?;
    Ok(engine)
}

fn write_config(w: &mut Writer, config: &EngineConfig) {
    w.u32(config.assets.len() as u32);
    for asset in &config.assets {
        w.str(&asset.name);
        w.u32(asset.decimals);
    }
    w.u32(config.symbols.len() as u32);
    for s in &config.symbols {
        w.str(&s.name);
        w.u16(s.base.0);
        w.u16(s.quote.0);
        w.str(&s.tick_size.to_string());
        w.str(&s.lot_size.to_string());
        w.u64(s.unit_notional);
        w.u64(s.lot_base_minor);
        w.u64(s.min_qty.0);
        w.u64(s.max_qty.0);
        w.u32(s.maker_fee_bps);
        w.u32(s.taker_fee_bps);
        w.u32(s.band_bps);
        w.opt_u64(s.reference_price.map(|p| p.0));
        w.u64(s.max_notional.0);
        let breaker = s.breaker.unwrap_or(BreakerSpec {
            bps: 0,
            window_ns: 0,
            halt_ns: 0,
        });
        w.u32(breaker.bps);
        w.u64(breaker.window_ns);
        w.u64(breaker.halt_ns);
    }
    w.u32(config.accounts.len() as u32);
    for a in &config.accounts {
        w.u32(a.0);
    }
    w.u32(config.max_open_orders);
    w.u32(config.order_capacity);
    w.u32(config.level_capacity);
}

/// A symbol's breaker configuration: bps 0 is none (and then the rest is 0 too).
fn read_breaker(r: &mut Reader) -> Result<Option<BreakerSpec>, SnapshotError> {
    let at = r.at;
    let spec = BreakerSpec {
        bps: r.u32()?,
        window_ns: r.u64()?,
        halt_ns: r.u64()?,
    };
    match spec.bps {
        0 if spec.window_ns == 0 && spec.halt_ns == 0 => Ok(None),
        1..BPS_U32 => Ok(Some(spec)),
        _ => Err(SnapshotError::Invalid {
            field: "breaker config",
            offset: at,
        }),
    }
}

/// `BPS` as the breaker's field type.
const BPS_U32: u32 = BPS as u32;

fn read_config(r: &mut Reader, format: u32) -> Result<EngineConfig, SnapshotError> {
    let asset_count = r.count("assets", 8)?;
    let mut assets = Vec::new();
    for _ in 0..asset_count {
        assets.push(AssetSpec {
            name: r.str()?,
            decimals: r.u32()?,
        });
    }
    let symbol_count = r.count("symbols", 60)?;
    let mut symbols = Vec::new();
    for _ in 0..symbol_count {
        let name = r.str()?;
        let at = r.at;
        let base = AssetId(r.u16()?);
        let quote = AssetId(r.u16()?);
        if base.0 as usize >= assets.len() || quote.0 as usize >= assets.len() {
            return Err(SnapshotError::Invalid {
                field: "symbol asset",
                offset: at,
            });
        }
        let tick_size = r.decimal("tick_size")?;
        let lot_size = r.decimal("lot_size")?;
        symbols.push(SymbolSpec {
            name,
            base,
            quote,
            tick_size,
            lot_size,
            unit_notional: r.u64()?,
            lot_base_minor: r.u64()?,
            min_qty: Qty(r.u64()?),
            max_qty: Qty(r.u64()?),
            maker_fee_bps: r.u32()?,
            taker_fee_bps: r.u32()?,
            band_bps: r.u32()?,
            reference_price: r.opt_u64()?.map(Price),
            max_notional: if format >= 3 {
                Amount(r.u64()?)
            } else {
                SymbolSpec::NO_NOTIONAL_LIMIT
            },
            breaker: if format >= 4 { read_breaker(r)? } else { None },
        });
    }
    let account_count = r.count("config accounts", 4)?;
    let mut accounts = Vec::new();
    for _ in 0..account_count {
        accounts.push(AccountId(r.u32()?));
    }
    let max_open_orders = r.u32()?;
    // Capacities are hints; cap them so a damaged snapshot cannot ask for terabytes.
    let order_capacity = r.u32()?.min(1 << 24);
    let level_capacity = r.u32()?.min(1 << 20);
    Ok(EngineConfig {
        assets,
        symbols,
        accounts,
        max_open_orders,
        order_capacity,
        level_capacity,
    })
}
