//! What is traded: validated assets and symbols, the engine's configuration, and the exact integer
//! arithmetic of BEHAVIOUR.md §1–§3 (`notional`, `fee`, `reserve`, the price band). Decimal conversion for
//! the edges lives here too, next to the sizes it converts with.

use rust_decimal::Decimal;
use rust_decimal::prelude::ToPrimitive;

use crate::units::{AccountId, Amount, AssetId, MAX_AMOUNT, Price, Qty, SymbolId};

/// Basis points in one.
pub const BPS: u64 = 10_000;

/// A configured asset.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AssetSpec {
    /// Its name (`BTC`).
    pub name: String,
    /// Its minor unit is `10^-decimals`.
    pub decimals: u32,
}

impl AssetSpec {
    /// Converts a decimal amount of this asset to minor units: `None` if it is negative, not a whole
    /// number of minor units, or above `i64::MAX` minor units.
    pub fn amount_from_decimal(&self, value: Decimal) -> Option<Amount> {
        let minor = value.checked_mul(Decimal::from(10u64.checked_pow(self.decimals)?))?;
        whole_u64(minor).filter(|&v| v <= MAX_AMOUNT).map(Amount)
    }

    /// Converts minor units to a decimal amount.
    pub fn amount_to_decimal(&self, amount: Amount) -> Decimal {
        Decimal::from_i128_with_scale(amount.0 as i128, self.decimals)
    }
}

/// A configured symbol with its sizes already turned into integers.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SymbolSpec {
    /// Its name (`BTC-JPY`).
    pub name: String,
    /// The base asset.
    pub base: AssetId,
    /// The quote asset.
    pub quote: AssetId,
    /// Price step, in quote per one base unit.
    pub tick_size: Decimal,
    /// Quantity step, in base units.
    pub lot_size: Decimal,
    /// Quote minor units per tick·lot: `tick_size × lot_size × 10^quote.decimals`, a whole number.
    pub unit_notional: u64,
    /// Base minor units per lot: `lot_size × 10^base.decimals`, a whole number.
    pub lot_base_minor: u64,
    /// Smallest order, in lots.
    pub min_qty: Qty,
    /// Largest order, in lots (`u64::MAX` when unlimited).
    pub max_qty: Qty,
    /// Fee of the resting side, in basis points of the notional.
    pub maker_fee_bps: u32,
    /// Fee of the taking side, in basis points; also what a buy order reserves.
    pub taker_fee_bps: u32,
    /// Price band half-width in basis points of the reference price; 0 = no band.
    pub band_bps: u32,
    /// The reference price before the first trade.
    pub reference_price: Option<Price>,
    /// Fat-finger limit: the largest notional an order or replace may have at its limit (or
    /// protection) price, in quote minor units ([`SymbolSpec::NO_NOTIONAL_LIMIT`] when unset).
    pub max_notional: Amount,
    /// The circuit breaker (BEHAVIOUR.md §10), when configured.
    pub breaker: Option<BreakerSpec>,
}

/// A symbol's circuit breaker: how far from the anchor a taker may fill, the window the anchor
/// trails by and how long a trip halts the symbol (BEHAVIOUR.md §10).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BreakerSpec {
    /// `breaker_bps` B: the bounds' half-width in basis points of the anchor, 1 to 9999.
    pub bps: u32,
    /// `breaker_window_s` W in nanoseconds: the anchor is the last trade at least this old.
    pub window_ns: u64,
    /// `breaker_halt_s` H in nanoseconds: how long a trip halts the symbol.
    pub halt_ns: u64,
}

/// `[ceil(R × (10000 − B) / 10000), floor(R × (10000 + B) / 10000)]` around `R`: the price band's
/// and the circuit breaker's bounds. The lower bound is at least one tick.
pub fn bounds(reference: Price, bps: u32) -> (Price, Price) {
    let r = reference.0 as u128;
    let b = bps as u128;
    let low = (r * (BPS as u128).saturating_sub(b)).div_ceil(BPS as u128);
    let high = r * (BPS as u128 + b) / BPS as u128;
    (
        Price((low as u64).max(1)),
        Price(high.min(u64::MAX as u128) as u64),
    )
}

impl SymbolSpec {
    /// `max_notional` when none is configured: above every notional (those stop at `i64::MAX`).
    pub const NO_NOTIONAL_LIMIT: Amount = Amount(u64::MAX);

    /// `notional(p, q) = p × q × unit_notional` quote minor units, or `None` past `i64::MAX`.
    #[inline]
    pub fn notional(&self, price: Price, qty: Qty) -> Option<Amount> {
        let v = price.0 as u128 * qty.0 as u128 * self.unit_notional as u128;
        (v <= MAX_AMOUNT as u128).then_some(Amount(v as u64))
    }

    /// `fee(notional, bps) = floor(notional × bps / 10000)`.
    #[inline]
    pub fn fee(notional: Amount, bps: u32) -> Amount {
        // u64 when the product fits (a division by a constant is then a multiply), else u128.
        match notional.0.checked_mul(bps as u64) {
            Some(p) => Amount(p / BPS),
            None => Amount((notional.0 as u128 * bps as u128 / BPS as u128) as u64),
        }
    }

    /// What an open buy order at `limit` with `leaves` holds:
    /// `notional + ceil(notional × taker_fee_bps / 10000)`, or `None` past `i64::MAX`.
    #[inline]
    pub fn buy_hold(&self, limit: Price, leaves: Qty) -> Option<Amount> {
        let n = self.notional(limit, leaves)?;
        let fee = match n.0.checked_mul(self.taker_fee_bps as u64) {
            Some(p) => p.div_ceil(BPS),
            None => (n.0 as u128 * self.taker_fee_bps as u128).div_ceil(BPS as u128) as u64,
        };
        n.checked_add(Amount(fee))
    }

