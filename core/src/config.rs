//! The gateway's TOML configuration (SPEC §5, §7, §8): read, checked against every rule, and turned
//! into the integer [`EngineConfig`] the engine runs on plus the typed sections the edges read.
//!
//! Decimals exist only here: every size and amount in the file is in asset units (`"0.0001"` BTC)
//! and leaves this module as an integer of ticks, lots or minor units, or the load fails with a
//! message naming the file and the key.
//!
//! ```
//! use hayate_core::config::{ExchangeConfig, FsyncPolicy};
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
//! assert_eq!(config.journal().fsync, FsyncPolicy::Interval { ms: 5 });
//! let btc_jpy = &config.engine_config().symbols[0];
//! assert_eq!((btc_jpy.unit_notional, btc_jpy.lot_base_minor), (1, 100_000));
//!
//! let error = ExchangeConfig::from_toml_str("[[assets]]\nname = \"JPY\"\ndecimals = 40\n", "x.toml")
//!     .unwrap_err();
//! assert_eq!(error.to_string(), "x.toml: assets[0] (JPY).decimals: 40 is above the maximum of 18");
//! # Ok::<(), hayate_core::ConfigError>(())
//! ```

use std::collections::HashMap;
use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use rust_decimal::Decimal;
use serde::Deserialize;

use crate::command::Command;
use crate::engine::{AssetSpec, BPS, EngineConfig, SymbolSpec};
use crate::pipeline::{StagePins, StandbyLossPolicy, Wait};
use crate::units::{AccountId, Amount, AssetId, MAX_AMOUNT, Price, Qty};

/// The demo exchange: SPEC §5's example plus a second user, so two parties can trade out of the
/// box. It is also the annotated example file to copy and edit.
pub const DEMO_TOML: &str = r#"# Hayate demo exchange. Every key has a default; an empty file starts an exchange with nothing
# to trade. Decimals are in asset units and written as strings ("0.0001") or integers, never floats.

[gateway]
comp_id = "HAYATE"              # our FIX SenderCompID
fix_listen = "127.0.0.1:9878"
binary_listen = "127.0.0.1:9000"
http_listen = "127.0.0.1:8080"  # /status (JSON) and /metrics (Prometheus text)
max_message_size = 4096         # bytes; a larger declared message closes the connection

[journal]
dir = "data"
fsync = "always"                # always (group commit per batch) | never | interval
# fsync_interval_ms = 10        # required with fsync = "interval"
segment_size = 67108864         # bytes per journal segment (64 MiB)
snapshot_every = 0              # commands between snapshots; 0 = only at stop and when an admin asks
keep_snapshots = 3              # newest valid snapshots kept; older ones and the journal segments
                                # wholly covered by the oldest kept one are deleted (0 = keep all)

[pipeline]
input_ring = 16384              # slots, a power of two >= 64; a full ring pushes back on gateways
output_ring = 65536             # slots, a power of two
wait = "backoff"                # backoff (spin, yield, nap: safe on shared cores) | yield | busy-spin
# pin_journaler = 2             # core ids, for machines with a core to spare per stage
# pin_replicator = 3
# pin_matcher = 4
snapshot_on_stop = true

[market_data]
ws_listen = "127.0.0.1:8081"    # the public WebSocket feed (SPEC §9); leave out to turn it off
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

[[assets]]
name = "BTC"
decimals = 8
[[assets]]
name = "JPY"
decimals = 4

[[symbols]]
name = "BTC-JPY"
base = "BTC"
quote = "JPY"
tick_size = "1"
lot_size = "0.0001"
min_qty = "0.0001"
max_qty = "1000"
maker_fee_bps = 0
taker_fee_bps = 10
band_bps = 1000
reference_price = "5000000"

[[users]]
username = "alice"
password = "change-me"          # stored as given in this file
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
password = "change-me"

# Applied once, the first time a fresh journal starts.
[[deposits]]
account = 1
asset = "JPY"
amount = "100000000"
[[deposits]]
account = 1
asset = "BTC"
amount = "10"
[[deposits]]
account = 2
asset = "JPY"
amount = "100000000"
[[deposits]]
account = 2
asset = "BTC"
amount = "10"

# A hot standby pair (SPEC §7):
# [replication]
# role = "primary"              # primary | standby
# listen = "127.0.0.1:9100"     # where a primary accepts its standby
# primary = "127.0.0.1:9100"    # where a standby finds its primary
# mode = "sync"                 # sync | async
# on_standby_loss = "degrade"   # sync without a standby: degrade (trade on, alarm) | halt
# ack_timeout_ms = 1000         # how long a batch waits for the standby before that applies
# heartbeat_ms = 100            # heartbeats both ways; 5 missed = the peer is gone
# auto_promote_after = 0        # missed heartbeats before a standby promotes itself; 0 = never
"#;

/// The most assets a configuration may hold; ids are `u16`.
pub const MAX_ASSETS: usize = u16::MAX as usize;
/// The most symbols a configuration may hold; ids are `u16`.
pub const MAX_SYMBOLS: usize = u16::MAX as usize;
/// The most decimals an asset may have: `10^18` minor units per unit still fits a `u64`.
pub const MAX_DECIMALS: u32 = 18;
/// The smallest `[gateway] max_message_size`: a FIX Logon with credentials must fit.
pub const MIN_MESSAGE_SIZE: usize = 256;
/// The smallest `[journal] segment_size`: one page, the granularity segments are mapped in.
pub const MIN_SEGMENT_SIZE: u64 = 4096;

/// Why a configuration was refused. Its message names the file, the key and the problem, so the
/// operator can fix the file without reading code.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("{}: cannot read the configuration: {source}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// What the operating system said.
        #[source]
        source: std::io::Error,
    },
    /// The text is not TOML, or a value has the wrong type, or a key is unknown or missing.
    #[error("{origin}:{line}:{column}: {}", match key {
        Some(key) => format!("{key}: {message}"),
        None => message.clone(),
    })]
    Parse {
        /// The file name.
        origin: String,
        /// 1-based line of the offending text.
        line: usize,
        /// 1-based column (in characters) of the offending text.
        column: usize,
        /// The key path (`symbols[0] (BTC-JPY).tick_size`), when the text parsed far enough to
        /// tell.
        key: Option<String>,
        /// What is wrong, as the TOML parser or the field's reader put it.
        message: String,
    },
    /// Every value parsed, but one breaks a rule of SPEC §1, §5, §7 or §8.
    #[error("{origin}: {key}: {message}")]
    Invalid {
        /// The file name.
        origin: String,
        /// The key path (`symbols[0] (BTC-JPY).tick_size`).
        key: String,
        /// What is wrong and, where it helps, what would be right.
        message: String,
    },
}

