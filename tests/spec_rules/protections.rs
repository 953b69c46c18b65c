//! BEHAVIOUR.md §10 protections the engine enforces: the fat-finger limit (`max_notional`,
//! rejected `NOTIONAL_LIMIT` right after `INVALID_QTY`) and the account block (the kill switch:
//! `ACCOUNT_BLOCKED` right after `UNKNOWN_ACCOUNT`).
//!
//! The limit used here: BTC-JPY `max_notional` = 1 000 000 JPY minor units (100 JPY). With
//! notional(p, q) = 100·p·q, an order may have p·q ≤ 10 000: 10 lots at 1000 is exactly the limit,
//! 11 lots at 1000 (1 100 000) is over it. A market buy's protection price is the band's top, 1101,
//! a market sell's its bottom, 901 (reference 1001, band ±10 %).

use crate::support::*;
use hayate::*;

use EventKind as K;

/// 100 JPY in JPY minor units.
const LIMIT: u64 = 1_000_000;

/// `test_config()` with BTC-JPY limited to [`LIMIT`] and ETH-JPY to 1000 minor units.
fn limited() -> Exchange {
    let mut config = test_config();
    config.symbols[0].max_notional = Amount(LIMIT);
    config.symbols[1].max_notional = Amount(1000);
    let mut x = Exchange::with_config(config);
    x.fund_all();
    x
}

fn new_order(order: NewOrder) -> Command {
    Command::new_order(order)
}

// ------------------------------------------------------------------------------------------------
// Fat-finger limit
// ------------------------------------------------------------------------------------------------

/// "a new order … whose notional at its limit price exceeds it is rejected NOTIONAL_LIMIT":
/// exactly the limit is allowed, one lot more is not, on either side.
#[test]
fn notional_at_the_limit_is_accepted_above_it_rejected() {
    let mut x = limited();
    // 100 × 1000 × 10 = 1 000 000 = the limit.
    assert_eq!(x.buy_id(A1, 1000, 10, "at"), OrderId(1));
    // 100 × 1000 × 11 = 1 100 000 > 1 000 000.
    assert_rejected(
        &x.run_unchanged(new_order(limit(A1, BTC_JPY, Side::Buy, 1000, 11, "b"))),
        Reason::NotionalLimit,
    );
    assert_rejected(
        &x.run_unchanged(new_order(limit(A2, BTC_JPY, Side::Sell, 1000, 11, "s"))),
        Reason::NotionalLimit,
    );
    // 100 × 1001 × 10 = 1 001 000: the price counts as well as the quantity.
    assert_rejected(
        &x.run_unchanged(new_order(limit(A2, BTC_JPY, Side::Sell, 1001, 10, "s"))),
        Reason::NotionalLimit,
    );
    // A rejection consumes no order id.
    assert_eq!(x.sell_id(A2, 1001, 9, "s"), OrderId(2));
    // No limit configured (`test_config` as it is): anything max_qty allows, 100 000 000 here.
    let mut free = Exchange::funded();
    assert_eq!(free.sell_id(A1, 1000, 1000, "big"), OrderId(1));
}

/// The event echoes the refused order like every `Rejected`, and nothing is held for it.
#[test]
fn notional_limit_rejection_echoes_the_order_and_holds_nothing() {
    let mut x = limited();
    let ev = x.run_unchanged(new_order(limit(A1, BTC_JPY, Side::Buy, 1000, 11, "b")));
    assert_rejected(&ev, Reason::NotionalLimit);
    assert_eq!(ev[0].account, A1);
    assert_eq!(ev[0].price, Price(1000));
    assert_eq!(ev[0].order_qty, Qty(11));
    assert_eq!(ev[0].client_order_id, cid("b"));
    assert_eq!(x.bal(A1, JPY), (JPY_FUND, 0));
}

