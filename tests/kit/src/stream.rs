//! A deterministic, implementation-neutral order stream for the order-book benchmarks.
//!
//! The generator drives a [`NaiveBook`] as its oracle while it generates, so every op is chosen
//! against the book as it really is at that point: new limits land near the actual touch, cancels
//! and replaces target orders that are actually live (plus a few deliberate misses), and crossing
//! orders are priced so that they fill in full within their limit. Ids are assigned 1, 2, 3, … to
//! every order-submitting op (limit, IOC, market) in stream order, pre-population included, which
//! is exactly how Hayate's engine numbers accepted orders when nothing is rejected.
//!
//! Why crossing orders always fill in full: matchcore 0.4.0 matches a marketable limit order
//! without a price cap (`orderbook/execution/submit.rs`, `submit_crossable_order` calls
//! `match_order(.., None, ..)`; the amend path does the same), so an IOC limit whose quantity
//! exceeds the liquidity within its limit would trade through its limit there. Sizing every
//! crossing order within the liquidity at its limit keeps the three books on the same fills, which
//! the bench checks trade by trade.

use crate::naive_book::NaiveBook;
use crate::rng::Rng;

/// Order side.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum OpSide {
    /// Buy.
    Buy,
    /// Sell.
    Sell,
}

/// One abstract command.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Op {
    /// A GTC limit order. Passive, or (a few) marketable and fully fillable within the limit.
    Limit {
        /// Order id.
        id: u64,
        /// Side.
        side: OpSide,
        /// Limit price, ticks.
        price: u64,
        /// Quantity, lots.
        qty: u64,
    },
    /// An IOC limit order priced through the touch, fully fillable within its limit.
    Ioc {
        /// Order id.
        id: u64,
        /// Side.
        side: OpSide,
        /// Limit price, ticks.
        price: u64,
        /// Quantity, lots.
        qty: u64,
    },
    /// A market order (IOC); its quantity is always available on the other side.
    Market {
        /// Order id.
        id: u64,
        /// Side.
        side: OpSide,
        /// Quantity, lots.
        qty: u64,
    },
    /// Cancel an order by id (a few target orders that already ended).
    Cancel {
        /// Target order id.
        id: u64,
    },
    /// Cancel/replace a live order.
    Replace {
        /// Target order id.
        id: u64,
        /// New limit price, ticks (never crossing).
        price: u64,
        /// New total quantity (FIX `OrderQty`: filled + new leaves), what Hayate and the naive
        /// book take.
        new_total: u64,
        /// New leaves quantity, what matchcore's amend takes.
        new_leaves: u64,
    },
}

impl Op {
    /// The id of the order this op submits, if it submits one.
    pub fn new_order_id(&self) -> Option<u64> {
        match *self {
            Op::Limit { id, .. } | Op::Ioc { id, .. } | Op::Market { id, .. } => Some(id),
            Op::Cancel { .. } | Op::Replace { .. } => None,
        }
    }

    /// The side of the order this op submits, if it submits one.
    pub fn new_order_side(&self) -> Option<OpSide> {
        match *self {
            Op::Limit { side, .. } | Op::Ioc { side, .. } | Op::Market { side, .. } => Some(side),
            Op::Cancel { .. } | Op::Replace { .. } => None,
        }
    }
}

/// The shape of a generated workload.
#[derive(Clone, Copy, Debug)]
pub struct StreamConfig {
    /// Seed of the generator.
    pub seed: u64,
    /// Mid price of the pre-populated book, ticks.
    pub mid: u64,
    /// Pre-populated price levels per side (contiguous ticks from mid ± 1 outwards).
    pub levels_per_side: u64,
    /// Orders per pre-populated level: uniform in `1..=max_orders_per_level`.
    pub max_orders_per_level: u64,
    /// Number of ops in the measured stream.
    pub len: usize,
}

