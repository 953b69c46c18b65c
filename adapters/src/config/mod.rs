//! The gateway's configuration file (BEHAVIOUR.md §5, §7, §8), assembled: the gateway's own
//! sections ([`sections`]) and the core's ([`hayate_core::config`]), each read and checked by its
//! layer; every error names the file and the key (and the line, for a parse error).
//!
//! Decimals exist only here: every size and amount in the file is in asset units (`"0.0001"` BTC)
//! and leaves this module as an integer of ticks, lots or minor units, or the load fails with a
//! message naming the file and the key.
//!
//! ```
//! use hayate_adapters::config::ExchangeConfig;
//! use hayate_journal::FlushPolicy;
//!
//! let config = ExchangeConfig::from_toml_str(
//!     r#"
//!     [journal]
//!     fsync = "interval"
//!     fsync_interval_ms = 5
//!
//!     [[assets]]
//!     name = "BTC"
//!     decimals = 8
//!     [[assets]]
//!     name = "JPY"
//!     decimals = 0
//!
//!     [[symbols]]
//!     name = "BTC-JPY"
//!     base = "BTC"
//!     quote = "JPY"
//!     tick_size = "1000"
//!     lot_size = "0.001"
//!     "#,
//!     "gateway.toml",
//! )?;
//! assert_eq!(config.journal().fsync, FlushPolicy::Interval { ms: 5 });
//! let btc_jpy = &config.engine_config().symbols[0];
//! assert_eq!((btc_jpy.unit_notional, btc_jpy.lot_base_minor), (1, 100_000));
//!
//! let error = ExchangeConfig::from_toml_str("[[assets]]\nname = \"JPY\"\ndecimals = 40\n", "x.toml")
//!     .unwrap_err();
//! assert_eq!(error.to_string(), "x.toml: assets[0] (JPY).decimals: 40 is above the maximum of 18");
//! # Ok::<(), hayate_core::ConfigError>(())
//! ```

use std::net::SocketAddr;
use std::path::Path;

use hayate_core::command::Command;
use hayate_core::config::{Checker, ConfigError, CoreConfig};
use hayate_core::engine::EngineConfig;
use hayate_core::pipeline::{JournalConfig, PipelineConfig};

mod checks;
pub mod sections;

use crate::tls::TlsConfig;
use checks::{GatewayChecker, RawConfig};
use sections::missing_role_address;
pub use sections::{
    AdminConfig, AdminRole, AlertsConfig, AuthMode, GatewayConfig, LimitsConfig,
    MAX_MESSAGE_STORE_MB, MIN_MESSAGE_SIZE, MarketDataConfig, ReplicationConfig, Role, UserConfig,
    WebhookUrl,
};

