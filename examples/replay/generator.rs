//! `generate`'s workload: a deterministic, realistic order flow between the configuration's first
//! two user accounts, chosen command by command against the engine's actual state (limit orders
//! near the reference price, some crossing, IOC, FOK, post-only and market orders, replaces,
//! cancels of open orders and a few of ended ones), after the configuration's deposits (or
//! synthetic ones when it has none). Kept apart from the tool's subcommands: it is what makes a
//! journal to test them on, not a way of reading one.

use std::collections::HashMap;

use hayate::{
    AccountId, Amount, ClientOrderId, Command, Engine, EngineConfig, Event, EventKind,
    ExchangeConfig, MAX_AMOUNT, NewOrder, OrderId, OrderRef, Price, Qty, SelfTradePrevention, Side,
    SymbolId, SymbolSpec, TimeInForce,
};

use crate::Result;
// splitmix64, shared with the benches and tests, so a seed always gives the same journal.
use hayate_testkit::rng::Rng;

/// Percentages for the generated flow.
trait Percent {
    fn percent(&mut self) -> u64;
}

impl Percent for Rng {
    fn percent(&mut self) -> u64 {
        self.below(100)
    }
}

/// A symbol the flow trades, with the price it keeps coming back to.
struct Market {
    id: SymbolId,
    home: Price,
}

/// An open order the flow may cancel or replace.
#[derive(Clone, Copy)]
struct OpenOrder {
    id: OrderId,
    account: AccountId,
    client_order_id: ClientOrderId,
}

/// The generator's order flow: chooses each next command against the engine's actual state, so
/// orders are valid and near the touch, and cancels and replaces mostly target live orders.
pub(crate) struct OrderFlow {
    rng: Rng,
    config: EngineConfig,
    deposits: Vec<Command>,
    traders: Vec<AccountId>,
    markets: Vec<Market>,
    open: Vec<OpenOrder>,
    /// Position of each open order in `open`, for O(1) removal.
    open_index: HashMap<OrderId, usize>,
    next_client_order_id: u64,
    now_ns: u64,
}

/// 2025-01-01T00:00:00Z, where generated journals start.
pub(crate) const GENERATED_EPOCH_NS: u64 = 1_735_689_600_000_000_000;
/// Open orders the flow aims to keep resting, over both accounts.
const TARGET_OPEN_ORDERS: usize = 300;

impl OrderFlow {
    pub(crate) fn new(exchange: &ExchangeConfig, seed: u64) -> Result<OrderFlow> {
        let config = exchange.engine_config().clone();
        let traders: Vec<AccountId> = config
            .accounts
            .iter()
            .copied()
            .filter(|a| *a != AccountId::FEES)
            .take(2)
            .collect();
        if traders.len() < 2 {
            return Err("generate needs two user accounts in the configuration ([[users]])".into());
        }
        let markets: Vec<Market> = config
            .symbols
            .iter()
            .enumerate()
            .filter_map(|(index, spec)| {
                Some(Market {
                    id: SymbolId(index as u16),
                    home: spec.reference_price?,
                })
            })
            .collect();
        if markets.is_empty() {
            return Err(
                "generate needs a symbol with a reference_price in the configuration".into(),
            );
        }
        let mut deposits = exchange.initial_deposits();
        if deposits.is_empty() {
            deposits = synthetic_deposits(&config, &traders, &markets);
        }
        deposits.reverse(); // popped from the back
        Ok(OrderFlow {
            rng: Rng::new(seed),
            config,
            deposits,
            traders,
            markets,
            open: Vec::new(),
            open_index: HashMap::new(),
            next_client_order_id: 1,
            now_ns: GENERATED_EPOCH_NS,
        })
    }

    pub(crate) fn next_command(&mut self, engine: &Engine) -> Command {
        // Up to 2 ms between commands: a busy but human-scale market.
        self.now_ns += 1 + self.rng.below(2_000_000);
        let command = match self.deposits.pop() {
            Some(deposit) => deposit,
            None => self.next_trading_command(engine),
        };
        command.at(self.now_ns)
    }

    fn next_trading_command(&mut self, engine: &Engine) -> Command {
        let roll = self.rng.percent();
        let cancel_odds = 15 + (self.open.len() * 30 / TARGET_OPEN_ORDERS) as u64;
        if !self.open.is_empty() && roll < cancel_odds.min(70) {
            return self.cancel();
        }
        let market = &self.markets[self.rng.below(self.markets.len() as u64) as usize];
        let (symbol, home) = (market.id, market.home);
        let account = self.traders[self.rng.below(self.traders.len() as u64) as usize];
        let side = if self.rng.below(2) == 0 {
            Side::Buy
        } else {
            Side::Sell
        };
        let Some(spec) = self.config.symbol(symbol).cloned() else {
            return self.cancel();
        };
        let qty = Qty((spec.min_qty.0 * (1 + self.rng.below(50))).min(spec.max_qty.0));
        let client_order_id = self.client_order_id();
        let roll = self.rng.percent();
        if roll < 8 {
            if let Some(replace) = self.replace(engine) {
                return replace;
            }
        }
        if roll < 13 && spec.band_bps > 0 {
            return Command::new_order(NewOrder::market(
                account,
                symbol,
                side,
                qty,
                client_order_id,
            ));
        }
        if roll < 14 && !self.open.is_empty() {
            let order = self.open[self.rng.below(self.open.len() as u64) as usize];
            return Command::query_order(
                order.account,
                OrderRef::Id(order.id),
                ClientOrderId::EMPTY,
            );
        }
        let aggressive = (14..30).contains(&roll);
        let price = self.limit_price(engine, &spec, symbol, home, side, aggressive);
        let order = NewOrder::limit(account, symbol, side, price, qty, client_order_id);
        let order = match roll {
            14..=19 => order.with_tif(TimeInForce::Ioc),
            20..=21 => order.with_tif(TimeInForce::Fok),
            30..=33 => order.post_only(),
            34..=35 => order.with_stp(SelfTradePrevention::CancelOldest),
            _ => order,
        };
        Command::new_order(order)
    }

