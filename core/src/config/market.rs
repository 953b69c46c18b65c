//! The market's sections: `[[assets]]`, `[[symbols]]` (sizes, limits, fees, bands), `[engine]`
//! (capacities, accounts) and `[[deposits]]`, checked and turned into integer units.

use std::collections::HashMap;

use rust_decimal::Decimal;
use serde::Deserialize;

use super::decimal::{ConfigDecimal, Inexact, exact_steps, scaled_product};
use super::{Checker, ConfigError};
use crate::command::Command;
use crate::engine::{AssetSpec, BPS, BreakerSpec, SymbolSpec};
use crate::units::{AccountId, Amount, AssetId, MAX_AMOUNT, Price, Qty};

/// The most assets a configuration may hold; ids are `u16`.
pub const MAX_ASSETS: usize = u16::MAX as usize;
/// The most symbols a configuration may hold; ids are `u16`.
pub const MAX_SYMBOLS: usize = u16::MAX as usize;

/// The longest circuit-breaker window or halt, in seconds: a day (a longer halt is an operator's).
const MAX_BREAKER_SECONDS: i64 = 86_400;

/// The most decimals an asset may have: `10^18` minor units per unit still fits a `u64`.
pub const MAX_DECIMALS: u32 = 18;

/// `[engine]` as written.
#[derive(Deserialize, Debug)]
#[serde(default, deny_unknown_fields)]
pub struct EngineSection {
    pub(super) order_capacity: u32,
    pub(super) level_capacity: u32,
    /// Accounts that may trade besides the gateway users' (an engine embedded without a gateway
    /// has no users).
    accounts: Vec<u32>,
}

impl Default for EngineSection {
    fn default() -> Self {
        EngineSection {
            order_capacity: 65_536,
            level_capacity: 4096,
            accounts: Vec::new(),
        }
    }
}

/// One `[[assets]]` entry as written.
#[derive(Deserialize, Debug)]
#[serde(deny_unknown_fields)]
pub struct AssetEntry {
    name: String,
    decimals: u32,
}

/// One `[[symbols]]` entry as written.
#[derive(Deserialize, Debug)]
#[serde(deny_unknown_fields)]
pub struct SymbolEntry {
    name: String,
    base: String,
    quote: String,
    tick_size: ConfigDecimal,
    lot_size: ConfigDecimal,
    min_qty: Option<ConfigDecimal>,
    max_qty: Option<ConfigDecimal>,
    // Signed so that a negative fee gets the rule's message rather than a type error.
    #[serde(default)]
    maker_fee_bps: i64,
    #[serde(default)]
    taker_fee_bps: i64,
    #[serde(default)]
    band_bps: i64,
    reference_price: Option<ConfigDecimal>,
    /// Fat-finger limit in quote units (BEHAVIOUR.md §10); unset = none.
    max_notional: Option<ConfigDecimal>,
    /// Circuit breaker (BEHAVIOUR.md §10): all three or none. Signed, like the fees, so a negative
    /// value gets the rule's message rather than a type error.
    breaker_bps: Option<i64>,
    breaker_window_s: Option<i64>,
    breaker_halt_s: Option<i64>,
}

/// One `[[deposits]]` entry as written.
#[derive(Deserialize, Debug)]
#[serde(deny_unknown_fields)]
pub struct DepositEntry {
    account: u32,
    asset: String,
    amount: ConfigDecimal,
}

