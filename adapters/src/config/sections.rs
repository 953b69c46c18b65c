//! The gateway's sections of the configuration file, validated: `[gateway]` (who we are, where
//! we listen), `[[users]]`, `[[admins]]`, `[limits]` (the edges' defences), `[market_data]` (the
//! public feed) and `[replication]` (a hot standby pair).

use std::fmt;
use std::net::SocketAddr;

use hayate_core::AccountId;
use hayate_core::engine::EngineConfig;
use hayate_core::pipeline::{ReplicationMode, StandbyLossPolicy};
use serde::Deserialize;

use crate::secrets::{PairSecret, Password};
use crate::tls::PairTls;

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
    /// more closes the connection before anything is buffered (BEHAVIOUR.md §6).
    pub max_message_size: usize,
    /// MiB of sent application messages each FIX session keeps for resends (default 16; 0 keeps
    /// none, and every resend is a gap fill). Bounded like a ring: the oldest go first.
    pub fix_message_store_mb: u32,
    /// Where admins log on (the binary protocol), if apart from order entry: with it set, admins
    /// are refused on `binary_listen` and users here (default: none, admins use `binary_listen`).
    pub admin_listen: Option<SocketAddr>,
}

impl Default for GatewayConfig {
    fn default() -> Self {
        GatewayConfig {
            comp_id: "HAYATE".to_owned(),
            fix_listen: SocketAddr::from(([127, 0, 0, 1], 9878)),
            binary_listen: SocketAddr::from(([127, 0, 0, 1], 9000)),
            http_listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            max_message_size: 4096,
            fix_message_store_mb: 16,
            admin_listen: None,
        }
    }
}

/// The smallest `[gateway] max_message_size`: a FIX Logon with credentials must fit.
pub const MIN_MESSAGE_SIZE: usize = 256;

/// The largest `[gateway] fix_message_store_mb`: a file of this size per FIX user.
pub const MAX_MESSAGE_STORE_MB: u32 = 4096;

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
    /// The password (FIX Password 554): an argon2 hash or clear text.
    pub password: Password,
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

/// One `[[admins]]` entry: an operator login for the admin client (BEHAVIOUR.md §7).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AdminConfig {
    /// The login name, unique among users and admins.
    pub username: String,
    /// The password: an argon2 hash or clear text; never empty.
    pub password: Password,
    /// What this admin may do.
    pub role: AdminRole,
}

/// What an admin may do, checked on every admin command. Each role includes `viewer`; `root`
/// includes every other.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AdminRole {
    /// `status` only.
    Viewer,
    /// Halts and resumes, snapshots (and, as they come, blocks and notices).
    Operator,
    /// Deposits and withdrawals.
    Treasury,
    /// Everything, `promote` included.
    Root,
}

impl AdminRole {
    /// The role's name as written in the file.
    pub fn name(self) -> &'static str {
        match self {
            AdminRole::Viewer => "viewer",
            AdminRole::Operator => "operator",
            AdminRole::Treasury => "treasury",
            AdminRole::Root => "root",
        }
    }

    /// Whether this role includes `needed`.
    pub fn allows(self, needed: AdminRole) -> bool {
        self == needed || self == AdminRole::Root || needed == AdminRole::Viewer
    }
}

/// `[limits]`: what one account, session or address may use (BEHAVIOUR.md §8). Every value is positive.
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
    /// Failed logons (per address, and per username) answered at once before backing off
    /// (default 3; 0 = back off from the first).
    pub logon_free_failures: u32,
    /// The first back-off after the free failures, in milliseconds; it doubles with each further
    /// failure (default 1000). Logons from that address (or for that username) are refused
    /// unchecked until it has passed.
    pub logon_backoff_ms: u64,
    /// Failures after which the address (or the username) is locked out (default 10).
    pub logon_lockout_after: u32,
    /// How long a lockout lasts, and how long failures are remembered, in seconds (default 300).
    pub logon_lockout_s: u64,
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
            logon_free_failures: 3,
            logon_backoff_ms: 1000,
            logon_lockout_after: 10,
            logon_lockout_s: 300,
        }
    }
}

/// `[market_data]`: the public WebSocket feed and its defences (BEHAVIOUR.md §9). FIX market data rides
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

