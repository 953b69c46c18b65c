//! `/metrics` through the `prometheus-client` crate, in the Prometheus text format (0.0.4).
//!
//! How the figures get there: the event loop keeps bumping relaxed atomics in [`GatewayMetrics`]
//! and [`FeedMetrics`] and nothing else; the registry is built once, when the gateway starts,
//! holding *collectors* only (the crate's custom-collector interface). A collector reads the
//! atomics, the pipeline's stats, the journal directory and `/proc` when a scrape encodes the
//! registry, on the HTTP thread. The alternative — the crate's own `Counter`/`Gauge` types, set
//! from the atomics before each encode — would keep a second copy of every figure and a
//! read-then-set step per scrape for no gain; the order path never sees the crate at all either
//! way.
//!
//! One family is written by hand after the registry: `hayate_order_ack_latency_seconds`, a
//! summary (quantiles from the event loop's HdrHistogram), a type the crate does not encode
//! (0.26 lists it as not yet supported). Keeping it a summary keeps its name and meaning for the
//! dashboards and alerts that use `{quantile="0.99"}`.

use std::fmt::{self, Write as _};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use hayate_core::event::Reason;
use hayate_core::pipeline::PipelineStats;
use prometheus_client::collector::Collector;
use prometheus_client::encoding::{
    DescriptorEncoder, EncodeCounterValue, EncodeGaugeValue, EncodeMetric,
};
use prometheus_client::metrics::MetricType;
use prometheus_client::metrics::counter::ConstCounter;
use prometheus_client::metrics::gauge::ConstGauge;
use prometheus_client::registry::Registry;

use super::process::ProcessCollector;
use super::{ExchangeState, GatewayMetrics, LatencySummary, StatusContext, reported_state};
use crate::alerts::AlertCounters;
use crate::market_data::FeedMetrics;
use crate::replication::observers::ObserverView;

/// The `Content-Type` of the page (the Prometheus text format, version 0.0.4).
pub const CONTENT_TYPE: &str = prometheus_client::encoding::prometheus_text::CONTENT_TYPE;

/// Reads the pipeline's counters at scrape time.
pub type PipelineSource = dyn Fn() -> PipelineStats + Send + Sync;
/// Reads the node's role, epoch and replication link at scrape time.
pub type ContextSource = dyn Fn() -> StatusContext + Send + Sync;

/// Where the figures on `/metrics` come from.
#[derive(Clone)]
pub struct MetricsSources {
    /// The gateway's counters (written by the event loop).
    pub gateway: Arc<GatewayMetrics>,
    /// The WebSocket feed's counters.
    pub feed: Arc<FeedMetrics>,
    /// The pipeline's counters.
    pub pipeline: Arc<PipelineSource>,
    /// Role, epoch and replication.
    pub context: Arc<ContextSource>,
    /// The journal's directory, whose segment files are counted (`None`: no such figure).
    pub journal_dir: Option<PathBuf>,
    /// The webhook's deliveries (all zero without `[alerts] webhook`).
    pub alerts: Arc<AlertCounters>,
}

impl fmt::Debug for MetricsSources {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MetricsSources")
            .field("journal_dir", &self.journal_dir)
            .finish_non_exhaustive()
    }
}

/// The registry behind `/metrics`; [`MetricsExporter::prometheus_text`] encodes it.
#[derive(Debug)]
pub struct MetricsExporter {
    registry: Registry,
    gateway: Arc<GatewayMetrics>,
}

impl MetricsExporter {
    /// Registers the collectors over `sources` (nothing is read until a scrape).
    pub fn new(sources: MetricsSources) -> MetricsExporter {
        let mut registry = Registry::default();
        let gateway = Arc::clone(&sources.gateway);
        if let Some(dir) = sources.journal_dir.clone() {
            registry.register_collector(Box::new(JournalCollector { dir }));
        }
        registry.register_collector(Box::new(GatewayCollector { sources }));
        registry.register_collector(Box::new(ProcessCollector));
        MetricsExporter { registry, gateway }
    }

    /// The page: every figure read now. Fails only if a figure cannot be encoded.
    pub fn prometheus_text(&self) -> Result<String, fmt::Error> {
        let mut out = String::with_capacity(8 * 1024);
        prometheus_client::encoding::prometheus_text::encode(&mut out, &self.registry)?;
        write_latency_summary(&mut out, &self.gateway.latency)?;
        Ok(out)
    }
}

