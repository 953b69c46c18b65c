//! The bodies a client sends: logon, order entry, funds and operator targets.

use super::*;

/// Logon (0x01), for traders and admins alike.
#[derive(Clone, Copy, PartialEq, Eq, Pod, Zeroable)]
#[repr(C)]
pub struct Logon {
    /// The username, zero-padded UTF-8.
    pub username: [u8; 32],
    /// The password, zero-padded UTF-8.
    pub password: [u8; 32],
    /// A [`CancelOnDisconnect`] byte.
    pub cancel_on_disconnect: u8,
    pub(super) _pad: [u8; 7],
}

impl Logon {
    /// A logon, `None` if a credential is longer than 32 bytes or holds a NUL.
    pub fn new(
        username: &str,
        password: &str,
        cancel_on_disconnect: CancelOnDisconnect,
    ) -> Option<Logon> {
        Some(Logon {
            username: fill_text(username)?,
            password: fill_text(password)?,
            cancel_on_disconnect: cancel_on_disconnect as u8,
            ..Zeroable::zeroed()
        })
    }

    /// The username, `None` if not zero-padded UTF-8.
    pub fn username(&self) -> Option<&str> {
        padded_text(&self.username)
    }

    /// The password, `None` if not zero-padded UTF-8.
    pub fn password(&self) -> Option<&str> {
        padded_text(&self.password)
    }

    /// The decoded cancel-on-disconnect choice.
    pub fn cancel_on_disconnect(&self) -> Option<CancelOnDisconnect> {
        CancelOnDisconnect::from_u8(self.cancel_on_disconnect)
    }
}

// Hand-written so a logged message never shows the password.
impl std::fmt::Debug for Logon {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Logon")
            .field("username", &String::from_utf8_lossy(&self.username))
            .field("password", &"<redacted>")
            .field("cancel_on_disconnect", &self.cancel_on_disconnect)
            .finish()
    }
}

impl Body for Logon {
    fn check(&self, msg_type: u8) -> Result<(), DecodeError> {
        check_text(msg_type, "username", &self.username)?;
        check_text(msg_type, "password", &self.password)
    }
}

/// NewOrder (0x10).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Pod, Zeroable)]
#[repr(C)]
pub struct NewOrder {
    /// The order's ClOrdID, unique among the account's open orders.
    pub client_order_id: ClientOrderId,
    /// The limit price in ticks (ignored for market orders).
    pub price: Price,
    /// The quantity in lots.
    pub qty: Qty,
    /// The symbol id (from SymbolInfo).
    pub symbol: SymbolId,
    /// 1 buy, 2 sell.
    pub side: u8,
    /// [`ORDER_TYPE_MARKET`] or [`ORDER_TYPE_LIMIT`].
    pub order_type: u8,
    /// 1 GTC, 3 IOC, 4 FOK.
    pub time_in_force: u8,
    /// 0 the default, else a [`SelfTradePrevention`] byte.
    pub stp: u8,
    /// 0 or 1.
    pub post_only: u8,
    pub(super) _pad: u8,
}

impl NewOrder {
    /// An order with the default self-trade prevention and without post-only.
    pub fn new(
        client_order_id: ClientOrderId,
        symbol: SymbolId,
        side: Side,
        order_type: OrderType,
        time_in_force: TimeInForce,
        price: Price,
        qty: Qty,
    ) -> NewOrder {
        NewOrder {
            client_order_id,
            price,
            qty,
            symbol,
            side: side as u8,
            order_type: match order_type {
                OrderType::Market => ORDER_TYPE_MARKET,
                OrderType::Limit => ORDER_TYPE_LIMIT,
            },
            time_in_force: time_in_force as u8,
            ..Zeroable::zeroed()
        }
    }

    /// The decoded side.
    pub fn side(&self) -> Option<Side> {
        Side::from_u8(self.side)
    }

    /// The decoded order type.
    pub fn order_type(&self) -> Option<OrderType> {
        match self.order_type {
            ORDER_TYPE_MARKET => Some(OrderType::Market),
            ORDER_TYPE_LIMIT => Some(OrderType::Limit),
            _ => None,
        }
    }

    /// The decoded time in force.
    pub fn time_in_force(&self) -> Option<TimeInForce> {
        TimeInForce::from_u8(self.time_in_force)
    }

    /// The decoded self-trade prevention mode (0 is the default).
    pub fn stp(&self) -> Option<SelfTradePrevention> {
        SelfTradePrevention::from_command_byte(self.stp)
    }

