//! The markets the tests and benches trade: the one-symbol market of the order-book and journal
//! benches (so both measure the same engine configuration), and the two-symbol market the
//! property tests draw commands against.

use hayate::{
    AccountId, Amount, AssetId, AssetSpec, ClientOrderId, Command, EngineConfig, NewOrder, OrderId,
    OrderRef, Price, Qty, Side, SymbolId, SymbolSpec, TimeInForce,
};

use crate::stream::{Op, OpSide};
use rust_decimal::Decimal;

/// The reference price, in ticks.
pub const MID: u64 = 100_000;
/// BTC.
pub const BASE: AssetId = AssetId(0);
/// USD.
pub const QUOTE: AssetId = AssetId(1);

/// One symbol, BTC-USD: base 8 decimals, quote 4, tick 0.01 and lot 0.01 so one tick·lot is one
/// quote minor unit. Taker fee 10 bps, maker 0. The band is ±50% around the last trade: it is
/// there only because market orders need a protection price (BEHAVIOUR.md §3); no order comes near it.
pub fn hayate_config(order_capacity: u32) -> EngineConfig {
    EngineConfig {
        assets: vec![
            AssetSpec {
                name: "BTC".into(),
                decimals: 8,
            },
            AssetSpec {
                name: "USD".into(),
                decimals: 4,
            },
        ],
        symbols: vec![SymbolSpec {
            name: "BTC-USD".into(),
            base: BASE,
            quote: QUOTE,
            tick_size: Decimal::new(1, 2),
            lot_size: Decimal::new(1, 2),
            unit_notional: 1,
            lot_base_minor: 1_000_000,
            min_qty: Qty(1),
            max_qty: Qty(u64::MAX),
            maker_fee_bps: 0,
            taker_fee_bps: 10,
            band_bps: 5_000,
            reference_price: Some(Price(MID)),
            // Configured but never reached, so the benches pay for the fat-finger check as a
            // venue with one would (BEHAVIOUR.md §10).
            max_notional: Amount(1 << 60),
            breaker: None,
        }],
        accounts: (1..=4).map(AccountId).collect(),
        max_open_orders: 10_000_000,
        order_capacity,
        level_capacity: 4096,
    }
}

/// Two symbols over three assets (BTC, ETH, JPY): BTC-JPY with a ±5% band around 1,000, ETH-JPY
/// with none; tick 1, lot 0.0001, 1 to 40 lots, maker 7 and taker 13 bps. Accounts 1 to
/// `accounts`, small capacities so that limits are reached.
pub fn two_symbol_config(accounts: u32, max_open_orders: u32) -> EngineConfig {
    let asset = |name: &str, decimals| AssetSpec {
        name: name.into(),
        decimals,
    };
    let symbol = |name: &str, base, band_bps, reference_price| SymbolSpec {
        name: name.into(),
        base: AssetId(base),
        quote: AssetId(2),
        tick_size: Decimal::ONE,
        lot_size: Decimal::new(1, 4),
        unit_notional: 1,
        lot_base_minor: 10_000,
        min_qty: Qty(1),
        max_qty: Qty(40),
        maker_fee_bps: 7,
        taker_fee_bps: 13,
        band_bps,
        reference_price,
        max_notional: SymbolSpec::NO_NOTIONAL_LIMIT,
        breaker: None,
    };
    EngineConfig {
        assets: vec![asset("BTC", 8), asset("ETH", 8), asset("JPY", 4)],
        symbols: vec![
            symbol("BTC-JPY", 0, 500, Some(Price(1_000))),
            symbol("ETH-JPY", 1, 0, None),
        ],
        accounts: (1..=accounts).map(AccountId).collect(),
        max_open_orders,
        order_capacity: 256,
        level_capacity: 64,
    }
}

/// The one symbol of [`hayate_config`].
pub const SYMBOL: SymbolId = SymbolId(0);

/// Turns a [`Scenario`](crate::stream::Scenario)'s ops into Hayate commands for
/// [`hayate_config`]'s market, in order (it remembers each order's side, so cancels and replaces
/// go to the right account). Buyers are accounts 1–2, sellers 3–4, alternating by order id, so
/// nobody trades with itself; ClOrdIDs are `o<id>` and, for replaces, `r<seq>`.
#[derive(Debug)]
pub struct Translator {
    side_of: Vec<OpSide>,
}

impl Default for Translator {
    fn default() -> Self {
        // Index 0 unused: ids start at 1.
        Translator {
            side_of: vec![OpSide::Buy],
        }
    }
}

impl Translator {
    /// Op number `seq` of the stream as a command.
    pub fn command(&mut self, op: &Op, seq: usize) -> Command {
        if let (Some(id), Some(side)) = (op.new_order_id(), op.new_order_side()) {
            assert_eq!(
                id as usize,
                self.side_of.len(),
                "ids are dense and in order"
            );
            self.side_of.push(side);
        }
        let limit = |id: u64, side: OpSide, price: u64, qty: u64| {
            NewOrder::limit(
                account_of(side, id),
                SYMBOL,
                side_of(side),
                Price(price),
                Qty(qty),
                client_id(&format!("o{id}")),
            )
        };
        let owner = |id: u64| account_of(self.side_of[id as usize], id);
        match *op {
            Op::Limit {
                id,
                side,
                price,
                qty,
            } => Command::new_order(limit(id, side, price, qty)),
            Op::Ioc {
                id,
                side,
                price,
                qty,
            } => Command::new_order(limit(id, side, price, qty).with_tif(TimeInForce::Ioc)),
            Op::Market { id, side, qty } => Command::new_order(NewOrder::market(
                account_of(side, id),
                SYMBOL,
                side_of(side),
                Qty(qty),
                client_id(&format!("o{id}")),
            )),
            Op::Cancel { id } => {
                Command::cancel(owner(id), OrderRef::Id(OrderId(id)), ClientOrderId::EMPTY)
            }
            Op::Replace {
                id,
                price,
                new_total,
                ..
            } => Command::replace(
                owner(id),
                OrderRef::Id(OrderId(id)),
                client_id(&format!("r{seq}")),
                Price(price),
                Qty(new_total),
            ),
        }
    }
}

/// Buyers are accounts 1–2, sellers 3–4, alternating by order id.
pub fn account_of(side: OpSide, id: u64) -> AccountId {
    match side {
        OpSide::Buy => AccountId(1 + (id & 1) as u32),
        OpSide::Sell => AccountId(3 + (id & 1) as u32),
    }
}

/// The engine's side of a stream side.
pub fn side_of(side: OpSide) -> Side {
    match side {
        OpSide::Buy => Side::Buy,
        OpSide::Sell => Side::Sell,
    }
}

/// A ClOrdID from short ASCII text.
pub fn client_id(text: &str) -> ClientOrderId {
    ClientOrderId::new(text).expect("short ascii id")
}