impl ConfigError {
    /// The key path the error is about, if known.
    pub fn key(&self) -> Option<&str> {
        match self {
            ConfigError::Read { .. } => None,
            ConfigError::Parse { key, .. } => key.as_deref(),
            ConfigError::Invalid { key, .. } => Some(key),
        }
    }
}

/// `[gateway]`: who we are on FIX and where the gateway listens.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GatewayConfig {
    /// Our FIX SenderCompID (default `HAYATE`).
    pub comp_id: String,
    /// The FIX acceptor's address (default `127.0.0.1:9878`).
    pub fix_listen: SocketAddr,
    /// The binary protocol's address, also used by the admin client (default `127.0.0.1:9000`).
    pub binary_listen: SocketAddr,
    /// `/status` and `/metrics` (default `127.0.0.1:8080`).
    pub http_listen: SocketAddr,
    /// The largest message accepted on any port, in bytes (default 4096); a message declaring
    /// more closes the connection before anything is buffered (SPEC §6).
    pub max_message_size: usize,
}

impl Default for GatewayConfig {
    fn default() -> Self {
        GatewayConfig {
            comp_id: "HAYATE".to_owned(),
            fix_listen: SocketAddr::from(([127, 0, 0, 1], 9878)),
            binary_listen: SocketAddr::from(([127, 0, 0, 1], 9000)),
            http_listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            max_message_size: 4096,
        }
    }
}

/// When the journal forces its writes to disk (SPEC §4, §8).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum FsyncPolicy {
    /// After every batch (group commit): an acknowledged command survives a power cut.
    #[default]
    Always,
    /// Never: an acknowledged command survives a process crash, not a power cut.
    Never,
    /// Every `ms` milliseconds: a power cut loses at most that window.
    Interval {
        /// The period, in milliseconds (`fsync_interval_ms`, positive).
        ms: u64,
    },
}

/// `[journal]`: where and how commands are made durable.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct JournalConfig {
    /// The directory holding journal segments and snapshots (default `data`).
    pub dir: PathBuf,
    /// When writes reach the disk (default [`FsyncPolicy::Always`]).
    pub fsync: FsyncPolicy,
    /// Bytes per segment file (default 64 MiB, at least [`MIN_SEGMENT_SIZE`]).
    pub segment_size: u64,
    /// Commands between automatic snapshots; 0 (the default) takes them only when asked.
    pub snapshot_every: u64,
    /// Snapshots to keep (default 3); older ones, and journal segments wholly covered by the
    /// oldest kept one, are deleted. 0 keeps everything.
    pub keep_snapshots: usize,
}

impl Default for JournalConfig {
    fn default() -> Self {
        JournalConfig {
            dir: PathBuf::from("data"),
            fsync: FsyncPolicy::Always,
            segment_size: 64 << 20,
            snapshot_every: 0,
            keep_snapshots: 3,
        }
    }
}

/// `[pipeline]`: ring sizes, how idle stages wait, and which cores they are pinned to. The
/// defaults suit a small shared machine; busy-spin and pinning are for dedicated cores.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PipelineConfig {
    /// Input ring slots, a power of two ≥ 64 (default 16384).
    pub input_ring: usize,
    /// Output ring slots, a power of two ≥ 2 (default 65536).
    pub output_ring: usize,
    /// `"backoff"` (default), `"yield"` or `"busy-spin"`.
    pub wait: Wait,
    /// `pin_journaler`, `pin_replicator`, `pin_matcher`: core ids (default: none).
    pub pins: StagePins,
    /// Write a snapshot when stopping (default true).
    pub snapshot_on_stop: bool,
}

impl Default for PipelineConfig {
    fn default() -> Self {
        PipelineConfig {
            input_ring: 1 << 14,
            output_ring: 1 << 16,
            wait: Wait::Backoff,
            pins: StagePins::default(),
            snapshot_on_stop: true,
        }
    }
}

/// How a user proves who it is at logon.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AuthMode {
    /// Username and password must match the file (`auth = "password"`, the default).
    #[default]
    Password,
    /// The comp_id alone identifies the user (`auth = "none"`); for test rigs on a trusted network.
    None,
}

/// One `[[users]]` entry: a trading login bound to one account.
#[derive(Clone, PartialEq, Eq)]
pub struct UserConfig {
    /// The login name (FIX Username 553), unique among users and admins.
    pub username: String,
    /// The password (FIX Password 554), as written in the file.
    pub password: String,
    /// The client's SenderCompID, unique among users.
    pub comp_id: String,
    /// The account this user trades for; never the fee account 0.
    pub account: AccountId,
    /// Cancel the account's orders when the session drops (default false; FIX tag 8013 at logon
    /// overrides it).
    pub cancel_on_disconnect: bool,
    /// How the user authenticates (default [`AuthMode::Password`]).
    pub auth: AuthMode,
    /// Reset both FIX sequence numbers at every logon (default false).
    pub reset_on_logon: bool,
}

// Hand-written so a password never reaches a log through `{:?}`.
impl fmt::Debug for UserConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("UserConfig")
            .field("username", &self.username)
            .field("password", &"<redacted>")
            .field("comp_id", &self.comp_id)
            .field("account", &self.account)
            .field("cancel_on_disconnect", &self.cancel_on_disconnect)
            .field("auth", &self.auth)
            .field("reset_on_logon", &self.reset_on_logon)
            .finish()
    }
}

/// One `[[admins]]` entry: an operator login for the admin client (SPEC §7).
#[derive(Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AdminConfig {
    /// The login name, unique among users and admins.
    pub username: String,
    /// The password, as written in the file; never empty.
    pub password: String,
}

// Hand-written so a password never reaches a log through `{:?}`.
impl fmt::Debug for AdminConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AdminConfig")
            .field("username", &self.username)
            .field("password", &"<redacted>")
            .finish()
    }
}

/// `[limits]`: what one account, session or address may use (SPEC §8). Every value is positive.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LimitsConfig {
    /// Open orders per account over all symbols (default 10000).
    pub max_open_orders: u32,
    /// Token bucket rate per session, in messages per second (default 100).
    pub messages_per_second: u32,
    /// Token bucket size per session, in messages (default 200).
    pub burst: u32,
    /// Connections in total (default 1024).
    pub max_connections: u32,
    /// Connections per remote address (default 64).
    pub max_connections_per_address: u32,
    /// Seconds a new connection has to log on (default 10).
    pub logon_timeout_s: u64,
    /// Seconds of silence after which a session is dropped (default 60).
    pub idle_timeout_s: u64,
}

