//! BEHAVIOUR.md §2 Accounts and money: deposits and withdrawals, the exact hold of an open buy or sell
//! order and the funds check at its edge, price improvement and the maker's fee on a hold,
//! conservation.

use crate::support::*;
use hayate::*;

use EventKind as K;

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
