//! The demo exchange's market and data path: the part of the demo file the core reads. The
//! gateway's demo (`hayate_adapters::config::DEMO_TOML`) is its own sections followed by this
//! text, so the two never drift apart.

/// The demo's core sections as a string literal (`[journal]`, `[pipeline]`, `[[assets]]`,
/// `[[symbols]]`, `[[deposits]]`), for `concat!` into a whole demo file.
#[macro_export]
macro_rules! demo_core_toml {
    () => {
        r#"[journal]
dir = "data"
fsync = "always"                # always (group commit per batch) | never | interval
# fsync_interval_ms = 10        # required with fsync = "interval"
segment_size = 67108864         # bytes per journal segment (64 MiB)
snapshot_every = 0              # commands between snapshots; 0 = only at stop and when an admin asks
keep_snapshots = 3              # newest valid snapshots kept; older ones and the journal segments
                                # wholly covered by the oldest kept one are deleted (0 = keep all)
min_free_mb = 1024              # disk guard: below this much free space new orders and replaces
                                # are refused DISK_FULL (at least two segments; 0 = off)

[pipeline]
input_ring = 16384              # slots, a power of two >= 64; a full ring pushes back on gateways
output_ring = 65536             # slots, a power of two
wait = "backoff"                # backoff (spin, then sleep until woken: shared cores) | yield | busy-spin
# pin_journaler = 2             # core ids, for machines with a core to spare per stage
# pin_replicator = 3
# pin_matcher = 4
snapshot_on_stop = true

[[assets]]
name = "BTC"
decimals = 8
[[assets]]
name = "JPY"
decimals = 4

[[symbols]]
name = "BTC-JPY"
base = "BTC"
quote = "JPY"
tick_size = "1"
lot_size = "0.0001"
min_qty = "0.0001"
max_qty = "1000"
maker_fee_bps = 0
taker_fee_bps = 10
band_bps = 1000
reference_price = "5000000"
# Fat-finger limit (BEHAVIOUR.md §10): refuse any order or replace worth more than this many JPY
# at its limit price (a market order at its protection price). Unset: no limit.
# max_notional = "50000000"
# Circuit breaker (BEHAVIOUR.md §10): a taker never fills more than breaker_bps from the last
# price at least breaker_window_s old; reaching past it halts the symbol for breaker_halt_s.
# All three or none. Unset: off.
# breaker_bps = 500
# breaker_window_s = 300
# breaker_halt_s = 120

# Applied once, the first time a fresh journal starts.
[[deposits]]
account = 1
asset = "JPY"
amount = "100000000"
[[deposits]]
account = 1
asset = "BTC"
amount = "10"
[[deposits]]
account = 2
asset = "JPY"
amount = "100000000"
[[deposits]]
account = 2
asset = "BTC"
amount = "10"
"#
    };
}

/// A file of the core's sections only: the demo market, with the two demo accounts allowed to
/// trade (an engine without a gateway has no users to name them).
pub const DEMO_TOML: &str = concat!(
    demo_core_toml!(),
    "\n# Accounts that may trade besides the gateway users' ones.\n[engine]\naccounts = [1, 2]\n"
);
