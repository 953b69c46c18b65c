//! The feed thread itself: the WebSocket connections (handshake, reads, subscriptions, bounded
//! writes), the builder fed from the queue, and the answers to `/book` and `/trades`.

use super::*;
use crate::tls::{MaybeTls, TlsStream};

/// A subscriber's socket: plain, or through TLS with `[tls] ws` (tungstenite sees plaintext).
type Stream = MaybeTls<TcpStream>;
type Handshake = MidHandshake<ServerHandshake<Stream, NoCallback>>;

enum Socket {
    Handshake(Option<Handshake>),
    Open(WebSocket<Stream>),
}

pub(super) struct Conn {
    socket: Socket,
    peer: SocketAddr,
    opened: Instant,
    /// Since when it has had no subscription.
    unsubscribed_since: Instant,
    bucket: TokenBucket,
    topics: Vec<(SymbolId, Channel)>,
    /// Set once it is to be closed at the end of the pass: nothing more is queued to it, so a
    /// full queue is counted once, not once per later message of the same pass.
    doomed: bool,
    /// Whether it is in `Fanout::dirty` (a flag, not a search of the list: a broadcast to a
    /// thousand subscribers stays linear).
    dirty: bool,
}

/// The subscribers and what goes out to them (split from the builder so the builder's callback
/// can write to them).
pub(super) struct Fanout {
    pub(super) conns: Vec<Option<Conn>>,
    /// Per symbol, per channel: the connections subscribed.
    pub(super) by_topic: Vec<[Vec<usize>; 4]>,
    pub(super) text: String,
    pub(super) dirty: Vec<usize>,
    /// Connections to close after this pass, with why.
    pub(super) closing: Vec<(usize, &'static str)>,
    pub(super) metrics: Arc<FeedMetrics>,
}

pub(super) struct FeedThread {
    pub(super) poll: Poll,
    pub(super) listener: Option<TcpListener>,
    pub(super) caps: ConnectionCaps,
    pub(super) config: MarketDataConfig,
    pub(super) ws_config: WebSocketConfig,
    pub(super) engine: EngineConfig,
    pub(super) market: MarketData,
    pub(super) fanout: Fanout,
    pub(super) free: Vec<usize>,
    /// Connections that stopped at `MESSAGES_PER_READ` with input left. Readiness is
    /// edge-triggered: no new event comes for bytes already arrived, so they are read again on
    /// the next pass, not when (if ever) the client sends more.
    pub(super) more_to_read: Vec<usize>,
    /// The copy of `more_to_read` this pass works through (kept to reuse its capacity).
    pub(super) reading: Vec<usize>,
    pub(super) queue: Arc<ArrayQueue<FeedInput>>,
    pub(super) queries: Receiver<Query>,
    pub(super) shared: Arc<Shared>,
    /// WSS: the certificate and key (`[tls] ws`); `None`: plain WebSocket.
    pub(super) tls: Option<Arc<rustls::ServerConfig>>,
    /// The notice board's revision last announced.
    pub(super) notices_seen: u64,
}

/// The feed thread's scheduling priority (nice), below the order path's threads. On shared cores
/// a thousand subscribers can keep a core busy; at the same priority the scheduler would hand
/// them the core the gateway's loop and the matcher need (measured here: order→ack p50 ×51 at
/// 10k orders/s with 1,000 subscribers). Market data lags instead; order entry does not wait.
const FEED_NICE: libc::c_int = 10;

impl FeedThread {
    pub(super) fn run(&mut self) {
        // SAFETY: gettid has no preconditions; setpriority on our own thread id changes only
        // this thread's nice value (Linux schedules threads individually).
        let lowered = unsafe {
            let tid = libc::syscall(libc::SYS_gettid) as libc::id_t;
            libc::setpriority(libc::PRIO_PROCESS, tid, FEED_NICE)
        };
        if lowered != 0 {
            tracing::debug!("the market-data thread keeps the default priority");
        }
        let mut events = Events::with_capacity(1024);
        let mut next_timer = Instant::now() + TIMER_TICK;
        while !self.shared.stop.load(Ordering::SeqCst) {
            let worked = self.drain_queue() + self.answer_queries() + self.read_the_rest();
            self.finish_pass();
            let timeout = if worked > 0 || !self.more_to_read.is_empty() {
                Duration::ZERO
            } else {
                // Dekker with `Feed::flush`: either it sees `parked`, or we see its event.
                self.shared.parked.store(true, Ordering::SeqCst);
                if !self.queue.is_empty() || !self.queries.is_empty() {
                    self.shared.parked.store(false, Ordering::SeqCst);
                    continue;
                }
                TIMER_TICK.min(next_timer.saturating_duration_since(Instant::now()))
            };
            let polled = self.poll.poll(&mut events, Some(timeout));
            self.shared.parked.store(false, Ordering::SeqCst);
            if let Err(e) = polled {
                if e.kind() != io::ErrorKind::Interrupted {
                    tracing::error!(error = %e, "market-data poll failed: the feed stops");
                    break;
                }
            }
            for event in events.iter() {
                match event.token() {
                    WAKER => {}
                    LISTENER => self.accept(),
                    Token(t) => {
                        let index = t - FIRST_CONNECTION;
                        if event.is_readable() || event.is_read_closed() || event.is_error() {
                            self.on_readable(index);
                        }
                        if event.is_writable() {
                            self.fanout.mark_dirty(index);
                            // A TLS handshake's records the socket pushed back go out as the
                            // handshake resumes (nothing happens to an open connection).
                            self.handshake(index, None);
                        }
                    }
                }
            }
            let now = Instant::now();
            if now >= next_timer {
                self.on_timers(now);
                self.announce_notices();
                next_timer = now + TIMER_TICK;
            }
            self.finish_pass();
        }
        for index in 0..self.fanout.conns.len() {
            self.close(index);
        }
    }