impl Default for LimitsConfig {
    fn default() -> Self {
        LimitsConfig {
            max_open_orders: EngineConfig::DEFAULT_MAX_OPEN_ORDERS,
            messages_per_second: 100,
            burst: 200,
            max_connections: 1024,
            max_connections_per_address: 64,
            logon_timeout_s: 10,
            idle_timeout_s: 60,
        }
    }
}

/// `[market_data]`: the public WebSocket feed and its defences (SPEC §9). FIX market data rides
/// on the FIX port and `/book`, `/trades` on `http_listen`; these keys are the feed's own.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MarketDataConfig {
    /// Where the WebSocket feed listens; `None` (the key left out) turns it off.
    pub ws_listen: Option<SocketAddr>,
    /// WebSocket connections in total (default 1024).
    pub max_connections: u32,
    /// WebSocket connections per remote address (default 64).
    pub max_connections_per_address: u32,
    /// (channel, product) subscriptions per connection (default 100).
    pub max_subscriptions: u32,
    /// Client messages per second per connection, token bucket rate (default 10).
    pub messages_per_second: u32,
    /// Client messages per connection, token bucket size (default 20).
    pub burst: u32,
    /// Largest client frame or message in bytes; a larger one closes the connection (default 4096).
    pub max_message_size: usize,
    /// Unsent bytes a subscriber may have queued before it is disconnected (default 4 MiB).
    pub max_queued_bytes: usize,
    /// Seconds to finish the WebSocket handshake (default 10).
    pub handshake_timeout_s: u64,
    /// Seconds a connection may stay without any subscription (default 60).
    pub idle_timeout_s: u64,
}

impl Default for MarketDataConfig {
    fn default() -> Self {
        MarketDataConfig {
            ws_listen: None,
            max_connections: 1024,
            max_connections_per_address: 64,
            max_subscriptions: 100,
            messages_per_second: 10,
            burst: 20,
            max_message_size: 4096,
            max_queued_bytes: 4 << 20,
            handshake_timeout_s: 10,
            idle_timeout_s: 60,
        }
    }
}

/// A node's part in a replicated pair.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Accepts orders and streams its journal to the standby.
    Primary,
    /// Applies the primary's stream and waits to be promoted.
    Standby,
}

/// Whether the primary waits for its standby before acting on a command.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ReplicationMode {
    /// The matcher waits for the standby's ack (the default): no acknowledged command is lost in a
    /// failover.
    #[default]
    Sync,
    /// The matcher does not wait: lower latency, a failover may lose the last commands.
    Async,
}

/// `[replication]`: a hot standby pair (SPEC §7).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReplicationConfig {
    /// This node's role at start.
    pub role: Role,
    /// Where a primary accepts its standby; required for a primary.
    pub listen: Option<SocketAddr>,
    /// Where a standby finds its primary; required for a standby.
    pub primary: Option<SocketAddr>,
    /// Sync (default) or async.
    pub mode: ReplicationMode,
    /// What sync mode does without its standby (default: degrade).
    pub on_standby_loss: StandbyLossPolicy,
    /// How long a batch waits for the standby's acknowledgement (default 1000 ms).
    pub ack_timeout_ms: u64,
    /// Heartbeat period both ways (default 100 ms).
    pub heartbeat_ms: u64,
    /// Missed heartbeats after which a standby promotes itself; 0 (the default) = only by the
    /// operator's `promote` (automatic promotion risks two primaries under a network partition).
    pub auto_promote_after: u32,
}

/// The address `role` needs and `[replication]` lacks, as (key, what is wrong): a primary must
/// say where its standby connects, a standby where its primary is.
fn missing_role_address(
    role: Role,
    listen: Option<SocketAddr>,
    primary: Option<SocketAddr>,
) -> Option<(&'static str, &'static str)> {
    match role {
        Role::Primary if listen.is_none() => Some((
            "replication.listen",
            "is required with role = \"primary\" (where the standby connects)",
        )),
        Role::Standby if primary.is_none() => Some((
            "replication.primary",
            "is required with role = \"standby\" (where to find the primary)",
        )),
        _ => None,
    }
}

/// The whole gateway configuration file, parsed and validated.
///
/// Every section is read-only: the engine's part is derived from several sections at load time,
/// so a change goes through the TOML text, where it is checked again.
#[derive(Clone, Debug)]
pub struct ExchangeConfig {
    gateway: GatewayConfig,
    journal: JournalConfig,
    pipeline: PipelineConfig,
    users: Vec<UserConfig>,
    admins: Vec<AdminConfig>,
    limits: LimitsConfig,
    market_data: MarketDataConfig,
    replication: Option<ReplicationConfig>,
    engine: EngineConfig,
    deposits: Vec<Command>,
}

impl ExchangeConfig {
    /// The demo exchange ([`DEMO_TOML`]), used when no file is given.
    pub fn demo() -> ExchangeConfig {
        ExchangeConfig::from_toml_str(DEMO_TOML, "demo.toml")
            .expect("the embedded demo configuration is valid")
    }

    /// Reads and validates the file at `path`.
    pub fn load(path: &Path) -> Result<ExchangeConfig, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_owned(),
            source,
        })?;
        ExchangeConfig::from_toml_str(&text, &path.display().to_string())
    }

    /// Parses and validates `text`; `origin` (usually the file name) starts every error message.
    pub fn from_toml_str(text: &str, origin: &str) -> Result<ExchangeConfig, ConfigError> {
        let raw: RawConfig = toml::from_str(text).map_err(|e| parse_error(text, origin, &e))?;
        Checker { origin }.check(raw)
    }

    /// `[gateway]`.
    pub fn gateway(&self) -> &GatewayConfig {
        &self.gateway
    }

    /// `[journal]`.
    pub fn journal(&self) -> &JournalConfig {
        &self.journal
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
        &self.pipeline
    }

    /// `[replication]`, if this node is one of a pair.
    pub fn replication(&self) -> Option<&ReplicationConfig> {
        self.replication.as_ref()
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
        &self.engine
    }

    /// The `[[deposits]]` as commands in file order, applied once on a fresh journal.
    pub fn initial_deposits(&self) -> Vec<Command> {
        self.deposits.clone()
    }
}

// ---------------------------------------------------------------------------------------------
// The file as written. Raw types mirror the TOML one to one; `Checker` turns them into the public,
// validated types above.

#[derive(Deserialize, Default)]
#[serde(default, deny_unknown_fields)]
struct RawConfig {
    gateway: RawGateway,
    journal: RawJournal,
    engine: RawEngine,
    pipeline: RawPipeline,
    limits: LimitsConfig,
    market_data: MarketDataConfig,
    assets: Vec<RawAsset>,
    symbols: Vec<RawSymbol>,
    users: Vec<RawUser>,
    admins: Vec<AdminConfig>,
    deposits: Vec<RawDeposit>,
    replication: Option<RawReplication>,
}