/// A counter. `name` is the exported name, `_total` included (so a grep for it finds this
/// line); the encoder appends the suffix itself, so it is taken off here.
pub(crate) fn counter(
    encoder: &mut DescriptorEncoder,
    name: &str,
    help: &str,
    value: impl EncodeCounterValue,
) -> fmt::Result {
    let stem = name.strip_suffix("_total").ok_or(fmt::Error)?;
    let descriptor = encoder.encode_descriptor(stem, help, None, MetricType::Counter)?;
    ConstCounter::new(value).encode(descriptor)
}

/// A gauge.
pub(crate) fn gauge(
    encoder: &mut DescriptorEncoder,
    name: &str,
    help: &str,
    value: impl EncodeGaugeValue,
) -> fmt::Result {
    let descriptor = encoder.encode_descriptor(name, help, None, MetricType::Gauge)?;
    ConstGauge::new(value).encode(descriptor)
}

/// Every state, for `hayate_state` (one series each, 1 for the current one).
const STATES: [ExchangeState; 5] = [
    ExchangeState::Recovering,
    ExchangeState::Running,
    ExchangeState::Halted,
    ExchangeState::Standby,
    ExchangeState::Stopping,
];

/// The `hayate_*` families from the gateway's, the feed's and the pipeline's counters.
struct GatewayCollector {
    sources: MetricsSources,
}

impl fmt::Debug for GatewayCollector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GatewayCollector").finish_non_exhaustive()
    }
}