    /// Applies queued events to the builder; every update it completes goes out.
    fn drain_queue(&mut self) -> usize {
        let mut n = 0;
        while n < EVENTS_PER_PASS {
            let Some(input) = self.queue.pop() else {
                break;
            };
            n += 1;
            match input {
                FeedInput::Event(out) => {
                    let FeedThread {
                        market,
                        fanout,
                        engine,
                        ..
                    } = self;
                    market.on_output(&out, |update, market| {
                        fanout.publish(update, market, engine);
                    });
                }
                FeedInput::Reset(market) => {
                    self.market = *market;
                    bump(&self.fanout.metrics.resets, 1);
                    tracing::warn!(
                        "the market-data feed fell behind: subscribers must resubscribe"
                    );
                    for index in 0..self.fanout.conns.len() {
                        let subscribed = self.fanout.conns[index]
                            .as_ref()
                            .is_some_and(|c| !c.topics.is_empty());
                        if subscribed {
                            json::error(
                                &mut self.fanout.text,
                                "the feed fell behind and was reset: resubscribe",
                            );
                            let text = Utf8Bytes::from(self.fanout.text.as_str());
                            self.fanout.send(index, &text);
                            self.fanout.doom(index, "feed reset");
                        }
                    }
                }
            }
        }
        n
    }

    fn answer_queries(&mut self) -> usize {
        let mut n = 0;
        while let Ok(query) = self.queries.try_recv() {
            n += 1;
            let _ = query
                .reply
                .send(http::page(&self.market, &self.engine, &query.url));
        }
        n
    }

    fn accept(&mut self) {
        loop {
            let Some(listener) = &self.listener else {
                return;
            };
            let (mut stream, peer) = match listener.accept() {
                Ok(pair) => pair,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                // WouldBlock: all taken; anything else (out of descriptors): try again later.
                Err(_) => return,
            };
            if self.caps.open(peer.ip()).is_err() {
                bump(&self.fanout.metrics.refused, 1);
                continue;
            }
            let index = self.free.pop().unwrap_or_else(|| {
                self.fanout.conns.push(None);
                self.fanout.conns.len() - 1
            });
            let token = Token(index + FIRST_CONNECTION);
            let registered = self.poll.registry().register(
                &mut stream,
                token,
                Interest::READABLE | Interest::WRITABLE,
            );
            if registered.is_err() {
                self.caps.close(peer.ip());
                self.free.push(index);
                continue;
            }
            let _ = stream.set_nodelay(true);
            let stream = match &self.tls {
                None => MaybeTls::Plain(stream),
                Some(tls) => match TlsStream::accept(stream, tls) {
                    Ok(tls) => MaybeTls::Tls(Box::new(tls)),
                    Err(e) => {
                        tracing::warn!(%peer, error = %e, "no TLS session for a WebSocket client");
                        self.caps.close(peer.ip());
                        self.free.push(index);
                        continue;
                    }
                },
            };
            let now = Instant::now();
            self.fanout.conns[index] = Some(Conn {
                socket: Socket::Handshake(None),
                peer,
                opened: now,
                unsubscribed_since: now,
                bucket: TokenBucket::new(self.config.messages_per_second, self.config.burst, now),
                topics: Vec::new(),
                doomed: false,
                dirty: false,
            });
            // Counted before the handshake answers: a client that has its answer is counted.
            self.publish_counts();
            self.handshake(index, Some(stream));
        }
    }

