//! One test per rule of BEHAVIOUR.md §1–§3 and the engine rules of §8, with hand-computed expectations.
//!
//! All numbers refer to `common::test_config()`; see `tests/common/mod.rs` for the derivation.
//! On BTC-JPY (symbol 0): notional(p, q) = 100·p·q JPY minor units, taker fee (25 bps) =
//! floor(p·q/4), maker fee (10 bps) = floor(p·q/10), reserve(p, q) = 100·p·q + ceil(p·q/4),
//! a lot is 1 000 000 BTC minor units, reference 1001, band 1000 bps → [901, 1101].
//! Accounts 1–3 start with JPY 100 000 000, BTC 1 000 000 000, ETH 1 000 000 000 in `funded()`.
//!
//! The `Exchange` harness checks `check_invariants()` and conservation after every command.

mod common;

use common::*;
use hayate::event::EVENT_FLAG_ALL_SYMBOLS;
use hayate::*;

use EventKind as K;
use SelfTradePrevention as Stp;

// ------------------------------------------------------------------------------------------------
// Event matchers
// ------------------------------------------------------------------------------------------------

#[track_caller]
fn assert_accepted(e: &Event, order: u64, account: AccountId, qty: u64) {
    assert_eq!(e.event_kind(), Some(K::Accepted), "{e:#?}");
    assert_eq!(e.order_id, OrderId(order), "order id");
    assert_eq!(e.account, account);
    assert_eq!(e.status(), Some(OrderStatus::New));
    assert_eq!(e.order_qty, Qty(qty));
    assert_eq!(e.leaves_qty, Qty(qty));
    assert_eq!(e.cum_qty, Qty(0));
    assert_eq!(e.reason(), Reason::None);
}

/// One side of a trade.
struct F {
    order: u64,
    account: AccountId,
    maker: bool,
    px: u64,
    qty: u64,
    trade: u64,
    fee: u64,
    leaves: u64,
    cum: u64,
}

#[track_caller]
fn assert_fill(e: &Event, f: F) {
    assert_eq!(e.event_kind(), Some(K::Fill), "{e:#?}");
    assert_eq!(e.order_id, OrderId(f.order), "fill order id: {e:#?}");
    assert_eq!(e.account, f.account, "fill account");
    assert_eq!(e.is_maker(), f.maker, "maker flag of order {}", f.order);
    let fill = e.fill();
    assert_eq!(fill.last_px, Price(f.px), "last_px");
    assert_eq!(fill.last_qty, Qty(f.qty), "last_qty");
    assert_eq!(fill.trade_id, TradeId(f.trade), "trade id");
    assert_eq!(fill.fee, Amount(f.fee), "fee of order {}", f.order);
    assert_eq!(e.leaves_qty, Qty(f.leaves), "leaves after fill");
    assert_eq!(e.cum_qty, Qty(f.cum), "cum after fill");
    let status = if f.leaves == 0 {
        OrderStatus::Filled
    } else {
        OrderStatus::PartiallyFilled
    };
    assert_eq!(e.status(), Some(status), "status after fill");
}

#[track_caller]
fn assert_canceled(e: &Event, order: u64, reason: Reason, cum: u64) {
    assert_eq!(e.event_kind(), Some(K::Canceled), "{e:#?}");
    assert_eq!(e.order_id, OrderId(order), "canceled order id: {e:#?}");
    assert_eq!(e.reason(), reason, "cancel reason of order {order}");
    assert_eq!(e.status(), Some(OrderStatus::Canceled));
    assert_eq!(e.leaves_qty, Qty(0), "a canceled order has nothing open");
    assert_eq!(e.cum_qty, Qty(cum), "cum of canceled order {order}");
}

#[track_caller]
fn assert_restated(e: &Event, order: u64, order_qty: u64, leaves: u64) {
    assert_eq!(e.event_kind(), Some(K::Restated), "{e:#?}");
    assert_eq!(e.order_id, OrderId(order));
    assert_eq!(e.reason(), Reason::SelfTrade);
    assert_eq!(e.order_qty, Qty(order_qty), "restated order_qty");
    assert_eq!(e.leaves_qty, Qty(leaves), "restated leaves");
}

fn sym_limit(
    account: AccountId,
    symbol: SymbolId,
    side: Side,
    price: u64,
    qty: u64,
    id: &str,
) -> NewOrder {
    limit(account, symbol, side, price, qty, id)
}

// ================================================================================================
// §1 Units and numbers
// ================================================================================================

