//! What the gateway counts, shared between its event loop (which writes, with relaxed atomics)
//! and the HTTP thread (which reads): the numbers behind `/status` and `/metrics`
//! (`exposition.rs`, with the process figures of `process.rs`).

use std::fmt::Write as _;
use std::sync::atomic::{AtomicU8, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use hayate_core::event::Reason;
use hayate_core::pipeline::PipelineStats;

use crate::disk_guard::DiskGuard;
use crate::market_data::json::string as json_string;
use crate::replication::node::ReplicationStatus;
use crate::status::IncidentView;
use crate::status::components::ComponentStatus;

pub(crate) mod exposition;
pub mod process;

pub use exposition::{CONTENT_TYPE, MetricsExporter, MetricsSources};

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
    /// Why each halt in force started: the symbol (`None`: the whole exchange) and the halt
    /// event's reason, for the status page.
    halt_causes: Mutex<Vec<(Option<String>, Reason)>>,
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
            halt_causes: Mutex::new(Vec::new()),
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

    /// Remembers why `symbol` (`None`: the whole exchange) was halted, or forgets it on a resume
    /// (`reason` `None`). Rare: on a halt or resume.
    pub fn note_halt(&self, symbol: Option<String>, reason: Option<Reason>) {
        if let Ok(mut causes) = self.halt_causes.lock() {
            causes.retain(|(s, _)| *s != symbol);
            if let Some(reason) = reason {
                causes.push((symbol, reason));
            }
        }
    }

    /// Why `symbol` (`None`: the whole exchange) is halted, if this process saw the halt.
    pub fn halt_cause(&self, symbol: Option<&str>) -> Option<Reason> {
        let causes = self.halt_causes.lock().ok()?;
        causes
            .iter()
            .find(|(s, _)| s.as_deref() == symbol)
            .map(|(_, reason)| *reason)
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

/// The state `/status` and `/metrics` report: a standby serves nobody, so it says so whatever
/// its book holds.
pub(crate) fn reported_state(metrics: &GatewayMetrics, context: &StatusContext) -> ExchangeState {
    match metrics.state() {
        ExchangeState::Stopping => ExchangeState::Stopping,
        _ if context.role != "primary" => ExchangeState::Standby,
        state => state,
    }
}

/// The `/status` JSON (BEHAVIOUR.md §7), with the status page's components and incidents.
pub fn status_json(
    metrics: &GatewayMetrics,
    pipeline: &PipelineStats,
    context: &StatusContext,
    components: &[ComponentStatus],
    incidents: &[IncidentView],
) -> String {
    let mut out = String::with_capacity(512);
    let state = reported_state(metrics, context);
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
        out.push_str(",\"observers\":[");
        for (n, o) in link.observers.iter().enumerate() {
            if n > 0 {
                out.push(',');
            }
            out.push_str("{\"name\":");
            json_string(&mut out, &o.name);
            out.push_str(",\"addr\":");
            json_string(&mut out, &o.addr);
            let _ = write!(
                out,
                ",\"sent_seq\":{},\"acked_seq\":{}}}",
                o.sent_seq, o.acked_seq
            );
        }
        out.push_str("]}");
    }
    components_json(&mut out, components);
    incidents_json(&mut out, incidents);
    out.push('}');
    out
}

/// `,"components":[{"id":…,"name":…,"state":…,"detail":…},…]`.
fn components_json(out: &mut String, components: &[ComponentStatus]) {
    out.push_str(",\"components\":[");
    for (i, c) in components.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push_str("{\"id\":");
        json_string(out, c.component.id());
        out.push_str(",\"name\":");
        json_string(out, c.component.name());
        out.push_str(",\"state\":");
        json_string(out, c.state.name());
        out.push_str(",\"detail\":");
        json_string(out, &c.detail);
        out.push('}');
    }
    out.push(']');
}

