//! A realistic, allocation-free command flow for one symbol traded by two accounts, shared by the
//! load generators (in-process today; a network mode would send the same commands over TCP).
//!
//! The first account only buys and the second only sells, so every cross is a trade between them
//! (with one account on both sides, half the crosses would end in self-trade prevention instead).
//!
//! Every 20 commands hold, in a shuffled order:
//!
//! | share | what | how |
//! |---|---|---|
//! | 25 % | passive GTC limits | 1–40 lots, 1–21 ticks away from the reference price, on the side that rests |
//! | 35 % | aggressive GTC limits | 1–10 lots, 1–25 ticks through the reference price: they trade, a remainder rests at the touch |
//! | 25 % | cancels by order id | the oldest passive order (FIFO), so the book stays bounded; before the queue has filled, a recent aggressive order, usually filled already (`CancelRejected`) |
//! | 10 % | takers | market orders and IOC limits 30 ticks through, 1–10 lots |
//! | 5 % | replaces | one of the newest passive orders: new price on its side, new quantity |
//!
//! Limits are 60 % of the flow, cancels 25 %, market/IOC 10 % and replaces 5 %. The passive side
//! offers about twice the volume the aggressive side takes, so about half the passive orders are
//! still open when their cancel comes (the others filled: `CancelRejected`). Cancels target
//! order ids the engine will give: it numbers accepted orders 1, 2, 3… over all symbols, so as long
//! as no order is refused (the accounts must hold plenty of funds and start with no orders) the
//! n-th new order of the flow is order `n`. The sides of aggressive orders lean against the net
//! aggressive volume so the orders resting at the touch do not pile up on one side over a long run.

use std::collections::VecDeque;

use hayate::{
    AccountId, ClientOrderId, Command, NewOrder, OrderId, OrderRef, Price, Qty, Side, SymbolId,
    TimeInForce,
};

/// One step of the 20-command cycle.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Step {
    Passive,
    Aggressive,
    Cancel,
    Taker,
    Replace,
}

/// The cycle before shuffling: 5 passive, 7 aggressive, 5 cancels, 2 takers, 1 replace.
const CYCLE: [Step; 20] = {
    use Step::*;
    [
        Passive, Passive, Passive, Passive, Passive, Aggressive, Aggressive, Aggressive,
        Aggressive, Aggressive, Aggressive, Aggressive, Cancel, Cancel, Cancel, Cancel, Cancel,
        Taker, Taker, Replace,
    ]
};

/// A passive order the flow will cancel (or replace) later.
#[derive(Clone, Copy, Debug)]
struct Resting {
    id: OrderId,
    account: AccountId,
    side: Side,
}

/// What kind of commands a flow produced, for the report.
#[derive(Clone, Copy, Debug, Default)]
pub struct FlowCounts {
    /// Passive limit orders.
    pub passive: u64,
    /// Aggressive limit orders.
    pub aggressive: u64,
    /// Market orders.
    pub market: u64,
    /// IOC limit orders.
    pub ioc: u64,
    /// Cancels of a passive order (FIFO).
    pub cancels_resting: u64,
    /// Cancels of a recent aggressive order (while the passive queue fills).
    pub cancels_recent: u64,
    /// Replaces.
    pub replaces: u64,
}

/// The generator. [`Flow::next_command`] allocates nothing once the flow is built.
pub struct Flow {
    rng: u64,
    symbol: SymbolId,
    accounts: [AccountId; 2],
    reference: u64,
    /// The engine's id for the next order the flow places.
    next_order_id: u64,
    next_client_id: u64,
    /// Passive orders, oldest first.
    resting: VecDeque<Resting>,
    /// Passive orders kept resting before the oldest is cancelled.
    min_resting: usize,
    /// The last aggressive orders placed (a ring), for cancels before `resting` fills.
    recent: [(OrderId, AccountId); 64],
    recent_len: usize,
    recent_next: usize,
    /// Net lots of aggressive buys minus sells: aggressive sides lean against it.
    net_aggressive: i64,
    cycle: [Step; 20],
    position: usize,
    counts: FlowCounts,
}

