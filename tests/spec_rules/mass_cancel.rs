//! BEHAVIOUR.md §3 / §8 mass cancel (all of an account's open orders, or those in one symbol),
//! cancel-on-disconnect, and the order query.

use crate::support::*;
use hayate::*;

use EventKind as K;

fn mass_cancel_setup() -> Exchange {
    let mut x = Exchange::funded();
    x.buy_id(A1, 1000, 1, "a"); // 1 BTC-JPY
    x.rest(sym_limit(A1, ETH_JPY, Side::Sell, 500, 2, "b")); // 2 ETH-JPY (holds 20 000 ETH)
    x.buy_id(A2, 999, 1, "z"); // 3 (another account)
    x.sell_id(A1, 1050, 1, "c"); // 4 BTC-JPY
    // Replacing order 1 to a new price moves it in the book but not in acceptance order.
    x.replace(A1, OrderRef::Id(OrderId(1)), "a2", 1001, 1);
    x
}

/// §3 "Mass cancel: all open orders of an account": one Canceled per order in order-id order,
/// then MassCanceled with the count.
#[test]
fn mass_cancel_all_cancels_every_open_order_of_the_account() {
    let mut x = mass_cancel_setup();
    let ev = x.run(Command::mass_cancel(A1, None, cid("mc")));
    assert_eq!(
        kinds(&ev),
        [K::Canceled, K::Canceled, K::Canceled, K::MassCanceled]
    );
    assert_canceled(&ev[0], 1, Reason::None, 0);
    assert_canceled(&ev[1], 2, Reason::None, 0);
    assert_canceled(&ev[2], 4, Reason::None, 0);
    assert_eq!(ev[3].count(), 3);
    assert_eq!(ev[3].account, A1);
    assert!(x.engine.open_orders(A1).is_empty());
    assert!(x.engine.order(OrderId(3)).is_some());
    assert_eq!(x.bal(A1, JPY), (100_000_000, 0));
    assert_eq!(x.bal(A1, BTC), (1_000_000_000, 0));
    assert_eq!(x.bal(A1, ETH), (1_000_000_000, 0));
    // Nothing left: count 0.
    let ev = x.run(Command::mass_cancel(A1, None, cid("mc2")));
    assert_eq!(kinds(&ev), [K::MassCanceled]);
    assert_eq!(ev[0].count(), 0);
}

/// §3 "… or of an account in one symbol."
#[test]
fn mass_cancel_one_symbol_leaves_other_symbols() {
    let mut x = mass_cancel_setup();
    let ev = x.run(Command::mass_cancel(A1, Some(BTC_JPY), cid("mc")));
    assert_eq!(kinds(&ev), [K::Canceled, K::Canceled, K::MassCanceled]);
    assert_canceled(&ev[0], 1, Reason::None, 0);
    assert_canceled(&ev[1], 4, Reason::None, 0);
    assert_eq!(ev[2].count(), 2);
    assert!(x.engine.order(OrderId(2)).is_some());
    assert_eq!(x.bal(A1, ETH), (999_980_000, 20_000));
    let ev = x.run(Command::mass_cancel(A1, Some(ETH_JPY), cid("mc")));
    assert_eq!(kinds(&ev), [K::Canceled, K::MassCanceled]);
    assert_eq!(ev[0].order_id, OrderId(2));
}

#[test]
fn mass_cancel_unknown_symbol_is_rejected() {
    let mut x = mass_cancel_setup();
    let ev = x.run_unchanged(Command::mass_cancel(A1, Some(SymbolId(5)), cid("mc")));
    assert_single(&ev, K::MassCancelRejected, Reason::UnknownSymbol);
}

/// Cancel on disconnect: each cancel carries CANCEL_ON_DISCONNECT.
#[test]
fn cancel_on_disconnect_cancels_with_its_reason() {
    let mut x = mass_cancel_setup();
    let ev = x.run(Command::cancel_on_disconnect(A1));
    assert_eq!(
        kinds(&ev),
        [K::Canceled, K::Canceled, K::Canceled, K::MassCanceled]
    );
    for (e, id) in ev.iter().zip([1, 2, 4]) {
        assert_canceled(e, id, Reason::CancelOnDisconnect, 0);
    }
    assert_eq!(ev[3].count(), 3);
}

/// Cancel on disconnect of one session's orders (FIX 8013 = S): one order at a time, same reason.
#[test]
fn cancel_on_disconnect_of_one_order_carries_the_reason() {
    let mut x = mass_cancel_setup();
    let ev = x.run(Command::cancel_on_disconnect_order(A1, OrderId(2)));
    assert_eq!(kinds(&ev), [K::Canceled]);
    assert_canceled(&ev[0], 2, Reason::CancelOnDisconnect, 0);
}

/// Query: an OrderStatus event with the order's state (current ClOrdID), or QueryRejected.
#[test]
fn query_reports_the_orders_state() {
    let mut x = Exchange::funded();
    let id = x.buy_id(A1, 1000, 5, "q");
    x.sell(A2, 1000, 2, "s");
    for target in [
        OrderRef::Id(id),
        OrderRef::Client(cid("q")),
        OrderRef::Both(id, cid("q")),
    ] {
        let ev = x.run_unchanged(Command::query_order(A1, target, ClientOrderId::EMPTY));
        assert_single(&ev, K::OrderStatus, Reason::None);
        let e = &ev[0];
        assert_eq!(
            (e.order_id, e.order_qty, e.leaves_qty, e.cum_qty, e.cum_cost),
            (id, Qty(5), Qty(3), Qty(2), 2000)
        );
        assert_eq!(e.status(), Some(OrderStatus::PartiallyFilled));
        assert_eq!(e.client_order_id, cid("q"));
        assert_eq!(e.price, Price(1000));
    }
    // Another account, a missing order, an ended one.
    assert_single(
        &x.run_unchanged(Command::query_order(
            A2,
            OrderRef::Id(id),
            ClientOrderId::EMPTY,
        )),
        K::QueryRejected,
        Reason::UnknownOrder,
    );
    assert_single(
        &x.run_unchanged(Command::query_order(
            A1,
            OrderRef::Id(OrderId(42)),
            ClientOrderId::EMPTY,
        )),
        K::QueryRejected,
        Reason::UnknownOrder,
    );
    x.cancel(A1, OrderRef::Id(id), "");
    assert_single(
        &x.run_unchanged(Command::query_order(
            A1,
            OrderRef::Id(id),
            ClientOrderId::EMPTY,
        )),
        K::QueryRejected,
        Reason::UnknownOrder,
    );
}