    /// Starts (with the new stream) or resumes a connection's WebSocket handshake.
    fn handshake(&mut self, index: usize, fresh: Option<Stream>) {
        let Some(conn) = self.fanout.conns.get_mut(index).and_then(Option::as_mut) else {
            return;
        };
        let attempt = match (fresh, &mut conn.socket) {
            (Some(stream), _) => tungstenite::accept_with_config(stream, Some(self.ws_config)),
            (None, Socket::Handshake(mid)) => match mid.take() {
                Some(mid) => mid.handshake(),
                None => return,
            },
            (None, Socket::Open(_)) => return,
        };
        match attempt {
            Ok(ws) => conn.socket = Socket::Open(ws),
            Err(HandshakeError::Interrupted(mid)) => conn.socket = Socket::Handshake(Some(mid)),
            Err(HandshakeError::Failure(tungstenite::Error::Io(e)))
                if e.kind() == io::ErrorKind::InvalidData =>
            {
                // TLS refused the client (a plain one on the WSS port, a failed handshake).
                bump(&self.fanout.metrics.tls_failures, 1);
                tracing::warn!(peer = %conn.peer, error = %e, "TLS failed: WebSocket closed");
                self.fanout.doom(index, "TLS failed");
            }
            Err(HandshakeError::Failure(_)) => self.fanout.doom(index, "bad handshake"),
        }
    }

    fn on_readable(&mut self, index: usize) {
        let handshaking = matches!(
            self.fanout
                .conns
                .get(index)
                .and_then(Option::as_ref)
                .map(|c| &c.socket),
            Some(Socket::Handshake(_))
        );
        if handshaking {
            self.handshake(index, None);
            return;
        }
        for _ in 0..MESSAGES_PER_READ {
            // A connection being closed (rate-limit abuse, say) is not read any further.
            let Some(conn) = self
                .fanout
                .conns
                .get_mut(index)
                .and_then(Option::as_mut)
                .filter(|c| !c.doomed)
            else {
                return;
            };
            let Socket::Open(ws) = &mut conn.socket else {
                return;
            };
            match ws.read() {
                Ok(Message::Text(text)) => {
                    let admission = conn.bucket.admit(Instant::now());
                    self.on_message(index, text.as_str(), admission);
                }
                Ok(Message::Binary(_)) => {
                    bump(&self.fanout.metrics.malformed, 1);
                    self.reply_error(index, "binary messages are not understood: send JSON text");
                }
                // Pings are answered by tungstenite, closes completed by it.
                Ok(_) => {}
                Err(tungstenite::Error::Io(e)) if e.kind() == io::ErrorKind::WouldBlock => {
                    // Whatever tungstenite queued (a pong, a close reply) goes out.
                    self.fanout.mark_dirty(index);
                    return;
                }
                Err(tungstenite::Error::Capacity(_)) => {
                    self.fanout.doom(index, "oversized message");
                    return;
                }
                Err(_) => {
                    self.fanout.doom(index, "closed");
                    return;
                }
            }
        }
        // Its share of this pass is read; the rest waits for the next pass, not for an event.
        if !self.more_to_read.contains(&index) {
            self.more_to_read.push(index);
        }
    }

    /// Reads on from the connections that had more input than one pass's share.
    fn read_the_rest(&mut self) -> usize {
        std::mem::swap(&mut self.reading, &mut self.more_to_read);
        let mut reading = std::mem::take(&mut self.reading);
        for &index in &reading {
            self.on_readable(index);
        }
        let n = reading.len();
        reading.clear();
        self.reading = reading;
        n
    }

