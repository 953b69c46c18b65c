//! Embedding Hayate in your own program, two ways:
//!
//! - the engine alone: load a configuration, apply its deposits, trade between two accounts, print
//!   every event and the balances after;
//! - the whole pipeline (`--pipeline DIR`): the same trades published into the input ring,
//!   journaled in `DIR/journal`, matched, and read back from the output ring; stopping writes a
//!   snapshot, and running it again recovers the state first (deposits are applied only once).
//!
//! ```text
//! cargo run --release --example embedded                             # engine, demo exchange
//! cargo run --release --example embedded -- my.toml                  # engine, your configuration
//! cargo run --release --example embedded -- --pipeline data          # pipeline, journal in ./data
//! cargo run --release --example embedded -- my.toml --pipeline data
//! ```

use std::process::ExitCode;

use hayate::pipeline::Pipeline;
use hayate::*;

fn main() -> ExitCode {
    let mut config_path = None;
    let mut pipeline_dir = None;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        if arg == "--pipeline" {
            let Some(dir) = args.next() else {
                eprintln!("--pipeline needs a data directory");
                return ExitCode::FAILURE;
            };
            pipeline_dir = Some(dir);
        } else {
            config_path = Some(arg);
        }
    }
    let config = match config_path {
        Some(path) => match ExchangeConfig::load(std::path::Path::new(&path)) {
            Ok(config) => config,
            Err(e) => {
                eprintln!("{e}");
                return ExitCode::FAILURE;
            }
        },
        None => ExchangeConfig::demo(),
    };
    let Some(trades) = demo_trades(&config) else {
        eprintln!("the configuration needs a symbol and two user accounts to show a trade");
        return ExitCode::FAILURE;
    };
    match pipeline_dir {
        None => run_engine(&config, &trades),
        Some(dir) => run_pipeline(&config, &trades, &dir),
    }
}

/// Two accounts from the configuration: the first sells, the second buys through the book.
fn demo_trades(config: &ExchangeConfig) -> Option<Vec<Command>> {
    let specs = config.engine_config();
    let symbol = specs.symbols.first()?;
    let (&seller, &buyer) = (specs.accounts.first()?, specs.accounts.get(1)?);
    let s = SymbolId(0);
    let mid = symbol.reference_price.unwrap_or(Price(1_000));
    let lot = symbol.min_qty.0;
    let id = |s: &str| ClientOrderId::new(s).unwrap_or_default();
    Some(vec![
        Command::new_order(NewOrder::limit(
            seller,
            s,
            Side::Sell,
            mid,
            Qty(lot * 10),
            id("ask-1"),
        )),
        Command::new_order(NewOrder::limit(
            seller,
            s,
            Side::Sell,
            Price(mid.0 + 1),
            Qty(lot * 10),
            id("ask-2"),
        )),
        Command::new_order(NewOrder::limit(
            buyer,
            s,
            Side::Buy,
            Price(mid.0 + 1),
            Qty(lot * 15),
            id("bid-1"),
        )),
        Command::new_order(NewOrder::market(
            buyer,
            s,
            Side::Buy,
            Qty(lot * 2),
            id("mkt-1"),
        )),
        Command::cancel(seller, OrderRef::Client(id("ask-2")), id("cxl-1")),
    ])
}

/// The engine alone: every event goes to a closure; a real embedder routes them to its sessions.
fn run_engine(config: &ExchangeConfig, trades: &[Command]) -> ExitCode {
    let specs = config.engine_config();
    let mut engine = Engine::new(specs.clone());
    let mut print = |e: &Event| println!("  {}", e.describe(specs));
    for cmd in config.initial_deposits().iter().chain(trades) {
        println!("{}", cmd.describe(specs));
        engine.process(cmd, &mut print);
    }
    println!("\nbalances:");
    for account in engine.accounts() {
        let line: Vec<String> = specs
            .assets
            .iter()
            .enumerate()
            .filter_map(|(i, asset)| {
                let b = engine.balance(account, AssetId(i as u16))?;
                Some(format!(
                    "{} {} (+{} reserved)",
                    asset.amount_to_decimal(b.available).normalize(),
                    asset.name,
                    asset.amount_to_decimal(b.reserved).normalize()
                ))
            })
            .collect();
        println!("  account {account}: {}", line.join(", "));
    }
    match engine.check_invariants() {
        Ok(()) => {
            println!("\ninvariants hold; state digest {:016x}", engine.digest());
            ExitCode::SUCCESS
        }
        Err(broken) => {
            eprintln!("invariant broken: {broken}");
            ExitCode::FAILURE
        }
    }
}

/// The whole pipeline: publish into the input ring, read the output ring, stop cleanly.
fn run_pipeline(config: &ExchangeConfig, trades: &[Command], dir: &str) -> ExitCode {
    let specs = config.engine_config();
    let started = Pipeline::builder(specs.clone(), dir)
        .initial_commands(config.initial_deposits())
        .start();
    let (pipeline, mut events, report) = match started {
        Ok(started) => started,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::FAILURE;
        }
    };
    println!("recovered: {report}");
    let mut publisher = pipeline.publisher();
    for cmd in trades {
        if let Err(e) = publisher.publish(cmd) {
            eprintln!("{e}");
            return ExitCode::FAILURE;
        }
    }
    // The pipeline stops once every publisher is gone; keep reading until the output ring closes.
    drop(publisher);
    let stopping = std::thread::spawn(move || pipeline.stop());
    while let Ok(n) = events.poll(|out| {
        println!("#{}.{} {}", out.seq, out.index, out.event.describe(specs));
    }) {
        if n == 0 {
            std::thread::yield_now();
        }
    }
    match stopping.join() {
        Ok(Ok(stopped)) => {
            println!(
                "\nstopped at sequence {} (durable {}), digest {:016x}, snapshot {}",
                stopped.processed_seq,
                stopped.durable_seq,
                stopped.digest,
                stopped
                    .snapshot
                    .map_or("none".to_string(), |p| p.display().to_string())
            );
            ExitCode::SUCCESS
        }
        Ok(Err(e)) => {
            eprintln!("{e}");
            ExitCode::FAILURE
        }
        Err(_) => {
            eprintln!("the stopping thread panicked");
            ExitCode::FAILURE
        }
    }
}
