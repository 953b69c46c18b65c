//! The gateways the network modes talk to: a running one (`--addr`, with `--user`s or the demo's
//! traders), or the demo exchange started in this process on ephemeral ports with a funded
//! trader per client and the rate limit lifted, as a primary with a standby of its own for
//! `--replication async|sync`; fresh data directories for each; and stopping them within a
//! bound, the primary before its standby.

use std::net::{SocketAddr, ToSocketAddrs};
use std::path::{Path, PathBuf};
use std::time::Duration;

use hayate::ExchangeConfig;
use hayate::adapters::gateway::Gateway;
use hayate::journal::FlushPolicy;
use hayate::pipeline::{StopReport, Wait};

use super::Target;
use super::maker::MAKER;
use super::replication::{await_caught_up, replication_settings};
use super::scale_out::OBSERVER_SECRET;
use crate::{Args, Mode, Replication, is_empty_dir};

/// The rate limit given to the sessions of a gateway this process starts: high enough that the
/// token bucket never refuses the generator's own load.
pub(super) const UNTHROTTLED: u32 = 1_000_000_000;
/// How long stopping one gateway may take before the run gives up on it.
const STOP_TIMEOUT: Duration = Duration::from_secs(30);

/// A trader's logon.
#[derive(Clone, Debug)]
pub(super) struct Credentials {
    pub(super) username: String,
    pub(super) password: String,
    pub(super) comp_id: String,
}

impl Credentials {
    pub(super) fn new(username: &str, password: &str, comp_id: &str) -> Credentials {
        Credentials {
            username: username.to_owned(),
            password: password.to_owned(),
            comp_id: comp_id.to_owned(),
        }
    }

    /// `NAME:PASSWORD[:COMPID]`; the comp id defaults to the upper-cased name (the demo's
    /// convention).
    fn parse(text: &str) -> Result<Credentials, String> {
        let mut parts = text.splitn(3, ':');
        let (Some(name), Some(password)) = (parts.next(), parts.next()) else {
            return Err(format!("--user {text:?}: expected NAME:PASSWORD[:COMPID]"));
        };
        if name.is_empty() {
            return Err(format!("--user {text:?}: the name is empty"));
        }
        let comp_id = parts
            .next()
            .map_or_else(|| name.to_uppercase(), str::to_owned);
        Ok(Credentials::new(name, password, &comp_id))
    }
}

/// The pair's secret for the primary and standby this process starts (a fresh pair each run,
/// on 127.0.0.1 only).
const PAIR_SECRET: &str = "loadgen-pair-secret-0123456789";

pub(super) struct OwnGateway {
    pub(super) gateway: Gateway,
    /// Its configuration (a bridge run's bridge and edge take the engine and feed settings).
    pub(super) config: ExchangeConfig,
    pub(super) data_dir: PathBuf,
    /// Keeps the temporary directory until the gateway has stopped.
    _temp: Option<tempfile::TempDir>,
    pub(super) initial_commands: u64,
    pub(super) setting: Replication,
    /// The standby following `gateway` (async and sync).
    pub(super) standby: Option<OwnStandby>,
}

/// A standby gateway started in this process, following the primary's replication port.
pub(super) struct OwnStandby {
    pub(super) gateway: Gateway,
    /// The primary's bound replication address, which the standby follows.
    pub(super) primary: SocketAddr,
    pub(super) data_dir: PathBuf,
    pub(super) _temp: Option<tempfile::TempDir>,
}

/// How a gateway started here ended, and its standby's.
pub(super) struct Stopped {
    pub(super) report: Result<StopReport, String>,
    pub(super) initial_commands: u64,
    pub(super) data_dir: PathBuf,
    _temp: Option<tempfile::TempDir>,
    pub(super) standby: Option<StandbyStopped>,
}

pub(super) struct StandbyStopped {
    pub(super) report: Result<StopReport, String>,
    pub(super) data_dir: PathBuf,
    _temp: Option<tempfile::TempDir>,
    /// The wait for the standby to acknowledge everything before the primary stopped: how long
    /// it took, or the lag left when the wait ended.
    pub(super) caught_up: Result<Duration, u64>,
}