    /// A price near the reference: passive orders a little behind it, aggressive ones through it,
    /// always inside the band, drifting back towards `home` so a long journal stays realistic.
    fn limit_price(
        &mut self,
        engine: &Engine,
        spec: &SymbolSpec,
        symbol: SymbolId,
        home: Price,
        side: Side,
        aggressive: bool,
    ) -> Price {
        let reference = engine.reference_price(symbol).unwrap_or(home).0;
        let center = (reference as i128 + (home.0 as i128 - reference as i128) / 50) as u64;
        let width = (center / 500).max(20);
        let offset = self.rng.below(width);
        let price = match (side, aggressive) {
            (Side::Buy, false) => center.saturating_sub(offset + 1),
            (Side::Sell, false) => center + offset + 1,
            (Side::Buy, true) => center + offset / 4,
            (Side::Sell, true) => center.saturating_sub(offset / 4),
        };
        let (low, high) = spec
            .band(Price(reference))
            .map_or((1, u64::MAX), |(low, high)| (low.0, high.0));
        Price(price.clamp(low.max(1), high))
    }

    fn cancel(&mut self) -> Command {
        let request_id = self.client_order_id();
        if self.open.is_empty() || self.rng.percent() < 3 {
            // A cancel of an order that already ended: rejected UNKNOWN_ORDER, as in real life.
            let account = self.traders[0];
            return Command::cancel(account, OrderRef::Id(OrderId(1)), request_id);
        }
        let order = self.open[self.rng.below(self.open.len() as u64) as usize];
        let target = if self.rng.percent() < 70 {
            OrderRef::Id(order.id)
        } else {
            OrderRef::Client(order.client_order_id)
        };
        Command::cancel(order.account, target, request_id)
    }

    fn replace(&mut self, engine: &Engine) -> Option<Command> {
        let order = *self
            .open
            .get(self.rng.below(self.open.len().max(1) as u64) as usize)?;
        let view = engine.order(order.id)?;
        let spec = self.config.symbol(view.symbol)?;
        let step = self.rng.below(11) as i64 - 5;
        let price = Price(view.price.0.saturating_add_signed(step).max(1));
        let leaves = spec.min_qty.0 * (1 + self.rng.below(50));
        let total = Qty((view.cum_qty.0 + leaves).min(spec.max_qty.0));
        Some(Command::replace(
            order.account,
            OrderRef::Both(order.id, order.client_order_id),
            self.client_order_id(),
            price,
            total,
        ))
    }

    fn client_order_id(&mut self) -> ClientOrderId {
        let id = self.next_client_order_id;
        self.next_client_order_id += 1;
        ClientOrderId::new(&format!("g-{id}")).unwrap_or_default()
    }

    /// Keeps the set of open orders in step with the engine.
    pub(crate) fn observe(&mut self, event: &Event) {
        let id = event.order_id;
        match event.event_kind() {
            Some(EventKind::Accepted) if event.time_in_force == TimeInForce::Gtc as u8 => {
                self.open_index.insert(id, self.open.len());
                self.open.push(OpenOrder {
                    id,
                    account: event.account,
                    client_order_id: event.client_order_id,
                });
            }
            Some(EventKind::Fill) if event.leaves_qty.0 == 0 => self.close(id),
            Some(EventKind::Canceled) => self.close(id),
            Some(EventKind::Replaced) => {
                if let Some(&at) = self.open_index.get(&id) {
                    self.open[at].client_order_id = event.client_order_id;
                }
            }
            _ => {}
        }
    }

    fn close(&mut self, id: OrderId) {
        let Some(at) = self.open_index.remove(&id) else {
            return;
        };
        self.open.swap_remove(at);
        if let Some(moved) = self.open.get(at) {
            self.open_index.insert(moved.id, at);
        }
    }
}

/// Deposits for a configuration that has none: each trader gets room for a few thousand orders
/// in every asset of the traded symbols.
fn synthetic_deposits(
    config: &EngineConfig,
    traders: &[AccountId],
    markets: &[Market],
) -> Vec<Command> {
    let mut deposits = Vec::new();
    for market in markets {
        let Some(spec) = config.symbol(market.id) else {
            continue;
        };
        let lots = Qty(spec.min_qty.0.saturating_mul(50 * 4000));
        let quote = spec
            .buy_hold(Price(market.home.0.saturating_mul(2)), lots)
            .unwrap_or(Amount(MAX_AMOUNT / 4));
        let base = spec.base_amount(lots).unwrap_or(Amount(MAX_AMOUNT / 4));
        for &account in traders {
            deposits.push(Command::deposit(account, spec.quote, quote));
            deposits.push(Command::deposit(account, spec.base, base));
        }
    }
    deposits
}
