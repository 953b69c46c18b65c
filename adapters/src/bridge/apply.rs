//! Turning the journal back into what the core produced: the same engine and the same
//! market-data builder the exchange runs, fed the same commands, give the same events, trades,
//! balances and market-data messages (sequences included) — so the bridge needs nothing from the
//! exchange but its journal.
//!
//! The applier's state is saved in its own data directory (engine and market-data snapshots at
//! one sequence), so a restarted bridge resumes from the newest snapshot at or before its sinks'
//! cursors instead of replaying the whole journal.

use std::path::{Path, PathBuf};

use hayate_core::market_data::{MarketData, Update};
use hayate_core::pipeline::Output;
use hayate_core::{AccountId, AssetId, Command, Engine, EngineConfig, Event, EventKind, SymbolId};
use hayate_journal::snapshot_file;

use super::rows::{
    Applied, BalanceRow, MarketChannel, MarketMessage, MarketSnapshot, OrderEventRow, TradeRow,
};
use crate::market_data::json;

/// The engine and market-data builder a bridge runs, at journal sequence [`Applier::seq`].
pub struct Applier {
    engine: Engine,
    market: MarketData,
    seq: u64,
    /// A level-2 snapshot of a symbol is taken after every `snapshot_every`-th update.
    snapshot_every: u64,
    /// The whole market-data state is saved after every command whose sequence is a multiple.
    market_state_every: u64,
    /// The engine's events for the command being applied (reused).
    events: Vec<Event>,
    /// (account, asset) pairs the command may have changed (reused).
    touched: Vec<(AccountId, AssetId)>,
    /// The account fees are credited to.
    fee_account: Option<AccountId>,
}

impl std::fmt::Debug for Applier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Applier")
            .field("seq", &self.seq)
            .finish_non_exhaustive()
    }
}

/// Where an applier on `data_dir` keeps its engine snapshots.
fn engine_dir(data_dir: &Path) -> PathBuf {
    data_dir.join("engine")
}

/// Where an applier on `data_dir` keeps its market-data snapshots.
fn market_dir(data_dir: &Path) -> PathBuf {
    data_dir.join("market")
}

/// Commands between two market-data states in [`Applied::market_state`], unless set.
pub const DEFAULT_MARKET_STATE_EVERY: u64 = 1000;

impl Applier {
    /// Saves the whole market-data state in [`Applied::market_state`] after the journal's first
    /// command and after every command whose sequence is a multiple of `every` (by sequence, so a
    /// restarted bridge saves at the same points; the first command's, so an edge can start on a
    /// young exchange without waiting for `every` commands).
    pub fn with_market_state_every(mut self, every: u64) -> Applier {
        self.market_state_every = every.max(1);
        self
    }

    /// A fresh applier at sequence 0 (the journal's beginning).
    pub fn new(config: &EngineConfig, snapshot_every: u64) -> Applier {
        Applier::at(
            Engine::new(config.clone()),
            MarketData::new(config),
            0,
            snapshot_every,
        )
    }

    fn at(engine: Engine, market: MarketData, seq: u64, snapshot_every: u64) -> Applier {
        let fee_account = engine.accounts().first().copied();
        Applier {
            engine,
            market,
            seq,
            snapshot_every: snapshot_every.max(1),
            market_state_every: DEFAULT_MARKET_STATE_EVERY,
            events: Vec::with_capacity(64),
            touched: Vec::with_capacity(16),
            fee_account,
        }
    }

    /// The newest saved state in `data_dir` at or before sequence `at_most` that loads under
    /// `config` (both its engine and its market-data snapshot); a fresh applier when there is
    /// none. Snapshots that do not load are passed over, each named in the returned notes.
    pub fn restore(
        config: &EngineConfig,
        data_dir: &Path,
        at_most: u64,
        snapshot_every: u64,
    ) -> (Applier, Vec<String>) {
        let mut notes = Vec::new();
        let list = snapshot_file::list_snapshots(engine_dir(data_dir)).unwrap_or_default();
        for (seq, path) in list.into_iter().rev().filter(|(seq, _)| *seq <= at_most) {
            let engine = snapshot_file::read_snapshot(&path)
                .map_err(|e| e.to_string())
                .and_then(|(_, bytes)| Engine::load(&bytes).map_err(|e| e.to_string()))
                .and_then(|engine| {
                    if engine.config() == config {
                        Ok(engine)
                    } else {
                        Err("taken under another engine configuration".to_string())
                    }
                });
            let market_path = market_dir(data_dir).join(
                path.file_name()
                    .map_or_else(Default::default, |n| n.to_owned()),
            );
            let market = snapshot_file::read_snapshot(&market_path)
                .map_err(|e| e.to_string())
                .and_then(|(_, bytes)| MarketData::load(config, &bytes).map_err(|e| e.to_string()));
            match (engine, market) {
                (Ok(engine), Ok(market)) => {
                    return (Applier::at(engine, market, seq, snapshot_every), notes);
                }
                (Err(e), _) => notes.push(format!("{}: {e}", path.display())),
                (_, Err(e)) => notes.push(format!("{}: {e}", market_path.display())),
            }
        }
        (Applier::new(config, snapshot_every), notes)
    }

