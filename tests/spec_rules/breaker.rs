//! BEHAVIOUR.md §10 circuit breaker: the anchor (the last trade at least W old by command
//! timestamps, the reference price before), the bounds a taker fills within, the trip (remainder
//! cancelled `CIRCUIT_BREAKER`, symbol halted), the timed resume on the first command at or after
//! trigger + H, and how it meets an operator's halt and resume.
//!
//! The breaker used here: BTC-JPY B = 500 bps, W = 10 s, H = 60 s. With the reference price 1001
//! as anchor, the bounds are [ceil(1001 × 9500 / 10000), floor(1001 × 10500 / 10000)] =
//! [ceil(950.95), floor(1051.05)] = [951, 1051] (the price band, 1000 bps, is [901, 1101], so
//! orders beyond the breaker's bounds are still accepted). ETH-JPY (no reference price, no band)
//! has B = 1000 bps with the same W and H.

use crate::support::*;
use hayate::*;

use EventKind as K;

const S: u64 = 1_000_000_000;
/// Commands start here (any time would do; well past W, so "W before" is a real instant).
const T0: u64 = 1_000 * S;
const H: u64 = 60 * S;

fn breakers() -> Exchange {
    let mut config = test_config();
    config.symbols[0].breaker = Some(BreakerSpec {
        bps: 500,
        window_ns: 10 * S,
        halt_ns: H,
    });
    config.symbols[1].breaker = Some(BreakerSpec {
        bps: 1000,
        window_ns: 10 * S,
        halt_ns: H,
    });
    let mut x = Exchange::with_config(config);
    x.fund_all();
    x
}

/// Places `order` stamped `t`.
fn place_at(x: &mut Exchange, t: u64, order: NewOrder) -> Vec<Event> {
    x.run(Command::new_order(order).at(t))
}

fn buy(account: AccountId, price: u64, qty: u64, id: &str) -> NewOrder {
    limit(account, BTC_JPY, Side::Buy, price, qty, id)
}

fn sell(account: AccountId, price: u64, qty: u64, id: &str) -> NewOrder {
    limit(account, BTC_JPY, Side::Sell, price, qty, id)
}

fn ioc(order: NewOrder) -> NewOrder {
    order.with_tif(TimeInForce::Ioc)
}

/// `order` as a command stamped `t`.
fn order_at(order: NewOrder, t: u64) -> Command {
    Command::new_order(order).at(t)
}

/// The fill prices of the taker `order` in `events`.
fn taker_fills(events: &[Event], order: u64) -> Vec<u64> {
    events
        .iter()
        .filter(|e| e.event_kind() == Some(K::Fill) && e.order_id == OrderId(order))
        .map(|e| e.fill().last_px.0)
        .collect()
}

/// Asserts the last event is the breaker's trip on `symbol` at `t`, anchored at `anchor`.
#[track_caller]
fn assert_tripped(x: &Exchange, events: &[Event], symbol: SymbolId, t: u64, anchor: u64) {
    let e = events.last().expect("events");
    assert_eq!(e.event_kind(), Some(K::Halted), "{events:#?}");
    assert_eq!(e.reason(), Reason::CircuitBreaker);
    assert_eq!(e.symbol, symbol);
    assert_eq!(e.detail[0], t + H, "the halt ends H after the trigger");
    assert_eq!(e.detail[1], anchor, "the anchor the bounds came from");
    assert!(x.engine.is_halted(Some(symbol)));
    assert_eq!(x.engine.breaker_halted_until(symbol), Some(t + H));
}

/// Asks 1@1040, 1@1051, 1@1052 (orders 1–3) resting on BTC-JPY, then a GTC buy of 3 @ 1060
/// (order 4) at `T0 + 1 s`: it takes 1040 and 1051 (the upper bound, inclusive) and stops before
/// 1052. Returns the taker's events.
fn tripped_upwards(x: &mut Exchange) -> Vec<Event> {
    for (i, px) in [1040, 1051, 1052].into_iter().enumerate() {
        place_at(x, T0, sell(A2, px, 1, &format!("s{i}")));
    }
    place_at(x, T0 + S, buy(A1, 1060, 3, "t"))
}

