//! The circuit breaker's state per symbol (BEHAVIOUR.md §10): the anchor, the recent trades it is
//! found among, and the halt a trip starts.
//!
//! Time is the engine's clock (the largest command timestamp seen so far, see `State::clock`),
//! never the wall clock, so replay, recovery and a standby trip and resume on the same commands.

use super::config::{BreakerSpec, bounds};
use crate::units::Price;

/// Recent trades remembered per symbol. The window is cut into `RING - 1` equal slices and each
/// entry holds the last trade of one slice, so the trades younger than the window always fit
/// (at most `RING` slices meet a window) however fast the symbol trades. The cost: when the
/// exact anchor is not the last trade of its slice, the anchor used is the last trade of the
/// slice before — older than the exact rule's by less than two slices (2 × W / 63), never
/// younger than the window.
pub(crate) const RING: usize = 64;

/// One symbol's breaker. Preallocated with the book (a fixed array), so recording a trade or
/// finding the anchor never allocates.
#[derive(Clone, Debug)]
pub(crate) struct BreakerState {
    /// The price of the newest trade known to be at least the window old, or before any such
    /// trade the reference price (or, with none configured, the symbol's first trade's price).
    anchor: Option<Price>,
    /// Trades not yet the window old, oldest first: (engine time, price of the last trade then).
    ring: [(u64, Price); RING],
    head: usize,
    len: usize,
    /// While the breaker holds the symbol halted: the engine time from which it resumes.
    until: Option<u64>,
}

impl BreakerState {
    pub fn new(reference_price: Option<Price>) -> BreakerState {
        BreakerState {
            anchor: reference_price,
            ring: [(0, Price(0)); RING],
            head: 0,
            len: 0,
            until: None,
        }
    }

    /// Moves the trades that are now at least `window_ns` old out of the ring; the newest of them
    /// becomes the anchor.
    fn age(&mut self, now: u64, window_ns: u64) {
        let Some(cutoff) = now.checked_sub(window_ns) else {
            return; // nothing can be a window old yet
        };
        while self.len > 0 && self.ring[self.head].0 <= cutoff {
            self.anchor = Some(self.ring[self.head].1);
            self.head = (self.head + 1) % RING;
            self.len -= 1;
        }
    }

    /// The prices a taker may fill at now, `[ceil(A × (10000 − B) / 10000), floor(A × (10000 +
    /// B) / 10000)]`; `None` while there is no anchor.
    pub fn bounds(&mut self, now: u64, spec: &BreakerSpec) -> Option<(Price, Price)> {
        self.age(now, spec.window_ns);
        self.anchor.map(|a| bounds(a, spec.bps))
    }

    /// Remembers a trade at `price` at engine time `now` (never earlier than the last one), for a
    /// breaker whose window is `window_ns`.
    pub fn record(&mut self, now: u64, price: Price, window_ns: u64) {
        // No reference price configured: the first trade sets the level the breaker guards, as
        // an opening auction's price would on an exchange that has one.
        self.anchor.get_or_insert(price);
        // Whatever is a window old now is the anchor's, not the ring's: that leaves room.
        self.age(now, window_ns);
        let slice = window_ns.div_ceil(RING as u64 - 1).max(1);
        if self.len > 0 {
            let newest = (self.head + self.len - 1) % RING;
            if self.ring[newest].0 / slice == now / slice {
                // The same slice: its last trade is this one.
                self.ring[newest] = (now, price);
                return;
            }
        }
        if self.len == RING {
            // Unreachable when every entry is younger than the window (at most RING slices
            // meet it); kept so a restored or hand-made state cannot index out of the ring.
            self.anchor = Some(self.ring[self.head].1);
            self.head = (self.head + 1) % RING;
            self.len -= 1;
        }
        self.ring[(self.head + self.len) % RING] = (now, price);
        self.len += 1;
    }

    /// The anchor as it stands (without ageing the ring).
    pub fn anchor(&self) -> Option<Price> {
        self.anchor
    }