/// The demo exchange: BEHAVIOUR.md §5's example plus a second user, so two parties can trade out
/// of the box. It is also the annotated example file to copy and edit: the gateway's sections,
/// then the core's ([`hayate_core::demo_core_toml`]).
pub const DEMO_TOML: &str = concat!(
    r#"# Hayate demo exchange. Every key has a default; an empty file starts an exchange with nothing
# to trade. Decimals are in asset units and written as strings ("0.0001") or integers, never floats.

[gateway]
comp_id = "HAYATE"              # our FIX SenderCompID
fix_listen = "127.0.0.1:9878"
binary_listen = "127.0.0.1:9000"
http_listen = "127.0.0.1:8080"  # /status (JSON) and /metrics (Prometheus text)
max_message_size = 4096         # bytes; a larger declared message closes the connection
fix_message_store_mb = 16       # sent messages each FIX session keeps for resends; 0 = none
# admin_listen = "127.0.0.1:9001" # admins log on here only (binary protocol); default: binary_listen

[market_data]
ws_listen = "127.0.0.1:8081"    # the public WebSocket feed (BEHAVIOUR.md §9); leave out to turn it off
max_connections = 1024          # WebSocket connections in total
max_connections_per_address = 64
max_subscriptions = 100         # (channel, product) pairs per connection
messages_per_second = 10        # client messages per connection (token bucket rate)
burst = 20                      # client messages per connection (token bucket size)
max_message_size = 4096         # bytes; a larger client frame closes the connection
max_queued_bytes = 4194304      # unsent bytes per subscriber; past it the subscriber is dropped
handshake_timeout_s = 10        # to finish the WebSocket handshake
idle_timeout_s = 60             # a connection with no subscription for this long is closed

[limits]
max_open_orders = 10000         # per account, over all symbols
messages_per_second = 100       # per session (token bucket rate)
burst = 200                     # per session (token bucket size)
max_connections = 1024
max_connections_per_address = 64
logon_timeout_s = 10
idle_timeout_s = 60
logon_free_failures = 3         # failed logons per address (and per username) answered at once
logon_backoff_ms = 1000         # then refused unchecked for this long, doubling per failure
logon_lockout_after = 10        # failures that lock the address (the username: for addresses
logon_lockout_s = 300           # it never logged on from) for this long

[[users]]
username = "alice"
password = "change-me"          # clear text (warned at start-up) or an argon2id hash
                                # (`cargo run --example admin -- hash-password` prints one)
comp_id = "ALICE"               # the client's SenderCompID
account = 1
cancel_on_disconnect = true

[[users]]
username = "bob"
password = "change-me"
comp_id = "BOB"
account = 2
cancel_on_disconnect = true

[[admins]]
username = "admin"
password = "change-me"          # or an argon2 hash: `cargo run --example admin -- hash-password`
role = "root"                   # viewer (status) | operator (halts) | treasury (funds) | root

# A hot standby pair (BEHAVIOUR.md §7):
# [replication]
# role = "primary"              # primary | standby
# listen = "127.0.0.1:9100"     # where a primary accepts its standby
# primary = "127.0.0.1:9100"    # where a standby finds its primary
# secret_file = "pair.secret"   # the pair's shared secret, ≥ 16 bytes (or secret = "…"):
#                               # both nodes prove it on every connection (`openssl rand -hex 32`)
# mode = "sync"                 # sync | async
# on_standby_loss = "degrade"   # sync without a standby: degrade (trade on, alarm) | halt
# ack_timeout_ms = 1000         # how long a batch waits for the standby before that applies
# heartbeat_ms = 100            # heartbeats both ways; 5 missed = the peer is gone
# auto_promote_after = 0        # missed heartbeats before a standby promotes itself; 0 = never
# observer_secret_file = "observers.secret"  # read-only followers (bridges) on the same port
#                               # prove this one (≥ 16 bytes, not the pair's); unset = none served
# max_observers = 8             # at most this many at once

# TLS on the listeners (all plain TCP by default). The certificate and key are PEM files, read at
# start (paths as written: relative to the working directory, like secret_file):
# [tls]
# cert_file = "server.crt"      # the certificate chain, the server's own certificate first
# key_file = "server.key"       # its private key (PKCS#8, PKCS#1 or SEC1)
# fix = true                    # FIX port
# binary = true                 # binary port (and the admin client: admin --tls --ca FILE)
# http = true                   # https:// for /status, /metrics, /book, /trades
# ws = true                     # wss:// for the market-data feed
# replication = true            # the pair's link, on both nodes (either may be primary): the
#                               # primary presents cert_file; the standby checks it against
# ca_file = "pair-ca.crt"       # the CA (or the peer's self-signed certificate) it trusts,
# peer_name = "node-a.example"  # for this name (default: the peer's IP address)

# Alerts without Prometheus: the gateway POSTs a JSON alert when a component changes state
# (standby lost/back, disk guard, halts, pipeline failed; BEHAVIOUR.md §7):
# [alerts]
# webhook = "http://127.0.0.1:9093/hayate"  # http:// only (for https, a local relay)
# timeout_ms = 2000             # connect, write and read, per attempt
# retries = 3                   # further attempts, back-off doubling from 250 ms
# queue = 256                   # alerts waiting at most; past it the oldest is dropped (counted)

"#,
    "\n",
    hayate_core::demo_core_toml!()
);

/// The whole gateway configuration file, parsed and validated.
///
/// Every section is read-only: the engine's part is derived from several sections at load time,
/// so a change goes through the TOML text, where it is checked again.
#[derive(Clone, Debug)]
pub struct ExchangeConfig {
    gateway: GatewayConfig,
    users: Vec<UserConfig>,
    admins: Vec<AdminConfig>,
    limits: LimitsConfig,
    market_data: MarketDataConfig,
    replication: Option<ReplicationConfig>,
    tls: TlsConfig,
    alerts: AlertsConfig,
    core: CoreConfig,
    warnings: Vec<String>,
}

/// A warning if others than the owner (and group) may read `path`, which holds secrets.
pub(crate) fn readable_by_others(path: &Path) -> Option<String> {
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(path).ok()?.permissions().mode();
    (mode & 0o004 != 0).then(|| {
        format!(
            "{}: holds secrets and every user of this machine can read it (mode {:o}); \
             `chmod o-r` it",
            path.display(),
            mode & 0o777
        )
    })
}

impl ExchangeConfig {
    /// The demo exchange ([`DEMO_TOML`]), used when no file is given.
    pub fn demo() -> ExchangeConfig {
        ExchangeConfig::from_toml_str(DEMO_TOML, "demo.toml")
            .expect("the embedded demo configuration is valid")
    }

