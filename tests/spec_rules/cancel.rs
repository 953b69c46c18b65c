//! BEHAVIOUR.md §3 / §8 cancel: by order id or ClOrdID, only by the owner, an OrderID and OrigClOrdID
//! that disagree, and a ClOrdID reused once its order has ended.

use crate::support::*;
use hayate::*;

use EventKind as K;

/// Cancel by order id: Canceled with reason None, the request's ClOrdID, the order's as
/// orig_client_order_id; the hold returns; a second cancel is UNKNOWN_ORDER (§8 ended order).
#[test]
fn cancel_by_order_id() {
    let mut x = Exchange::funded();
    let id = x.buy_id(A1, 1000, 2, "o-1"); // holds 200 500
    let ev = x.cancel(A1, OrderRef::Id(id), "c-1");
    assert_eq!(kinds(&ev), [K::Canceled]);
    assert_canceled(&ev[0], 1, Reason::None, 0);
    let e = &ev[0];
    assert_eq!(e.client_order_id, cid("c-1"));
    assert_eq!(e.orig_client_order_id(), cid("o-1"));
    assert_eq!(
        (e.account, e.symbol, e.side(), e.price, e.order_qty),
        (A1, BTC_JPY, Some(Side::Buy), Price(1000), Qty(2))
    );
    assert_eq!(x.bal(A1, JPY), (100_000_000, 0));
    assert!(x.engine.order(id).is_none());
    assert!(x.depth(BTC_JPY, Side::Buy).is_empty());
    let ev = x.run_unchanged(Command::cancel(A1, OrderRef::Id(id), cid("c-2")));
    assert_single(&ev, K::CancelRejected, Reason::UnknownOrder);
}

/// Cancel by the account's ClOrdID; with no request id the event carries the order's own.
#[test]
fn cancel_by_client_order_id() {
    let mut x = Exchange::funded();
    x.sell_id(A1, 1050, 1, "o-2");
    let ev = x.cancel(A1, OrderRef::Client(cid("o-2")), "");
    assert_eq!(kinds(&ev), [K::Canceled]);
    assert_canceled(&ev[0], 1, Reason::None, 0);
    assert_eq!(ev[0].client_order_id, cid("o-2"));
    assert_eq!(ev[0].orig_client_order_id(), cid("o-2"));
    assert_eq!(x.bal(A1, BTC), (1_000_000_000, 0));
}

/// §3 "only the owner may cancel (UNKNOWN_ORDER otherwise, the same answer as for an order that
/// doesn't exist)".
#[test]
fn cancel_of_another_accounts_order_is_unknown_order() {
    let mut x = Exchange::funded();
    let id = x.buy_id(A1, 1000, 1, "o-1");
    let foreign = x.run_unchanged(Command::cancel(A2, OrderRef::Id(id), cid("c")));
    assert_single(&foreign, K::CancelRejected, Reason::UnknownOrder);
    let foreign_by_client =
        x.run_unchanged(Command::cancel(A2, OrderRef::Client(cid("o-1")), cid("c")));
    assert_single(&foreign_by_client, K::CancelRejected, Reason::UnknownOrder);
    let missing = x.run_unchanged(Command::cancel(A2, OrderRef::Id(OrderId(99)), cid("c")));
    assert_single(&missing, K::CancelRejected, Reason::UnknownOrder);
    // Same answer apart from the id echoed back.
    let mut a = foreign[0];
    let mut b = missing[0];
    a.order_id = OrderId(0);
    b.order_id = OrderId(0);
    assert_eq!(
        a.as_bytes(),
        b.as_bytes(),
        "a foreign order must look exactly like a missing one"
    );
    assert!(x.engine.order(id).is_some());
}

/// §8 "OrigClOrdID names the order's current ClOrdID; an OrderID (37), when also given, must
/// match it."
#[test]
fn cancel_with_order_id_and_orig_clordid_naming_different_orders_is_unknown_order() {
    let mut x = Exchange::funded();
    let a = x.buy_id(A1, 1000, 1, "a");
    let b = x.buy_id(A1, 999, 1, "b");
    assert_single(
        &x.run_unchanged(Command::cancel(A1, OrderRef::Both(a, cid("b")), cid("c"))),
        K::CancelRejected,
        Reason::UnknownOrder,
    );
    assert_single(
        &x.run_unchanged(Command::cancel(A1, OrderRef::Both(b, cid("a")), cid("c"))),
        K::CancelRejected,
        Reason::UnknownOrder,
    );
    let ev = x.cancel(A1, OrderRef::Both(b, cid("b")), "c");
    assert_canceled(&ev[0], b.0, Reason::None, 0);
    assert!(x.engine.order(a).is_some());
}

/// §8 "A ClOrdID may be reused once its order has ended" (cancelled or filled).
#[test]
fn clordid_may_be_reused_once_its_order_has_ended() {
    let mut x = Exchange::funded();
    x.buy_id(A1, 1000, 1, "x"); // 1
    assert_rejected(
        &x.run_unchanged(Command::new_order(limit(
            A1,
            BTC_JPY,
            Side::Buy,
            999,
            1,
            "x",
        ))),
        Reason::DuplicateOrder,
    );
    x.cancel(A1, OrderRef::Client(cid("x")), "");
    assert_eq!(x.buy_id(A1, 999, 1, "x"), OrderId(2));
    x.sell(A2, 999, 1, "s"); // 3 fills order 2 whole
    assert!(x.engine.order(OrderId(2)).is_none());
    assert_eq!(x.sell_id(A1, 1050, 1, "x"), OrderId(4));
    // The ClOrdID now names order 4.
    let ev = x.cancel(A1, OrderRef::Client(cid("x")), "");
    assert_eq!(ev[0].order_id, OrderId(4));
}
