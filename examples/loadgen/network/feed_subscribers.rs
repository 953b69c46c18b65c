//! `--ws-subscribers N`: a fleet of N WebSocket market-data subscribers on one thread, for
//! loadgen's market-data runs.
//!
//! Each subscriber subscribes to every channel of every configured product. One thread reads all
//! N sockets (non-blocking, `poll(2)`, tungstenite on top: a read that would block returns
//! `WouldBlock`), because the machine this is measured on has two cores and a thread per socket
//! would measure the scheduler instead of the feed. For each `l2update` the fleet notes when the
//! LAST subscriber received it and records that time minus the update's `time` (the gateway's
//! receive time of the command, RFC 3339 with microseconds) in an HdrHistogram: "command received
//! → update on the last subscriber's socket". The figure includes this thread's own reading,
//! which is why it reads with as little work per message as it can: it finds `"type":"`,
//! `"product_id":"`, `"sequence":` and `"time":"` by substring instead of parsing the JSON.
//!
//! It also counts messages and bytes per subscriber, checks that no subscriber sees its sequence
//! skip a number (every message about a product carries that product's market-data sequence,
//! +1 per update), and reports what the server sent that it could not read instead of panicking.
//! Everything is bounded in time: connecting, the first snapshots, and the final drain.

use std::collections::HashMap;
use std::net::{SocketAddr, TcpStream};
use std::os::fd::AsRawFd;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;
use tungstenite::protocol::WebSocketConfig;
use tungstenite::{Message, WebSocket};

use hayate::adapters::clock::unix_ns;

type Ws = WebSocket<TcpStream>;

/// One connection's TCP connect, WebSocket handshake and subscribe.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// All N connections together (they are opened one after the other).
const FLEET_CONNECT_TIMEOUT: Duration = Duration::from_secs(120);
/// From the last subscribe until every subscriber holds a snapshot of every product.
const SNAPSHOT_TIMEOUT: Duration = Duration::from_secs(30);
/// At the end: stop once the sockets have been quiet this long...
const DRAIN_QUIET: Duration = Duration::from_millis(300);
/// ...or this long has passed, whichever comes first.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(5);
/// Per-connection read buffer: the feed's messages are small, and N of these are allocated.
const READ_BUFFER: usize = 32 * 1024;

/// What the fleet saw.
pub struct FleetReport {
    /// Command received at the gateway → update read by the last subscriber, ns, for updates
    /// whose command arrived at or after the measuring start.
    pub latency: Histogram<u64>,
    /// `l2update`s every subscriber received.
    pub complete: u64,
    /// Measured `l2update`s some subscriber still lacked when the fleet stopped.
    pub incomplete: u64,
    /// Messages and bytes received by all subscribers.
    pub messages: u64,
    pub bytes: u64,
    /// The fewest and most messages, and bytes, one subscriber received.
    pub messages_per_subscriber: (u64, u64),
    pub bytes_per_subscriber: (u64, u64),
    /// Sequence gaps (or sequences going back) seen, over every subscriber and product.
    pub gaps: u64,
    /// Subscribers whose connection ended before the run did.
    pub dropped: u64,
    /// Messages that did not read as the feed's, and `error` messages the feed sent.
    pub malformed: u64,
    pub errors: u64,
    /// The first of those problems, to show.
    pub first_problem: Option<String>,
}

/// The running fleet.
pub struct Fleet {
    stop: Arc<AtomicBool>,
    thread: JoinHandle<Result<FleetReport, String>>,
}

/// What the reader shares with the thread that started it.
struct Shared {
    stop: Arc<AtomicBool>,
    /// Subscribers holding a snapshot of every product.
    ready: AtomicU64,
    /// Subscribers whose connection ended.
    closed: AtomicU64,
    /// Unix ns: updates of commands received before it are not recorded.
    measure_from: Arc<AtomicU64>,
}