    fn reply_error(&mut self, index: usize, message: &str) {
        json::error(&mut self.fanout.text, message);
        let text = Utf8Bytes::from(self.fanout.text.as_str());
        self.fanout.send(index, &text);
    }

    fn on_message(&mut self, index: usize, text: &str, admission: Admission) {
        match admission {
            Admission::Admit => {}
            Admission::Throttle => {
                self.reply_error(index, "rate limit exceeded: slow down");
                return;
            }
            Admission::Disconnect => {
                self.fanout.doom(index, "rate limit abuse");
                return;
            }
        }
        let request = match request::parse(text, &self.engine) {
            Ok(request) => request,
            Err(why) => {
                bump(&self.fanout.metrics.malformed, 1);
                self.reply_error(index, &why);
                return;
            }
        };
        let Some(conn) = self.fanout.conns.get_mut(index).and_then(Option::as_mut) else {
            return;
        };
        let mut added = Vec::new();
        if request.subscribe {
            let room = (self.config.max_subscriptions as usize).saturating_sub(conn.topics.len());
            let fresh: Vec<(SymbolId, Channel)> = request
                .pairs
                .iter()
                .copied()
                .filter(|p| !conn.topics.contains(p))
                .collect();
            if fresh.len() > room {
                bump(&self.fanout.metrics.malformed, 1);
                let why = format!(
                    "too many subscriptions: at most {} per connection",
                    self.config.max_subscriptions
                );
                self.reply_error(index, &why);
                return;
            }
            for (symbol, channel) in fresh {
                conn.topics.push((symbol, channel));
                if let Some(list) = self.fanout.by_topic.get_mut(symbol.0 as usize) {
                    list[channel as usize].push(index);
                }
                added.push((symbol, channel));
            }
        } else {
            for pair in &request.pairs {
                if let Some(at) = conn.topics.iter().position(|p| p == pair) {
                    conn.topics.swap_remove(at);
                    if let Some(list) = self.fanout.by_topic.get_mut(pair.0.0 as usize) {
                        list[pair.1 as usize].retain(|&i| i != index);
                    }
                }
            }
            if conn.topics.is_empty() {
                conn.unsubscribed_since = Instant::now();
            }
        }
        let status_before = conn.topics.len() - added.len();
        let first_status = added.iter().any(|(_, c)| *c == Channel::Status)
            && !conn.topics[..status_before]
                .iter()
                .any(|(_, c)| *c == Channel::Status);
        let mut topics = conn.topics.clone();
        topics.sort();
        self.subscriptions_message(&topics);
        let text = Utf8Bytes::from(self.fanout.text.as_str());
        self.fanout.send(index, &text);
        // What a new subscriber starts from, at the builder's current state: the updates after
        // it follow in order on the same connection.
        let now = unix_ns();
        for (symbol, channel) in added {
            let Some(spec) = self.engine.symbol(symbol) else {
                continue;
            };
            let text = &mut self.fanout.text;
            match channel {
                Channel::Level2 => json::snapshot(text, &self.market, spec, symbol),
                Channel::Ticker => json::ticker(text, &self.market, spec, symbol, now),
                Channel::Status => json::status(text, &self.market, spec, symbol, now),
                Channel::Matches => continue,
            }
            let text = Utf8Bytes::from(self.fanout.text.as_str());
            self.fanout.send(index, &text);
        }
        if first_status && self.notices_message().is_some() {
            let text = Utf8Bytes::from(self.fanout.text.as_str());
            self.fanout.send(index, &text);
        }
        self.publish_counts();
    }

    /// `{"type":"notices","time":…,"incidents":[…]}` in the fanout's text (the incidents as
    /// `/status` lists them) and the board's revision it shows; `None` when the gateway gave the
    /// feed no notice board. Rare (a
    /// subscription, a notice): allocating here is no cost on the market-data path.
    fn notices_message(&mut self) -> Option<u64> {
        let board = self.shared.notices.get()?;
        let now = unix_ns();
        let (revision, views) = {
            let board = board
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            (board.revision, board.views(now / 1_000_000_000))
        };
        let out = &mut self.fanout.text;
        out.clear();
        out.push_str("{\"type\":\"notices\",\"time\":");
        json::time(out, now);
        crate::metrics::incidents_json(out, &views);
        out.push('}');
        Some(revision)
    }

