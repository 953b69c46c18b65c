//! What the engine can be asked without changing it: balances, orders, depth, epochs and the
//! invariant check; the embedder's and the tests' window on the state.

use super::accounts::NIL;
use super::config::EngineConfig;
use super::{AccountBalance, Engine, OrderView, SnapshotError};
use crate::units::{AccountId, Amount, AssetId, OrderId, Price, Qty, Side, SymbolId, TradeId};

impl Engine {
    /// The current replication epoch and the sequence it began at (`(1, 1)` until a promotion).
    pub fn epoch(&self) -> (u64, u64) {
        self.state.epochs.last().copied().unwrap_or((1, 1))
    }

    /// Every epoch after the first, as (epoch, first sequence), oldest first.
    pub fn epochs(&self) -> &[(u64, u64)] {
        &self.state.epochs
    }

    /// The configuration.
    pub fn config(&self) -> &EngineConfig {
        &self.config
    }

    /// Balance of an account in an asset; `None` for an unknown account or asset.
    pub fn balance(&self, account: AccountId, asset: AssetId) -> Option<AccountBalance> {
        self.config.asset(asset)?;
        let index = self.state.accounts.find(account)?;
        let cell = self.state.accounts.cell(index, asset);
        Some(AccountBalance {
            available: Amount(cell.available),
            reserved: Amount(cell.reserved),
        })
    }

    /// An open order.
    pub fn order(&self, id: OrderId) -> Option<OrderView> {
        let slot = self.state.index.by_id(&self.state.arena, id)?;
        Some(self.state.view(slot))
    }

    /// An account's open orders, oldest first.
    pub fn open_orders(&self, account: AccountId) -> Vec<OrderView> {
        let mut orders = Vec::new();
        if let Some(index) = self.state.accounts.find(account) {
            let mut slot = self.state.accounts.orders(index).head;
            while slot != NIL {
                orders.push(self.state.view(slot));
                slot = self.state.arena.get(slot).account_next;
            }
        }
        orders
    }

    /// Levels of one side, best first: (price, total leaves, order count).
    pub fn depth(&self, symbol: SymbolId, side: Side) -> Vec<(Price, Qty, u32)> {
        self.state
            .books
            .get(symbol.0 as usize)
            .map(|book| {
                book.side(side)
                    .iter_best_first()
                    .map(|l| (l.price, Qty(l.total), l.count))
                    .collect()
            })
            .unwrap_or_default()
    }

    /// The last trade's price, or the configured reference price before the first trade.
    pub fn reference_price(&self, symbol: SymbolId) -> Option<Price> {
        self.state.books.get(symbol.0 as usize)?.reference_price
    }

    /// True if the symbol is halted on its own (by an operator or its circuit breaker), or with
    /// `None`, if the exchange is.
    pub fn is_halted(&self, symbol: Option<SymbolId>) -> bool {
        match symbol {
            None => self.state.exchange_halted,
            Some(s) => self
                .state
                .books
                .get(s.0 as usize)
                .is_some_and(|b| b.is_halted()),
        }
    }

    /// While the symbol's circuit breaker holds it halted: the timestamp (ns) from which the first
    /// command resumes it (BEHAVIOUR.md §10).
    pub fn breaker_halted_until(&self, symbol: SymbolId) -> Option<u64> {
        self.state
            .books
            .get(symbol.0 as usize)?
            .breaker
            .halted_until()
    }

    /// The circuit breaker's anchor as last computed (a command ages it before it is used); `None`
    /// with no reference price and no trade yet.
    pub fn breaker_anchor(&self, symbol: SymbolId) -> Option<Price> {
        self.state.books.get(symbol.0 as usize)?.breaker.anchor()
    }

    /// The engine's clock: the latest command timestamp it has seen (ns), which the circuit
    /// breaker's window and halt are measured by.
    pub fn clock(&self) -> u64 {
        self.state.clock
    }

    /// True when the account is blocked (kill switch, BEHAVIOUR.md §10); false for an unknown one.
    pub fn is_blocked(&self, account: AccountId) -> bool {
        self.state
            .accounts
            .find(account)
            .is_some_and(|index| self.state.accounts.is_blocked(index))
    }

    /// The blocked accounts, in the order the accounts came to exist.
    pub fn blocked_accounts(&self) -> Vec<AccountId> {
        let accounts = &self.state.accounts;
        (0..accounts.ids().len() as u32)
            .filter(|&index| accounts.is_blocked(index))
            .map(|index| accounts.id(index))
            .collect()
    }

    /// All account ids, in the order they came to exist (the fee account first).
    pub fn accounts(&self) -> Vec<AccountId> {
        self.state.accounts.ids().to_vec()
    }

    /// Deposits minus withdrawals of an asset: what all balances of it add up to.
    pub fn supply(&self, asset: AssetId) -> Amount {
        Amount(self.state.accounts.supply(asset))
    }

    /// The id the next accepted order will get.
    pub fn next_order_id(&self) -> OrderId {
        OrderId(self.state.next_order_id)
    }

    /// The id the next trade will get.
    pub fn next_trade_id(&self) -> TradeId {
        TradeId(self.state.next_trade_id)
    }

    /// Checks every invariant of BEHAVIOUR.md §2–§3: conservation per asset, balances within bounds, every
    /// reservation equal to the holds of its open orders, books uncrossed, level totals and
    /// indices consistent. `Err` names the first one broken.
    pub fn check_invariants(&self) -> Result<(), String> {
        self.state.check_invariants(&self.config)
    }

    /// Loads an engine from [`Engine::save`] bytes, checking every field and then every
    /// invariant, so damaged bytes are an error, never a panic or a silently wrong engine.
    pub fn load(bytes: &[u8]) -> Result<Engine, SnapshotError> {
        crate::engine::snapshot::load(bytes)
    }
}
