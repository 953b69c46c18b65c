//! Human-readable one-line renderings of commands and events, in the configuration's decimal units
//! (what the embedded example prints and an operator's dump shows).

use std::fmt::Write;

use crate::command::{Command, CommandKind, FLAG_CANCEL_ON_DISCONNECT};
use crate::engine::EngineConfig;
use crate::event::{Event, EventKind};
use crate::units::{Amount, AssetId, ClientOrderId, OrderId, Price, Qty, Side, SymbolId};

/// Names and decimal amounts for one configuration.
struct Units<'a>(&'a EngineConfig);

impl Units<'_> {
    fn symbol(&self, id: SymbolId) -> String {
        self.0
            .symbol(id)
            .map_or_else(|| format!("symbol#{}", id.0), |s| s.name.clone())
    }
    fn price(&self, symbol: SymbolId, p: Price) -> String {
        self.0.symbol(symbol).map_or_else(
            || format!("{p} ticks"),
            |s| s.price_to_decimal(p).normalize().to_string(),
        )
    }
    fn qty(&self, symbol: SymbolId, q: Qty) -> String {
        self.0.symbol(symbol).map_or_else(
            || format!("{q} lots"),
            |s| s.qty_to_decimal(q).normalize().to_string(),
        )
    }
    fn amount(&self, asset: AssetId, a: Amount) -> String {
        match self.0.asset(asset) {
            Some(spec) => format!("{} {}", spec.amount_to_decimal(a).normalize(), spec.name),
            None => format!("{a} minor units"),
        }
    }
    fn quote_amount(&self, symbol: SymbolId, a: Amount) -> String {
        match self.0.symbol(symbol) {
            Some(s) => self.amount(s.quote, a),
            None => format!("{a} minor units"),
        }
    }
}

fn side(byte: u8) -> &'static str {
    match Side::from_u8(byte) {
        Some(Side::Buy) => "buy",
        Some(Side::Sell) => "sell",
        None => "side?",
    }
}

fn target(order_id: OrderId, orig: ClientOrderId) -> String {
    match (order_id.0, orig.is_empty()) {
        (0, true) => "order ?".to_string(),
        (0, false) => format!("clordid {orig}"),
        (id, true) => format!("order {id}"),
        (id, false) => format!("order {id} clordid {orig}"),
    }
}

