//! BEHAVIOUR.md §3 / §8 time in force and matching: IOC remainders are cancelled, GTC remainders rest,
//! price-time priority at the maker's price, and FOK.

use crate::support::*;
use hayate::*;

use EventKind as K;
use SelfTradePrevention as Stp;

/// §3 "IOC: what does not fill at once is cancelled (IOC_REMAINDER)"; §8 IOC orders are accepted
/// first.
#[test]
fn ioc_remainder_is_canceled() {
    let mut x = Exchange::funded();
    x.sell_id(A2, 1000, 2, "s"); // order 1
    let ev = x.place(limit(A1, BTC_JPY, Side::Buy, 1000, 5, "i").with_tif(TimeInForce::Ioc));
    assert_eq!(kinds(&ev), [K::Accepted, K::Fill, K::Fill, K::Canceled]);
    assert_accepted(&ev[0], 2, A1, 5);
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
            leaves: 3,
            cum: 2,
        },
    );
    assert_canceled(&ev[3], 2, Reason::IocRemainder, 2);
    assert_eq!(ev[3].order_qty, Qty(5));
    assert_eq!(x.bal(A1, JPY), (100_000_000 - 200_500, 0));
    assert!(x.depth(BTC_JPY, Side::Buy).is_empty());
    // Nothing to meet: accepted, then cancelled whole.
    let ev = x.place(limit(A1, BTC_JPY, Side::Buy, 1000, 1, "i2").with_tif(TimeInForce::Ioc));
    assert_eq!(kinds(&ev), [K::Accepted, K::Canceled]);
    assert_canceled(&ev[1], 3, Reason::IocRemainder, 0);
    assert_eq!(x.bal(A1, JPY), (100_000_000 - 200_500, 0));
}

/// §3 "GTC: the remainder rests."
#[test]
fn gtc_remainder_rests() {
    let mut x = Exchange::funded();
    x.sell_id(A2, 1000, 2, "s");
    let ev = x.buy(A1, 1000, 5, "g");
    assert_eq!(kinds(&ev), [K::Accepted, K::Fill, K::Fill]);
    assert_eq!(x.depth(BTC_JPY, Side::Buy), [(1000, 3, 1)]);
    let o = x.order(OrderId(2));
    assert_eq!(
        (o.order_qty, o.leaves_qty, o.cum_qty, o.cum_cost),
        (Qty(5), Qty(3), Qty(2), 2000)
    );
    assert_eq!(x.reserved(A1, JPY), 300_750); // reserve(1000, 3) = 300 000 + 750
}

/// §3 "Matching is price-time priority … each fill is at the resting (maker) order's price";
/// two Fill events per match, taker's first.
#[test]
fn matching_is_price_time_priority_at_maker_prices() {
    let mut x = Exchange::funded();
    x.sell_id(A2, 1000, 1, "a"); // 1
    x.sell_id(A3, 1000, 2, "b"); // 2
    x.sell_id(A3, 999, 1, "c"); // 3
    x.sell_id(A2, 1001, 1, "d"); // 4
    let ev = x.buy(A1, 1000, 4, "t"); // 5
    assert_eq!(
        kinds(&ev),
        [
            K::Accepted,
            K::Fill,
            K::Fill,
            K::Fill,
            K::Fill,
            K::Fill,
            K::Fill
        ]
    );
    // 1 @ 999 (fee floor(249.75) = 249), 1 @ 1000 (250), 2 @ 1000 (500).
    assert_fill(
        &ev[1],
        F {
            order: 5,
            account: A1,
            maker: false,
            px: 999,
            qty: 1,
            trade: 1,
            fee: 249,
            leaves: 3,
            cum: 1,
        },
    );
    assert_fill(
        &ev[2],
        F {
            order: 3,
            account: A3,
            maker: true,
            px: 999,
            qty: 1,
            trade: 1,
            fee: 99,
            leaves: 0,
            cum: 1,
        },
    );
    assert_fill(
        &ev[3],
        F {
            order: 5,
            account: A1,
            maker: false,
            px: 1000,
            qty: 1,
            trade: 2,
            fee: 250,
            leaves: 2,
            cum: 2,
        },
    );
    assert_fill(
        &ev[4],
        F {
            order: 1,
            account: A2,
            maker: true,
            px: 1000,
            qty: 1,
            trade: 2,
            fee: 100,
            leaves: 0,
            cum: 1,
        },
    );
    assert_fill(
        &ev[5],
        F {
            order: 5,
            account: A1,
            maker: false,
            px: 1000,
            qty: 2,
            trade: 3,
            fee: 500,
            leaves: 0,
            cum: 4,
        },
    );
    assert_fill(
        &ev[6],
        F {
            order: 2,
            account: A3,
            maker: true,
            px: 1000,
            qty: 2,
            trade: 3,
            fee: 200,
            leaves: 0,
            cum: 2,
        },
    );
    assert_eq!(ev[5].cum_cost, 999 + 1000 + 2000);
    assert_eq!(x.depth(BTC_JPY, Side::Sell), [(1001, 1, 1)]);
    // Paid 99 900 + 100 000 + 200 000 + 249 + 250 + 500 = 400 899.
    assert_eq!(x.bal(A1, JPY), (99_599_101, 0));
    assert_eq!(x.engine.reference_price(BTC_JPY), Some(Price(1000)));
}

