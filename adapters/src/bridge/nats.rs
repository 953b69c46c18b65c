//! The NATS JetStream sink: fan-out of what the core produced to market-data edges and drop-copy
//! consumers, effectively once and without gaps.
//!
//! # Layout
//!
//! With the default [`NatsSettings`] (prefix `hayate`):
//!
//! | stream            | subjects                               | payload                        |
//! |-------------------|----------------------------------------|--------------------------------|
//! | `HAYATE_MD`       | `hayate.md.<symbol>.<channel>`         | the WebSocket feed's JSON text |
//! | `HAYATE_TRADES`   | `hayate.trades.<symbol>`               | [`TradeRow`] JSON              |
//! | `HAYATE_DROPCOPY` | `hayate.dropcopy.<account>`            | [`OrderEventRow`] JSON         |
//! | `HAYATE_EVENTS`   | `hayate.events`                        | a command's engine events      |
//!
//! The events stream carries every command's engine events in one binary message
//! ([`super::edge::encode_events`]); with the whole market-data state the KV bucket
//! `hayate_md_state` keeps under the key `market` (every thousand commands, with the events
//! stream's sequence of that command: [`super::edge::encode_market_state`]) it is what a
//! market-data edge ([`super::edge`]) runs the gateway's own builder and feed from.
//!
//! `<channel>` is `level2`, `matches`, `ticker` or `status`; `<account>` the account number in
//! decimal; `<symbol>` the symbol's name escaped by [`subject_token`] (letters, digits, `-` and
//! `_` as they are, every other byte of its UTF-8 as `=XX`, so `BTC/USD` is `BTC=2FUSD` and a
//! token never holds `.`, `*`, `>`, whitespace or a leading `$`). The same token is the key of
//! the symbol's level-2 snapshot in the KV bucket `hayate_md_snapshot`, whose value is
//! `{"sequence": S, "stream_seq": N, "snapshot": <snapshot message>}`: N is the `HAYATE_MD`
//! stream sequence of the last message of market-data sequence S of that symbol, so an edge
//! reads the entry, then consumes `hayate.md.<symbol>.>` from stream sequence N + 1 and sees
//! exactly the updates after S.
//!
//! Every message carries `Nats-Msg-Id` = its journal position `<journal seq>.<n>` (n numbers the
//! command's messages within that stream from 0), `Hayate-Seq` = the journal sequence and, on
//! market data, `Hayate-Md-Seq` = the symbol's market-data sequence. The cursor is the key
//! `cursor` of the KV bucket `hayate_bridge`: JSON with the journal sequence, the engine
//! configuration's digest, and per stream the id and stream sequence of the last message of the
//! commands at or before it.
//!
//! # No gap, no duplicate
//!
//! Each stream's messages have a total order fixed by the journal (journal sequence, then n),
//! and their content is a deterministic function of the journal (same engine, same builder). The
//! invariant: **a stream holds a prefix of that order, each message once.**
//!
//! - *No gap.* Every message is published with a precondition the server checks before storing
//!   it: the first message a write publishes to a stream carries `Nats-Expected-Last-Sequence`
//!   (the stream sequence its predecessor has, known exactly: stream sequences grow by one per
//!   stored message, from the cursor's record or the stream's tail), every later one
//!   `Nats-Expected-Last-Msg-Id` = its predecessor's id. A message whose predecessor was lost (a
//!   dropped connection, a server restarting mid-batch, a leader change) is refused, and so is
//!   every one after it, since the stream's last message is still the one before the loss. The
//!   first message of a write uses the sequence rather than the id because the server forgets
//!   its last message id when it restarts after the duplicate window has passed, and would then
//!   refuse a correct id forever (tests/bridge_nats.rs shows both). On a cluster the server
//!   checks the preconditions as it applies the stream's replicated log, in one order on every
//!   replica, so a leader change cannot reorder what it stores. nats-server 2.9.10 checks both
//!   headers, `Nats-Expected-Last-Sequence: 0` included (an empty stream).
//! - *No duplicate.* After any error and at connect the sink reads each stream's last message
//!   (its tail) and its `Nats-Msg-Id`; by the invariant every message at or before that position
//!   is stored and none after it, so it skips the first kind and publishes the second. A retry
//!   of a message that did get stored (its ack lost) is in any case answered by JetStream's
//!   duplicate window with the original's sequence, not stored twice: the server looks for a
//!   duplicate before it checks the preconditions. Every ack's stream sequence is checked
//!   against the one predicted.
//! - *SIGKILL at any moment.* Before the acks: the stream holds a prefix; the cursor is older;
//!   the next run re-reads tails and skips what is there. Between the acks and the cursor write
//!   (snapshot puts included): same, the whole batch is skipped and the cursor written. After
//!   the cursor write: nothing to redo. The KV snapshot may be put again, by then or later with an
//!   older one from a smaller batch: each entry is consistent on its own (its stream sequence
//!   names a stored message), so an edge starting from it misses and repeats nothing.
//! - *NATS restart mid-batch.* Messages published while it was down time out (bounded by
//!   [`NatsSettings::timeout`]) and the write returns [`SinkError::Unavailable`]; async-nats may
//!   deliver some of them late, after the reconnect. A late message is either stored in order
//!   (its predecessor is the tail: the prefix grows), a duplicate (answered as such), or refused
//!   (its precondition no longer holds). The retry after the bridge's wait re-reads the tails.
//! - *Two bridges racing.* They publish the same messages with the same ids. Whichever's message
//!   comes first is stored; the other's is a duplicate, or refused by its precondition (the tail
//!   moved): that bridge gets `Unavailable`, re-reads the tails and skips. The cursor is written
//!   with compare-and-set on the KV revision, so a bridge never moves it from a state it did not
//!   read.
//! - *Another exchange's data.* The cursor carries the engine configuration's digest; a sink
//!   connected with another one refuses to continue ([`SinkError::Fatal`]), as it does when a
//!   stream is shorter than the cursor says (a stream deleted or purged behind its back) or a
//!   stream's sequence is not the one predicted.
//!
//! [`TradeRow`]: super::rows::TradeRow
//! [`OrderEventRow`]: super::rows::OrderEventRow

