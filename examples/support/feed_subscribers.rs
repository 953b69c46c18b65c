//! `--ws-subscribers N`: a fleet of N WebSocket market-data subscribers on one thread, for
//! loadgen's market-data runs. Each subscribes to every channel of every product; for each
//! `l2update` the fleet notes when the LAST subscriber received it and records that time minus
//! the update's `time` (the gateway's receive time of the command) in an HdrHistogram: "command
//! received → update on the last subscriber's socket". It parses only `type`, `sequence` and
//! `time` (by substring) and checks that no subscriber sees a gap in the sequence.

use std::collections::HashMap;
use std::net::{SocketAddr, TcpStream};
use std::os::fd::AsRawFd;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::Duration;

use hdrhistogram::Histogram;
use tungstenite::stream::MaybeTlsStream;
use tungstenite::{Message, WebSocket};

use hayate::adapters::clock::unix_ns;

type Ws = WebSocket<MaybeTlsStream<TcpStream>>;

/// What the fleet saw.
pub struct FleetReport {
    /// Command received at the gateway → update read by the last subscriber, ns, for updates
    /// whose command arrived at or after the measuring start.
    pub latency: Histogram<u64>,
    /// Updates every subscriber received.
    pub complete: u64,
    /// Messages and bytes received by all subscribers.
    pub messages: u64,
    pub bytes: u64,
    /// Sequence gaps seen (any subscriber).
    pub gaps: u64,
    /// Subscribers whose connection ended before the run did.
    pub dropped: u64,
    /// Messages that did not parse as the feed's.
    pub malformed: u64,
}

/// The running fleet.
pub struct Fleet {
    stop: Arc<AtomicBool>,
    thread: JoinHandle<Result<FleetReport, String>>,
}

impl Fleet {
    /// Connects `n` subscribers to `addr` (bounded), subscribes them to `products` on every
    /// channel, and starts reading; updates of commands received before `measure_from_unix_ns`
    /// are not recorded.
    pub fn start(
        addr: SocketAddr,
        n: u64,
        products: &[String],
        measure_from_unix_ns: Arc<std::sync::atomic::AtomicU64>,
    ) -> Result<Fleet, String> {
        let subscribe = serde_json::json!({
            "type": "subscribe",
            "product_ids": products,
            "channels": ["level2", "matches", "ticker", "status"],
        })
        .to_string();
        let mut fleet = Vec::with_capacity(n as usize);
        for k in 0..n {
            let (mut ws, _) = tungstenite::connect(format!("ws://{addr}"))
                .map_err(|e| format!("subscriber {k}: {e}"))?;
            ws.send(Message::text(subscribe.as_str()))
                .map_err(|e| format!("subscriber {k}: {e}"))?;
            if let MaybeTlsStream::Plain(stream) = ws.get_mut() {
                stream
                    .set_nonblocking(true)
                    .map_err(|e| format!("subscriber {k}: {e}"))?;
            }
            fleet.push(ws);
        }
        let stop = Arc::new(AtomicBool::new(false));
        let flag = Arc::clone(&stop);
        let thread = std::thread::Builder::new()
            .name("loadgen-ws".into())
            .spawn(move || read_all(fleet, &flag, &measure_from_unix_ns))
            .map_err(|e| format!("cannot start the subscriber thread: {e}"))?;
        Ok(Fleet { stop, thread })
    }

    /// Stops reading (after a short drain) and reports.
    pub fn finish(self) -> Result<FleetReport, String> {
        std::thread::sleep(Duration::from_millis(500));
        self.stop.store(true, Ordering::Release);
        self.thread
            .join()
            .map_err(|_| "the subscriber thread panicked".to_owned())?
    }
}