/// Stops `gateway` on a thread of its own and waits at most `STOP_TIMEOUT` for it.
fn stop_within(gateway: Gateway, what: &str) -> Result<StopReport, String> {
    let (done, report) = std::sync::mpsc::channel();
    std::thread::Builder::new()
        .name("loadgen-stop".into())
        .spawn(move || {
            let _ = done.send(gateway.stop().map_err(|e| e.to_string()));
        })
        .map_err(|e| format!("cannot start a thread to stop {what}: {e}"))?;
    match report.recv_timeout(STOP_TIMEOUT) {
        Ok(report) => report,
        Err(_) => Err(format!("{what} did not stop within {STOP_TIMEOUT:?}")),
    }
}

/// Stops a gateway started here: with a standby, once the standby has everything (bounded), the
/// primary first, then the standby.
pub(super) fn stop_own(own: OwnGateway) -> Stopped {
    let OwnGateway {
        gateway,
        data_dir,
        _temp,
        initial_commands,
        standby,
        ..
    } = own;
    let caught_up = standby.as_ref().map(|_| await_caught_up(&gateway));
    let report = stop_within(gateway, "the gateway");
    let standby = standby
        .zip(caught_up)
        .map(|(standby, caught_up)| StandbyStopped {
            report: stop_within(standby.gateway, "the standby"),
            data_dir: standby.data_dir,
            _temp: standby._temp,
            caught_up,
        });
    Stopped {
        report,
        initial_commands,
        data_dir,
        _temp,
        standby,
    }
}

/// Credentials for `--addr`: `--user`s, else the demo's traders.
pub(super) fn remote_target(args: &Args, addr: &str) -> Result<Target, String> {
    let addr_text = addr;
    let addr = addr
        .to_socket_addrs()
        .map_err(|e| format!("--addr {addr}: {e}"))?
        .next()
        .ok_or_else(|| format!("--addr {addr}: no address"))?;
    let users = if args.user.is_empty() {
        vec![
            Credentials::new("alice", "change-me", "ALICE"),
            Credentials::new("bob", "change-me", "BOB"),
        ]
    } else {
        args.user
            .iter()
            .map(|u| Credentials::parse(u))
            .collect::<Result<Vec<_>, _>>()?
    };
    // A FIX comp id may hold one session at a time; binary sessions can share a user.
    if args.mode == Mode::Fix && (users.len() as u64) < args.clients {
        return Err(format!(
            "--mode fix with {} clients needs {} --user (one comp id per session), got {}",
            args.clients,
            args.clients,
            users.len()
        ));
    }
    let tls = match (args.tls, &args.ca) {
        (false, _) => None,
        (true, None) => return Err("--tls with --addr needs --ca FILE".into()),
        (true, Some(ca)) => {
            let host = addr_text.rsplit_once(':').map_or(addr_text, |(h, _)| h);
            let name = args.server_name.clone().unwrap_or_else(|| host.to_owned());
            Some((hayate::adapters::tls::client_config(ca)?, name))
        }
    };
    Ok(Target {
        addr,
        tls,
        users,
        target_comp_id: args.target_comp_id.clone(),
        own: None,
    })
}

/// A fresh data directory: `--data` (or `--data/<name>` when each setting has its own), else a
/// new temporary one, deleted when the returned guard is dropped.
fn fresh_dir(
    args: &Args,
    name: Option<&str>,
) -> Result<(PathBuf, Option<tempfile::TempDir>), String> {
    match &args.data {
        Some(dir) => {
            let dir = name.map_or_else(|| dir.clone(), |name| dir.join(name));
            if dir.exists() && !is_empty_dir(&dir)? {
                return Err(format!(
                    "--data {}: the directory must be empty or absent",
                    dir.display()
                ));
            }
            Ok((dir, None))
        }
        None => {
            let prefix = name.map_or_else(
                || "hayate-loadgen-".to_owned(),
                |name| format!("hayate-loadgen-{name}-"),
            );
            let temp = tempfile::Builder::new()
                .prefix(&prefix)
                .tempdir()
                .map_err(|e| format!("cannot create a temporary directory: {e}"))?;
            Ok((temp.path().to_path_buf(), Some(temp)))
        }
    }
}

