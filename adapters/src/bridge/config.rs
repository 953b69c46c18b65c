//! The bridge's configuration file (`cargo run --release --example bridge -- --config FILE`).
//!
//! ```toml
//! [bridge]
//! name = "bridge-1"                      # how the primary lists it
//! exchange = "exchange.toml"             # the gateway's configuration: the same engine
//! nodes = ["127.0.0.1:9100", "127.0.0.1:9101"]   # both nodes' [replication] listen
//! observer_secret_file = "observers.secret"      # or observer_secret = "…"
//! data_dir = "bridge-data"               # its snapshots
//! metrics = "127.0.0.1:9300"             # its /metrics
//! batch = 5000                           # commands per sink write (one transaction)
//! snapshot_every = 100000                # its state is saved every N commands
//! md_snapshot_every = 100                # a symbol's level-2 snapshot every N updates
//! md_state_every = 1000                  # the whole market-data state (edges start from it)
//! heartbeat_ms = 100                     # at most the primary's
//! retry_ms = 1000                        # wait before retrying a sink or the primary
//!
//! [postgres]                             # optional: the back office's tables
//! url = "postgresql://hayate@127.0.0.1:5432/hayate"
//!
//! [nats]                                 # optional: JetStream for the edges and drop copies
//! url = "nats://127.0.0.1:4222"
//! replicas = 1                           # 3 on a three-server cluster
//! ```
//!
//! At least one of `[postgres]` and `[nats]` is required. Paths are as written (relative to the
//! working directory), like the gateway's.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use hayate_core::config::ConfigError;
use serde::Deserialize;

use crate::config::ExchangeConfig;
use crate::replication::observer::ObserveSettings;
use crate::secrets::PairSecret;

/// The file as loaded and checked.
#[derive(Debug, Clone)]
pub struct BridgeConfig {
    /// The exchange's configuration (the engine the bridge applies the journal with).
    pub exchange: ExchangeConfig,
    /// How it observes the primary.
    pub observe: ObserveSettings,
    /// Where it keeps its snapshots.
    pub data_dir: PathBuf,
    /// Where `/metrics` listens (`None`: nowhere).
    pub metrics: Option<SocketAddr>,
    /// Commands per sink write.
    pub batch: usize,
    /// Its state is saved every this many commands.
    pub snapshot_every: u64,
    /// A symbol's level-2 snapshot every this many updates.
    pub md_snapshot_every: u64,
    /// The whole market-data state every this many commands.
    pub md_state_every: u64,
    /// Wait before retrying.
    pub retry: Duration,
    /// `[postgres]`, when given.
    pub postgres: Option<PostgresSection>,
    /// `[nats]`, when given.
    pub nats: Option<NatsSection>,
}

/// `[postgres]`.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct PostgresSection {
    /// The connection URL or key-value string (`postgresql://user@host:port/db`).
    pub url: String,
}

/// `[nats]`.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct NatsSection {
    /// The server URL (`nats://host:port`; several, comma-separated, for a cluster).
    pub url: String,
    /// Stream replicas: 1 on one server, 3 on a three-server cluster.
    #[serde(default = "one")]
    pub replicas: usize,
    /// The subjects' first token (default `hayate`).
    #[serde(default = "default_prefix")]
    pub prefix: String,
}

fn one() -> usize {
    1
}

