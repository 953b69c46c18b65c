//! BEHAVIOUR.md §3 / §8 market orders: IOC limit orders at the band's protection price, never
//! trading beyond it; FOK fill-or-kill; any other time in force is IOC.

use crate::support::*;
use hayate::*;

use EventKind as K;

/// §3 "Market orders are IOC limit orders at the protection price: buy at the band's upper
/// bound"; §8 "A market buy must be able to reserve reserve(protection price, qty)".
#[test]
fn market_buy_reserves_at_the_upper_band_and_is_ioc() {
    let mut x = Exchange::new();
    x.deposit(A2, BTC, 2_000_000);
    x.sell_id(A2, 1000, 2, "s"); // order 1
    // Upper bound 1101: reserve(1101, 3) = 330 300 + ceil(825.75) = 331 126.
    x.deposit(A1, JPY, 331_125);
    assert_rejected(
        &x.run_unchanged(Command::new_order(market(A1, BTC_JPY, Side::Buy, 3, "m"))),
        Reason::InsufficientFunds,
    );
    x.deposit(A1, JPY, 1);
    let ev = x.place(market(A1, BTC_JPY, Side::Buy, 3, "m")); // order 2
    assert_eq!(kinds(&ev), [K::Accepted, K::Fill, K::Fill, K::Canceled]);
    assert_accepted(&ev[0], 2, A1, 3);
    assert_fill(
        &ev[1],
        F {
            order: 2,
            account: A1,
            maker: false,
            px: 1000,
            qty: 2,
            trade: 1,
            fee: 500,
            leaves: 1,
            cum: 2,
        },
    );
    assert_fill(
        &ev[2],
        F {
            order: 1,
            account: A2,
            maker: true,
            px: 1000,
            qty: 2,
            trade: 1,
            fee: 200,
            leaves: 0,
            cum: 2,
        },
    );
    assert_canceled(&ev[3], 2, Reason::IocRemainder, 2);
    // Paid 200 000 + 500; the rest of the hold returns: 331 126 − 200 500 = 130 626.
    assert_eq!(x.bal(A1, JPY), (130_626, 0));
    assert_eq!(x.bal(A1, BTC), (2_000_000, 0));
    assert!(
        x.depth(BTC_JPY, Side::Buy).is_empty(),
        "a market order never rests"
    );
    assert!(x.engine.open_orders(A1).is_empty());
}

/// Market sell: IOC at the band's lower bound (901 for R = 1001).
#[test]
fn market_sell_trades_down_to_the_lower_band() {
    let mut x = Exchange::funded();
    x.buy_id(A1, 950, 1, "b1"); // order 1
    x.buy_id(A3, 901, 1, "b2"); // order 2
    let ev = x.place(market(A2, BTC_JPY, Side::Sell, 3, "m")); // order 3
    assert_eq!(
        kinds(&ev),
        [K::Accepted, K::Fill, K::Fill, K::Fill, K::Fill, K::Canceled]
    );
    assert_fill(
        &ev[1],
        F {
            order: 3,
            account: A2,
            maker: false,
            px: 950,
            qty: 1,
            trade: 1,
            fee: 237,
            leaves: 2,
            cum: 1,
        },
    ); // floor(237.5)
    assert_fill(
        &ev[3],
        F {
            order: 3,
            account: A2,
            maker: false,
            px: 901,
            qty: 1,
            trade: 2,
            fee: 225,
            leaves: 1,
            cum: 2,
        },
    ); // floor(225.25)
    assert_eq!(ev[4].order_id, OrderId(2));
    assert_canceled(&ev[5], 3, Reason::IocRemainder, 2);
    assert_eq!(x.engine.reference_price(BTC_JPY), Some(Price(901)));
    assert_eq!(x.bal(A2, BTC), (998_000_000, 0));
}

/// The protection price bounds a market order: after R moves to 1100 (band [990, 1210]) a market
/// sell does not reach a bid at 901.
#[test]
fn market_order_never_trades_beyond_the_protection_price() {
    let mut x = Exchange::funded();
    x.buy_id(A1, 901, 1, "low"); // order 1
    x.sell(A3, 1100, 1, "s"); // order 2
    x.buy(A2, 1100, 1, "b"); // order 3 → trade @ 1100
    assert_eq!(x.engine.reference_price(BTC_JPY), Some(Price(1100)));
    let ev = x.place(market(A2, BTC_JPY, Side::Sell, 1, "m"));
    assert_eq!(kinds(&ev), [K::Accepted, K::Canceled]);
    assert_canceled(&ev[1], 4, Reason::IocRemainder, 0);
    assert_eq!(x.depth(BTC_JPY, Side::Buy), [(901, 1, 1)]);
    assert_eq!(x.bal(A2, BTC), (1_001_000_000, 0));
}

/// §8 "A market order with TimeInForce FOK is fill-or-kill at the protection price."
#[test]
fn market_fok_fills_whole_or_not_at_all() {
    let mut x = Exchange::funded();
    x.sell_id(A2, 1000, 2, "s1"); // order 1
    let ev = x.place(market(A1, BTC_JPY, Side::Buy, 3, "f1").with_tif(TimeInForce::Fok)); // order 2
    assert_eq!(kinds(&ev), [K::Accepted, K::Canceled]);
    assert_canceled(&ev[1], 2, Reason::FokUnfilled, 0);
    assert_eq!(x.depth(BTC_JPY, Side::Sell), [(1000, 2, 1)]);
    assert_eq!(x.bal(A1, JPY), (100_000_000, 0));
    // 1 more @ 1050 ≤ 1101: now 3 are available.
    x.sell_id(A3, 1050, 1, "s2"); // order 3
    let ev = x.place(market(A1, BTC_JPY, Side::Buy, 3, "f2").with_tif(TimeInForce::Fok)); // order 4
    assert_eq!(
        kinds(&ev),
        [K::Accepted, K::Fill, K::Fill, K::Fill, K::Fill]
    );
    // 2 @ 1000: fee floor(500) = 500; 1 @ 1050: fee floor(262.5) = 262.
    assert_fill(
        &ev[1],
        F {
            order: 4,
            account: A1,
            maker: false,
            px: 1000,
            qty: 2,
            trade: 1,
            fee: 500,
            leaves: 1,
            cum: 2,
        },
    );
    assert_fill(
        &ev[3],
        F {
            order: 4,
            account: A1,
            maker: false,
            px: 1050,
            qty: 1,
            trade: 2,
            fee: 262,
            leaves: 0,
            cum: 3,
        },
    );
    // 100 000 000 − (200 000 + 105 000 + 500 + 262) = 99 694 238.
    assert_eq!(x.bal(A1, JPY), (99_694_238, 0));
    assert_eq!(x.engine.reference_price(BTC_JPY), Some(Price(1050)));
}

/// §8 "any other TimeInForce on a market order means IOC": a GTC market order does not rest.
#[test]
fn market_order_with_gtc_is_ioc() {
    let mut x = Exchange::funded();
    x.sell_id(A2, 1000, 1, "s"); // 1
    let ev = x.place(market(A1, BTC_JPY, Side::Buy, 3, "m").with_tif(TimeInForce::Gtc)); // 2
    assert_eq!(kinds(&ev), [K::Accepted, K::Fill, K::Fill, K::Canceled]);
    assert_canceled(&ev[3], 2, Reason::IocRemainder, 1);
    assert!(x.depth(BTC_JPY, Side::Buy).is_empty());
    // Paid 100 000 + 250; nothing stays reserved.
    assert_eq!(x.bal(A1, JPY), (100_000_000 - 100_250, 0));
}