impl Fleet {
    /// Connects `n` subscribers to `addr`, subscribes each to every channel of `products`, starts
    /// reading, and returns once every subscriber holds a snapshot of every product (so each
    /// later update reaches all of them). Updates of commands received before
    /// `measure_from` (unix ns, set later) are not recorded.
    pub fn start(
        addr: SocketAddr,
        n: u64,
        products: &[String],
        measure_from: Arc<AtomicU64>,
    ) -> Result<Fleet, String> {
        let subscribe = serde_json::json!({
            "type": "subscribe",
            "product_ids": products,
            "channels": ["level2", "matches", "ticker", "status"],
        })
        .to_string();
        let started = Instant::now();
        let mut fleet = Vec::with_capacity(n as usize);
        for k in 0..n {
            if started.elapsed() > FLEET_CONNECT_TIMEOUT {
                return Err(format!(
                    "only {k} of {n} subscribers connected within {FLEET_CONNECT_TIMEOUT:?}"
                ));
            }
            let ws = connect(addr, &subscribe).map_err(|e| format!("subscriber {k}: {e}"))?;
            fleet.push(ws);
        }
        let stop = Arc::new(AtomicBool::new(false));
        let shared = Arc::new(Shared {
            stop: Arc::clone(&stop),
            ready: AtomicU64::new(0),
            closed: AtomicU64::new(0),
            measure_from,
        });
        let reader = Arc::clone(&shared);
        let names = products.to_vec();
        let thread = std::thread::Builder::new()
            .name("loadgen-ws".into())
            .spawn(move || {
                // The subscribers stand for clients on other machines: on this box they take
                // the leftovers, as the gateway's own feed thread does, not the order path's core.
                // SAFETY: as in the feed: our own thread's nice value only.
                unsafe {
                    let tid = libc::syscall(libc::SYS_gettid) as libc::id_t;
                    libc::setpriority(libc::PRIO_PROCESS, tid, 10);
                }
                read_all(fleet, &names, &reader)
            })
            .map_err(|e| format!("cannot start the subscriber thread: {e}"))?;
        let fleet = Fleet { stop, thread };
        let waiting = Instant::now();
        while shared.ready.load(Ordering::Acquire) < n {
            let closed = shared.closed.load(Ordering::Acquire);
            if closed > 0 || fleet.thread.is_finished() || waiting.elapsed() > SNAPSHOT_TIMEOUT {
                let ready = shared.ready.load(Ordering::Acquire);
                let why = match fleet.finish() {
                    Ok(report) => report.first_problem.unwrap_or_default(),
                    Err(e) => e,
                };
                return Err(format!(
                    "{ready} of {n} subscribers had a snapshot of every product after {:.1} s, {closed} closed: {why}",
                    waiting.elapsed().as_secs_f64()
                ));
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        Ok(fleet)
    }

    /// Reads until the sockets are quiet (bounded: [`DRAIN_TIMEOUT`]), stops and reports.
    pub fn finish(self) -> Result<FleetReport, String> {
        self.stop.store(true, Ordering::Release);
        self.thread
            .join()
            .map_err(|_| "the subscriber thread panicked".to_owned())?
    }
}

/// One subscriber: TCP connect, handshake and subscribe, each bounded by [`CONNECT_TIMEOUT`],
/// then the socket is made non-blocking for the reader.
fn connect(addr: SocketAddr, subscribe: &str) -> Result<Ws, String> {
    let stream = TcpStream::connect_timeout(&addr, CONNECT_TIMEOUT).map_err(|e| e.to_string())?;
    stream
        .set_read_timeout(Some(CONNECT_TIMEOUT))
        .and_then(|()| stream.set_write_timeout(Some(CONNECT_TIMEOUT)))
        .and_then(|()| stream.set_nodelay(true))
        .map_err(|e| e.to_string())?;
    let config = WebSocketConfig::default().read_buffer_size(READ_BUFFER);
    let (mut ws, _) =
        tungstenite::client::client_with_config(format!("ws://{addr}"), stream, Some(config))
            .map_err(|e| format!("handshake: {e}"))?;
    ws.send(Message::text(subscribe))
        .map_err(|e| format!("subscribe: {e}"))?;
    ws.get_mut()
        .set_nonblocking(true)
        .map_err(|e| e.to_string())?;
    Ok(ws)
}

/// Per subscriber and product: the last sequence seen (`None`: no snapshot yet).
struct Sequences {
    products: usize,
    last: Vec<Option<u64>>,
    /// Products whose snapshot each subscriber holds.
    snapshots: Vec<usize>,
}

fn read_all(
    mut fleet: Vec<Ws>,
    products: &[String],
    shared: &Shared,
) -> Result<FleetReport, String> {
    let n = fleet.len();
    let mut report = FleetReport {
        latency: Histogram::new_with_bounds(1, 60_000_000_000, 3).map_err(|e| e.to_string())?,
        complete: 0,
        incomplete: 0,
        messages: 0,
        bytes: 0,
        messages_per_subscriber: (0, 0),
        bytes_per_subscriber: (0, 0),
        gaps: 0,
        dropped: 0,
        malformed: 0,
        errors: 0,
        first_problem: None,
    };
    let mut messages = vec![0u64; n];
    let mut bytes = vec![0u64; n];
    let mut seqs = Sequences {
        products: products.len(),
        last: vec![None; n * products.len()],
        snapshots: vec![0; n],
    };
    // (product, sequence) → (subscribers that have it, the command's receive time)
    let mut pending: HashMap<(usize, u64), (usize, u64)> = HashMap::new();
    let mut alive = vec![true; n];
    let mut fds: Vec<libc::pollfd> = fleet
        .iter()
        .map(|ws| libc::pollfd {
            fd: ws.get_ref().as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        })
        .collect();
    let mut draining: Option<(Instant, Instant)> = None; // (since, last message)
    loop {
        if shared.stop.load(Ordering::Acquire) {
            let now = Instant::now();
            let (since, last) = *draining.get_or_insert((now, now));
            if now - last >= DRAIN_QUIET || now - since >= DRAIN_TIMEOUT {
                break;
            }
        }
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
                    Ok(Message::Binary(_)) => {
                        problem(&mut report, false, || "a binary message".into());
                        continue;
                    }
                    Ok(_) => continue,
                    Err(tungstenite::Error::Io(e))
                        if e.kind() == std::io::ErrorKind::WouldBlock =>
                    {
                        break;
                    }
                    Err(e) => {
                        alive[k] = false;
                        fds[k].fd = -1;
                        report.dropped += 1;
                        if report.first_problem.is_none() {
                            report.first_problem = Some(format!("subscriber {k} closed: {e}"));
                        }
                        shared.closed.fetch_add(1, Ordering::Release);
                        break;
                    }
                };
                let now = unix_ns();
                if let Some((_, last)) = &mut draining {
                    *last = Instant::now();
                }
                messages[k] += 1;
                bytes[k] += text.len() as u64;
                on_message(
                    text.as_str(),
                    k,
                    now,
                    products,
                    &mut seqs,
                    &mut pending,
                    n,
                    shared,
                    &mut report,
                );
            }
        }
    }
    let from = shared.measure_from.load(Ordering::Relaxed);
    report.incomplete = pending.values().filter(|(_, time)| *time >= from).count() as u64;
    report.messages = messages.iter().sum();
    report.bytes = bytes.iter().sum();
    let span = |v: &[u64]| {
        (
            v.iter().copied().min().unwrap_or(0),
            v.iter().copied().max().unwrap_or(0),
        )
    };
    report.messages_per_subscriber = span(&messages);
    report.bytes_per_subscriber = span(&bytes);
    Ok(report)
}

