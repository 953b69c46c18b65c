//! BEHAVIOUR.md §1 Units and numbers: fees are floored and paid in the quote asset by role, the
//! reservation ceils its fee part, and a notional or reservation that overflows is refused (with
//! §8's overflow rules).

use crate::support::*;
use hayate::*;

use EventKind as K;

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