impl Checker<'_> {
    /// `[engine] accounts`: never the fee account.
    pub(super) fn engine_accounts(
        &self,
        raw: &EngineSection,
    ) -> Result<Vec<AccountId>, ConfigError> {
        if raw.accounts.contains(&AccountId::FEES.0) {
            return Err(self.error(
                "engine.accounts",
                "account 0 is the fee account, which places no orders",
            ));
        }
        Ok(raw.accounts.iter().map(|&a| AccountId(a)).collect())
    }

    pub(super) fn assets(&self, raw: &[AssetEntry]) -> Result<Vec<AssetSpec>, ConfigError> {
        if raw.len() > MAX_ASSETS {
            return Err(self.error(
                "assets",
                format!("{} assets; at most {MAX_ASSETS} are allowed", raw.len()),
            ));
        }
        let mut seen: HashMap<&str, usize> = HashMap::new();
        raw.iter()
            .enumerate()
            .map(|(i, asset)| {
                let at = format!("assets[{i}] ({})", asset.name);
                self.name(&format!("{at}.name"), &asset.name)?;
                if let Some(first) = seen.insert(&asset.name, i) {
                    return Err(self.field(
                        &at,
                        "name",
                        format!("{:?} is already assets[{first}]", asset.name),
                    ));
                }
                if asset.decimals > MAX_DECIMALS {
                    return Err(self.field(
                        &at,
                        "decimals",
                        format!("{} is above the maximum of {MAX_DECIMALS}", asset.decimals),
                    ));
                }
                Ok(AssetSpec {
                    name: asset.name.clone(),
                    decimals: asset.decimals,
                })
            })
            .collect()
    }

    pub(super) fn symbols(
        &self,
        raw: &[SymbolEntry],
        assets: &[AssetSpec],
    ) -> Result<Vec<SymbolSpec>, ConfigError> {
        if raw.len() > MAX_SYMBOLS {
            return Err(self.error(
                "symbols",
                format!("{} symbols; at most {MAX_SYMBOLS} are allowed", raw.len()),
            ));
        }
        let mut seen: HashMap<&str, usize> = HashMap::new();
        raw.iter()
            .enumerate()
            .map(|(i, symbol)| {
                let at = format!("symbols[{i}] ({})", symbol.name);
                if let Some(first) = seen.insert(&symbol.name, i) {
                    return Err(self.field(
                        &at,
                        "name",
                        format!("{:?} is already symbols[{first}]", symbol.name),
                    ));
                }
                self.symbol(&at, symbol, assets)
            })
            .collect()
    }

    pub(super) fn symbol(
        &self,
        at: &str,
        raw: &SymbolEntry,
        assets: &[AssetSpec],
    ) -> Result<SymbolSpec, ConfigError> {
        self.name(&format!("{at}.name"), &raw.name)?;
        let find = |key: &str, name: &str| {
            assets
                .iter()
                .position(|a| a.name == name)
                .ok_or_else(|| self.field(at, key, format!("{name:?} is not a configured asset")))
        };
        let base_index = find("base", &raw.base)?;
        let quote_index = find("quote", &raw.quote)?;
        if base_index == quote_index {
            return Err(self.field(
                at,
                "quote",
                format!("{:?} is also the base asset; they must differ", raw.quote),
            ));
        }
        let (base, quote) = (&assets[base_index], &assets[quote_index]);

        let tick = raw.tick_size.0;
        let lot = raw.lot_size.0;
        for (key, value) in [("tick_size", tick), ("lot_size", lot)] {
            if value <= Decimal::ZERO {
                return Err(self.field(at, key, format!("{value} must be positive")));
            }
        }

        // BEHAVIOUR.md §1: both integer sizes must be exact, or notionals and holds would be rounded.
        let lot_base_minor = match scaled_product(lot, Decimal::ONE, base.decimals) {
            Ok(v) if v <= MAX_AMOUNT => v,
            Ok(_) | Err(Inexact::TooLarge) => {
                return Err(self.field(
                    at,
                    "lot_size",
                    format!("{lot} {} is more than {MAX_AMOUNT} minor units", base.name),
                ));
            }
            Err(Inexact::Fraction) => {
                return Err(self.field(
                    at,
                    "lot_size",
                    format!(
                        "{lot} {} is not a whole number of {} minor units (decimals {})",
                        base.name, base.name, base.decimals
                    ),
                ));
            }
        };
        let unit_notional = match scaled_product(tick, lot, quote.decimals) {
            Ok(v) if v <= MAX_AMOUNT => v,
            Ok(_) | Err(Inexact::TooLarge) => {
                return Err(self.field(
                    at,
                    "tick_size",
                    format!(
                        "{tick} {} × lot {lot} {} is more than {MAX_AMOUNT} {} minor units",
                        quote.name, base.name, quote.name
                    ),
                ));
            }
            Err(Inexact::Fraction) => {
                return Err(self.field(
                    at,
                    "tick_size",
                    format!(
                        "{tick} {} × lot {lot} {} is not a whole number of {} minor units \
                         (decimals {})",
                        quote.name, base.name, quote.name, quote.decimals
                    ),
                ));
            }
        };

        let lots = |key: &str, value: Option<ConfigDecimal>, default: u64| -> Result<Qty, _> {
            let Some(ConfigDecimal(value)) = value else {
                return Ok(Qty(default));
            };
            if value <= Decimal::ZERO {
                return Err(self.field(at, key, format!("{value} must be positive")));
            }
            match exact_steps(value, lot) {
                Ok(lots) => Ok(Qty(lots)),
                Err(Inexact::Fraction) => Err(self.field(
                    at,
                    key,
                    format!(
                        "{value} {} is not a whole number of lots (lot_size {lot})",
                        base.name
                    ),
                )),
                Err(Inexact::TooLarge) => Err(self.field(
                    at,
                    key,
                    format!("{value} {} is more than {} lots", base.name, u64::MAX),
                )),
            }
        };
        let min_qty = lots("min_qty", raw.min_qty, 1)?;
        let max_qty = lots("max_qty", raw.max_qty, u64::MAX)?;
        if min_qty > max_qty {
            return Err(self.field(
                at,
                "min_qty",
                format!("{} lots is above max_qty ({} lots)", min_qty.0, max_qty.0),
            ));
        }

        let bps = |key: &str, value: i64, max: i64| -> Result<u32, ConfigError> {
            if value < 0 {
                return Err(self.field(at, key, format!("{value} must not be negative")));
            }
            if value > max {
                return Err(self.field(at, key, format!("{value} is above the maximum of {max}")));
            }
            Ok(value as u32)
        };
        let whole = BPS as i64;
        let taker_fee_bps = bps("taker_fee_bps", raw.taker_fee_bps, whole)?;
        let maker_fee_bps = bps("maker_fee_bps", raw.maker_fee_bps, whole)?;
        if maker_fee_bps > taker_fee_bps {
            return Err(self.field(
                at,
                "maker_fee_bps",
                format!(
                    "{maker_fee_bps} is above taker_fee_bps ({taker_fee_bps}); a resting buy \
                     reserves only the taker fee (BEHAVIOUR.md §8)"
                ),
            ));
        }
        let band_bps = bps("band_bps", raw.band_bps, whole)?;

        let reference_price = match raw.reference_price {
            None => None,
            Some(ConfigDecimal(price)) => {
                let key = format!("{at}.reference_price");
                if price <= Decimal::ZERO {
                    return Err(self.error(key, format!("{price} must be positive")));
                }
                match exact_steps(price, tick) {
                    Ok(ticks) => Some(Price(ticks)),
                    Err(Inexact::Fraction) => {
                        return Err(self.error(
                            key,
                            format!(
                                "{price} {} is not a multiple of tick_size {tick}",
                                quote.name
                            ),
                        ));
                    }
                    Err(Inexact::TooLarge) => {
                        return Err(self.error(
                            key,
                            format!("{price} {} is more than {} ticks", quote.name, u64::MAX),
                        ));
                    }
                }
            }
        };

        let max_notional = match raw.max_notional {
            None => SymbolSpec::NO_NOTIONAL_LIMIT,
            Some(ConfigDecimal(value)) => self.positive_amount(at, "max_notional", value, quote)?,
        };
        let breaker = self.breaker(at, raw)?;

        Ok(SymbolSpec {
            name: raw.name.clone(),
            base: AssetId(base_index as u16),
            quote: AssetId(quote_index as u16),
            tick_size: tick,
            lot_size: lot,
            unit_notional,
            lot_base_minor,
            min_qty,
            max_qty,
            maker_fee_bps,
            taker_fee_bps,
            band_bps,
            reference_price,
            max_notional,
            breaker,
        })
    }

    /// The circuit breaker's three keys: all or none, `breaker_bps` in 1..=9999 (at 10000 the
    /// lower bound would be no price at all), the window and the halt in 1..=86400 seconds.
    fn breaker(&self, at: &str, raw: &SymbolEntry) -> Result<Option<BreakerSpec>, ConfigError> {
        let keys = [
            ("breaker_bps", raw.breaker_bps, BPS as i64 - 1),
            (
                "breaker_window_s",
                raw.breaker_window_s,
                MAX_BREAKER_SECONDS,
            ),
            ("breaker_halt_s", raw.breaker_halt_s, MAX_BREAKER_SECONDS),
        ];
        if keys.iter().all(|(_, value, _)| value.is_none()) {
            return Ok(None);
        }
        let mut values = [0u64; 3];
        for (slot, (key, value, max)) in values.iter_mut().zip(keys) {
            let Some(value) = value else {
                return Err(self.field(
                    at,
                    key,
                    "is missing: the circuit breaker needs breaker_bps, breaker_window_s and \
                     breaker_halt_s together",
                ));
            };
            if !(1..=max).contains(&value) {
                return Err(self.field(at, key, format!("{value} is not between 1 and {max}")));
            }
            *slot = value as u64;
        }
        const NS: u64 = 1_000_000_000;
        Ok(Some(BreakerSpec {
            bps: values[0] as u32,
            window_ns: values[1] * NS,
            halt_ns: values[2] * NS,
        }))
    }

    /// A positive amount of `asset` written in asset units, as a whole number of minor units no
    /// larger than `i64::MAX` (BEHAVIOUR.md §8); errors name `at`'s `key` and say which rule failed.
    fn positive_amount(
        &self,
        at: &str,
        key: &str,
        value: Decimal,
        asset: &AssetSpec,
    ) -> Result<Amount, ConfigError> {
        if value <= Decimal::ZERO {
            return Err(self.field(at, key, format!("{value} must be positive")));
        }
        asset.amount_from_decimal(value).ok_or_else(|| {
            let message = match scaled_product(value, Decimal::ONE, asset.decimals) {
                Err(Inexact::Fraction) => format!(
                    "{value} {} is not a whole number of {} minor units (decimals {})",
                    asset.name, asset.name, asset.decimals
                ),
                _ => format!(
                    "{value} {} is more than {MAX_AMOUNT} minor units",
                    asset.name
                ),
            };
            self.field(at, key, message)
        })
    }

    pub(super) fn deposits(
        &self,
        raw: &[DepositEntry],
        assets: &[AssetSpec],
    ) -> Result<Vec<Command>, ConfigError> {
        // Per (account, asset) running totals: a file whose deposits overflow a balance would
        // fail at the first start, after the journal already holds part of them.
        let mut totals: HashMap<(u32, usize), u64> = HashMap::new();
        raw.iter()
            .enumerate()
            .map(|(i, deposit)| {
                let at = format!("deposits[{i}]");
                let index = assets
                    .iter()
                    .position(|a| a.name == deposit.asset)
                    .ok_or_else(|| {
                        self.field(
                            &at,
                            "asset",
                            format!("{:?} is not a configured asset", deposit.asset),
                        )
                    })?;
                let asset = &assets[index];
                let amount = self.positive_amount(&at, "amount", deposit.amount.0, asset)?;
                let total = totals.entry((deposit.account, index)).or_insert(0);
                *total = Amount(*total)
                    .checked_add(amount)
                    .ok_or_else(|| {
                        self.field(
                            &at,
                            "amount",
                            format!(
                                "brings account {}'s {} to more than {MAX_AMOUNT} minor units",
                                deposit.account, asset.name
                            ),
                        )
                    })?
                    .0;
                Ok(Command::deposit(
                    AccountId(deposit.account),
                    AssetId(index as u16),
                    amount,
                ))
            })
            .collect()
    }
}
