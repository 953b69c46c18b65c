//! BEHAVIOUR.md §3 / §8 cancel/replace: when priority is kept, the hold after it, a replace that
//! crosses, REPLACED_DONE, the STP mode and post-only kept, refusals, and the replace checks in
//! order.

use crate::support::*;
use hayate::*;

use EventKind as K;
use SelfTradePrevention as Stp;

/// §3 "Priority is kept only when the price is unchanged and the leaves quantity does not grow."
#[test]
fn replace_same_price_smaller_or_equal_qty_keeps_priority() {
    let mut x = Exchange::funded();
    x.sell_id(A1, 1000, 5, "a"); // 1
    x.sell_id(A2, 1000, 5, "m"); // 2
    let ev = x.replace(A1, OrderRef::Id(OrderId(1)), "a2", 1000, 3);
    assert_eq!(kinds(&ev), [K::Replaced]);
    let e = &ev[0];
    assert_eq!(e.order_id, OrderId(1));
    assert_eq!(e.client_order_id, cid("a2"));
    assert_eq!(e.orig_client_order_id(), cid("a"));
    assert_eq!(
        (e.price, e.order_qty, e.leaves_qty, e.cum_qty),
        (Price(1000), Qty(3), Qty(3), Qty(0))
    );
    assert_eq!(e.side(), Some(Side::Sell));
    assert_eq!(x.bal(A1, BTC), (997_000_000, 3_000_000));
    assert_eq!(x.depth(BTC_JPY, Side::Sell), [(1000, 8, 2)]);
    // The same size again (leaves do not grow): still first.
    x.replace(A1, OrderRef::Client(cid("a2")), "a3", 1000, 3);
    // The old ClOrdID no longer names the order.
    assert_single(
        &x.run_unchanged(Command::cancel(A1, OrderRef::Client(cid("a")), cid("c"))),
        K::CancelRejected,
        Reason::UnknownOrder,
    );
    let ev = x.buy(A3, 1000, 1, "b");
    assert_eq!(
        ev[2].order_id,
        OrderId(1),
        "order 1 kept its place ahead of order 2"
    );
    assert_eq!(x.bal(A1, BTC), (997_000_000, 2_000_000));
}

#[test]
fn replace_same_price_bigger_qty_loses_priority() {
    let mut x = Exchange::funded();
    x.sell_id(A1, 1000, 5, "a"); // 1
    x.sell_id(A2, 1000, 5, "m"); // 2
    let ev = x.replace(A1, OrderRef::Id(OrderId(1)), "a2", 1000, 6);
    assert_eq!(kinds(&ev), [K::Replaced]);
    assert_eq!((ev[0].order_qty, ev[0].leaves_qty), (Qty(6), Qty(6)));
    assert_eq!(x.bal(A1, BTC), (994_000_000, 6_000_000));
    let ev = x.buy(A3, 1000, 1, "b");
    assert_eq!(
        ev[2].order_id,
        OrderId(2),
        "order 1 went to the back of the level"
    );
}

#[test]
fn replace_new_price_loses_priority() {
    let mut x = Exchange::funded();
    x.sell_id(A1, 1001, 5, "a"); // 1
    x.sell_id(A2, 1000, 5, "m"); // 2
    let ev = x.replace(A1, OrderRef::Id(OrderId(1)), "a2", 1000, 5);
    assert_eq!(kinds(&ev), [K::Replaced]);
    assert_eq!(ev[0].price, Price(1000));
    assert_eq!(x.depth(BTC_JPY, Side::Sell), [(1000, 10, 2)]);
    let ev = x.buy(A3, 1000, 6, "b");
    assert_eq!(
        kinds(&ev),
        [K::Accepted, K::Fill, K::Fill, K::Fill, K::Fill]
    );
    assert_eq!(ev[2].order_id, OrderId(2));
    assert_eq!(ev[4].order_id, OrderId(1));
    // A lower price with the same quantity also goes behind (new level, but test a level with
    // someone already there): A2 999, A1 replaced 1000 → 999.
    x.sell_id(A2, 999, 1, "m2"); // 4
    x.replace(A1, OrderRef::Client(cid("a2")), "a3", 999, 4);
    let ev = x.buy(A3, 999, 1, "b2");
    assert_eq!(ev[2].order_id, OrderId(4));
}

