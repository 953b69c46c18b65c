//! BEHAVIOUR.md §3 the price band: its edges round inward, and it follows the reference price, the last
//! fill's.

use crate::support::*;
use hayate::*;

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