/// Starts the demo exchange in this process on ephemeral ports, with a trader per client; for
/// `async` and `sync`, as a primary with a standby of its own (not yet necessarily connected).
pub(super) fn own_gateway(
    args: &Args,
    setting: Replication,
    subscribers: Option<u64>,
    bridge: Option<bool>,
) -> Result<Target, String> {
    if !args.user.is_empty() {
        return Err("--user is for --addr: the gateway started here has its own users".into());
    }
    // The plain run keeps `--data` as it is; a comparison gives each gateway its own directory.
    let own_dirs = args.replication != [Replication::None]
        || args.ws_subscribers.len() > 1
        || bridge.is_some();
    let name = match (subscribers, bridge) {
        (Some(count), _) => format!("ws{count}"),
        (None, Some(true)) => "bridge".to_owned(),
        (None, Some(false)) => "no-bridge".to_owned(),
        (None, None) => setting.name().to_owned(),
    };
    let (data_dir, temp) = fresh_dir(args, own_dirs.then_some(name.as_str()))?;
    let section = match setting {
        // Both runs of --bridge: a primary serving observers, with or without one attached.
        Replication::None if bridge.is_some() => Some(format!(
            "\n[replication]\nrole = \"primary\"\nlisten = \"127.0.0.1:0\"\nsecret = \"{PAIR_SECRET}\"\nobserver_secret = \"{OBSERVER_SECRET}\"\n{}",
            replication_settings(Replication::Async)
        )),
        Replication::None => None,
        Replication::Async | Replication::Sync => Some(format!(
            "\n[replication]\nrole = \"primary\"\nlisten = \"127.0.0.1:0\"\nsecret = \"{PAIR_SECRET}\"\n{}",
            replication_settings(setting)
        )),
    };
    let link_tls = args.link_tls && setting != Replication::None;
    let (tls_section, tls) = match (args.tls, link_tls) {
        (false, false) => (String::new(), None),
        (ports, link) => {
            let (section, client) = own_certificate(&data_dir, args.mode, ports, link)?;
            (section, ports.then(|| (client, "localhost".to_owned())))
        }
    };
    let section = Some(format!("{}{tls_section}", section.unwrap_or_default()));
    let (config, users) = gateway_config(args, &data_dir, section.as_deref())?;
    let initial_commands = config.initial_deposits().len() as u64;
    let target_comp_id = config.gateway().comp_id.clone();
    let gateway =
        Gateway::start(config.clone()).map_err(|e| format!("cannot start the gateway: {e}"))?;
    let addrs = gateway.addrs();
    let recovery = gateway.recovery();
    if recovery.last_seq != 0 || recovery.snapshot.is_some() {
        return Err(format!(
            "the journal under {} was not new ({recovery})",
            data_dir.display()
        ));
    }
    let standby = match setting {
        Replication::None => None,
        Replication::Async | Replication::Sync => {
            let primary = gateway
                .replication_addr()
                .ok_or("the primary gateway has no replication address")?;
            let name = format!("{}-standby", setting.name());
            let (data_dir, temp) = fresh_dir(args, Some(&name))?;
            // The same [tls] as the primary's: the standby checks the primary's certificate.
            let section = format!(
                "\n[replication]\nrole = \"standby\"\nprimary = \"{primary}\"\nsecret = \"{PAIR_SECRET}\"\n{}{tls_section}",
                replication_settings(setting)
            );
            let (config, _) = gateway_config(args, &data_dir, Some(&section))?;
            let standby = Gateway::start(config)
                .map_err(|e| format!("cannot start the standby gateway: {e}"))?;
            let recovery = standby.recovery();
            if recovery.last_seq != 0 || recovery.snapshot.is_some() {
                return Err(format!(
                    "the standby's journal under {} was not new ({recovery})",
                    data_dir.display()
                ));
            }
            Some(OwnStandby {
                gateway: standby,
                primary,
                data_dir,
                _temp: temp,
            })
        }
    };
    Ok(Target {
        addr: match args.mode {
            Mode::Fix => addrs.fix,
            _ => addrs.binary,
        },
        tls,
        users,
        target_comp_id,
        own: Some(OwnGateway {
            gateway,
            config,
            data_dir,
            _temp: temp,
            initial_commands,
            setting,
            standby,
        }),
    })
}