impl Command {
    /// One line describing the command in decimal units, e.g.
    /// `new order acct 1 BTC-JPY buy 0.5 @ 5000000 GTC clordid a-1`.
    pub fn describe(&self, config: &EngineConfig) -> String {
        let u = Units(config);
        let sym = self.symbol;
        let scope = |all: bool| {
            if all {
                "all symbols".to_string()
            } else {
                u.symbol(sym)
            }
        };
        match self.command_kind() {
            Some(CommandKind::NewOrder) => {
                let mut s = format!(
                    "new order acct {} {} {} {}",
                    self.account,
                    u.symbol(sym),
                    side(self.side),
                    u.qty(sym, Qty(self.qty))
                );
                if self.order_type == crate::units::OrderType::Market as u8 {
                    s.push_str(" market");
                } else {
                    let _ = write!(s, " @ {}", u.price(sym, self.price));
                }
                let tif = match self.time_in_force {
                    1 => "GTC",
                    3 => "IOC",
                    4 => "FOK",
                    _ => "TIF?",
                };
                let _ = write!(s, " {tif}");
                if self.is_post_only() {
                    s.push_str(" post-only");
                }
                let _ = write!(s, " clordid {}", self.client_order_id);
                s
            }
            Some(CommandKind::Cancel) => format!(
                "cancel acct {} {}{}",
                self.account,
                target(self.order_id, self.orig_client_order_id),
                if self.flags & FLAG_CANCEL_ON_DISCONNECT != 0 {
                    " (cancel on disconnect)"
                } else {
                    ""
                }
            ),
            // A replace names its order, not its symbol, so its sizes stay in the symbol's units.
            Some(CommandKind::Replace) => format!(
                "replace acct {} {} → {} lots @ {} ticks clordid {}",
                self.account,
                target(self.order_id, self.orig_client_order_id),
                self.qty,
                self.price,
                self.client_order_id
            ),
            Some(CommandKind::MassCancel) => {
                let why = if self.flags & FLAG_CANCEL_ON_DISCONNECT != 0 {
                    " (cancel on disconnect)"
                } else {
                    ""
                };
                format!(
                    "mass cancel acct {} {}{why}",
                    self.account,
                    scope(self.is_all_symbols())
                )
            }
            Some(CommandKind::QueryOrder) => format!(
                "query acct {} {}",
                self.account,
                target(self.order_id, self.orig_client_order_id)
            ),
            Some(CommandKind::Deposit) => format!(
                "deposit acct {} {}",
                self.account,
                u.amount(self.asset, Amount(self.qty))
            ),
            Some(CommandKind::Withdraw) => format!(
                "withdraw acct {} {}",
                self.account,
                u.amount(self.asset, Amount(self.qty))
            ),
            Some(CommandKind::Halt) => format!("halt {}", scope(self.is_all_symbols())),
            Some(CommandKind::Resume) => format!("resume {}", scope(self.is_all_symbols())),
            Some(CommandKind::Snapshot) => "snapshot request".to_owned(),
            Some(CommandKind::Epoch) => {
                format!("epoch {} from sequence {}", self.qty, self.order_id.0)
            }
            Some(CommandKind::Block) => format!("block acct {}", self.account),
            Some(CommandKind::Unblock) => format!("unblock acct {}", self.account),
            Some(CommandKind::Notice) => match self.notice_part() {
                Some(p) => {
                    let len = usize::from(p.len).min(p.text.len());
                    format!(
                        "notice {} part {}/{} {:?}",
                        match crate::command::NoticeAction::from_u8(p.action) {
                            Some(crate::command::NoticeAction::Open) => "open",
                            Some(crate::command::NoticeAction::Update) => "update",
                            Some(crate::command::NoticeAction::Resolve) => "resolve",
                            Some(crate::command::NoticeAction::Maintenance) => "maintenance",
                            None => "unknown",
                        },
                        u16::from(p.part) + 1,
                        p.parts,
                        String::from_utf8_lossy(&p.text[..len])
                    )
                }
                None => "notice".to_owned(),
            },
            None => format!("unknown command kind {}", self.kind),
        }
    }
}

