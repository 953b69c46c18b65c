//! BEHAVIOUR.md §3 Orders: ids, acceptance, rejection: order and trade ids, a refusal's single event,
//! the ClOrdID's length, an event for every command.

use crate::support::*;
use hayate::*;

use EventKind as K;

/// §3 "order_id (u64, increasing from 1 over all symbols) and every trade a trade_id (u64,
/// increasing from 1)". Only accepted orders consume an id.
#[test]
fn order_and_trade_ids_increase_over_all_symbols_and_rejects_consume_none() {
    let mut x = Exchange::funded();
    let ev = x.place(sym_limit(A1, ETH_JPY, Side::Buy, 100, 2, "e1"));
    assert_accepted(&ev[0], 1, A1, 2);
    assert_eq!(ev[0].symbol, ETH_JPY);
    assert_eq!(ev[0].client_order_id, cid("e1"));
    assert_eq!(ev[0].price, Price(100));
    assert_eq!(ev[0].side(), Some(Side::Buy));
    assert_rejected(
        &x.run_unchanged(Command::new_order(limit(
            A1,
            BTC_JPY,
            Side::Buy,
            1000,
            0,
            "z",
        ))),
        Reason::InvalidQty,
    );
    assert_accepted(&x.sell(A2, 1000, 1, "s")[0], 2, A2, 1);
    let ev = x.buy(A1, 1000, 1, "b");
    assert_accepted(&ev[0], 3, A1, 1);
    assert_eq!(ev[1].fill().trade_id, TradeId(1));
    let ev = x.place(sym_limit(A2, ETH_JPY, Side::Sell, 100, 2, "e2"));
    assert_accepted(&ev[0], 4, A2, 2);
    assert_eq!(ev[1].fill().trade_id, TradeId(2));
    assert_eq!(ev[2].fill().trade_id, TradeId(2));
    assert_eq!(x.engine.next_order_id(), OrderId(5));
    assert_eq!(x.engine.next_trade_id(), TradeId(3));
}

/// A refused order yields exactly one Rejected event echoing the order, and changes nothing.
#[test]
fn rejected_order_yields_one_event_echoing_the_order_and_changes_nothing() {
    let mut x = Exchange::funded();
    let ev = x.run_unchanged(Command::new_order(limit(
        A1,
        BTC_JPY,
        Side::Sell,
        1050,
        1001,
        "r-1",
    )));
    assert_rejected(&ev, Reason::InvalidQty);
    let e = &ev[0];
    assert_eq!(e.account, A1);
    assert_eq!(e.symbol, BTC_JPY);
    assert_eq!(e.side(), Some(Side::Sell));
    assert_eq!(e.price, Price(1050));
    assert_eq!(e.order_qty, Qty(1001));
    assert_eq!(e.client_order_id, cid("r-1"));
    assert_eq!(x.sell_id(A1, 1050, 1, "r-1"), OrderId(1));
}

/// §3 "a client order id (ClOrdID, at most 32 bytes)": exactly 32 bytes is fine.
#[test]
fn clordid_of_32_bytes_is_accepted() {
    let mut x = Exchange::funded();
    let id = "0123456789abcdef0123456789ABCDEF";
    assert_eq!(id.len(), 32);
    let ev = x.buy(A1, 1000, 1, id);
    assert_accepted(&ev[0], 1, A1, 1);
    assert_eq!(ev[0].client_order_id.as_bytes(), id.as_bytes());
    assert_canceled(
        &x.cancel(A1, OrderRef::Client(cid(id)), "")[0],
        1,
        Reason::None,
        0,
    );
}

/// Every command yields at least one event, even one that cannot be decoded.
#[test]
fn every_command_yields_an_event_even_a_malformed_one() {
    let mut x = Exchange::funded();
    let mut cmd = Command::deposit(A1, JPY, Amount(5));
    cmd.kind = 99;
    let ev = x.run_unchanged(cmd);
    assert_single(&ev, K::CommandRejected, Reason::Malformed);
}