use std::collections::{HashMap, VecDeque};
use std::fmt::{self, Write as _};
use std::future::{Future, IntoFuture};
use std::time::Duration;

use async_nats::jetstream::{self, context::PublishAckFuture, kv, stream};
use async_nats::{HeaderMap, HeaderValue};
use bytes::Bytes;
use serde::{Deserialize, Serialize};

use super::rows::Applied;
use super::sink::{Sink, SinkError};

const SINK: &str = "nats";

/// Where and how the NATS sink publishes. [`NatsSettings::default`] gives the layout the
/// module documentation describes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NatsSettings {
    /// The first token of every subject (`hayate`).
    pub prefix: String,
    /// The market-data stream (`HAYATE_MD`), subjects `<prefix>.md.>`.
    pub md_stream: String,
    /// The trades stream (`HAYATE_TRADES`), subjects `<prefix>.trades.>`.
    pub trades_stream: String,
    /// The drop-copy stream (`HAYATE_DROPCOPY`), subjects `<prefix>.dropcopy.>`.
    pub dropcopy_stream: String,
    /// The engine-events stream (`HAYATE_EVENTS`), subject `<prefix>.events`: what market-data
    /// edges follow.
    pub events_stream: String,
    /// The KV bucket of the whole market-data state an edge starts from (`hayate_md_state`).
    pub state_bucket: String,
    /// The KV bucket of the newest level-2 snapshot per symbol (`hayate_md_snapshot`).
    pub snapshot_bucket: String,
    /// The KV bucket the cursor lives in (`hayate_bridge`).
    pub cursor_bucket: String,
    /// The cursor's key in [`NatsSettings::cursor_bucket`] (`cursor`).
    pub cursor_key: String,
    /// Replicas of every stream and bucket created: 1, or 3 on a cluster.
    pub replicas: usize,
    /// JetStream's duplicate window on the streams (2 minutes): a retried message within it is
    /// recognised by its id.
    pub duplicate_window: Duration,
    /// How long a request, a publish or the wait for the next ack may take before the sink
    /// reports the server unavailable (5 s).
    pub timeout: Duration,
    /// Publishes in flight (not yet acknowledged) at most (1024).
    pub max_in_flight: usize,
}

impl Default for NatsSettings {
    fn default() -> Self {
        NatsSettings {
            prefix: "hayate".to_string(),
            md_stream: "HAYATE_MD".to_string(),
            trades_stream: "HAYATE_TRADES".to_string(),
            dropcopy_stream: "HAYATE_DROPCOPY".to_string(),
            events_stream: "HAYATE_EVENTS".to_string(),
            state_bucket: "hayate_md_state".to_string(),
            snapshot_bucket: "hayate_md_snapshot".to_string(),
            cursor_bucket: "hayate_bridge".to_string(),
            cursor_key: "cursor".to_string(),
            replicas: 1,
            duplicate_window: Duration::from_secs(120),
            timeout: Duration::from_secs(5),
            max_in_flight: 1024,
        }
    }
}

/// A symbol name as one subject token and KV key: ASCII letters, digits, `-` and `_` stay, every
/// other byte of the name's UTF-8 becomes `=XX` (two upper-case hex digits). The escaping is
/// one-to-one (`=` itself is escaped), so distinct symbols never share a subject. An empty name
/// is `=`.
pub fn subject_token(name: &str) -> String {
    if name.is_empty() {
        return "=".to_string();
    }
    let mut token = String::with_capacity(name.len());
    for byte in name.bytes() {
        if byte.is_ascii_alphanumeric() || byte == b'-' || byte == b'_' {
            token.push(byte as char);
        } else {
            // Writing to a String cannot fail.
            let _ = write!(token, "={byte:02X}");
        }
    }
    token
}

