//! The event that refuses a new order or a replace before anything is looked up: the engine's
//! own rejects, and the gateway's (the disk guard, BEHAVIOUR.md §10), which never reach the engine
//! but must look to a client exactly like one.

use crate::command::{Command, CommandKind};
use crate::event::{EVENT_FLAG_POST_ONLY, Event, EventKind, OrderStatus, Reason};
use crate::units::Qty;

/// The refusal of `cmd` for `reason`: `Rejected` for a new order (echoing the order as asked),
/// `ReplaceRejected` for a replace (echoing what the request named); `None` for every other
/// command, which is never refused this way.
pub fn refusal(cmd: &Command, reason: Reason) -> Option<Event> {
    match cmd.command_kind()? {
        CommandKind::NewOrder => Some(new_order_rejected(cmd, reason)),
        CommandKind::Replace => Some(request_rejected(EventKind::ReplaceRejected, cmd, reason)),
        _ => None,
    }
}

pub(super) fn new_order_rejected(cmd: &Command, reason: Reason) -> Event {
    let mut e = Event::new(EventKind::Rejected);
    e.reason = reason as u8;
    e.status = OrderStatus::Rejected as u8;
    e.side = cmd.side;
    e.order_type = cmd.order_type;
    e.time_in_force = cmd.time_in_force;
    e.flags = if cmd.is_post_only() {
        EVENT_FLAG_POST_ONLY
    } else {
        0
    };
    e.account = cmd.account;
    e.symbol = cmd.symbol;
    e.price = cmd.price;
    e.order_qty = Qty(cmd.qty);
    e.leaves_qty = Qty(0);
    e.client_order_id = cmd.client_order_id;
    e
}

/// A refusal of a cancel, replace or query, echoing what the request named.
pub(super) fn request_rejected(kind: EventKind, cmd: &Command, reason: Reason) -> Event {
    let mut e = Event::new(kind);
    e.reason = reason as u8;
    e.status = OrderStatus::Rejected as u8;
    e.account = cmd.account;
    e.symbol = cmd.symbol;
    e.order_id = cmd.order_id;
    e.price = cmd.price;
    e.order_qty = Qty(cmd.qty);
    e.client_order_id = cmd.client_order_id;
    e.set_orig_client_order_id(cmd.orig_client_order_id);
    e
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Engine;
    use crate::command::{NewOrder, OrderRef};
    use crate::units::{AccountId, ClientOrderId, OrderId, Price, Side, SymbolId};

    /// A gateway's refusal must be indistinguishable from the engine's own for the same
    /// command: the engine refuses these for an unknown account, before looking at anything else.
    #[test]
    fn a_refusal_is_the_engines_own_reject_with_the_reason() {
        let mut engine = Engine::new(crate::CoreConfig::demo().engine);
        let stranger = AccountId(999);
        let id = ClientOrderId::new("x1").unwrap();
        let order = Command::new_order(NewOrder::limit(
            stranger,
            SymbolId(0),
            Side::Buy,
            Price(5_000_000),
            Qty(3),
            id,
        ));
        let replace = Command::replace(
            stranger,
            OrderRef::Id(OrderId(7)),
            id,
            Price(5_000_000),
            Qty(2),
        );
        for command in [order, replace] {
            let mut events = Vec::new();
            engine.process(&command, &mut events);
            let mut own = refusal(&command, Reason::UnknownAccount).unwrap();
            // The replace's reason differs (UNKNOWN_ORDER: the engine looks the order up).
            own.reason = events[0].reason;
            assert_eq!(events, [own]);
        }
        assert!(refusal(&Command::mass_cancel(stranger, None, id), Reason::DiskFull).is_none());
    }
}
