//! The fixtures every section's tests use: builders, the `Exchange` harness and event matchers.
//!
//! `test_config()` is the configuration every hand-computed expectation in `spec_rules` is
//! based on; keep it stable.
//!
//! Assets:
//! - 0 `BTC`, 8 decimals
//! - 1 `JPY`, 4 decimals
//! - 2 `ETH`, 8 decimals
//!
//! Symbols:
//! - 0 `BTC-JPY`: tick 1 JPY, lot 0.01 BTC
//!   → `unit_notional` = 1 × 0.01 × 10^4 = 100 JPY minor units per tick·lot,
//!   → `lot_base_minor` = 0.01 × 10^8 = 1 000 000 BTC minor units per lot;
//!   min 1 lot, max 1000 lots, maker 10 bps, taker 25 bps, band 1000 bps, reference 1001 ticks
//!   (band [ceil(1001×9000/10000), floor(1001×11000/10000)] = [ceil(900.9), floor(1101.1)] = [901, 1101]).
//!   So notional(p, q) = 100·p·q, taker fee = floor(p·q/4), maker fee = floor(p·q/10),
//!   reserve(p, q) = 100·p·q + ceil(p·q/4).
//! - 1 `ETH-JPY`: tick 1 JPY, lot 0.0001 ETH → `unit_notional` 1, `lot_base_minor` 10 000;
//!   min 2 lots, no max, maker 5 bps, taker 20 bps, no band, no reference price.
//!
//! Accounts 1, 2, 3 exist from the start (plus the fee account 0); `max_open_orders` = 5.

#![allow(dead_code)] // not every constant and accessor is used by a test

use hayate::*;
use rust_decimal::Decimal;

use EventKind as K;

pub const BTC: AssetId = AssetId(0);
pub const JPY: AssetId = AssetId(1);
pub const ETH: AssetId = AssetId(2);
pub const ASSETS: [AssetId; 3] = [BTC, JPY, ETH];

pub const BTC_JPY: SymbolId = SymbolId(0);
pub const ETH_JPY: SymbolId = SymbolId(1);

pub const FEES: AccountId = AccountId(0);
pub const A1: AccountId = AccountId(1);
pub const A2: AccountId = AccountId(2);
pub const A3: AccountId = AccountId(3);
/// Not configured and never credited.
pub const NOBODY: AccountId = AccountId(9);

/// What `Exchange::funded()` deposits per account: 10 000 JPY (4 decimals) …
pub const JPY_FUND: u64 = 100_000_000;
/// … 10 BTC = 1000 lots of BTC-JPY …
pub const BTC_FUND: u64 = 1_000_000_000;
/// … 10 ETH = 100 000 lots of ETH-JPY.
pub const ETH_FUND: u64 = 1_000_000_000;

/// BTC minor units per BTC-JPY lot.
pub const BTC_LOT: u64 = 1_000_000;

pub const MAX_OPEN: u32 = 5;

pub fn asset(name: &str, decimals: u32) -> AssetSpec {
    AssetSpec {
        name: name.into(),
        decimals,
    }
}

/// BTC-JPY of the module docs.
pub fn btc_jpy() -> SymbolSpec {
    SymbolSpec {
        name: "BTC-JPY".into(),
        base: BTC,
        quote: JPY,
        tick_size: Decimal::ONE,
        lot_size: Decimal::new(1, 2),
        unit_notional: 100,
        lot_base_minor: 1_000_000,
        min_qty: Qty(1),
        max_qty: Qty(1000),
        maker_fee_bps: 10,
        taker_fee_bps: 25,
        band_bps: 1000,
        reference_price: Some(Price(1001)),
        max_notional: SymbolSpec::NO_NOTIONAL_LIMIT,
        breaker: None,
    }
}

/// ETH-JPY of the module docs.
pub fn eth_jpy() -> SymbolSpec {
    SymbolSpec {
        name: "ETH-JPY".into(),
        base: ETH,
        quote: JPY,
        tick_size: Decimal::ONE,
        lot_size: Decimal::new(1, 4),
        unit_notional: 1,
        lot_base_minor: 10_000,
        min_qty: Qty(2),
        max_qty: Qty(u64::MAX),
        maker_fee_bps: 5,
        taker_fee_bps: 20,
        band_bps: 0,
        reference_price: None,
        max_notional: SymbolSpec::NO_NOTIONAL_LIMIT,
        breaker: None,
    }
}