/// What a generated stream contains (for the printed summary).
#[derive(Clone, Debug, Default)]
pub struct StreamStats {
    /// GTC limits.
    pub limits: usize,
    /// Of which marketable on arrival.
    pub marketable_limits: usize,
    /// Of which placed deep (up to 1,100 ticks behind the own best) to keep the book's depth.
    pub deep_limits: usize,
    /// Cancels.
    pub cancels: usize,
    /// Of which target an order that has already ended.
    pub cancel_misses: usize,
    /// IOC limits.
    pub iocs: usize,
    /// Market orders.
    pub markets: usize,
    /// Replaces.
    pub replaces: usize,
    /// Of which change the price.
    pub replace_price_moves: usize,
    /// Trades (one per maker hit).
    pub trades: u64,
    /// Lots traded.
    pub traded_qty: u64,
    /// Live orders and levels per side before the stream.
    pub initial: (usize, usize, usize),
    /// Live orders and levels per side after the stream.
    pub fin: (usize, usize, usize),
    /// Fewest and most levels on one side seen during the stream (sampled).
    pub level_range: (usize, usize),
    /// Mean levels per side during the stream (sampled).
    pub level_mean: f64,
    /// Mean live orders during the stream (sampled).
    pub live_mean: f64,
}

/// A pre-populated book plus a stream to run over it.
#[derive(Clone)]
pub struct Scenario {
    /// Pre-population: GTC limits, not timed.
    pub prepop: Vec<Op>,
    /// The stream: timed.
    pub ops: Vec<Op>,
    /// What is in it.
    pub stats: StreamStats,
}

fn snapshot(book: &NaiveBook) -> (usize, usize, usize) {
    (
        book.live_orders(),
        book.level_count(OpSide::Buy),
        book.level_count(OpSide::Sell),
    )
}

/// Builds the pre-populated book: `levels_per_side` contiguous levels on each side of `mid`,
/// 1..=`max_orders_per_level` orders of 1..=50 lots on each, nearest levels first.
fn prepopulate(cfg: &StreamConfig, rng: &mut Rng) -> (Vec<Op>, NaiveBook, u64) {
    let mut book = NaiveBook::with_capacity(1 << 16);
    let mut ops = Vec::new();
    let mut id = 1;
    for depth in 1..=cfg.levels_per_side {
        for (side, price) in [
            (OpSide::Buy, cfg.mid - depth),
            (OpSide::Sell, cfg.mid + depth),
        ] {
            for _ in 0..1 + rng.below(cfg.max_orders_per_level) {
                let op = Op::Limit {
                    id,
                    side,
                    price,
                    qty: 1 + rng.below(50),
                };
                id += 1;
                book.apply(&op, &mut |_| {});
                ops.push(op);
            }
        }
    }
    (ops, book, id)
}

/// Picks a live order: 75% among the most recently placed (geometric offset from the newest,
/// mean 200), 25% uniformly over the placement log. `None` after 16 dead draws.
fn pick_live(rng: &mut Rng, log: &[u64], book: &NaiveBook) -> Option<u64> {
    if log.is_empty() {
        return None;
    }
    let n = log.len() as u64;
    for _ in 0..16 {
        let index = if rng.chance(0.75) {
            n - 1 - rng.geometric(200.0, n - 1)
        } else {
            rng.below(n)
        };
        let id = log[index as usize];
        if book.contains(id) {
            return Some(id);
        }
    }
    None
}

