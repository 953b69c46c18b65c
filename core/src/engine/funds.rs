//! Deposits and withdrawals (BEHAVIOUR.md §2): the only commands that change an asset's supply.

use super::State;
use super::config::EngineConfig;
use crate::command::Command;
use crate::event::{Balance, Event, EventKind, EventSink, Reason};
use crate::units::Amount;

impl State {
    fn funds_event(&self, kind: EventKind, cmd: &Command, reason: Reason) -> Event {
        let mut e = Event::new(kind);
        e.reason = reason as u8;
        e.account = cmd.account;
        e.asset = cmd.asset;
        let (available, reserved) = match self.accounts.find(cmd.account) {
            Some(index) if (cmd.asset.0 as usize) < self.accounts.asset_count() => {
                let cell = self.accounts.cell(index, cmd.asset);
                (cell.available, cell.reserved)
            }
            _ => (0, 0),
        };
        e.set_balance(Balance {
            amount: Amount(cmd.qty),
            available: Amount(available),
            reserved: Amount(reserved),
        });
        e
    }

    pub(super) fn deposit<S: EventSink>(
        &mut self,
        config: &EngineConfig,
        cmd: &Command,
        out: &mut S,
    ) {
        let amount = Amount(cmd.qty);
        let refused = if config.asset(cmd.asset).is_none() {
            Some(Reason::UnknownAsset)
        } else if amount.0 == 0 || !self.accounts.can_deposit(cmd.asset, amount) {
            Some(Reason::InvalidAmount)
        } else {
            None
        };
        if let Some(reason) = refused {
            out.emit(&self.funds_event(EventKind::DepositRejected, cmd, reason));
            return;
        }
        let index = self.accounts.get_or_create(cmd.account);
        self.accounts.deposit(index, cmd.asset, amount);
        out.emit(&self.funds_event(EventKind::Deposited, cmd, Reason::None));
    }

    pub(super) fn withdraw<S: EventSink>(
        &mut self,
        config: &EngineConfig,
        cmd: &Command,
        out: &mut S,
    ) {
        let amount = Amount(cmd.qty);
        let outcome = match self.accounts.find(cmd.account) {
            None => Err(Reason::UnknownAccount),
            Some(_) if config.asset(cmd.asset).is_none() => Err(Reason::UnknownAsset),
            Some(_) if amount.0 == 0 => Err(Reason::InvalidAmount),
            Some(index) if self.accounts.withdraw(index, cmd.asset, amount) => Ok(()),
            Some(_) => Err(Reason::InsufficientFunds),
        };
        match outcome {
            Ok(()) => out.emit(&self.funds_event(EventKind::Withdrawn, cmd, Reason::None)),
            Err(reason) => out.emit(&self.funds_event(EventKind::WithdrawRejected, cmd, reason)),
        }
    }
}
