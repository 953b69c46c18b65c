//! The router: takes every event from the output ring and decides who receives it — the sessions
//! of the event's account, the admin who asked, `/status` for halts, and market data (the
//! builder, FIX subscribers and the WebSocket feed: see `market_data`).

use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use hayate_core::command::NoticeAction;
use hayate_core::event::{EventKind, Reason};
use hayate_core::pipeline::Output;

use super::client::{Login, Protocol};
use super::{Server, queue_flush};
use crate::binary::messages::{Report, ServerMessage};
use crate::clock::unix_ns;
use crate::fix::orders;
use crate::metrics::{ExchangeState, GatewayMetrics};

impl Server {
    /// Routes everything the output ring holds; returns how many events there were.
    pub(super) fn drain_output(&mut self) -> usize {
        let Server {
            receiver,
            output_buf,
            ..
        } = self;
        let polled = receiver.poll(|out| output_buf.push(*out));
        let batch = std::mem::take(&mut self.output_buf);
        for out in &batch {
            self.route(out);
        }
        let n = batch.len();
        self.output_buf = batch;
        self.output_buf.clear();
        if n > 0 {
            self.market_data.end_batch();
        }
        if self.latency_published.elapsed() >= Duration::from_secs(1) {
            self.publish_latency();
        }
        if polled.is_err() {
            // The pipeline stopped under us (a stage failed): stop serving.
            self.stop.store(true, Ordering::Release);
        }
        n
    }

    /// Sends one event to whoever receives it: the sessions of its account first (an order's
    /// owner hears of it before the world does), then market data.
    pub(super) fn route(&mut self, out: &Output) {
        self.route_to_sessions(out);
        self.route_market_data(out);
    }

    /// Sends one event to every session of its account (and admin events to the admin who asked).
    fn route_to_sessions(&mut self, out: &Output) {
        let event = &out.event;
        let Some(kind) = event.event_kind() else {
            return;
        };
        match kind {
            EventKind::Deposited
            | EventKind::Withdrawn
            | EventKind::DepositRejected
            | EventKind::WithdrawRejected
            | EventKind::Halted
            | EventKind::Resumed
            | EventKind::HaltRejected
            | EventKind::AccountBlocked
            | EventKind::AccountUnblocked
            | EventKind::BlockRejected
            | EventKind::NoticeRecorded
            | EventKind::SnapshotMarked => {
                self.on_admin_event(out, kind);
                return;
            }
            EventKind::EpochRaised => {
                // This node's promotion, or its primary's replicated to it.
                self.settings
                    .role
                    .record_epoch(event.detail[0], event.detail[1]);
                return;
            }
            EventKind::EpochRejected => return,
            EventKind::Rejected => self.metrics.reject(event.reason()),
            _ => {}
        }
        self.track_ownership(out, kind);
        let Some(tokens) = self.by_account.get(&event.account) else {
            return;
        };
        let now_ns = unix_ns();
        if out.index == 0 && out.timestamp_ns > 0 {
            let _ = self
                .latency
                .record(now_ns.saturating_sub(out.timestamp_ns).max(1));
        }
        let engine = self.settings.config.engine_config();
        for &index in tokens {
            let Some(client) = self.clients.get_mut(index).and_then(Option::as_mut) else {
                continue;
            };
            // Nothing follows a Logout (ours or theirs) on a closing session.
            if client.closing {
                continue;
            }
            let sent = match &mut client.protocol {
                Protocol::Fix(session) => {
                    let sent = orders::write_report(session, out, engine, now_ns);
                    client.conn.outbound.append(session.outbound());
                    sent
                }
                Protocol::Binary { last_sent } => {
                    *last_sent = Instant::now();
                    let report = Report::new(out.seq, out.timestamp_ns, out.index, event);
                    ServerMessage::Report(report).encode(&mut client.conn.outbound);
                    true
                }
            };
            if sent {
                GatewayMetrics::bump(&self.metrics.reports);
                queue_flush(&mut self.dirty, index);
            }
        }
    }

    /// Keeps (order id → session) for cancel-on-disconnect `S`, from the engine's answers.
    pub(super) fn track_ownership(&mut self, out: &Output, kind: EventKind) {
        let event = &out.event;
        match kind {
            EventKind::Accepted => {
                let key = (event.account, event.client_order_id);
                if let Some(owner) = self.pending_new.remove(&key) {
                    self.owners.insert(event.order_id, owner);
                    if let Some(login) = self.login_of(owner) {
                        login.orders.insert(event.order_id);
                    }
                }
            }
            EventKind::Rejected => {
                self.pending_new
                    .remove(&(event.account, event.client_order_id));
            }
            EventKind::Fill | EventKind::Canceled if event.leaves_qty.0 == 0 => {
                if let Some(owner) = self.owners.remove(&event.order_id) {
                    if let Some(login) = self.login_of(owner) {
                        login.orders.remove(&event.order_id);
                    }
                }
            }
            _ => {}
        }
    }

