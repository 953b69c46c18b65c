//! BEHAVIOUR.md §3 / §8 the checks on a new order, one rule each, in the spec's order: which failure
//! wins when two apply, post-only, and NO_REFERENCE_PRICE in the band check's place.

use crate::support::*;
use hayate::*;

use EventKind as K;

#[test]
fn validation_unknown_symbol() {
    let mut x = Exchange::funded();
    let ev = x.run_unchanged(Command::new_order(sym_limit(
        A1,
        SymbolId(2),
        Side::Buy,
        1000,
        1,
        "o",
    )));
    assert_rejected(&ev, Reason::UnknownSymbol);
}

#[test]
fn validation_unknown_symbol_beats_unknown_account() {
    let mut x = Exchange::funded();
    let ev = x.run_unchanged(Command::new_order(sym_limit(
        NOBODY,
        SymbolId(2),
        Side::Buy,
        0,
        0,
        "",
    )));
    assert_rejected(&ev, Reason::UnknownSymbol);
}

/// §3 UNKNOWN_ACCOUNT; §8 "account 0 (fees) places no orders".
#[test]
fn validation_unknown_account_and_fee_account() {
    let mut x = Exchange::funded();
    assert_rejected(
        &x.run_unchanged(Command::new_order(limit(
            NOBODY,
            BTC_JPY,
            Side::Buy,
            1000,
            1,
            "o",
        ))),
        Reason::UnknownAccount,
    );
    assert_rejected(
        &x.run_unchanged(Command::new_order(limit(
            FEES,
            BTC_JPY,
            Side::Buy,
            1000,
            1,
            "o",
        ))),
        Reason::UnknownAccount,
    );
    assert_rejected(
        &x.run_unchanged(Command::new_order(limit(
            FEES,
            BTC_JPY,
            Side::Sell,
            1000,
            1,
            "o",
        ))),
        Reason::UnknownAccount,
    );
}

#[test]
fn validation_unknown_account_beats_halted() {
    let mut x = Exchange::funded();
    x.run(Command::halt(None));
    x.run(Command::halt(Some(BTC_JPY)));
    assert_rejected(
        &x.run_unchanged(Command::new_order(limit(
            NOBODY,
            BTC_JPY,
            Side::Buy,
            1000,
            1,
            "o",
        ))),
        Reason::UnknownAccount,
    );
    assert_rejected(
        &x.run_unchanged(Command::new_order(limit(
            FEES,
            BTC_JPY,
            Side::Buy,
            1000,
            1,
            "o",
        ))),
        Reason::UnknownAccount,
    );
}

/// Both a halted symbol and the halted exchange beat INVALID_PRICE (and everything after).
#[test]
fn validation_halted_beats_invalid_price() {
    let mut x = Exchange::funded();
    x.run(Command::halt(Some(BTC_JPY)));
    assert_rejected(
        &x.run_unchanged(Command::new_order(limit(A1, BTC_JPY, Side::Buy, 0, 0, ""))),
        Reason::Halted,
    );
    x.run(Command::resume(Some(BTC_JPY)));
    x.run(Command::halt(None));
    assert_rejected(
        &x.run_unchanged(Command::new_order(limit(A1, BTC_JPY, Side::Buy, 0, 0, ""))),
        Reason::Halted,
    );
    assert_rejected(
        &x.run_unchanged(Command::new_order(sym_limit(
            A1,
            ETH_JPY,
            Side::Buy,
            0,
            0,
            "",
        ))),
        Reason::Halted,
    );
}

#[test]
fn validation_invalid_price_beats_invalid_qty() {
    let mut x = Exchange::funded();
    assert_rejected(
        &x.run_unchanged(Command::new_order(limit(A1, BTC_JPY, Side::Buy, 0, 1, "o"))),
        Reason::InvalidPrice,
    );
    assert_rejected(
        &x.run_unchanged(Command::new_order(limit(
            A1,
            BTC_JPY,
            Side::Sell,
            0,
            0,
            "o",
        ))),
        Reason::InvalidPrice,
    );
}

