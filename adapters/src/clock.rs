//! Wall-clock time for the edges. The engine has no clock: gateways stamp each command with its
//! receive time (journaled), and every timestamp the exchange prints comes from there.

use std::time::{SystemTime, UNIX_EPOCH};

/// Nanoseconds since the Unix epoch (0 if the clock is before it).
pub fn unix_ns() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64)
}