// ---- FOK -------------------------------------------------------------------------------------

/// §3 FOK "Otherwise it fills in full; the account's own resting orders met on the way are
/// cancelled (SELF_TRADE)"; §8 "FOK ignores the STP mode … the account's own orders met before
/// the last maker needed are cancelled".
#[test]
fn fok_fills_whole_and_cancels_own_orders_met_before_the_last_maker() {
    let mut x = Exchange::funded();
    x.sell_id(A1, 1000, 2, "own1"); // 1
    x.sell_id(A2, 1000, 3, "m1"); // 2
    x.sell_id(A1, 1001, 1, "own2"); // 3
    x.sell_id(A3, 1002, 5, "m2"); // 4
    x.sell_id(A1, 1002, 1, "own3"); // 5 (behind order 4: not met)
    // Others offer 3 + 5 = 8 ≥ 4 at ≤ 1002. The CN mode must be ignored.
    let o = limit(A1, BTC_JPY, Side::Buy, 1002, 4, "f")
        .with_tif(TimeInForce::Fok)
        .with_stp(Stp::CancelNewest);
    let ev = x.place(o); // 6
    assert_eq!(
        kinds(&ev),
        [
            K::Accepted,
            K::Canceled,
            K::Fill,
            K::Fill,
            K::Canceled,
            K::Fill,
            K::Fill
        ]
    );
    assert_canceled(&ev[1], 1, Reason::SelfTrade, 0);
    assert_fill(
        &ev[2],
        F {
            order: 6,
            account: A1,
            maker: false,
            px: 1000,
            qty: 3,
            trade: 1,
            fee: 750,
            leaves: 1,
            cum: 3,
        },
    );
    assert_fill(
        &ev[3],
        F {
            order: 2,
            account: A2,
            maker: true,
            px: 1000,
            qty: 3,
            trade: 1,
            fee: 300,
            leaves: 0,
            cum: 3,
        },
    );
    assert_canceled(&ev[4], 3, Reason::SelfTrade, 0);
    // 1 @ 1002: notional 100 200, taker floor(250.5) = 250, maker floor(100.2) = 100.
    assert_fill(
        &ev[5],
        F {
            order: 6,
            account: A1,
            maker: false,
            px: 1002,
            qty: 1,
            trade: 2,
            fee: 250,
            leaves: 0,
            cum: 4,
        },
    );
    assert_fill(
        &ev[6],
        F {
            order: 4,
            account: A3,
            maker: true,
            px: 1002,
            qty: 1,
            trade: 2,
            fee: 100,
            leaves: 4,
            cum: 1,
        },
    );
    assert_eq!(x.depth(BTC_JPY, Side::Sell), [(1002, 5, 2)]);
    assert!(
        x.engine.order(OrderId(5)).is_some(),
        "own order after the last maker is untouched"
    );
    // JPY: 100 000 000 − (300 000 + 100 200 + 750 + 250) = 99 598 800.
    assert_eq!(x.bal(A1, JPY), (99_598_800, 0));
    // BTC: own 1 and 3 released, own 5 holds a lot, bought 4: 1 000 000 000 − 1 000 000 + 4 000 000.
    assert_eq!(x.bal(A1, BTC), (1_003_000_000, 1_000_000));
}

/// §3 FOK "if the quantity that other accounts' resting orders offer at acceptable prices is below
/// the order's quantity, the order is cancelled whole with no fill"; §8 "an unfilled FOK touches none".
#[test]
fn fok_unfilled_touches_nothing_and_counts_only_other_accounts() {
    let mut x = Exchange::funded();
    x.sell_id(A1, 1000, 2, "own"); // 1 (own: does not count)
    x.sell_id(A2, 1000, 1, "m"); // 2
    x.sell_id(A2, 1005, 5, "far"); // 3 (above the limit: does not count)
    let before = (x.bal(A1, JPY), x.bal(A1, BTC), x.bal(A2, BTC));
    let ev = x.place(limit(A1, BTC_JPY, Side::Buy, 1000, 2, "f").with_tif(TimeInForce::Fok)); // 4
    assert_eq!(kinds(&ev), [K::Accepted, K::Canceled]);
    assert_accepted(&ev[0], 4, A1, 2);
    assert_canceled(&ev[1], 4, Reason::FokUnfilled, 0);
    assert_eq!(x.depth(BTC_JPY, Side::Sell), [(1000, 3, 2), (1005, 5, 1)]);
    assert_eq!(x.order(OrderId(1)).leaves_qty, Qty(2));
    assert_eq!((x.bal(A1, JPY), x.bal(A1, BTC), x.bal(A2, BTC)), before);
    assert_eq!(x.engine.next_trade_id(), TradeId(1));
}
