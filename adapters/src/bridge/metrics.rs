//! The bridge's own `/metrics`: how far it and each sink are behind the primary (sequences and
//! seconds), whether each sink is up, what it has written; plus the process figures. Read from
//! the bridge's atomics at scrape time on the HTTP thread.

use std::fmt;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric};
use prometheus_client::metrics::MetricType;
use prometheus_client::metrics::counter::ConstCounter;
use prometheus_client::metrics::gauge::ConstGauge;
use prometheus_client::registry::Registry;

use super::runner::BridgeStatus;
use crate::http::HttpServer;
use crate::metrics::exposition::{CONTENT_TYPE, counter, gauge};
use crate::metrics::process::ProcessCollector;

#[derive(Debug)]
struct BridgeCollector {
    status: Arc<BridgeStatus>,
}

impl Collector for BridgeCollector {
    fn encode(&self, mut encoder: DescriptorEncoder) -> fmt::Result {
        let e = &mut encoder;
        let s = &*self.status;
        let now_ns = crate::clock::unix_ns();
        gauge(
            e,
            "hayate_bridge_applied_seq",
            "The last journal sequence the bridge applied.",
            s.applied_seq.load(Ordering::Acquire),
        )?;
        gauge(
            e,
            "hayate_bridge_primary_seq",
            "The primary's last processed sequence, as it last told the bridge.",
            s.primary_seq.load(Ordering::Acquire),
        )?;
        gauge(
            e,
            "hayate_bridge_lag_sequences",
            "Processed commands of the primary that some sink does not hold yet.",
            s.lag_sequences(),
        )?;
        gauge(
            e,
            "hayate_bridge_lag_seconds",
            "Age of the newest command every sink holds, while some are missing (0 caught up).",
            s.lag_seconds(now_ns),
        )?;
        gauge(
            e,
            "hayate_bridge_connected",
            "1 while the bridge is connected to a primary.",
            u64::from(s.connected.load(Ordering::Acquire)),
        )?;
        counter(
            e,
            "hayate_bridge_connections_total",
            "Connections to a primary since start.",
            s.connections.load(Ordering::Relaxed),
        )?;
        let families: [(&str, &str, MetricType); 4] = [
            (
                "hayate_bridge_sink_cursor",
                "The last journal sequence the sink holds (committed with its data).",
                MetricType::Gauge,
            ),
            (
                "hayate_bridge_sink_up",
                "1 if the sink's last write or cursor read succeeded.",
                MetricType::Gauge,
            ),
            (
                "hayate_bridge_sink_commands",
                "Commands written to the sink since start.",
                MetricType::Counter,
            ),
            (
                "hayate_bridge_sink_errors",
                "Failed writes or cursor reads of the sink (each retried).",
                MetricType::Counter,
            ),
        ];
        for (n, (name, help, kind)) in families.into_iter().enumerate() {
            let mut family = e.encode_descriptor(name, help, None, kind)?;
            for sink in &s.sinks {
                let labels = [("sink", sink.name)];
                let encoder = family.encode_family(&labels)?;
                match n {
                    0 => ConstGauge::new(sink.cursor.load(Ordering::Acquire)).encode(encoder)?,
                    1 => ConstGauge::new(u64::from(!sink.down.load(Ordering::Acquire)))
                        .encode(encoder)?,
                    2 => {
                        ConstCounter::new(sink.commands.load(Ordering::Relaxed)).encode(encoder)?
                    }
                    _ => ConstCounter::new(sink.errors.load(Ordering::Relaxed)).encode(encoder)?,
                }
            }
        }
        Ok(())
    }
}

/// The page, in the Prometheus text format.
pub fn metrics_page(status: &Arc<BridgeStatus>) -> String {
    let mut registry = Registry::default();
    registry.register_collector(Box::new(BridgeCollector {
        status: Arc::clone(status),
    }));
    registry.register_collector(Box::new(ProcessCollector));
    let mut out = String::new();
    if prometheus_client::encoding::text::encode(&mut out, &registry).is_err() {
        out.clear();
    }
    out
}

/// Serves `/metrics` on `addr`.
pub fn serve(addr: SocketAddr, status: Arc<BridgeStatus>) -> std::io::Result<HttpServer> {
    HttpServer::start(
        addr,
        Arc::new(move |url: &str| match url {
            "/metrics" => Some((200, CONTENT_TYPE, metrics_page(&status))),
            _ => None,
        }),
    )
}
