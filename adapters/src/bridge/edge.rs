//! A market-data edge: the WebSocket feed of BEHAVIOUR.md §9 served from NATS JetStream, on as
//! many machines as subscribers need, with nothing connected to the exchange.
//!
//! The bridge publishes, besides the §9 messages, every command's engine events (stream
//! `HAYATE_EVENTS`, subject `<prefix>.events`) and, every thousand commands, the whole
//! market-data state (KV bucket `hayate_md_state`, key `market`, with the journal sequence it is
//! at and the events stream's sequence of that command). An edge starts the very builder and
//! feed the gateway runs from that state, then feeds them the events after it — so its
//! messages are the core's own (the same snapshots, updates and sequences), by construction
//! rather than by a second encoder, and it has the gateway feed's defences (connection caps per
//! address, subscription caps, rate limits, message size limits, slow-subscriber disconnects,
//! TLS).
//!
//! A gap in the events (a message missing: never expected, since the stream is gap-free, but a
//! stream purged behind its back would do it) restarts the edge from the newest state; the feed
//! then tells every subscriber to resubscribe, as the gateway's does after it fell behind.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::thread::JoinHandle;
use std::time::Duration;

use async_nats::jetstream::{self, consumer};
use futures_util::StreamExt;
use hayate_core::market_data::MarketData;
use hayate_core::pipeline::Output;
use hayate_core::{EngineConfig, Event};

use super::nats::NatsSettings;
use crate::config::MarketDataConfig;
use crate::market_data::{Feed, FeedMetrics};

/// The events of one command as the events stream carries them: a 24-byte head (journal
/// sequence, receive time, event count, all little-endian, 4 bytes of padding), then the events
/// (128 bytes each, as the engine lays them out).
pub fn encode_events(seq: u64, timestamp_ns: u64, events: &[Event]) -> Vec<u8> {
    let mut out = Vec::with_capacity(24 + events.len() * 128);
    out.extend_from_slice(&seq.to_le_bytes());
    out.extend_from_slice(&timestamp_ns.to_le_bytes());
    out.extend_from_slice(&(events.len() as u32).to_le_bytes());
    out.extend_from_slice(&[0; 4]);
    for event in events {
        out.extend_from_slice(bytemuck::bytes_of(event));
    }
    out
}

/// The outputs [`encode_events`] wrote, as the pipeline hands them to its consumers; `None` for
/// bytes that are not such a message (a wrong length, an event this build does not read).
pub fn decode_events(bytes: &[u8]) -> Option<Vec<Output>> {
    let (head, body) = bytes.split_at_checked(24)?;
    let seq = u64::from_le_bytes(head.get(0..8)?.try_into().ok()?);
    let timestamp_ns = u64::from_le_bytes(head.get(8..16)?.try_into().ok()?);
    let count = u32::from_le_bytes(head.get(16..20)?.try_into().ok()?) as usize;
    if body.len() != count.checked_mul(128)? {
        return None;
    }
    body.chunks_exact(128)
        .enumerate()
        .map(|(index, chunk)| {
            let event: Event = bytemuck::try_pod_read_unaligned(chunk).ok()?;
            event.event_kind()?;
            Some(Output {
                seq,
                timestamp_ns,
                index: index as u32,
                last: index + 1 == count,
                event,
            })
        })
        .collect()
}

/// The market-data state as the KV entry holds it: a 16-byte head (the journal sequence it is
/// at, the events stream's sequence of that command), then [`MarketData::save`]'s bytes.
pub fn encode_market_state(journal_seq: u64, stream_seq: u64, state: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(16 + state.len());
    out.extend_from_slice(&journal_seq.to_le_bytes());
    out.extend_from_slice(&stream_seq.to_le_bytes());
    out.extend_from_slice(state);
    out
}

/// `(journal sequence, events stream sequence, state bytes)` of a KV entry.
fn decode_market_state(bytes: &[u8]) -> Option<(u64, u64, &[u8])> {
    let (head, state) = bytes.split_at_checked(16)?;
    let journal_seq = u64::from_le_bytes(head.get(0..8)?.try_into().ok()?);
    let stream_seq = u64::from_le_bytes(head.get(8..16)?.try_into().ok()?);
    Some((journal_seq, stream_seq, state))
}