impl Collector for GatewayCollector {
    fn encode(&self, mut encoder: DescriptorEncoder) -> fmt::Result {
        let e = &mut encoder;
        let metrics = &*self.sources.gateway;
        let feed = &*self.sources.feed;
        let pipeline = (self.sources.pipeline)();
        let context = (self.sources.context)();
        let load = |c: &AtomicU64| c.load(Ordering::Relaxed);

        let primary = u64::from(context.role == "primary");
        gauge(
            e,
            "hayate_primary",
            "1 if this node takes orders (the primary), 0 on a standby.",
            primary,
        )?;
        gauge(
            e,
            "hayate_epoch",
            "Replication epoch (raised by every promotion).",
            context.epoch,
        )?;
        let state = reported_state(metrics, &context);
        let mut family = e.encode_descriptor(
            "hayate_state",
            "The exchange's state as /status names it: 1 for the current one, 0 for the others.",
            None,
            MetricType::Gauge,
        )?;
        for candidate in STATES {
            let labels = [("state", candidate.name())];
            ConstGauge::new(u64::from(candidate == state))
                .encode(family.encode_family(&labels)?)?;
        }
        gauge(
            e,
            "hayate_halted_symbols",
            "Symbols halted (by an operator or a circuit breaker).",
            metrics.halted_symbols().len() as u64,
        )?;
        let disk = &context.disk;
        gauge(
            e,
            "hayate_disk_free_bytes",
            "Bytes free on the journal's file system at the disk guard's last probe (0: guard off).",
            disk.free(),
        )?;
        gauge(
            e,
            "hayate_disk_min_free_bytes",
            "The disk guard's threshold ([journal] min_free_mb in bytes; 0: off).",
            disk.thresholds().min_free,
        )?;
        gauge(
            e,
            "hayate_disk_guard_tripped",
            "1 while new orders and replaces are refused DISK_FULL.",
            u64::from(disk.is_tripped()),
        )?;
        counter(
            e,
            "hayate_disk_guard_trips_total",
            "Times the disk guard tripped since the start.",
            disk.trips(),
        )?;
        if let Some(link) = &context.replication {
            gauge(
                e,
                "hayate_replication_lag",
                "Sequences the other node is behind (primary: unacknowledged; standby: unapplied).",
                link.lag,
            )?;
            gauge(
                e,
                "hayate_replication_connected",
                "1 while the link to the other node is up.",
                u64::from(link.connected),
            )?;
            gauge(
                e,
                "hayate_replication_degraded",
                "1 while synchronous replication trades on without its standby (alarm).",
                u64::from(link.degraded),
            )?;
            counter(
                e,
                "hayate_replication_unproven_total",
                "Replication connections refused: they did not prove the pair's secret (or complete TLS, where on).",
                link.unproven,
            )?;
            gauge(
                e,
                "hayate_replication_observers",
                "Observers (bridges, auditors) connected to this primary's replication port.",
                link.observers.len() as u64,
            )?;
            for (name, help, pick) in [
                (
                    "hayate_replication_observer_sent_seq",
                    "The last sequence sent to each observer.",
                    (|o: &ObserverView| o.sent_seq) as fn(&ObserverView) -> u64,
                ),
                (
                    "hayate_replication_observer_acked_seq",
                    "The last sequence each observer said it applied.",
                    |o: &ObserverView| o.acked_seq,
                ),
            ] {
                let mut family = e.encode_descriptor(name, help, None, MetricType::Gauge)?;
                for o in &link.observers {
                    let labels = [("observer", o.name.as_str())];
                    ConstGauge::new(pick(o)).encode(family.encode_family(&labels)?)?;
                }
            }
        }

        counter(
            e,
            "hayate_commands_total",
            "Commands published to the input ring (rate() gives commands/s).",
            pipeline.published,
        )?;
        gauge(
            e,
            "hayate_sequence",
            "Last journal sequence made durable.",
            pipeline.durable_seq,
        )?;
        gauge(
            e,
            "hayate_ring_depth",
            "Commands in the input ring not yet processed by the matcher.",
            pipeline.ring_depth,
        )?;
        counter(
            e,
            "hayate_journal_bytes_total",
            "Bytes appended to the journal since start.",
            pipeline.journal_bytes,
        )?;
        counter(
            e,
            "hayate_journal_commits_total",
            "Journal group commits (one per ring batch).",
            pipeline.commits,
        )?;
        counter(
            e,
            "hayate_journal_commit_seconds_total",
            "Time spent committing (flushing) the journal.",
            pipeline.commit_ns as f64 / 1e9,
        )?;

        let gateway_gauges: [(&str, &str, &AtomicU64); 3] = [
            (
                "hayate_fix_sessions",
                "FIX sessions logged on.",
                &metrics.fix_sessions,
            ),
            (
                "hayate_binary_sessions",
                "Binary sessions logged on.",
                &metrics.binary_sessions,
            ),
            (
                "hayate_connections",
                "Open client connections.",
                &metrics.connections,
            ),
        ];
        for (name, help, value) in gateway_gauges {
            gauge(e, name, help, load(value))?;
        }
        let gateway_counters: [(&str, &str, &AtomicU64); 7] = [
            (
                "hayate_connections_refused_total",
                "Connections refused by the connection caps.",
                &metrics.connections_refused,
            ),
            (
                "hayate_messages_in_total",
                "Client messages received.",
                &metrics.messages_in,
            ),
            (
                "hayate_reports_total",
                "Reports written to sessions.",
                &metrics.reports,
            ),
            (
                "hayate_throttled_total",
                "Messages refused by a session rate limit.",
                &metrics.throttled,
            ),
            (
                "hayate_throttle_disconnects_total",
                "Sessions dropped for sustained rate-limit abuse.",
                &metrics.throttle_disconnects,
            ),
            (
                "hayate_garbled_total",
                "Garbled FIX messages ignored.",
                &metrics.garbled,
            ),
            (
                "hayate_session_rejects_total",
                "Session-level rejects sent.",
                &metrics.session_rejects,
            ),
        ];
        for (name, help, value) in gateway_counters {
            counter(e, name, help, load(value))?;
        }
        counter(
            e,
            "hayate_tls_handshake_failures_total",
            "TLS connections closed for a TLS error (a plain client on a TLS port, a failed handshake).",
            load(&metrics.tls_failures) + load(&feed.tls_failures),
        )?;
        let alerts = &*self.sources.alerts;
        let alert_counters: [(&str, &str, &AtomicU64); 3] = [
            (
                "hayate_alerts_sent_total",
                "Alerts the [alerts] webhook accepted (a 2xx answer).",
                &alerts.sent,
            ),
            (
                "hayate_alerts_failed_total",
                "Alerts given up on after every retry to the webhook failed.",
                &alerts.failed,
            ),
            (
                "hayate_alerts_dropped_total",
                "Alerts dropped unsent because the alert queue was full (oldest first).",
                &alerts.dropped,
            ),
        ];
        for (name, help, value) in alert_counters {
            counter(e, name, help, load(value))?;
        }
        let refusal_counters: [(&str, &str, &AtomicU64); 5] = [
            (
                "hayate_business_rejects_total",
                "BusinessMessageRejects sent.",
                &metrics.business_rejects,
            ),
            (
                "hayate_logons_refused_total",
                "Logons refused.",
                &metrics.logons_refused,
            ),
            (
                "hayate_logon_failures_total",
                "Logons refused for wrong credentials (unknown login or wrong password).",
                &metrics.logon_failures,
            ),
            (
                "hayate_logons_backed_off_total",
                "Logons refused unchecked: their address or username failed too often lately.",
                &metrics.logons_backed_off,
            ),
            (
                "hayate_logon_lockouts_total",
                "Lockouts started, of an address or of a username.",
                &metrics.logon_lockouts,
            ),
        ];
        for (name, help, value) in refusal_counters {
            counter(e, name, help, load(value))?;
        }

        counter(
            e,
            "hayate_md_updates_total",
            "Market-data updates built (one per command and symbol it changed).",
            load(&metrics.md_updates),
        )?;
        gauge(
            e,
            "hayate_md_fix_subscriptions",
            "Live FIX market-data subscriptions.",
            load(&metrics.md_fix_subscriptions),
        )?;
        counter(
            e,
            "hayate_md_fix_encodes_total",
            "FIX market-data entry blocks encoded (shared by every subscriber with the same parameters).",
            load(&metrics.md_fix_encodes),
        )?;
        counter(
            e,
            "hayate_md_requests_refused_total",
            "MarketDataRequests refused with a MarketDataRequestReject.",
            load(&metrics.md_requests_refused),
        )?;
        gauge(
            e,
            "hayate_ws_connections",
            "Open WebSocket market-data connections.",
            load(&feed.connections),
        )?;
        gauge(
            e,
            "hayate_ws_subscriptions",
            "WebSocket (channel, product) subscriptions.",
            load(&feed.subscriptions),
        )?;
        let feed_counters: [(&str, &str, &AtomicU64); 8] = [
            (
                "hayate_ws_refused_total",
                "WebSocket connections refused by the caps.",
                &feed.refused,
            ),
            (
                "hayate_ws_slow_disconnects_total",
                "Subscribers dropped because their queue was full (they did not read).",
                &feed.slow_disconnects,
            ),
            (
                "hayate_ws_errors_total",
                "WebSocket client messages answered with an error.",
                &feed.malformed,
            ),
            (
                "hayate_ws_messages_total",
                "Messages queued to WebSocket subscribers.",
                &feed.messages_sent,
            ),
            (
                "hayate_ws_updates_total",
                "Updates applied by the feed's builder.",
                &feed.updates,
            ),
            (
                "hayate_ws_encodes_total",
                "Feed messages encoded (once per channel and update, shared by every subscriber).",
                &feed.encodes,
            ),
            (
                "hayate_ws_encoded_bytes_total",
                "Bytes of feed messages encoded.",
                &feed.encoded_bytes,
            ),
            (
                "hayate_ws_resets_total",
                "Times the feed fell behind the gateway and was reset.",
                &feed.resets,
            ),
        ];
        for (name, help, value) in feed_counters {
            counter(e, name, help, load(value))?;
        }
        gauge(
            e,
            "hayate_uptime_seconds",
            "Seconds since the gateway started.",
            metrics.uptime_s(),
        )?;

        let mut rejects = e.encode_descriptor(
            "hayate_rejects",
            "Orders and requests refused, by reason code.",
            None,
            MetricType::Counter,
        )?;
        for (code, value) in metrics.rejects_by_reason.iter().enumerate() {
            let Some(reason) = Reason::from_u8(code as u8).filter(|r| *r != Reason::None) else {
                continue;
            };
            let labels = [("reason", reason.code())];
            ConstCounter::new(load(value)).encode(rejects.encode_family(&labels)?)?;
        }
        Ok(())
    }
}