/// INVALID_QTY: zero, below min_qty, above max_qty (bounds themselves are fine).
#[test]
fn validation_invalid_qty_zero_below_min_above_max() {
    let mut x = Exchange::funded();
    assert_rejected(
        &x.run_unchanged(Command::new_order(limit(
            A1,
            BTC_JPY,
            Side::Buy,
            1000,
            0,
            "o",
        ))),
        Reason::InvalidQty,
    );
    // BTC-JPY max 1000 lots.
    assert_rejected(
        &x.run_unchanged(Command::new_order(limit(
            A1,
            BTC_JPY,
            Side::Sell,
            1050,
            1001,
            "o",
        ))),
        Reason::InvalidQty,
    );
    // ETH-JPY min 2 lots.
    assert_rejected(
        &x.run_unchanged(Command::new_order(sym_limit(
            A1,
            ETH_JPY,
            Side::Buy,
            100,
            1,
            "o",
        ))),
        Reason::InvalidQty,
    );
    // The bounds are allowed: 1000 lots of BTC = 1 000 000 000 = the whole BTC_FUND.
    assert_accepted(&x.sell(A1, 1050, 1000, "max")[0], 1, A1, 1000);
    assert_accepted(
        &x.place(sym_limit(A1, ETH_JPY, Side::Buy, 100, 2, "min"))[0],
        2,
        A1,
        2,
    );
}

#[test]
fn validation_invalid_qty_beats_invalid_order() {
    let mut x = Exchange::funded();
    let o = limit(A1, BTC_JPY, Side::Buy, 1000, 0, "o")
        .with_tif(TimeInForce::Ioc)
        .post_only();
    assert_rejected(&x.run_unchanged(Command::new_order(o)), Reason::InvalidQty);
}

/// INVALID_ORDER: post-only with IOC, FOK or market; an empty ClOrdID (§8).
#[test]
fn validation_invalid_order() {
    let mut x = Exchange::funded();
    for o in [
        limit(A1, BTC_JPY, Side::Buy, 1000, 1, "o")
            .with_tif(TimeInForce::Ioc)
            .post_only(),
        limit(A1, BTC_JPY, Side::Buy, 1000, 1, "o")
            .with_tif(TimeInForce::Fok)
            .post_only(),
        market(A1, BTC_JPY, Side::Buy, 1, "o").post_only(),
        market(A1, BTC_JPY, Side::Sell, 1, "o")
            .with_tif(TimeInForce::Fok)
            .post_only(),
        NewOrder::limit(
            A1,
            BTC_JPY,
            Side::Buy,
            Price(1000),
            Qty(1),
            ClientOrderId::EMPTY,
        ),
    ] {
        assert_rejected(
            &x.run_unchanged(Command::new_order(o)),
            Reason::InvalidOrder,
        );
    }
    // Post-only GTC with a ClOrdID is fine.
    assert_accepted(
        &x.place(limit(A1, BTC_JPY, Side::Buy, 1000, 1, "o").post_only())[0],
        1,
        A1,
        1,
    );
}

#[test]
fn validation_invalid_order_beats_duplicate_order() {
    let mut x = Exchange::funded();
    x.buy_id(A1, 1000, 1, "d");
    let o = limit(A1, BTC_JPY, Side::Buy, 1000, 1, "d")
        .with_tif(TimeInForce::Ioc)
        .post_only();
    assert_rejected(
        &x.run_unchanged(Command::new_order(o)),
        Reason::InvalidOrder,
    );
}

/// DUPLICATE_ORDER: the ClOrdID is used by an open order of the same account (any symbol);
/// another account may use it.
#[test]
fn validation_duplicate_order() {
    let mut x = Exchange::funded();
    x.buy_id(A1, 1000, 1, "d");
    assert_rejected(
        &x.run_unchanged(Command::new_order(limit(
            A1,
            BTC_JPY,
            Side::Sell,
            1050,
            2,
            "d",
        ))),
        Reason::DuplicateOrder,
    );
    assert_rejected(
        &x.run_unchanged(Command::new_order(sym_limit(
            A1,
            ETH_JPY,
            Side::Buy,
            100,
            2,
            "d",
        ))),
        Reason::DuplicateOrder,
    );
    assert_accepted(&x.sell(A2, 1050, 1, "d")[0], 2, A2, 1);
}

#[test]
fn validation_duplicate_order_beats_price_band() {
    let mut x = Exchange::funded();
    x.buy_id(A1, 1000, 1, "d");
    assert_rejected(
        &x.run_unchanged(Command::new_order(limit(
            A1,
            BTC_JPY,
            Side::Buy,
            2000,
            1,
            "d",
        ))),
        Reason::DuplicateOrder,
    );
}

#[test]
fn validation_price_band_beats_too_many_orders() {
    let mut x = Exchange::funded();
    for i in 0..MAX_OPEN as u64 {
        x.buy_id(A1, 950 + i, 1, &format!("o{i}"));
    }
    assert_rejected(
        &x.run_unchanged(Command::new_order(limit(
            A1,
            BTC_JPY,
            Side::Buy,
            2000,
            1,
            "x",
        ))),
        Reason::PriceBand,
    );
    assert_rejected(
        &x.run_unchanged(Command::new_order(limit(
            A1,
            BTC_JPY,
            Side::Buy,
            900,
            1,
            "x",
        ))),
        Reason::PriceBand,
    );
    assert_rejected(
        &x.run_unchanged(Command::new_order(limit(
            A1,
            BTC_JPY,
            Side::Buy,
            950,
            1,
            "x",
        ))),
        Reason::TooManyOrders,
    );
}