/// --tls or --link-tls on a gateway started here: a fresh self-signed certificate for localhost
/// in `dir`, the `[tls]` section turning it on for the port under test (and the binary port,
/// which the maker uses) with `ports`, and for the pair's link with `link`, and a client
/// configuration trusting it.
fn own_certificate(
    dir: &Path,
    mode: Mode,
    ports: bool,
    link: bool,
) -> Result<
    (
        String,
        std::sync::Arc<hayate::adapters::tls::rustls::ClientConfig>,
    ),
    String,
> {
    let made = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()])
        .map_err(|e| format!("a self-signed certificate: {e}"))?;
    let cert = dir.join("loadgen.crt");
    let key = dir.join("loadgen.key");
    std::fs::write(&cert, made.cert.pem())
        .and_then(|()| std::fs::write(&key, made.key_pair.serialize_pem()))
        .map_err(|e| format!("writing the certificate into {}: {e}", dir.display()))?;
    let mut section = format!(
        "\n[tls]\ncert_file = {:?}\nkey_file = {:?}\n",
        cert.display().to_string(),
        key.display().to_string()
    );
    if ports {
        section.push_str("binary = true\n");
        if mode == Mode::Fix {
            section.push_str("fix = true\n");
        }
    }
    if link {
        section.push_str(&format!(
            "replication = true\nca_file = {:?}\npeer_name = \"localhost\"\n",
            cert.display().to_string()
        ));
    }
    Ok((section, hayate::adapters::tls::client_config(&cert)?))
}