/// A message's place in its stream's order: journal sequence, then its index among the
/// command's messages to that stream. Its text `<seq>.<n>` is the `Nats-Msg-Id`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
struct Position {
    seq: u64,
    n: u32,
}

impl fmt::Display for Position {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}", self.seq, self.n)
    }
}

impl Position {
    fn parse(text: &str) -> Option<Position> {
        let (seq, n) = text.split_once('.')?;
        Some(Position {
            seq: seq.parse().ok()?,
            n: n.parse().ok()?,
        })
    }
}

/// One stream's part of the cursor: the last message of the commands at or before it.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
struct LaneRecord {
    /// Its `Nats-Msg-Id` (`None`: no message yet).
    last: Option<String>,
    /// Its stream sequence (or the stream's last sequence when there was none yet).
    stream_seq: u64,
}

/// The cursor as stored in KV.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
struct CursorRecord {
    /// The last journal sequence whose output the streams hold completely.
    seq: u64,
    /// The engine configuration's digest, hex.
    digest: String,
    md: LaneRecord,
    trades: LaneRecord,
    dropcopy: LaneRecord,
    events: LaneRecord,
}

/// One stream as the sink sees it.
#[derive(Debug)]
struct Lane {
    stream: String,
    /// The last message of the commands written so far (at or before the sink's sequence).
    last: Option<Position>,
    /// Its stream sequence: the next message of the order gets `last_stream_seq + 1`.
    last_stream_seq: u64,
    /// The stream's tail as read at the last resynchronisation: messages at or before it are
    /// stored already.
    tail: Option<Position>,
    /// The tail's stream sequence.
    tail_stream_seq: u64,
}

impl Lane {
    fn new(stream: &str) -> Lane {
        Lane {
            stream: stream.to_string(),
            last: None,
            last_stream_seq: 0,
            tail: None,
            tail_stream_seq: 0,
        }
    }

    fn record(&self) -> LaneRecord {
        LaneRecord {
            last: self.last.map(|p| p.to_string()),
            stream_seq: self.last_stream_seq,
        }
    }
}

/// How many streams the sink writes ([`Which`]).
const LANES: usize = 4;

/// Which stream a message goes to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Which {
    Md,
    Trades,
    DropCopy,
    Events,
}

/// One message about to be published.
struct Outgoing<'a> {
    which: Which,
    /// The symbol of a market-data message (for the snapshots' stream sequences).
    symbol: Option<&'a str>,
    subject: String,
    position: Position,
    md_seq: Option<u64>,
    payload: Bytes,
}

/// An acknowledgement awaited.
struct Pending {
    which: Which,
    position: Position,
    stream_seq: u64,
    ack: PublishAckFuture,
}

/// The NATS JetStream [`Sink`]. See the module documentation for what it publishes where and
/// why it neither loses nor duplicates a message.
pub struct NatsSink {
    settings: NatsSettings,
    digest: String,
    runtime: tokio::runtime::Runtime,
    /// Kept so the connection lives as long as the sink.
    _client: async_nats::Client,
    js: jetstream::Context,
    cursor_kv: kv::Store,
    snapshot_kv: kv::Store,
    state_kv: kv::Store,
    /// The cursor's journal sequence and KV revision.
    seq: u64,
    revision: u64,
    md: Lane,
    trades: Lane,
    dropcopy: Lane,
    events: Lane,
    /// The largest message the server takes: a market-data state above it is not put.
    max_payload: usize,
    /// Set by a failed write: read the cursor and the tails again before the next.
    stale: bool,
}

impl fmt::Debug for NatsSink {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NatsSink")
            .field("seq", &self.seq)
            .field("stale", &self.stale)
            .finish_non_exhaustive()
    }
}

fn unavailable(message: impl fmt::Display) -> SinkError {
    SinkError::Unavailable {
        sink: SINK,
        message: message.to_string(),
    }
}

fn fatal(message: impl fmt::Display) -> SinkError {
    SinkError::Fatal {
        sink: SINK,
        message: message.to_string(),
    }
}

/// `future`, or `Unavailable` saying `what` timed out after `timeout`.
async fn bounded<T>(
    timeout: Duration,
    what: &str,
    future: impl Future<Output = Result<T, SinkError>>,
) -> Result<T, SinkError> {
    tokio::time::timeout(timeout, future)
        .await
        .unwrap_or_else(|_| Err(unavailable(format!("{what}: no answer in {timeout:?}"))))
}