/// `,"incidents":[{"id":…,"title":…,"severity":…,"status":…,"components":[…],
/// "updates":[{"at":…,"text":…}],"window":{"from":…,"to":…}},…]` (no window unless maintenance).
pub(crate) fn incidents_json(out: &mut String, incidents: &[IncidentView]) {
    out.push_str(",\"incidents\":[");
    for (i, incident) in incidents.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        let _ = write!(out, "{{\"id\":{},\"title\":", incident.id);
        json_string(out, &incident.title);
        let _ = write!(
            out,
            ",\"severity\":\"{}\",\"status\":\"{}\",\"components\":[",
            incident.severity.name(),
            incident.status.name()
        );
        for (j, name) in incident.components.iter().enumerate() {
            if j > 0 {
                out.push(',');
            }
            json_string(out, name);
        }
        out.push_str("],\"updates\":[");
        for (j, (at, text)) in incident.updates.iter().enumerate() {
            if j > 0 {
                out.push(',');
            }
            let _ = write!(out, "{{\"at\":{at},\"text\":");
            json_string(out, text);
            out.push('}');
        }
        out.push(']');
        if let Some((from, to)) = incident.window {
            let _ = write!(out, ",\"window\":{{\"from\":{from},\"to\":{to}}}");
        }
        out.push('}');
    }
    out.push(']');
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::market_data::FeedMetrics;
    use std::sync::Arc;

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
        let json = status_json(&metrics, &stats, &context, &[], &[]);
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
    fn status_lists_components_and_incidents() {
        use crate::status::components::{Component, ComponentState};
        use crate::status::{IncidentStatus, Severity};
        let metrics = GatewayMetrics::new();
        let context = StatusContext {
            role: "primary",
            epoch: 1,
            replication: None,
            disk: Arc::new(DiskGuard::default()),
        };
        let components = [ComponentStatus {
            component: Component::Matching,
            state: ComponentState::Degraded,
            detail: "some symbols are halted".into(),
        }];
        let incidents = [IncidentView {
            id: 4,
            title: "Slow \"acks\"".into(),
            severity: Severity::Major,
            status: IncidentStatus::Scheduled,
            components: vec!["Matching".into()],
            updates: vec![(100, "planned".into())],
            window: Some((200, 300)),
        }];
        let json = status_json(
            &metrics,
            &PipelineStats::default(),
            &context,
            &components,
            &incidents,
        );
        let want = "\"components\":[{\"id\":\"matching\",\"name\":\"Matching\",\"state\":\"degraded\",\"detail\":\"some symbols are halted\"}],\
                    \"incidents\":[{\"id\":4,\"title\":\"Slow \\\"acks\\\"\",\"severity\":\"major\",\"status\":\"scheduled\",\
                    \"components\":[\"Matching\"],\"updates\":[{\"at\":100,\"text\":\"planned\"}],\
                    \"window\":{\"from\":200,\"to\":300}}]}";
        assert!(json.ends_with(want), "{json}");
        let parsed: serde_json::Value = serde_json::from_str(&json).expect("valid JSON");
        assert_eq!(parsed["incidents"][0]["title"], "Slow \"acks\"");
    }

    #[test]
    fn halt_causes_are_remembered_until_the_resume() {
        let metrics = GatewayMetrics::new();
        metrics.note_halt(Some("BTC-JPY".into()), Some(Reason::CircuitBreaker));
        metrics.note_halt(None, Some(Reason::None));
        assert_eq!(
            metrics.halt_cause(Some("BTC-JPY")),
            Some(Reason::CircuitBreaker)
        );
        assert_eq!(metrics.halt_cause(None), Some(Reason::None));
        metrics.note_halt(Some("BTC-JPY".into()), None);
        assert_eq!(metrics.halt_cause(Some("BTC-JPY")), None);
        assert_eq!(metrics.halt_cause(None), Some(Reason::None));
    }

    /// An exporter over fixed figures, as the gateway builds one over live ones.
    fn exporter(
        metrics: &Arc<GatewayMetrics>,
        stats: PipelineStats,
        context: StatusContext,
        journal_dir: Option<std::path::PathBuf>,
    ) -> MetricsExporter {
        MetricsExporter::new(MetricsSources {
            gateway: Arc::clone(metrics),
            feed: Arc::new(FeedMetrics::default()),
            pipeline: Arc::new(move || stats),
            context: Arc::new(move || context.clone()),
            journal_dir,
            alerts: Arc::default(),
        })
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
        let metrics = Arc::new(GatewayMetrics::new());
        let stats = PipelineStats::default();
        let json = status_json(&metrics, &stats, &context, &[], &[]);
        let want =
            "\"disk\":{\"free_bytes\":5242880,\"min_free_bytes\":104857600,\"guard\":\"tripped\"}";
        assert!(json.contains(want), "{json}");
        let text = exporter(&metrics, stats, context, None)
            .prometheus_text()
            .expect("encodes");
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
        let metrics = Arc::new(GatewayMetrics::new());
        metrics.reject(Reason::InsufficientFunds);
        metrics.reject(Reason::AccountBlocked);
        metrics.reject(Reason::NotionalLimit);
        GatewayMetrics::bump(&metrics.throttled);
        metrics.latency.p99.store(1_500, Ordering::Relaxed);
        let stats = PipelineStats {
            commit_ns: 1_500_000_000,
            published: 7,
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
                observers: vec![crate::replication::observers::ObserverView {
                    name: "bridge-1".into(),
                    addr: "127.0.0.1:5000".into(),
                    sent_seq: 7,
                    acked_seq: 5,
                }],
            }),
            disk: Arc::new(DiskGuard::default()),
        };
        let text = exporter(&metrics, stats, context.clone(), None)
            .prometheus_text()
            .expect("encodes");
        metrics.set_state(ExchangeState::Running);
        let json = status_json(&metrics, &stats, &context, &[], &[]);
        for field in [
            "\"state\":\"standby\"",
            "\"role\":\"standby\"",
            "\"replication\":{\"mode\":\"sync\",\"peer\":\"127.0.0.1:9100\",\"lag\":3,",
            "\"observers\":[{\"name\":\"bridge-1\",\"addr\":\"127.0.0.1:5000\",\"sent_seq\":7,\"acked_seq\":5}]",
        ] {
            assert!(json.contains(field), "{field} missing from {json}");
        }
        for sample in [
            "\nhayate_primary 0\n",
            "\nhayate_epoch 2\n",
            "\nhayate_state{state=\"standby\"} 1\n",
            "\nhayate_state{state=\"running\"} 0\n",
            "\nhayate_replication_lag 3\n",
            "\nhayate_replication_unproven_total 2\n",
            "\nhayate_replication_observers 1\n",
            "\nhayate_replication_observer_sent_seq{observer=\"bridge-1\"} 7\n",
            "\nhayate_commands_total 7\n",
            "\nhayate_throttled_total 1\n",
            "\nhayate_rejects_total{reason=\"INSUFFICIENT_FUNDS\"} 1\n",
            "\nhayate_rejects_total{reason=\"ACCOUNT_BLOCKED\"} 1\n",
            "\nhayate_rejects_total{reason=\"NOTIONAL_LIMIT\"} 1\n",
            "\nhayate_journal_commit_seconds_total 1.5\n",
            "\n# TYPE hayate_commands_total counter\n",
            "\n# TYPE hayate_order_ack_latency_seconds summary\n",
            "\nhayate_order_ack_latency_seconds{quantile=\"0.99\"} 0.000001500\n",
            "\n# TYPE process_cpu_seconds_total counter\n",
        ] {
            assert!(text.contains(sample), "{sample:?} missing from\n{text}");
        }
        // No journal directory given: no segment count.
        assert!(!text.contains("hayate_journal_segments"), "{text}");
        for line in text.lines().filter(|l| !l.starts_with('#')) {
            let mut parts = line.rsplitn(2, ' ');
            let value = parts.next().unwrap_or_default();
            assert!(value.parse::<f64>().is_ok(), "bad sample line {line}");
        }
    }

    #[test]
    fn every_family_has_help_and_type_and_counters_end_in_total() {
        let metrics = Arc::new(GatewayMetrics::new());
        let text = exporter(
            &metrics,
            PipelineStats::default(),
            StatusContext::default(),
            None,
        )
        .prometheus_text()
        .expect("encodes");
        let mut families = std::collections::HashSet::new();
        for line in text.lines().filter_map(|l| l.strip_prefix("# TYPE ")) {
            let (name, kind) = line.split_once(' ').unwrap_or((line, ""));
            assert!(families.insert(name.to_owned()), "{name} twice");
            assert!(
                text.contains(&format!("# HELP {name} ")),
                "{name} has no help"
            );
            assert_eq!(kind == "counter", name.ends_with("_total"), "{line}");
        }
        assert!(families.len() > 40, "{families:?}");
    }

    #[test]
    fn journal_segments_are_the_segment_files_of_the_directory() {
        let dir = tempfile::tempdir().expect("tempdir");
        for name in [
            "00000000000000000001.seg",
            "00000000000000004097.seg",
            "00000000000000008193.seg.tmp",
            "journal.lock",
        ] {
            std::fs::write(dir.path().join(name), b"").expect("write");
        }
        let metrics = Arc::new(GatewayMetrics::new());
        let text = exporter(
            &metrics,
            PipelineStats::default(),
            StatusContext::default(),
            Some(dir.path().to_owned()),
        )
        .prometheus_text()
        .expect("encodes");
        assert!(text.contains("\nhayate_journal_segments 2\n"), "{text}");
    }
}