    /// The decoded post-only flag.
    pub fn post_only(&self) -> Option<bool> {
        match self.post_only {
            0 => Some(false),
            1 => Some(true),
            _ => None,
        }
    }
}

impl Body for NewOrder {
    fn check(&self, msg_type: u8) -> Result<(), DecodeError> {
        check_text(msg_type, "client_order_id", &self.client_order_id.0)
    }
}

/// Cancel (0x11) and QueryOrder (0x14): a request about one order, named by `order_id`, or by
/// `orig_client_order_id` when `order_id` is 0.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Pod, Zeroable)]
#[repr(C)]
pub struct OrderRequest {
    /// The request's own ClOrdID (may be empty).
    pub client_order_id: ClientOrderId,
    /// The target order's current ClOrdID.
    pub orig_client_order_id: ClientOrderId,
    /// The target order's id, 0 to address it by `orig_client_order_id`.
    pub order_id: OrderId,
}

impl OrderRequest {
    /// A cancel or query request.
    pub fn new(
        client_order_id: ClientOrderId,
        orig_client_order_id: ClientOrderId,
        order_id: OrderId,
    ) -> OrderRequest {
        OrderRequest {
            client_order_id,
            orig_client_order_id,
            order_id,
        }
    }
}

impl Body for OrderRequest {
    fn check(&self, msg_type: u8) -> Result<(), DecodeError> {
        check_order_ids(msg_type, &self.client_order_id, &self.orig_client_order_id)
    }
}

/// The request's and the target's ClOrdIDs, as every request about an existing order carries.
fn check_order_ids(
    msg_type: u8,
    client_order_id: &ClientOrderId,
    orig_client_order_id: &ClientOrderId,
) -> Result<(), DecodeError> {
    check_text(msg_type, "client_order_id", &client_order_id.0)?;
    check_text(msg_type, "orig_client_order_id", &orig_client_order_id.0)
}

/// Replace (0x12): a new price and/or a new total quantity.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Pod, Zeroable)]
#[repr(C)]
pub struct Replace {
    /// The order's new ClOrdID.
    pub client_order_id: ClientOrderId,
    /// The target order's current ClOrdID.
    pub orig_client_order_id: ClientOrderId,
    /// The target order's id, 0 to address it by `orig_client_order_id`.
    pub order_id: OrderId,
    /// The new limit price in ticks.
    pub price: Price,
    /// The new total quantity in lots (filled included).
    pub qty: Qty,
}

impl Replace {
    /// A replace request.
    pub fn new(
        client_order_id: ClientOrderId,
        orig_client_order_id: ClientOrderId,
        order_id: OrderId,
        price: Price,
        qty: Qty,
    ) -> Replace {
        Replace {
            client_order_id,
            orig_client_order_id,
            order_id,
            price,
            qty,
        }
    }
}

impl Body for Replace {
    fn check(&self, msg_type: u8) -> Result<(), DecodeError> {
        check_order_ids(msg_type, &self.client_order_id, &self.orig_client_order_id)
    }
}

/// MassCancel (0x13): every open order of the account, in one symbol or in all.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Pod, Zeroable)]
#[repr(C)]
pub struct MassCancel {
    /// The request's ClOrdID.
    pub client_order_id: ClientOrderId,
    /// The symbol (ignored when `all_symbols` is 1).
    pub symbol: SymbolId,
    /// 1 for every symbol, 0 for `symbol` only.
    pub all_symbols: u8,
    pub(super) _pad: [u8; 5],
}

impl MassCancel {
    /// A mass cancel of one symbol, or of all symbols when `symbol` is `None`.
    pub fn new(client_order_id: ClientOrderId, symbol: Option<SymbolId>) -> MassCancel {
        MassCancel {
            client_order_id,
            symbol: symbol.unwrap_or_default(),
            all_symbols: u8::from(symbol.is_none()),
            ..Zeroable::zeroed()
        }
    }
}

impl Body for MassCancel {
    fn check(&self, msg_type: u8) -> Result<(), DecodeError> {
        check_text(msg_type, "client_order_id", &self.client_order_id.0)
    }
}

/// Deposit (0x20) and Withdraw (0x21).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Pod, Zeroable)]
#[repr(C)]
pub struct Funds {
    /// The account credited or debited.
    pub account: AccountId,
    pub(super) _pad: [u8; 4],
    /// The asset's name, zero-padded UTF-8.
    pub asset: [u8; 16],
    /// The amount in asset units as decimal text (`"1.5"`), zero-padded.
    pub amount: [u8; 32],
}