    /// Saves the state (engine and market data at [`Applier::seq`]) in `data_dir`, atomically,
    /// keeping the newest `keep` of each.
    pub fn save(&self, data_dir: &Path, keep: usize) -> Result<(), String> {
        if self.seq == 0 {
            return Ok(());
        }
        let engine = engine_dir(data_dir);
        let market = market_dir(data_dir);
        // Market data first: a crash between the two leaves an engine snapshot missing, which
        // `restore` passes over, never a market snapshot without its engine.
        snapshot_file::write_snapshot(&market, self.seq, &self.market.save())
            .and_then(|_| snapshot_file::write_snapshot(&engine, self.seq, &self.engine.save()))
            .and_then(|_| snapshot_file::delete_snapshots_before(&engine, keep))
            .and_then(|_| snapshot_file::delete_snapshots_before(&market, keep))
            .map(|_| ())
            .map_err(|e| e.to_string())
    }

    /// The last sequence applied (0: none).
    pub fn seq(&self) -> u64 {
        self.seq
    }

    /// The engine (for queries and digests).
    pub fn engine(&self) -> &Engine {
        &self.engine
    }

    /// The market-data state.
    pub fn market(&self) -> &MarketData {
        &self.market
    }

    /// Applies the command journaled at `seq` (the one after [`Applier::seq`]) and returns what
    /// it produced.
    pub fn apply(&mut self, seq: u64, command: &Command) -> Applied {
        let config = self.engine.config().clone();
        self.events.clear();
        self.engine.process(command, &mut self.events);
        self.seq = seq;
        let timestamp_ns = command.timestamp_ns;
        let mut applied = Applied {
            seq,
            timestamp_ns,
            ..Applied::default()
        };
        let count = self.events.len();
        let snapshot_every = self.snapshot_every;
        for (index, event) in self.events.iter().enumerate() {
            let out = Output {
                seq,
                timestamp_ns,
                index: index as u32,
                last: index + 1 == count,
                event: *event,
            };
            self.market.on_output(&out, |update, market| {
                market_messages(&config, update, market, snapshot_every, &mut applied);
            });
        }
        applied.events.extend_from_slice(&self.events);
        if seq == 1 || seq % self.market_state_every == 0 {
            applied.market_state = Some(self.market.save());
        }
        let touched = &mut self.touched;
        touched.clear();
        let mut taker: Option<&Event> = None;
        for (index, event) in self.events.iter().enumerate() {
            if let Some(row) = OrderEventRow::new(&config, seq, index as u32, timestamp_ns, event) {
                applied.order_events.push(row);
            }
            match event.event_kind() {
                Some(EventKind::Fill) => {
                    if event.is_maker() {
                        if let Some(row) = taker
                            .take()
                            .and_then(|t| TradeRow::new(&config, seq, timestamp_ns, t, event))
                        {
                            applied.trades.push(row);
                        }
                    } else {
                        taker = Some(event);
                    }
                    touch_symbol(touched, &config, event.account, event.symbol);
                    if let Some(fee_account) = self.fee_account {
                        touch_symbol(touched, &config, fee_account, event.symbol);
                    }
                }
                Some(
                    EventKind::Accepted
                    | EventKind::Canceled
                    | EventKind::Replaced
                    | EventKind::Restated,
                ) => touch_symbol(touched, &config, event.account, event.symbol),
                Some(EventKind::Deposited | EventKind::Withdrawn) => {
                    touch(touched, event.account, event.asset);
                }
                _ => {}
            }
        }
        for &(account, asset) in &self.touched {
            if let Some(balance) = self.engine.balance(account, asset)
                && let Some(row) = BalanceRow::new(
                    &config,
                    seq,
                    account.0,
                    asset,
                    balance.available,
                    balance.reserved,
                )
            {
                applied.balances.push(row);
            }
        }
        applied
    }
}

/// Notes that `account`'s balances in `symbol`'s base and quote assets may have changed.
fn touch_symbol(
    touched: &mut Vec<(AccountId, AssetId)>,
    config: &EngineConfig,
    account: AccountId,
    symbol: SymbolId,
) {
    if let Some(spec) = config.symbol(symbol) {
        touch(touched, account, spec.base);
        touch(touched, account, spec.quote);
    }
}

fn touch(touched: &mut Vec<(AccountId, AssetId)>, account: AccountId, asset: AssetId) {
    if !touched.contains(&(account, asset)) {
        touched.push((account, asset));
    }
}

/// The messages the core's WebSocket feed sends for `update`, every channel, in its order; and
/// the symbol's snapshot when its sequence is a multiple of `snapshot_every`.
fn market_messages(
    config: &EngineConfig,
    update: &Update,
    market: &MarketData,
    snapshot_every: u64,
    applied: &mut Applied,
) {
    let symbol = update.symbol;
    let Some(spec) = config.symbol(symbol) else {
        return;
    };
    let mut push = |channel, text: &mut String| {
        applied.market.push(MarketMessage {
            symbol: spec.name.clone(),
            channel,
            sequence: update.sequence,
            text: std::mem::take(text),
        });
    };
    let mut text = String::new();
    json::l2update(&mut text, update, spec);
    push(MarketChannel::Level2, &mut text);
    for trade in &update.trades {
        json::trade(&mut text, trade, spec, update.sequence);
        push(MarketChannel::Matches, &mut text);
    }
    if update.ticker_changed {
        json::ticker(&mut text, market, spec, symbol, update.timestamp_ns);
        push(MarketChannel::Ticker, &mut text);
    }
    if update.status.is_some() {
        json::status(&mut text, market, spec, symbol, update.timestamp_ns);
        push(MarketChannel::Status, &mut text);
    }
    if update.sequence % snapshot_every == 0 {
        json::snapshot(&mut text, market, spec, symbol);
        applied.snapshots.push(MarketSnapshot {
            symbol: spec.name.clone(),
            sequence: update.sequence,
            text,
        });
    }
}