/// "checked immediately after INVALID_QTY": every earlier check wins over it…
#[test]
fn earlier_checks_win_over_notional_limit() {
    let mut x = limited();
    // Row 5 INVALID_QTY: 1001 lots is above max_qty (1000) and 100 100 000 is over the limit.
    assert_rejected(
        &x.run_unchanged(new_order(limit(A1, BTC_JPY, Side::Buy, 1000, 1001, "q"))),
        Reason::InvalidQty,
    );
    // Row 4 INVALID_PRICE (the quantity alone would be over the limit at any price).
    assert_rejected(
        &x.run_unchanged(new_order(limit(A1, BTC_JPY, Side::Buy, 0, 1000, "p"))),
        Reason::InvalidPrice,
    );
    // Row 3 HALTED.
    x.run(Command::halt(Some(BTC_JPY)));
    assert_rejected(
        &x.run_unchanged(new_order(limit(A1, BTC_JPY, Side::Buy, 1000, 11, "h"))),
        Reason::Halted,
    );
    x.run(Command::resume(Some(BTC_JPY)));
    // Row 2 UNKNOWN_ACCOUNT.
    assert_rejected(
        &x.run_unchanged(new_order(limit(NOBODY, BTC_JPY, Side::Buy, 1000, 11, "u"))),
        Reason::UnknownAccount,
    );
}

/// … and it wins over every later one: post-only with IOC (row 6), a held ClOrdID (8), the band
/// (9a), the open-order limit (10), funds (11) and post-only crossing (12).
#[test]
fn notional_limit_wins_over_later_checks() {
    let mut x = limited();
    let over = |id: &str| limit(A1, BTC_JPY, Side::Buy, 1000, 11, id);
    assert_rejected(
        &x.run_unchanged(new_order(
            over("ioc").with_tif(TimeInForce::Ioc).post_only(),
        )),
        Reason::NotionalLimit,
    );
    x.buy_id(A1, 990, 1, "held"); // 1
    assert_rejected(
        &x.run_unchanged(new_order(over("held"))),
        Reason::NotionalLimit,
    );
    // 1200 is outside the band [901, 1101]; 100 × 1200 × 9 = 1 080 000 is over the limit.
    assert_rejected(
        &x.run_unchanged(new_order(limit(A1, BTC_JPY, Side::Buy, 1200, 9, "band"))),
        Reason::NotionalLimit,
    );
    for i in 0..(MAX_OPEN - 1) {
        x.buy_id(A1, 980 - i as u64, 1, &format!("fill{i}"));
    }
    assert_rejected(
        &x.run_unchanged(new_order(over("many"))),
        Reason::NotionalLimit,
    );
    // A2 holds no JPY once it withdraws it all.
    x.withdraw(A2, JPY, JPY_FUND);
    assert_rejected(
        &x.run_unchanged(new_order(limit(A2, BTC_JPY, Side::Buy, 1000, 11, "f"))),
        Reason::NotionalLimit,
    );
    x.sell_id(A3, 1000, 1, "ask"); // rests: nothing bids at 1000 or more
    assert_rejected(
        &x.run_unchanged(new_order(
            limit(A2, BTC_JPY, Side::Buy, 1000, 11, "po").post_only(),
        )),
        Reason::NotionalLimit,
    );
}

/// "(market orders: protection price)": a market buy is valued at the band's top (1101), a
/// market sell at its bottom (901); the check follows the protection price's own (row 9c).
#[test]
fn market_orders_are_valued_at_the_protection_price() {
    let mut x = limited();
    // Buy 10 lots: 100 × 1101 × 10 = 1 101 000 > 1 000 000, although at the reference price
    // (1001) it would be 1 001 000 and at 1000 exactly the limit.
    assert_rejected(
        &x.run_unchanged(new_order(market(A1, BTC_JPY, Side::Buy, 10, "mb"))),
        Reason::NotionalLimit,
    );
    // Buy 9 lots: 100 × 1101 × 9 = 990 900: accepted, nothing to take, remainder cancelled.
    let ev = x.place(market(A1, BTC_JPY, Side::Buy, 9, "mb9"));
    assert_eq!(kinds(&ev), [K::Accepted, K::Canceled]);
    assert_canceled(&ev[1], 1, Reason::IocRemainder, 0);
    // Sell 11 lots: 100 × 901 × 11 = 991 100: accepted.
    let ev = x.place(market(A2, BTC_JPY, Side::Sell, 11, "ms11"));
    assert_eq!(kinds(&ev), [K::Accepted, K::Canceled]);
    // Sell 12 lots: 100 × 901 × 12 = 1 081 200: over.
    assert_rejected(
        &x.run_unchanged(new_order(market(A2, BTC_JPY, Side::Sell, 12, "ms12"))),
        Reason::NotionalLimit,
    );
    // FOK market orders too.
    assert_rejected(
        &x.run_unchanged(new_order(
            market(A2, BTC_JPY, Side::Sell, 12, "fok").with_tif(TimeInForce::Fok),
        )),
        Reason::NotionalLimit,
    );
    // ETH-JPY has no band, so no protection price: NO_REFERENCE_PRICE, not NOTIONAL_LIMIT,
    // however far over its limit (1000) the quantity is.
    assert_rejected(
        &x.run_unchanged(new_order(market(A1, ETH_JPY, Side::Buy, 100_000, "eth"))),
        Reason::NoReferencePrice,
    );
}

