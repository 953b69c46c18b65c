//! `--trade-every K`: the maker whose resting GTC sell every K-th order trades with (one
//! market-data update each), placed over the binary port before the warm-up, with a thread
//! reading its fills; and the check that the prices stay inside the price band once trades have
//! moved its reference.

use std::io;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use hayate::adapters::binary::messages::{
    CancelOnDisconnect, ClientMessage, Logon, NewOrder, ServerMessage,
};
use hayate::adapters::gateway::Gateway;
use hayate::adapters::tls::rustls::ClientConfig;
use hayate::{ClientOrderId, EventKind, OrderType, Qty, Side, TimeInForce};

use super::{OrderSpec, SETUP_TIMEOUT};
use crate::Args;

/// The user whose resting sell `--trade-every` orders trade with.
pub(super) const MAKER: &str = "maker";
/// Lots the maker offers: far more than any run takes.
pub(super) const MAKER_LOTS: u64 = 5_000_000;

/// The maker's session while its resting sell is on the book: a thread reads its fills, so
/// the gateway never has to queue them for a client that does not read (one per trading order:
/// a long run would otherwise fill the socket and the session's queue).
pub(super) struct Maker {
    stop: Arc<AtomicBool>,
    thread: std::thread::JoinHandle<u64>,
}

impl Maker {
    /// Stops reading and closes the session (the order stays: `cancel_on_disconnect = false`);
    /// returns the fills it read.
    pub(super) fn finish(self) -> u64 {
        self.stop.store(true, Ordering::Release);
        self.thread.join().unwrap_or(0)
    }
}

/// `--trade-every` needs the gateway started here (its maker), and prices that stay inside the
/// price band once trades at `--sell-price` have moved the reference price there: otherwise
/// every non-crossing buy is refused `PRICE_BAND`, and the run measures refusals.
pub(super) fn check_trading_prices(args: &Args, spec: &OrderSpec) -> Result<(), String> {
    if args.addr.is_some() {
        return Err(
            "--trade-every trades with a maker placed on the gateway started here (no --addr)"
                .into(),
        );
    }
    let config = hayate::ExchangeConfig::demo();
    let engine = config.engine_config();
    let symbol = engine
        .symbol_id(&spec.symbol)
        .and_then(|id| engine.symbol(id))
        .ok_or_else(|| format!("unknown symbol {}", spec.symbol))?;
    let (Some(buy), Some(sell)) = (
        symbol.price_from_decimal(spec.buy),
        symbol.price_from_decimal(spec.sell),
    ) else {
        return Err("--buy-price and --sell-price must be on the tick".into());
    };
    if let Some((low, high)) = symbol.band(sell)
        && buy < low
    {
        return Err(format!(
            "with --trade-every, trades at --sell-price {} make the band [{}, {}]: --buy-price {} would be refused PRICE_BAND (e.g. --buy-price 4900000 --sell-price 5100000)",
            spec.sell,
            symbol.price_to_decimal(low),
            symbol.price_to_decimal(high),
            spec.buy
        ));
    }
    Ok(())
}

/// Places the maker's resting sell at `--sell-price` over the binary port and waits for its
/// acknowledgement; the session stays open (and the order on the book) while it is held.
pub(super) fn place_maker(
    gateway: &Gateway,
    spec: &OrderSpec,
    tls: Option<&(Arc<ClientConfig>, String)>,
) -> Result<Maker, String> {
    use hayate::adapters::binary::client::BinaryClient;
    let tls = tls.map(|(config, name)| (config, name.as_str()));
    let mut client = BinaryClient::connect_with(gateway.addrs().binary, SETUP_TIMEOUT, tls)
        .map_err(|e| format!("maker: {e}"))?;
    let logon = Logon::new(MAKER, "maker", CancelOnDisconnect::Configured)
        .ok_or("maker: credentials too long")?;
    client
        .send(&ClientMessage::Logon(logon))
        .map_err(|e| format!("maker: {e}"))?;
    let config = hayate::ExchangeConfig::demo();
    let engine = config.engine_config();
    let symbol = engine
        .symbol_id(&spec.symbol)
        .ok_or_else(|| format!("maker: unknown symbol {}", spec.symbol))?;
    let price = engine.symbols[symbol.0 as usize]
        .price_from_decimal(spec.sell)
        .ok_or("maker: --sell-price is not on the tick")?;
    let id = ClientOrderId::new("maker-1").ok_or("maker: id")?;
    let order = NewOrder::new(
        id,
        symbol,
        Side::Sell,
        OrderType::Limit,
        TimeInForce::Gtc,
        price,
        Qty(MAKER_LOTS),
    );
    client
        .send(&ClientMessage::NewOrder(order))
        .map_err(|e| format!("maker: {e}"))?;
    let deadline = Instant::now() + SETUP_TIMEOUT;
    while Instant::now() < deadline {
        let bytes = client.recv().map_err(|e| format!("maker: {e}"))?;
        if let Ok(ServerMessage::Report(report)) = ServerMessage::decode(&bytes) {
            let event = report.event();
            if event.kind == EventKind::Accepted as u8 {
                client
                    .stream()
                    .set_read_timeout(Some(Duration::from_millis(100)))
                    .map_err(|e| format!("maker: {e}"))?;
                let stop = Arc::new(AtomicBool::new(false));
                let flag = Arc::clone(&stop);
                let thread = std::thread::Builder::new()
                    .name("loadgen-maker".into())
                    .spawn(move || {
                        let mut fills = 0;
                        while !flag.load(Ordering::Acquire) {
                            match client.recv() {
                                Ok(bytes) => {
                                    if let Ok(ServerMessage::Report(r)) =
                                        ServerMessage::decode(&bytes)
                                    {
                                        fills += u64::from(r.event().kind == EventKind::Fill as u8);
                                    }
                                }
                                Err(e)
                                    if matches!(
                                        e.kind(),
                                        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                                    ) => {}
                                Err(_) => break,
                            }
                        }
                        fills
                    })
                    .map_err(|e| format!("maker: cannot start its reader: {e}"))?;
                return Ok(Maker { stop, thread });
            }
            return Err(format!("maker: the resting sell was refused: {event:?}"));
        }
    }
    Err("maker: no acknowledgement".into())
}