    /// `qty` lots in base minor units (what an open sell order holds), or `None` past `i64::MAX`.
    #[inline]
    pub fn base_amount(&self, qty: Qty) -> Option<Amount> {
        let v = qty.0 as u128 * self.lot_base_minor as u128;
        (v <= MAX_AMOUNT as u128).then_some(Amount(v as u64))
    }

    /// The band `[ceil(R × (10000 − B) / 10000), floor(R × (10000 + B) / 10000)]` around reference
    /// `R`, or `None` when `band_bps` is 0. The lower bound is at least one tick.
    pub fn band(&self, reference: Price) -> Option<(Price, Price)> {
        (self.band_bps != 0).then(|| bounds(reference, self.band_bps))
    }

    /// Converts a decimal price to ticks: `None` unless it is a positive whole number of ticks.
    pub fn price_from_decimal(&self, value: Decimal) -> Option<Price> {
        steps(value, self.tick_size).map(Price)
    }

    /// Converts ticks to a decimal price.
    pub fn price_to_decimal(&self, price: Price) -> Decimal {
        Decimal::from(price.0) * self.tick_size
    }

    /// Converts a decimal quantity to lots: `None` unless it is a positive whole number of lots.
    pub fn qty_from_decimal(&self, value: Decimal) -> Option<Qty> {
        steps(value, self.lot_size).map(Qty)
    }

    /// Converts lots to a decimal quantity.
    pub fn qty_to_decimal(&self, qty: Qty) -> Decimal {
        Decimal::from(qty.0) * self.lot_size
    }
}

/// `value / step` when it is a positive whole number that fits a `u64`.
fn steps(value: Decimal, step: Decimal) -> Option<u64> {
    if step <= Decimal::ZERO || value <= Decimal::ZERO {
        return None;
    }
    whole_u64(value.checked_div(step)?).filter(|&v| v > 0)
}

/// A non-negative whole decimal as `u64`.
pub(crate) fn whole_u64(value: Decimal) -> Option<u64> {
    if value.is_sign_negative() || value.fract() != Decimal::ZERO {
        return None;
    }
    value.to_u64()
}

/// Everything the engine needs to know before the first command: assets, symbols, the accounts that
/// exist from the start, limits, and capacity hints for preallocation.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EngineConfig {
    /// Assets, indexed by [`AssetId`].
    pub assets: Vec<AssetSpec>,
    /// Symbols, indexed by [`SymbolId`].
    pub symbols: Vec<SymbolSpec>,
    /// Accounts named by users; more appear when a deposit credits them.
    pub accounts: Vec<AccountId>,
    /// Open orders allowed per account over all symbols (`[limits] max_open_orders`).
    pub max_open_orders: u32,
    /// Open orders to preallocate room for (the engine grows past it, allocating).
    pub order_capacity: u32,
    /// Price levels per book side to preallocate room for.
    pub level_capacity: u32,
}

impl EngineConfig {
    /// The default open-order limit per account (BEHAVIOUR.md §8).
    pub const DEFAULT_MAX_OPEN_ORDERS: u32 = 10_000;

    /// The asset of `id`.
    pub fn asset(&self, id: AssetId) -> Option<&AssetSpec> {
        self.assets.get(id.0 as usize)
    }

    /// The symbol of `id`.
    pub fn symbol(&self, id: SymbolId) -> Option<&SymbolSpec> {
        self.symbols.get(id.0 as usize)
    }

    /// The id of the asset named `name`.
    pub fn asset_id(&self, name: &str) -> Option<AssetId> {
        self.assets
            .iter()
            .position(|a| a.name == name)
            .map(|i| AssetId(i as u16))
    }

    /// The id of the symbol named `name`.
    pub fn symbol_id(&self, name: &str) -> Option<SymbolId> {
        self.symbols
            .iter()
            .position(|s| s.name == name)
            .map(|i| SymbolId(i as u16))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(taker_fee_bps: u32) -> SymbolSpec {
        SymbolSpec {
            name: "X-Y".into(),
            base: AssetId(0),
            quote: AssetId(1),
            tick_size: Decimal::ONE,
            lot_size: Decimal::ONE,
            unit_notional: 1,
            lot_base_minor: 1,
            min_qty: Qty(1),
            max_qty: Qty(u64::MAX),
            maker_fee_bps: 0,
            taker_fee_bps,
            band_bps: 0,
            reference_price: None,
            max_notional: SymbolSpec::NO_NOTIONAL_LIMIT,
            breaker: None,
        }
    }

    /// The u64 fast path and the u128 path agree on both sides of the switch-over.
    #[test]
    fn fee_and_hold_are_exact_past_the_u64_fast_path() {
        for n in [
            0,
            1,
            9_999,
            10_001,
            u64::MAX / 10_000,
            u64::MAX / 10_000 + 1,
            MAX_AMOUNT,
        ] {
            for bps in [0u32, 1, 7, 10, 9_999, 10_000] {
                let exact = (n as u128 * bps as u128 / 10_000) as u64;
                assert_eq!(SymbolSpec::fee(Amount(n), bps).0, exact, "fee({n}, {bps})");
                let hold = spec(bps).buy_hold(Price(1), Qty(n));
                let fee_up = (n as u128 * bps as u128).div_ceil(10_000);
                let want =
                    (n as u128 + fee_up <= MAX_AMOUNT as u128).then(|| (n as u128 + fee_up) as u64);
                assert_eq!(hold.map(|h| h.0), want, "buy_hold({n}, {bps})");
            }
        }
    }
}