/// "A new order or replace": a replace is valued at its new price and new total (filled
/// included, as `max_qty` is), and checked right after INVALID_QTY (replace row 4), so before
/// REPLACED_DONE and every later row; a refused replace leaves the order as it was.
#[test]
fn replace_over_the_limit_is_rejected_in_its_order() {
    let mut x = limited();
    let a = x.buy_id(A1, 1000, 10, "a"); // 1: exactly the limit
    let before = x.order(a);
    // 11 lots at 1000: 1 100 000.
    x.replace_refused(A1, a, "a2", (1000, 11), Reason::NotionalLimit);
    // 10 lots at 1001: 1 001 000.
    x.replace_refused(A1, a, "a2", (1001, 10), Reason::NotionalLimit);
    // INVALID_QTY (1001 > max_qty) comes first.
    x.replace_refused(A1, a, "a2", (1000, 1001), Reason::InvalidQty);
    // DUPLICATE_ORDER (row 6) comes after.
    x.buy_id(A1, 990, 1, "other"); // 2
    x.replace_refused(A1, a, "other", (1000, 11), Reason::NotionalLimit);
    assert_eq!(x.order(a), before, "a refused replace changes nothing");
    // 4 lots fill; a new total of 4 would end the order REPLACED_DONE (row 7), but at 3000 its
    // notional (100 × 3000 × 4 = 1 200 000) is over the limit first.
    x.sell_id(A2, 1000, 4, "s"); // 3
    assert_eq!(x.order(a).cum_qty, Qty(4));
    x.replace_refused(A1, a, "a3", (3000, 4), Reason::NotionalLimit);
    // Within the limit it applies: 9 lots at 1100 = 990 000 (filled 4 included).
    let ev = x.replace(A1, OrderRef::Id(a), "a3", 1100, 9);
    assert_eq!(ev[0].event_kind(), Some(K::Replaced));
    assert_eq!(x.order(a).leaves_qty, Qty(5));
}

/// The limit is configuration, so it is in the snapshot (and therefore the digest) and comes back
/// from a saved engine.
#[test]
fn max_notional_survives_save_and_load() {
    let x = limited();
    let loaded = Engine::load(&x.engine.save()).expect("loads");
    assert_eq!(loaded.config().symbols[0].max_notional, Amount(LIMIT));
    assert_eq!(loaded.config(), x.engine.config());
    assert_ne!(
        Exchange::funded().engine.digest(),
        x.engine.digest(),
        "a limit changes the digest"
    );
}

// ------------------------------------------------------------------------------------------------
// Account block (kill switch)
// ------------------------------------------------------------------------------------------------

/// "Blocking cancels all the account's open orders with reason ACCOUNT_BLOCKED": one Canceled per
/// order, oldest first, in every symbol, then AccountBlocked with the count; holds are released,
/// fills kept, other accounts untouched.
#[test]
fn block_cancels_every_open_order_of_the_account() {
    let mut x = Exchange::funded();
    let b = x.buy_id(A1, 1000, 2, "b"); // 1
    x.sell_id(A2, 1000, 1, "s"); // 2: fills 1 of order 1
    let s = x.sell_id(A1, 1010, 3, "s1"); // 3
    let e = x.rest(sym_limit(A1, ETH_JPY, Side::Buy, 100, 2, "e")); // 4
    let other = x.buy_id(A2, 990, 1, "o"); // 5
    let ev = x.run(Command::block(A1));
    assert_eq!(
        kinds(&ev),
        [K::Canceled, K::Canceled, K::Canceled, K::AccountBlocked]
    );
    assert_canceled(&ev[0], b.0, Reason::AccountBlocked, 1);
    assert_canceled(&ev[1], s.0, Reason::AccountBlocked, 0);
    assert_canceled(&ev[2], e.0, Reason::AccountBlocked, 0);
    for e in &ev[..3] {
        assert_eq!(e.account, A1);
    }
    assert_eq!(ev[0].client_order_id, cid("b"));
    assert_eq!(ev[3].account, A1);
    assert_eq!(ev[3].count(), 3);
    assert_eq!(ev[3].reason(), Reason::None);
    assert!(x.engine.open_orders(A1).is_empty());
    for asset in ASSETS {
        assert_eq!(x.reserved(A1, asset), 0, "asset {asset} still held");
    }
    // The fill stays: A1's resting buy made 1 lot at 1000 (100 000 JPY + maker fee
    // floor(1000/10) = 100).
    assert_eq!(x.available(A1, BTC), BTC_FUND + BTC_LOT);
    assert_eq!(x.available(A1, JPY), JPY_FUND - 100_000 - 100);
    assert_eq!(x.order(other).leaves_qty, Qty(1));
    assert!(x.engine.is_blocked(A1));
    assert!(!x.engine.is_blocked(A2));
    assert_eq!(x.engine.blocked_accounts(), [A1]);
}