/// The buy hold follows the replace: reserve(new price, new leaves).
#[test]
fn replace_moves_the_buy_hold_to_reserve_of_new_price_and_leaves() {
    let mut x = Exchange::funded();
    let id = x.buy_id(A1, 1000, 4, "b"); // 401 000
    x.replace(A1, OrderRef::Id(id), "b1", 950, 4); // 380 000 + 950 = 380 950
    assert_eq!(x.bal(A1, JPY), (100_000_000 - 380_950, 380_950));
    x.replace(A1, OrderRef::Id(id), "b2", 1001, 3); // 300 300 + ceil(750.75) = 301 051
    assert_eq!(x.bal(A1, JPY), (100_000_000 - 301_051, 301_051));
    x.replace(A1, OrderRef::Id(id), "b3", 1001, 6); // 600 600 + ceil(1501.5) = 602 102
    assert_eq!(x.bal(A1, JPY), (100_000_000 - 602_102, 602_102));
    let o = x.order(id);
    assert_eq!(
        (o.price, o.order_qty, o.leaves_qty, o.client_order_id),
        (Price(1001), Qty(6), Qty(6), cid("b3"))
    );
}

/// §3 "if it now crosses it matches as a taker".
#[test]
fn replace_that_crosses_matches_as_taker() {
    let mut x = Exchange::funded();
    x.sell_id(A2, 1000, 2, "s"); // 1
    x.buy_id(A1, 990, 3, "b"); // 2, holds 297 000 + ceil(742.5) = 297 743
    assert_eq!(x.reserved(A1, JPY), 297_743);
    let ev = x.replace(A1, OrderRef::Client(cid("b")), "b2", 1000, 3);
    assert_eq!(kinds(&ev), [K::Replaced, K::Fill, K::Fill]);
    assert_eq!(
        (ev[0].order_id, ev[0].price, ev[0].leaves_qty),
        (OrderId(2), Price(1000), Qty(3))
    );
    // As taker: fee 500 (not the maker's 200).
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
    assert_eq!(x.depth(BTC_JPY, Side::Buy), [(1000, 1, 1)]);
    // Hold reserve(1000, 1) = 100 250; paid 200 500.
    assert_eq!(x.bal(A1, JPY), (100_000_000 - 100_250 - 200_500, 100_250));
}

/// §3 "New total ≤ filled quantity: the order ends (REPLACED_DONE)"; leaves = new total − cum.
#[test]
fn replace_total_not_above_filled_is_replaced_done() {
    let mut x = Exchange::funded();
    let id = x.buy_id(A1, 1000, 5, "c"); // 1
    x.sell(A2, 1000, 2, "s"); // A1 is the maker: pays 200 000 + 200
    let ev = x.replace(A1, OrderRef::Id(id), "c2", 1000, 4);
    assert_eq!(kinds(&ev), [K::Replaced]);
    assert_eq!(
        (ev[0].order_qty, ev[0].leaves_qty, ev[0].cum_qty),
        (Qty(4), Qty(2), Qty(2))
    );
    assert_eq!(ev[0].status(), Some(OrderStatus::PartiallyFilled));
    assert_eq!(x.reserved(A1, JPY), 200_500); // reserve(1000, 2)
    let ev = x.replace(A1, OrderRef::Id(id), "c3", 1000, 2);
    assert_eq!(kinds(&ev), [K::Canceled]);
    assert_canceled(&ev[0], 1, Reason::ReplacedDone, 2);
    assert!(x.engine.order(id).is_none());
    assert_eq!(x.bal(A1, JPY), (100_000_000 - 200_200, 0));
    // Below filled as well.
    let id = x.buy_id(A1, 1000, 5, "d"); // 3
    x.sell(A2, 1000, 3, "s2");
    let ev = x.replace(A1, OrderRef::Id(id), "d2", 1000, 1);
    assert_canceled(&ev[0], 3, Reason::ReplacedDone, 3);
    assert_eq!(x.reserved(A1, JPY), 0);
}

