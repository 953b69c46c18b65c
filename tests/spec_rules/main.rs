//! One test per rule of BEHAVIOUR.md §1–§3 and the engine rules of §8, with hand-computed expectations.
//!
//! All numbers refer to `support::test_config()`; see `support.rs` for the derivation.
//! On BTC-JPY (symbol 0): notional(p, q) = 100·p·q JPY minor units, taker fee (25 bps) =
//! floor(p·q/4), maker fee (10 bps) = floor(p·q/10), reserve(p, q) = 100·p·q + ceil(p·q/4),
//! a lot is 1 000 000 BTC minor units, reference 1001, band 1000 bps → [901, 1101].
//! Accounts 1–3 start with JPY 100 000 000, BTC 1 000 000 000, ETH 1 000 000 000 in `funded()`.
//!
//! The `Exchange` harness checks `check_invariants()` and conservation after every command.
//!
//! One module per section of the spec, in its order: §1 `units`, §2 `funds`, §3 `orders`,
//! `validation`, `price_band`, `market_orders`, `matching`, `self_trade`, then `cancel`,
//! `replace`, `mass_cancel` and `halts` (§3 with §8's rules), §4 `determinism`, and §10's engine
//! `protections` (fat-finger limit, account block) and `breaker` (the circuit breaker).

mod support;

mod breaker;
mod cancel;
mod determinism;
mod funds;
mod halts;
mod market_orders;
mod mass_cancel;
mod matching;
mod orders;
mod price_band;
mod protections;
mod replace;
mod self_trade;
mod units;
mod validation;
