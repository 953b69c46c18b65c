//! The market-data side of the loop: the builder fed by every output event, the FIX sessions'
//! market-data subscriptions, the hand-over to the WebSocket feed's thread, and the builder's
//! snapshots (so a restart resumes every symbol's market-data sequence where it was).
//!
//! Order entry never waits for market data: the builder costs the loop a hash lookup and a level
//! update per event, FIX entry blocks are encoded once per update and parameter set, and the
//! WebSocket fan-out (1,000 subscribers and more) runs on the feed's own thread.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::thread::JoinHandle;

use hayate_core::EngineConfig;
use hayate_core::event::EventKind;
use hayate_core::market_data::{self, MarketData};
use hayate_core::pipeline::Output;

use super::Server;
use super::client::Protocol;
use crate::clock::unix_ns;
use crate::fix::market_data::{FixMarketData, FixMdSend, SessionKey};
use crate::fix::session::FixSession;
use crate::market_data::Feed;
use crate::metrics::GatewayMetrics;

/// Where and how often the builder's state is written.
#[derive(Debug, Clone)]
pub struct MarketSnapshots {
    /// `<data>/market`.
    pub dir: PathBuf,
    /// Newest snapshots kept (0 = all), as `[journal] keep_snapshots`.
    pub keep: usize,
    /// Commands between snapshots (0 = only at stop and when an admin asks), as
    /// `[journal] snapshot_every`.
    pub every: u64,
}

/// The builder, the FIX subscriptions and the feed, owned by the gateway's loop (and, after the
/// loop ends, by the shutdown that drains the last events into it).
pub struct MarketDataHub {
    market: MarketData,
    fix: FixMarketData,
    feed: Option<Feed>,
    /// What the last events asked to send to FIX subscribers (reused).
    sends: Vec<FixMdSend>,
    snapshots: MarketSnapshots,
    last_snapshot: u64,
    /// An admin's `snapshot` went through: write ours at the end of this batch too.
    snapshot_asked: bool,
    writer: Option<JoinHandle<()>>,
    metrics: Arc<GatewayMetrics>,
}

impl std::fmt::Debug for MarketDataHub {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MarketDataHub")
            .field("journal_seq", &self.market.journal_seq())
            .finish_non_exhaustive()
    }
}

impl MarketDataHub {
    /// A hub around the recovered builder and the started feed.
    pub fn new(
        market: MarketData,
        feed: Option<Feed>,
        snapshots: MarketSnapshots,
        metrics: Arc<GatewayMetrics>,
    ) -> MarketDataHub {
        MarketDataHub {
            last_snapshot: market.journal_seq(),
            market,
            fix: FixMarketData::new(),
            feed,
            sends: Vec::with_capacity(256),
            snapshots,
            snapshot_asked: false,
            writer: None,
            metrics,
        }
    }

    /// One event from the output ring: to the feed's thread, and into the builder, which queues
    /// what FIX subscribers get once the command is complete.
    pub fn on_output(&mut self, out: &Output, engine: &EngineConfig) {
        if let Some(feed) = &mut self.feed {
            if !feed.needs_reset() {
                feed.push(out);
            }
        }
        let MarketDataHub {
            market, fix, sends, ..
        } = self;
        let mut updates = 0u64;
        market.on_output(out, |update, market| {
            updates += 1;
            fix.on_update(update, market, engine, sends);
        });
        if updates > 0 {
            self.metrics
                .md_updates
                .fetch_add(updates, Ordering::Relaxed);
        }
        if out.last && out.event.event_kind() == Some(EventKind::SnapshotMarked) {
            self.snapshot_asked = true;
        }
    }

    /// An event after the loop stopped (its sessions are gone): into the builder and the feed only.
    pub fn on_output_unrouted(&mut self, out: &Output, engine: &EngineConfig) {
        self.on_output(out, engine);
        self.sends.clear();
        self.fix.sent();
    }