/// `hayate_journal_segments`: the segment files in the journal directory, named as the journal
/// names them (`{first_seq:020}.seg`). Listing a directory is a few system calls, done at scrape
/// time; a directory that cannot be read leaves the figure out (the journal's own errors stop
/// the pipeline and show elsewhere).
#[derive(Debug)]
struct JournalCollector {
    dir: PathBuf,
}

impl Collector for JournalCollector {
    fn encode(&self, mut encoder: DescriptorEncoder) -> fmt::Result {
        let Ok(segments) = hayate_journal::segment::list_segments(&self.dir) else {
            return Ok(());
        };
        gauge(
            &mut encoder,
            "hayate_journal_segments",
            "Segment files in the journal directory.",
            segments.len() as u64,
        )
    }
}

/// `hayate_order_ack_latency_seconds` as a summary, by hand (see the module's doc).
fn write_latency_summary(out: &mut String, latency: &LatencySummary) -> fmt::Result {
    let load = |c: &AtomicU64| c.load(Ordering::Relaxed);
    out.push_str(
        "# HELP hayate_order_ack_latency_seconds Gateway receive to first report written, from an HdrHistogram.\n\
         # TYPE hayate_order_ack_latency_seconds summary\n",
    );
    for (quantile, value) in [
        ("0.5", &latency.p50),
        ("0.99", &latency.p99),
        ("0.999", &latency.p999),
        ("1", &latency.max),
    ] {
        writeln!(
            out,
            "hayate_order_ack_latency_seconds{{quantile=\"{quantile}\"}} {:.9}",
            load(value) as f64 / 1e9
        )?;
    }
    writeln!(
        out,
        "hayate_order_ack_latency_seconds_count {}",
        load(&latency.count)
    )
}