/// "while blocked, its new orders and replaces are rejected ACCOUNT_BLOCKED", changing nothing.
#[test]
fn blocked_account_orders_and_replaces_are_rejected() {
    let mut x = Exchange::funded();
    let a = x.buy_id(A1, 1000, 1, "a"); // 1
    x.run(Command::block(A1));
    assert_rejected(
        &x.run_unchanged(new_order(limit(A1, BTC_JPY, Side::Buy, 1000, 1, "n"))),
        Reason::AccountBlocked,
    );
    assert_rejected(
        &x.run_unchanged(new_order(market(A1, BTC_JPY, Side::Sell, 1, "m"))),
        Reason::AccountBlocked,
    );
    assert_rejected(
        &x.run_unchanged(new_order(
            sym_limit(A1, ETH_JPY, Side::Sell, 100, 2, "e").with_tif(TimeInForce::Fok),
        )),
        Reason::AccountBlocked,
    );
    // A replace says why too, though the block left the account no order to name.
    let ev = x.run_unchanged(Command::replace(
        A1,
        OrderRef::Id(a),
        cid("a2"),
        Price(1000),
        Qty(2),
    ));
    assert_single(&ev, K::ReplaceRejected, Reason::AccountBlocked);
    assert_eq!(ev[0].account, A1);
    assert_eq!(ev[0].orig_client_order_id(), ClientOrderId::EMPTY);
    // Another account trades on.
    assert_eq!(x.buy_id(A2, 1000, 1, "b"), OrderId(2));
}

/// "Cancels, mass cancels, deposits and withdrawals keep working" for a blocked account.
#[test]
fn blocked_account_may_cancel_deposit_and_withdraw() {
    let mut x = Exchange::funded();
    let a = x.buy_id(A1, 1000, 1, "a");
    x.run(Command::block(A1));
    assert_single(
        &x.cancel(A1, OrderRef::Id(a), "c"),
        K::CancelRejected,
        Reason::UnknownOrder,
    );
    let ev = x.run(Command::mass_cancel(A1, None, cid("mc")));
    assert_eq!(kinds(&ev), [K::MassCanceled]);
    assert_eq!(ev[0].count(), 0);
    let ev = x.deposit(A1, JPY, 5);
    assert_eq!(kinds(&ev), [K::Deposited]);
    assert_eq!(ev[0].balance().available, Amount(JPY_FUND + 5));
    let ev = x.withdraw(A1, BTC, BTC_FUND);
    assert_eq!(kinds(&ev), [K::Withdrawn]);
    assert_eq!(x.bal(A1, BTC), (0, 0));
    let ev = x.run(Command::query_order(
        A1,
        OrderRef::Id(a),
        ClientOrderId::EMPTY,
    ));
    assert_single(&ev, K::QueryRejected, Reason::UnknownOrder);
    assert!(x.engine.is_blocked(A1), "none of these lifts the block");
}

/// Unblock lets the account trade again; the ids refused orders never took are the next ones.
#[test]
fn unblock_restores_trading() {
    let mut x = Exchange::funded();
    x.buy_id(A1, 1000, 1, "a"); // 1
    x.run(Command::block(A1));
    assert_rejected(&x.buy(A1, 1000, 1, "b"), Reason::AccountBlocked);
    let ev = x.run(Command::unblock(A1));
    assert_eq!(kinds(&ev), [K::AccountUnblocked]);
    assert_eq!(ev[0].account, A1);
    assert!(!x.engine.is_blocked(A1));
    assert!(x.engine.blocked_accounts().is_empty());
    assert_eq!(x.buy_id(A1, 1000, 1, "b"), OrderId(2));
    let ev = x.sell(A2, 1000, 1, "s");
    assert_eq!(kinds(&ev), [K::Accepted, K::Fill, K::Fill]);
    let c = x.buy_id(A1, 990, 1, "c"); // 4
    let ev = x.replace(A1, OrderRef::Id(c), "c2", 991, 2);
    assert_eq!(kinds(&ev), [K::Replaced]);
}