/// The configuration of the module docs.
pub fn test_config() -> EngineConfig {
    EngineConfig {
        assets: vec![asset("BTC", 8), asset("JPY", 4), asset("ETH", 8)],
        symbols: vec![btc_jpy(), eth_jpy()],
        accounts: vec![A1, A2, A3],
        max_open_orders: MAX_OPEN,
        order_capacity: 1024,
        level_capacity: 64,
    }
}

/// A ClOrdID from text.
pub fn cid(text: &str) -> ClientOrderId {
    ClientOrderId::new(text).expect("a valid ClOrdID")
}

/// A GTC limit order.
pub fn limit(
    account: AccountId,
    symbol: SymbolId,
    side: Side,
    price: u64,
    qty: u64,
    id: &str,
) -> NewOrder {
    NewOrder::limit(account, symbol, side, Price(price), Qty(qty), cid(id))
}

/// A market order (IOC unless `.with_tif(Fok)`).
pub fn market(account: AccountId, symbol: SymbolId, side: Side, qty: u64, id: &str) -> NewOrder {
    NewOrder::market(account, symbol, side, Qty(qty), cid(id))
}

/// The kinds of `events`, in order.
pub fn kinds(events: &[Event]) -> Vec<EventKind> {
    events
        .iter()
        .map(|e| e.event_kind().expect("a known event kind"))
        .collect()
}

/// A test exchange: owns an engine, checks every invariant after each command and keeps its own
/// tally of deposits − withdrawals per asset to check conservation independently of the engine.
pub struct Exchange {
    pub engine: Engine,
    /// Deposits − withdrawals per asset, from the Deposited/Withdrawn events this harness saw.
    pub net: Vec<u128>,
    /// Every command processed, in order (to replay into a second engine).
    pub sent: Vec<Command>,
    /// Every event emitted, in order.
    pub log: Vec<Event>,
}

impl Exchange {
    /// An engine on `test_config()` with no money in it.
    pub fn new() -> Exchange {
        Exchange::with_config(test_config())
    }

    pub fn with_config(config: EngineConfig) -> Exchange {
        let n = config.assets.len();
        Exchange {
            engine: Engine::new(config),
            net: vec![0; n],
            sent: Vec::new(),
            log: Vec::new(),
        }
    }

    /// An engine on `test_config()` with accounts 1–3 each funded with `JPY_FUND`, `BTC_FUND`,
    /// `ETH_FUND`.
    pub fn funded() -> Exchange {
        let mut x = Exchange::new();
        x.fund_all();
        x
    }

    /// Funds accounts 1–3 with the standard amounts.
    pub fn fund_all(&mut self) {
        for a in [A1, A2, A3] {
            self.fund(a);
        }
    }

    pub fn fund(&mut self, account: AccountId) {
        self.deposit(account, JPY, JPY_FUND);
        self.deposit(account, BTC, BTC_FUND);
        self.deposit(account, ETH, ETH_FUND);
    }

    /// Processes one command; asserts it produced at least one event, that the engine's invariants
    /// hold, and that every asset's balances sum to deposits − withdrawals.
    pub fn run(&mut self, cmd: Command) -> Vec<Event> {
        let mut events = Vec::new();
        self.engine.process(&cmd, &mut events);
        assert!(
            !events.is_empty(),
            "every command yields at least one event: {cmd:?}"
        );
        for e in &events {
            match e.event_kind() {
                Some(EventKind::Deposited) => {
                    self.net[e.asset.0 as usize] += e.balance().amount.0 as u128
                }
                Some(EventKind::Withdrawn) => {
                    self.net[e.asset.0 as usize] -= e.balance().amount.0 as u128
                }
                _ => {}
            }
        }
        if let Err(broken) = self.engine.check_invariants() {
            panic!("invariant broken after {cmd:?}: {broken}\nevents: {events:#?}");
        }
        self.assert_conservation();
        self.sent.push(cmd);
        self.log.extend_from_slice(&events);
        events
    }

    /// BEHAVIOUR.md §2 conservation: Σ over all accounts (fee account included) of available + reserved =
    /// deposits − withdrawals, for every asset.
    pub fn assert_conservation(&self) {
        for (i, &net) in self.net.iter().enumerate() {
            let asset = AssetId(i as u16);
            let sum: u128 = self
                .engine
                .accounts()
                .iter()
                .map(|&a| {
                    let b = self
                        .engine
                        .balance(a, asset)
                        .expect("listed account has a balance");
                    b.available.0 as u128 + b.reserved.0 as u128
                })
                .sum();
            assert_eq!(
                sum, net,
                "asset {i}: balances sum to {sum}, deposits − withdrawals = {net}"
            );
            assert_eq!(
                self.engine.supply(asset).0 as u128,
                net,
                "asset {i}: engine.supply disagrees"
            );
        }
    }