impl NatsSink {
    /// Connects to `servers` (`nats://host:port`, several for a cluster), creates the streams and
    /// buckets that are missing (checks the subjects of those that exist), and reads the cursor.
    /// `config_digest` identifies the exchange (its engine configuration): a cursor written
    /// under another one is [`SinkError::Fatal`].
    pub fn connect(
        servers: &[String],
        settings: NatsSettings,
        config_digest: u64,
    ) -> Result<NatsSink, SinkError> {
        // One worker: the connection's reader, pings and reconnects run between writes too.
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("nats-sink")
            .enable_time()
            .enable_io()
            .build()
            .map_err(|e| fatal(format!("runtime: {e}")))?;
        let timeout = settings.timeout;
        let (client, js, cursor_kv, snapshot_kv, state_kv) =
            runtime.block_on(bounded(timeout * 4, "connect", setup(servers, &settings)))?;
        let mut sink = NatsSink {
            md: Lane::new(&settings.md_stream),
            trades: Lane::new(&settings.trades_stream),
            dropcopy: Lane::new(&settings.dropcopy_stream),
            events: Lane::new(&settings.events_stream),
            max_payload: client.server_info().max_payload,
            digest: format!("{config_digest:016x}"),
            settings,
            runtime,
            _client: client,
            js,
            cursor_kv,
            snapshot_kv,
            state_kv,
            seq: 0,
            revision: 0,
            stale: true,
        };
        sink.resync()?;
        Ok(sink)
    }

    /// The settings the sink runs with.
    pub fn settings(&self) -> &NatsSettings {
        &self.settings
    }

    fn lane(&mut self, which: Which) -> &mut Lane {
        match which {
            Which::Md => &mut self.md,
            Which::Trades => &mut self.trades,
            Which::DropCopy => &mut self.dropcopy,
            Which::Events => &mut self.events,
        }
    }

    /// Reads the cursor and each stream's tail, and checks they agree (module documentation).
    fn resync(&mut self) -> Result<(), SinkError> {
        let timeout = self.settings.timeout;
        let key = self.settings.cursor_key.clone();
        let entry = self
            .runtime
            .block_on(bounded(timeout, "cursor read", async {
                self.cursor_kv
                    .entry(key.as_str())
                    .await
                    .map_err(unavailable)
            }))?;
        let mut tails = Vec::with_capacity(3);
        for which in [Which::Md, Which::Trades, Which::DropCopy, Which::Events] {
            let name = self.lane(which).stream.clone();
            let js = &self.js;
            let tail =
                self.runtime
                    .block_on(bounded(timeout, "stream tail", read_tail(js, &name)))?;
            tails.push((which, tail));
        }
        let live = entry.filter(|e| e.operation == kv::Operation::Put);
        let (record, revision) = match live {
            Some(entry) => {
                let record: CursorRecord = serde_json::from_slice(&entry.value)
                    .map_err(|e| fatal(format!("cursor {key}: unreadable ({e})")))?;
                (record, entry.revision)
            }
            None => {
                // No cursor: a first start, on empty streams. Streams holding messages with no
                // cursor are someone else's (or the cursor was deleted): refuse rather than guess.
                if let Some((which, tail)) = tails.iter().find(|(_, t)| t.position.is_some()) {
                    return Err(fatal(format!(
                        "stream {} holds messages (last {:?}) but there is no cursor {}",
                        self.lane(*which).stream,
                        tail.position.map(|p| p.to_string()),
                        key
                    )));
                }
                let seq_of = |w: Which| {
                    tails
                        .iter()
                        .find(|(x, _)| *x == w)
                        .map_or(0, |(_, t)| t.stream_seq)
                };
                let record = CursorRecord {
                    seq: 0,
                    digest: self.digest.clone(),
                    md: LaneRecord {
                        last: None,
                        stream_seq: seq_of(Which::Md),
                    },
                    trades: LaneRecord {
                        last: None,
                        stream_seq: seq_of(Which::Trades),
                    },
                    dropcopy: LaneRecord {
                        last: None,
                        stream_seq: seq_of(Which::DropCopy),
                    },
                    events: LaneRecord {
                        last: None,
                        stream_seq: seq_of(Which::Events),
                    },
                };
                let value = Bytes::from(serde_json::to_vec(&record).map_err(fatal)?);
                let kv = &self.cursor_kv;
                let revision = self
                    .runtime
                    .block_on(bounded(timeout, "cursor create", async {
                        kv.create(key.as_str(), value)
                            .await
                            .map_err(|e| unavailable(format!("cursor create: {e}")))
                    }))?;
                (record, revision)
            }
        };
        if record.digest != self.digest {
            return Err(fatal(format!(
                "the cursor was written for engine configuration {}, this bridge runs {}: \
                 another exchange's data",
                record.digest, self.digest
            )));
        }
        self.seq = record.seq;
        self.revision = revision;
        for (which, tail) in tails {
            let saved = match which {
                Which::Md => &record.md,
                Which::Trades => &record.trades,
                Which::DropCopy => &record.dropcopy,
                Which::Events => &record.events,
            };
            let last = match &saved.last {
                Some(text) => Some(
                    Position::parse(text)
                        .ok_or_else(|| fatal(format!("cursor: unreadable message id {text:?}")))?,
                ),
                None => None,
            };
            let lane = self.lane(which);
            lane.last = last;
            lane.last_stream_seq = saved.stream_seq;
            lane.tail = tail.position;
            lane.tail_stream_seq = tail.stream_seq;
            // The stream must hold at least what the cursor says it held.
            if tail.stream_seq < saved.stream_seq || tail.position < last {
                return Err(fatal(format!(
                    "stream {} ends at sequence {} (message {:?}) but the cursor says it held \
                     sequence {} (message {:?}): the stream lost messages",
                    lane.stream,
                    tail.stream_seq,
                    tail.position.map(|p| p.to_string()),
                    saved.stream_seq,
                    saved.last
                )));
            }
        }
        self.stale = false;
        Ok(())
    }

