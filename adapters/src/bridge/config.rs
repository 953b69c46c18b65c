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
//! ca_file = "pair-ca.pem"                # when the nodes have [tls] replication: the roots
//! peer_name = "exchange.internal"        #   and the name their certificate must carry
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
    ca_file: Option<String>,
    peer_name: Option<String>,
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
        // The nodes' replication port speaks TLS when they set `[tls] replication`: the bridge
        // then checks their certificate as a standby does, without one of its own (the port
        // asks for none; the observers' secret proves who the bridge is).
        let peer_name = b
            .peer_name
            .map(|name| {
                crate::tls::peer_name(&name).map_err(|why| invalid("bridge.peer_name", why))
            })
            .transpose()?;
        let tls = match (b.ca_file, peer_name) {
            (Some(ca_file), peer_name) => Some(crate::tls::TlsDialer::new(
                crate::tls::client_config(Path::new(&ca_file))
                    .map_err(|why| invalid("bridge.ca_file", why))?,
                peer_name,
            )),
            (None, Some(_)) => {
                return Err(invalid(
                    "bridge.peer_name",
                    "names what the nodes' certificate carries: give ca_file too".into(),
                ));
            }
            (None, None) => None,
        };
        let config_digest = hayate_core::Engine::new(exchange.engine_config().clone()).digest();
        Ok(BridgeConfig {
            observe: ObserveSettings {
                nodes,
                name: b.name,
                secret,
                config_digest,
                heartbeat,
                tls,
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

#[cfg(test)]
mod tests {
    use super::*;

    /// The demo exchange written to `dir`, and a valid bridge file naming it.
    fn valid(dir: &Path) -> String {
        let exchange = dir.join("exchange.toml");
        std::fs::write(&exchange, crate::config::DEMO_TOML).expect("write");
        format!(
            "[bridge]\nexchange = {:?}\nnodes = [\"127.0.0.1:9100\"]\nobserver_secret = \"observers-0123456789abcdef\"\n\n[nats]\nurl = \"nats://127.0.0.1:4222\"\n",
            exchange.display().to_string()
        )
    }

    /// The key an error names.
    fn key_of(text: &str) -> String {
        match BridgeConfig::from_toml_str(text, "bridge.toml") {
            Err(ConfigError::Invalid { key, .. }) => key,
            Err(ConfigError::Parse { key, message, .. }) => {
                key.unwrap_or_else(|| format!("(parse) {message}"))
            }
            Err(other) => format!("{other}"),
            Ok(_) => "accepted".into(),
        }
    }

    #[test]
    fn a_minimal_file_loads_with_the_documented_defaults() {
        let dir = tempfile::tempdir().expect("tempdir");
        let config = BridgeConfig::from_toml_str(&valid(dir.path()), "bridge.toml").expect("valid");
        assert_eq!(config.observe.name, "bridge");
        assert_eq!(config.batch, 5000);
        assert_eq!(config.snapshot_every, 100_000);
        assert_eq!(config.md_state_every, 1000);
        assert!(config.observe.tls.is_none(), "plain TCP unless ca_file");
        assert!(config.postgres.is_none());
        assert_eq!(config.nats.as_ref().map(|n| n.replicas), Some(1));
    }

    #[test]
    fn every_mistake_names_its_key() {
        let dir = tempfile::tempdir().expect("tempdir");
        let good = valid(dir.path());
        let with = |line: &str| good.replacen("[nats]", &format!("{line}\n\n[nats]"), 1);
        assert_eq!(
            key_of(&good.replace("127.0.0.1:9100", "nowhere")),
            "bridge.nodes"
        );
        assert_eq!(
            key_of(&good.replace("[\"127.0.0.1:9100\"]", "[]")),
            "bridge.nodes"
        );
        assert_eq!(
            key_of(&good.replace("observers-0123456789abcdef", "short")),
            "bridge.observer_secret"
        );
        assert_eq!(key_of(&with("batch = 0")), "bridge.batch");
        assert_eq!(key_of(&with("metrics = \"port 80\"")), "bridge.metrics");
        assert_eq!(
            key_of(&with("observer_secret_file = \"/nonexistent/secret\"")),
            "bridge.observer_secret"
        );
        assert_eq!(
            key_of(&with("ca_file = \"/nonexistent/ca.pem\"")),
            "bridge.ca_file"
        );
        assert_eq!(
            key_of(&with("peer_name = \"exchange.internal\"")),
            "bridge.peer_name"
        );
        assert_eq!(
            key_of(&good.replace("url = \"nats", "replicas = 7\nurl = \"nats")),
            "nats.replicas"
        );
        let no_sink = good.split("[nats]").next().unwrap_or_default().to_string();
        assert_eq!(key_of(&no_sink), "bridge");
        assert!(key_of(&with("colour = \"blue\"")).contains("colour"));
    }

    #[test]
    fn a_ca_file_turns_tls_on_toward_the_nodes() {
        let dir = tempfile::tempdir().expect("tempdir");
        let made = rcgen::generate_simple_self_signed(vec!["exchange.internal".to_string()])
            .expect("a certificate");
        let ca = dir.path().join("ca.pem");
        std::fs::write(&ca, made.cert.pem()).expect("write");
        let text = valid(dir.path()).replacen(
            "[nats]",
            &format!(
                "ca_file = {:?}\npeer_name = \"exchange.internal\"\n\n[nats]",
                ca.display().to_string()
            ),
            1,
        );
        let config = BridgeConfig::from_toml_str(&text, "bridge.toml").expect("valid");
        assert!(config.observe.tls.is_some());
        let bad_name = text.replace("exchange.internal", "not a name!");
        assert_eq!(key_of(&bad_name), "bridge.peer_name");
    }
}
