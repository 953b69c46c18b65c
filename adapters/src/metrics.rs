//! What the gateway counts, shared between its event loop (which writes, with relaxed atomics)
//! and the HTTP thread (which reads): the numbers behind `/status` and `/metrics`.

use std::fmt::Write as _;
use std::sync::atomic::{AtomicU8, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use hayate_core::event::Reason;
use hayate_core::pipeline::PipelineStats;

use crate::disk_guard::DiskGuard;
use crate::market_data::FeedMetrics;
use crate::market_data::json::string as json_string;
use crate::replication::node::ReplicationStatus;

/// The exchange's state as `/status` names it (BEHAVIOUR.md §7).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum ExchangeState {
    /// Replaying the journal; not serving yet.
    Recovering = 0,
    /// Serving.
    Running = 1,
    /// The whole exchange is halted (orders are refused `HALTED`).
    Halted = 2,
    /// A standby: applies the primary's stream, accepts no orders.
    Standby = 3,
    /// Shutting down.
    Stopping = 4,
}

impl ExchangeState {
    /// The name `/status` shows.
    pub fn name(self) -> &'static str {
        match self {
            ExchangeState::Recovering => "recovering",
            ExchangeState::Running => "running",
            ExchangeState::Halted => "halted",
            ExchangeState::Standby => "standby",
            ExchangeState::Stopping => "stopping",
        }
    }

    fn from_u8(v: u8) -> ExchangeState {
        match v {
            1 => ExchangeState::Running,
            2 => ExchangeState::Halted,
            3 => ExchangeState::Standby,
            4 => ExchangeState::Stopping,
            _ => ExchangeState::Recovering,
        }
    }
}

/// Number of [`Reason`] codes (the rejects-by-reason table).
pub const REASONS: usize = hayate_core::event::REASON_COUNT;

/// Latency percentiles of order → first report, refreshed by the event loop about once a second.
#[derive(Debug, Default)]
pub struct LatencySummary {
    /// Median, nanoseconds.
    pub p50: AtomicU64,
    /// 99th percentile.
    pub p99: AtomicU64,
    /// 99.9th percentile.
    pub p999: AtomicU64,
    /// Maximum.
    pub max: AtomicU64,
    /// Samples so far.
    pub count: AtomicU64,
}

/// The gateway's counters.
#[derive(Debug)]
pub struct GatewayMetrics {
    started: Instant,
    state: AtomicU8,
    /// FIX sessions logged on.
    pub fix_sessions: AtomicU64,
    /// Binary sessions logged on.
    pub binary_sessions: AtomicU64,
    /// Open TCP connections (FIX and binary).
    pub connections: AtomicU64,
    /// Connections refused by the caps.
    pub connections_refused: AtomicU64,
    /// Messages received (framed).
    pub messages_in: AtomicU64,
    /// Reports written to sessions.
    pub reports: AtomicU64,
    /// Messages refused by a session's rate limit.
    pub throttled: AtomicU64,
    /// Sessions dropped for sustained abuse of the rate limit.
    pub throttle_disconnects: AtomicU64,
    /// Garbled FIX messages ignored (bad checksum, length, framing).
    pub garbled: AtomicU64,
    /// Session-level Rejects (3) sent, and binary Rejects.
    pub session_rejects: AtomicU64,
    /// BusinessMessageRejects (j) sent.
    pub business_rejects: AtomicU64,
    /// Logons refused.
    pub logons_refused: AtomicU64,
    /// Logons with wrong credentials (a subset of the refused).
    pub logon_failures: AtomicU64,
    /// Logons refused unchecked: their address or username is backing off or locked out.
    pub logons_backed_off: AtomicU64,
    /// Lockouts started (of an address or a username).
    pub logon_lockouts: AtomicU64,
    /// TLS connections closed for a TLS error (a plain client on a TLS port, a failed handshake).
    pub tls_failures: AtomicU64,
    /// Order rejects by reason, engine's and gateway's together.
    pub rejects_by_reason: [AtomicU64; REASONS],
    /// Order → first report latency.
    pub latency: LatencySummary,
    /// Market-data updates built (one per command and symbol it changed).
    pub md_updates: AtomicU64,
    /// Live FIX market-data subscriptions.
    pub md_fix_subscriptions: AtomicU64,
    /// FIX market-data entry blocks encoded (one per update and parameter set, shared by every
    /// subscriber with those parameters).
    pub md_fix_encodes: AtomicU64,
    /// MarketDataRequests refused (MarketDataRequestReject).
    pub md_requests_refused: AtomicU64,
    halted_symbols: Mutex<Vec<String>>,
    blocked_accounts: Mutex<Vec<u32>>,
}