impl Flow {
    /// A flow on `symbol` between `accounts` (buyer, seller), around `reference` (ticks), seeded by `seed`, that
    /// keeps `min_resting` passive orders on the book before cancelling the oldest.
    ///
    /// The accounts must have no open orders and the engine must not have given any order id yet
    /// (a fresh journal), and they must hold funds for every order the flow sends.
    pub fn new(
        symbol: SymbolId,
        accounts: [AccountId; 2],
        reference: Price,
        seed: u64,
        min_resting: usize,
    ) -> Flow {
        Flow {
            // SplitMix64 of the seed, never zero (xorshift's fixed point).
            rng: splitmix(seed) | 1,
            symbol,
            accounts,
            reference: reference.0,
            next_order_id: 1,
            next_client_id: 1,
            resting: VecDeque::with_capacity(min_resting * 2 + 64),
            min_resting,
            recent: [(OrderId(0), AccountId(0)); 64],
            recent_len: 0,
            recent_next: 0,
            net_aggressive: 0,
            cycle: CYCLE,
            position: CYCLE.len(),
            counts: FlowCounts::default(),
        }
    }

    /// What the flow produced so far.
    pub fn counts(&self) -> FlowCounts {
        self.counts
    }

    /// The next command (its timestamp is 0: the sender stamps it).
    pub fn next_command(&mut self) -> Command {
        if self.position == self.cycle.len() {
            self.shuffle();
        }
        let step = self.cycle[self.position];
        self.position += 1;
        match step {
            Step::Passive => self.passive(),
            Step::Aggressive => self.aggressive(),
            Step::Cancel => self.cancel(),
            Step::Taker => self.taker(),
            Step::Replace => self.replace(),
        }
    }

    fn passive(&mut self) -> Command {
        self.counts.passive += 1;
        let side = if self.below(2) == 0 {
            Side::Buy
        } else {
            Side::Sell
        };
        let account = self.account(side);
        let price = self.passive_price(side);
        let qty = Qty(1 + self.below(40));
        let id = self.place_id();
        // Bounded: the cancels keep the queue near `min_resting`; past twice that (it cannot
        // happen with the fixed cycle), forget the oldest rather than grow.
        if self.resting.len() == self.resting.capacity() {
            self.resting.pop_front();
        }
        self.resting.push_back(Resting { id, account, side });
        let client = self.client_id(b'P');
        Command::new_order(NewOrder::limit(
            account,
            self.symbol,
            side,
            price,
            qty,
            client,
        ))
    }

    fn aggressive(&mut self) -> Command {
        self.counts.aggressive += 1;
        let qty = 1 + self.below(10);
        let side = self.leaning_side(qty);
        let account = self.account(side);
        let through = 1 + self.below(25);
        let price = match side {
            Side::Buy => self.reference + through,
            Side::Sell => self.reference - through,
        };
        let id = self.place_id();
        self.remember_recent(id, account);
        let client = self.client_id(b'A');
        Command::new_order(NewOrder::limit(
            account,
            self.symbol,
            side,
            Price(price),
            Qty(qty),
            client,
        ))
    }

    fn taker(&mut self) -> Command {
        let qty = 1 + self.below(10);
        let side = self.leaning_side(qty);
        let account = self.account(side);
        let _ = self.place_id();
        let client = self.client_id(b'T');
        let order = if self.below(2) == 0 {
            self.counts.market += 1;
            NewOrder::market(account, self.symbol, side, Qty(qty), client)
        } else {
            self.counts.ioc += 1;
            let price = match side {
                Side::Buy => self.reference + 30,
                Side::Sell => self.reference - 30,
            };
            NewOrder::limit(account, self.symbol, side, Price(price), Qty(qty), client)
                .with_tif(TimeInForce::Ioc)
        };
        Command::new_order(order)
    }