    /// Reads and validates the file at `path`.
    pub fn load(path: &Path) -> Result<ExchangeConfig, ConfigError> {
        let text = hayate_core::config::read(path)?;
        let mut config = ExchangeConfig::from_toml_str(&text, &path.display().to_string())?;
        let holds_secrets =
            !config.users.is_empty() || !config.admins.is_empty() || config.replication.is_some();
        if holds_secrets && let Some(warning) = readable_by_others(path) {
            config.warnings.push(warning);
        }
        Ok(config)
    }

    /// What loaded but should be fixed (clear-text passwords, secrets others can read), one
    /// line each naming the file and the entry; the gateway logs them at start-up.
    pub fn warnings(&self) -> &[String] {
        &self.warnings
    }

    /// Parses and validates `text`; `origin` (usually the file name) starts every error message.
    pub fn from_toml_str(text: &str, origin: &str) -> Result<ExchangeConfig, ConfigError> {
        let raw: RawConfig =
            toml::from_str(text).map_err(|e| ConfigError::parse(text, origin, &e))?;
        GatewayChecker {
            checker: Checker::new(origin),
            warnings: Default::default(),
        }
        .check(raw)
    }

    /// `[gateway]`.
    pub fn gateway(&self) -> &GatewayConfig {
        &self.gateway
    }

    /// `[journal]`.
    pub fn journal(&self) -> &JournalConfig {
        &self.core.journal
    }

    /// `[[users]]`, in file order.
    pub fn users(&self) -> &[UserConfig] {
        &self.users
    }

    /// `[[admins]]`, in file order.
    pub fn admins(&self) -> &[AdminConfig] {
        &self.admins
    }

    /// `[limits]`.
    pub fn limits(&self) -> &LimitsConfig {
        &self.limits
    }

    /// `[market_data]`.
    pub fn market_data(&self) -> &MarketDataConfig {
        &self.market_data
    }

    /// The same configuration with the WebSocket feed at `addr` (`None`: off); for tools and
    /// tests that pick their own ports.
    pub fn with_ws_listen(mut self, addr: Option<SocketAddr>) -> ExchangeConfig {
        self.market_data.ws_listen = addr;
        self
    }

    /// `[pipeline]`.
    pub fn pipeline(&self) -> &PipelineConfig {
        &self.core.pipeline
    }

    /// `[replication]`, if this node is one of a pair.
    pub fn replication(&self) -> Option<&ReplicationConfig> {
        self.replication.as_ref()
    }

    /// `[alerts]`: where the gateway sends its alerts, if anywhere.
    pub fn alerts(&self) -> &AlertsConfig {
        &self.alerts
    }

    /// `[tls]`: which listeners speak TLS, with what certificate.
    pub fn tls(&self) -> &TlsConfig {
        &self.tls
    }

    /// The same configuration with this node in `role` (an operator's `--role`, or a primary
    /// that stepped down rejoining as a standby). Fails, naming the key, without `[replication]`
    /// or without the address the role needs.
    pub fn with_role(&self, role: Role) -> Result<ExchangeConfig, ConfigError> {
        let invalid = |key: &str, message: &str| ConfigError::Invalid {
            origin: "--role".to_owned(),
            key: key.to_owned(),
            message: message.to_owned(),
        };
        let Some(replication) = &self.replication else {
            return Err(invalid(
                "replication",
                "is missing: a role needs a [replication] section",
            ));
        };
        if let Some((key, message)) =
            missing_role_address(role, replication.listen, replication.primary)
        {
            return Err(invalid(key, message));
        }
        let mut config = self.clone();
        if let Some(replication) = &mut config.replication {
            replication.role = role;
        }
        Ok(config)
    }

    /// The user whose login name is `username`.
    pub fn user(&self, username: &str) -> Option<&UserConfig> {
        self.users.iter().find(|u| u.username == username)
    }

    /// The user whose FIX SenderCompID is `comp_id`.
    pub fn user_by_comp_id(&self, comp_id: &str) -> Option<&UserConfig> {
        self.users.iter().find(|u| u.comp_id == comp_id)
    }

    /// The admin whose login name is `username`.
    pub fn admin(&self, username: &str) -> Option<&AdminConfig> {
        self.admins.iter().find(|a| a.username == username)
    }

    /// The engine part: assets, symbols in integer units, the users' accounts (sorted, without
    /// duplicates), `[limits] max_open_orders` and the `[engine]` capacities.
    pub fn engine_config(&self) -> &EngineConfig {
        &self.core.engine
    }

    /// The core's part (engine, journal, pipeline, deposits), for
    /// [`CoreConfig::pipeline_builder`].
    pub fn core(&self) -> &CoreConfig {
        &self.core
    }

    /// The `[[deposits]]` as commands in file order, applied once on a fresh journal.
    pub fn initial_deposits(&self) -> Vec<Command> {
        self.core.deposits.clone()
    }
}