/// §8 "A replace keeps … post-only and STP mode": a CB order replaced to cross its own order
/// cancels both; a post-only order replaced to cross is POST_ONLY_WOULD_TAKE.
#[test]
fn replace_keeps_the_orders_stp_mode_and_post_only() {
    let mut x = Exchange::funded();
    x.sell_id(A1, 1000, 2, "own"); // 1
    x.rest(limit(A1, BTC_JPY, Side::Buy, 990, 5, "t").with_stp(Stp::CancelBoth)); // 2
    let ev = x.replace(A1, OrderRef::Id(OrderId(2)), "t2", 1000, 5);
    assert_eq!(kinds(&ev), [K::Replaced, K::Canceled, K::Canceled]);
    assert_canceled(&ev[1], 1, Reason::SelfTrade, 0);
    assert_canceled(&ev[2], 2, Reason::SelfTrade, 0);
    assert_eq!(x.bal(A1, JPY), (100_000_000, 0));

    x.sell_id(A2, 1000, 1, "s"); // 3
    let p = x.rest(limit(A1, BTC_JPY, Side::Buy, 990, 1, "p").post_only()); // 4
    let ev = x.run_unchanged(Command::replace(
        A1,
        OrderRef::Id(p),
        cid("p2"),
        Price(1000),
        Qty(1),
    ));
    assert_single(&ev, K::ReplaceRejected, Reason::PostOnlyWouldTake);
    assert_eq!(
        kinds(&x.replace(A1, OrderRef::Id(p), "p2", 999, 1)),
        [K::Replaced]
    );
}

/// The new ClOrdID may be the order's own current one (not a duplicate of itself).
#[test]
fn replace_may_keep_the_same_clordid() {
    let mut x = Exchange::funded();
    let id = x.buy_id(A1, 1000, 1, "same");
    let ev = x.replace(A1, OrderRef::Client(cid("same")), "same", 999, 2);
    assert_eq!(kinds(&ev), [K::Replaced]);
    assert_eq!(ev[0].client_order_id, cid("same"));
    assert_eq!(x.order(id).client_order_id, cid("same"));
}

/// §3 "A replace that would need funds the account doesn't have, breaks the band or makes a
/// post-only order take is rejected and the original order stands unchanged"; every §8 replace
/// reason leaves the order as it was.
#[test]
fn replace_rejections_leave_the_order_unchanged() {
    let mut x = Exchange::funded();
    let id = x.buy_id(A1, 1000, 2, "r"); // 1
    x.buy_id(A1, 999, 1, "other"); // 2
    x.sell_id(A2, 1050, 1, "s"); // 3
    let p = x.rest(limit(A1, BTC_JPY, Side::Buy, 990, 1, "po").post_only()); // 4
    let order_before = x.order(id);
    let post_only_before = x.order(p);
    let rep = |target, new: ClientOrderId, price, qty| {
        Command::replace(A1, target, new, Price(price), Qty(qty))
    };
    let cases: Vec<(Command, Reason)> = vec![
        (
            Command::replace(A2, OrderRef::Id(id), cid("n"), Price(1000), Qty(1)),
            Reason::UnknownOrder,
        ),
        (
            Command::replace(
                A2,
                OrderRef::Client(cid("r")),
                cid("n"),
                Price(1000),
                Qty(1),
            ),
            Reason::UnknownOrder,
        ),
        (
            rep(OrderRef::Id(OrderId(99)), cid("n"), 1000, 1),
            Reason::UnknownOrder,
        ),
        (
            rep(OrderRef::Client(cid("nope")), cid("n"), 1000, 1),
            Reason::UnknownOrder,
        ),
        (
            rep(OrderRef::Both(id, cid("other")), cid("n"), 1000, 1),
            Reason::UnknownOrder,
        ),
        (rep(OrderRef::Id(id), cid("n"), 0, 1), Reason::InvalidPrice),
        (rep(OrderRef::Id(id), cid("n"), 1000, 0), Reason::InvalidQty),
        (
            rep(OrderRef::Id(id), cid("n"), 1000, 1001),
            Reason::InvalidQty,
        ),
        (
            rep(OrderRef::Id(id), ClientOrderId::EMPTY, 1000, 1),
            Reason::InvalidOrder,
        ),
        (
            rep(OrderRef::Id(id), cid("other"), 1000, 1),
            Reason::DuplicateOrder,
        ),
        (rep(OrderRef::Id(id), cid("n"), 1102, 2), Reason::PriceBand),
        (rep(OrderRef::Id(id), cid("n"), 900, 2), Reason::PriceBand),
        // reserve(1000, 1000) = 100 000 000 + 250 000; increase over 200 500 > available.
        (
            rep(OrderRef::Id(id), cid("n"), 1000, 1000),
            Reason::InsufficientFunds,
        ),
        (
            rep(OrderRef::Id(p), cid("n"), 1050, 1),
            Reason::PostOnlyWouldTake,
        ),
        (
            rep(OrderRef::Id(p), cid("n"), 1051, 1),
            Reason::PostOnlyWouldTake,
        ),
    ];
    for (cmd, reason) in cases {
        let ev = x.run_unchanged(cmd);
        assert_single(&ev, K::ReplaceRejected, reason);
        assert_eq!(x.order(id), order_before);
        assert_eq!(x.order(p), post_only_before);
    }
    x.run(Command::halt(Some(BTC_JPY)));
    assert_single(
        &x.run_unchanged(rep(OrderRef::Id(id), cid("n"), 1001, 2)),
        K::ReplaceRejected,
        Reason::Halted,
    );
    x.run(Command::resume(Some(BTC_JPY)));
    x.run(Command::halt(None));
    assert_single(
        &x.run_unchanged(rep(OrderRef::Id(id), cid("n"), 1001, 2)),
        K::ReplaceRejected,
        Reason::Halted,
    );
    x.run(Command::resume(None));
    assert_eq!(x.order(id), order_before);
    // Holds: reserve(1000, 2) = 200 500; reserve(999, 1) = 99 900 + ceil(249.75) = 100 150;
    // reserve(990, 1) = 99 000 + ceil(247.5) = 99 248 → 399 898.
    assert_eq!(x.bal(A1, JPY), (100_000_000 - 399_898, 399_898));
}