/// "A taker never fills beyond floor(A × (10000 + B) / 10000): it fills up to that bound, its
/// remainder is cancelled CIRCUIT_BREAKER, and the symbol halts" — a GTC remainder too.
#[test]
fn buy_taker_fills_up_to_the_upper_bound_then_trips() {
    let mut x = breakers();
    let ev = tripped_upwards(&mut x);
    assert_eq!(
        kinds(&ev),
        [
            K::Accepted,
            K::Fill,
            K::Fill,
            K::Fill,
            K::Fill,
            K::Canceled,
            K::Halted
        ]
    );
    assert_eq!(taker_fills(&ev, 4), [1040, 1051]);
    assert_canceled(&ev[5], 4, Reason::CircuitBreaker, 2);
    assert_tripped(&x, &ev, BTC_JPY, T0 + S, 1001);
    // The ask beyond the bound is untouched; the taker holds nothing any more.
    assert_eq!(x.depth(BTC_JPY, Side::Sell), [(1052, 1, 1)]);
    assert_eq!(x.reserved(A1, JPY), 0);
    // Halted: new orders are refused HALTED (§3), cancels work, other symbols trade.
    assert_rejected(
        &x.run(order_at(buy(A1, 1052, 1, "n"), T0 + 2 * S)),
        Reason::Halted,
    );
    let ev = x.run(Command::cancel(A2, OrderRef::Id(OrderId(3)), cid("c")).at(T0 + 2 * S));
    assert_eq!(kinds(&ev), [K::Canceled]);
    let ev = place_at(
        &mut x,
        T0 + 2 * S,
        sym_limit(A1, ETH_JPY, Side::Buy, 100, 2, "e"),
    );
    assert_eq!(kinds(&ev), [K::Accepted]);
}

/// The lower bound ceil(1001 × 9500 / 10000) = 951 is inclusive; an IOC sell's remainder is
/// cancelled CIRCUIT_BREAKER, not IOC_REMAINDER.
#[test]
fn sell_taker_fills_down_to_the_lower_bound_then_trips() {
    let mut x = breakers();
    for (i, px) in [960, 951, 950].into_iter().enumerate() {
        place_at(&mut x, T0, buy(A1, px, 1, &format!("b{i}")));
    }
    let ev = place_at(&mut x, T0 + S, ioc(sell(A2, 901, 3, "t")));
    assert_eq!(taker_fills(&ev, 4), [960, 951]);
    assert_canceled(&ev[ev.len() - 2], 4, Reason::CircuitBreaker, 2);
    assert_tripped(&x, &ev, BTC_JPY, T0 + S, 1001);
    assert_eq!(x.depth(BTC_JPY, Side::Buy), [(950, 1, 1)]);
}

/// A taker whose first reachable level is already beyond the bound trades nothing and trips.
#[test]
fn a_taker_stopped_before_any_fill_still_trips() {
    let mut x = breakers();
    place_at(&mut x, T0, sell(A2, 1052, 1, "s"));
    let ev = place_at(&mut x, T0 + S, ioc(buy(A1, 1052, 1, "t")));
    assert_eq!(kinds(&ev), [K::Accepted, K::Canceled, K::Halted]);
    assert_canceled(&ev[1], 2, Reason::CircuitBreaker, 0);
    assert_tripped(&x, &ev, BTC_JPY, T0 + S, 1001);
}

/// Market orders are IOC at the protection price (1101 for a buy): the breaker stops them too.
#[test]
fn market_orders_stop_at_the_bound() {
    let mut x = breakers();
    for (i, px) in [1040, 1051, 1052].into_iter().enumerate() {
        place_at(&mut x, T0, sell(A2, px, 1, &format!("s{i}")));
    }
    let ev = place_at(&mut x, T0 + S, market(A1, BTC_JPY, Side::Buy, 3, "m"));
    assert_eq!(taker_fills(&ev, 4), [1040, 1051]);
    assert_canceled(&ev[ev.len() - 2], 4, Reason::CircuitBreaker, 2);
    assert_tripped(&x, &ev, BTC_JPY, T0 + S, 1001);
}