    /// Runs a command that must change nothing (a refusal): the digest is the same before and after.
    pub fn run_unchanged(&mut self, cmd: Command) -> Vec<Event> {
        let before = self.engine.digest();
        let events = self.run(cmd);
        assert_eq!(
            self.engine.digest(),
            before,
            "a refused command changed the state: {events:#?}"
        );
        events
    }

    pub fn deposit(&mut self, account: AccountId, asset: AssetId, amount: u64) -> Vec<Event> {
        self.run(Command::deposit(account, asset, Amount(amount)))
    }

    pub fn withdraw(&mut self, account: AccountId, asset: AssetId, amount: u64) -> Vec<Event> {
        self.run(Command::withdraw(account, asset, Amount(amount)))
    }

    pub fn place(&mut self, order: NewOrder) -> Vec<Event> {
        self.run(Command::new_order(order))
    }

    /// GTC limit buy on BTC-JPY.
    pub fn buy(&mut self, account: AccountId, price: u64, qty: u64, id: &str) -> Vec<Event> {
        self.place(limit(account, BTC_JPY, Side::Buy, price, qty, id))
    }

    /// GTC limit sell on BTC-JPY.
    pub fn sell(&mut self, account: AccountId, price: u64, qty: u64, id: &str) -> Vec<Event> {
        self.place(limit(account, BTC_JPY, Side::Sell, price, qty, id))
    }

    /// Places an order that must be accepted; returns its id.
    pub fn rest(&mut self, order: NewOrder) -> OrderId {
        let events = self.place(order);
        assert_eq!(
            events[0].event_kind(),
            Some(EventKind::Accepted),
            "expected acceptance: {events:#?}"
        );
        events[0].order_id
    }

    /// A GTC BTC-JPY buy that must be accepted (it may trade); returns its id.
    pub fn buy_id(&mut self, account: AccountId, price: u64, qty: u64, id: &str) -> OrderId {
        self.rest(limit(account, BTC_JPY, Side::Buy, price, qty, id))
    }

    /// A GTC BTC-JPY sell that must be accepted (it may trade); returns its id.
    pub fn sell_id(&mut self, account: AccountId, price: u64, qty: u64, id: &str) -> OrderId {
        self.rest(limit(account, BTC_JPY, Side::Sell, price, qty, id))
    }

    pub fn cancel(&mut self, account: AccountId, target: OrderRef, request: &str) -> Vec<Event> {
        let request = if request.is_empty() {
            ClientOrderId::EMPTY
        } else {
            cid(request)
        };
        self.run(Command::cancel(account, target, request))
    }

    pub fn replace(
        &mut self,
        account: AccountId,
        target: OrderRef,
        new_id: &str,
        price: u64,
        total: u64,
    ) -> Vec<Event> {
        let new_id = if new_id.is_empty() {
            ClientOrderId::EMPTY
        } else {
            cid(new_id)
        };
        self.run(Command::replace(
            account,
            target,
            new_id,
            Price(price),
            Qty(total),
        ))
    }

    /// A replace of `order` that must be refused `ReplaceRejected` with `reason` and change nothing.
    pub fn replace_refused(
        &mut self,
        account: AccountId,
        order: OrderId,
        new_id: &str,
        (price, total): (u64, u64),
        reason: Reason,
    ) {
        let events = self.run_unchanged(Command::replace(
            account,
            OrderRef::Id(order),
            cid(new_id),
            Price(price),
            Qty(total),
        ));
        assert_single(&events, EventKind::ReplaceRejected, reason);
    }

    /// (available, reserved).
    pub fn bal(&self, account: AccountId, asset: AssetId) -> (u64, u64) {
        let b = self
            .engine
            .balance(account, asset)
            .expect("known account and asset");
        (b.available.0, b.reserved.0)
    }

    pub fn available(&self, account: AccountId, asset: AssetId) -> u64 {
        self.bal(account, asset).0
    }

    pub fn reserved(&self, account: AccountId, asset: AssetId) -> u64 {
        self.bal(account, asset).1
    }

    /// The open order `id` (panics if it is not open).
    pub fn order(&self, id: OrderId) -> OrderView {
        self.engine
            .order(id)
            .unwrap_or_else(|| panic!("order {id} should be open"))
    }

    pub fn depth(&self, symbol: SymbolId, side: Side) -> Vec<(u64, u64, u32)> {
        self.engine
            .depth(symbol, side)
            .into_iter()
            .map(|(p, q, n)| (p.0, q.0, n))
            .collect()
    }
}

impl Default for Exchange {
    fn default() -> Self {
        Exchange::new()
    }
}