/// §8 replace checks, first failure wins: UNKNOWN_ORDER, HALTED, INVALID_PRICE, INVALID_QTY,
/// INVALID_ORDER, DUPLICATE_ORDER, then REPLACED_DONE, PRICE_BAND, INSUFFICIENT_FUNDS,
/// POST_ONLY_WOULD_TAKE.
#[test]
fn replace_checks_run_in_spec_order() {
    let mut x = Exchange::funded();
    let id = x.buy_id(A1, 1000, 5, "r"); // 1
    x.sell(A2, 1000, 2, "s"); // fills 2 of order 1: cum 2
    x.buy_id(A1, 999, 1, "other"); // 3
    let rep = |new: ClientOrderId, price, qty| {
        Command::replace(A1, OrderRef::Id(id), new, Price(price), Qty(qty))
    };
    let check = |x: &mut Exchange, cmd, reason| {
        let ev = x.run_unchanged(cmd);
        assert_single(&ev, K::ReplaceRejected, reason);
    };
    x.run(Command::halt(Some(BTC_JPY)));
    // UNKNOWN_ORDER beats HALTED.
    check(
        &mut x,
        Command::replace(A1, OrderRef::Id(OrderId(99)), cid("n"), Price(0), Qty(0)),
        Reason::UnknownOrder,
    );
    // HALTED beats INVALID_PRICE.
    check(&mut x, rep(ClientOrderId::EMPTY, 0, 0), Reason::Halted);
    x.run(Command::resume(Some(BTC_JPY)));
    // INVALID_PRICE beats INVALID_QTY.
    check(
        &mut x,
        rep(ClientOrderId::EMPTY, 0, 0),
        Reason::InvalidPrice,
    );
    // INVALID_QTY beats INVALID_ORDER.
    check(
        &mut x,
        rep(ClientOrderId::EMPTY, 1000, 0),
        Reason::InvalidQty,
    );
    // DUPLICATE_ORDER beats REPLACED_DONE (total 1 ≤ filled 2).
    check(&mut x, rep(cid("other"), 1000, 1), Reason::DuplicateOrder);
    // PRICE_BAND beats INSUFFICIENT_FUNDS.
    check(&mut x, rep(cid("n"), 1102, 1000), Reason::PriceBand);
    // INSUFFICIENT_FUNDS beats POST_ONLY_WOULD_TAKE: a post-only order replaced to cross and too big.
    x.sell_id(A2, 1050, 1, "s2"); // 4
    let p = x.rest(limit(A1, BTC_JPY, Side::Buy, 990, 1, "po").post_only()); // 5
    check(
        &mut x,
        Command::replace(A1, OrderRef::Id(p), cid("n"), Price(1050), Qty(1000)),
        Reason::InsufficientFunds,
    );
    // REPLACED_DONE beats PRICE_BAND: total ≤ filled ends the order whatever the price.
    let ev = x.replace(A1, OrderRef::Id(id), "n", 2000, 2);
    assert_eq!(kinds(&ev), [K::Canceled]);
    assert_canceled(&ev[0], 1, Reason::ReplacedDone, 2);
}