/// §8 "max_open_orders per account over all symbols: a new order is rejected TOO_MANY_ORDERS when
/// the account already has that many open"; it beats INSUFFICIENT_FUNDS; an ended order frees room.
#[test]
fn validation_too_many_orders_beats_insufficient_funds() {
    let mut x = Exchange::new();
    // 4 BTC-JPY buys of 1 @ 1000 (100 250 each) + 1 ETH-JPY buy of 2 @ 100 (200 + ceil(0.4) = 201).
    x.deposit(A1, JPY, 4 * 100_250 + 201);
    for i in 0..4 {
        x.buy_id(A1, 1000, 1, &format!("o{i}"));
    }
    x.rest(sym_limit(A1, ETH_JPY, Side::Buy, 100, 2, "e"));
    assert_eq!(x.bal(A1, JPY), (0, 401_201));
    // 5 open over both symbols, nothing available: TOO_MANY_ORDERS on either symbol.
    assert_rejected(
        &x.run_unchanged(Command::new_order(limit(
            A1,
            BTC_JPY,
            Side::Buy,
            1000,
            1,
            "x",
        ))),
        Reason::TooManyOrders,
    );
    assert_rejected(
        &x.run_unchanged(Command::new_order(sym_limit(
            A1,
            ETH_JPY,
            Side::Buy,
            100,
            2,
            "x",
        ))),
        Reason::TooManyOrders,
    );
    // Another account is not limited by A1's orders.
    x.deposit(A2, BTC, 1_000_000);
    assert_accepted(&x.sell(A2, 1100, 1, "s")[0], 6, A2, 1);
    // Cancel one (frees 100 250): now the count is fine and funds decide.
    x.cancel(A1, OrderRef::Client(cid("o0")), "");
    assert_rejected(
        &x.run_unchanged(Command::new_order(limit(
            A1,
            BTC_JPY,
            Side::Buy,
            1000,
            2,
            "x",
        ))),
        Reason::InsufficientFunds,
    );
    assert_accepted(&x.buy(A1, 1000, 1, "x")[0], 7, A1, 1);
}

#[test]
fn validation_insufficient_funds_beats_post_only_would_take() {
    let mut x = Exchange::new();
    x.deposit(A2, BTC, 1_000_000);
    x.sell(A2, 1000, 1, "s");
    x.deposit(A1, JPY, 100_249); // reserve(1000, 1) = 100 250
    let o = limit(A1, BTC_JPY, Side::Buy, 1000, 1, "p").post_only();
    assert_rejected(
        &x.run_unchanged(Command::new_order(o)),
        Reason::InsufficientFunds,
    );
    x.deposit(A1, JPY, 1);
    assert_rejected(
        &x.run_unchanged(Command::new_order(o)),
        Reason::PostOnlyWouldTake,
    );
}

/// §8 "A post-only order that would cross any resting order, its own account's included, is
/// rejected POST_ONLY_WOULD_TAKE."
#[test]
fn validation_post_only_would_take_even_against_own_order() {
    let mut x = Exchange::funded();
    x.sell_id(A1, 1000, 1, "s"); // order 1
    x.buy_id(A2, 990, 1, "b"); // order 2
    assert_rejected(
        &x.run_unchanged(Command::new_order(
            limit(A1, BTC_JPY, Side::Buy, 1000, 1, "p").post_only(),
        )),
        Reason::PostOnlyWouldTake,
    );
    assert_rejected(
        &x.run_unchanged(Command::new_order(
            limit(A1, BTC_JPY, Side::Buy, 1050, 1, "p").post_only(),
        )),
        Reason::PostOnlyWouldTake,
    );
    assert_rejected(
        &x.run_unchanged(Command::new_order(
            limit(A2, BTC_JPY, Side::Buy, 1000, 1, "p").post_only(),
        )),
        Reason::PostOnlyWouldTake,
    );
    assert_rejected(
        &x.run_unchanged(Command::new_order(
            limit(A2, BTC_JPY, Side::Sell, 990, 1, "p").post_only(),
        )),
        Reason::PostOnlyWouldTake,
    );
    // Not crossing: it rests and nothing trades.
    let ev = x.place(limit(A1, BTC_JPY, Side::Buy, 999, 1, "p").post_only());
    assert_eq!(kinds(&ev), [K::Accepted]);
    assert_eq!(x.depth(BTC_JPY, Side::Buy), [(999, 1, 1), (990, 1, 1)]);
    assert!(x.order(OrderId(3)).post_only);
}