/// FOK is all or nothing, so it cannot fill up to the bound: what lies within the bounds is all
/// it may count. Enough within them: it fills. Not enough, and its limit reaches past the bound:
/// cancelled whole CIRCUIT_BREAKER and the symbol halts. Not enough, and its limit stops short
/// of the bound anyway: FOK_UNFILLED, no halt.
#[test]
fn fok_counts_only_what_lies_within_the_bounds() {
    let asks = |x: &mut Exchange| {
        for (i, px) in [1040, 1050, 1060].into_iter().enumerate() {
            place_at(x, T0, sell(A2, px, 1, &format!("s{i}")));
        }
    };
    let fok = |px, qty| buy(A1, px, qty, "f").with_tif(TimeInForce::Fok);

    let mut x = breakers();
    asks(&mut x);
    let ev = place_at(&mut x, T0 + S, fok(1060, 2));
    assert_eq!(taker_fills(&ev, 4), [1040, 1050]);
    assert!(!x.engine.is_halted(Some(BTC_JPY)));

    let mut x = breakers();
    asks(&mut x);
    let ev = place_at(&mut x, T0 + S, fok(1060, 3));
    assert_eq!(kinds(&ev), [K::Accepted, K::Canceled, K::Halted]);
    assert_canceled(&ev[1], 4, Reason::CircuitBreaker, 0);
    assert_tripped(&x, &ev, BTC_JPY, T0 + S, 1001);
    assert_eq!(x.depth(BTC_JPY, Side::Sell).len(), 3, "nothing traded");

    let mut x = breakers();
    asks(&mut x);
    let ev = place_at(&mut x, T0 + S, fok(1050, 3));
    assert_eq!(kinds(&ev), [K::Accepted, K::Canceled]);
    assert_canceled(&ev[1], 4, Reason::FokUnfilled, 0);
    assert!(!x.engine.is_halted(Some(BTC_JPY)));
}

/// A replace that now crosses matches as a taker (§3), within the breaker's bounds like any.
#[test]
fn a_crossing_replace_stops_at_the_bound() {
    let mut x = breakers();
    place_at(&mut x, T0, sell(A2, 1040, 1, "s1"));
    place_at(&mut x, T0, sell(A2, 1052, 1, "s2"));
    place_at(&mut x, T0, buy(A1, 1000, 2, "b"));
    let ev = x.run(
        Command::replace(A1, OrderRef::Id(OrderId(3)), cid("b2"), Price(1060), Qty(2)).at(T0 + S),
    );
    assert_eq!(ev[0].event_kind(), Some(K::Replaced));
    assert_eq!(taker_fills(&ev, 3), [1040]);
    assert_canceled(&ev[ev.len() - 2], 3, Reason::CircuitBreaker, 1);
    assert_tripped(&x, &ev, BTC_JPY, T0 + S, 1001);
}

/// "until the first command stamped at or after trigger time + H, which resumes it before it is
/// processed": 1 ns before, still halted; at it, `Resumed` (reason CIRCUIT_BREAKER) comes first
/// and the command is then processed on the open symbol. Any command counts, a deposit too.
#[test]
fn the_first_command_at_trigger_plus_h_resumes_before_it_is_processed() {
    let mut x = breakers();
    tripped_upwards(&mut x);
    let trigger = T0 + S;
    assert_rejected(
        &x.run(order_at(buy(A1, 1052, 1, "n"), trigger + H - 1)),
        Reason::Halted,
    );
    let ev = place_at(&mut x, trigger + H, buy(A1, 1052, 1, "n"));
    assert_eq!(kinds(&ev), [K::Resumed, K::Accepted, K::Fill, K::Fill]);
    assert_eq!(ev[0].reason(), Reason::CircuitBreaker);
    assert_eq!(ev[0].symbol, BTC_JPY);
    assert!(!x.engine.is_halted(Some(BTC_JPY)));
    assert_eq!(x.engine.breaker_halted_until(BTC_JPY), None);

    let mut x = breakers();
    tripped_upwards(&mut x);
    let ev = x.run(Command::deposit(A3, JPY, Amount(1)).at(trigger + H + 5 * S));
    assert_eq!(kinds(&ev), [K::Resumed, K::Deposited]);
    // Resumed once: later commands see no second resume.
    let ev = place_at(&mut x, trigger + H + 6 * S, buy(A1, 1000, 1, "n"));
    assert_eq!(kinds(&ev), [K::Accepted]);
}

/// "An operator's resume ends it early"; the timer then has nothing left to end.
#[test]
fn an_operator_resume_ends_the_breaker_halt_early() {
    let mut x = breakers();
    tripped_upwards(&mut x);
    let ev = x.run(Command::resume(Some(BTC_JPY)).at(T0 + 5 * S));
    assert_eq!(kinds(&ev), [K::Resumed]);
    assert_eq!(ev[0].reason(), Reason::None);
    assert!(!x.engine.is_halted(Some(BTC_JPY)));
    assert_eq!(x.engine.breaker_halted_until(BTC_JPY), None);
    let ev = place_at(&mut x, T0 + 6 * S, buy(A1, 1000, 1, "n"));
    assert_eq!(kinds(&ev), [K::Accepted]);
    let ev = place_at(&mut x, T0 + S + H, buy(A1, 1001, 1, "m"));
    assert_eq!(kinds(&ev), [K::Accepted], "no resume from the timer");
}

