//! The operator's commands: halts and resumes of a symbol or the whole exchange, account blocks
//! (the kill switch) and replication epochs raised by a promotion; and the halts a circuit
//! breaker starts and its timer ends, which the same status events report.

use super::State;
use super::config::EngineConfig;
use crate::command::{Command, CommandKind};
use crate::event::{EVENT_FLAG_ALL_SYMBOLS, Event, EventKind, EventSink, Reason};
use crate::units::{AccountId, SymbolId};

impl State {
    /// A promotion: the epoch must rise, and its first sequence must follow the current one's.
    pub(super) fn raise_epoch<S: EventSink>(&mut self, cmd: &Command, out: &mut S) {
        let (epoch, start) = self.epochs.last().copied().unwrap_or((1, 1));
        let mut e;
        if cmd.qty > epoch && cmd.order_id.0 > start {
            self.epochs.push((cmd.qty, cmd.order_id.0));
            e = Event::new(EventKind::EpochRaised);
        } else {
            e = Event::new(EventKind::EpochRejected);
            e.reason = Reason::InvalidOrder as u8;
        }
        e.detail[0] = cmd.qty;
        e.detail[1] = if e.event_kind() == Some(EventKind::EpochRaised) {
            cmd.order_id.0
        } else {
            epoch
        };
        out.emit(&e);
    }

    pub(super) fn halt<S: EventSink>(
        &mut self,
        config: &EngineConfig,
        cmd: &Command,
        kind: CommandKind,
        out: &mut S,
    ) {
        let halted = kind == CommandKind::Halt;
        let mut e = Event::new(if halted {
            EventKind::Halted
        } else {
            EventKind::Resumed
        });
        e.symbol = cmd.symbol;
        if cmd.is_all_symbols() {
            self.exchange_halted = halted;
            e.flags = EVENT_FLAG_ALL_SYMBOLS;
        } else if config.symbol(cmd.symbol).is_some() {
            let book = &mut self.books[cmd.symbol.0 as usize];
            book.halted = halted;
            if !halted && book.breaker.halted_until().is_some() {
                // BEHAVIOUR.md §10: an operator's resume ends a circuit breaker's halt early.
                book.breaker.clear_halt();
                self.set_breaker_deadline();
            }
        } else {
            e.kind = EventKind::HaltRejected as u8;
            e.reason = Reason::UnknownSymbol as u8;
        }
        out.emit(&e);
    }

    /// A circuit breaker trips (BEHAVIOUR.md §10): the symbol halts until `clock + H`, reported
    /// `Halted` with reason `CIRCUIT_BREAKER`, the resume time in `detail[0]` and the anchor in
    /// `detail[1]`.
    pub(super) fn trip_breaker<S: EventSink>(
        &mut self,
        config: &EngineConfig,
        symbol: SymbolId,
        out: &mut S,
    ) {
        let Some(breaker) = config.symbols[symbol.0 as usize].breaker else {
            return;
        };
        let until = self.clock.saturating_add(breaker.halt_ns);
        let book = &mut self.books[symbol.0 as usize];
        book.breaker.trip(until);
        self.breaker_deadline = self.breaker_deadline.min(until);
        let mut e = Event::new(EventKind::Halted);
        e.symbol = symbol;
        e.reason = Reason::CircuitBreaker as u8;
        e.detail[0] = until;
        e.detail[1] = book.breaker.anchor().map_or(0, |a| a.0);
        out.emit(&e);
    }

    /// Ends every circuit breaker halt that is due at the engine's clock. A symbol an operator
    /// halted as well stays halted, so it is reported only when it actually resumes: `Resumed`
    /// with reason `CIRCUIT_BREAKER`.
    pub(super) fn end_breaker_halts<S: EventSink>(&mut self, out: &mut S) {
        for (index, book) in self.books.iter_mut().enumerate() {
            if book.breaker.halted_until().is_some_and(|t| t <= self.clock) {
                book.breaker.clear_halt();
                if !book.halted {
                    let mut e = Event::new(EventKind::Resumed);
                    e.symbol = SymbolId(index as u16);
                    e.reason = Reason::CircuitBreaker as u8;
                    out.emit(&e);
                }
            }
        }
        self.set_breaker_deadline();
    }

    /// Recomputes the earliest end of a breaker halt (after one ends, or after a load).
    pub(super) fn set_breaker_deadline(&mut self) {
        self.breaker_deadline = self
            .books
            .iter()
            .filter_map(|b| b.breaker.halted_until())
            .min()
            .unwrap_or(u64::MAX);
    }

    /// Blocks or unblocks an account (BEHAVIOUR.md §10). A block first cancels every open order
    /// of the account, oldest first, with `ACCOUNT_BLOCKED`, then reports `AccountBlocked` with
    /// the count; blocking a blocked account (or unblocking an unblocked one) changes nothing and
    /// is reported the same way, so an operator can repeat it safely.
    pub(super) fn block<S: EventSink>(
        &mut self,
        config: &EngineConfig,
        cmd: &Command,
        kind: CommandKind,
        out: &mut S,
    ) {
        let account = match self.accounts.find(cmd.account) {
            Some(index) if cmd.account != AccountId::FEES => index,
            _ => {
                let mut e = Event::new(EventKind::BlockRejected);
                e.reason = Reason::UnknownAccount as u8;
                e.account = cmd.account;
                // Which of the two was refused: 1 = block, 0 = unblock.
                e.detail[0] = (kind == CommandKind::Block) as u64;
                out.emit(&e);
                return;
            }
        };
        let blocking = kind == CommandKind::Block;
        let mut e = if blocking {
            let count =
                self.cancel_account_orders(config, account, None, Reason::AccountBlocked, out);
            let mut e = Event::new(EventKind::AccountBlocked);
            e.detail[0] = count;
            e
        } else {
            Event::new(EventKind::AccountUnblocked)
        };
        self.accounts.set_blocked(account, blocking);
        e.account = cmd.account;
        out.emit(&e);
    }
}