    /// Sends the notices again to every connection subscribed to `status` when the board has
    /// changed since they were last sent.
    fn announce_notices(&mut self) {
        let Some(board) = self.shared.notices.get() else {
            return;
        };
        let revision = board
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .revision;
        if revision == self.notices_seen {
            return;
        }
        let Some(shown) = self.notices_message() else {
            return;
        };
        self.notices_seen = shown;
        let text = Utf8Bytes::from(self.fanout.text.as_str());
        for index in 0..self.fanout.conns.len() {
            let listening = self.fanout.conns[index]
                .as_ref()
                .is_some_and(|c| c.topics.iter().any(|(_, ch)| *ch == Channel::Status));
            if listening {
                self.fanout.send(index, &text);
            }
        }
    }

    /// `{"type":"subscriptions","channels":[{"name":…,"product_ids":[…]},…]}`.
    fn subscriptions_message(&mut self, topics: &[(SymbolId, Channel)]) {
        let out = &mut self.fanout.text;
        out.clear();
        out.push_str("{\"type\":\"subscriptions\",\"channels\":[");
        let mut first_channel = true;
        for channel in Channel::ALL {
            let mut products = topics.iter().filter(|(_, c)| *c == channel).peekable();
            if products.peek().is_none() {
                continue;
            }
            if !first_channel {
                out.push(',');
            }
            first_channel = false;
            out.push_str("{\"name\":\"");
            out.push_str(channel.name());
            out.push_str("\",\"product_ids\":[");
            for (n, (symbol, _)) in products.enumerate() {
                if n > 0 {
                    out.push(',');
                }
                let name = self.engine.symbol(*symbol).map_or("", |s| s.name.as_str());
                json::string(out, name);
            }
            out.push_str("]}");
        }
        out.push_str("]}");
    }

    fn on_timers(&mut self, now: Instant) {
        let handshake = Duration::from_secs(self.config.handshake_timeout_s);
        let idle = Duration::from_secs(self.config.idle_timeout_s);
        for (index, conn) in self.fanout.conns.iter_mut().enumerate() {
            let Some(conn) = conn.as_mut().filter(|c| !c.doomed) else {
                continue;
            };
            let why = match &conn.socket {
                Socket::Handshake(_) if now.duration_since(conn.opened) >= handshake => {
                    Some("no handshake within the timeout")
                }
                Socket::Open(_)
                    if conn.topics.is_empty()
                        && now.duration_since(conn.unsubscribed_since) >= idle =>
                {
                    Some("idle without a subscription")
                }
                _ => None,
            };
            if let Some(why) = why {
                conn.doomed = true;
                self.fanout.closing.push((index, why));
            }
        }
    }

    /// Writes what was queued, then closes what must close.
    fn finish_pass(&mut self) {
        let dirty = std::mem::take(&mut self.fanout.dirty);
        for &index in &dirty {
            let Some(conn) = self.fanout.conns.get_mut(index).and_then(Option::as_mut) else {
                continue;
            };
            conn.dirty = false;
            let Socket::Open(ws) = &mut conn.socket else {
                continue;
            };
            match ws.flush() {
                Ok(()) => {}
                Err(tungstenite::Error::Io(e)) if e.kind() == io::ErrorKind::WouldBlock => {}
                Err(_) => self.fanout.doom(index, "write failed"),
            }
        }
        let mut dirty = dirty;
        dirty.clear();
        dirty.append(&mut self.fanout.dirty);
        self.fanout.dirty = dirty;
        while let Some((index, why)) = self.fanout.closing.pop() {
            if self.fanout.conns.get(index).is_some_and(Option::is_some) {
                tracing::debug!(why, "market-data connection closed");
                self.close(index);
            }
        }
    }

    fn close(&mut self, index: usize) {
        let Some(mut conn) = self.fanout.conns.get_mut(index).and_then(Option::take) else {
            return;
        };
        self.more_to_read.retain(|&i| i != index);
        for (symbol, channel) in &conn.topics {
            if let Some(list) = self.fanout.by_topic.get_mut(symbol.0 as usize) {
                list[*channel as usize].retain(|&i| i != index);
            }
        }
        if let Socket::Open(ws) = &mut conn.socket {
            // A last try at the close frame; a client that does not read gets nothing more.
            let _ = ws.close(None);
            let _ = ws.flush();
        }
        self.caps.close(conn.peer.ip());
        self.free.push(index);
        self.publish_counts();
    }