/// The demo configuration on ephemeral ports, with the run's journal settings, the rate limit
/// lifted, a funded trader for every client past the demo's two, and `replication` (a
/// `[replication]` section) appended.
fn gateway_config(
    args: &Args,
    data_dir: &Path,
    replication: Option<&str>,
) -> Result<(ExchangeConfig, Vec<Credentials>), String> {
    let mut text = hayate::config::DEMO_TOML.to_owned();
    for port in [
        "127.0.0.1:9878",
        "127.0.0.1:9000",
        "127.0.0.1:8080",
        "127.0.0.1:8081",
    ] {
        replace_once(&mut text, port, "127.0.0.1:0")?;
    }
    replace_once(
        &mut text,
        "dir = \"data\"",
        &format!("dir = {:?}", data_dir.display().to_string()),
    )?;
    let fsync = match args.fsync.0 {
        FlushPolicy::Always => "fsync = \"always\"".to_owned(),
        FlushPolicy::Never => "fsync = \"never\"".to_owned(),
        FlushPolicy::Interval { ms } => format!("fsync = \"interval\"\nfsync_interval_ms = {ms}"),
    };
    replace_once(&mut text, "fsync = \"always\"", &fsync)?;
    replace_once(
        &mut text,
        "segment_size = 67108864",
        &format!("segment_size = {}", args.segment_size),
    )?;
    // The disk guard stays on unless --min-free-mb 0, by default at two segments or 128 MiB: a
    // benchmark machine's disk may hold less than the default GiB, and a run must not measure
    // DISK_FULL refusals.
    let min_free_mb = args
        .min_free_mb
        .unwrap_or_else(|| (2 * args.segment_size).div_ceil(1 << 20).max(128));
    replace_once(
        &mut text,
        "min_free_mb = 1024",
        &format!("min_free_mb = {min_free_mb}"),
    )?;
    replace_once(
        &mut text,
        "input_ring = 16384",
        &format!("input_ring = {}", args.input_ring),
    )?;
    replace_once(
        &mut text,
        "output_ring = 65536",
        &format!("output_ring = {}", args.output_ring),
    )?;
    let wait = match args.wait {
        Wait::Backoff => "backoff",
        Wait::Yield => "yield",
        Wait::BusySpin => "busy-spin",
    };
    replace_once(
        &mut text,
        "wait = \"backoff\"",
        &format!("wait = \"{wait}\""),
    )?;
    for (stage, core) in [
        ("journaler", args.pin_journaler),
        ("replicator", args.pin_replicator),
        ("matcher", args.pin_matcher),
    ] {
        if let Some(core) = core {
            let commented = format!("# pin_{stage} = ");
            let start = text
                .find(&commented)
                .ok_or_else(|| format!("the demo configuration has no {commented:?}"))?;
            let end = start + text[start..].find('\n').unwrap_or(text.len() - start);
            text.replace_range(start..end, &format!("pin_{stage} = {core}"));
        }
    }
    replace_once(
        &mut text,
        "messages_per_second = 100",
        &format!("messages_per_second = {UNTHROTTLED}"),
    )?;
    replace_once(&mut text, "burst = 200", &format!("burst = {UNTHROTTLED}"))?;
    replace_once(
        &mut text,
        "fix_message_store_mb = 16",
        &format!("fix_message_store_mb = {}", args.fix_store_mb),
    )?;
    // Market-data runs: every subscriber from this one address, none dropped for a short stall.
    replace_once(
        &mut text,
        "max_connections = 1024          # WebSocket",
        "max_connections = 100000          # WebSocket",
    )?;
    replace_once(
        &mut text,
        "max_connections_per_address = 64\nmax_subscriptions",
        "max_connections_per_address = 100000\nmax_subscriptions",
    )?;
    replace_once(
        &mut text,
        "max_queued_bytes = 4194304",
        "max_queued_bytes = 67108864",
    )?;
    // The market maker whose resting sell the `--trade-every` orders take from.
    text.push_str(&format!(
        "\n[[users]]\nusername = \"{MAKER}\"\npassword = \"maker\"\ncomp_id = \"MAKER\"\naccount = 99\ncancel_on_disconnect = false\n\
         [[deposits]]\naccount = 99\nasset = \"BTC\"\namount = \"1000\"\n"
    ));

    let mut users = vec![
        Credentials::new("alice", "change-me", "ALICE"),
        Credentials::new("bob", "change-me", "BOB"),
    ];
    for client in 2..args.clients {
        let n = client + 1;
        let user = Credentials::new(&format!("load{n}"), "load", &format!("LOAD{n}"));
        // Accounts well clear of the demo's 1 and 2; funded like them.
        let account = 100 + n;
        text.push_str(&format!(
            "\n[[users]]\nusername = {:?}\npassword = {:?}\ncomp_id = {:?}\naccount = {account}\ncancel_on_disconnect = false\n\
             [[deposits]]\naccount = {account}\nasset = \"JPY\"\namount = \"100000000\"\n\
             [[deposits]]\naccount = {account}\nasset = \"BTC\"\namount = \"10\"\n",
            user.username, user.password, user.comp_id
        ));
        users.push(user);
    }
    users.truncate(args.clients as usize);
    if let Some(section) = replication {
        text.push_str(section);
    }
    let config = ExchangeConfig::from_toml_str(&text, "loadgen.toml")
        .map_err(|e| format!("the load test configuration: {e}"))?;
    Ok((config, users))
}

/// Replaces the one occurrence of `from`, so a change to the demo file fails loudly instead of
/// silently running with its defaults.
fn replace_once(text: &mut String, from: &str, to: &str) -> Result<(), String> {
    match text.match_indices(from).count() {
        1 => {
            *text = text.replacen(from, to, 1);
            Ok(())
        }
        n => Err(format!(
            "the demo configuration holds {from:?} {n} times, expected once"
        )),
    }
}
