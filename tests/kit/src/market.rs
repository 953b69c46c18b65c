//! The one-symbol market the order-book and journal benches trade, so both measure the same
//! engine configuration.

use hayate::{AccountId, AssetId, AssetSpec, EngineConfig, Price, Qty, SymbolSpec};
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
        }],
        accounts: (1..=4).map(AccountId).collect(),
        max_open_orders: 10_000_000,
        order_capacity,
        level_capacity: 4096,
    }
}
