//! The feed's thread: its own builder fed the gateway's output events through a lock-free queue,
//! the WebSocket port (tungstenite over mio), the subscriptions, and `/book` and `/trades`.
//!
//! The gateway's loop hands over each output event with [`Feed::push`] (a slot in a preallocated
//! `ArrayQueue`, no lock, no syscall) and calls [`Feed::flush`] once per batch, which wakes this
//! thread only if it sleeps. A thousand subscribers therefore cost order entry nothing but that
//! hand-over; here each update is encoded once per channel and the same bytes are queued to every
//! subscriber, whose bounded buffer (`max_queued_bytes`) drops it when it does not read.

use std::io;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crossbeam::channel::{Receiver, Sender, TrySendError};
use crossbeam::queue::ArrayQueue;
use mio::net::{TcpListener, TcpStream};
use mio::{Events, Interest, Poll, Token, Waker};
use tungstenite::handshake::server::{NoCallback, ServerHandshake};
use tungstenite::handshake::{HandshakeError, MidHandshake};
use tungstenite::protocol::WebSocketConfig;
use tungstenite::{Message, Utf8Bytes, WebSocket};

use crate::config::MarketDataConfig;
use crate::notices::NoticeBoard;
use hayate_core::EngineConfig;
use hayate_core::market_data::{MarketData, Update};
use hayate_core::pipeline::Output;
use hayate_core::units::SymbolId;

use super::request::{self, Channel};
use super::{http, json};
use crate::clock::unix_ns;
use crate::limits::{Admission, ConnectionCaps, TokenBucket};

mod thread;
use thread::{Fanout, FeedThread};

const WAKER: Token = Token(0);
const LISTENER: Token = Token(1);
const FIRST_CONNECTION: usize = 2;
/// Output events the queue holds before the feed counts as fallen behind.
const QUEUE_CAPACITY: usize = 1 << 16;
/// Events taken from the queue per pass, so sockets are served between long batches.
const EVENTS_PER_PASS: usize = 4096;
/// Client messages read per connection per readiness, so one client cannot hold the thread.
const MESSAGES_PER_READ: usize = 64;
const TIMER_TICK: Duration = Duration::from_millis(100);
/// How long an HTTP request waits for the feed's thread.
const QUERY_TIMEOUT: Duration = Duration::from_secs(1);

/// The feed's counters, for `/metrics`.
#[derive(Debug, Default)]
pub struct FeedMetrics {
    /// Open WebSocket connections.
    pub connections: AtomicU64,
    /// (channel, product) subscriptions.
    pub subscriptions: AtomicU64,
    /// Connections refused by the caps.
    pub refused: AtomicU64,
    /// Subscribers dropped because they did not read (their queue was full).
    pub slow_disconnects: AtomicU64,
    /// Client messages answered with an error.
    pub malformed: AtomicU64,
    /// WSS connections closed for a TLS error in their handshake.
    pub tls_failures: AtomicU64,
    /// Messages queued to subscribers.
    pub messages_sent: AtomicU64,
    /// Updates applied by the feed's builder.
    pub updates: AtomicU64,
    /// Messages encoded (once per channel and update, whatever the number of subscribers).
    pub encodes: AtomicU64,
    /// Bytes encoded.
    pub encoded_bytes: AtomicU64,
    /// Times the feed fell behind and was handed a fresh copy of the builder.
    pub resets: AtomicU64,
}

impl FeedMetrics {
    /// Subscribers dropped for not reading.
    pub fn slow_disconnects(&self) -> u64 {
        self.slow_disconnects.load(Ordering::Relaxed)
    }
}

fn bump(counter: &AtomicU64, by: u64) {
    counter.fetch_add(by, Ordering::Relaxed);
}

enum FeedInput {
    Event(Output),
    Reset(Box<MarketData>),
}

struct Shared {
    parked: AtomicBool,
    stop: AtomicBool,
    waker: Waker,
    /// The notice board the `status` channel announces (set once, by the gateway).
    notices: OnceLock<Arc<Mutex<NoticeBoard>>>,
}