    pub(super) fn login_of(&mut self, (index, id): (usize, u64)) -> Option<&mut Login> {
        self.clients
            .get_mut(index)
            .and_then(Option::as_mut)
            .filter(|c| c.id == id)
            .and_then(|c| c.login.as_mut())
    }

    pub(super) fn on_admin_event(&mut self, out: &Output, kind: EventKind) {
        let event = &out.event;
        let all = event.flags & hayate_core::event::EVENT_FLAG_ALL_SYMBOLS != 0;
        // Halts are rare admin events, so the status page's note of why (a lock) costs nothing
        // on the order path.
        let halted_name = || {
            (!all)
                .then(|| self.settings.config.engine_config().symbol(event.symbol))
                .flatten()
                .map(|spec| spec.name.clone())
        };
        match kind {
            EventKind::Halted | EventKind::Resumed => {
                let cause = (kind == EventKind::Halted).then(|| event.reason());
                self.metrics.note_halt(halted_name(), cause);
            }
            _ => {}
        }
        match kind {
            EventKind::Halted if all => self.exchange_halted = true,
            EventKind::Resumed if all => self.exchange_halted = false,
            EventKind::Halted => {
                self.halted.insert(event.symbol);
            }
            EventKind::Resumed => {
                self.halted.remove(&event.symbol);
            }
            EventKind::AccountBlocked => {
                self.blocked.insert(event.account);
            }
            EventKind::AccountUnblocked => {
                self.blocked.remove(&event.account);
            }
            _ => {}
        }
        if matches!(kind, EventKind::Halted | EventKind::Resumed) {
            self.publish_halts();
            // A circuit breaker's halt or timed resume answers no admin (BEHAVIOUR.md §10).
            if event.reason() == Reason::CircuitBreaker {
                return;
            }
        }
        if matches!(
            kind,
            EventKind::AccountBlocked | EventKind::AccountUnblocked
        ) {
            self.publish_blocks();
        }
        if kind == EventKind::NoticeRecorded && event.detail[0] + 1 == event.detail[1] {
            // A whole notice: on every node, whoever journaled it.
            let id = out.seq.saturating_sub(event.detail[0]);
            match NoticeAction::from_u8(event.detail[2] as u8) {
                Some(NoticeAction::Open) => {
                    self.open_incidents.insert(id);
                }
                Some(NoticeAction::Resolve) => {
                    self.open_incidents.remove(&event.detail[3]);
                }
                _ => {}
            }
        }
        let Some(owner) = self.pending_admin.pop_front() else {
            return;
        };
        if kind == EventKind::NoticeRecorded {
            // One acknowledgement per part; the admin hears of the last, with the notice's id
            // (the sequence of its first part).
            let (part, parts) = (event.detail[0], event.detail[1]);
            if part + 1 == parts {
                let id = out.seq.saturating_sub(part);
                self.send_admin_result(owner, true, &format!("notice {id} recorded"));
            }
            return;
        }
        let ok = matches!(
            kind,
            EventKind::Deposited
                | EventKind::Withdrawn
                | EventKind::Halted
                | EventKind::Resumed
                | EventKind::AccountBlocked
                | EventKind::AccountUnblocked
                | EventKind::SnapshotMarked
        );
        let text = if kind == EventKind::SnapshotMarked {
            format!(
                "snapshot of sequence {} queued for the snapshot writer",
                out.seq
            )
        } else {
            event.describe(self.settings.config.engine_config())
        };
        self.send_admin_result(owner, ok, &text);
    }

    /// Tells `/status` which symbols are halted and whether the exchange is.
    pub(super) fn publish_halts(&self) {
        let engine = self.settings.config.engine_config();
        let mut names: Vec<String> = self
            .halted
            .iter()
            .filter_map(|s| engine.symbol(*s).map(|spec| spec.name.clone()))
            .collect();
        names.sort();
        self.metrics.set_halted_symbols(names);
        if self.metrics.state() != ExchangeState::Recovering {
            self.metrics.set_state(if self.exchange_halted {
                ExchangeState::Halted
            } else {
                ExchangeState::Running
            });
        }
    }

    /// Tells `/status` which accounts are blocked.
    pub(super) fn publish_blocks(&self) {
        self.metrics
            .set_blocked_accounts(self.blocked.iter().map(|a| a.0).collect());
    }

    /// The open-connections gauge is the caps' own count, not a second tally.
    pub(super) fn publish_connections(&self) {
        self.metrics
            .connections
            .store(self.caps.total() as u64, Ordering::Relaxed);
    }

    pub(super) fn publish_latency(&mut self) {
        let summary = &self.metrics.latency;
        let h = &self.latency;
        summary
            .p50
            .store(h.value_at_quantile(0.5), Ordering::Relaxed);
        summary
            .p99
            .store(h.value_at_quantile(0.99), Ordering::Relaxed);
        summary
            .p999
            .store(h.value_at_quantile(0.999), Ordering::Relaxed);
        summary.max.store(h.max(), Ordering::Relaxed);
        summary.count.store(h.len(), Ordering::Relaxed);
        self.latency_published = Instant::now();
    }
}