/// The realistic mixed stream: ~60% GTC limits near the touch (about 5% of them marketable),
/// ~25% cancels (about 2% deliberately of orders that already ended), ~10% crossing IOC limits and
/// market orders (half each), ~5% replaces (60% size down, 15% size up, 25% price moves).
///
/// IOC and market sizes follow the book: they grow when the book holds more orders than it
/// started with, so the order count (and the ~1,000-level depth) stays roughly stable over the
/// stream instead of growing without bound. Their side leans against the mid's drift from its
/// start, so the book does not wander away from its pre-populated range.
pub fn mixed(cfg: &StreamConfig) -> Scenario {
    let mut rng = Rng::new(cfg.seed);
    let (prepop, mut book, mut next_id) = prepopulate(cfg, &mut rng);
    let mut stats = StreamStats {
        initial: snapshot(&book),
        level_range: (usize::MAX, 0),
        ..StreamStats::default()
    };
    let target_live = book.live_orders() as f64;
    // Every GTC order placed, in placement order; pruned of dead ids now and then.
    let mut log: Vec<u64> = prepop.iter().filter_map(Op::new_order_id).collect();
    let mut dead: Vec<u64> = Vec::new();
    let mut ops = Vec::with_capacity(cfg.len);
    let mut trades = 0u64;
    let mut traded = 0u64;
    let mut samples = 0u32;
    for i in 0..cfg.len {
        let best_bid = book.best_bid().unwrap_or(cfg.mid - 1);
        let best_ask = book.best_ask().unwrap_or(best_bid + 2);
        let r = rng.unit();
        let mut op = None;
        if (0.60..0.85).contains(&r) {
            // Cancel.
            if rng.chance(0.02) && !dead.is_empty() {
                let id = dead[rng.below(dead.len() as u64) as usize];
                if !book.contains(id) {
                    stats.cancel_misses += 1;
                    op = Some(Op::Cancel { id });
                }
            }
            if op.is_none() {
                match pick_live(&mut rng, &log, &book) {
                    Some(id) => op = Some(Op::Cancel { id }),
                    None => {
                        if let Some(&id) = dead.last() {
                            stats.cancel_misses += 1;
                            op = Some(Op::Cancel { id });
                        }
                    }
                }
            }
            if op.is_some() {
                stats.cancels += 1;
            }
        } else if (0.85..0.95).contains(&r) {
            // Crossing IOC or market order.
            let mid = (best_bid + best_ask) as f64 / 2.0;
            let drift = (mid - cfg.mid as f64) / 100.0;
            let p_buy = (0.5 - 0.25 * drift).clamp(0.1, 0.9);
            let side = if rng.chance(p_buy) {
                OpSide::Buy
            } else {
                OpSide::Sell
            };
            let fullness = book.live_orders() as f64 / target_live;
            let mean = (80.0 * fullness * fullness * fullness).clamp(10.0, 2_000.0);
            let mut qty = 1 + rng.below((2.0 * mean) as u64);
            let mut limit = book.fill_price(side, qty);
            while limit.is_none() && qty > 1 {
                qty /= 2;
                limit = book.fill_price(side, qty);
            }
            if let Some(limit) = limit {
                let id = next_id;
                next_id += 1;
                if rng.chance(0.5) {
                    stats.markets += 1;
                    op = Some(Op::Market { id, side, qty });
                } else {
                    // A little slack past the last level needed changes nothing about the fills.
                    let slack = rng.below(3);
                    let price = match side {
                        OpSide::Buy => limit + slack,
                        OpSide::Sell => limit.saturating_sub(slack).max(1),
                    };
                    stats.iocs += 1;
                    op = Some(Op::Ioc {
                        id,
                        side,
                        price,
                        qty,
                    });
                }
            }
        } else if r >= 0.95 {
            // Replace.
            if let Some(id) = pick_live(&mut rng, &log, &book) {
                let (side, price, order) = book.order(id).expect("picked a live order");
                let x = rng.unit();
                let (new_price, new_leaves) = if x < 0.60 && order.leaves > 1 {
                    (price, 1 + rng.below(order.leaves - 1))
                } else if x < 0.75 {
                    (price, order.leaves + 1 + rng.below(20))
                } else {
                    let delta = 1 + rng.below(3);
                    let toward = rng.chance(0.5);
                    let p = match (side, toward) {
                        (OpSide::Buy, true) if price + delta < best_ask => price + delta,
                        (OpSide::Sell, true) if price - delta > best_bid => price - delta,
                        (OpSide::Buy, _) => price - delta,
                        (OpSide::Sell, _) => price + delta,
                    };
                    stats.replace_price_moves += 1;
                    (p, order.leaves)
                };
                stats.replaces += 1;
                op = Some(Op::Replace {
                    id,
                    price: new_price,
                    new_total: order.cum + new_leaves,
                    new_leaves,
                });
            }
        }
        let op = match op {
            Some(op) => op,
            None => {
                // GTC limit near the touch (also the fallback when nothing else applies).
                let side = if rng.chance(0.5) {
                    OpSide::Buy
                } else {
                    OpSide::Sell
                };
                let mut qty = 1 + rng.below(50);
                let mut price = None;
                if rng.chance(0.05) {
                    price = book.fill_price(side, qty);
                    if price.is_none() {
                        qty = 1;
                        price = book.fill_price(side, qty);
                    }
                    if price.is_some() {
                        stats.marketable_limits += 1;
                    }
                }
                let price = price.unwrap_or_else(|| {
                    // Deep liquidity: a few orders land anywhere up to 1,100 ticks behind the
                    // own best, more while the side holds fewer than the pre-populated levels,
                    // so the book keeps its depth although cancels and fills thin it.
                    let levels = book.level_count(side) as u64;
                    let p_deep = if levels < cfg.levels_per_side {
                        0.25
                    } else {
                        0.05
                    };
                    if rng.chance(p_deep) {
                        stats.deep_limits += 1;
                        let d = 1 + rng.below(cfg.levels_per_side * 11 / 10);
                        return match side {
                            OpSide::Buy => best_bid.saturating_sub(d).max(1),
                            OpSide::Sell => best_ask + d,
                        };
                    }
                    // Near the touch: 1 tick from the opposite best (improves or joins the
                    // touch) or further, geometric with mean 3 levels behind it.
                    let d = 1 + rng.geometric(3.0, 400);
                    match side {
                        OpSide::Buy => best_ask.saturating_sub(d).max(1),
                        OpSide::Sell => best_bid + d,
                    }
                });
                let id = next_id;
                next_id += 1;
                stats.limits += 1;
                log.push(id);
                Op::Limit {
                    id,
                    side,
                    price,
                    qty,
                }
            }
        };
        // Advance the oracle; remember orders that ended (for deliberate cancel misses).
        let cancelled = match op {
            Op::Cancel { id } => Some(id),
            _ => None,
        };
        book.apply(&op, &mut |t| {
            trades += 1;
            traded += t.qty;
        });
        if let Some(id) = cancelled {
            if dead.len() < 4096 {
                dead.push(id);
            } else {
                let slot = rng.below(4096) as usize;
                dead[slot] = id;
            }
        }
        ops.push(op);
        if i % 1_000 == 0 {
            let (live, bids, asks) = snapshot(&book);
            stats.level_range.0 = stats.level_range.0.min(bids.min(asks));
            stats.level_range.1 = stats.level_range.1.max(bids.max(asks));
            stats.level_mean += (bids + asks) as f64 / 2.0;
            stats.live_mean += live as f64;
            samples += 1;
        }
        if i % 50_000 == 49_999 {
            log.retain(|&id| book.contains(id));
        }
    }
    stats.trades = trades;
    stats.traded_qty = traded;
    stats.level_mean /= samples.max(1) as f64;
    stats.live_mean /= samples.max(1) as f64;
    stats.fin = snapshot(&book);
    Scenario { prepop, ops, stats }
}