struct Query {
    url: String,
    reply: Sender<(u16, String)>,
}

/// Answers `/book` and `/trades` from any thread (the HTTP server's).
#[derive(Clone)]
pub struct FeedQueries {
    tx: Sender<Query>,
    shared: Arc<Shared>,
}

impl std::fmt::Debug for FeedQueries {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("FeedQueries")
    }
}

impl FeedQueries {
    /// `GET /book/SYMBOL?depth=N` and `GET /trades/SYMBOL?limit=N`: (status code, JSON body)
    /// from the feed's builder; `None` for any other path.
    pub fn query(&self, url: &str) -> Option<(u16, String)> {
        if !(url.starts_with("/book/") || url.starts_with("/trades/")) {
            return None;
        }
        let (reply, answer) = crossbeam::channel::bounded(1);
        let busy = || Some((503, "{\"message\":\"market data is busy\"}".to_owned()));
        match self.tx.try_send(Query {
            url: url.to_owned(),
            reply,
        }) {
            Ok(()) => {}
            Err(TrySendError::Full(_)) | Err(TrySendError::Disconnected(_)) => return busy(),
        }
        let _ = self.shared.waker.wake();
        answer.recv_timeout(QUERY_TIMEOUT).ok().or_else(busy)
    }
}

/// The handle the gateway's loop keeps: hands events over, wakes the thread, stops it.
pub struct Feed {
    queue: Arc<ArrayQueue<FeedInput>>,
    shared: Arc<Shared>,
    thread: Option<JoinHandle<()>>,
    ws_addr: Option<SocketAddr>,
    overrun: bool,
    queries: FeedQueries,
}

impl std::fmt::Debug for Feed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Feed")
            .field("ws_addr", &self.ws_addr)
            .finish_non_exhaustive()
    }
}

impl Feed {
    /// Starts the thread with `market` (the recovered builder); binds `config.ws_listen` if set
    /// (without it the thread still serves `/book` and `/trades`).
    pub fn start(
        config: &MarketDataConfig,
        engine: EngineConfig,
        market: MarketData,
        metrics: Arc<FeedMetrics>,
    ) -> io::Result<Feed> {
        Feed::start_with_tls(config, engine, market, metrics, None)
    }

    /// [`Feed::start`], serving WSS (WebSocket through TLS) when `tls` is given (`[tls] ws`).
    pub fn start_with_tls(
        config: &MarketDataConfig,
        engine: EngineConfig,
        market: MarketData,
        metrics: Arc<FeedMetrics>,
        tls: Option<Arc<rustls::ServerConfig>>,
    ) -> io::Result<Feed> {
        let poll = Poll::new()?;
        let waker = Waker::new(poll.registry(), WAKER)?;
        let mut listener = match config.ws_listen {
            Some(addr) => Some(TcpListener::bind(addr)?),
            None => None,
        };
        if let Some(listener) = &mut listener {
            poll.registry()
                .register(listener, LISTENER, Interest::READABLE)?;
        }
        let ws_addr = listener.as_ref().map(TcpListener::local_addr).transpose()?;
        let shared = Arc::new(Shared {
            parked: AtomicBool::new(false),
            stop: AtomicBool::new(false),
            waker,
            notices: OnceLock::new(),
        });
        let queue = Arc::new(ArrayQueue::new(QUEUE_CAPACITY));
        let (tx, rx) = crossbeam::channel::bounded(64);
        let symbols = engine.symbols.len();
        // A subscriber's queue must hold the buffer tungstenite fills before it writes, plus a
        // message.
        let write_buffer = (config.max_queued_bytes / 4).min(16 * 1024);
        let ws_config = WebSocketConfig::default()
            .read_buffer_size(4096)
            .write_buffer_size(write_buffer)
            .max_write_buffer_size(config.max_queued_bytes)
            .max_message_size(Some(config.max_message_size))
            .max_frame_size(Some(config.max_message_size));
        let mut thread_state = FeedThread {
            poll,
            listener,
            caps: ConnectionCaps::new(config.max_connections, config.max_connections_per_address),
            config: config.clone(),
            ws_config,
            engine,
            market,
            fanout: Fanout {
                conns: Vec::new(),
                by_topic: (0..symbols).map(|_| Default::default()).collect(),
                text: String::with_capacity(4096),
                dirty: Vec::new(),
                closing: Vec::new(),
                metrics,
            },
            free: Vec::new(),
            more_to_read: Vec::new(),
            reading: Vec::new(),
            queue: Arc::clone(&queue),
            queries: rx,
            shared: Arc::clone(&shared),
            tls,
            notices_seen: 0,
        };
        let thread = std::thread::Builder::new()
            .name("hayate-md".into())
            .spawn(move || thread_state.run())?;
        Ok(Feed {
            queue,
            queries: FeedQueries {
                tx,
                shared: Arc::clone(&shared),
            },
            shared,
            thread: Some(thread),
            ws_addr,
            overrun: false,
        })
    }