/// "checked right after UNKNOWN_ACCOUNT": only the unknown symbol and unknown account come
/// before it; it wins over the halt and every later row.
#[test]
fn account_blocked_sits_right_after_unknown_account() {
    let mut x = Exchange::funded();
    x.run(Command::block(A1));
    // Row 1 UNKNOWN_SYMBOL first.
    assert_rejected(
        &x.run_unchanged(new_order(sym_limit(
            A1,
            SymbolId(7),
            Side::Buy,
            1000,
            1,
            "u",
        ))),
        Reason::UnknownSymbol,
    );
    // Row 2: an account that does not exist (or the fee account) cannot be blocked, and its
    // orders stay UNKNOWN_ACCOUNT.
    for who in [NOBODY, FEES] {
        for block in [Command::block(who), Command::unblock(who)] {
            let ev = x.run_unchanged(block);
            assert_single(&ev, K::BlockRejected, Reason::UnknownAccount);
            assert_eq!(ev[0].account, who);
        }
        assert_rejected(
            &x.run_unchanged(new_order(limit(who, BTC_JPY, Side::Buy, 1000, 1, "n"))),
            Reason::UnknownAccount,
        );
    }
    // Everything after: HALTED, INVALID_PRICE, INVALID_QTY, INVALID_ORDER, funds (999 lots at
    // 1000 hold 99 900 000 + ceil(999 000/4) = 100 149 750 JPY minor units; A1 has 100 000 000).
    x.run(Command::halt(None));
    assert_rejected(
        &x.run_unchanged(new_order(limit(A1, BTC_JPY, Side::Buy, 0, 0, "h"))),
        Reason::AccountBlocked,
    );
    x.run(Command::resume(None));
    assert_rejected(
        &x.run_unchanged(new_order(
            limit(A1, BTC_JPY, Side::Buy, 1000, 1, "po")
                .with_tif(TimeInForce::Ioc)
                .post_only(),
        )),
        Reason::AccountBlocked,
    );
    assert_rejected(
        &x.run_unchanged(new_order(limit(A1, BTC_JPY, Side::Buy, 1000, 999, "f"))),
        Reason::AccountBlocked,
    );
}

/// Blocking twice or unblocking an account that is not blocked is harmless: the answer is the
/// same event with nothing cancelled, and the state does not change.
#[test]
fn block_and_unblock_are_idempotent() {
    let mut x = Exchange::funded();
    x.buy_id(A1, 1000, 1, "a");
    let ev = x.run_unchanged(Command::unblock(A1));
    assert_eq!(kinds(&ev), [K::AccountUnblocked]);
    x.run(Command::block(A1));
    let ev = x.run_unchanged(Command::block(A1));
    assert_eq!(kinds(&ev), [K::AccountBlocked]);
    assert_eq!(ev[0].count(), 0);
}

/// "The block is part of the engine state": it is in the digest, a saved engine loads blocked,
/// and replaying the same commands gives the same state.
#[test]
fn block_is_in_the_snapshot_and_the_digest() {
    let mut x = Exchange::funded();
    x.buy_id(A1, 1000, 1, "a");
    let open = x.engine.digest();
    x.run(Command::block(A1));
    let blocked = x.engine.digest();
    assert_ne!(open, blocked);
    let mut loaded = Engine::load(&x.engine.save()).expect("loads");
    assert!(loaded.is_blocked(A1));
    assert_eq!(loaded.digest(), blocked);
    let mut events = Vec::new();
    loaded.process(
        &new_order(limit(A1, BTC_JPY, Side::Buy, 1000, 1, "n")),
        &mut events,
    );
    assert_rejected(&events, Reason::AccountBlocked);
    let mut replayed = Engine::new(test_config());
    for cmd in &x.sent {
        replayed.process(cmd, &mut Vec::new());
    }
    assert_eq!(replayed.digest(), blocked);
    x.run(Command::unblock(A1));
    assert_ne!(x.engine.digest(), blocked);
    assert!(
        !Engine::load(&x.engine.save())
            .expect("loads")
            .is_blocked(A1)
    );
}