/// Place/cancel pairs deep in the book: each pair places a GTC limit on a random side at a depth
/// uniform in 10..levels_per_side levels behind its own best (an existing level), or, with
/// `new_far_level`, 1..=50 ticks beyond the deepest level (a new level at the far end), then
/// cancels it. The book is the same after every pair.
pub fn place_cancel_deep(cfg: &StreamConfig, pairs: usize, new_far_level: bool) -> Scenario {
    let mut rng = Rng::new(cfg.seed ^ 0x5eed_dee9);
    let (prepop, mut book, mut next_id) = prepopulate(cfg, &mut rng);
    let mut stats = StreamStats {
        initial: snapshot(&book),
        ..StreamStats::default()
    };
    let mut ops = Vec::with_capacity(2 * pairs);
    for _ in 0..pairs {
        let side = if rng.chance(0.5) {
            OpSide::Buy
        } else {
            OpSide::Sell
        };
        let best = match side {
            OpSide::Buy => book.best_bid(),
            OpSide::Sell => book.best_ask(),
        }
        .expect("pre-populated");
        let deepest = book.deepest(side).expect("pre-populated");
        let price = match (side, new_far_level) {
            (OpSide::Buy, false) => best - 10 - rng.below(cfg.levels_per_side - 10),
            (OpSide::Sell, false) => best + 10 + rng.below(cfg.levels_per_side - 10),
            (OpSide::Buy, true) => deepest - 1 - rng.below(50),
            (OpSide::Sell, true) => deepest + 1 + rng.below(50),
        };
        let id = next_id;
        next_id += 1;
        let place = Op::Limit {
            id,
            side,
            price,
            qty: 1 + rng.below(50),
        };
        let cancel = Op::Cancel { id };
        book.apply(&place, &mut |_| panic!("a deep order does not cross"));
        book.apply(&cancel, &mut |_| {});
        ops.push(place);
        ops.push(cancel);
        stats.limits += 1;
        stats.cancels += 1;
    }
    stats.fin = snapshot(&book);
    stats.level_range = (stats.fin.1.min(stats.fin.2), stats.fin.1.max(stats.fin.2));
    stats.level_mean = (stats.fin.1 + stats.fin.2) as f64 / 2.0;
    stats.live_mean = stats.fin.0 as f64;
    Scenario { prepop, ops, stats }
}
