//! Decimals as the file writes them, and their exact conversion to whole units: a size that is
//! not a whole number of ticks, lots or minor units is refused, never rounded.

use std::fmt;

use rust_decimal::Decimal;
use serde::Deserialize;

/// A decimal written as a TOML string (`"0.0001"`) or integer (`5`). Floats are refused: `0.1`
/// is not exactly representable in binary, and a config that silently rounds a tick size would
/// price every order wrongly.
#[derive(Clone, Copy, Debug)]
pub(super) struct ConfigDecimal(pub(super) Decimal);

impl<'de> Deserialize<'de> for ConfigDecimal {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl serde::de::Visitor<'_> for Visitor {
            type Value = ConfigDecimal;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a decimal written as a string (\"0.0001\") or an integer")
            }

            fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<ConfigDecimal, E> {
                Ok(ConfigDecimal(Decimal::from(v)))
            }

            fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<ConfigDecimal, E> {
                Ok(ConfigDecimal(Decimal::from(v)))
            }

            fn visit_f64<E: serde::de::Error>(self, v: f64) -> Result<ConfigDecimal, E> {
                Err(E::custom(format_args!(
                    "{v} is a floating-point number, which is not exact; \
                     write the decimal as a string: \"{v}\""
                )))
            }

            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<ConfigDecimal, E> {
                // `from_str_exact` rather than `from_str`: the latter rounds digits past the 28th
                // decimal place away instead of refusing them.
                Decimal::from_str_exact(v).map(ConfigDecimal).map_err(|_| {
                    E::custom(format_args!(
                        "\"{v}\" is not a decimal number (write it like \"0.0001\")"
                    ))
                })
            }
        }
        deserializer.deserialize_any(Visitor)
    }
}

/// Why a decimal did not convert to a whole number of some unit.
pub(super) enum Inexact {
    /// It has a fractional part in that unit.
    Fraction,
    /// It is a whole number but larger than a `u64` (or than the arithmetic here can hold).
    TooLarge,
}

/// `a × b × 10^decimals` exactly, as a whole `u64`. Done on the integer mantissas rather than with
/// `Decimal` multiplication, which rounds past 28 decimal places and could make a fraction look
/// whole. `a` and `b` must be positive.
pub(super) fn scaled_product(a: Decimal, b: Decimal, decimals: u32) -> Result<u64, Inexact> {
    let (a, b) = (a.normalize(), b.normalize());
    let mut factors = [a.mantissa().unsigned_abs(), b.mantissa().unsigned_abs()];
    let scale = a.scale() + b.scale();
    let multiplier = if decimals >= scale {
        10u128
            .checked_pow(decimals - scale)
            .ok_or(Inexact::TooLarge)?
    } else {
        // Divide 10^(scale − decimals) out of the mantissas, one prime at a time.
        for prime in [2, 5] {
            let mut owed = scale - decimals;
            for factor in &mut factors {
                while owed > 0 && *factor % prime == 0 {
                    *factor /= prime;
                    owed -= 1;
                }
            }
            if owed > 0 {
                return Err(Inexact::Fraction);
            }
        }
        1
    };
    let product = factors[0]
        .checked_mul(factors[1])
        .and_then(|p| p.checked_mul(multiplier))
        .ok_or(Inexact::TooLarge)?;
    u64::try_from(product).map_err(|_| Inexact::TooLarge)
}

/// `value / step` exactly, as a whole `u64`. Both must be positive.
pub(super) fn exact_steps(value: Decimal, step: Decimal) -> Result<u64, Inexact> {
    let (value, step) = (value.normalize(), step.normalize());
    // Bring both to the same scale so the division is of integers.
    let scale = value.scale().max(step.scale());
    let widen = |d: Decimal| {
        10u128
            .checked_pow(scale - d.scale())
            .and_then(|m| d.mantissa().unsigned_abs().checked_mul(m))
            .ok_or(Inexact::TooLarge)
    };
    let (value, step) = (widen(value)?, widen(step)?);
    if value % step != 0 {
        return Err(Inexact::Fraction);
    }
    u64::try_from(value / step).map_err(|_| Inexact::TooLarge)
}