    /// Announces `board`'s incidents and maintenance on the `status` channel: the current list
    /// to each connection when it first subscribes to `status`, and again to every such
    /// connection whenever the board changes (checked every timer tick, 100 ms). Set once; later
    /// calls change nothing.
    pub fn show_notices(&self, board: Arc<Mutex<NoticeBoard>>) {
        let _ = self.shared.notices.set(board);
    }

    /// Where the WebSocket port listens, if it does.
    pub fn ws_addr(&self) -> Option<SocketAddr> {
        self.ws_addr
    }

    /// A handle for `/book` and `/trades`, usable from any thread.
    pub fn queries(&self) -> FeedQueries {
        self.queries.clone()
    }

    /// `GET /book/SYMBOL?depth=N` (default 50, 0 = full) and `GET /trades/SYMBOL?limit=N`
    /// (default 100, at most the tape's capacity), answered by the feed's thread from its own
    /// builder so the page agrees with the stream; (status code, JSON body), `None` for any other
    /// path. The same as [`FeedQueries::query`], for a caller that holds the feed itself.
    pub fn query(&self, path_and_query: &str) -> Option<(u16, String)> {
        self.queries.query(path_and_query)
    }

    /// Hands one output event over. Never blocks: if the queue is full the feed has fallen
    /// behind, events stop being queued, and [`Feed::needs_reset`] says so.
    pub fn push(&mut self, out: &Output) -> bool {
        if self.overrun {
            return false;
        }
        if self.queue.push(FeedInput::Event(*out)).is_err() {
            self.overrun = true;
            return false;
        }
        true
    }

    /// Whether events were dropped: the feed needs a copy of the builder ([`Feed::push_reset`]).
    pub fn needs_reset(&self) -> bool {
        self.overrun
    }

    /// Hands over a copy of the builder in place of the events dropped, once the queue has room
    /// again; the feed tells every subscriber to resubscribe. `false`: not yet.
    pub fn push_reset(&mut self, market: &MarketData) -> bool {
        if !self.overrun || self.queue.len() > QUEUE_CAPACITY / 2 {
            return false;
        }
        let reset = FeedInput::Reset(Box::new(market.clone()));
        self.overrun = self.queue.push(reset).is_err();
        !self.overrun
    }

    /// End of a batch: wakes the feed's thread if (and only if) it sleeps.
    pub fn flush(&self) {
        if self.shared.parked.load(Ordering::SeqCst) {
            let _ = self.shared.waker.wake();
        }
    }

    /// Stops the thread (closing every connection) and waits for it.
    pub fn stop(mut self) {
        self.shared.stop.store(true, Ordering::SeqCst);
        let _ = self.shared.waker.wake();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

impl Drop for Feed {
    fn drop(&mut self) {
        self.shared.stop.store(true, Ordering::SeqCst);
        let _ = self.shared.waker.wake();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}