/// How an edge runs.
#[derive(Debug, Clone)]
pub struct EdgeSettings {
    /// The NATS servers.
    pub servers: Vec<String>,
    /// The bridge's layout (prefix, stream and bucket names).
    pub nats: NatsSettings,
    /// The exchange's engine configuration (its symbols).
    pub engine: EngineConfig,
    /// The feed's port and defences (`[market_data]`, as the gateway's).
    pub market_data: MarketDataConfig,
}

/// What the edge is doing, for tests and logs.
#[derive(Debug, Default)]
pub struct EdgeStatus {
    /// The journal sequence of the last command fed.
    pub journal_seq: AtomicU64,
    /// Times it started from the KV state (1 after a clean start).
    pub starts: AtomicU64,
}

/// A running edge; stops when dropped.
pub struct Edge {
    stop: Arc<AtomicBool>,
    status: Arc<EdgeStatus>,
    ws_addr: Option<std::net::SocketAddr>,
    thread: Option<JoinHandle<Result<(), String>>>,
}

impl std::fmt::Debug for Edge {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Edge")
            .field("ws_addr", &self.ws_addr)
            .finish_non_exhaustive()
    }
}

impl Edge {
    /// Connects to NATS, waits (at most `timeout`) for the bridge's first market-data state,
    /// starts the feed from it and follows the events.
    pub fn start(settings: EdgeSettings, timeout: Duration) -> Result<Edge, String> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| format!("runtime: {e}"))?;
        let js = runtime.block_on(connect(&settings))?;
        let deadline = std::time::Instant::now() + timeout;
        let (market, journal_seq, stream_seq) = loop {
            match runtime.block_on(load_state(&js, &settings))? {
                Some(state) => break state,
                None if std::time::Instant::now() > deadline => {
                    return Err(format!(
                        "no market-data state in KV {} after {timeout:?}: is a bridge publishing?",
                        settings.nats.state_bucket.clone()
                    ));
                }
                None => std::thread::sleep(Duration::from_millis(200)),
            }
        };
        let feed = Feed::start(
            &settings.market_data,
            settings.engine.clone(),
            market.clone(),
            Arc::new(FeedMetrics::default()),
        )
        .map_err(|e| format!("market-data port: {e}"))?;
        let ws_addr = feed.ws_addr();
        let stop = Arc::new(AtomicBool::new(false));
        let status = Arc::new(EdgeStatus::default());
        status.starts.store(1, Ordering::Relaxed);
        status.journal_seq.store(journal_seq, Ordering::Release);
        let thread = {
            let (stop, status) = (Arc::clone(&stop), Arc::clone(&status));
            std::thread::Builder::new()
                .name("hayate-edge".into())
                .spawn(move || {
                    let mut follower = Follower {
                        settings,
                        js,
                        feed,
                        market,
                        stream_seq,
                        status,
                        stop,
                    };
                    let result = runtime.block_on(follower.run());
                    follower.feed.stop();
                    result
                })
                .map_err(|e| e.to_string())?
        };
        Ok(Edge {
            stop,
            status,
            ws_addr,
            thread: Some(thread),
        })
    }

    /// Where the WebSocket feed listens.
    pub fn ws_addr(&self) -> Option<std::net::SocketAddr> {
        self.ws_addr
    }

    /// Its figures.
    pub fn status(&self) -> Arc<EdgeStatus> {
        Arc::clone(&self.status)
    }

    /// Whether it stopped on its own (an error: [`Edge::stop`] returns it).
    pub fn is_finished(&self) -> bool {
        self.thread.as_ref().is_none_or(|t| t.is_finished())
    }

    /// Stops it; the error it stopped on, if it did.
    pub fn stop(mut self) -> Result<(), String> {
        self.halt()
    }

    fn halt(&mut self) -> Result<(), String> {
        self.stop.store(true, Ordering::Release);
        match self.thread.take() {
            Some(thread) => thread
                .join()
                .unwrap_or_else(|_| Err("the edge panicked".into())),
            None => Ok(()),
        }
    }
}

impl Drop for Edge {
    fn drop(&mut self) {
        let _ = self.halt();
    }
}

async fn connect(settings: &EdgeSettings) -> Result<jetstream::Context, String> {
    let client = async_nats::ConnectOptions::new()
        .name("hayate-md-edge")
        .connect(settings.servers.clone())
        .await
        .map_err(|e| format!("connect {:?}: {e}", settings.servers))?;
    Ok(jetstream::new(client))
}

