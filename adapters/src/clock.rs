//! Wall-clock time for the edges. The engine has no clock: gateways stamp each command with its
//! receive time (journaled), and every timestamp the exchange prints comes from there.

use std::time::{SystemTime, UNIX_EPOCH};

/// Nanoseconds since the Unix epoch (0 if the clock is before it).
pub fn unix_ns() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64)
}

/// `ns` since the Unix epoch as RFC 3339 in UTC with nanoseconds
/// (`2025-01-01T00:00:00.000000000Z`): how the replay tool and the trade history print times.
pub fn rfc3339_nanos(ns: u64) -> String {
    let (secs, nanos) = (ns / 1_000_000_000, ns % 1_000_000_000);
    let (days, second_of_day) = (secs / 86_400, secs % 86_400);
    let (year, month, day) = crate::fix::codec::civil_from_days(days);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{nanos:09}Z",
        second_of_day / 3600,
        second_of_day / 60 % 60,
        second_of_day % 60
    )
}
