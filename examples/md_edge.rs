//! A market-data edge: the public WebSocket feed (BEHAVIOUR.md §9) served from NATS JetStream,
//! so subscribers scale across machines while the exchange serves none of them. It starts from
//! the market-data state the bridge keeps in JetStream and follows the engine events the bridge
//! publishes, with the gateway's own builder and feed: its messages are the core's (the same
//! snapshots, updates and sequences), and it has the feed's defences (`[market_data]` caps,
//! rate limits, size limits, slow-subscriber disconnects).
//!
//! ```text
//! cargo run --release --example md_edge -- --exchange exchange.toml --nats nats://127.0.0.1:4222 \
//!     --listen 0.0.0.0:8081
//! ```
//!
//! `--exchange` is the gateway's configuration: its symbols and its `[market_data]` section
//! (everything but `ws_listen`, which `--listen` gives). Stop it with Ctrl-C or SIGTERM.

use std::net::SocketAddr;
use std::process::ExitCode;
use std::sync::atomic::Ordering;
use std::time::Duration;

use clap::Parser;
use hayate::ExchangeConfig;
use hayate::adapters::bridge::NatsSettings;
use hayate::adapters::bridge::edge::{Edge, EdgeSettings};

#[derive(Parser)]
#[command(about = "Serve the exchange's WebSocket market-data feed from NATS JetStream")]
struct Cli {
    /// The gateway's configuration (symbols, [market_data] defences).
    #[arg(long, value_name = "FILE")]
    exchange: std::path::PathBuf,
    /// The NATS servers (comma-separated for a cluster).
    #[arg(long, value_name = "URL", default_value = "nats://127.0.0.1:4222")]
    nats: String,
    /// The subjects' first token, as the bridge's [nats] prefix.
    #[arg(long, default_value = "hayate")]
    prefix: String,
    /// Where the WebSocket feed listens.
    #[arg(long, value_name = "HOST:PORT", default_value = "127.0.0.1:8081")]
    listen: SocketAddr,
    /// How long to wait for the bridge's first market-data state.
    #[arg(long, value_name = "SECONDS", default_value_t = 30)]
    wait: u64,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .init();
    let exchange = match ExchangeConfig::load(&cli.exchange) {
        Ok(config) => config,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::FAILURE;
        }
    };
    let stop = hayate::adapters::signals::stop_flag();
    let mut market_data = exchange.market_data().clone();
    market_data.ws_listen = Some(cli.listen);
    let settings = EdgeSettings {
        servers: cli.nats.split(',').map(|s| s.trim().to_string()).collect(),
        nats: NatsSettings {
            prefix: cli.prefix.clone(),
            ..NatsSettings::default()
        },
        engine: exchange.engine_config().clone(),
        market_data,
    };
    let edge = match Edge::start(settings, Duration::from_secs(cli.wait)) {
        Ok(edge) => edge,
        Err(e) => {
            eprintln!("md_edge: {e}");
            return ExitCode::FAILURE;
        }
    };
    if let Some(addr) = edge.ws_addr() {
        println!("md_edge: market data on ws://{addr}");
    }
    while !stop.load(Ordering::Relaxed) && !edge.is_finished() {
        std::thread::sleep(Duration::from_millis(50));
    }
    match edge.stop() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("md_edge: {e}");
            ExitCode::FAILURE
        }
    }
}