#[derive(Deserialize)]
#[serde(default, deny_unknown_fields)]
struct RawGateway {
    comp_id: String,
    fix_listen: String,
    binary_listen: String,
    http_listen: String,
    max_message_size: usize,
}

impl Default for RawGateway {
    fn default() -> Self {
        let d = GatewayConfig::default();
        RawGateway {
            comp_id: d.comp_id,
            fix_listen: d.fix_listen.to_string(),
            binary_listen: d.binary_listen.to_string(),
            http_listen: d.http_listen.to_string(),
            max_message_size: d.max_message_size,
        }
    }
}

#[derive(Clone, Copy, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
enum RawFsync {
    #[default]
    Always,
    Never,
    Interval,
}

#[derive(Deserialize)]
#[serde(default, deny_unknown_fields)]
struct RawJournal {
    dir: PathBuf,
    fsync: RawFsync,
    fsync_interval_ms: Option<u64>,
    segment_size: u64,
    snapshot_every: u64,
    keep_snapshots: usize,
}

impl Default for RawJournal {
    fn default() -> Self {
        let d = JournalConfig::default();
        RawJournal {
            dir: d.dir,
            fsync: RawFsync::Always,
            fsync_interval_ms: None,
            segment_size: d.segment_size,
            snapshot_every: d.snapshot_every,
            keep_snapshots: d.keep_snapshots,
        }
    }
}

#[derive(Deserialize)]
#[serde(default, deny_unknown_fields)]
struct RawPipeline {
    input_ring: usize,
    output_ring: usize,
    wait: String,
    pin_journaler: Option<usize>,
    pin_replicator: Option<usize>,
    pin_matcher: Option<usize>,
    snapshot_on_stop: bool,
}

impl Default for RawPipeline {
    fn default() -> Self {
        let d = PipelineConfig::default();
        RawPipeline {
            input_ring: d.input_ring,
            output_ring: d.output_ring,
            wait: "backoff".to_string(),
            pin_journaler: None,
            pin_replicator: None,
            pin_matcher: None,
            snapshot_on_stop: d.snapshot_on_stop,
        }
    }
}

#[derive(Deserialize)]
#[serde(default, deny_unknown_fields)]
struct RawEngine {
    order_capacity: u32,
    level_capacity: u32,
}