    /// Publishes the batch and waits for every ack; then the snapshots; then the cursor.
    fn publish(&mut self, batch: &[Applied]) -> Result<(), SinkError> {
        let timeout = self.settings.timeout;
        let window = self.settings.max_in_flight.max(1);
        let outgoing = self.messages(batch);
        // The stream sequence of the last md message of each (symbol, market-data sequence):
        // what a snapshot's KV entry points at.
        let mut md_seqs: HashMap<(&str, u64), u64> = HashMap::new();
        // The events stream's sequence of each command: what a market-data state names.
        let mut events_seqs: HashMap<u64, u64> = HashMap::new();
        let mut first = [true; LANES];
        let mut previous: [Option<Position>; LANES] = [None; LANES];
        let mut in_flight: VecDeque<Pending> = VecDeque::with_capacity(window);
        // Walks the messages in order: predicts each one's stream sequence, skips those at or
        // before the tail, publishes the others.
        let mut to_send: Vec<(usize, u64, Option<u64>, Option<Position>)> = Vec::new();
        for (index, message) in outgoing.iter().enumerate() {
            let slot = message.which as usize;
            let lane = self.lane(message.which);
            let stream_seq = lane.last_stream_seq + 1;
            lane.last_stream_seq = stream_seq;
            lane.last = Some(message.position);
            if let (Some(symbol), Some(md_seq)) = (message.symbol, message.md_seq) {
                md_seqs.insert((symbol, md_seq), stream_seq);
            }
            if message.which == Which::Events {
                events_seqs.insert(message.position.seq, stream_seq);
            }
            if lane.tail.is_some_and(|tail| message.position <= tail) {
                if lane.tail == Some(message.position) && lane.tail_stream_seq != stream_seq {
                    return Err(fatal(format!(
                        "stream {}: message {} is at sequence {}, expected {}: the stream holds \
                         messages this bridge did not publish",
                        lane.stream, message.position, lane.tail_stream_seq, stream_seq
                    )));
                }
                previous[slot] = Some(message.position);
                continue;
            }
            let expect_seq = if first[slot] {
                first[slot] = false;
                if stream_seq != lane.tail_stream_seq + 1 {
                    return Err(fatal(format!(
                        "stream {}: the next message {} would be sequence {} but the stream \
                         ends at {}",
                        lane.stream, message.position, stream_seq, lane.tail_stream_seq
                    )));
                }
                Some(stream_seq - 1)
            } else {
                None
            };
            let expect_id = if expect_seq.is_none() {
                previous[slot]
            } else {
                None
            };
            previous[slot] = Some(message.position);
            to_send.push((index, stream_seq, expect_seq, expect_id));
        }
        let js = self.js.clone();
        let acks = self.runtime.block_on(async {
            let mut acked: Vec<(Which, Position, u64)> = Vec::with_capacity(to_send.len());
            for &(index, stream_seq, expect_seq, expect_id) in &to_send {
                let message = &outgoing[index];
                let mut headers = HeaderMap::new();
                headers.insert("Nats-Msg-Id", message.position.to_string().as_str());
                headers.insert("Hayate-Seq", HeaderValue::from(message.position.seq));
                if let Some(md_seq) = message.md_seq {
                    headers.insert("Hayate-Md-Seq", HeaderValue::from(md_seq));
                }
                if let Some(seq) = expect_seq {
                    headers.insert("Nats-Expected-Last-Sequence", HeaderValue::from(seq));
                }
                if let Some(id) = expect_id {
                    headers.insert("Nats-Expected-Last-Msg-Id", id.to_string().as_str());
                }
                while in_flight.len() >= window {
                    if let Some(pending) = in_flight.pop_front() {
                        acked.push(await_ack(pending, timeout).await?);
                    }
                }
                let publish = jetstream::message::PublishMessage::build()
                    .payload(message.payload.clone())
                    .headers(headers);
                let ack = bounded(timeout, "publish", async {
                    js.send_publish(message.subject.clone(), publish)
                        .await
                        .map_err(|e| unavailable(format!("publish {}: {e}", message.subject)))
                })
                .await?;
                in_flight.push_back(Pending {
                    which: message.which,
                    position: message.position,
                    stream_seq,
                    ack,
                });
            }
            while let Some(pending) = in_flight.pop_front() {
                acked.push(await_ack(pending, timeout).await?);
            }
            Ok::<_, SinkError>(acked)
        })?;
        for (which, position, stream_seq) in acks {
            let lane = self.lane(which);
            if lane.tail.is_none_or(|tail| position > tail) {
                lane.tail = Some(position);
                lane.tail_stream_seq = stream_seq;
            }
        }
        self.put_snapshots(batch, &md_seqs)?;
        self.put_market_state(batch, &events_seqs)?;
        self.write_cursor(batch.last().map_or(self.seq, |a| a.seq))
    }

