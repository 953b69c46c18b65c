//! The operator's commands: halts and resumes of a symbol or the whole exchange, account blocks
//! (the kill switch) and replication epochs raised by a promotion.

use super::State;
use super::config::EngineConfig;
use crate::command::{Command, CommandKind};
use crate::event::{EVENT_FLAG_ALL_SYMBOLS, Event, EventKind, EventSink, Reason};
use crate::units::AccountId;

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
            self.books[cmd.symbol.0 as usize].halted = halted;
        } else {
            e.kind = EventKind::HaltRejected as u8;
            e.reason = Reason::UnknownSymbol as u8;
        }
        out.emit(&e);
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
