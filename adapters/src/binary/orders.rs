//! Binary order-entry messages to engine commands. Structural faults (an enum byte out of range,
//! a malformed ClOrdID, an unknown symbol id) are refused here with the field's name and never
//! reach the journal; business rules (sizes, funds, bands) are the engine's.

use hayate_core::command::{Command, NewOrder as EngineOrder, OrderRef};
use hayate_core::engine::EngineConfig;
use hayate_core::units::{AccountId, AssetId, ClientOrderId, OrderId, SymbolId};

use super::messages::{ClientMessage, Funds, HaltTarget};

/// A new order's ClOrdID: 1 to 32 bytes, zero-padded.
fn new_id(id: ClientOrderId) -> Result<ClientOrderId, &'static str> {
    if id.is_well_formed() {
        Ok(id)
    } else {
        Err("bad value: client_order_id")
    }
}

/// A request's own id: may be empty, else well formed.
fn request_id(id: ClientOrderId) -> Result<ClientOrderId, &'static str> {
    if id == ClientOrderId::EMPTY || id.is_well_formed() {
        Ok(id)
    } else {
        Err("bad value: client_order_id")
    }
}

/// The target order: by id, by current ClOrdID, or both (which must then agree).
fn target(orig: ClientOrderId, order_id: OrderId) -> Result<OrderRef, &'static str> {
    let by_client = orig.is_well_formed();
    if !by_client && orig != ClientOrderId::EMPTY {
        return Err("bad value: orig_client_order_id");
    }
    match (order_id.0, by_client) {
        (0, true) => Ok(OrderRef::Client(orig)),
        (0, false) => Err("bad value: order_id or orig_client_order_id must name the order"),
        (_, true) => Ok(OrderRef::Both(order_id, orig)),
        (_, false) => Ok(OrderRef::Id(order_id)),
    }
}

/// Maps a trader's message to the command it asks for, for `account`; the error names the field
/// (or says the message is not a trader's).
pub fn to_command(
    message: &ClientMessage,
    account: AccountId,
    engine: &EngineConfig,
) -> Result<Command, &'static str> {
    let known = |symbol: SymbolId| engine.symbol(symbol).is_some();
    match message {
        ClientMessage::NewOrder(order) => {
            let client_order_id = new_id(order.client_order_id)?;
            if !known(order.symbol) {
                return Err("bad value: symbol");
            }
            Ok(Command::new_order(EngineOrder {
                account,
                symbol: order.symbol,
                side: order.side().ok_or("bad value: side")?,
                order_type: order.order_type().ok_or("bad value: order_type")?,
                time_in_force: order.time_in_force().ok_or("bad value: time_in_force")?,
                price: order.price,
                qty: order.qty,
                post_only: order.post_only().ok_or("bad value: post_only")?,
                stp: order.stp().ok_or("bad value: stp")?,
                client_order_id,
            }))
        }
        ClientMessage::Cancel(cancel) => Ok(Command::cancel(
            account,
            target(cancel.orig_client_order_id, cancel.order_id)?,
            request_id(cancel.client_order_id)?,
        )),
        ClientMessage::Replace(replace) => Ok(Command::replace(
            account,
            target(replace.orig_client_order_id, replace.order_id)?,
            new_id(replace.client_order_id)?,
            replace.price,
            replace.qty,
        )),
        ClientMessage::MassCancel(mass) => {
            let symbol = match mass.all_symbols {
                1 => None,
                0 if known(mass.symbol) => Some(mass.symbol),
                0 => return Err("bad value: symbol"),
                _ => return Err("bad value: all_symbols"),
            };
            Ok(Command::mass_cancel(
                account,
                symbol,
                request_id(mass.client_order_id)?,
            ))
        }
        ClientMessage::QueryOrder(query) => Ok(Command::query_order(
            account,
            target(query.orig_client_order_id, query.order_id)?,
            request_id(query.client_order_id)?,
        )),
        _ => Err("not permitted: admin messages need an admin login"),
    }
}

fn funds(
    funds: &Funds,
    engine: &EngineConfig,
) -> Result<(AccountId, AssetId, hayate_core::Amount), String> {
    let name = funds.asset().ok_or("the asset is not text")?;
    let asset = engine
        .asset_id(name)
        .ok_or_else(|| format!("unknown asset {name}"))?;
    let spec = engine
        .asset(asset)
        .ok_or_else(|| format!("unknown asset {name}"))?;
    let text = funds.amount_text().unwrap_or_default();
    let value = funds
        .amount()
        .ok_or_else(|| format!("amount {text:?} is not a decimal number"))?;
    let amount = spec.amount_from_decimal(value).ok_or_else(|| {
        format!(
            "amount {text} is not a positive whole number of {name} minor units ({} decimals)",
            spec.decimals
        )
    })?;
    Ok((funds.account, asset, amount))
}

fn halt_target(target: &HaltTarget, engine: &EngineConfig) -> Result<Option<SymbolId>, String> {
    if target.is_all() {
        return Ok(None);
    }
    let name = target.target().ok_or("the symbol is not text")?;
    engine
        .symbol_id(name)
        .map(Some)
        .ok_or_else(|| format!("unknown symbol {name}"))
}

/// Maps an admin's message to its journaled command; `Ok(None)` for requests the gateway answers
/// itself (status, promote). The error is a sentence for the operator.
pub fn admin_command(
    message: &ClientMessage,
    engine: &EngineConfig,
) -> Result<Option<Command>, String> {
    Ok(Some(match message {
        ClientMessage::Deposit(f) => {
            let (account, asset, amount) = funds(f, engine)?;
            Command::deposit(account, asset, amount)
        }
        ClientMessage::Withdraw(f) => {
            let (account, asset, amount) = funds(f, engine)?;
            Command::withdraw(account, asset, amount)
        }
        ClientMessage::Halt(t) => Command::halt(halt_target(t, engine)?),
        ClientMessage::Resume(t) => Command::resume(halt_target(t, engine)?),
        ClientMessage::Snapshot => Command::snapshot(),
        ClientMessage::Block(t) => Command::block(t.account),
        ClientMessage::Unblock(t) => Command::unblock(t.account),
        ClientMessage::Status | ClientMessage::Promote => return Ok(None),
        _ => return Err("admins do not trade: log on as a user to send orders".to_owned()),
    }))
}
