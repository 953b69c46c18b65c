//! BEHAVIOUR.md §3 / §8 halts: a halted symbol or exchange refuses new orders and replaces while
//! cancels work; the exchange's halt and a symbol's are separate flags.

use crate::support::*;
use hayate::event::EVENT_FLAG_ALL_SYMBOLS;
use hayate::*;

use EventKind as K;

/// §3 "While halted, new orders and replaces are rejected HALTED; cancels and mass cancels work."
#[test]
fn halted_symbol_rejects_orders_and_replaces_but_cancels_work() {
    let mut x = Exchange::funded();
    let a = x.buy_id(A1, 1000, 1, "a"); // 1
    x.buy_id(A1, 999, 1, "b"); // 2
    let ev = x.run(Command::halt(Some(BTC_JPY)));
    assert_eq!(kinds(&ev), [K::Halted]);
    assert_eq!(ev[0].symbol, BTC_JPY);
    assert_eq!(ev[0].flags & EVENT_FLAG_ALL_SYMBOLS, 0);
    assert!(x.engine.is_halted(Some(BTC_JPY)));
    assert!(!x.engine.is_halted(None));
    assert!(!x.engine.is_halted(Some(ETH_JPY)));
    assert_rejected(
        &x.run_unchanged(Command::new_order(limit(
            A2,
            BTC_JPY,
            Side::Sell,
            1000,
            1,
            "s",
        ))),
        Reason::Halted,
    );
    assert_rejected(
        &x.run_unchanged(Command::new_order(market(A2, BTC_JPY, Side::Sell, 1, "s"))),
        Reason::Halted,
    );
    assert_single(
        &x.run_unchanged(Command::replace(
            A1,
            OrderRef::Id(a),
            cid("a2"),
            Price(1001),
            Qty(1),
        )),
        K::ReplaceRejected,
        Reason::Halted,
    );
    // Other symbols trade.
    assert_eq!(
        x.rest(sym_limit(A1, ETH_JPY, Side::Buy, 100, 2, "e")),
        OrderId(3)
    );
    // Cancels and mass cancels work.
    assert_canceled(&x.cancel(A1, OrderRef::Id(a), "")[0], 1, Reason::None, 0);
    let ev = x.run(Command::mass_cancel(A1, Some(BTC_JPY), cid("mc")));
    assert_eq!(kinds(&ev), [K::Canceled, K::MassCanceled]);
    assert_eq!(ev[0].order_id, OrderId(2));
    let ev = x.run(Command::resume(Some(BTC_JPY)));
    assert_eq!(kinds(&ev), [K::Resumed]);
    assert!(!x.engine.is_halted(Some(BTC_JPY)));
    assert_eq!(x.sell_id(A2, 1000, 1, "s"), OrderId(4));
}

/// Halting the exchange halts every symbol; its event carries the all-symbols flag.
#[test]
fn halting_the_exchange_halts_every_symbol() {
    let mut x = Exchange::funded();
    let a = x.buy_id(A1, 1000, 1, "a");
    let ev = x.run(Command::halt(None));
    assert_eq!(kinds(&ev), [K::Halted]);
    assert_ne!(ev[0].flags & EVENT_FLAG_ALL_SYMBOLS, 0);
    assert!(x.engine.is_halted(None));
    assert!(
        !x.engine.is_halted(Some(BTC_JPY)),
        "exchange and symbol halts are separate flags"
    );
    assert_rejected(
        &x.run_unchanged(Command::new_order(limit(
            A2,
            BTC_JPY,
            Side::Sell,
            1000,
            1,
            "s",
        ))),
        Reason::Halted,
    );
    assert_rejected(
        &x.run_unchanged(Command::new_order(sym_limit(
            A2,
            ETH_JPY,
            Side::Sell,
            100,
            2,
            "s",
        ))),
        Reason::Halted,
    );
    assert_single(
        &x.run_unchanged(Command::replace(
            A1,
            OrderRef::Id(a),
            cid("a2"),
            Price(999),
            Qty(1),
        )),
        K::ReplaceRejected,
        Reason::Halted,
    );
    let ev = x.run(Command::mass_cancel(A1, None, cid("mc")));
    assert_eq!(kinds(&ev), [K::Canceled, K::MassCanceled]);
    let ev = x.run(Command::resume(None));
    assert_eq!(kinds(&ev), [K::Resumed]);
    assert_ne!(ev[0].flags & EVENT_FLAG_ALL_SYMBOLS, 0);
    assert!(!x.engine.is_halted(None));
    assert_eq!(x.sell_id(A2, 1000, 1, "s"), OrderId(2));
}

/// §8 "Exchange halt and symbol halts are separate flags: resuming the exchange does not resume a
/// symbol halted on its own."
#[test]
fn resuming_the_exchange_does_not_resume_a_separately_halted_symbol() {
    let mut x = Exchange::funded();
    x.run(Command::halt(Some(BTC_JPY)));
    x.run(Command::halt(None));
    x.run(Command::resume(None));
    assert!(x.engine.is_halted(Some(BTC_JPY)));
    assert_rejected(
        &x.run_unchanged(Command::new_order(limit(
            A1,
            BTC_JPY,
            Side::Buy,
            1000,
            1,
            "o",
        ))),
        Reason::Halted,
    );
    assert_eq!(
        x.rest(sym_limit(A1, ETH_JPY, Side::Buy, 100, 2, "e")),
        OrderId(1)
    );
    // And resuming the symbol while the exchange is halted does not let it trade either.
    x.run(Command::halt(None));
    x.run(Command::resume(Some(BTC_JPY)));
    assert_rejected(
        &x.run_unchanged(Command::new_order(limit(
            A1,
            BTC_JPY,
            Side::Buy,
            1000,
            1,
            "o",
        ))),
        Reason::Halted,
    );
    x.run(Command::resume(None));
    assert_eq!(x.buy_id(A1, 1000, 1, "o"), OrderId(2));
}

#[test]
fn halt_or_resume_of_an_unknown_symbol_is_rejected() {
    let mut x = Exchange::funded();
    assert_single(
        &x.run_unchanged(Command::halt(Some(SymbolId(9)))),
        K::HaltRejected,
        Reason::UnknownSymbol,
    );
    assert_single(
        &x.run_unchanged(Command::resume(Some(SymbolId(9)))),
        K::HaltRejected,
        Reason::UnknownSymbol,
    );
}