    /// Every message of the batch, in order.
    fn messages<'a>(&self, batch: &'a [Applied]) -> Vec<Outgoing<'a>> {
        let prefix = &self.settings.prefix;
        let mut out = Vec::new();
        for applied in batch {
            for (n, message) in applied.market.iter().enumerate() {
                out.push(Outgoing {
                    which: Which::Md,
                    symbol: Some(&message.symbol),
                    subject: format!(
                        "{prefix}.md.{}.{}",
                        subject_token(&message.symbol),
                        message.channel.name()
                    ),
                    position: Position {
                        seq: applied.seq,
                        n: n as u32,
                    },
                    md_seq: Some(message.sequence),
                    payload: Bytes::from(message.text.clone()),
                });
            }
            for (n, trade) in applied.trades.iter().enumerate() {
                out.push(Outgoing {
                    which: Which::Trades,
                    symbol: None,
                    subject: format!("{prefix}.trades.{}", subject_token(&trade.symbol)),
                    position: Position {
                        seq: applied.seq,
                        n: n as u32,
                    },
                    md_seq: None,
                    payload: json_bytes(trade),
                });
            }
            for (n, event) in applied.order_events.iter().enumerate() {
                out.push(Outgoing {
                    which: Which::DropCopy,
                    symbol: None,
                    subject: format!("{prefix}.dropcopy.{}", event.account),
                    position: Position {
                        seq: applied.seq,
                        n: n as u32,
                    },
                    md_seq: None,
                    payload: json_bytes(event),
                });
            }
            if !applied.events.is_empty() {
                out.push(Outgoing {
                    which: Which::Events,
                    symbol: None,
                    subject: format!("{prefix}.events"),
                    position: Position {
                        seq: applied.seq,
                        n: 0,
                    },
                    md_seq: None,
                    payload: Bytes::from(super::edge::encode_events(
                        applied.seq,
                        applied.timestamp_ns,
                        &applied.events,
                    )),
                });
            }
        }
        out
    }

    /// Puts the newest market-data state of the batch (if it has one) where edges start from.
    /// Like a snapshot, each entry is consistent on its own: it names the events message of the
    /// command it is at.
    fn put_market_state(
        &mut self,
        batch: &[Applied],
        events_seqs: &HashMap<u64, u64>,
    ) -> Result<(), SinkError> {
        let Some((seq, state)) = batch
            .iter()
            .rev()
            .find_map(|a| a.market_state.as_ref().map(|s| (a.seq, s)))
        else {
            return Ok(());
        };
        let Some(&stream_seq) = events_seqs.get(&seq) else {
            return Err(fatal(format!(
                "the market-data state at sequence {seq} has no events message"
            )));
        };
        let value = super::edge::encode_market_state(seq, stream_seq, state);
        if value.len() > self.max_payload {
            // Retrying cannot make it fit: say so and go on (edges keep following the events;
            // a new edge starts from an older state, or cannot until the server's max_payload
            // is raised).
            tracing::warn!(
                bytes = value.len(),
                max_payload = self.max_payload,
                "the market-data state is larger than the server's max_payload: not put"
            );
            return Ok(());
        }
        let timeout = self.settings.timeout;
        let kv = &self.state_kv;
        self.runtime
            .block_on(bounded(timeout, "market-data state put", async {
                kv.put("market", Bytes::from(value))
                    .await
                    .map(|_| ())
                    .map_err(|e| unavailable(format!("market-data state put: {e}")))
            }))
    }

    /// Puts the newest snapshot of each symbol the batch has one for.
    fn put_snapshots(
        &mut self,
        batch: &[Applied],
        md_seqs: &HashMap<(&str, u64), u64>,
    ) -> Result<(), SinkError> {
        // Newest per symbol: later snapshots in the batch replace earlier ones.
        let mut newest: Vec<(&str, u64, &str)> = Vec::new();
        for snapshot in batch.iter().flat_map(|a| &a.snapshots) {
            match newest.iter_mut().find(|(s, _, _)| *s == snapshot.symbol) {
                Some(entry) => *entry = (&snapshot.symbol, snapshot.sequence, &snapshot.text),
                None => newest.push((&snapshot.symbol, snapshot.sequence, &snapshot.text)),
            }
        }
        let timeout = self.settings.timeout;
        for (symbol, sequence, text) in newest {
            // The last message of that update (md_seqs keeps the latest of each).
            let Some(&stream_seq) = md_seqs.get(&(symbol, sequence)) else {
                return Err(fatal(format!(
                    "snapshot of {symbol} at market-data sequence {sequence} has no message"
                )));
            };
            let value = format!(
                "{{\"sequence\":{sequence},\"stream_seq\":{stream_seq},\"snapshot\":{text}}}"
            );
            let kv = &self.snapshot_kv;
            let key = subject_token(symbol);
            self.runtime
                .block_on(bounded(timeout, "snapshot put", async {
                    kv.put(key.as_str(), Bytes::from(value))
                        .await
                        .map(|_| ())
                        .map_err(|e| unavailable(format!("snapshot put {key}: {e}")))
                }))?;
        }
        Ok(())
    }

    /// Moves the cursor to `seq` (compare-and-set on the revision read or last written).
    fn write_cursor(&mut self, seq: u64) -> Result<(), SinkError> {
        let record = CursorRecord {
            seq,
            digest: self.digest.clone(),
            md: self.md.record(),
            trades: self.trades.record(),
            dropcopy: self.dropcopy.record(),
            events: self.events.record(),
        };
        let value = Bytes::from(serde_json::to_vec(&record).map_err(fatal)?);
        let timeout = self.settings.timeout;
        let kv = &self.cursor_kv;
        let key = self.settings.cursor_key.as_str();
        let revision = self.revision;
        let revision = self
            .runtime
            .block_on(bounded(timeout, "cursor write", async {
                kv.update(key, value, revision)
                    .await
                    .map_err(|e| unavailable(format!("cursor write: {e}")))
            }))?;
        self.revision = revision;
        self.seq = seq;
        Ok(())
    }
}