/// The newest state: the builder, its journal sequence, the events stream's sequence.
async fn load_state(
    js: &jetstream::Context,
    settings: &EdgeSettings,
) -> Result<Option<(MarketData, u64, u64)>, String> {
    let bucket = settings.nats.state_bucket.clone();
    let Ok(store) = js.get_key_value(bucket.as_str()).await else {
        return Ok(None);
    };
    let Some(bytes) = store
        .get("market")
        .await
        .map_err(|e| format!("KV {bucket}: {e}"))?
    else {
        return Ok(None);
    };
    let (journal_seq, stream_seq, state) =
        decode_market_state(&bytes).ok_or_else(|| format!("KV {bucket}: unreadable entry"))?;
    let market = MarketData::load(&settings.engine, state)
        .map_err(|e| format!("KV {bucket}: the state does not load here: {e}"))?;
    if market.journal_seq() != journal_seq {
        return Err(format!(
            "KV {bucket}: the state is at sequence {} but says {journal_seq}",
            market.journal_seq()
        ));
    }
    Ok(Some((market, journal_seq, stream_seq)))
}

struct Follower {
    settings: EdgeSettings,
    js: jetstream::Context,
    feed: Feed,
    market: MarketData,
    stream_seq: u64,
    status: Arc<EdgeStatus>,
    stop: Arc<AtomicBool>,
}

impl Follower {
    async fn run(&mut self) -> Result<(), String> {
        while !self.stop.load(Ordering::Acquire) {
            if let Err(e) = self.follow().await {
                tracing::warn!(error = %e, "edge: events interrupted; restarting from the state");
                tokio::time::sleep(Duration::from_millis(500)).await;
                self.restart().await?;
            }
        }
        Ok(())
    }

    /// Starts over from the newest state: the feed tells its subscribers to resubscribe.
    async fn restart(&mut self) -> Result<(), String> {
        if let Some((market, _, stream_seq)) = load_state(&self.js, &self.settings).await? {
            self.market = market;
            self.stream_seq = stream_seq;
            // The feed takes the copy once its queue has room.
            self.feed.push_reset(&self.market);
            self.status.starts.fetch_add(1, Ordering::Relaxed);
        }
        Ok(())
    }

    /// Consumes the events after `stream_seq` until an error or stop.
    async fn follow(&mut self) -> Result<(), String> {
        let name = self.settings.nats.events_stream.clone();
        let stream = self
            .js
            .get_stream(&name)
            .await
            .map_err(|e| format!("stream {name}: {e}"))?;
        let consumer = stream
            .create_consumer(consumer::pull::OrderedConfig {
                deliver_policy: consumer::DeliverPolicy::ByStartSequence {
                    start_sequence: self.stream_seq + 1,
                },
                ..Default::default()
            })
            .await
            .map_err(|e| format!("consumer on {name}: {e}"))?;
        let mut messages = consumer
            .messages()
            .await
            .map_err(|e| format!("messages of {name}: {e}"))?;
        while !self.stop.load(Ordering::Acquire) {
            let next = tokio::time::timeout(Duration::from_millis(200), messages.next()).await;
            let message = match next {
                Err(_) => {
                    // Nothing for a while: look at `stop`, then wait again.
                    if self.feed.needs_reset() {
                        self.feed.push_reset(&self.market);
                    }
                    continue;
                }
                Ok(None) => return Err(format!("{name}: the consumer ended")),
                Ok(Some(Err(e))) => return Err(format!("{name}: {e}")),
                Ok(Some(Ok(message))) => message,
            };
            let info = message.info().map_err(|e| format!("{name}: {e}"))?;
            if info.stream_sequence != self.stream_seq + 1 {
                return Err(format!(
                    "{name}: message {} where {} was due",
                    info.stream_sequence,
                    self.stream_seq + 1
                ));
            }
            self.stream_seq = info.stream_sequence;
            let outputs = decode_events(&message.payload)
                .ok_or_else(|| format!("{name}: message {} unreadable", info.stream_sequence))?;
            // Commands the state already holds are passed over (the state may be newer than the
            // stream position it names); read once: the builder's sequence moves as it applies.
            let held = self.market.journal_seq();
            for out in &outputs {
                if out.seq <= held {
                    continue;
                }
                self.market.on_output(out, |_, _| {});
                if self.feed.needs_reset() {
                    self.feed.push_reset(&self.market);
                } else {
                    self.feed.push(out);
                }
            }
            self.feed.flush();
            if let Some(last) = outputs.last() {
                self.status.journal_seq.store(last.seq, Ordering::Release);
            }
        }
        Ok(())
    }
}
