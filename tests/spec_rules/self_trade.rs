//! BEHAVIOUR.md §3 / §8 self-trade prevention: the DC, CO, CN and CB modes, the taker's mode decides,
//! and an STP cancel's reason is SELF_TRADE.

use crate::support::*;
use hayate::*;

use EventKind as K;
use SelfTradePrevention as Stp;

/// §3 DC "the smaller of the two is cancelled and the larger decremented by the smaller's leaves";
/// §8 "A decremented taker keeps matching". Maker smaller: Canceled(maker), Restated(taker).
#[test]
fn stp_dc_smaller_resting_order_canceled_taker_decremented_keeps_matching() {
    let mut x = Exchange::funded();
    x.sell_id(A1, 1000, 2, "own"); // 1
    x.sell_id(A2, 1001, 3, "m"); // 2
    // Hold reserve(1001, 5) = 500 500 + ceil(1251.25) = 501 752.
    let ev = x.buy(A1, 1001, 5, "t"); // 3
    assert_eq!(
        kinds(&ev),
        [K::Accepted, K::Canceled, K::Restated, K::Fill, K::Fill]
    );
    assert_accepted(&ev[0], 3, A1, 5);
    assert_canceled(&ev[1], 1, Reason::SelfTrade, 0);
    assert_eq!(ev[1].account, A1);
    assert_restated(&ev[2], 3, 3, 3);
    // 3 @ 1001: notional 300 300, taker floor(750.75) = 750, maker floor(300.3) = 300.
    assert_fill(
        &ev[3],
        F {
            order: 3,
            account: A1,
            maker: false,
            px: 1001,
            qty: 3,
            trade: 1,
            fee: 750,
            leaves: 0,
            cum: 3,
        },
    );
    assert_eq!(ev[3].order_qty, Qty(3));
    assert_fill(
        &ev[4],
        F {
            order: 2,
            account: A2,
            maker: true,
            px: 1001,
            qty: 3,
            trade: 1,
            fee: 300,
            leaves: 0,
            cum: 3,
        },
    );
    // No trade and no fee for the self-match: one trade only, fees 1 050.
    assert_eq!(x.engine.next_trade_id(), TradeId(2));
    assert_eq!(x.bal(FEES, JPY), (1_050, 0));
    assert_eq!(x.bal(A1, JPY), (100_000_000 - 301_050, 0));
    assert_eq!(x.bal(A1, BTC), (1_003_000_000, 0));
}

/// DC with the resting order larger: Restated(maker), Canceled(taker); §8 "a decremented order
/// keeps its time priority, its OrderQty shrinks and its hold with it".
#[test]
fn stp_dc_larger_resting_order_decremented_keeps_priority_taker_canceled() {
    let mut x = Exchange::funded();
    x.sell_id(A1, 1000, 5, "own"); // 1
    x.sell_id(A2, 1000, 1, "m"); // 2
    let ev = x.buy(A1, 1000, 2, "t"); // 3
    assert_eq!(kinds(&ev), [K::Accepted, K::Restated, K::Canceled]);
    assert_restated(&ev[1], 1, 3, 3);
    assert_eq!(ev[1].side(), Some(Side::Sell));
    assert_canceled(&ev[2], 3, Reason::SelfTrade, 0);
    assert_eq!(x.bal(A1, BTC), (997_000_000, 3_000_000));
    assert_eq!(x.bal(A1, JPY), (100_000_000, 0));
    assert_eq!(x.depth(BTC_JPY, Side::Sell), [(1000, 4, 2)]);
    assert_eq!(x.engine.next_trade_id(), TradeId(1));
    // Priority kept: the next buyer meets order 1 first.
    let ev = x.buy(A3, 1000, 1, "b");
    assert_eq!(ev[2].order_id, OrderId(1));
    assert_eq!(ev[2].order_qty, Qty(3));
    assert_eq!(ev[2].leaves_qty, Qty(2));
}

/// DC with equal sizes: both cancelled, maker first.
#[test]
fn stp_dc_equal_sizes_cancel_both() {
    let mut x = Exchange::funded();
    x.sell_id(A1, 1000, 2, "own"); // 1
    let ev = x.buy(A1, 1000, 2, "t"); // 2
    assert_eq!(kinds(&ev), [K::Accepted, K::Canceled, K::Canceled]);
    assert_canceled(&ev[1], 1, Reason::SelfTrade, 0);
    assert_canceled(&ev[2], 2, Reason::SelfTrade, 0);
    assert!(x.depth(BTC_JPY, Side::Sell).is_empty());
    assert!(x.depth(BTC_JPY, Side::Buy).is_empty());
    assert_eq!(x.bal(A1, JPY), (100_000_000, 0));
    assert_eq!(x.bal(A1, BTC), (1_000_000_000, 0));
    assert_eq!(x.engine.next_trade_id(), TradeId(1));
}