impl Default for RawEngine {
    fn default() -> Self {
        RawEngine {
            order_capacity: 65_536,
            level_capacity: 4096,
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawAsset {
    name: String,
    decimals: u32,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSymbol {
    name: String,
    base: String,
    quote: String,
    tick_size: ConfigDecimal,
    lot_size: ConfigDecimal,
    min_qty: Option<ConfigDecimal>,
    max_qty: Option<ConfigDecimal>,
    // Signed so that a negative fee gets the rule's message rather than a type error.
    #[serde(default)]
    maker_fee_bps: i64,
    #[serde(default)]
    taker_fee_bps: i64,
    #[serde(default)]
    band_bps: i64,
    reference_price: Option<ConfigDecimal>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawUser {
    username: String,
    #[serde(default)]
    password: String,
    comp_id: String,
    account: u32,
    #[serde(default)]
    cancel_on_disconnect: bool,
    #[serde(default)]
    auth: AuthMode,
    #[serde(default)]
    reset_on_logon: bool,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawDeposit {
    account: u32,
    asset: String,
    amount: ConfigDecimal,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawReplication {
    role: Role,
    listen: Option<String>,
    primary: Option<String>,
    #[serde(default)]
    mode: ReplicationMode,
    #[serde(default)]
    on_standby_loss: StandbyLossPolicy,
    ack_timeout_ms: Option<u64>,
    heartbeat_ms: Option<u64>,
    #[serde(default)]
    auto_promote_after: u32,
}

/// A decimal written as a TOML string (`"0.0001"`) or integer (`5`). Floats are refused: `0.1`
/// is not exactly representable in binary, and a config that silently rounds a tick size would
/// price every order wrongly.
#[derive(Clone, Copy)]
struct ConfigDecimal(Decimal);

impl<'de> Deserialize<'de> for ConfigDecimal {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl serde::de::Visitor<'_> for Visitor {
            type Value = ConfigDecimal;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a decimal written as a string (\"0.0001\") or an integer")
            }

            fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<ConfigDecimal, E> {
                Ok(ConfigDecimal(Decimal::from(v)))
            }

            fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<ConfigDecimal, E> {
                Ok(ConfigDecimal(Decimal::from(v)))
            }

            fn visit_f64<E: serde::de::Error>(self, v: f64) -> Result<ConfigDecimal, E> {
                Err(E::custom(format_args!(
                    "{v} is a floating-point number, which is not exact; \
                     write the decimal as a string: \"{v}\""
                )))
            }

            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<ConfigDecimal, E> {
                // `from_str_exact` rather than `from_str`: the latter rounds digits past the 28th
                // decimal place away instead of refusing them.
                Decimal::from_str_exact(v).map(ConfigDecimal).map_err(|_| {
                    E::custom(format_args!(
                        "\"{v}\" is not a decimal number (write it like \"0.0001\")"
                    ))
                })
            }
        }
        deserializer.deserialize_any(Visitor)
    }
}

// ---------------------------------------------------------------------------------------------
// TOML errors: keep the parser's position and add the key path.

fn parse_error(text: &str, origin: &str, error: &toml::de::Error) -> ConfigError {
    let position = error.span().map_or(0, |span| span.start).min(text.len());
    let before = &text[..position];
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    let column = before[line_start..].chars().count() + 1;
    let key = error.span().and_then(|_| key_at(text, position));
    ConfigError::Parse {
        origin: origin.to_owned(),
        line,
        column,
        key,
        message: error.message().trim_end().to_owned(),
    }
}

/// The path of the deepest key whose text covers byte `position`, found by parsing the document
/// again into a spanned tree (serde's error knows the position but not the path). `None` when the
/// text is not TOML at all.
fn key_at(text: &str, position: usize) -> Option<String> {
    let document = toml::de::DeTable::parse(text).ok()?;
    key_in_table(document.get_ref(), position, "")
}

fn key_in_table(table: &toml::de::DeTable<'_>, position: usize, prefix: &str) -> Option<String> {
    table.iter().find_map(|(key, value)| {
        let path = if prefix.is_empty() {
            key.get_ref().to_string()
        } else {
            format!("{prefix}.{}", key.get_ref())
        };
        // Children first: an `[[array]]` element's span covers only its header, not its keys.
        key_in_value(value, position, &path).or_else(|| {
            (covers(key.span(), position) || covers(value.span(), position)).then_some(path)
        })
    })
}

fn key_in_value(
    value: &toml::Spanned<toml::de::DeValue<'_>>,
    position: usize,
    path: &str,
) -> Option<String> {
    match value.get_ref() {
        toml::de::DeValue::Table(table) => key_in_table(table, position, path),
        toml::de::DeValue::Array(items) => items.iter().enumerate().find_map(|(i, item)| {
            let path = format!("{path}[{i}]{}", entry_label(item.get_ref()));
            key_in_value(item, position, &path)
                .or_else(|| covers(item.span(), position).then_some(path))
        }),
        _ => None,
    }
}

/// ` (BTC-JPY)` for an array entry with a `name` or `username`, so paths read like the file.
fn entry_label(value: &toml::de::DeValue<'_>) -> String {
    let toml::de::DeValue::Table(table) = value else {
        return String::new();
    };
    table
        .iter()
        .find_map(|(key, value)| match value.get_ref() {
            toml::de::DeValue::String(name)
                if matches!(key.get_ref().as_ref(), "name" | "username") =>
            {
                Some(format!(" ({name})"))
            }
            _ => None,
        })
        .unwrap_or_default()
}

fn covers(span: std::ops::Range<usize>, position: usize) -> bool {
    span.contains(&position) || (span.is_empty() && span.start == position)
}

// ---------------------------------------------------------------------------------------------
// Validation.

/// Why a decimal did not convert to a whole number of some unit.
enum Inexact {
    /// It has a fractional part in that unit.
    Fraction,
    /// It is a whole number but larger than a `u64` (or than the arithmetic here can hold).
    TooLarge,
}

/// `a × b × 10^decimals` exactly, as a whole `u64`. Done on the integer mantissas rather than with
/// `Decimal` multiplication, which rounds past 28 decimal places and could make a fraction look
/// whole. `a` and `b` must be positive.
fn scaled_product(a: Decimal, b: Decimal, decimals: u32) -> Result<u64, Inexact> {
    let (a, b) = (a.normalize(), b.normalize());
    let mut factors = [a.mantissa().unsigned_abs(), b.mantissa().unsigned_abs()];
    let scale = a.scale() + b.scale();
    let multiplier = if decimals >= scale {
        10u128
            .checked_pow(decimals - scale)
            .ok_or(Inexact::TooLarge)?
    } else {
        // Divide 10^(scale − decimals) out of the mantissas, one prime at a time.
        for prime in [2, 5] {
            let mut owed = scale - decimals;
            for factor in &mut factors {
                while owed > 0 && *factor % prime == 0 {
                    *factor /= prime;
                    owed -= 1;
                }
            }
            if owed > 0 {
                return Err(Inexact::Fraction);
            }
        }
        1
    };
    let product = factors[0]
        .checked_mul(factors[1])
        .and_then(|p| p.checked_mul(multiplier))
        .ok_or(Inexact::TooLarge)?;
    u64::try_from(product).map_err(|_| Inexact::TooLarge)
}

/// `value / step` exactly, as a whole `u64`. Both must be positive.
fn exact_steps(value: Decimal, step: Decimal) -> Result<u64, Inexact> {
    let (value, step) = (value.normalize(), step.normalize());
    // Bring both to the same scale so the division is of integers.
    let scale = value.scale().max(step.scale());
    let widen = |d: Decimal| {
        10u128
            .checked_pow(scale - d.scale())
            .and_then(|m| d.mantissa().unsigned_abs().checked_mul(m))
            .ok_or(Inexact::TooLarge)
    };
    let (value, step) = (widen(value)?, widen(step)?);
    if value % step != 0 {
        return Err(Inexact::Fraction);
    }
    u64::try_from(value / step).map_err(|_| Inexact::TooLarge)
}

/// Turns the file as written into the validated types; every error it makes starts with `origin`.
struct Checker<'a> {
    origin: &'a str,
}

impl Checker<'_> {
    /// An error about `key` of the entry at `at` (`symbols[0] (BTC-JPY)`).
    fn field(&self, at: &str, key: &str, message: impl Into<String>) -> ConfigError {
        self.error(format!("{at}.{key}"), message)
    }

    fn error(&self, key: impl Into<String>, message: impl Into<String>) -> ConfigError {
        ConfigError::Invalid {
            origin: self.origin.to_owned(),
            key: key.into(),
            message: message.into(),
        }
    }

    fn check(&self, raw: RawConfig) -> Result<ExchangeConfig, ConfigError> {
        let gateway = self.gateway(raw.gateway)?;
        let journal = self.journal(raw.journal)?;
        let pipeline = self.pipeline(raw.pipeline)?;
        let limits = self.limits(raw.limits)?;
        let market_data = self.market_data(raw.market_data)?;
        let assets = self.assets(&raw.assets)?;
        let symbols = self.symbols(&raw.symbols, &assets)?;
        let users = self.users(raw.users, &gateway)?;
        let admins = self.admins(raw.admins, &users)?;
        let deposits = self.deposits(&raw.deposits, &assets)?;
        let replication = raw.replication.map(|r| self.replication(r)).transpose()?;

        let mut accounts: Vec<AccountId> = users.iter().map(|u| u.account).collect();
        accounts.sort_unstable();
        accounts.dedup();
        let engine = EngineConfig {
            assets,
            symbols,
            accounts,
            max_open_orders: limits.max_open_orders,
            order_capacity: raw.engine.order_capacity,
            level_capacity: raw.engine.level_capacity,
        };
        Ok(ExchangeConfig {
            gateway,
            journal,
            pipeline,
            users,
            admins,
            limits,
            market_data,
            replication,
            engine,
            deposits,
        })
    }

    /// Names go into FIX fields, logs and status pages: no whitespace or control characters
    /// (a SOH would break FIX framing).
    fn name(&self, key: &str, name: &str) -> Result<(), ConfigError> {
        if name.is_empty() {
            return Err(self.error(key, "must not be empty"));
        }
        if name.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(self.error(
                key,
                format!("{name:?} contains whitespace or a control character"),
            ));
        }
        Ok(())
    }

    fn address(&self, key: &str, text: &str) -> Result<SocketAddr, ConfigError> {
        text.parse().map_err(|_| {
            self.error(
                key,
                format!("{text:?} is not a socket address; write IP:PORT, e.g. \"127.0.0.1:9878\""),
            )
        })
    }

    fn gateway(&self, raw: RawGateway) -> Result<GatewayConfig, ConfigError> {
        self.name("gateway.comp_id", &raw.comp_id)?;
        if raw.max_message_size < MIN_MESSAGE_SIZE {
            return Err(self.error(
                "gateway.max_message_size",
                format!(
                    "{} bytes is below the minimum of {MIN_MESSAGE_SIZE} (a FIX Logon must fit)",
                    raw.max_message_size
                ),
            ));
        }
        Ok(GatewayConfig {
            fix_listen: self.address("gateway.fix_listen", &raw.fix_listen)?,
            binary_listen: self.address("gateway.binary_listen", &raw.binary_listen)?,
            http_listen: self.address("gateway.http_listen", &raw.http_listen)?,
            comp_id: raw.comp_id,
            max_message_size: raw.max_message_size,
        })
    }

    fn pipeline(&self, raw: RawPipeline) -> Result<PipelineConfig, ConfigError> {
        // The multi-producer ring of `disruptor` needs at least 64 slots.
        for (key, slots, least) in [
            ("pipeline.input_ring", raw.input_ring, 64),
            ("pipeline.output_ring", raw.output_ring, 2),
        ] {
            if !slots.is_power_of_two() || slots < least {
                return Err(self.error(key, format!("{slots} is not a power of two ≥ {least}")));
            }
        }
        let wait = raw
            .wait
            .parse()
            .map_err(|e: String| self.error("pipeline.wait", e))?;
        Ok(PipelineConfig {
            input_ring: raw.input_ring,
            output_ring: raw.output_ring,
            wait,
            pins: StagePins {
                journaler: raw.pin_journaler,
                replicator: raw.pin_replicator,
                matcher: raw.pin_matcher,
            },
            snapshot_on_stop: raw.snapshot_on_stop,
        })
    }

    fn journal(&self, raw: RawJournal) -> Result<JournalConfig, ConfigError> {
        if raw.dir.as_os_str().is_empty() {
            return Err(self.error("journal.dir", "must not be empty"));
        }
        let fsync = match (raw.fsync, raw.fsync_interval_ms) {
            (RawFsync::Interval, None) => {
                return Err(self.error(
                    "journal.fsync_interval_ms",
                    "is required with fsync = \"interval\"",
                ));
            }
            (RawFsync::Interval, Some(0)) => {
                return Err(self.error("journal.fsync_interval_ms", "must be positive"));
            }
            (RawFsync::Interval, Some(ms)) => FsyncPolicy::Interval { ms },
            // Refused rather than ignored: the operator meant some interval and would not get it.
            (_, Some(_)) => {
                return Err(self.error(
                    "journal.fsync_interval_ms",
                    "is only meaningful with fsync = \"interval\"",
                ));
            }
            (RawFsync::Always, None) => FsyncPolicy::Always,
            (RawFsync::Never, None) => FsyncPolicy::Never,
        };
        if raw.segment_size < MIN_SEGMENT_SIZE {
            return Err(self.error(
                "journal.segment_size",
                format!(
                    "{} bytes is below the minimum of {MIN_SEGMENT_SIZE}",
                    raw.segment_size
                ),
            ));
        }
        Ok(JournalConfig {
            dir: raw.dir,
            fsync,
            segment_size: raw.segment_size,
            snapshot_every: raw.snapshot_every,
            keep_snapshots: raw.keep_snapshots,
        })
    }

    fn limits(&self, limits: LimitsConfig) -> Result<LimitsConfig, ConfigError> {
        // A zero would lock every client out (or time every session out at once) rather than
        // switch the limit off, so it is refused.
        let values = [
            ("max_open_orders", u64::from(limits.max_open_orders)),
            ("messages_per_second", u64::from(limits.messages_per_second)),
            ("burst", u64::from(limits.burst)),
            ("max_connections", u64::from(limits.max_connections)),
            (
                "max_connections_per_address",
                u64::from(limits.max_connections_per_address),
            ),
            ("logon_timeout_s", limits.logon_timeout_s),
            ("idle_timeout_s", limits.idle_timeout_s),
        ];
        match values.iter().find(|(_, value)| *value == 0) {
            Some((key, _)) => Err(self.error(format!("limits.{key}"), "must be positive")),
            None => Ok(limits),
        }
    }

    fn market_data(&self, md: MarketDataConfig) -> Result<MarketDataConfig, ConfigError> {
        // As for [limits]: a zero would refuse every client, not switch a limit off.
        let values = [
            ("max_connections", u64::from(md.max_connections)),
            (
                "max_connections_per_address",
                u64::from(md.max_connections_per_address),
            ),
            ("max_subscriptions", u64::from(md.max_subscriptions)),
            ("messages_per_second", u64::from(md.messages_per_second)),
            ("burst", u64::from(md.burst)),
            ("max_message_size", md.max_message_size as u64),
            ("max_queued_bytes", md.max_queued_bytes as u64),
            ("handshake_timeout_s", md.handshake_timeout_s),
            ("idle_timeout_s", md.idle_timeout_s),
        ];
        match values.iter().find(|(_, value)| *value == 0) {
            Some((key, _)) => Err(self.error(format!("market_data.{key}"), "must be positive")),
            None => Ok(md),
        }
    }

    fn assets(&self, raw: &[RawAsset]) -> Result<Vec<AssetSpec>, ConfigError> {
        if raw.len() > MAX_ASSETS {
            return Err(self.error(
                "assets",
                format!("{} assets; at most {MAX_ASSETS} are allowed", raw.len()),
            ));
        }
        let mut seen: HashMap<&str, usize> = HashMap::new();
        raw.iter()
            .enumerate()
            .map(|(i, asset)| {
                let at = format!("assets[{i}] ({})", asset.name);
                self.name(&format!("{at}.name"), &asset.name)?;
                if let Some(first) = seen.insert(&asset.name, i) {
                    return Err(self.field(
                        &at,
                        "name",
                        format!("{:?} is already assets[{first}]", asset.name),
                    ));
                }
                if asset.decimals > MAX_DECIMALS {
                    return Err(self.field(
                        &at,
                        "decimals",
                        format!("{} is above the maximum of {MAX_DECIMALS}", asset.decimals),
                    ));
                }
                Ok(AssetSpec {
                    name: asset.name.clone(),
                    decimals: asset.decimals,
                })
            })
            .collect()
    }

    fn symbols(
        &self,
        raw: &[RawSymbol],
        assets: &[AssetSpec],
    ) -> Result<Vec<SymbolSpec>, ConfigError> {
        if raw.len() > MAX_SYMBOLS {
            return Err(self.error(
                "symbols",
                format!("{} symbols; at most {MAX_SYMBOLS} are allowed", raw.len()),
            ));
        }
        let mut seen: HashMap<&str, usize> = HashMap::new();
        raw.iter()
            .enumerate()
            .map(|(i, symbol)| {
                let at = format!("symbols[{i}] ({})", symbol.name);
                if let Some(first) = seen.insert(&symbol.name, i) {
                    return Err(self.field(
                        &at,
                        "name",
                        format!("{:?} is already symbols[{first}]", symbol.name),
                    ));
                }
                self.symbol(&at, symbol, assets)
            })
            .collect()
    }

    fn symbol(
        &self,
        at: &str,
        raw: &RawSymbol,
        assets: &[AssetSpec],
    ) -> Result<SymbolSpec, ConfigError> {
        self.name(&format!("{at}.name"), &raw.name)?;
        let find = |key: &str, name: &str| {
            assets
                .iter()
                .position(|a| a.name == name)
                .ok_or_else(|| self.field(at, key, format!("{name:?} is not a configured asset")))
        };
        let base_index = find("base", &raw.base)?;
        let quote_index = find("quote", &raw.quote)?;
        if base_index == quote_index {
            return Err(self.field(
                at,
                "quote",
                format!("{:?} is also the base asset; they must differ", raw.quote),
            ));
        }
        let (base, quote) = (&assets[base_index], &assets[quote_index]);

        let tick = raw.tick_size.0;
        let lot = raw.lot_size.0;
        for (key, value) in [("tick_size", tick), ("lot_size", lot)] {
            if value <= Decimal::ZERO {
                return Err(self.field(at, key, format!("{value} must be positive")));
            }
        }

        // SPEC §1: both integer sizes must be exact, or notionals and holds would be rounded.
        let lot_base_minor = match scaled_product(lot, Decimal::ONE, base.decimals) {
            Ok(v) if v <= MAX_AMOUNT => v,
            Ok(_) | Err(Inexact::TooLarge) => {
                return Err(self.field(
                    at,
                    "lot_size",
                    format!("{lot} {} is more than {MAX_AMOUNT} minor units", base.name),
                ));
            }
            Err(Inexact::Fraction) => {
                return Err(self.field(
                    at,
                    "lot_size",
                    format!(
                        "{lot} {} is not a whole number of {} minor units (decimals {})",
                        base.name, base.name, base.decimals
                    ),
                ));
            }
        };
        let unit_notional = match scaled_product(tick, lot, quote.decimals) {
            Ok(v) if v <= MAX_AMOUNT => v,
            Ok(_) | Err(Inexact::TooLarge) => {
                return Err(self.field(
                    at,
                    "tick_size",
                    format!(
                        "{tick} {} × lot {lot} {} is more than {MAX_AMOUNT} {} minor units",
                        quote.name, base.name, quote.name
                    ),
                ));
            }
            Err(Inexact::Fraction) => {
                return Err(self.field(
                    at,
                    "tick_size",
                    format!(
                        "{tick} {} × lot {lot} {} is not a whole number of {} minor units \
                         (decimals {})",
                        quote.name, base.name, quote.name, quote.decimals
                    ),
                ));
            }
        };

        let lots = |key: &str, value: Option<ConfigDecimal>, default: u64| -> Result<Qty, _> {
            let Some(ConfigDecimal(value)) = value else {
                return Ok(Qty(default));
            };
            if value <= Decimal::ZERO {
                return Err(self.field(at, key, format!("{value} must be positive")));
            }
            match exact_steps(value, lot) {
                Ok(lots) => Ok(Qty(lots)),
                Err(Inexact::Fraction) => Err(self.field(
                    at,
                    key,
                    format!(
                        "{value} {} is not a whole number of lots (lot_size {lot})",
                        base.name
                    ),
                )),
                Err(Inexact::TooLarge) => Err(self.field(
                    at,
                    key,
                    format!("{value} {} is more than {} lots", base.name, u64::MAX),
                )),
            }
        };
        let min_qty = lots("min_qty", raw.min_qty, 1)?;
        let max_qty = lots("max_qty", raw.max_qty, u64::MAX)?;
        if min_qty > max_qty {
            return Err(self.field(
                at,
                "min_qty",
                format!("{} lots is above max_qty ({} lots)", min_qty.0, max_qty.0),
            ));
        }

        let bps = |key: &str, value: i64, max: i64| -> Result<u32, ConfigError> {
            if value < 0 {
                return Err(self.field(at, key, format!("{value} must not be negative")));
            }
            if value > max {
                return Err(self.field(at, key, format!("{value} is above the maximum of {max}")));
            }
            Ok(value as u32)
        };
        let whole = BPS as i64;
        let taker_fee_bps = bps("taker_fee_bps", raw.taker_fee_bps, whole)?;
        let maker_fee_bps = bps("maker_fee_bps", raw.maker_fee_bps, whole)?;
        if maker_fee_bps > taker_fee_bps {
            return Err(self.field(
                at,
                "maker_fee_bps",
                format!(
                    "{maker_fee_bps} is above taker_fee_bps ({taker_fee_bps}); a resting buy \
                     reserves only the taker fee (SPEC §8)"
                ),
            ));
        }
        let band_bps = bps("band_bps", raw.band_bps, whole)?;

        let reference_price = match raw.reference_price {
            None => None,
            Some(ConfigDecimal(price)) => {
                let key = format!("{at}.reference_price");
                if price <= Decimal::ZERO {
                    return Err(self.error(key, format!("{price} must be positive")));
                }
                match exact_steps(price, tick) {
                    Ok(ticks) => Some(Price(ticks)),
                    Err(Inexact::Fraction) => {
                        return Err(self.error(
                            key,
                            format!(
                                "{price} {} is not a multiple of tick_size {tick}",
                                quote.name
                            ),
                        ));
                    }
                    Err(Inexact::TooLarge) => {
                        return Err(self.error(
                            key,
                            format!("{price} {} is more than {} ticks", quote.name, u64::MAX),
                        ));
                    }
                }
            }
        };

        Ok(SymbolSpec {
            name: raw.name.clone(),
            base: AssetId(base_index as u16),
            quote: AssetId(quote_index as u16),
            tick_size: tick,
            lot_size: lot,
            unit_notional,
            lot_base_minor,
            min_qty,
            max_qty,
            maker_fee_bps,
            taker_fee_bps,
            band_bps,
            reference_price,
        })
    }

    fn users(
        &self,
        raw: Vec<RawUser>,
        gateway: &GatewayConfig,
    ) -> Result<Vec<UserConfig>, ConfigError> {
        let mut usernames: HashMap<String, usize> = HashMap::new();
        let mut comp_ids: HashMap<String, usize> = HashMap::new();
        raw.into_iter()
            .enumerate()
            .map(|(i, user)| {
                let at = format!("users[{i}] ({})", user.username);
                self.name(&format!("{at}.username"), &user.username)?;
                if let Some(first) = usernames.insert(user.username.clone(), i) {
                    return Err(self.field(
                        &at,
                        "username",
                        format!("{:?} is already users[{first}]", user.username),
                    ));
                }
                self.name(&format!("{at}.comp_id"), &user.comp_id)?;
                if let Some(first) = comp_ids.insert(user.comp_id.clone(), i) {
                    return Err(self.field(
                        &at,
                        "comp_id",
                        format!(
                            "{:?} is already the comp_id of users[{first}]",
                            user.comp_id
                        ),
                    ));
                }
                // A session is the pair (client comp_id, our comp_id); equal halves would make
                // every message look like it came from ourselves.
                if user.comp_id == gateway.comp_id {
                    return Err(self.field(
                        &at,
                        "comp_id",
                        format!("{:?} is the gateway's own comp_id", user.comp_id),
                    ));
                }
                if user.account == AccountId::FEES.0 {
                    return Err(self.field(
                        &at,
                        "account",
                        "account 0 is the fee account, which places no orders",
                    ));
                }
                if user.auth == AuthMode::Password && user.password.is_empty() {
                    return Err(self.field(
                        &at,
                        "password",
                        "must not be empty with auth = \"password\"",
                    ));
                }
                Ok(UserConfig {
                    username: user.username,
                    password: user.password,
                    comp_id: user.comp_id,
                    account: AccountId(user.account),
                    cancel_on_disconnect: user.cancel_on_disconnect,
                    auth: user.auth,
                    reset_on_logon: user.reset_on_logon,
                })
            })
            .collect()
    }

    fn admins(
        &self,
        raw: Vec<AdminConfig>,
        users: &[UserConfig],
    ) -> Result<Vec<AdminConfig>, ConfigError> {
        let mut seen: HashMap<String, usize> = HashMap::new();
        for (i, admin) in raw.iter().enumerate() {
            let at = format!("admins[{i}] ({})", admin.username);
            self.name(&format!("{at}.username"), &admin.username)?;
            if let Some(first) = seen.insert(admin.username.clone(), i) {
                return Err(self.field(
                    &at,
                    "username",
                    format!("{:?} is already admins[{first}]", admin.username),
                ));
            }
            // Both log on at the binary port; one name must mean one set of rights.
            if users.iter().any(|u| u.username == admin.username) {
                return Err(self.field(
                    &at,
                    "username",
                    format!("{:?} is also a user", admin.username),
                ));
            }
            if admin.password.is_empty() {
                return Err(self.field(&at, "password", "must not be empty"));
            }
        }
        Ok(raw)
    }

    fn deposits(
        &self,
        raw: &[RawDeposit],
        assets: &[AssetSpec],
    ) -> Result<Vec<Command>, ConfigError> {
        // Per (account, asset) running totals: a file whose deposits overflow a balance would
        // fail at the first start, after the journal already holds part of them.
        let mut totals: HashMap<(u32, usize), u64> = HashMap::new();
        raw.iter()
            .enumerate()
            .map(|(i, deposit)| {
                let at = format!("deposits[{i}]");
                let index = assets
                    .iter()
                    .position(|a| a.name == deposit.asset)
                    .ok_or_else(|| {
                        self.field(
                            &at,
                            "asset",
                            format!("{:?} is not a configured asset", deposit.asset),
                        )
                    })?;
                let asset = &assets[index];
                let value = deposit.amount.0;
                if value <= Decimal::ZERO {
                    return Err(self.field(&at, "amount", format!("{value} must be positive")));
                }
                let amount = asset.amount_from_decimal(value).ok_or_else(|| {
                    let message = match scaled_product(value, Decimal::ONE, asset.decimals) {
                        Err(Inexact::Fraction) => format!(
                            "{value} {} is not a whole number of {} minor units (decimals {})",
                            asset.name, asset.name, asset.decimals
                        ),
                        _ => format!(
                            "{value} {} is more than {MAX_AMOUNT} minor units",
                            asset.name
                        ),
                    };
                    self.field(&at, "amount", message)
                })?;
                let total = totals.entry((deposit.account, index)).or_insert(0);
                *total = Amount(*total)
                    .checked_add(amount)
                    .ok_or_else(|| {
                        self.field(
                            &at,
                            "amount",
                            format!(
                                "brings account {}'s {} to more than {MAX_AMOUNT} minor units",
                                deposit.account, asset.name
                            ),
                        )
                    })?
                    .0;
                Ok(Command::deposit(
                    AccountId(deposit.account),
                    AssetId(index as u16),
                    amount,
                ))
            })
            .collect()
    }

    fn replication(&self, raw: RawReplication) -> Result<ReplicationConfig, ConfigError> {
        let listen = raw
            .listen
            .map(|a| self.address("replication.listen", &a))
            .transpose()?;
        let primary = raw
            .primary
            .map(|a| self.address("replication.primary", &a))
            .transpose()?;
        if let Some((key, message)) = missing_role_address(raw.role, listen, primary) {
            return Err(self.error(key, message));
        }
        let positive = |key: &str, value: Option<u64>, default: u64| match value {
            Some(0) => Err(self.error(key, "must be positive")),
            Some(v) => Ok(v),
            None => Ok(default),
        };
        let ack_timeout_ms = positive("replication.ack_timeout_ms", raw.ack_timeout_ms, 1000)?;
        let heartbeat_ms = positive("replication.heartbeat_ms", raw.heartbeat_ms, 100)?;
        if raw.auto_promote_after > 0 {
            // A standby that promotes itself is only safe if the primary it replaces can no
            // longer acknowledge orders by then: synchronous, halting without its standby, and
            // halted (ack_timeout) before the standby gives up on it.
            if raw.mode != ReplicationMode::Sync || raw.on_standby_loss != StandbyLossPolicy::Halt {
                return Err(self.error(
                    "replication.auto_promote_after",
                    "needs mode = \"sync\" and on_standby_loss = \"halt\": otherwise a primary \
                     cut off from its standby keeps trading while the standby promotes itself \
                     (two primaries)",
                ));
            }
            let promote_after_ms = u64::from(raw.auto_promote_after).saturating_mul(heartbeat_ms);
            if promote_after_ms <= ack_timeout_ms {
                return Err(self.error(
                    "replication.auto_promote_after",
                    format!(
                        "{} missed heartbeats of {heartbeat_ms} ms must take longer than \
                         ack_timeout_ms ({ack_timeout_ms}), so the old primary has halted \
                         before the standby promotes itself",
                        raw.auto_promote_after
                    ),
                ));
            }
        }
        Ok(ReplicationConfig {
            role: raw.role,
            listen,
            primary,
            mode: raw.mode,
            on_standby_loss: raw.on_standby_loss,
            ack_timeout_ms,
            heartbeat_ms,
            auto_promote_after: raw.auto_promote_after,
        })
    }
}