fn json_bytes<T: Serialize>(row: &T) -> Bytes {
    // Serialising these rows (strings, numbers, decimals) cannot fail.
    Bytes::from(serde_json::to_vec(row).unwrap_or_default())
}

/// Waits for one ack (at most `timeout`) and checks it stored the message where predicted.
async fn await_ack(
    pending: Pending,
    timeout: Duration,
) -> Result<(Which, Position, u64), SinkError> {
    let Pending {
        which,
        position,
        stream_seq,
        ack,
    } = pending;
    let ack = bounded(timeout, "ack", async {
        ack.into_future()
            .await
            .map_err(|e| unavailable(format!("message {position}: {e}")))
    })
    .await?;
    if ack.sequence != stream_seq {
        return Err(fatal(format!(
            "stream {}: message {position} stored at sequence {}, expected {stream_seq}: the \
             stream holds messages this bridge did not publish",
            ack.stream, ack.sequence
        )));
    }
    Ok((which, position, stream_seq))
}

/// A stream's last message: its position (from `Nats-Msg-Id`) and stream sequence.
struct Tail {
    position: Option<Position>,
    stream_seq: u64,
}

async fn read_tail(js: &jetstream::Context, name: &str) -> Result<Tail, SinkError> {
    let mut stream = js
        .get_stream(name)
        .await
        .map_err(|e| unavailable(format!("stream {name}: {e}")))?;
    let state = stream
        .info()
        .await
        .map_err(|e| unavailable(format!("stream {name} info: {e}")))?
        .state
        .clone();
    if state.messages == 0 {
        return Ok(Tail {
            position: None,
            stream_seq: state.last_sequence,
        });
    }
    let last = stream
        .get_raw_message(state.last_sequence)
        .await
        .map_err(|e| {
            unavailable(format!(
                "stream {name} message {}: {e}",
                state.last_sequence
            ))
        })?;
    // Found by name, not with `HeaderMap::get`: async-nats looks its own standard names
    // (Nats-Msg-Id among them) up differently from how it stores a header it parsed.
    let id = last
        .headers
        .iter()
        .find(|(name, _)| AsRef::<str>::as_ref(*name).eq_ignore_ascii_case("Nats-Msg-Id"))
        .and_then(|(_, values)| values.first())
        .map(|v| v.as_str().to_string())
        .unwrap_or_default();
    let position = Position::parse(&id).ok_or_else(|| {
        fatal(format!(
            "stream {name}: its last message (sequence {}) has no journal position \
             (Nats-Msg-Id {id:?}): not this bridge's",
            state.last_sequence
        ))
    })?;
    Ok(Tail {
        position: Some(position),
        stream_seq: state.last_sequence,
    })
}

/// A connection with its JetStream context and the cursor, snapshot and state buckets.
type Connected = (
    async_nats::Client,
    jetstream::Context,
    kv::Store,
    kv::Store,
    kv::Store,
);

/// Connects, and creates or checks the streams and buckets.
async fn setup(servers: &[String], settings: &NatsSettings) -> Result<Connected, SinkError> {
    let client = async_nats::ConnectOptions::new()
        .connection_timeout(settings.timeout)
        .request_timeout(Some(settings.timeout))
        .name("hayate-bridge")
        .connect(servers.to_vec())
        .await
        .map_err(|e| unavailable(format!("connect {servers:?}: {e}")))?;
    let js = jetstream::ContextBuilder::new()
        .timeout(settings.timeout)
        .ack_timeout(settings.timeout)
        .max_ack_inflight(settings.max_in_flight.max(1) + 1)
        .backpressure_on_inflight(true)
        .build(client.clone());
    let prefix = &settings.prefix;
    for (name, subject) in [
        (&settings.md_stream, format!("{prefix}.md.>")),
        (&settings.trades_stream, format!("{prefix}.trades.>")),
        (&settings.dropcopy_stream, format!("{prefix}.dropcopy.>")),
        (&settings.events_stream, format!("{prefix}.events")),
    ] {
        ensure_stream(&js, settings, name, subject).await?;
    }
    let cursor_kv = ensure_bucket(&js, settings, &settings.cursor_bucket).await?;
    let snapshot_kv = ensure_bucket(&js, settings, &settings.snapshot_bucket).await?;
    let state_kv = ensure_bucket(&js, settings, &settings.state_bucket).await?;
    Ok((client, js, cursor_kv, snapshot_kv, state_kv))
}