/// Asserts `events` is exactly one `Rejected` with `reason`, order id 0 and status Rejected.
#[track_caller]
pub fn assert_rejected(events: &[Event], reason: Reason) {
    assert_eq!(
        events.len(),
        1,
        "a rejected order yields exactly one event: {events:#?}"
    );
    let e = &events[0];
    assert_eq!(e.event_kind(), Some(EventKind::Rejected), "{events:#?}");
    assert_eq!(e.reason(), reason, "expected {reason}, got {}", e.reason());
    assert_eq!(e.order_id, OrderId(0));
    assert_eq!(e.status(), Some(OrderStatus::Rejected));
}

/// Asserts `events` is exactly one event of `kind` with `reason`.
#[track_caller]
pub fn assert_single(events: &[Event], kind: EventKind, reason: Reason) {
    assert_eq!(events.len(), 1, "expected one {kind:?}: {events:#?}");
    assert_eq!(events[0].event_kind(), Some(kind), "{events:#?}");
    assert_eq!(
        events[0].reason(),
        reason,
        "expected {reason}, got {}",
        events[0].reason()
    );
}

// ------------------------------------------------------------------------------------------------
// Event matchers
// ------------------------------------------------------------------------------------------------

#[track_caller]
pub fn assert_accepted(e: &Event, order: u64, account: AccountId, qty: u64) {
    assert_eq!(e.event_kind(), Some(K::Accepted), "{e:#?}");
    assert_eq!(e.order_id, OrderId(order), "order id");
    assert_eq!(e.account, account);
    assert_eq!(e.status(), Some(OrderStatus::New));
    assert_eq!(e.order_qty, Qty(qty));
    assert_eq!(e.leaves_qty, Qty(qty));
    assert_eq!(e.cum_qty, Qty(0));
    assert_eq!(e.reason(), Reason::None);
}

/// One side of a trade.
pub struct F {
    pub order: u64,
    pub account: AccountId,
    pub maker: bool,
    pub px: u64,
    pub qty: u64,
    pub trade: u64,
    pub fee: u64,
    pub leaves: u64,
    pub cum: u64,
}

#[track_caller]
pub fn assert_fill(e: &Event, f: F) {
    assert_eq!(e.event_kind(), Some(K::Fill), "{e:#?}");
    assert_eq!(e.order_id, OrderId(f.order), "fill order id: {e:#?}");
    assert_eq!(e.account, f.account, "fill account");
    assert_eq!(e.is_maker(), f.maker, "maker flag of order {}", f.order);
    let fill = e.fill();
    assert_eq!(fill.last_px, Price(f.px), "last_px");
    assert_eq!(fill.last_qty, Qty(f.qty), "last_qty");
    assert_eq!(fill.trade_id, TradeId(f.trade), "trade id");
    assert_eq!(fill.fee, Amount(f.fee), "fee of order {}", f.order);
    assert_eq!(e.leaves_qty, Qty(f.leaves), "leaves after fill");
    assert_eq!(e.cum_qty, Qty(f.cum), "cum after fill");
    let status = if f.leaves == 0 {
        OrderStatus::Filled
    } else {
        OrderStatus::PartiallyFilled
    };
    assert_eq!(e.status(), Some(status), "status after fill");
}

#[track_caller]
pub fn assert_canceled(e: &Event, order: u64, reason: Reason, cum: u64) {
    assert_eq!(e.event_kind(), Some(K::Canceled), "{e:#?}");
    assert_eq!(e.order_id, OrderId(order), "canceled order id: {e:#?}");
    assert_eq!(e.reason(), reason, "cancel reason of order {order}");
    assert_eq!(e.status(), Some(OrderStatus::Canceled));
    assert_eq!(e.leaves_qty, Qty(0), "a canceled order has nothing open");
    assert_eq!(e.cum_qty, Qty(cum), "cum of canceled order {order}");
}

#[track_caller]
pub fn assert_restated(e: &Event, order: u64, order_qty: u64, leaves: u64) {
    assert_eq!(e.event_kind(), Some(K::Restated), "{e:#?}");
    assert_eq!(e.order_id, OrderId(order));
    assert_eq!(e.reason(), Reason::SelfTrade);
    assert_eq!(e.order_qty, Qty(order_qty), "restated order_qty");
    assert_eq!(e.leaves_qty, Qty(leaves), "restated leaves");
}

pub fn sym_limit(
    account: AccountId,
    symbol: SymbolId,
    side: Side,
    price: u64,
    qty: u64,
    id: &str,
) -> NewOrder {
    limit(account, symbol, side, price, qty, id)
}