/// "An operator's halt is not ended by the timer": the breaker's time passes silently (the
/// symbol's status does not change) and only the operator's resume reopens it.
#[test]
fn an_operator_halt_is_not_ended_by_the_timer() {
    let mut x = breakers();
    tripped_upwards(&mut x);
    let ev = x.run(Command::halt(Some(BTC_JPY)).at(T0 + 5 * S));
    assert_eq!(kinds(&ev), [K::Halted]);
    assert_eq!(ev[0].reason(), Reason::None);
    assert_rejected(
        &x.run(order_at(buy(A1, 1000, 1, "n"), T0 + S + H)),
        Reason::Halted,
    );
    assert!(x.engine.is_halted(Some(BTC_JPY)));
    assert_eq!(
        x.engine.breaker_halted_until(BTC_JPY),
        None,
        "the timer ran out"
    );
    let ev = x.run(Command::resume(Some(BTC_JPY)).at(T0 + S + H + S));
    assert_eq!(kinds(&ev), [K::Resumed]);
    let ev = place_at(&mut x, T0 + S + H + S, buy(A1, 1000, 1, "n"));
    assert_eq!(kinds(&ev), [K::Accepted]);
}

/// §8's separate flags: resuming the exchange does not end a symbol's breaker halt.
#[test]
fn an_exchange_resume_leaves_the_breaker_halt() {
    let mut x = breakers();
    tripped_upwards(&mut x);
    x.run(Command::halt(None).at(T0 + 2 * S));
    x.run(Command::resume(None).at(T0 + 3 * S));
    assert!(x.engine.is_halted(Some(BTC_JPY)));
    assert_rejected(
        &x.run(order_at(buy(A1, 1000, 1, "n"), T0 + 4 * S)),
        Reason::Halted,
    );
}

/// Trades at 1040 (T0 + 1 s) and 1010 (T0 + 2 s), then an ask of 1 @ 1090 rests. Returns the
/// exchange ready for a probe.
fn two_old_trades() -> Exchange {
    let mut x = breakers();
    place_at(&mut x, T0, sell(A2, 1040, 1, "s1"));
    place_at(&mut x, T0 + S, buy(A1, 1040, 1, "b1"));
    place_at(&mut x, T0 + 2 * S, sell(A2, 1010, 1, "s2"));
    place_at(&mut x, T0 + 2 * S, buy(A1, 1010, 1, "b2"));
    place_at(&mut x, T0 + 3 * S, sell(A2, 1090, 1, "s3"));
    assert!(!x.engine.is_halted(Some(BTC_JPY)));
    x
}

/// "The price of the last trade at least W seconds older than the current command", exactly at
/// the boundary, probed by an IOC buy of 1 @ 1090 (order 6):
/// - at T0 + 11 s − 1 ns no trade is 10 s old: anchor 1001, bounds [951, 1051], 1090 trips;
/// - at T0 + 11 s the 1040 trade is exactly 10 s old: anchor 1040, bounds
///   [ceil(988), floor(1092)] = [988, 1092], 1090 fills;
/// - at T0 + 12 s the 1010 trade is too, and it is the later one: anchor 1010, bounds
///   [ceil(959.5), floor(1060.5)] = [960, 1060], 1090 trips.
#[test]
fn the_anchor_is_the_last_trade_at_least_w_old() {
    let probe = |t| order_at(ioc(buy(A1, 1090, 1, "p")), t);
    let mut x = two_old_trades();
    let ev = x.run(probe(T0 + 11 * S - 1));
    assert_tripped(&x, &ev, BTC_JPY, T0 + 11 * S - 1, 1001);

    let mut x = two_old_trades();
    let ev = x.run(probe(T0 + 11 * S));
    assert_eq!(taker_fills(&ev, 6), [1090]);
    assert!(!x.engine.is_halted(Some(BTC_JPY)));
    assert_eq!(x.engine.breaker_anchor(BTC_JPY), Some(Price(1040)));

    let mut x = two_old_trades();
    let ev = x.run(probe(T0 + 12 * S));
    assert_tripped(&x, &ev, BTC_JPY, T0 + 12 * S, 1010);
}