impl Default for GatewayMetrics {
    fn default() -> Self {
        GatewayMetrics::new()
    }
}

impl GatewayMetrics {
    /// Zeroed counters, state `recovering`.
    pub fn new() -> GatewayMetrics {
        GatewayMetrics {
            started: Instant::now(),
            state: AtomicU8::new(ExchangeState::Recovering as u8),
            fix_sessions: AtomicU64::new(0),
            binary_sessions: AtomicU64::new(0),
            connections: AtomicU64::new(0),
            connections_refused: AtomicU64::new(0),
            messages_in: AtomicU64::new(0),
            reports: AtomicU64::new(0),
            throttled: AtomicU64::new(0),
            throttle_disconnects: AtomicU64::new(0),
            garbled: AtomicU64::new(0),
            session_rejects: AtomicU64::new(0),
            business_rejects: AtomicU64::new(0),
            logons_refused: AtomicU64::new(0),
            logon_failures: AtomicU64::new(0),
            logons_backed_off: AtomicU64::new(0),
            logon_lockouts: AtomicU64::new(0),
            tls_failures: AtomicU64::new(0),
            rejects_by_reason: std::array::from_fn(|_| AtomicU64::new(0)),
            latency: LatencySummary::default(),
            md_updates: AtomicU64::new(0),
            md_fix_subscriptions: AtomicU64::new(0),
            md_fix_encodes: AtomicU64::new(0),
            md_requests_refused: AtomicU64::new(0),
            halted_symbols: Mutex::new(Vec::new()),
            blocked_accounts: Mutex::new(Vec::new()),
        }
    }

    /// Adds one to a counter.
    pub fn bump(counter: &AtomicU64) {
        counter.fetch_add(1, Ordering::Relaxed);
    }

    /// Takes one away from a gauge.
    pub fn drop_one(gauge: &AtomicU64) {
        let _ = gauge.fetch_update(Ordering::Relaxed, Ordering::Relaxed, |v| v.checked_sub(1));
    }

