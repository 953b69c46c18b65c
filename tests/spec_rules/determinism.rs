//! BEHAVIOUR.md §4 determinism, invariants, snapshots: invariants after every step, the same commands
//! give the same bytes and digest, a loaded snapshot continues identically, epochs.

use crate::support::*;
use hayate::*;

use EventKind as K;
use SelfTradePrevention as Stp;

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
        o(limit(A3, BTC_JPY, Side::Sell, 1050, 1, "blk")),
        Command::block(A3),
        o(limit(A3, BTC_JPY, Side::Sell, 1050, 1, "blk2")),
        Command::unblock(A3),
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