/// §8 "PRICE_BAND (only when the price changes)".
#[test]
fn replace_band_is_checked_only_when_the_price_changes() {
    let mut x = Exchange::funded();
    let id = x.buy_id(A1, 901, 2, "lo"); // 1, at the lower edge for R = 1001
    x.sell(A3, 1100, 1, "s");
    x.buy(A2, 1100, 1, "b"); // R = 1100 → band [990, 1210]: 901 is now outside
    assert_eq!(
        kinds(&x.replace(A1, OrderRef::Id(id), "lo2", 901, 1)),
        [K::Replaced]
    );
    assert_eq!(
        kinds(&x.replace(A1, OrderRef::Id(id), "lo3", 901, 3)),
        [K::Replaced]
    );
    assert_single(
        &x.run_unchanged(Command::replace(
            A1,
            OrderRef::Id(id),
            cid("lo4"),
            Price(902),
            Qty(3),
        )),
        K::ReplaceRejected,
        Reason::PriceBand,
    );
    assert_single(
        &x.run_unchanged(Command::replace(
            A1,
            OrderRef::Id(id),
            cid("lo4"),
            Price(989),
            Qty(3),
        )),
        K::ReplaceRejected,
        Reason::PriceBand,
    );
    assert_eq!(
        kinds(&x.replace(A1, OrderRef::Id(id), "lo4", 990, 3)),
        [K::Replaced]
    );
}

/// §8 "INSUFFICIENT_FUNDS (only the increase over the current hold must be available)".
#[test]
fn replace_needs_only_the_increase_over_the_current_hold() {
    let mut x = Exchange::new();
    x.deposit(A1, JPY, 100_250);
    let id = x.buy_id(A1, 1000, 1, "b"); // holds 100 250, available 0
    // To 2 lots: reserve(1000, 2) = 200 500, an increase of 100 250.
    x.deposit(A1, JPY, 100_249);
    assert_single(
        &x.run_unchanged(Command::replace(
            A1,
            OrderRef::Id(id),
            cid("b2"),
            Price(1000),
            Qty(2),
        )),
        K::ReplaceRejected,
        Reason::InsufficientFunds,
    );
    x.deposit(A1, JPY, 1);
    assert_eq!(
        kinds(&x.replace(A1, OrderRef::Id(id), "b2", 1000, 2)),
        [K::Replaced]
    );
    assert_eq!(x.bal(A1, JPY), (0, 200_500));
    // Lower price: reserve(999, 2) = 199 800 + ceil(499.5) = 200 300; 200 returns.
    assert_eq!(
        kinds(&x.replace(A1, OrderRef::Id(id), "b3", 999, 2)),
        [K::Replaced]
    );
    assert_eq!(x.bal(A1, JPY), (200, 200_300));
    // Sell side: only the extra lots must be available.
    x.deposit(A2, BTC, 2_000_000);
    let s = x.sell_id(A2, 1050, 2, "s");
    assert_single(
        &x.run_unchanged(Command::replace(
            A2,
            OrderRef::Id(s),
            cid("s2"),
            Price(1050),
            Qty(3),
        )),
        K::ReplaceRejected,
        Reason::InsufficientFunds,
    );
    x.deposit(A2, BTC, 1_000_000);
    assert_eq!(
        kinds(&x.replace(A2, OrderRef::Id(s), "s2", 1050, 3)),
        [K::Replaced]
    );
    assert_eq!(x.bal(A2, BTC), (0, 3_000_000));
}

/// §3 replace row 1 and §6: a replace that names its target's symbol (FIX does) finds no order
/// in another symbol; one that names none (the binary protocol) is not checked.
#[test]
fn replace_naming_another_symbol_than_its_target_is_unknown_order() {
    let mut x = Exchange::funded();
    x.sell_id(A1, 1000, 5, "a");
    let target = OrderRef::Client(cid("a"));
    for symbol in [ETH_JPY, SymbolId(u16::MAX)] {
        let cmd = Command::replace(A1, target, cid("a2"), Price(1001), Qty(5)).in_symbol(symbol);
        assert_single(
            &x.run_unchanged(cmd),
            K::ReplaceRejected,
            Reason::UnknownOrder,
        );
    }
    // The target missing comes first even with a zero (off-tick) price.
    let cmd = Command::replace(A1, OrderRef::Client(cid("zz")), cid("a3"), Price(0), Qty(5))
        .in_symbol(BTC_JPY);
    assert_single(
        &x.run_unchanged(cmd),
        K::ReplaceRejected,
        Reason::UnknownOrder,
    );
    let cmd = Command::replace(A1, target, cid("a4"), Price(1001), Qty(5)).in_symbol(BTC_JPY);
    let ev = x.run(cmd);
    assert_eq!(kinds(&ev), [K::Replaced]);
}
