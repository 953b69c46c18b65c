//! The example exchange: FIX 4.4 and binary order entry, admin, `/status` and `/metrics`, over a
//! journaled pipeline. Every key of the configuration has a default, so the bare command starts
//! the demo exchange (demo symbols and users) on 127.0.0.1.
//!
//! ```text
//! cargo run --release --example gateway                      # the demo exchange, journal in ./data
//! cargo run --release --example gateway -- --config my.toml
//! ```
//!
//! Stop it with Ctrl-C (SIGINT) or SIGTERM: sessions are logged out, the pipeline drains, the
//! journal is made durable and a snapshot written. After a crash, start it again: it recovers
//! from the journal and cancels the orders of users with cancel-on-disconnect.
//!
//! In a pair (`[replication]`), `--role standby` overrides the file's role: that is how an old
//! primary rejoins after a failover. A primary that learns of a later epoch steps down and
//! rejoins as a standby by itself, dropping any journal tail its new primary never had.

use std::process::ExitCode;

use clap::Parser;
use hayate::ExchangeConfig;
use hayate::adapters::gateway::run_node;
use hayate::config::{AuthMode, Role};

#[derive(Parser)]
#[command(about = "Run the Hayate example exchange (FIX 4.4, binary, admin, HTTP status)")]
struct Cli {
    /// The gateway configuration (TOML, BEHAVIOUR.md §5); the demo exchange when absent.
    #[arg(long, value_name = "FILE")]
    config: Option<std::path::PathBuf>,
    /// Start as `primary` or `standby`, whatever `[replication] role` says.
    #[arg(long, value_name = "ROLE", value_parser = ["primary", "standby"])]
    role: Option<String>,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    // Session events (logons, refusals, closes with their reason) go to stderr; RUST_LOG
    // (e.g. `RUST_LOG=debug`) changes the level.
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_writer(std::io::stderr)
        .init();
    let config = match &cli.config {
        Some(path) => match ExchangeConfig::load(path) {
            Ok(config) => config,
            Err(e) => {
                eprintln!("{e}");
                return ExitCode::FAILURE;
            }
        },
        None => ExchangeConfig::demo(),
    };
    let config = match cli.role.as_deref() {
        None => config,
        Some(role) => {
            let role = if role == "standby" {
                Role::Standby
            } else {
                Role::Primary
            };
            match config.with_role(role) {
                Ok(config) => config,
                Err(e) => {
                    eprintln!("{e}");
                    return ExitCode::FAILURE;
                }
            }
        }
    };
    for user in config.users() {
        if user.auth == AuthMode::None {
            eprintln!(
                "warning: user {} logs on without a password (auth = \"none\"); for test venues only",
                user.username
            );
        }
    }
    let stop = hayate::adapters::signals::stop_flag();
    let comp_id = config.gateway().comp_id.clone();
    let started = run_node(config, stop, |gateway| {
        let addrs = gateway.addrs();
        println!("recovered: {}", gateway.recovery());
        println!(
            "hayate: FIX 4.4 on {} (comp id {comp_id}), binary on {}, http://{}/status, {} in epoch {}",
            addrs.fix,
            addrs.binary,
            addrs.http,
            gateway.role().state().name(),
            gateway.role().epoch(),
        );
        if let Some(ws) = addrs.ws {
            println!(
                "hayate: market data on ws://{ws} (watch it: cargo run --release --example watch -- BTC-JPY --url ws://{ws})"
            );
        }
    });
    match started {
        Ok(report) => {
            println!(
                "stopped: durable sequence {}, digest {:016x}{}",
                report.durable_seq,
                report.digest,
                report
                    .snapshot
                    .map(|p| format!(", snapshot {}", p.display()))
                    .unwrap_or_default()
            );
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("stopped badly: {e}");
            ExitCode::FAILURE
        }
    }
}