fn default_prefix() -> String {
    "hayate".into()
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFile {
    bridge: RawBridge,
    postgres: Option<PostgresSection>,
    nats: Option<NatsSection>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawBridge {
    #[serde(default = "default_name")]
    name: String,
    exchange: String,
    nodes: Vec<String>,
    observer_secret: Option<String>,
    observer_secret_file: Option<String>,
    #[serde(default = "default_data_dir")]
    data_dir: String,
    metrics: Option<String>,
    #[serde(default = "default_batch")]
    batch: usize,
    #[serde(default = "default_snapshot_every")]
    snapshot_every: u64,
    #[serde(default = "default_md_snapshot_every")]
    md_snapshot_every: u64,
    #[serde(default = "default_md_state_every")]
    md_state_every: u64,
    #[serde(default = "default_heartbeat_ms")]
    heartbeat_ms: u64,
    #[serde(default = "default_retry_ms")]
    retry_ms: u64,
}

fn default_name() -> String {
    "bridge".into()
}
fn default_data_dir() -> String {
    "bridge-data".into()
}
fn default_batch() -> usize {
    5000
}
fn default_snapshot_every() -> u64 {
    100_000
}
fn default_md_snapshot_every() -> u64 {
    100
}
fn default_md_state_every() -> u64 {
    super::apply::DEFAULT_MARKET_STATE_EVERY
}
fn default_heartbeat_ms() -> u64 {
    100
}
fn default_retry_ms() -> u64 {
    1000
}

impl BridgeConfig {
    /// Reads and checks the file at `path`; errors name the file, and the line or the key.
    pub fn load(path: &Path) -> Result<BridgeConfig, ConfigError> {
        let text = hayate_core::config::read(path)?;
        BridgeConfig::from_toml_str(&text, &path.display().to_string())
    }

    /// Parses and checks `text`; `origin` names it in errors.
    pub fn from_toml_str(text: &str, origin: &str) -> Result<BridgeConfig, ConfigError> {
        let raw: RawFile =
            toml::from_str(text).map_err(|e| ConfigError::parse(text, origin, &e))?;
        let invalid = |key: &str, message: String| ConfigError::Invalid {
            origin: origin.to_string(),
            key: key.to_string(),
            message,
        };
        let b = raw.bridge;
        let exchange = ExchangeConfig::load(Path::new(&b.exchange))
            .map_err(|e| invalid("bridge.exchange", e.to_string()))?;
        if b.nodes.is_empty() {
            return Err(invalid(
                "bridge.nodes",
                "name at least one node's [replication] listen address".into(),
            ));
        }
        let nodes = b
            .nodes
            .iter()
            .map(|n| {
                n.parse::<SocketAddr>()
                    .map_err(|e| invalid("bridge.nodes", format!("{n:?}: {e}")))
            })
            .collect::<Result<Vec<_>, _>>()?;
        let secret = match (b.observer_secret, b.observer_secret_file) {
            (Some(secret), None) => PairSecret::new(secret.as_bytes())
                .map_err(|why| invalid("bridge.observer_secret", why))?,
            (None, Some(file)) => {
                let bytes = std::fs::read(&file).map_err(|e| {
                    invalid(
                        "bridge.observer_secret_file",
                        format!("cannot read {file}: {e}"),
                    )
                })?;
                PairSecret::new(&bytes).map_err(|why| {
                    invalid(
                        "bridge.observer_secret_file",
                        format!("{file}: the secret {why}"),
                    )
                })?
            }
            _ => {
                return Err(invalid(
                    "bridge.observer_secret",
                    "give observer_secret or observer_secret_file (exactly one): the primary's \
                     [replication] observer_secret"
                        .into(),
                ));
            }
        };
        let metrics = b
            .metrics
            .map(|m| {
                m.parse::<SocketAddr>()
                    .map_err(|e| invalid("bridge.metrics", format!("{m:?}: {e}")))
            })
            .transpose()?;
        let positive = |key: &str, value: u64| {
            if value == 0 {
                Err(invalid(key, "must be positive".into()))
            } else {
                Ok(value)
            }
        };
        let batch = positive("bridge.batch", b.batch as u64)? as usize;
        let snapshot_every = positive("bridge.snapshot_every", b.snapshot_every)?;
        let md_snapshot_every = positive("bridge.md_snapshot_every", b.md_snapshot_every)?;
        let md_state_every = positive("bridge.md_state_every", b.md_state_every)?;
        let heartbeat = Duration::from_millis(positive("bridge.heartbeat_ms", b.heartbeat_ms)?);
        let retry = Duration::from_millis(positive("bridge.retry_ms", b.retry_ms)?);
        if raw.postgres.is_none() && raw.nats.is_none() {
            return Err(invalid(
                "bridge",
                "give [postgres], [nats] or both: where the bridge writes".into(),
            ));
        }
        if let Some(nats) = &raw.nats
            && !(1..=5).contains(&nats.replicas)
        {
            return Err(invalid("nats.replicas", "must be 1 to 5".into()));
        }
        let config_digest = hayate_core::Engine::new(exchange.engine_config().clone()).digest();
        Ok(BridgeConfig {
            observe: ObserveSettings {
                nodes,
                name: b.name,
                secret,
                config_digest,
                heartbeat,
                tls: None,
                connect_timeout: Duration::from_secs(5),
            },
            exchange,
            data_dir: PathBuf::from(b.data_dir),
            metrics,
            batch,
            snapshot_every,
            md_snapshot_every,
            md_state_every,
            retry,
            postgres: raw.postgres,
            nats: raw.nats,
        })
    }

    /// The runner's settings.
    pub fn settings(&self) -> super::BridgeSettings {
        super::BridgeSettings {
            observe: self.observe.clone(),
            engine: self.exchange.engine_config().clone(),
            data_dir: self.data_dir.clone(),
            batch: self.batch,
            snapshot_every: self.snapshot_every,
            md_snapshot_every: self.md_snapshot_every,
            md_state_every: self.md_state_every,
            retry: self.retry,
        }
    }
}