    fn cancel(&mut self) -> Command {
        let request = self.client_id(b'C');
        let target = if self.resting.len() > self.min_resting {
            self.counts.cancels_resting += 1;
            self.resting.pop_front().map(|r| (r.id, r.account))
        } else {
            None
        };
        let (id, account) = match target {
            Some(t) => t,
            None => {
                self.counts.cancels_recent += 1;
                if self.recent_len == 0 {
                    // Nothing placed yet: an order id the engine has not given (CancelRejected).
                    (OrderId(self.next_order_id), self.accounts[0])
                } else {
                    let pick = self.below(self.recent_len as u64) as usize;
                    self.recent[pick]
                }
            }
        };
        Command::cancel(account, OrderRef::Id(id), request)
    }

    fn replace(&mut self) -> Command {
        self.counts.replaces += 1;
        let new_id = self.client_id(b'R');
        let newest = self.resting.len().min(64);
        if newest == 0 {
            // No passive order yet: a replace of an order that does not exist (ReplaceRejected).
            return Command::replace(
                self.accounts[0],
                OrderRef::Id(OrderId(self.next_order_id)),
                new_id,
                Price(self.reference),
                Qty(1),
            );
        }
        let back = 1 + self.below(newest as u64) as usize;
        let index = self.resting.len() - back;
        let Resting { id, account, side } = self.resting[index];
        let price = self.passive_price(side);
        let qty = Qty(1 + self.below(40));
        Command::replace(account, OrderRef::Id(id), new_id, price, qty)
    }

    /// A price 1–21 ticks away from the reference on the resting side.
    fn passive_price(&mut self, side: Side) -> Price {
        let away = 1 + self.below(21);
        Price(match side {
            Side::Buy => self.reference - away,
            Side::Sell => self.reference + away,
        })
    }

    /// Buy or sell at random, three to one against the net aggressive volume once it passes 50
    /// lots; records `qty` on the chosen side.
    fn leaning_side(&mut self, qty: u64) -> Side {
        let roll = self.below(4);
        let buy = if self.net_aggressive > 50 {
            roll == 0
        } else if self.net_aggressive < -50 {
            roll != 0
        } else {
            roll < 2
        };
        if buy {
            self.net_aggressive += qty as i64;
            Side::Buy
        } else {
            self.net_aggressive -= qty as i64;
            Side::Sell
        }
    }

    /// The buyer or the seller.
    fn account(&self, side: Side) -> AccountId {
        match side {
            Side::Buy => self.accounts[0],
            Side::Sell => self.accounts[1],
        }
    }

    /// The id the engine will give the order being placed.
    fn place_id(&mut self) -> OrderId {
        let id = OrderId(self.next_order_id);
        self.next_order_id += 1;
        id
    }

    fn remember_recent(&mut self, id: OrderId, account: AccountId) {
        self.recent[self.recent_next] = (id, account);
        self.recent_next = (self.recent_next + 1) % self.recent.len();
        self.recent_len = (self.recent_len + 1).min(self.recent.len());
    }

    /// A fresh ClOrdID: `prefix` and a decimal counter, written without allocating.
    fn client_id(&mut self, prefix: u8) -> ClientOrderId {
        let n = self.next_client_id;
        self.next_client_id += 1;
        let mut digits = itoa::Buffer::new();
        let digits = digits.format(n).as_bytes();
        let mut id = [0u8; 32];
        id[0] = prefix;
        id[1..=digits.len()].copy_from_slice(digits);
        ClientOrderId(id)
    }

    /// Fisher–Yates over the cycle.
    fn shuffle(&mut self) {
        for i in (1..self.cycle.len()).rev() {
            let j = self.below(i as u64 + 1) as usize;
            self.cycle.swap(i, j);
        }
        self.position = 0;
    }

    /// A number in `0..n` (n > 0; the modulo bias is irrelevant here).
    fn below(&mut self, n: u64) -> u64 {
        // xorshift64*
        let mut x = self.rng;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.rng = x;
        (x.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 32) % n
    }
}

fn splitmix(seed: u64) -> u64 {
    let mut z = seed.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}
