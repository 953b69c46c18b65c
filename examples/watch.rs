//! A terminal view of one product's market data, live: the top of the book and the last trades,
//! from Hayate's WebSocket feed. It is also the example of a feed client: subscribe, take the
//! `snapshot`, apply each `l2update` in order, and resubscribe on a gap in `sequence`.
//!
//! ```text
//! cargo run --release --example gateway                      # the demo exchange, feed on :8081
//! cargo run --release --example watch -- BTC-JPY
//! cargo run --release --example watch -- BTC-JPY --url ws://127.0.0.1:8081 --levels 5
//! ```

use std::collections::{BTreeMap, VecDeque};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use clap::Parser;
use rust_decimal::Decimal;
use serde_json::Value;
use tungstenite::Message;

/// The screen is redrawn at most this often.
const FRAME: Duration = Duration::from_millis(100);

#[derive(Parser)]
#[command(name = "watch", about = "Watch a product's book and trades live")]
struct Args {
    /// The product, e.g. BTC-JPY.
    product: String,
    /// The feed's address.
    #[arg(long, default_value = "ws://127.0.0.1:8081")]
    url: String,
    /// Levels shown per side.
    #[arg(long, default_value_t = 10)]
    levels: usize,
    /// Trades shown.
    #[arg(long, default_value_t = 10)]
    trades: usize,
}

/// What the screen shows, kept from the feed.
#[derive(Default)]
struct View {
    bids: BTreeMap<Decimal, Decimal>,
    asks: BTreeMap<Decimal, Decimal>,
    trades: VecDeque<(String, String, String, String)>,
    sequence: u64,
    status: String,
}

fn decimal(value: &Value) -> Option<Decimal> {
    value.as_str()?.parse().ok()
}

fn levels(list: &Value) -> BTreeMap<Decimal, Decimal> {
    list.as_array()
        .into_iter()
        .flatten()
        .filter_map(|level| Some((decimal(&level[0])?, decimal(&level[1])?)))
        .collect()
}

impl View {
    /// Applies one feed message; `Err` means the stream can no longer be trusted (a gap).
    fn apply(&mut self, message: &Value, keep_trades: usize) -> Result<(), String> {
        let sequence = message["sequence"].as_u64().unwrap_or(self.sequence);
        match message["type"].as_str().unwrap_or("") {
            "snapshot" => {
                self.bids = levels(&message["bids"]);
                self.asks = levels(&message["asks"]);
                self.sequence = sequence;
            }
            "l2update" => {
                if sequence != self.sequence + 1 {
                    return Err(format!("gap: {} after {}", sequence, self.sequence));
                }
                self.sequence = sequence;
                for change in message["changes"].as_array().into_iter().flatten() {
                    let (Some(price), Some(size)) = (decimal(&change[1]), decimal(&change[2]))
                    else {
                        continue;
                    };
                    let side = if change[0] == "buy" {
                        &mut self.bids
                    } else {
                        &mut self.asks
                    };
                    if size.is_zero() {
                        side.remove(&price);
                    } else {
                        side.insert(price, size);
                    }
                }
            }
            "match" => {
                let field = |k: &str| message[k].as_str().unwrap_or("").to_owned();
                // `side` is the maker's: a sell maker means the buyer took it.
                let taker = if message["side"] == "sell" {
                    "buy"
                } else {
                    "sell"
                };
                self.trades.push_front((
                    field("time"),
                    taker.to_owned(),
                    field("price"),
                    field("size"),
                ));
                self.trades.truncate(keep_trades);
            }
            "status" => self.status = message["status"].as_str().unwrap_or("").to_owned(),
            "error" => return Err(format!("the feed says: {}", message["message"])),
            _ => {}
        }
        Ok(())
    }

    fn draw(&self, product: &str, levels: usize) {
        let mut screen = String::from("\x1b[2J\x1b[H");
        screen.push_str(&format!(
            "{product}  sequence {}  {}\n\n{:>16} {:>16}\n",
            self.sequence, self.status, "price", "size"
        ));
        for (price, size) in self.asks.iter().take(levels).rev() {
            screen.push_str(&format!("\x1b[31m{price:>16} {size:>16}\x1b[0m\n"));
        }
        screen.push_str(&format!("{:->33}\n", ""));
        for (price, size) in self.bids.iter().rev().take(levels) {
            screen.push_str(&format!("\x1b[32m{price:>16} {size:>16}\x1b[0m\n"));
        }
        screen.push_str("\nlast trades\n");
        for (time, taker, price, size) in &self.trades {
            screen.push_str(&format!("{time}  {taker:<4} {size:>12} @ {price}\n"));
        }
        print!("{screen}");
    }
}

fn watch(args: &Args) -> Result<(), String> {
    let (mut ws, _) =
        tungstenite::connect(args.url.as_str()).map_err(|e| format!("{}: {e}", args.url))?;
    let subscribe = serde_json::json!({
        "type": "subscribe",
        "product_ids": [args.product],
        "channels": ["level2", "matches", "status"],
    });
    ws.send(Message::text(subscribe.to_string()))
        .map_err(|e| e.to_string())?;
    // A read that waits at most a frame's time, so what arrived is drawn even when the feed
    // goes quiet.
    if let tungstenite::stream::MaybeTlsStream::Plain(stream) = ws.get_mut() {
        stream
            .set_read_timeout(Some(FRAME))
            .map_err(|e| e.to_string())?;
    }
    let mut view = View::default();
    let mut drawn = Instant::now();
    let mut changed = false;
    loop {
        let message = match ws.read() {
            Ok(Message::Text(text)) => Some(text),
            Ok(Message::Close(_)) => return Err("the feed closed the connection".into()),
            Ok(_) => None,
            Err(tungstenite::Error::Io(e))
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) =>
            {
                None
            }
            Err(e) => return Err(e.to_string()),
        };
        if let Some(text) = message {
            let message: Value = serde_json::from_str(text.as_str()).map_err(|e| e.to_string())?;
            view.apply(&message, args.trades)?;
            changed = true;
        }
        // At most ten frames a second: a busy book would otherwise flood the terminal.
        if changed && drawn.elapsed() >= FRAME {
            view.draw(&args.product, args.levels);
            drawn = Instant::now();
            changed = false;
        }
    }
}

fn main() -> ExitCode {
    let args = Args::parse();
    loop {
        match watch(&args) {
            Ok(()) => return ExitCode::SUCCESS,
            // A gap means an update was lost: start again from a fresh snapshot.
            Err(why) if why.starts_with("gap") => eprintln!("{why}: resubscribing"),
            Err(why) => {
                eprintln!("watch: {why}");
                return ExitCode::FAILURE;
            }
        }
    }
}