/// `[replication]`: a hot standby pair (BEHAVIOUR.md §7).
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
    /// The pair's shared secret (`secret` or `secret_file`; required): every replication
    /// connection proves it both ways before a record is sent or an acknowledgement believed.
    pub secret: PairSecret,
    /// The observers' secret (`observer_secret` or `observer_secret_file`): read-only followers
    /// (bridges, auditors) prove it on the replication port; `None`: no observers are served.
    /// It must differ from the pair's.
    pub observer_secret: Option<PairSecret>,
    /// At most this many observers at once (`max_observers`, default 8).
    pub max_observers: usize,
    /// TLS on the link (`[tls] replication = true`); `None`: plain TCP.
    pub tls: Option<PairTls>,
}

/// The address `role` needs and `[replication]` lacks, as (key, what is wrong): a primary must
/// say where its standby connects, a standby where its primary is.
pub(super) fn missing_role_address(
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

/// Where `[alerts] webhook` points: an `http://` URL taken apart once, at load time, so the
/// sender thread never parses.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WebhookUrl {
    /// The URL as written.
    pub url: String,
    /// The host (a name or an IP address), sent as the `Host` header and resolved at each
    /// delivery (a name that moves is followed).
    pub host: String,
    /// The port (default 80).
    pub port: u16,
    /// The path and query, at least `/`.
    pub path: String,
}

impl WebhookUrl {
    /// Parses `http://host[:port][/path]`. `https://` is refused: the gateway carries no TLS
    /// client for arbitrary hosts (its rustls is set up for the pair's link only), so a TLS
    /// endpoint needs a relay on the same host or network.
    pub fn parse(text: &str) -> Result<WebhookUrl, String> {
        if text.len() >= 8 && text[..8].eq_ignore_ascii_case("https://") {
            return Err(format!(
                "{text:?}: https:// is not supported; point it at an http:// relay (e.g. a \
                 local proxy that forwards to the TLS endpoint)"
            ));
        }
        let rest = match text.get(..7) {
            Some(scheme) if scheme.eq_ignore_ascii_case("http://") => &text[7..],
            _ => return Err(format!("{text:?} is not an http:// URL")),
        };
        let (authority, path) = match rest.find('/') {
            Some(i) => (&rest[..i], &rest[i..]),
            None => (rest, "/"),
        };
        if authority.contains('@') {
            return Err(format!(
                "{text:?}: credentials in the URL are not supported"
            ));
        }
        // `[::1]:8080`: the port follows the closing bracket.
        let (host, port) = match authority.rfind(':') {
            Some(i) if !authority[i..].contains(']') => {
                let port = authority[i + 1..]
                    .parse::<u16>()
                    .ok()
                    .filter(|p| *p != 0)
                    .ok_or_else(|| format!("{text:?}: {:?} is not a port", &authority[i + 1..]))?;
                (&authority[..i], port)
            }
            _ => (authority, 80),
        };
        if host.is_empty() || host.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(format!("{text:?} has no valid host"));
        }
        if path.chars().any(|c| c.is_whitespace() || c.is_control()) || path.contains('#') {
            return Err(format!(
                "{text:?}: the path must not hold spaces or a fragment"
            ));
        }
        Ok(WebhookUrl {
            url: text.to_owned(),
            host: host.to_owned(),
            port,
            path: path.to_owned(),
        })
    }
}

/// `[alerts]`: the gateway POSTs a JSON alert to `webhook` when a component changes state
/// (BEHAVIOUR.md §7), without Prometheus in between.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AlertsConfig {
    /// Where alerts go; `None` (the key left out) sends none.
    pub webhook: Option<WebhookUrl>,
    /// Bound on connecting, writing and reading one delivery, in milliseconds (default 2000).
    pub timeout_ms: u64,
    /// Further attempts after a failed delivery, with doubling back-off (default 3).
    pub retries: u32,
    /// Alerts waiting for delivery at most; past it the oldest is dropped and counted
    /// (default 256).
    pub queue: u32,
}

impl Default for AlertsConfig {
    fn default() -> Self {
        AlertsConfig {
            webhook: None,
            timeout_ms: 2000,
            retries: 3,
            queue: 256,
        }
    }
}
