//! Every invariant the engine keeps (BEHAVIOUR.md §2–§3), checked from scratch: conservation per
//! asset, balances in range, reservations equal to the holds of open orders, books uncrossed,
//! level totals and indices consistent, blocked accounts without open orders, circuit breakers'
//! state consistent with their configuration and the clock.

use super::State;
use super::accounts::NIL;
use super::config::EngineConfig;
use crate::units::{AssetId, Price, Side};

impl State {
    pub(super) fn check_invariants(&self, config: &EngineConfig) -> Result<(), String> {
        let assets = config.assets.len();
        let accounts = self.accounts.ids().len();
        // What the open orders must hold, per account and asset.
        let mut holds = vec![0u128; accounts * assets];
        let mut open = vec![0u32; accounts];
        let mut seen = 0usize;
        for (symbol, book) in self.books.iter().enumerate() {
            let spec = &config.symbols[symbol];
            for side in [Side::Buy, Side::Sell] {
                let mut previous: Option<Price> = None;
                for level in book.side(side).iter_best_first() {
                    if let Some(p) = previous {
                        let worse = match side {
                            Side::Buy => level.price < p,
                            Side::Sell => level.price > p,
                        };
                        if !worse {
                            return Err(format!(
                                "symbol {symbol} {side:?} levels out of order at {}",
                                level.price
                            ));
                        }
                    }
                    previous = Some(level.price);
                    let (mut total, mut count, mut slot) = (0u64, 0u32, level.head);
                    while slot != NIL {
                        let o = self.arena.get(slot);
                        let own_level = book.side(side).level(o.level);
                        if o.price != level.price
                            || o.side != side
                            || o.symbol.0 as usize != symbol
                            || !own_level.is_some_and(|l| std::ptr::eq(l, level))
                        {
                            return Err(format!("order {} sits in the wrong level", o.id));
                        }
                        if o.leaves.0 == 0 || o.order_qty.0 != o.leaves.0 + o.cum.0 {
                            return Err(format!(
                                "order {} has leaves {} cum {} qty {}",
                                o.id, o.leaves, o.cum, o.order_qty
                            ));
                        }
                        if self.index.by_id(&self.arena, o.id) != Some(slot)
                            || self
                                .index
                                .by_client(&self.arena, o.account, &o.client_order_id)
                                != Some(slot)
                        {
                            return Err(format!("order {} is missing from an index", o.id));
                        }
                        let (asset, hold) = match side {
                            Side::Buy => (spec.quote, spec.buy_hold(o.price, o.leaves)),
                            Side::Sell => (spec.base, spec.base_amount(o.leaves)),
                        };
                        let hold =
                            hold.ok_or_else(|| format!("order {} holds more than i64::MAX", o.id))?;
                        holds[o.account as usize * assets + asset.0 as usize] += hold.0 as u128;
                        open[o.account as usize] += 1;
                        total += o.leaves.0;
                        count += 1;
                        seen += 1;
                        slot = o.next;
                    }
                    if total != level.total || count != level.count || count == 0 {
                        return Err(format!(
                            "symbol {symbol} level {} totals {}/{} but holds {total}/{count}",
                            level.price, level.total, level.count
                        ));
                    }
                }
            }
            // BEHAVIOUR.md §10: a breaker halts only a symbol that has one, and its recent
            // trades are in time order and no later than the clock they were recorded by.
            let breaker = &book.breaker;
            if spec.breaker.is_none()
                && (breaker.halted_until().is_some() || breaker.trades().next().is_some())
            {
                return Err(format!("symbol {symbol} has breaker state but no breaker"));
            }
            if breaker.trades().any(|(t, _)| t > self.clock) {
                return Err(format!("symbol {symbol} recorded a trade after the clock"));
            }
            if let (Some(bid), Some(ask)) = (book.bids.best(), book.asks.best()) {
                if bid.price >= ask.price {
                    return Err(format!(
                        "symbol {symbol} is crossed: bid {} ≥ ask {}",
                        bid.price, ask.price
                    ));
                }
            }
        }
        let (ids, clients) = self.index.len();
        if seen != ids || seen != clients {
            return Err(format!(
                "{seen} orders in books but {} / {} indexed",
                ids, clients
            ));
        }
        for asset in 0..assets {
            let asset_id = AssetId(asset as u16);
            let mut sum = 0u128;
            for account in 0..accounts {
                let cell = self.accounts.cell(account as u32, asset_id);
                if cell.available > crate::units::MAX_AMOUNT
                    || cell.reserved > crate::units::MAX_AMOUNT
                {
                    return Err(format!(
                        "account {} asset {asset} balance out of range",
                        self.accounts.id(account as u32)
                    ));
                }
                if cell.reserved as u128 != holds[account * assets + asset] {
                    return Err(format!(
                        "account {} asset {asset}: reserved {} but open orders hold {}",
                        self.accounts.id(account as u32),
                        cell.reserved,
                        holds[account * assets + asset]
                    ));
                }
                sum += cell.available as u128 + cell.reserved as u128;
            }
            if sum != self.accounts.supply(asset_id) as u128 {
                return Err(format!(
                    "asset {asset}: balances sum to {sum} but deposits − withdrawals = {}",
                    self.accounts.supply(asset_id)
                ));
            }
        }
        for (account, &n) in open.iter().enumerate() {
            if self.accounts.orders(account as u32).open != n {
                return Err(format!(
                    "account {} counts {} open orders but has {n}",
                    self.accounts.id(account as u32),
                    self.accounts.orders(account as u32).open
                ));
            }
            // BEHAVIOUR.md §10: a block cancels everything and lets nothing new in.
            if n > 0 && self.accounts.is_blocked(account as u32) {
                return Err(format!(
                    "account {} is blocked but has {n} open orders",
                    self.accounts.id(account as u32)
                ));
            }
        }
        let deadline = self
            .books
            .iter()
            .filter_map(|b| b.breaker.halted_until())
            .min()
            .unwrap_or(u64::MAX);
        if deadline != self.breaker_deadline {
            return Err(format!(
                "the next breaker resume is at {deadline} but the engine waits for {}",
                self.breaker_deadline
            ));
        }
        Ok(())
    }
}
