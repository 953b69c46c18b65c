//! Checking the gateway's sections as written; the core's are checked by
//! [`CoreSections::check`], with the same [`Checker`] so every error reads alike.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use hayate_core::AccountId;
use hayate_core::config::{
    AssetEntry, Checker, ConfigError, CoreSections, DepositEntry, EngineSection, JournalSection,
    PipelineSection, SymbolEntry,
};
use hayate_core::pipeline::{ReplicationMode, StandbyLossPolicy};
use serde::Deserialize;

use super::ExchangeConfig;
use super::sections::{
    AdminConfig, AdminRole, AlertsConfig, AuthMode, GatewayConfig, LimitsConfig,
    MAX_MESSAGE_STORE_MB, MIN_MESSAGE_SIZE, MarketDataConfig, ReplicationConfig, Role, UserConfig,
    WebhookUrl, missing_role_address,
};
use crate::secrets::{PairSecret, Password};
use crate::tls::{PairTls, TlsConfig, client_config, load_server_config};

#[derive(Deserialize, Default)]
#[serde(default, deny_unknown_fields)]
pub(super) struct RawConfig {
    gateway: RawGateway,
    journal: JournalSection,
    engine: EngineSection,
    pipeline: PipelineSection,
    limits: LimitsConfig,
    market_data: MarketDataConfig,
    assets: Vec<AssetEntry>,
    symbols: Vec<SymbolEntry>,
    users: Vec<RawUser>,
    admins: Vec<RawAdmin>,
    deposits: Vec<DepositEntry>,
    replication: Option<RawReplication>,
    tls: RawTls,
    alerts: RawAlerts,
}

#[derive(Deserialize, Default)]
#[serde(default, deny_unknown_fields)]
struct RawAlerts {
    webhook: Option<String>,
    timeout_ms: Option<u64>,
    retries: Option<u32>,
    queue: Option<u32>,
}

#[derive(Deserialize)]
#[serde(default, deny_unknown_fields)]
struct RawGateway {
    comp_id: String,
    fix_listen: String,
    binary_listen: String,
    http_listen: String,
    max_message_size: usize,
    fix_message_store_mb: u32,
    admin_listen: Option<String>,
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
            fix_message_store_mb: d.fix_message_store_mb,
            admin_listen: None,
        }
    }
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
struct RawAdmin {
    username: String,
    #[serde(default)]
    password: String,
    role: Option<AdminRole>,
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
    secret: Option<String>,
    secret_file: Option<String>,
    observer_secret: Option<String>,
    observer_secret_file: Option<String>,
    max_observers: Option<usize>,
}

#[derive(Deserialize, Default)]
#[serde(default, deny_unknown_fields)]
struct RawTls {
    cert_file: Option<String>,
    key_file: Option<String>,
    fix: bool,
    binary: bool,
    http: bool,
    ws: bool,
    replication: bool,
    ca_file: Option<String>,
    peer_name: Option<String>,
}

/// `[replication] max_observers` when not given.
const DEFAULT_MAX_OBSERVERS: usize = 8;
/// The most observers a primary may be configured to serve (each costs a tailer and a socket on
/// the hub's thread).
const MAX_OBSERVERS: usize = 256;

/// The core's [`Checker`] with the gateway's own checks.
pub(super) struct GatewayChecker<'a> {
    pub(super) checker: Checker<'a>,
    /// Warnings found on the way (a secret file others can read).
    pub(super) warnings: std::cell::RefCell<Vec<String>>,
}

/// What is loadable but unwise (clear-text passwords), one line each, naming the entry.
fn clear_text_warnings(origin: &str, users: &[UserConfig], admins: &[AdminConfig]) -> Vec<String> {
    let users = users
        .iter()
        .enumerate()
        .filter(|(_, u)| u.auth == AuthMode::Password && !u.password.is_hashed())
        .map(|(i, u)| format!("users[{i}] ({})", u.username));
    let admins = admins
        .iter()
        .enumerate()
        .filter(|(_, a)| !a.password.is_hashed())
        .map(|(i, a)| format!("admins[{i}] ({})", a.username));
    users
        .chain(admins)
        .map(|at| {
            format!(
                "{origin}: {at}.password is in clear text; store an argon2 hash instead \
                 (`cargo run --example admin -- hash-password`)"
            )
        })
        .collect()
}