async fn ensure_stream(
    js: &jetstream::Context,
    settings: &NatsSettings,
    name: &str,
    subject: String,
) -> Result<(), SinkError> {
    match js.get_stream(name).await {
        Ok(mut stream) => {
            let info = stream
                .info()
                .await
                .map_err(|e| unavailable(format!("stream {name} info: {e}")))?;
            if info.config.subjects != [subject.clone()] {
                return Err(fatal(format!(
                    "stream {name} exists with subjects {:?}, not [{subject}]",
                    info.config.subjects
                )));
            }
            if info.config.storage != stream::StorageType::File {
                return Err(fatal(format!(
                    "stream {name} exists in memory, not on file"
                )));
            }
            Ok(())
        }
        Err(e)
            if matches!(e.kind(), jetstream::context::GetStreamErrorKind::JetStream(j)
                if j.error_code() == jetstream::ErrorCode::STREAM_NOT_FOUND) =>
        {
            js.create_stream(stream::Config {
                name: name.to_string(),
                subjects: vec![subject],
                storage: stream::StorageType::File,
                num_replicas: settings.replicas,
                duplicate_window: settings.duplicate_window,
                ..Default::default()
            })
            .await
            .map(|_| ())
            .map_err(|e| unavailable(format!("stream {name} create: {e}")))
        }
        Err(e) => Err(unavailable(format!("stream {name}: {e}"))),
    }
}

async fn ensure_bucket(
    js: &jetstream::Context,
    settings: &NatsSettings,
    bucket: &str,
) -> Result<kv::Store, SinkError> {
    if let Ok(store) = js.get_key_value(bucket).await {
        return Ok(store);
    }
    // The bucket's stream made directly, as the KV convention lays it out (`KV_<bucket>` on
    // `$KV.<bucket>.>`, one value per key, rollups, no deletes, direct gets): async-nats's
    // `create_key_value` first reads the account's info in a shape 2.9 servers do not send.
    js.create_stream(stream::Config {
        name: format!("KV_{bucket}"),
        subjects: vec![format!("$KV.{bucket}.>")],
        max_messages_per_subject: 1,
        storage: stream::StorageType::File,
        num_replicas: settings.replicas,
        allow_rollup: true,
        deny_delete: true,
        allow_direct: true,
        discard: stream::DiscardPolicy::New,
        duplicate_window: Duration::from_secs(120),
        ..Default::default()
    })
    .await
    .map_err(|e| unavailable(format!("bucket {bucket} create: {e}")))?;
    js.get_key_value(bucket)
        .await
        .map_err(|e| unavailable(format!("bucket {bucket}: {e}")))
}

impl Sink for NatsSink {
    fn name(&self) -> &'static str {
        SINK
    }

    fn cursor(&mut self) -> Result<u64, SinkError> {
        if self.stale {
            self.resync()?;
        }
        Ok(self.seq)
    }

    fn write(&mut self, batch: &[Applied]) -> Result<(), SinkError> {
        if self.stale {
            self.resync()?;
        }
        for (expected, applied) in (self.seq + 1..).zip(batch) {
            if applied.seq != expected {
                return Err(fatal(format!(
                    "batch out of order: command {} where {expected} was due",
                    applied.seq
                )));
            }
        }
        if batch.is_empty() {
            return Ok(());
        }
        let result = self.publish(batch);
        if result.is_err() {
            // Part of the batch may be stored: the next call re-reads the cursor and the tails.
            self.stale = true;
        }
        result
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_escape_what_subjects_cannot_hold() {
        assert_eq!(subject_token("BTC-USD"), "BTC-USD");
        assert_eq!(subject_token("BTC/USD"), "BTC=2FUSD");
        assert_eq!(subject_token("a.b*c>d e"), "a=2Eb=2Ac=3Ed=20e");
        assert_eq!(subject_token("x=y"), "x=3Dy");
        assert_eq!(subject_token("$SYS"), "=24SYS");
        assert_eq!(subject_token("é"), "=C3=A9");
        assert_eq!(subject_token(""), "=");
    }

    #[test]
    fn positions_order_and_round_trip() {
        let a = Position { seq: 9, n: 10 };
        let b = Position { seq: 10, n: 0 };
        assert!(a < b);
        assert_eq!(Position::parse(&a.to_string()), Some(a));
        assert_eq!(Position::parse("10"), None);
        assert_eq!(Position::parse("x.1"), None);
    }
}
