//! The bridge: an observer of the exchange's journal that publishes what the core produced to
//! NATS JetStream (market data per symbol, trades, a drop copy per account) and PostgreSQL
//! (trades, order events, balances), each with its cursor committed with its data. The exchange
//! never waits for it.
//!
//! ```text
//! cargo run --release --example bridge -- --config bridge.toml
//! ```
//!
//! The configuration is described in `hayate::adapters::bridge::config`; the README's "Scaling
//! out" shows the whole topology. Stop it with Ctrl-C (SIGINT) or SIGTERM (the write under way
//! finishes and its state is saved); a SIGKILL at any moment loses and duplicates nothing.

use std::process::ExitCode;
use std::sync::atomic::Ordering;
use std::time::Duration;

use clap::Parser;
use hayate::adapters::bridge::config::BridgeConfig;
use hayate::adapters::bridge::{
    Bridge, NatsSettings, NatsSink, PostgresSink, Sink, SinkError, metrics,
};

#[derive(Parser)]
#[command(about = "Publish the exchange's output to NATS JetStream and PostgreSQL")]
struct Cli {
    /// The bridge's configuration (TOML).
    #[arg(long, value_name = "FILE")]
    config: std::path::PathBuf,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_writer(std::io::stderr)
        .init();
    let config = match BridgeConfig::load(&cli.config) {
        Ok(config) => config,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::FAILURE;
        }
    };
    let stop = hayate::adapters::signals::stop_flag();
    let sinks = match sinks(&config) {
        Ok(sinks) => sinks,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::FAILURE;
        }
    };
    let bridge = match Bridge::start(config.settings(), sinks) {
        Ok(bridge) => bridge,
        Err(e) => {
            eprintln!("cannot start the bridge: {e}");
            return ExitCode::FAILURE;
        }
    };
    let _metrics = match config.metrics {
        Some(addr) => match metrics::serve(addr, bridge.status()) {
            Ok(server) => {
                println!("bridge: metrics on http://{}/metrics", server.addr());
                Some(server)
            }
            Err(e) => {
                eprintln!("cannot serve metrics on {addr}: {e}");
                return ExitCode::FAILURE;
            }
        },
        None => None,
    };
    println!("bridge: observing {:?}", config.observe.nodes);
    while !stop.load(Ordering::Relaxed) && !bridge.is_finished() {
        std::thread::sleep(Duration::from_millis(50));
    }
    match bridge.stop() {
        None => {
            println!("bridge: stopped");
            ExitCode::SUCCESS
        }
        Some(failure) => {
            eprintln!("bridge: {failure}");
            ExitCode::FAILURE
        }
    }
}

/// The sinks the configuration names, connected (retried while a server is not up yet, so the
/// bridge can start before them; a fatal refusal stops it at once).
fn sinks(config: &BridgeConfig) -> Result<Vec<Box<dyn Sink>>, String> {
    let digest = config.observe.config_digest;
    let mut sinks: Vec<Box<dyn Sink>> = Vec::new();
    if let Some(nats) = &config.nats {
        let servers: Vec<String> = nats.url.split(',').map(|s| s.trim().to_string()).collect();
        let settings = NatsSettings {
            prefix: nats.prefix.clone(),
            replicas: nats.replicas,
            ..NatsSettings::default()
        };
        let sink = connect("nats", config, || {
            NatsSink::connect(&servers, settings.clone(), digest)
        })?;
        sinks.push(Box::new(sink));
    }
    if let Some(postgres) = &config.postgres {
        let sink = connect("postgres", config, || {
            PostgresSink::connect(&postgres.url, digest)
        })?;
        sinks.push(Box::new(sink));
    }
    Ok(sinks)
}

/// `connect()` until it succeeds or fails for good; waits `retry` between tries.
fn connect<T>(
    what: &str,
    config: &BridgeConfig,
    mut connect: impl FnMut() -> Result<T, SinkError>,
) -> Result<T, String> {
    loop {
        match connect() {
            Ok(sink) => return Ok(sink),
            Err(SinkError::Fatal { message, .. }) => return Err(format!("{what}: {message}")),
            Err(e) => {
                eprintln!("bridge: {e}; retrying");
                if hayate::adapters::signals::stop_flag().load(Ordering::Relaxed) {
                    return Err(format!("{what}: stopped before it connected"));
                }
                std::thread::sleep(config.retry);
            }
        }
    }
}