impl GatewayChecker<'_> {
    fn field(&self, at: &str, key: &str, message: impl Into<String>) -> ConfigError {
        self.checker.field(at, key, message)
    }

    fn error(&self, key: impl Into<String>, message: impl Into<String>) -> ConfigError {
        self.checker.error(key, message)
    }

    fn name(&self, key: &str, name: &str) -> Result<(), ConfigError> {
        self.checker.name(key, name)
    }

    /// The whole file: the gateway's sections here, the core's through [`CoreSections`].
    pub(super) fn check(&self, mut raw: RawConfig) -> Result<ExchangeConfig, ConfigError> {
        let gateway = self.gateway(raw.gateway)?;
        let limits = self.limits(raw.limits)?;
        let market_data = self.market_data(raw.market_data)?;
        let alerts = self.alerts(raw.alerts)?;
        let users = self.users(raw.users, &gateway)?;
        let admins = self.admins(raw.admins, &users)?;
        let (ca_file, peer_name) = (raw.tls.ca_file.take(), raw.tls.peer_name.take());
        let tls = self.tls(raw.tls)?;
        let pair_tls = self.pair_tls(&tls, ca_file, peer_name, raw.replication.is_some())?;
        let replication = raw
            .replication
            .map(|r| self.replication(r, pair_tls))
            .transpose()?;
        let accounts: Vec<AccountId> = users.iter().map(|u| u.account).collect();
        let core = CoreSections {
            journal: raw.journal,
            pipeline: raw.pipeline,
            engine: raw.engine,
            assets: raw.assets,
            symbols: raw.symbols,
            deposits: raw.deposits,
        }
        .check(self.checker, &accounts, limits.max_open_orders)?;
        Ok(ExchangeConfig {
            gateway,
            limits,
            market_data,
            alerts,
            warnings: clear_text_warnings(self.checker.origin(), &users, &admins)
                .into_iter()
                .chain(self.warnings.take())
                .collect(),
            users,
            admins,
            replication,
            tls,
            core,
        })
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
        if raw.fix_message_store_mb > MAX_MESSAGE_STORE_MB {
            return Err(self.error(
                "gateway.fix_message_store_mb",
                format!(
                    "{} MiB is above the maximum of {MAX_MESSAGE_STORE_MB} per session",
                    raw.fix_message_store_mb
                ),
            ));
        }
        Ok(GatewayConfig {
            fix_listen: self.address("gateway.fix_listen", &raw.fix_listen)?,
            binary_listen: self.address("gateway.binary_listen", &raw.binary_listen)?,
            http_listen: self.address("gateway.http_listen", &raw.http_listen)?,
            admin_listen: raw
                .admin_listen
                .map(|a| self.address("gateway.admin_listen", &a))
                .transpose()?,
            comp_id: raw.comp_id,
            max_message_size: raw.max_message_size,
            fix_message_store_mb: raw.fix_message_store_mb,
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
            ("logon_backoff_ms", limits.logon_backoff_ms),
            ("logon_lockout_after", u64::from(limits.logon_lockout_after)),
            ("logon_lockout_s", limits.logon_lockout_s),
        ];
        if let Some((key, _)) = values.iter().find(|(_, value)| *value == 0) {
            return Err(self.error(format!("limits.{key}"), "must be positive"));
        }
        if limits.logon_lockout_after <= limits.logon_free_failures {
            return Err(self.error(
                "limits.logon_lockout_after",
                format!(
                    "{} must be above logon_free_failures ({}): failures back off before they \
                     lock out",
                    limits.logon_lockout_after, limits.logon_free_failures
                ),
            ));
        }
        Ok(limits)
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

    /// `[alerts]`: the webhook's URL, and bounds that keep a slow webhook from piling alerts up.
    fn alerts(&self, raw: RawAlerts) -> Result<AlertsConfig, ConfigError> {
        let d = AlertsConfig::default();
        let webhook = raw
            .webhook
            .map(|url| WebhookUrl::parse(&url).map_err(|m| self.error("alerts.webhook", m)))
            .transpose()?;
        if webhook.is_none() {
            // Tuning without a webhook is a forgotten line, not a choice.
            let given = [
                ("timeout_ms", raw.timeout_ms.is_some()),
                ("retries", raw.retries.is_some()),
                ("queue", raw.queue.is_some()),
            ];
            if let Some((key, _)) = given.iter().find(|(_, given)| *given) {
                return Err(self.error(
                    format!("alerts.{key}"),
                    "is used only with alerts.webhook (where alerts are sent)",
                ));
            }
        }
        let timeout_ms = raw.timeout_ms.unwrap_or(d.timeout_ms);
        // A zero would fail every delivery; past a minute, one dead webhook holds every other
        // alert (and the gateway's stop) for too long.
        if !(1..=60_000).contains(&timeout_ms) {
            return Err(self.error(
                "alerts.timeout_ms",
                format!("{timeout_ms} must be between 1 and 60000"),
            ));
        }
        let retries = raw.retries.unwrap_or(d.retries);
        if retries > 10 {
            return Err(self.error(
                "alerts.retries",
                format!("{retries} is above the maximum of 10 (the back-off doubles each time)"),
            ));
        }
        let queue = raw.queue.unwrap_or(d.queue);
        if queue == 0 {
            return Err(self.error("alerts.queue", "must be positive"));
        }
        Ok(AlertsConfig {
            webhook,
            timeout_ms,
            retries,
            queue,
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
                let password = Password::parse(&user.password)
                    .map_err(|why| self.field(&at, "password", why))?;
                Ok(UserConfig {
                    username: user.username,
                    password,
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
        raw: Vec<RawAdmin>,
        users: &[UserConfig],
    ) -> Result<Vec<AdminConfig>, ConfigError> {
        let mut seen: HashMap<String, usize> = HashMap::new();
        let mut admins = Vec::with_capacity(raw.len());
        for (i, admin) in raw.into_iter().enumerate() {
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
            let password =
                Password::parse(&admin.password).map_err(|why| self.field(&at, "password", why))?;
            // No default: an admin gets the least role it needs, written down.
            let role = admin.role.ok_or_else(|| {
                self.field(
                    &at,
                    "role",
                    "is required: viewer (status), operator (halts), treasury (funds) or root",
                )
            })?;
            admins.push(AdminConfig {
                username: admin.username,
                password,
                role,
            });
        }
        Ok(admins)
    }

    /// `[replication] secret` or `secret_file` (exactly one): the pair's shared secret.
    fn pair_secret(
        &self,
        secret: Option<String>,
        secret_file: Option<String>,
    ) -> Result<PairSecret, ConfigError> {
        match self.shared_secret(
            ("replication.secret", "replication.secret_file"),
            secret,
            secret_file,
        )? {
            Some(secret) => Ok(secret),
            None => Err(self.error(
                "replication.secret",
                "is required (or secret_file): both nodes of a pair prove it to each other                  before any journal record is sent; generate one with `openssl rand -hex 32`",
            )),
        }
    }

    /// A secret given inline or in a file (at most one of the two `keys`); `None` when neither.
    fn shared_secret(
        &self,
        keys: (&str, &str),
        secret: Option<String>,
        secret_file: Option<String>,
    ) -> Result<Option<PairSecret>, ConfigError> {
        let (key, file_key) = keys;
        match (secret, secret_file) {
            (Some(secret), None) => PairSecret::new(secret.as_bytes())
                .map(Some)
                .map_err(|why| self.error(key, why)),
            (None, Some(path)) => {
                if let Some(warning) = super::readable_by_others(Path::new(&path)) {
                    self.warnings.borrow_mut().push(warning);
                }
                let bytes = std::fs::read(&path)
                    .map_err(|e| self.error(file_key, format!("cannot read {path}: {e}")))?;
                PairSecret::new(&bytes)
                    .map(Some)
                    .map_err(|why| self.error(file_key, format!("{path}: the secret {why}")))
            }
            (Some(_), Some(_)) => {
                Err(self.error(key, format!("give {key} or {file_key}, not both")))
            }
            (None, None) => Ok(None),
        }
    }

    fn replication(
        &self,
        raw: RawReplication,
        tls: Option<PairTls>,
    ) -> Result<ReplicationConfig, ConfigError> {
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
        let secret = self.pair_secret(raw.secret, raw.secret_file)?;
        let observer_secret = self.shared_secret(
            (
                "replication.observer_secret",
                "replication.observer_secret_file",
            ),
            raw.observer_secret,
            raw.observer_secret_file,
        )?;
        if observer_secret.as_ref().is_some_and(|o| o.same_as(&secret)) {
            return Err(self.error(
                "replication.observer_secret",
                "must differ from the pair's secret: an observer must not be able to act as the \
                 standby",
            ));
        }
        let max_observers = match raw.max_observers {
            Some(0) => {
                return Err(self.error(
                    "replication.max_observers",
                    "must be positive (leave observer_secret unset to serve no observers)",
                ));
            }
            Some(n) if n > MAX_OBSERVERS => {
                return Err(self.error(
                    "replication.max_observers",
                    format!("at most {MAX_OBSERVERS}"),
                ));
            }
            Some(n) => n,
            None => DEFAULT_MAX_OBSERVERS,
        };
        Ok(ReplicationConfig {
            secret,
            observer_secret,
            max_observers,
            role: raw.role,
            listen,
            primary,
            mode: raw.mode,
            on_standby_loss: raw.on_standby_loss,
            ack_timeout_ms,
            heartbeat_ms,
            auto_promote_after: raw.auto_promote_after,
            tls,
        })
    }

    /// `[tls] replication = true`: the link needs `[replication]`, this node's certificate (for
    /// when it is the primary) and `ca_file` (what it trusts when it connects to its peer).
    fn pair_tls(
        &self,
        tls: &TlsConfig,
        ca_file: Option<String>,
        peer_name: Option<String>,
        has_replication: bool,
    ) -> Result<Option<PairTls>, ConfigError> {
        if !tls.replication {
            for (key, given) in [
                ("tls.ca_file", ca_file.is_some()),
                ("tls.peer_name", peer_name.is_some()),
            ] {
                if given {
                    return Err(self.error(key, "is used only with tls.replication = true"));
                }
            }
            return Ok(None);
        }
        if !has_replication {
            return Err(self.error(
                "tls.replication",
                "needs a [replication] section (this node is not one of a pair)",
            ));
        }
        // `tls()` already required cert_file and key_file with any listener on.
        let Some(server) = tls.server.clone() else {
            return Err(self.error(
                "tls.cert_file",
                "is required with tls.replication = true (and key_file)",
            ));
        };
        let Some(ca_file) = ca_file else {
            return Err(self.error(
                "tls.ca_file",
                "is required with tls.replication = true (the certificate authority, or the \
                 peer's own self-signed certificate, that the peer's certificate must chain to)",
            ));
        };
        let client = client_config(std::path::Path::new(&ca_file))
            .map_err(|message| self.error("tls.ca_file", message))?;
        let peer_name = peer_name
            .map(|name| crate::tls::peer_name(&name).map_err(|m| self.error("tls.peer_name", m)))
            .transpose()?;
        Ok(Some(PairTls::new(server, client, peer_name)))
    }

    /// `[tls]`: a listener with TLS on needs `cert_file` and `key_file`, which are loaded and
    /// checked now, so a bad file stops the start naming the file, not the first client.
    fn tls(&self, raw: RawTls) -> Result<TlsConfig, ConfigError> {
        let on = [
            ("fix", raw.fix),
            ("binary", raw.binary),
            ("http", raw.http),
            ("ws", raw.ws),
            ("replication", raw.replication),
        ]
        .into_iter()
        .find(|(_, on)| *on)
        .map(|(name, _)| name);
        let config = TlsConfig {
            cert_file: raw.cert_file.map(PathBuf::from),
            key_file: raw.key_file.map(PathBuf::from),
            fix: raw.fix,
            binary: raw.binary,
            http: raw.http,
            ws: raw.ws,
            replication: raw.replication,
            server: None,
        };
        let (cert_file, key_file) = match (&config.cert_file, &config.key_file) {
            (Some(cert), Some(key)) => (cert.clone(), key.clone()),
            (None, None) => match on {
                None => return Ok(config),
                Some(name) => {
                    return Err(self.error(
                        "tls.cert_file",
                        format!("is required with tls.{name} = true (and key_file)"),
                    ));
                }
            },
            (Some(_), None) => return Err(self.error("tls.key_file", "is required with cert_file")),
            (None, Some(_)) => return Err(self.error("tls.cert_file", "is required with key_file")),
        };
        let server = load_server_config(&cert_file, &key_file)
            .map_err(|e| self.error(format!("tls.{}", e.key), e.message))?;
        Ok(config.with_server(server))
    }
}

#[cfg(test)]
mod tests {
    use super::super::sections::{AlertsConfig, WebhookUrl};
    use super::*;

    fn load(alerts: &str) -> Result<ExchangeConfig, ConfigError> {
        ExchangeConfig::from_toml_str(&format!("[alerts]\n{alerts}\n"), "a.toml")
    }

    fn error(alerts: &str) -> String {
        match load(alerts) {
            Ok(_) => panic!("{alerts:?} loaded"),
            Err(e) => e.to_string(),
        }
    }

    #[test]
    fn alerts_defaults_and_keys() {
        let none = ExchangeConfig::from_toml_str("", "a.toml").unwrap();
        assert_eq!(none.alerts(), &AlertsConfig::default());
        let config = load(
            "webhook = \"http://alerts.example:9093/hayate?team=ops\"\ntimeout_ms = 500\n\
             retries = 0\nqueue = 16",
        )
        .unwrap();
        let alerts = config.alerts();
        assert_eq!(
            alerts.webhook,
            Some(WebhookUrl {
                url: "http://alerts.example:9093/hayate?team=ops".to_owned(),
                host: "alerts.example".to_owned(),
                port: 9093,
                path: "/hayate?team=ops".to_owned(),
            })
        );
        assert_eq!(
            (alerts.timeout_ms, alerts.retries, alerts.queue),
            (500, 0, 16)
        );
        let defaults = load("webhook = \"http://127.0.0.1\"").unwrap();
        let alerts = defaults.alerts();
        let webhook = alerts.webhook.as_ref().unwrap();
        assert_eq!((webhook.port, webhook.path.as_str()), (80, "/"));
        assert_eq!(
            (alerts.timeout_ms, alerts.retries, alerts.queue),
            (2000, 3, 256)
        );
        let v6 = load("webhook = \"http://[::1]:8080/x\"").unwrap();
        let webhook = v6.alerts().webhook.clone().unwrap();
        assert_eq!((webhook.host.as_str(), webhook.port), ("[::1]", 8080));
    }

    #[test]
    fn alerts_errors_name_the_key() {
        assert_eq!(
            error("webhook = \"https://hooks.example/x\""),
            "a.toml: alerts.webhook: \"https://hooks.example/x\": https:// is not supported; \
             point it at an http:// relay (e.g. a local proxy that forwards to the TLS endpoint)"
        );
        assert_eq!(
            error("webhook = \"ftp://x/\""),
            "a.toml: alerts.webhook: \"ftp://x/\" is not an http:// URL"
        );
        assert!(error("webhook = \"http://x:99999/\"").starts_with("a.toml: alerts.webhook: "));
        assert!(error("webhook = \"http:///path\"").contains("has no valid host"));
        assert!(error("webhook = \"http://u:p@x/\"").contains("credentials"));
        assert_eq!(
            error("webhook = \"http://x/\"\ntimeout_ms = 0"),
            "a.toml: alerts.timeout_ms: 0 must be between 1 and 60000"
        );
        assert_eq!(
            error("webhook = \"http://x/\"\nqueue = 0"),
            "a.toml: alerts.queue: must be positive"
        );
        assert!(
            error("webhook = \"http://x/\"\nretries = 11")
                .starts_with("a.toml: alerts.retries: 11")
        );
        assert_eq!(
            error("timeout_ms = 100"),
            "a.toml: alerts.timeout_ms: is used only with alerts.webhook (where alerts are sent)"
        );
        assert!(error("webhook = \"http://x/\"\nurl = \"y\"").contains("unknown field `url`"));
    }
}