/// CO: "the resting order is cancelled; the taker goes on matching" (no Restated of the taker).
#[test]
fn stp_co_cancels_the_resting_order_and_the_taker_keeps_matching() {
    let mut x = Exchange::funded();
    x.sell_id(A1, 1000, 2, "own"); // 1
    x.sell_id(A2, 1000, 2, "m"); // 2
    let ev = x.place(limit(A1, BTC_JPY, Side::Buy, 1000, 3, "t").with_stp(Stp::CancelOldest)); // 3
    assert_eq!(kinds(&ev), [K::Accepted, K::Canceled, K::Fill, K::Fill]);
    assert_canceled(&ev[1], 1, Reason::SelfTrade, 0);
    assert_fill(
        &ev[2],
        F {
            order: 3,
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
    let o = x.order(OrderId(3));
    assert_eq!((o.order_qty, o.leaves_qty), (Qty(3), Qty(1)));
    assert_eq!(x.depth(BTC_JPY, Side::Buy), [(1000, 1, 1)]);
    assert!(x.depth(BTC_JPY, Side::Sell).is_empty());
}

/// CN: "the taker's remainder is cancelled; the resting order stays".
#[test]
fn stp_cn_cancels_the_takers_remainder_and_the_resting_order_stays() {
    let mut x = Exchange::funded();
    x.sell_id(A2, 999, 1, "m"); // 1
    x.sell_id(A1, 1000, 2, "own"); // 2
    let ev = x.place(limit(A1, BTC_JPY, Side::Buy, 1000, 3, "t").with_stp(Stp::CancelNewest)); // 3
    assert_eq!(kinds(&ev), [K::Accepted, K::Fill, K::Fill, K::Canceled]);
    assert_fill(
        &ev[1],
        F {
            order: 3,
            account: A1,
            maker: false,
            px: 999,
            qty: 1,
            trade: 1,
            fee: 249,
            leaves: 2,
            cum: 1,
        },
    );
    assert_canceled(&ev[3], 3, Reason::SelfTrade, 1);
    assert_eq!(x.depth(BTC_JPY, Side::Sell), [(1000, 2, 1)]);
    assert!(
        x.depth(BTC_JPY, Side::Buy).is_empty(),
        "a GTC taker cancelled by CN does not rest"
    );
    // Paid 99 900 + floor(249.75) = 100 149.
    assert_eq!(x.bal(A1, JPY), (99_899_851, 0));
}

/// CB: "cancel both".
#[test]
fn stp_cb_cancels_both() {
    let mut x = Exchange::funded();
    x.sell_id(A1, 1000, 2, "own"); // 1
    x.sell_id(A2, 1000, 5, "m"); // 2 (behind: not reached)
    let ev = x.place(limit(A1, BTC_JPY, Side::Buy, 1000, 5, "t").with_stp(Stp::CancelBoth)); // 3
    assert_eq!(kinds(&ev), [K::Accepted, K::Canceled, K::Canceled]);
    assert_canceled(&ev[1], 1, Reason::SelfTrade, 0);
    assert_canceled(&ev[2], 3, Reason::SelfTrade, 0);
    assert_eq!(x.depth(BTC_JPY, Side::Sell), [(1000, 5, 1)]);
    assert!(x.depth(BTC_JPY, Side::Buy).is_empty());
    assert_eq!(x.bal(A1, JPY), (100_000_000, 0));
}

/// §8 "STP uses the taker's mode."
#[test]
fn stp_uses_the_takers_mode_not_the_resting_orders() {
    let mut x = Exchange::funded();
    x.place(limit(A1, BTC_JPY, Side::Sell, 1000, 2, "own").with_stp(Stp::CancelNewest)); // 1
    let ev = x.buy(A1, 1000, 5, "t"); // 2, default DC
    assert_eq!(kinds(&ev), [K::Accepted, K::Canceled, K::Restated]);
    assert_canceled(&ev[1], 1, Reason::SelfTrade, 0);
    assert_restated(&ev[2], 2, 3, 3);
    assert_eq!(x.depth(BTC_JPY, Side::Buy), [(1000, 3, 1)]);
    // The decremented order holds reserve(1000, 3) = 300 750.
    assert_eq!(x.bal(A1, JPY), (100_000_000 - 300_750, 300_750));
}

/// §8 "An STP cancel's reason is SELF_TRADE even for IOC or market orders."
#[test]
fn stp_cancel_of_ioc_and_market_takers_is_self_trade() {
    let mut x = Exchange::funded();
    x.sell_id(A1, 1000, 2, "own"); // 1
    let ev = x.place(
        limit(A1, BTC_JPY, Side::Buy, 1000, 3, "i")
            .with_tif(TimeInForce::Ioc)
            .with_stp(Stp::CancelNewest),
    );
    assert_eq!(kinds(&ev), [K::Accepted, K::Canceled]);
    assert_canceled(&ev[1], 2, Reason::SelfTrade, 0);
    let ev = x.place(market(A1, BTC_JPY, Side::Buy, 1, "m").with_stp(Stp::CancelNewest));
    assert_eq!(kinds(&ev), [K::Accepted, K::Canceled]);
    assert_canceled(&ev[1], 3, Reason::SelfTrade, 0);
    // DC, taker smaller: the market taker is cancelled SELF_TRADE, the resting one decremented.
    let ev = x.place(market(A1, BTC_JPY, Side::Buy, 1, "m2"));
    assert_eq!(kinds(&ev), [K::Accepted, K::Restated, K::Canceled]);
    assert_restated(&ev[1], 1, 1, 1);
    assert_canceled(&ev[2], 4, Reason::SelfTrade, 0);
    assert_eq!(x.bal(A1, JPY), (100_000_000, 0));
    assert_eq!(x.bal(A1, BTC), (999_000_000, 1_000_000));
}