/// Counts a problem (an `error` message from the feed, or one this reader cannot read) and
/// keeps the first one's description.
fn problem(report: &mut FleetReport, error: bool, what: impl FnOnce() -> String) {
    if error {
        report.errors += 1;
    } else {
        report.malformed += 1;
    }
    if report.first_problem.is_none() {
        report.first_problem = Some(what());
    }
}

/// One message of subscriber `k`, read at `now` (unix ns).
#[allow(clippy::too_many_arguments)]
fn on_message(
    text: &str,
    k: usize,
    now: u64,
    products: &[String],
    seqs: &mut Sequences,
    pending: &mut HashMap<(usize, u64), (usize, u64)>,
    n: usize,
    shared: &Shared,
    report: &mut FleetReport,
) {
    let shown = || text.chars().take(200).collect::<String>();
    let kind = field(text, "\"type\":\"").unwrap_or("");
    match kind {
        "snapshot" | "l2update" | "match" | "ticker" | "status" => {}
        // The exchange's incident notices (status channel): about no product.
        "subscriptions" | "notices" => return,
        "error" => {
            problem(report, true, || format!("the feed said {}", shown()));
            return;
        }
        _ => {
            problem(report, false, || format!("unexpected message {}", shown()));
            return;
        }
    }
    let product =
        field(text, "\"product_id\":\"").and_then(|p| products.iter().position(|x| x == p));
    let (Some(product), Some(seq)) = (product, number(text, "\"sequence\":")) else {
        problem(report, false, || {
            format!("no known product or sequence in {}", shown())
        });
        return;
    };
    let slot = k * seqs.products + product;
    let last = seqs.last[slot];
    if kind == "snapshot" && last.is_none() {
        seqs.snapshots[k] += 1;
        if seqs.snapshots[k] == seqs.products {
            shared.ready.fetch_add(1, Ordering::Release);
        }
    }
    let Some(last) = last.or((kind == "snapshot").then_some(seq)) else {
        // Before this subscriber's snapshot of the product (a ticker or status sent first):
        // nothing to hold it to yet.
        return;
    };
    // The messages of one update share its sequence; the next update's is one more.
    if seq != last && seq != last + 1 {
        report.gaps += 1;
    }
    seqs.last[slot] = Some(last.max(seq));
    if kind != "l2update" {
        return;
    }
    let Some(time) = field(text, "\"time\":\"").and_then(parse_rfc3339) else {
        problem(report, false, || format!("no readable time in {}", shown()));
        return;
    };
    let entry = pending.entry((product, seq)).or_insert((0, time));
    entry.0 += 1;
    if entry.0 == n {
        pending.remove(&(product, seq));
        report.complete += 1;
        if time >= shared.measure_from.load(Ordering::Relaxed) {
            let _ = report.latency.record(now.saturating_sub(time).max(1));
        }
    }
}