/// §1 "fee(notional, bps) = floor(notional × bps / 10000). Fees are paid in the quote asset and
/// credited to the fee account (account id 0)." §2 "On a fill … the buyer … pays notional(p, q)
/// plus its fee (maker or taker, by role); the seller receives notional(p, q) minus its fee."
#[test]
fn fee_is_floored_paid_in_quote_by_role_and_credited_to_fee_account() {
    let mut x = Exchange::funded();
    let maker = x.sell_id(A2, 1001, 3, "s-1"); // order 1
    assert_eq!(maker, OrderId(1));
    let ev = x.buy(A1, 1001, 3, "b-1"); // order 2, takes 3 @ 1001
    assert_eq!(kinds(&ev), [K::Accepted, K::Fill, K::Fill]);
    assert_accepted(&ev[0], 2, A1, 3);
    // notional = 100 × 1001 × 3 = 300 300
    // taker fee = floor(300 300 × 25 / 10000) = floor(750.75) = 750
    // maker fee = floor(300 300 × 10 / 10000) = floor(300.3) = 300
    assert_fill(
        &ev[1],
        F {
            order: 2,
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
    assert_fill(
        &ev[2],
        F {
            order: 1,
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
    assert_eq!(ev[1].cum_cost, 3003, "cum_cost = 1001 × 3 tick·lots");
    // Fee account: 750 + 300 = 1050 JPY, nothing else.
    assert_eq!(x.bal(FEES, JPY), (1050, 0));
    assert_eq!(x.bal(FEES, BTC), (0, 0));
    // Buyer: 100 000 000 − 300 300 − 750 = 99 698 950; BTC + 3 lots = 1 003 000 000.
    assert_eq!(x.bal(A1, JPY), (99_698_950, 0));
    assert_eq!(x.bal(A1, BTC), (1_003_000_000, 0));
    // Seller: 100 000 000 + 300 300 − 300 = 100 300 000; BTC − 3 lots = 997 000 000.
    assert_eq!(x.bal(A2, JPY), (100_300_000, 0));
    assert_eq!(x.bal(A2, BTC), (997_000_000, 0));
}

/// §1 fee floor on a tiny notional, with §2's ceil in the reservation: on ETH-JPY
/// (unit_notional 1, taker 20 bps, maker 5 bps) 2 lots @ 100 have notional 200; the taker fee is
/// floor(200 × 20 / 10000) = floor(0.4) = 0 but the reservation is 200 + ceil(0.4) = 201.
#[test]
fn reserve_ceils_the_fee_part_even_when_the_fee_floors_to_zero() {
    let mut x = Exchange::new();
    x.deposit(A2, ETH, 20_000); // 2 lots of ETH-JPY
    x.place(sym_limit(A2, ETH_JPY, Side::Sell, 100, 2, "s"));
    x.deposit(A1, JPY, 200);
    let ev = x.run_unchanged(Command::new_order(sym_limit(
        A1,
        ETH_JPY,
        Side::Buy,
        100,
        2,
        "b",
    )));
    assert_rejected(&ev, Reason::InsufficientFunds); // needs 201
    x.deposit(A1, JPY, 1);
    let ev = x.place(sym_limit(A1, ETH_JPY, Side::Buy, 100, 2, "b"));
    assert_eq!(kinds(&ev), [K::Accepted, K::Fill, K::Fill]);
    assert_eq!(ev[1].fill().fee, Amount(0)); // taker floor(0.4)
    assert_eq!(ev[2].fill().fee, Amount(0)); // maker floor(0.1)
    // Paid exactly 200; the reserved fee part (1) comes back.
    assert_eq!(x.bal(A1, JPY), (1, 0));
    assert_eq!(x.bal(A1, ETH), (20_000, 0));
    assert_eq!(x.bal(A2, JPY), (200, 0));
    assert_eq!(x.bal(FEES, JPY), (0, 0));
}

/// §1 / §8: "an order whose notional overflows i64/u64 is rejected INVALID_QTY, never wraps".
#[test]
fn notional_overflow_is_invalid_qty() {
    let mut x = Exchange::funded();
    // ETH-JPY: unit_notional 1, no max_qty, no band. 2^31 × 2^32 = 2^63 = i64::MAX + 1.
    let ev = x.run_unchanged(Command::new_order(sym_limit(
        A1,
        ETH_JPY,
        Side::Buy,
        1 << 31,
        1 << 32,
        "o",
    )));
    assert_rejected(&ev, Reason::InvalidQty);
    // 2^32 × 2^32 = 2^64 would wrap a u64.
    let ev = x.run_unchanged(Command::new_order(sym_limit(
        A1,
        ETH_JPY,
        Side::Sell,
        1 << 32,
        1 << 32,
        "o",
    )));
    assert_rejected(&ev, Reason::InvalidQty);
    // It is the INVALID_QTY check, so it beats INVALID_ORDER (post-only IOC).
    let o = sym_limit(A1, ETH_JPY, Side::Buy, 1 << 31, 1 << 32, "o")
        .with_tif(TimeInForce::Ioc)
        .post_only();
    assert_rejected(&x.run_unchanged(Command::new_order(o)), Reason::InvalidQty);
}

/// §8: "a reservation that overflows is INSUFFICIENT_FUNDS" (buy side).
#[test]
fn buy_reservation_overflow_is_insufficient_funds() {
    let mut x = Exchange::funded();
    // p = 4 611 686 018 427 387 903, q = 2: notional = 9 223 372 036 854 775 806 ≤ i64::MAX,
    // fee part = ceil(notional × 20 / 10000) ≈ 1.8e16 → reserve > i64::MAX.
    let ev = x.run_unchanged(Command::new_order(sym_limit(
        A1,
        ETH_JPY,
        Side::Buy,
        4_611_686_018_427_387_903,
        2,
        "o",
    )));
    assert_rejected(&ev, Reason::InsufficientFunds);
}

/// §8: "a reservation that overflows is INSUFFICIENT_FUNDS" (sell side: §2 "an open sell order
/// holds exactly l lots of base"). On ETH-JPY a lot is 10 000 minor units; 922 337 203 685 478 lots
/// = 9 223 372 036 854 780 000 minor units > i64::MAX while the notional at 1 tick
/// (922 337 203 685 478) fits.
#[test]
fn sell_reservation_overflow_is_insufficient_funds() {
    let mut x = Exchange::funded();
    let ev = x.run_unchanged(Command::new_order(sym_limit(
        A1,
        ETH_JPY,
        Side::Sell,
        1,
        922_337_203_685_478,
        "o",
    )));
    assert_rejected(&ev, Reason::InsufficientFunds);
}

// ================================================================================================
// §2 Accounts and money
// ================================================================================================

/// §2 Deposit credits `available`; the event reports the balance after it. A deposit to an
/// unknown account creates it (§8 "An account exists once … a deposit credits it").
#[test]
fn deposit_credits_available_and_creates_the_account() {
    let mut x = Exchange::new();
    let ev = x.deposit(A1, JPY, 500);
    assert_single(&ev, K::Deposited, Reason::None);
    assert_eq!(ev[0].account, A1);
    assert_eq!(ev[0].asset, JPY);
    assert_eq!(
        ev[0].balance(),
        Balance {
            amount: Amount(500),
            available: Amount(500),
            reserved: Amount(0)
        }
    );
    let ev = x.deposit(A1, JPY, 250);
    assert_eq!(
        ev[0].balance(),
        Balance {
            amount: Amount(250),
            available: Amount(750),
            reserved: Amount(0)
        }
    );
    assert_eq!(x.engine.supply(JPY), Amount(750));

    // Account 9 does not exist: it cannot trade …
    assert!(x.engine.balance(NOBODY, JPY).is_none());
    let ev = x.run_unchanged(Command::new_order(limit(
        NOBODY,
        BTC_JPY,
        Side::Buy,
        1000,
        1,
        "n",
    )));
    assert_rejected(&ev, Reason::UnknownAccount);
    // … until a deposit credits it.
    let ev = x.deposit(NOBODY, JPY, 100_250); // reserve(1000, 1) = 100 000 + 250
    assert_eq!(ev[0].balance().available, Amount(100_250));
    assert_eq!(x.bal(NOBODY, JPY), (100_250, 0));
    let ev = x.place(limit(NOBODY, BTC_JPY, Side::Buy, 1000, 1, "n"));
    assert_accepted(&ev[0], 1, NOBODY, 1);
    assert_eq!(x.bal(NOBODY, JPY), (0, 100_250));
}

/// Deposit refusals: unknown asset, zero, and a total supply past i64::MAX; nothing changes.
#[test]
fn deposit_rejections_change_nothing() {
    let mut x = Exchange::new();
    x.deposit(A1, JPY, 10);
    assert_single(
        &x.run_unchanged(Command::deposit(A1, AssetId(3), Amount(5))),
        K::DepositRejected,
        Reason::UnknownAsset,
    );
    assert_single(
        &x.run_unchanged(Command::deposit(A1, JPY, Amount(0))),
        K::DepositRejected,
        Reason::InvalidAmount,
    );
    // Supply 10 + (i64::MAX − 10) = i64::MAX exactly: accepted.
    let ev = x.deposit(A2, JPY, MAX_AMOUNT - 10);
    assert_single(&ev, K::Deposited, Reason::None);
    assert_eq!(x.engine.supply(JPY), Amount(MAX_AMOUNT));
    // One more minor unit anywhere would take the supply past i64::MAX.
    assert_single(
        &x.run_unchanged(Command::deposit(A3, JPY, Amount(1))),
        K::DepositRejected,
        Reason::InvalidAmount,
    );
    assert_single(
        &x.run_unchanged(Command::deposit(A1, JPY, Amount(1))),
        K::DepositRejected,
        Reason::InvalidAmount,
    );
    assert_eq!(x.bal(A1, JPY), (10, 0));
    // Another asset is independent.
    assert_single(&x.deposit(A3, BTC, 1), K::Deposited, Reason::None);
}

/// §2 "a withdrawal above available is rejected INSUFFICIENT_FUNDS and changes nothing";
/// reserved funds are not available.
#[test]
fn withdrawal_above_available_is_insufficient_funds_and_changes_nothing() {
    let mut x = Exchange::new();
    x.deposit(A1, JPY, 1_000_000);
    x.buy(A1, 1000, 2, "b"); // reserve(1000, 2) = 200 000 + ceil(500) = 200 500
    assert_eq!(x.bal(A1, JPY), (799_500, 200_500));
    let ev = x.run_unchanged(Command::withdraw(A1, JPY, Amount(799_501)));
    assert_single(&ev, K::WithdrawRejected, Reason::InsufficientFunds);
    let ev = x.withdraw(A1, JPY, 799_500);
    assert_single(&ev, K::Withdrawn, Reason::None);
    assert_eq!(
        ev[0].balance(),
        Balance {
            amount: Amount(799_500),
            available: Amount(0),
            reserved: Amount(200_500)
        }
    );
    assert_eq!(x.engine.supply(JPY), Amount(200_500));
    // Zero, unknown asset, unknown account.
    assert_single(
        &x.run_unchanged(Command::withdraw(A1, JPY, Amount(0))),
        K::WithdrawRejected,
        Reason::InvalidAmount,
    );
    assert_single(
        &x.run_unchanged(Command::withdraw(A1, AssetId(3), Amount(1))),
        K::WithdrawRejected,
        Reason::UnknownAsset,
    );
    assert_single(
        &x.run_unchanged(Command::withdraw(NOBODY, JPY, Amount(1))),
        K::WithdrawRejected,
        Reason::UnknownAccount,
    );
    // An account with nothing: any withdrawal is above available.
    assert_single(
        &x.run_unchanged(Command::withdraw(A2, JPY, Amount(1))),
        K::WithdrawRejected,
        Reason::InsufficientFunds,
    );
}

/// §2 "an open buy order at limit L with leaves l holds exactly reserve(L, l) =
/// notional(L, l) + ceil(notional(L, l) × taker_fee_bps / 10000)"; after a fill the hold is
/// reserve(L, leaves), including the ceil at a rounding edge; when it ends the rest returns.
#[test]
fn buy_hold_is_exactly_reserve_of_limit_and_leaves() {
    let mut x = Exchange::funded();
    x.buy_id(A1, 1001, 1, "b1"); // order 1: 100 100 + ceil(250.25) = 100 351
    assert_eq!(x.bal(A1, JPY), (99_899_649, 100_351));
    x.buy_id(A1, 1000, 4, "b2"); // order 2: 400 000 + 1 000 (exact) = 401 000
    assert_eq!(x.bal(A1, JPY), (99_498_649, 501_351));
    x.buy_id(A1, 1001, 3, "b3"); // order 3: 300 300 + ceil(750.75) = 300 300 + 751 = 301 051
    assert_eq!(x.bal(A1, JPY), (99_197_598, 802_402));

    // A2 sells 1 @ 1001 into the bids: order 1 is first at 1001 (time priority) and fills whole.
    // Maker buy pays 100 100 + floor(100.1) = 100 200; its hold 100 351 is released: refund 151.
    let ev = x.sell(A2, 1001, 1, "s1");
    assert_eq!(ev[2].order_id, OrderId(1));
    assert_eq!(x.bal(A1, JPY), (99_197_749, 702_051));

    // A2 sells 1 @ 1001 again: order 3 goes from 3 to 2 leaves.
    // Hold 301 051 → reserve(1001, 2) = 200 200 + ceil(500.5) = 200 701: released 100 350,
    // cost 100 200, refund 150.
    let ev = x.sell(A2, 1001, 1, "s2");
    assert_eq!(ev[2].order_id, OrderId(3));
    assert_eq!(x.bal(A1, JPY), (99_197_899, 601_701)); // 401 000 + 200 701
    // Fees: 2 × (taker floor(250.25) = 250 + maker 100) = 700.
    assert_eq!(x.bal(FEES, JPY), (700, 0));

    // Ending an order returns what it still holds.
    x.cancel(A1, OrderRef::Id(OrderId(3)), "");
    assert_eq!(x.bal(A1, JPY), (99_398_600, 401_000));
    x.cancel(A1, OrderRef::Id(OrderId(2)), "");
    // Net: paid 2 × 100 200 = 200 400.
    assert_eq!(x.bal(A1, JPY), (99_799_600, 0));
    assert_eq!(x.bal(A1, BTC), (1_002_000_000, 0));
}

/// §2 "an open sell order holds exactly l lots of base".
#[test]
fn sell_hold_is_exactly_leaves_lots_of_base() {
    let mut x = Exchange::funded();
    let id = x.sell_id(A2, 1050, 3, "s");
    assert_eq!(x.bal(A2, BTC), (997_000_000, 3_000_000));
    x.buy(A1, 1050, 1, "b");
    assert_eq!(x.bal(A2, BTC), (997_000_000, 2_000_000));
    assert_eq!(x.bal(A1, BTC), (1_001_000_000, 0));
    x.cancel(A2, OrderRef::Id(id), "");
    assert_eq!(x.bal(A2, BTC), (999_000_000, 0));
}

/// §2 "the order is rejected INSUFFICIENT_FUNDS if available can't cover it", at the exact edge.
#[test]
fn insufficient_funds_at_the_exact_edge() {
    let mut x = Exchange::new();
    x.deposit(A1, JPY, 100_350); // reserve(1001, 1) = 100 351
    assert_rejected(
        &x.run_unchanged(Command::new_order(limit(
            A1,
            BTC_JPY,
            Side::Buy,
            1001,
            1,
            "b",
        ))),
        Reason::InsufficientFunds,
    );
    x.deposit(A1, JPY, 1);
    let ev = x.buy(A1, 1001, 1, "b");
    assert_accepted(&ev[0], 1, A1, 1);
    assert_eq!(x.bal(A1, JPY), (0, 100_351));

    x.deposit(A2, BTC, 999_999); // one lot is 1 000 000
    assert_rejected(
        &x.run_unchanged(Command::new_order(limit(
            A2,
            BTC_JPY,
            Side::Sell,
            1050,
            1,
            "s",
        ))),
        Reason::InsufficientFunds,
    );
    x.deposit(A2, BTC, 1);
    assert_accepted(&x.sell(A2, 1050, 1, "s")[0], 2, A2, 1);
    assert_eq!(x.bal(A2, BTC), (0, 1_000_000));
}

/// §2 price improvement: "A buy order's reservation after the fill is reserve(L, leaves); the
/// difference beyond what the fill cost returns to available."
#[test]
fn price_improvement_returns_the_excess_hold_to_available() {
    let mut x = Exchange::funded();
    x.sell_id(A2, 1000, 2, "s"); // order 1
    // A1 buys 5 @ 1010: hold reserve(1010, 5) = 505 000 + ceil(1262.5) = 506 263.
    let ev = x.buy(A1, 1010, 5, "b"); // order 2
    assert_eq!(kinds(&ev), [K::Accepted, K::Fill, K::Fill]);
    // 2 @ 1000 (the maker's price): notional 200 000, taker fee 500, maker fee 200.
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
    // Hold now reserve(1010, 3) = 303 000 + ceil(757.5) = 303 758.
    // Available = 100 000 000 − 303 758 − 200 500 = 99 495 742 (refund 506 263 − 303 758 − 200 500 = 2 005).
    assert_eq!(x.bal(A1, JPY), (99_495_742, 303_758));
    assert_eq!(x.bal(A1, BTC), (1_002_000_000, 0));
    assert_eq!(x.bal(A2, JPY), (100_199_800, 0));
    assert_eq!(x.bal(FEES, JPY), (700, 0));
    assert_eq!(x.depth(BTC_JPY, Side::Buy), [(1010, 3, 1)]);
}

/// §2 a resting buy that is hit pays the maker fee (it reserved the taker fee) and keeps
/// reserve(L, leaves).
#[test]
fn maker_buy_pays_maker_fee_and_keeps_reserve_of_leaves() {
    let mut x = Exchange::funded();
    x.buy_id(A1, 1000, 4, "b"); // order 1, hold 401 000
    let ev = x.sell(A2, 990, 1, "s"); // order 2 takes 1 @ 1000 (maker's price)
    assert_eq!(kinds(&ev), [K::Accepted, K::Fill, K::Fill]);
    // notional 100 000: taker (seller) fee 250, maker (buyer) fee 100.
    assert_fill(
        &ev[1],
        F {
            order: 2,
            account: A2,
            maker: false,
            px: 1000,
            qty: 1,
            trade: 1,
            fee: 250,
            leaves: 0,
            cum: 1,
        },
    );
    assert_fill(
        &ev[2],
        F {
            order: 1,
            account: A1,
            maker: true,
            px: 1000,
            qty: 1,
            trade: 1,
            fee: 100,
            leaves: 3,
            cum: 1,
        },
    );
    // Hold reserve(1000, 3) = 300 750; available = 100 000 000 − 300 750 − 100 100 = 99 599 150.
    assert_eq!(x.bal(A1, JPY), (99_599_150, 300_750));
    assert_eq!(x.bal(A2, JPY), (100_099_750, 0));
    assert_eq!(x.bal(FEES, JPY), (350, 0));
    assert_eq!(x.engine.reference_price(BTC_JPY), Some(Price(1000)));
}

/// §2 Conservation: Σ over all accounts (fee account included) of available + reserved =
/// deposits − withdrawals, per asset (the harness also checks it after every command).
#[test]
fn conservation_after_a_sequence_of_deposits_trades_and_withdrawals() {
    let mut x = Exchange::new();
    x.deposit(A1, JPY, 5_000_000);
    x.deposit(A2, BTC, 10_000_000); // 10 lots
    x.deposit(A3, JPY, 1_000_000);
    x.sell(A2, 1000, 5, "s");
    x.buy(A1, 1000, 3, "b1"); // 3 @ 1000: notional 300 000, taker 750, maker 300
    x.buy(A3, 1001, 2, "b3"); // 2 @ 1000: notional 200 000, taker 500, maker 200
    assert_single(
        &x.run_unchanged(Command::withdraw(A2, JPY, Amount(499_501))),
        K::WithdrawRejected,
        Reason::InsufficientFunds,
    );
    x.withdraw(A2, JPY, 100_000);
    x.withdraw(A1, BTC, 1_000_000);
    // JPY: 5 000 000 + 1 000 000 − 100 000 = 5 900 000
    //  A1 5 000 000 − 300 750 = 4 699 250; A3 1 000 000 − 200 500 = 799 500;
    //  A2 299 700 + 199 800 − 100 000 = 399 500; fees 750 + 300 + 500 + 200 = 1 750.
    assert_eq!(x.bal(A1, JPY), (4_699_250, 0));
    assert_eq!(x.bal(A3, JPY), (799_500, 0));
    assert_eq!(x.bal(A2, JPY), (399_500, 0));
    assert_eq!(x.bal(FEES, JPY), (1_750, 0));
    assert_eq!(4_699_250 + 799_500 + 399_500 + 1_750, 5_900_000);
    assert_eq!(x.engine.supply(JPY), Amount(5_900_000));
    // BTC: 10 000 000 − 1 000 000 = 9 000 000 = A1 2 000 000 + A3 2 000 000 + A2 5 000 000.
    assert_eq!(x.bal(A1, BTC), (2_000_000, 0));
    assert_eq!(x.bal(A3, BTC), (2_000_000, 0));
    assert_eq!(x.bal(A2, BTC), (5_000_000, 0));
    assert_eq!(x.engine.supply(BTC), Amount(9_000_000));
    assert_eq!(x.engine.supply(ETH), Amount(0));
    x.assert_conservation();
}

// ================================================================================================
// §3 Orders: ids, acceptance, rejection
// ================================================================================================

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

// ---- validation, one rule each, in BEHAVIOUR.md §3's order ------------------------------------------------

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

// ---- price band ----------------------------------------------------------------------------

/// §3 band = [ceil(R(10000−B)/10000), floor(R(10000+B)/10000)]: R = 1001, B = 1000 →
/// [ceil(900.9), floor(1101.1)] = [901, 1101]; one tick outside each edge is PRICE_BAND.
#[test]
fn price_band_edges_round_inward() {
    let mut x = Exchange::funded();
    assert_rejected(
        &x.run_unchanged(Command::new_order(limit(
            A1,
            BTC_JPY,
            Side::Buy,
            900,
            1,
            "o",
        ))),
        Reason::PriceBand,
    );
    assert_rejected(
        &x.run_unchanged(Command::new_order(limit(
            A2,
            BTC_JPY,
            Side::Sell,
            1102,
            1,
            "o",
        ))),
        Reason::PriceBand,
    );
    // The band applies to both sides.
    assert_rejected(
        &x.run_unchanged(Command::new_order(limit(
            A2,
            BTC_JPY,
            Side::Sell,
            900,
            1,
            "o",
        ))),
        Reason::PriceBand,
    );
    assert_rejected(
        &x.run_unchanged(Command::new_order(limit(
            A1,
            BTC_JPY,
            Side::Buy,
            1102,
            1,
            "o",
        ))),
        Reason::PriceBand,
    );
    assert_accepted(&x.buy(A1, 901, 1, "lo")[0], 1, A1, 1);
    assert_accepted(&x.sell(A2, 1101, 1, "hi")[0], 2, A2, 1);
}

/// §3 "The reference price becomes the last fill's price" and the band moves with it.
#[test]
fn reference_price_becomes_the_last_fill_price_and_the_band_follows() {
    let mut x = Exchange::funded();
    assert_eq!(x.engine.reference_price(BTC_JPY), Some(Price(1001)));
    x.sell(A2, 1000, 1, "s1");
    x.sell(A2, 1099, 1, "s2");
    let ev = x.buy(A1, 1099, 2, "b"); // fills 1 @ 1000 then 1 @ 1099
    assert_eq!(ev[1].fill().last_px, Price(1000));
    assert_eq!(ev[3].fill().last_px, Price(1099));
    assert_eq!(x.engine.reference_price(BTC_JPY), Some(Price(1099)));
    // R = 1099: [ceil(1099 × 0.9) = ceil(989.1) = 990, floor(1099 × 1.1) = floor(1208.9) = 1208].
    assert_rejected(
        &x.run_unchanged(Command::new_order(limit(
            A3,
            BTC_JPY,
            Side::Buy,
            989,
            1,
            "o",
        ))),
        Reason::PriceBand,
    );
    assert_rejected(
        &x.run_unchanged(Command::new_order(limit(
            A3,
            BTC_JPY,
            Side::Buy,
            901,
            1,
            "o",
        ))),
        Reason::PriceBand,
    );
    assert_rejected(
        &x.run_unchanged(Command::new_order(limit(
            A3,
            BTC_JPY,
            Side::Sell,
            1209,
            1,
            "o",
        ))),
        Reason::PriceBand,
    );
    x.buy_id(A3, 990, 1, "lo");
    x.sell_id(A3, 1208, 1, "hi"); // 1208 was outside the old band [901, 1101]
}

// ---- market orders ---------------------------------------------------------------------------

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

// ---- time in force --------------------------------------------------------------------------

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

// ---- self-trade prevention ---------------------------------------------------------------------

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

// ================================================================================================
// §3 / §8 Cancel
// ================================================================================================

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

// ================================================================================================
// §3 / §8 Replace
// ================================================================================================

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

// ================================================================================================
// Mass cancel, query
// ================================================================================================

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

// ================================================================================================
// Halt
// ================================================================================================

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

// ================================================================================================
// §4 Determinism, invariants, snapshots
// ================================================================================================

/// A scenario touching every command kind and most engine paths.
fn scenario() -> Vec<Command> {
    let mut v = Vec::new();
    for a in [A1, A2, A3] {
        v.push(Command::deposit(a, JPY, Amount(JPY_FUND)));
        v.push(Command::deposit(a, BTC, Amount(BTC_FUND)));
        v.push(Command::deposit(a, ETH, Amount(ETH_FUND)));
    }
    let o = |n: NewOrder| Command::new_order(n);
    v.extend([
        o(limit(A2, BTC_JPY, Side::Sell, 1000, 3, "s1")),
        o(limit(A3, BTC_JPY, Side::Sell, 1001, 2, "s2")),
        o(limit(A1, BTC_JPY, Side::Sell, 1002, 2, "own")),
        o(limit(A1, BTC_JPY, Side::Buy, 998, 4, "b1")),
        o(limit(A1, BTC_JPY, Side::Buy, 1001, 4, "t1")),
        o(limit(A2, BTC_JPY, Side::Buy, 1003, 3, "t2").with_stp(Stp::CancelOldest)),
        o(limit(A1, BTC_JPY, Side::Buy, 1100, 2, "t3").with_tif(TimeInForce::Ioc)),
        o(market(A3, BTC_JPY, Side::Sell, 2, "m1")),
        o(limit(A3, ETH_JPY, Side::Sell, 100, 10, "e1")),
        o(limit(A1, ETH_JPY, Side::Buy, 100, 4, "e2").with_tif(TimeInForce::Fok)),
        Command::replace(
            A1,
            OrderRef::Client(cid("b1")),
            cid("b1x"),
            Price(999),
            Qty(6),
        ),
        Command::query_order(A1, OrderRef::Client(cid("b1x")), ClientOrderId::EMPTY),
        o(limit(A1, BTC_JPY, Side::Buy, 995, 1, "p").post_only()),
        Command::halt(Some(BTC_JPY)),
        o(limit(A2, BTC_JPY, Side::Sell, 990, 1, "h")),
        Command::resume(Some(BTC_JPY)),
        o(limit(A2, BTC_JPY, Side::Sell, 990, 1, "h")),
        Command::withdraw(A2, JPY, Amount(1_000)),
        Command::withdraw(A2, JPY, Amount(u64::MAX / 2)),
        o(limit(A3, BTC_JPY, Side::Buy, 1000, 2, "x").with_stp(Stp::CancelBoth)),
        o(limit(A3, BTC_JPY, Side::Sell, 1000, 2, "y").with_stp(Stp::CancelBoth)),
        Command::mass_cancel(A3, Some(ETH_JPY), cid("mc")),
        Command::cancel(A1, OrderRef::Client(cid("p")), cid("c1")),
        o(limit(A1, BTC_JPY, Side::Buy, 1000, 1, "z")),
        o(limit(A2, BTC_JPY, Side::Sell, 1000, 1, "z")),
        Command::cancel_on_disconnect(A1),
        Command::halt(None),
        Command::resume(None),
        o(limit(A2, BTC_JPY, Side::Buy, 1000, 1, "end")),
    ]);
    v.into_iter()
        .enumerate()
        .map(|(i, c)| c.at(1_700_000_000_000_000_000 + i as u64 * 1_000))
        .collect()
}

/// Every command yields ≥ 1 event and `check_invariants()` is Ok after each step (the harness
/// asserts both, plus conservation against its own tally).
#[test]
fn invariants_hold_after_every_step_of_a_scenario() {
    let mut x = Exchange::new();
    let mut traded = false;
    for cmd in scenario() {
        let ev = x.run(cmd);
        traded |= ev.iter().any(|e| e.event_kind() == Some(K::Fill));
    }
    assert!(traded, "the scenario must trade to be meaningful");
    assert!(x.engine.next_trade_id().0 > 3);
}

/// §4 "the same commands in the same order give the same events, byte for byte, and the same state".
#[test]
fn two_engines_fed_the_same_commands_emit_identical_bytes_and_digests() {
    let mut a = Engine::new(test_config());
    let mut b = Engine::new(test_config());
    let fresh = a.digest();
    for cmd in scenario() {
        let (mut ea, mut eb) = (Vec::new(), Vec::new());
        a.process(&cmd, &mut ea);
        b.process(&cmd, &mut eb);
        assert_eq!(ea.len(), eb.len());
        for (x, y) in ea.iter().zip(&eb) {
            assert_eq!(x.as_bytes(), y.as_bytes());
        }
        assert_eq!(a.digest(), b.digest());
    }
    assert_ne!(a.digest(), fresh, "the digest must reflect the state");
}

/// §4 digest after save/load equals the original's, and the loaded engine continues identically —
/// at every split point of the scenario.
#[test]
fn save_then_load_gives_the_same_digest_and_continues_identically() {
    let cmds = scenario();
    for split in 0..=cmds.len() {
        let mut original = Engine::new(test_config());
        let mut sink = Vec::new();
        for cmd in &cmds[..split] {
            original.process(cmd, &mut sink);
        }
        let bytes = original.save();
        let mut loaded =
            Engine::load(&bytes).unwrap_or_else(|e| panic!("load at split {split}: {e}"));
        assert_eq!(
            loaded.digest(),
            original.digest(),
            "digest after load at split {split}"
        );
        assert_eq!(loaded.save(), bytes, "save(load(s)) = s at split {split}");
        loaded.check_invariants().unwrap();
        for cmd in &cmds[split..] {
            let (mut ea, mut eb) = (Vec::new(), Vec::new());
            original.process(cmd, &mut ea);
            loaded.process(cmd, &mut eb);
            let ba: Vec<&[u8]> = ea.iter().map(|e| e.as_bytes()).collect();
            let bb: Vec<&[u8]> = eb.iter().map(|e| e.as_bytes()).collect();
            assert_eq!(
                ba, bb,
                "events diverge after load at split {split} on {cmd:?}"
            );
            assert_eq!(
                original.digest(),
                loaded.digest(),
                "digest diverges after load at split {split}"
            );
        }
    }
}

/// Replication epochs (issue 6): a promotion raises the epoch from a later sequence; the history
/// is state (snapshot, digest), and an epoch that does not rise is refused without a change.
#[test]
fn an_epoch_command_raises_the_epoch_and_a_stale_one_is_refused() {
    let mut x = Exchange::funded();
    assert_eq!(x.engine.epoch(), (1, 1));
    let ev = x.run(Command::epoch(2, 40));
    assert_eq!(kinds(&ev), [K::EpochRaised]);
    assert_eq!(x.engine.epoch(), (2, 40));
    for stale in [
        Command::epoch(2, 50),
        Command::epoch(3, 40),
        Command::epoch(1, 60),
    ] {
        let ev = x.run_unchanged(stale);
        assert_eq!(kinds(&ev), [K::EpochRejected]);
    }
    let bytes = x.engine.save();
    let loaded = Engine::load(&bytes).expect("load");
    assert_eq!(loaded.epochs(), [(2, 40)]);
    assert_eq!(loaded.digest(), x.engine.digest());
}