/// The engine's time never goes back: a command stamped before one already processed (two
/// gateway threads) is measured at the later time, so here the 1040 trade is 10 s old for it.
#[test]
fn a_command_stamped_earlier_does_not_move_time_back() {
    let mut x = two_old_trades();
    x.run(Command::deposit(A3, JPY, Amount(1)).at(T0 + 11 * S));
    let ev = x.run(order_at(ioc(buy(A1, 1090, 1, "p")), T0 + 4 * S));
    assert_eq!(taker_fills(&ev, 6), [1090]);
    assert_eq!(x.engine.clock(), T0 + 11 * S);
}

/// With no reference price the symbol's first trade sets the anchor (as an opening auction's
/// price would): the command that makes it is not bounded, the ones after it are.
#[test]
fn without_a_reference_price_the_first_trade_anchors() {
    let mut x = breakers();
    assert_eq!(x.engine.breaker_anchor(ETH_JPY), None);
    place_at(&mut x, T0, sym_limit(A2, ETH_JPY, Side::Sell, 100, 2, "s1"));
    place_at(&mut x, T0, sym_limit(A2, ETH_JPY, Side::Sell, 500, 2, "s2"));
    let ev = place_at(
        &mut x,
        T0 + S,
        sym_limit(A1, ETH_JPY, Side::Buy, 500, 4, "b1"),
    );
    assert_eq!(taker_fills(&ev, 3), [100, 500]);
    assert_eq!(x.engine.breaker_anchor(ETH_JPY), Some(Price(100)));
    // Bounds now [90, 110]: 111 is beyond.
    place_at(
        &mut x,
        T0 + 2 * S,
        sym_limit(A2, ETH_JPY, Side::Sell, 111, 2, "s3"),
    );
    let ev = place_at(
        &mut x,
        T0 + 2 * S,
        sym_limit(A1, ETH_JPY, Side::Buy, 111, 2, "b2"),
    );
    assert_tripped(&x, &ev, ETH_JPY, T0 + 2 * S, 100);
    assert!(
        !x.engine.is_halted(Some(BTC_JPY)),
        "one symbol's breaker halts only it"
    );
}

/// The breaker is engine state: the recent trades, the anchor and the halt's end are in the
/// snapshot and the digest, a loaded engine resumes on the same command, and replaying the
/// journaled commands gives the same events and digest.
#[test]
fn breaker_state_survives_save_load_and_replay() {
    let mut x = two_old_trades();
    let ev = x.run(order_at(ioc(buy(A1, 1090, 1, "p")), T0 + 12 * S));
    assert_tripped(&x, &ev, BTC_JPY, T0 + 12 * S, 1010);
    let saved = x.engine.save();
    let mut loaded = Engine::load(&saved).expect("loads");
    assert_eq!(loaded.digest(), x.engine.digest());
    assert_eq!(loaded.save(), saved);
    assert_eq!(loaded.breaker_halted_until(BTC_JPY), Some(T0 + 12 * S + H));
    assert_eq!(loaded.breaker_anchor(BTC_JPY), Some(Price(1010)));
    assert_eq!(loaded.clock(), T0 + 12 * S);

    let next = order_at(buy(A1, 1050, 1, "n"), T0 + 12 * S + H);
    let mut a = Vec::new();
    loaded.process(&next, &mut a);
    let b = x.run(next);
    assert_eq!(kinds(&a), [K::Resumed, K::Accepted]);
    assert_eq!(a, b);
    assert_eq!(loaded.digest(), x.engine.digest());

    let mut replayed = Engine::new(x.engine.config().clone());
    let mut log = Vec::new();
    for cmd in &x.sent {
        replayed.process(cmd, &mut log);
    }
    assert_eq!(log, x.log);
    assert_eq!(replayed.digest(), x.engine.digest());

    // The same commands 1 ns later each leave another state (the ring's times, the clock): both
    // are in the digest.
    let mut y = breakers();
    for cmd in &x.sent[..x.sent.len() - 2] {
        y.run(cmd.at(cmd.timestamp_ns + 1));
    }
    let mut z = breakers();
    for cmd in &x.sent[..x.sent.len() - 2] {
        z.run(*cmd);
    }
    assert_ne!(y.engine.digest(), z.engine.digest());
}
