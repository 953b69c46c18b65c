//! Embedding Hayate's engine in your own program: load a configuration, apply its deposits, trade
//! between two accounts, print every event and the balances after.
//!
//! ```text
//! cargo run --release --example embedded                 # the demo exchange of SPEC §5
//! cargo run --release --example embedded -- my.toml      # your own configuration
//! ```

use std::process::ExitCode;

use hayate::*;

fn main() -> ExitCode {
    let config = match std::env::args().nth(1) {
        Some(path) => match ExchangeConfig::load(std::path::Path::new(&path)) {
            Ok(config) => config,
            Err(e) => {
                eprintln!("{e}");
                return ExitCode::FAILURE;
            }
        },
        None => ExchangeConfig::demo(),
    };
    let engine_config = config.engine_config().clone();
    let Some(symbol_id) = engine_config.symbols.first().map(|_| SymbolId(0)) else {
        eprintln!("the configuration has no symbols to trade");
        return ExitCode::FAILURE;
    };
    let symbol = &engine_config.symbols[0];
    let mut engine = Engine::new(engine_config.clone());

    // Every event goes to this sink; a real embedder would route them to its sessions.
    let mut print = |e: &Event| println!("  {}", e.describe(&engine_config));
    let mut step = |engine: &mut Engine, cmd: Command| {
        println!("{}", cmd.describe(&engine_config));
        engine.process(&cmd, &mut print);
    };

    for deposit in config.initial_deposits() {
        step(&mut engine, deposit);
    }

    // Two accounts from the configuration: the first sells, the second buys through the book.
    let accounts: Vec<AccountId> = engine_config.accounts.iter().copied().take(2).collect();
    let [seller, buyer] = accounts[..] else {
        eprintln!("the configuration needs two user accounts to show a trade");
        return ExitCode::FAILURE;
    };
    let mid = symbol.reference_price.unwrap_or(Price(1_000));
    let lot = symbol.min_qty;
    let id = |s: &str| ClientOrderId::new(s).unwrap_or_default();
    step(
        &mut engine,
        Command::new_order(NewOrder::limit(
            seller,
            symbol_id,
            Side::Sell,
            mid,
            Qty(lot.0 * 10),
            id("ask-1"),
        )),
    );
    step(
        &mut engine,
        Command::new_order(NewOrder::limit(
            seller,
            symbol_id,
            Side::Sell,
            Price(mid.0 + 1),
            Qty(lot.0 * 10),
            id("ask-2"),
        )),
    );
    step(
        &mut engine,
        Command::new_order(NewOrder::limit(
            buyer,
            symbol_id,
            Side::Buy,
            Price(mid.0 + 1),
            Qty(lot.0 * 15),
            id("bid-1"),
        )),
    );
    step(
        &mut engine,
        Command::new_order(NewOrder::market(
            buyer,
            symbol_id,
            Side::Buy,
            Qty(lot.0 * 2),
            id("mkt-1"),
        )),
    );
    step(
        &mut engine,
        Command::cancel(seller, OrderRef::Client(id("ask-2")), id("cxl-1")),
    );

    println!("\nbalances:");
    for account in engine.accounts() {
        let line: Vec<String> = engine_config
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
        Ok(()) => println!("\ninvariants hold; state digest {:016x}", engine.digest()),
        Err(broken) => {
            eprintln!("invariant broken: {broken}");
            return ExitCode::FAILURE;
        }
    }
    ExitCode::SUCCESS
}