    /// The remembered trades, oldest first.
    pub fn trades(&self) -> impl Iterator<Item = (u64, Price)> + '_ {
        (0..self.len).map(|i| self.ring[(self.head + i) % RING])
    }

    /// The engine time the breaker's halt ends at, while it holds the symbol halted.
    pub fn halted_until(&self) -> Option<u64> {
        self.until
    }

    pub fn trip(&mut self, until: u64) {
        self.until = Some(until);
    }

    pub fn clear_halt(&mut self) {
        self.until = None;
    }

    /// Rebuilds the state from a snapshot's fields; `None` if they could not have been written
    /// (too many trades, or trades not in strictly increasing time, or a zero price).
    pub fn restore(
        anchor: Option<Price>,
        until: Option<u64>,
        trades: &[(u64, Price)],
    ) -> Option<BreakerState> {
        if trades.len() > RING
            || trades.windows(2).any(|w| w[0].0 >= w[1].0)
            || trades.iter().any(|t| t.1.0 == 0)
            || anchor.is_some_and(|a| a.0 == 0)
        {
            return None;
        }
        let mut state = BreakerState::new(anchor);
        state.until = until;
        for (i, &t) in trades.iter().enumerate() {
            state.ring[i] = t;
        }
        state.len = trades.len();
        Some(state)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: u64 = 1_000_000_000;

    fn spec() -> BreakerSpec {
        BreakerSpec {
            bps: 1000,
            window_ns: 10 * S,
            halt_ns: 60 * S,
        }
    }

    #[test]
    fn anchor_is_the_newest_trade_a_window_old() {
        let mut b = BreakerState::new(Some(Price(1000)));
        b.record(S, Price(1010), 10 * S);
        b.record(2 * S, Price(1020), 10 * S);
        // 10.999 s: nothing is 10 s old yet, the reference price stands.
        assert_eq!(
            b.bounds(11 * S - 1, &spec()),
            Some((Price(900), Price(1100)))
        );
        // 11 s: the trade at 1 s is exactly 10 s old.
        assert_eq!(
            b.bounds(11 * S, &spec()).map(|_| b.anchor()),
            Some(Some(Price(1010)))
        );
        assert_eq!(
            b.bounds(12 * S, &spec()).map(|_| b.anchor()),
            Some(Some(Price(1020)))
        );
        assert_eq!(b.trades().count(), 0);
    }

    #[test]
    fn one_entry_per_slice_of_the_window_and_the_anchor_keeps_up_with_fast_trading() {
        let mut b = BreakerState::new(None);
        let window = 63 * S; // slices of 1 s
        b.record(5, Price(7), window);
        assert_eq!(
            b.anchor(),
            Some(Price(7)),
            "the first trade anchors a symbol without one"
        );
        b.record(6, Price(8), window);
        assert_eq!(
            b.trades().collect::<Vec<_>>(),
            vec![(6, Price(8))],
            "trades in one slice share its entry, keeping the last"
        );
        // A trade every 100 ms for 200 s, each at its own price: far more trades than entries.
        for i in 1..=2000u64 {
            let now = i * S / 10;
            let window_old = now.saturating_sub(window);
            b.bounds(now, &spec_with(window));
            b.record(now, Price(1000 + i), window);
            assert!(b.trades().count() <= RING);
            if window_old >= S {
                // The exact anchor is the trade at `window_old` (one every 100 ms); the one used
                // is no older than two slices before it, and never younger.
                let exact = 1000 + window_old / (S / 10);
                let used = b.anchor().map_or(0, |p| p.0);
                assert!(used <= exact, "younger than the window at {now}");
                assert!(used + 20 >= exact, "{used} lags {exact} at {now}");
            }
        }
    }

    fn spec_with(window_ns: u64) -> BreakerSpec {
        BreakerSpec {
            window_ns,
            ..spec()
        }
    }

    #[test]
    fn restore_refuses_what_save_never_writes() {
        assert!(BreakerState::restore(None, None, &[(2, Price(1)), (2, Price(1))]).is_none());
        assert!(BreakerState::restore(None, None, &[(2, Price(0))]).is_none());
        let many: Vec<_> = (1..=RING as u64 + 1).map(|t| (t, Price(1))).collect();
        assert!(BreakerState::restore(None, None, &many).is_none());
        let ok = BreakerState::restore(Some(Price(3)), Some(9), &[(1, Price(2))]).expect("valid");
        assert_eq!(ok.halted_until(), Some(9));
        assert_eq!(ok.trades().collect::<Vec<_>>(), vec![(1, Price(2))]);
    }
}