impl Event {
    /// One line describing the event in decimal units, e.g.
    /// `fill order 2 acct 1 BTC-JPY buy 0.5 @ 5000000 (trade 1, taker, fee 2500 JPY) leaves 0 cum 0.5`.
    pub fn describe(&self, config: &EngineConfig) -> String {
        let u = Units(config);
        let sym = self.symbol;
        let order = || {
            format!(
                "order {} acct {} {} {} {} @ {} clordid {}",
                self.order_id,
                self.account,
                u.symbol(sym),
                side(self.side),
                u.qty(sym, self.order_qty),
                u.price(sym, self.price),
                self.client_order_id
            )
        };
        let progress = || {
            format!(
                "leaves {} cum {}",
                u.qty(sym, self.leaves_qty),
                u.qty(sym, self.cum_qty)
            )
        };
        let reason = self.reason();
        let why = if reason == crate::event::Reason::None {
            String::new()
        } else {
            format!(" {reason}")
        };
        match self.event_kind() {
            Some(EventKind::Accepted) => format!("accepted {}", order()),
            Some(EventKind::Rejected) => format!("rejected{why} {}", order()),
            Some(EventKind::Fill) => {
                let f = self.fill();
                format!(
                    "fill {} — {} @ {} (trade {}, {}, fee {}) {}",
                    order(),
                    u.qty(sym, f.last_qty),
                    u.price(sym, f.last_px),
                    f.trade_id,
                    if self.is_maker() { "maker" } else { "taker" },
                    u.quote_amount(sym, f.fee),
                    progress()
                )
            }
            Some(EventKind::Canceled) => format!("canceled{why} {} {}", order(), progress()),
            Some(EventKind::Replaced) => format!(
                "replaced (was {}) {} {}",
                self.orig_client_order_id(),
                order(),
                progress()
            ),
            Some(EventKind::Restated) => format!("restated{why} {} {}", order(), progress()),
            Some(EventKind::CancelRejected) => format!(
                "cancel rejected{why} acct {} {}",
                self.account,
                target(self.order_id, self.orig_client_order_id())
            ),
            Some(EventKind::ReplaceRejected) => format!(
                "replace rejected{why} acct {} {}",
                self.account,
                target(self.order_id, self.orig_client_order_id())
            ),
            Some(EventKind::OrderStatus) => format!("status {} {}", order(), progress()),
            Some(EventKind::QueryRejected) => format!(
                "query rejected{why} acct {} {}",
                self.account,
                target(self.order_id, self.orig_client_order_id())
            ),
            Some(EventKind::MassCanceled) => format!(
                "mass canceled{why} acct {}: {} orders",
                self.account,
                self.count()
            ),
            Some(EventKind::MassCancelRejected) => {
                format!("mass cancel rejected{why} acct {}", self.account)
            }
            Some(
                kind @ (EventKind::Deposited
                | EventKind::Withdrawn
                | EventKind::DepositRejected
                | EventKind::WithdrawRejected),
            ) => {
                let b = self.balance();
                let verb = match kind {
                    EventKind::Deposited => "deposited",
                    EventKind::Withdrawn => "withdrew",
                    EventKind::DepositRejected => "deposit rejected",
                    _ => "withdrawal rejected",
                };
                format!(
                    "{verb}{why} acct {} {} → available {} reserved {}",
                    self.account,
                    u.amount(self.asset, b.amount),
                    u.amount(self.asset, b.available),
                    u.amount(self.asset, b.reserved)
                )
            }
            Some(kind @ (EventKind::Halted | EventKind::Resumed | EventKind::HaltRejected)) => {
                let what = if self.flags & crate::event::EVENT_FLAG_ALL_SYMBOLS != 0 {
                    "exchange".to_string()
                } else {
                    u.symbol(sym)
                };
                let verb = match kind {
                    EventKind::Halted => "halted",
                    EventKind::Resumed => "resumed",
                    _ => "halt rejected",
                };
                // A circuit breaker's trip says when it ends and the anchor it measured from.
                if kind == EventKind::Halted && reason == crate::event::Reason::CircuitBreaker {
                    let anchor = match self.detail[1] {
                        0 => "none".to_owned(),
                        p => u.price(sym, Price(p)),
                    };
                    return format!(
                        "{verb}{why} {what} until {} ns (anchor {anchor})",
                        self.detail[0]
                    );
                }
                format!("{verb}{why} {what}")
            }
            Some(EventKind::CommandRejected) => format!("command rejected{why}"),
            Some(EventKind::SnapshotMarked) => "snapshot requested".to_owned(),
            Some(EventKind::EpochRaised) => {
                format!("epoch {} from sequence {}", self.detail[0], self.detail[1])
            }
            Some(EventKind::EpochRejected) => format!(
                "epoch {} refused: the current epoch is {}",
                self.detail[0], self.detail[1]
            ),
            Some(EventKind::AccountBlocked) => format!(
                "account blocked acct {}: {} orders canceled",
                self.account,
                self.count()
            ),
            Some(EventKind::AccountUnblocked) => format!("account unblocked acct {}", self.account),
            Some(EventKind::BlockRejected) => format!(
                "{} rejected{why} acct {}",
                if self.detail[0] == 1 {
                    "block"
                } else {
                    "unblock"
                },
                self.account
            ),
            Some(EventKind::NoticeRecorded) => format!(
                "notice part {}/{} recorded",
                self.detail[0] + 1,
                self.detail[1]
            ),
            None => format!("unknown event kind {}", self.kind),
        }
    }
}