/// §8 "NO_REFERENCE_PRICE takes the band check's place": after DUPLICATE_ORDER (and everything
/// before), before TOO_MANY_ORDERS and INSUFFICIENT_FUNDS.
#[test]
fn validation_no_reference_price_takes_the_band_checks_place() {
    let mut x = Exchange::new();
    // ETH-JPY has no reference price and band 0. A1 has no money at all.
    let m = |id| market(A1, ETH_JPY, Side::Buy, 2, id);
    assert_rejected(
        &x.run_unchanged(Command::new_order(m("m"))),
        Reason::NoReferencePrice,
    ); // beats INSUFFICIENT_FUNDS
    assert_rejected(
        &x.run_unchanged(Command::new_order(market(A1, ETH_JPY, Side::Sell, 2, "m"))),
        Reason::NoReferencePrice,
    );
    // INVALID_ORDER (post-only market) comes first.
    assert_rejected(
        &x.run_unchanged(Command::new_order(m("m").post_only())),
        Reason::InvalidOrder,
    );
    // DUPLICATE_ORDER comes first; NO_REFERENCE_PRICE beats TOO_MANY_ORDERS.
    x.deposit(A1, ETH, 100_000); // 10 lots
    for i in 0..MAX_OPEN as u64 {
        x.rest(sym_limit(
            A1,
            ETH_JPY,
            Side::Sell,
            100 + i,
            2,
            &format!("s{i}"),
        ));
    }
    assert_rejected(
        &x.run_unchanged(Command::new_order(m("s0"))),
        Reason::DuplicateOrder,
    );
    assert_rejected(
        &x.run_unchanged(Command::new_order(m("m"))),
        Reason::NoReferencePrice,
    );
    assert_rejected(
        &x.run_unchanged(Command::new_order(sym_limit(
            A1,
            ETH_JPY,
            Side::Sell,
            100,
            2,
            "l",
        ))),
        Reason::TooManyOrders,
    );
}

/// §3 "With no reference price, or band_bps = 0, a market order is rejected NO_REFERENCE_PRICE."
/// "With no R there is no band check" (and with B = 0 neither).
#[test]
fn market_order_needs_both_a_reference_price_and_a_band() {
    // A reference price but band 0.
    let mut config = test_config();
    config.symbols[1].reference_price = Some(Price(100));
    let mut x = Exchange::with_config(config);
    x.fund_all();
    assert_rejected(
        &x.run_unchanged(Command::new_order(market(A1, ETH_JPY, Side::Buy, 2, "m"))),
        Reason::NoReferencePrice,
    );
    // No band: any positive price rests.
    x.rest(sym_limit(A1, ETH_JPY, Side::Buy, 1, 2, "lo"));
    x.rest(sym_limit(A1, ETH_JPY, Side::Sell, 1_000_000, 2, "hi"));

    // A band but no reference price.
    let mut config = test_config();
    config.symbols[1].band_bps = 500;
    let mut x = Exchange::with_config(config);
    x.fund_all();
    assert_rejected(
        &x.run_unchanged(Command::new_order(market(A1, ETH_JPY, Side::Buy, 2, "m"))),
        Reason::NoReferencePrice,
    );
    x.rest(sym_limit(A1, ETH_JPY, Side::Buy, 1, 2, "lo"));
    x.rest(sym_limit(A3, ETH_JPY, Side::Sell, 1_000_000, 2, "hi"));
    // A trade at 100 sets R = 100: band [ceil(95), floor(105)] = [95, 105].
    x.rest(sym_limit(A2, ETH_JPY, Side::Sell, 100, 2, "s"));
    x.place(sym_limit(A1, ETH_JPY, Side::Buy, 100, 2, "b"));
    assert_eq!(x.engine.reference_price(ETH_JPY), Some(Price(100)));
    assert_rejected(
        &x.run_unchanged(Command::new_order(sym_limit(
            A1,
            ETH_JPY,
            Side::Buy,
            94,
            2,
            "x",
        ))),
        Reason::PriceBand,
    );
    assert_rejected(
        &x.run_unchanged(Command::new_order(sym_limit(
            A1,
            ETH_JPY,
            Side::Sell,
            106,
            2,
            "x",
        ))),
        Reason::PriceBand,
    );
    // The market buy is now accepted (IOC at 105; nothing to meet at ≤ 105).
    let ev = x.place(market(A1, ETH_JPY, Side::Buy, 2, "m"));
    assert_eq!(kinds(&ev), [K::Accepted, K::Canceled]);
    assert_canceled(&ev[1], ev[0].order_id.0, Reason::IocRemainder, 0);
}