fn read_all(
    mut fleet: Vec<Ws>,
    stop: &AtomicBool,
    measure_from: &std::sync::atomic::AtomicU64,
) -> Result<FleetReport, String> {
    let n = fleet.len() as u32;
    let mut report = FleetReport {
        latency: Histogram::new_with_bounds(1, 60_000_000_000, 3).map_err(|e| e.to_string())?,
        complete: 0,
        messages: 0,
        bytes: 0,
        gaps: 0,
        dropped: 0,
        malformed: 0,
    };
    // sequence → (subscribers that have it, the command's receive time)
    let mut pending: HashMap<(String, u64), (u32, u64)> = HashMap::new();
    let mut last_seq: Vec<HashMap<String, u64>> = vec![HashMap::new(); fleet.len()];
    let mut alive = vec![true; fleet.len()];
    let mut fds: Vec<libc::pollfd> = fleet
        .iter_mut()
        .map(|ws| libc::pollfd {
            fd: match ws.get_mut() {
                MaybeTlsStream::Plain(s) => s.as_raw_fd(),
                _ => -1,
            },
            events: libc::POLLIN,
            revents: 0,
        })
        .collect();
    while !stop.load(Ordering::Acquire) {
        // SAFETY: `fds` is a live, correctly sized array of pollfd for the call's duration.
        let ready = unsafe { libc::poll(fds.as_mut_ptr(), fds.len() as libc::nfds_t, 50) };
        if ready <= 0 {
            continue;
        }
        for (k, ws) in fleet.iter_mut().enumerate() {
            if !alive[k] || fds[k].revents == 0 {
                continue;
            }
            fds[k].revents = 0;
            loop {
                let text = match ws.read() {
                    Ok(Message::Text(text)) => text,
                    Ok(_) => continue,
                    Err(tungstenite::Error::Io(e))
                        if e.kind() == std::io::ErrorKind::WouldBlock =>
                    {
                        break;
                    }
                    Err(_) => {
                        alive[k] = false;
                        fds[k].fd = -1;
                        report.dropped += 1;
                        break;
                    }
                };
                let now = unix_ns();
                report.messages += 1;
                report.bytes += text.len() as u64;
                let text = text.as_str();
                let kind = field(text, "\"type\":\"").unwrap_or("");
                if kind != "l2update" && kind != "snapshot" {
                    continue;
                }
                let (Some(product), Some(seq)) = (
                    field(text, "\"product_id\":\""),
                    number(text, "\"sequence\":"),
                ) else {
                    report.malformed += 1;
                    continue;
                };
                let previous = last_seq[k].insert(product.to_owned(), seq);
                if kind == "snapshot" {
                    continue;
                }
                if previous.is_some_and(|p| p + 1 != seq) {
                    report.gaps += 1;
                }
                let Some(time) = field(text, "\"time\":\"").and_then(parse_rfc3339) else {
                    report.malformed += 1;
                    continue;
                };
                let entry = pending
                    .entry((product.to_owned(), seq))
                    .or_insert((0, time));
                entry.0 += 1;
                if entry.0 == n {
                    pending.remove(&(product.to_owned(), seq));
                    report.complete += 1;
                    if time >= measure_from.load(Ordering::Relaxed) {
                        let _ = report.latency.record(now.saturating_sub(time).max(1));
                    }
                }
            }
        }
    }
    Ok(report)
}

/// The text after `key` up to the next `"` (or the value's end).
fn field<'a>(text: &'a str, key: &str) -> Option<&'a str> {
    let start = text.find(key)? + key.len();
    let rest = &text[start..];
    Some(&rest[..rest.find('"')?])
}

fn number(text: &str, key: &str) -> Option<u64> {
    let start = text.find(key)? + key.len();
    let rest = &text[start..];
    let end = rest
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(rest.len());
    rest[..end].parse().ok()
}

/// `2026-12-05T09:11:15.123456Z` → ns since the Unix epoch.
fn parse_rfc3339(text: &str) -> Option<u64> {
    let b = text.as_bytes();
    if b.len() < 20 {
        return None;
    }
    let num = |range: std::ops::Range<usize>| -> Option<u64> { text.get(range)?.parse().ok() };
    let (y, m, d) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let (hh, mm, ss) = (num(11..13)?, num(14..16)?, num(17..19)?);
    let frac = text.get(20..text.len() - 1)?;
    let mut nanos: u64 = frac.parse().ok()?;
    for _ in frac.len()..9 {
        nanos *= 10;
    }
    // Days from civil (proleptic Gregorian), as in Howard Hinnant's algorithm.
    let y = if m <= 2 { y - 1 } else { y };
    let era = y / 400;
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    Some(((days * 86_400 + hh * 3600 + mm * 60 + ss) * 1_000_000_000) + nanos)
}

#[cfg(test)]
mod tests {
    #[test]
    fn rfc3339_round_trips_the_feeds_times() {
        assert_eq!(
            super::parse_rfc3339("2025-12-05T09:11:15.123456Z"),
            Some(1_764_925_875_123_456_000)
        );
    }
}