/// The text after `key` up to the next `"`.
fn field<'a>(text: &'a str, key: &str) -> Option<&'a str> {
    let start = text.find(key)? + key.len();
    let rest = &text[start..];
    Some(&rest[..rest.find('"')?])
}

/// The whole number after `key`.
fn number(text: &str, key: &str) -> Option<u64> {
    let start = text.find(key)? + key.len();
    let rest = &text[start..];
    let end = rest
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(rest.len());
    rest[..end].parse().ok()
}

/// `2026-12-05T09:11:15.123456Z` → ns since the Unix epoch; `None` for anything else (no
/// arithmetic on unchecked input: a bad time from the server is reported, not a panic).
fn parse_rfc3339(text: &str) -> Option<u64> {
    let b = text.as_bytes();
    if b.len() < 21
        || b[4] != b'-'
        || b[7] != b'-'
        || b[10] != b'T'
        || b[13] != b':'
        || b[16] != b':'
        || b[19] != b'.'
        || b[b.len() - 1] != b'Z'
    {
        return None;
    }
    let num = |range: std::ops::Range<usize>| -> Option<i64> {
        let s = text.get(range)?;
        if s.bytes().all(|c| c.is_ascii_digit()) {
            s.parse().ok()
        } else {
            None
        }
    };
    let (y, m, d) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let (hh, mm, ss) = (num(11..13)?, num(14..16)?, num(17..19)?);
    if !(1970..=9999).contains(&y)
        || !(1..=12).contains(&m)
        || !(1..=31).contains(&d)
        || hh > 23
        || mm > 59
        || ss > 60
    {
        return None;
    }
    let frac = text.get(20..text.len() - 1)?;
    if frac.is_empty() || frac.len() > 9 {
        return None;
    }
    let mut nanos = num(20..text.len() - 1)?;
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
    u64::try_from((days * 86_400 + hh * 3600 + mm * 60 + ss) * 1_000_000_000 + nanos).ok()
}

#[cfg(test)]
mod tests {
    #[test]
    fn rfc3339_round_trips_the_feeds_times() {
        assert_eq!(
            super::parse_rfc3339("2025-12-05T09:11:15.123456Z"),
            Some(1_764_925_875_123_456_000)
        );
        assert_eq!(
            super::parse_rfc3339("1970-01-01T00:00:00.000001Z"),
            Some(1_000)
        );
    }

    #[test]
    fn garbage_times_are_refused_not_a_panic() {
        for bad in [
            "",
            "Z",
            "0000-01-01T00:00:00.0Z",
            "2025-12-05T09:11:15Z",
            "2025-13-05T09:11:15.1Z",
            "2025-12-05T09:11:15.1234567890Z",
            "2025-12-05T09:11:15.-1Z",
            "2025-12-05T09:11:15.+1Z",
            "２０25-12-05T09:11:15.1Z",
        ] {
            assert_eq!(super::parse_rfc3339(bad), None, "{bad}");
        }
    }
}