    /// Counts a refused order by reason.
    pub fn reject(&self, reason: Reason) {
        if let Some(counter) = self.rejects_by_reason.get(reason as usize) {
            counter.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Sets the state.
    pub fn set_state(&self, state: ExchangeState) {
        self.state.store(state as u8, Ordering::Relaxed);
    }

    /// The state.
    pub fn state(&self) -> ExchangeState {
        ExchangeState::from_u8(self.state.load(Ordering::Relaxed))
    }

    /// Replaces the list of halted symbols (rare: on a halt or resume).
    pub fn set_halted_symbols(&self, names: Vec<String>) {
        if let Ok(mut halted) = self.halted_symbols.lock() {
            *halted = names;
        }
    }

    /// The halted symbols.
    pub fn halted_symbols(&self) -> Vec<String> {
        self.halted_symbols
            .lock()
            .map(|h| h.clone())
            .unwrap_or_default()
    }

    /// Replaces the list of blocked accounts (rare: on a block or unblock).
    pub fn set_blocked_accounts(&self, accounts: Vec<u32>) {
        if let Ok(mut blocked) = self.blocked_accounts.lock() {
            *blocked = accounts;
        }
    }

    /// The blocked accounts, ascending.
    pub fn blocked_accounts(&self) -> Vec<u32> {
        self.blocked_accounts
            .lock()
            .map(|b| b.clone())
            .unwrap_or_default()
    }

    /// Seconds since the gateway started.
    pub fn uptime_s(&self) -> u64 {
        self.started.elapsed().as_secs()
    }
}

/// What `/status` and `/metrics` need besides the counters.
#[derive(Debug, Clone, Default)]
pub struct StatusContext {
    /// `primary` or `standby`.
    pub role: &'static str,
    /// The replication epoch (1 until the first promotion).
    pub epoch: u64,
    /// The link to the other node, on a replicated pair.
    pub replication: Option<ReplicationStatus>,
    /// The disk guard (BEHAVIOUR.md §10).
    pub disk: Arc<DiskGuard>,
}

/// The `/status` JSON (BEHAVIOUR.md §7).
pub fn status_json(
    metrics: &GatewayMetrics,
    pipeline: &PipelineStats,
    context: &StatusContext,
) -> String {
    let mut out = String::with_capacity(512);
    // A standby serves nobody: its state says so whatever its book holds.
    let state = match metrics.state() {
        ExchangeState::Stopping => ExchangeState::Stopping,
        _ if context.role != "primary" => ExchangeState::Standby,
        state => state,
    };
    out.push_str("{\"state\":");
    json_string(&mut out, state.name());
    out.push_str(",\"role\":");
    json_string(&mut out, context.role);
    let _ = write!(
        out,
        ",\"epoch\":{},\"sequence\":{},\"processed\":{},\"halted_symbols\":[",
        context.epoch, pipeline.durable_seq, pipeline.processed_seq
    );
    for (i, name) in metrics.halted_symbols().iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        json_string(&mut out, name);
    }
    out.push_str("],\"blocked_accounts\":[");
    for (i, account) in metrics.blocked_accounts().iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        let _ = write!(out, "{account}");
    }
    let sessions = metrics.fix_sessions.load(Ordering::Relaxed)
        + metrics.binary_sessions.load(Ordering::Relaxed);
    let _ = write!(
        out,
        "],\"sessions\":{sessions},\"connections\":{},\"uptime_s\":{}",
        metrics.connections.load(Ordering::Relaxed),
        metrics.uptime_s()
    );
    let disk = &context.disk;
    let guard = match (disk.is_on(), disk.is_tripped()) {
        (false, _) => "off",
        (true, false) => "ok",
        (true, true) => "tripped",
    };
    let _ = write!(
        out,
        ",\"disk\":{{\"free_bytes\":{},\"min_free_bytes\":{},\"guard\":\"{guard}\"}}",
        disk.free(),
        disk.thresholds().min_free
    );
    if let Some(link) = &context.replication {
        out.push_str(",\"replication\":{\"mode\":");
        json_string(&mut out, link.mode);
        out.push_str(",\"peer\":");
        json_string(&mut out, &link.peer);
        let _ = write!(
            out,
            ",\"lag\":{},\"connected\":{},\"degraded\":{}",
            link.lag, link.connected, link.degraded
        );
        if let Some(why) = &link.refused {
            out.push_str(",\"refused\":");
            json_string(&mut out, why);
        }
        out.push('}');
    }
    out.push('}');
    out
}