impl Funds {
    /// A funds request, `None` if a text is too long (16 and 32 bytes) or holds a NUL.
    pub fn new(account: AccountId, asset: &str, amount: &str) -> Option<Funds> {
        Some(Funds {
            account,
            asset: fill_text(asset)?,
            amount: fill_text(amount)?,
            ..Zeroable::zeroed()
        })
    }

    /// The asset's name.
    pub fn asset(&self) -> Option<&str> {
        padded_text(&self.asset)
    }

    /// The amount's text.
    pub fn amount_text(&self) -> Option<&str> {
        padded_text(&self.amount)
    }

    /// The amount, `None` unless the text is a decimal number.
    pub fn amount(&self) -> Option<Decimal> {
        Decimal::from_str(self.amount_text()?).ok()
    }
}

impl Body for Funds {
    fn check(&self, msg_type: u8) -> Result<(), DecodeError> {
        check_text(msg_type, "asset", &self.asset)?;
        check_text(msg_type, "amount", &self.amount)
    }
}

/// Halt (0x22) and Resume (0x23).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Pod, Zeroable)]
#[repr(C)]
pub struct HaltTarget {
    /// A symbol's name, or `all`, zero-padded UTF-8.
    pub target: [u8; 16],
}

impl HaltTarget {
    /// The word that names the whole exchange.
    pub const ALL: &'static str = "all";

    /// A target, `None` if longer than 16 bytes or holding a NUL.
    pub fn new(target: &str) -> Option<HaltTarget> {
        Some(HaltTarget {
            target: fill_text(target)?,
        })
    }

    /// The target's text.
    pub fn target(&self) -> Option<&str> {
        padded_text(&self.target)
    }

    /// True when the target is the whole exchange.
    pub fn is_all(&self) -> bool {
        self.target() == Some(Self::ALL)
    }
}

impl Body for HaltTarget {
    fn check(&self, msg_type: u8) -> Result<(), DecodeError> {
        check_text(msg_type, "target", &self.target)
    }
}

/// Block (0x27) and Unblock (0x28): the kill switch for one account (BEHAVIOUR.md §10).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Pod, Zeroable)]
#[repr(C)]
pub struct AccountTarget {
    /// The account blocked or unblocked.
    pub account: AccountId,
    pub(super) _pad: [u8; 4],
}

impl AccountTarget {
    /// A block or unblock of `account`.
    pub fn new(account: AccountId) -> AccountTarget {
        AccountTarget {
            account,
            ..Zeroable::zeroed()
        }
    }
}

impl Body for AccountTarget {}

/// Notice (0x29): an incident notice or maintenance window (issue 15), followed in the message
/// by its text (UTF-8, at most [`hayate_core::command::NOTICE_TEXT_MAX`] bytes; an incident's is
/// its title, a NUL, then its body). Read the text with [`super::notice_text`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Pod, Zeroable)]
#[repr(C)]
pub struct NoticeHead {
    /// [`hayate_core::command::NoticeAction`] as a byte.
    pub action: u8,
    /// [`hayate_core::command::NoticeSeverity`] as a byte.
    pub severity: u8,
    pub(super) _pad: [u8; 2],
    /// The components it concerns, one bit each (`hayate_adapters::notices::COMPONENTS` order).
    pub components: u32,
    /// The incident an update or resolve is about (its id).
    pub target: u64,
    /// Maintenance start, Unix seconds.
    pub from_s: u64,
    /// Maintenance end, Unix seconds.
    pub to_s: u64,
}

impl NoticeHead {
    /// The head of `notice` (its text travels after it).
    pub fn of(notice: &hayate_core::command::Notice) -> NoticeHead {
        NoticeHead {
            action: notice.action as u8,
            severity: notice.severity as u8,
            _pad: [0; 2],
            components: notice.components,
            target: notice.target,
            from_s: notice.window.0,
            to_s: notice.window.1,
        }
    }

    /// The notice this head and `text` make, if the action and severity bytes name one.
    pub fn notice(&self, text: &str) -> Option<hayate_core::command::Notice> {
        use hayate_core::command::{Notice, NoticeAction, NoticeSeverity};
        Some(Notice {
            action: NoticeAction::from_u8(self.action)?,
            severity: NoticeSeverity::from_u8(self.severity)?,
            target: self.target,
            components: self.components,
            window: (self.from_s, self.to_s),
            text: text.as_bytes().to_vec(),
        })
    }
}

impl Body for NoticeHead {}