    /// The end of a batch from the output ring: wake the feed, hand it a copy of the builder if
    /// it fell behind, and snapshot when it is time.
    pub fn end_batch(&mut self) {
        if let Some(feed) = &mut self.feed {
            if feed.needs_reset() {
                feed.push_reset(&self.market);
            }
            feed.flush();
        }
        let seq = self.market.journal_seq();
        let due = self.snapshots.every > 0 && seq >= self.last_snapshot + self.snapshots.every;
        if (due || std::mem::take(&mut self.snapshot_asked)) && seq > self.last_snapshot {
            self.snapshot_in_background();
        }
        self.metrics
            .md_fix_subscriptions
            .store(self.fix.subscriptions() as u64, Ordering::Relaxed);
        self.metrics
            .md_fix_encodes
            .store(self.fix.encodes(), Ordering::Relaxed);
    }

    /// Writes the builder's state on a thread of its own (the loop never waits for a disk); one
    /// write at a time — a snapshot still being written defers the next to a later batch.
    fn snapshot_in_background(&mut self) {
        if self.writer.as_ref().is_some_and(|w| !w.is_finished()) {
            return;
        }
        if let Some(done) = self.writer.take() {
            let _ = done.join();
        }
        let state = self.market.clone();
        let dir = self.snapshots.dir.clone();
        let keep = self.snapshots.keep;
        self.last_snapshot = state.journal_seq();
        let spawned = std::thread::Builder::new()
            .name("hayate-md-snapshot".into())
            .spawn(move || {
                if let Err(e) = market_data::write_snapshot(&state, &dir, keep) {
                    tracing::warn!(error = %e, "market-data snapshot failed");
                }
            });
        match spawned {
            Ok(writer) => self.writer = Some(writer),
            Err(e) => tracing::warn!(error = %e, "cannot start the market-data snapshot writer"),
        }
    }

    /// A MarketDataRequest (V) from a FIX session: answered on `session` at once.
    pub fn on_fix_request(
        &mut self,
        key: SessionKey,
        session: &mut FixSession,
        engine: &EngineConfig,
        now_ns: u64,
    ) {
        let fields = session.fields().clone();
        if self
            .fix
            .on_request(key, &fields, &self.market, engine, session, now_ns)
            .is_some()
        {
            GatewayMetrics::bump(&self.metrics.md_requests_refused);
        }
    }

    /// Forgets a closed FIX session's subscriptions.
    pub fn drop_session(&mut self, key: SessionKey) {
        self.fix.drop_session(key);
    }

    /// Stops the feed and writes the final snapshot, at the last event received: called once
    /// the pipeline has stopped and every event went through [`MarketDataHub::on_output`].
    pub fn finish(mut self) {
        if let Some(feed) = self.feed.take() {
            feed.stop();
        }
        if let Some(writer) = self.writer.take() {
            let _ = writer.join();
        }
        let seq = self.market.journal_seq();
        if seq > 0 && seq != self.last_snapshot {
            if let Err(e) =
                market_data::write_snapshot(&self.market, &self.snapshots.dir, self.snapshots.keep)
            {
                tracing::warn!(error = %e, "market-data snapshot at stop failed");
            }
        }
    }
}

impl Server {
    /// Routes one event to market data and sends what FIX subscribers get from it.
    pub(super) fn route_market_data(&mut self, out: &Output) {
        let engine = self.settings.config.engine_config();
        self.market_data.on_output(out, engine);
        if self.market_data.sends.is_empty() {
            return;
        }
        let now_ns = unix_ns();
        let Server {
            market_data,
            clients,
            dirty,
            ..
        } = self;
        for send in market_data.sends.drain(..) {
            let (index, id) = send.key;
            let Some(client) = clients.get_mut(index).and_then(Option::as_mut) else {
                continue;
            };
            if client.id != id || client.closing {
                continue;
            }
            if let Protocol::Fix(session) = &mut client.protocol {
                let body = market_data.fix.body(&send);
                session.send(&[send.msg_type], now_ns, |e| e.raw(body));
                client.conn.outbound.append(session.outbound());
                super::queue_flush(dirty, index);
            }
        }
        market_data.fix.sent();
    }
}