    fn publish_counts(&self) {
        let metrics = &self.fanout.metrics;
        metrics
            .connections
            .store(self.caps.total() as u64, Ordering::Relaxed);
        let subscriptions: usize = self
            .fanout
            .by_topic
            .iter()
            .flat_map(|channels| channels.iter().map(Vec::len))
            .sum();
        metrics
            .subscriptions
            .store(subscriptions as u64, Ordering::Relaxed);
    }
}

impl Fanout {
    /// Closes connection `index` at the end of the pass; from now on nothing is queued to it.
    fn doom(&mut self, index: usize, why: &'static str) {
        if let Some(conn) = self.conns.get_mut(index).and_then(Option::as_mut) {
            if !conn.doomed {
                conn.doomed = true;
                self.closing.push((index, why));
            }
        }
    }

    /// Flushes connection `index` at the end of the pass (once, however often it is marked).
    fn mark_dirty(&mut self, index: usize) {
        if let Some(conn) = self.conns.get_mut(index).and_then(Option::as_mut) {
            if !conn.dirty {
                conn.dirty = true;
                self.dirty.push(index);
            }
        }
    }

    /// Queues `text` to connection `index`; a subscriber whose queue is full is dropped.
    fn send(&mut self, index: usize, text: &Utf8Bytes) {
        let Some(Conn {
            socket: Socket::Open(ws),
            doomed: false,
            dirty,
            ..
        }) = self.conns.get_mut(index).and_then(Option::as_mut)
        else {
            return;
        };
        match ws.write(Message::Text(text.clone())) {
            Ok(()) => {}
            Err(tungstenite::Error::Io(e)) if e.kind() == io::ErrorKind::WouldBlock => {}
            Err(tungstenite::Error::WriteBufferFull(_)) => {
                bump(&self.metrics.slow_disconnects, 1);
                self.doom(index, "slow subscriber: queue full");
                return;
            }
            Err(_) => {
                self.doom(index, "write failed");
                return;
            }
        }
        bump(&self.metrics.messages_sent, 1);
        if !*dirty {
            *dirty = true;
            self.dirty.push(index);
        }
    }

    /// Encodes `text` once and queues it to every subscriber of the topic.
    fn broadcast(&mut self, symbol: SymbolId, channel: Channel) {
        bump(&self.metrics.encodes, 1);
        bump(&self.metrics.encoded_bytes, self.text.len() as u64);
        let text = Utf8Bytes::from(self.text.as_str());
        let count = self
            .by_topic
            .get(symbol.0 as usize)
            .map_or(0, |l| l[channel as usize].len());
        for n in 0..count {
            let index = self.by_topic[symbol.0 as usize][channel as usize][n];
            self.send(index, &text);
        }
    }

    fn subscribed(&self, symbol: SymbolId, channel: Channel) -> bool {
        self.by_topic
            .get(symbol.0 as usize)
            .is_some_and(|l| !l[channel as usize].is_empty())
    }

    /// One update to every subscriber of its product, per channel.
    fn publish(&mut self, update: &Update, market: &MarketData, engine: &EngineConfig) {
        bump(&self.metrics.updates, 1);
        let symbol = update.symbol;
        let Some(spec) = engine.symbol(symbol) else {
            return;
        };
        if self.subscribed(symbol, Channel::Level2) {
            json::l2update(&mut self.text, update, spec);
            self.broadcast(symbol, Channel::Level2);
        }
        if self.subscribed(symbol, Channel::Matches) {
            for trade in &update.trades {
                json::trade(&mut self.text, trade, spec, update.sequence);
                self.broadcast(symbol, Channel::Matches);
            }
        }
        if update.ticker_changed && self.subscribed(symbol, Channel::Ticker) {
            json::ticker(&mut self.text, market, spec, symbol, update.timestamp_ns);
            self.broadcast(symbol, Channel::Ticker);
        }
        if update.status.is_some() && self.subscribed(symbol, Channel::Status) {
            json::status(&mut self.text, market, spec, symbol, update.timestamp_ns);
            self.broadcast(symbol, Channel::Status);
        }
    }
}