/// The `/metrics` page in Prometheus text format.
pub fn prometheus_text(
    metrics: &GatewayMetrics,
    feed: &FeedMetrics,
    pipeline: &PipelineStats,
    context: &StatusContext,
) -> String {
    let mut out = String::with_capacity(4096);
    let mut metric = |name: &str, kind: &str, help: &str, value: u64| {
        let _ = writeln!(
            out,
            "# HELP {name} {help}\n# TYPE {name} {kind}\n{name} {value}"
        );
    };
    metric(
        "hayate_primary",
        "gauge",
        "1 if this node takes orders (the primary), 0 on a standby.",
        u64::from(context.role == "primary"),
    );
    metric(
        "hayate_epoch",
        "gauge",
        "Replication epoch (raised by every promotion).",
        context.epoch,
    );
    let disk = &context.disk;
    metric(
        "hayate_disk_free_bytes",
        "gauge",
        "Bytes free on the journal's file system at the disk guard's last probe (0: guard off).",
        disk.free(),
    );
    metric(
        "hayate_disk_min_free_bytes",
        "gauge",
        "The disk guard's threshold ([journal] min_free_mb in bytes; 0: off).",
        disk.thresholds().min_free,
    );
    metric(
        "hayate_disk_guard_tripped",
        "gauge",
        "1 while new orders and replaces are refused DISK_FULL.",
        u64::from(disk.is_tripped()),
    );
    metric(
        "hayate_disk_guard_trips_total",
        "counter",
        "Times the disk guard tripped since the start.",
        disk.trips(),
    );
    if let Some(link) = &context.replication {
        metric(
            "hayate_replication_lag",
            "gauge",
            "Sequences the other node is behind (primary: unacknowledged; standby: unapplied).",
            link.lag,
        );
        metric(
            "hayate_replication_connected",
            "gauge",
            "1 while the link to the other node is up.",
            u64::from(link.connected),
        );
        metric(
            "hayate_replication_degraded",
            "gauge",
            "1 while synchronous replication trades on without its standby (alarm).",
            u64::from(link.degraded),
        );
        metric(
            "hayate_replication_unproven_total",
            "counter",
            "Replication connections refused: they did not prove the pair's secret (or complete TLS, where on).",
            link.unproven,
        );
    }
    let load = |c: &AtomicU64| c.load(Ordering::Relaxed);
    metric(
        "hayate_commands_total",
        "counter",
        "Commands published to the input ring (rate() gives commands/s).",
        pipeline.published,
    );
    metric(
        "hayate_sequence",
        "gauge",
        "Last journal sequence made durable.",
        pipeline.durable_seq,
    );
    metric(
        "hayate_ring_depth",
        "gauge",
        "Commands in the input ring not yet processed by the matcher.",
        pipeline.ring_depth,
    );
    metric(
        "hayate_journal_bytes_total",
        "counter",
        "Bytes appended to the journal since start.",
        pipeline.journal_bytes,
    );
    metric(
        "hayate_journal_commits_total",
        "counter",
        "Journal group commits (one per ring batch).",
        pipeline.commits,
    );
    // Seconds are not integers: written by hand rather than through `metric`.
    let _ = writeln!(
        out,
        "# HELP hayate_journal_commit_seconds_total Time spent committing (flushing) the journal.\n# TYPE hayate_journal_commit_seconds_total counter\nhayate_journal_commit_seconds_total {:.9}",
        pipeline.commit_ns as f64 / 1e9
    );
    let mut metric = |name: &str, kind: &str, help: &str, value: u64| {
        let _ = writeln!(
            out,
            "# HELP {name} {help}\n# TYPE {name} {kind}\n{name} {value}"
        );
    };
    metric(
        "hayate_fix_sessions",
        "gauge",
        "FIX sessions logged on.",
        load(&metrics.fix_sessions),
    );
    metric(
        "hayate_binary_sessions",
        "gauge",
        "Binary sessions logged on.",
        load(&metrics.binary_sessions),
    );
    metric(
        "hayate_connections",
        "gauge",
        "Open client connections.",
        load(&metrics.connections),
    );
    metric(
        "hayate_connections_refused_total",
        "counter",
        "Connections refused by the connection caps.",
        load(&metrics.connections_refused),
    );
    metric(
        "hayate_messages_in_total",
        "counter",
        "Client messages received.",
        load(&metrics.messages_in),
    );
    metric(
        "hayate_reports_total",
        "counter",
        "Reports written to sessions.",
        load(&metrics.reports),
    );
    metric(
        "hayate_throttled_total",
        "counter",
        "Messages refused by a session rate limit.",
        load(&metrics.throttled),
    );
    metric(
        "hayate_throttle_disconnects_total",
        "counter",
        "Sessions dropped for sustained rate-limit abuse.",
        load(&metrics.throttle_disconnects),
    );
    metric(
        "hayate_tls_handshake_failures_total",
        "counter",
        "TLS connections closed for a TLS error (a plain client on a TLS port, a failed handshake).",
        load(&metrics.tls_failures) + load(&feed.tls_failures),
    );
    metric(
        "hayate_garbled_total",
        "counter",
        "Garbled FIX messages ignored.",
        load(&metrics.garbled),
    );
    metric(
        "hayate_session_rejects_total",
        "counter",
        "Session-level rejects sent.",
        load(&metrics.session_rejects),
    );
    metric(
        "hayate_business_rejects_total",
        "counter",
        "BusinessMessageRejects sent.",
        load(&metrics.business_rejects),
    );
    metric(
        "hayate_logons_refused_total",
        "counter",
        "Logons refused.",
        load(&metrics.logons_refused),
    );
    metric(
        "hayate_logon_failures_total",
        "counter",
        "Logons refused for wrong credentials (unknown login or wrong password).",
        load(&metrics.logon_failures),
    );
    metric(
        "hayate_logons_backed_off_total",
        "counter",
        "Logons refused unchecked: their address or username failed too often lately.",
        load(&metrics.logons_backed_off),
    );
    metric(
        "hayate_logon_lockouts_total",
        "counter",
        "Lockouts started, of an address or of a username.",
        load(&metrics.logon_lockouts),
    );
    metric(
        "hayate_md_updates_total",
        "counter",
        "Market-data updates built (one per command and symbol it changed).",
        load(&metrics.md_updates),
    );
    metric(
        "hayate_md_fix_subscriptions",
        "gauge",
        "Live FIX market-data subscriptions.",
        load(&metrics.md_fix_subscriptions),
    );
    metric(
        "hayate_md_fix_encodes_total",
        "counter",
        "FIX market-data entry blocks encoded (shared by every subscriber with the same parameters).",
        load(&metrics.md_fix_encodes),
    );
    metric(
        "hayate_md_requests_refused_total",
        "counter",
        "MarketDataRequests refused with a MarketDataRequestReject.",
        load(&metrics.md_requests_refused),
    );
    let feed_figures: [(&str, &str, &str, &AtomicU64); 10] = [
        (
            "hayate_ws_connections",
            "gauge",
            "Open WebSocket market-data connections.",
            &feed.connections,
        ),
        (
            "hayate_ws_subscriptions",
            "gauge",
            "WebSocket (channel, product) subscriptions.",
            &feed.subscriptions,
        ),
        (
            "hayate_ws_refused_total",
            "counter",
            "WebSocket connections refused by the caps.",
            &feed.refused,
        ),
        (
            "hayate_ws_slow_disconnects_total",
            "counter",
            "Subscribers dropped because their queue was full (they did not read).",
            &feed.slow_disconnects,
        ),
        (
            "hayate_ws_errors_total",
            "counter",
            "WebSocket client messages answered with an error.",
            &feed.malformed,
        ),
        (
            "hayate_ws_messages_total",
            "counter",
            "Messages queued to WebSocket subscribers.",
            &feed.messages_sent,
        ),
        (
            "hayate_ws_updates_total",
            "counter",
            "Updates applied by the feed's builder.",
            &feed.updates,
        ),
        (
            "hayate_ws_encodes_total",
            "counter",
            "Feed messages encoded (once per channel and update, shared by every subscriber).",
            &feed.encodes,
        ),
        (
            "hayate_ws_encoded_bytes_total",
            "counter",
            "Bytes of feed messages encoded.",
            &feed.encoded_bytes,
        ),
        (
            "hayate_ws_resets_total",
            "counter",
            "Times the feed fell behind the gateway and was reset.",
            &feed.resets,
        ),
    ];
    for (name, kind, help, counter) in feed_figures {
        metric(name, kind, help, load(counter));
    }
    metric(
        "hayate_uptime_seconds",
        "gauge",
        "Seconds since the gateway started.",
        metrics.uptime_s(),
    );
    let _ = writeln!(
        out,
        "# HELP hayate_rejects_total Orders and requests refused, by reason code.\n# TYPE hayate_rejects_total counter"
    );
    for (code, counter) in metrics.rejects_by_reason.iter().enumerate() {
        let Some(reason) = Reason::from_u8(code as u8).filter(|r| *r != Reason::None) else {
            continue;
        };
        let _ = writeln!(
            out,
            "hayate_rejects_total{{reason=\"{}\"}} {}",
            reason.code(),
            load(counter)
        );
    }
    let latency = &metrics.latency;
    let _ = writeln!(
        out,
        "# HELP hayate_order_ack_latency_seconds Gateway receive to first report written, from an HdrHistogram.\n# TYPE hayate_order_ack_latency_seconds summary"
    );
    for (quantile, value) in [
        ("0.5", &latency.p50),
        ("0.99", &latency.p99),
        ("0.999", &latency.p999),
        ("1", &latency.max),
    ] {
        let _ = writeln!(
            out,
            "hayate_order_ack_latency_seconds{{quantile=\"{quantile}\"}} {:.9}",
            load(value) as f64 / 1e9
        );
    }
    let _ = writeln!(
        out,
        "hayate_order_ack_latency_seconds_count {}",
        load(&latency.count)
    );
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_has_the_fields_of_spec_7() {
        let metrics = GatewayMetrics::new();
        metrics.set_state(ExchangeState::Running);
        metrics.set_halted_symbols(vec!["BTC-JPY".into()]);
        metrics.set_blocked_accounts(vec![1, 7]);
        GatewayMetrics::bump(&metrics.fix_sessions);
        let stats = PipelineStats {
            durable_seq: 42,
            ..PipelineStats::default()
        };
        let context = StatusContext {
            role: "primary",
            epoch: 1,
            replication: None,
            disk: Arc::new(DiskGuard::default()),
        };
        let json = status_json(&metrics, &stats, &context);
        for field in [
            "\"state\":\"running\"",
            "\"role\":\"primary\"",
            "\"epoch\":1",
            "\"sequence\":42",
            "\"halted_symbols\":[\"BTC-JPY\"],\"blocked_accounts\":[1,7]",
            "\"sessions\":1",
            "\"uptime_s\":",
            "\"disk\":{\"free_bytes\":0,\"min_free_bytes\":0,\"guard\":\"off\"}",
        ] {
            assert!(json.contains(field), "{field} missing from {json}");
        }
    }

    #[test]
    fn a_tripped_disk_guard_shows_on_status_and_metrics() {
        let disk = Arc::new(DiskGuard::new(crate::disk_guard::Thresholds::from_mb(100)));
        disk.record(5 << 20);
        let context = StatusContext {
            role: "primary",
            epoch: 1,
            replication: None,
            disk,
        };
        let metrics = GatewayMetrics::new();
        let stats = PipelineStats::default();
        let json = status_json(&metrics, &stats, &context);
        let want =
            "\"disk\":{\"free_bytes\":5242880,\"min_free_bytes\":104857600,\"guard\":\"tripped\"}";
        assert!(json.contains(want), "{json}");
        let text = prometheus_text(&metrics, &FeedMetrics::default(), &stats, &context);
        for line in [
            "hayate_disk_free_bytes 5242880",
            "hayate_disk_min_free_bytes 104857600",
            "hayate_disk_guard_tripped 1",
            "hayate_disk_guard_trips_total 1",
        ] {
            assert!(text.contains(line), "{line} missing from {text}");
        }
    }

    #[test]
    fn metrics_are_prometheus_text_with_rejects_by_reason() {
        let metrics = GatewayMetrics::new();
        metrics.reject(Reason::InsufficientFunds);
        metrics.reject(Reason::AccountBlocked);
        metrics.reject(Reason::NotionalLimit);
        let stats = PipelineStats {
            commit_ns: 1_500_000_000,
            ..PipelineStats::default()
        };
        let context = StatusContext {
            role: "standby",
            epoch: 2,
            replication: Some(ReplicationStatus {
                mode: "sync",
                peer: "127.0.0.1:9100".into(),
                lag: 3,
                connected: true,
                degraded: false,
                refused: None,
                unproven: 2,
            }),
            disk: Arc::new(DiskGuard::default()),
        };
        let text = prometheus_text(&metrics, &FeedMetrics::default(), &stats, &context);
        metrics.set_state(ExchangeState::Running);
        assert!(text.contains("hayate_primary 0"));
        assert!(text.contains("hayate_epoch 2"));
        assert!(text.contains("hayate_replication_lag 3"));
        assert!(text.contains("hayate_replication_unproven_total 2"));
        let json = status_json(&metrics, &stats, &context);
        for field in [
            "\"state\":\"standby\"",
            "\"role\":\"standby\"",
            "\"replication\":{\"mode\":\"sync\",\"peer\":\"127.0.0.1:9100\",\"lag\":3,",
        ] {
            assert!(json.contains(field), "{field} missing from {json}");
        }
        assert!(text.contains("hayate_rejects_total{reason=\"INSUFFICIENT_FUNDS\"} 1"));
        assert!(text.contains("hayate_rejects_total{reason=\"ACCOUNT_BLOCKED\"} 1"));
        assert!(text.contains("hayate_rejects_total{reason=\"NOTIONAL_LIMIT\"} 1"));
        assert!(text.contains("hayate_journal_commit_seconds_total 1.500000000"));
        assert!(text.contains("# TYPE hayate_commands_total counter"));
        for line in text.lines().filter(|l| !l.starts_with('#')) {
            let mut parts = line.rsplitn(2, ' ');
            let value = parts.next().unwrap_or_default();
            assert!(value.parse::<f64>().is_ok(), "bad sample line {line}");
        }
    }
}
