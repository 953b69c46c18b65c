//! One replication connection's socket and buffers, shared by both sides: non-blocking reads cut
//! into protocol frames, and writes queued while the socket pushes back.

use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::os::fd::AsRawFd;
use std::sync::Arc;
use std::time::{Duration, Instant};

use hayate_core::pipeline::{ReplicaLink, Wait};
use mio::unix::SourceFd;
use mio::{Events, Interest, Poll, Token, Waker};

use rustls::ServerConfig;

use hayate_core::Command;
use hayate_journal::Tailer;

use super::protocol::{Framing, MAX_RECORDS, Message, RecordsWriter, frame};
use crate::tls::{MaybeTls, TlsDialer, TlsStream};

/// How a replication loop waits when a pass found nothing to do, by the `[pipeline] wait`
/// strategy. A pass reads its socket (a system call), so an idle loop does not spin on passes:
/// it spins and yields on `ready()` (this node's journal progress: atomics), and under `backoff`
/// (the default) then sleeps in `epoll` until its socket has something (an ack, records), this
/// node's journaler wakes it through the [`ReplicaLink`] (records appended, records durable), or
/// its timer is due (a heartbeat): no timed naps, so an idle pair costs nothing and a woken loop
/// starts at once. The journaler makes a system call only when the loop sleeps. Under `yield`
/// and `busy-spin` (dedicated cores) it never sleeps and reads its socket every pass.
#[derive(Debug)]
pub(crate) struct Idle {
    wait: Wait,
    poll: Poll,
    events: Events,
    link: Arc<ReplicaLink>,
}

/// `ready()` checks before a backing-off replication loop sleeps (spins, then a few yields):
/// long enough for this node's other stages to finish a batch that is under way, short enough
/// that an idle thread gives its core back. With both nodes of a pair on one small machine,
/// every yielding thread takes turns from the stages that do the work (a thousand yields per
/// idle stretch took 97% of a core there).
const READY_CHECKS: u32 = 110;

/// The journaler's wake-up.
const WAKER: Token = Token(0);
/// What a loop watches: its peer's socket, or the listener standbys connect to.
pub(crate) const PEER: Token = Token(1);
pub(crate) const LISTENER: Token = Token(2);

/// The longest a loop whose socket pushes back sleeps before it tries to write again (it
/// watches reads only: a writable edge after every send would wake it once per message).
const PUSHBACK_RETRY: Duration = Duration::from_millis(1);

impl Idle {
    /// A waiter woken through `link` (this node's pipeline's link: replaces the waker of the
    /// link's previous transport).
    pub(crate) fn new(wait: Wait, link: Arc<ReplicaLink>) -> io::Result<Idle> {
        let poll = Poll::new()?;
        let waker = Waker::new(poll.registry(), WAKER)?;
        link.set_transport_waker(move || {
            // A full eventfd already means "wake up".
            let _ = waker.wake();
        });
        Ok(Idle {
            wait,
            poll,
            events: Events::with_capacity(8),
            link,
        })
    }

    /// Wakes the loop when `source` has something to read (edge-triggered: the loop reads until
    /// `WouldBlock` before it sleeps, as [`Peer::fill`] does).
    pub(crate) fn watch(&self, source: &impl AsRawFd, token: Token) -> io::Result<()> {
        self.poll.registry().register(
            &mut SourceFd(&source.as_raw_fd()),
            token,
            Interest::READABLE,
        )
    }

    /// Call after each pass with whether it did anything. After an idle pass it waits until
    /// `ready()`, the socket has data, or `timeout` (at most [`PUSHBACK_RETRY`] while
    /// `pushed_back`: output the socket did not take yet); see [`Idle`].
    pub(crate) fn pass(
        &mut self,
        busy: bool,
        pushed_back: bool,
        ready: impl Fn() -> bool,
        timeout: Duration,
    ) {
        if busy {
            return;
        }
        for check in 0..READY_CHECKS {
            if ready() {
                return;
            }
            self.wait.pause(check);
        }
        if self.wait != Wait::Backoff {
            return;
        }
        let timeout = if pushed_back {
            timeout.min(PUSHBACK_RETRY)
        } else {
            timeout
        };
        self.link.park_transport();
        if !ready() {
            self.wait_for_sockets(timeout);
        }
        self.link.unpark_transport();
    }

    /// The link it is woken through.
    pub(crate) fn link(&self) -> &Arc<ReplicaLink> {
        &self.link
    }

    /// Sleeps until a watched socket is ready or `timeout`, without asking the journaler to
    /// wake it (a server with no standby has nothing to stream).
    pub(crate) fn wait_for_sockets(&mut self, timeout: Duration) {
        // EINTR or an error: the caller's loop looks again, as after any wake-up.
        let _ = self.poll.poll(&mut self.events, Some(timeout));
    }
}

/// A connection to the peer, in the clear or through TLS (`[tls] replication`).
#[derive(Debug)]
pub(crate) struct Peer {
    stream: MaybeTls<TcpStream>,
    inbound: Vec<u8>,
    /// Consumed bytes at the front of `inbound` (compacted once per read).
    start: usize,
    outbound: Vec<u8>,
    sent: usize,
}

impl Peer {
    /// A standby's connection, accepted by the primary: through TLS when `tls` is given, whose
    /// handshake then runs as the standby speaks (a peer that does not speak TLS fails its
    /// first read).
    pub(crate) fn accept(stream: TcpStream, tls: Option<&Arc<ServerConfig>>) -> io::Result<Peer> {
        Peer::new(match tls {
            None => MaybeTls::Plain(stream),
            Some(config) => MaybeTls::Tls(Box::new(TlsStream::accept(stream, config)?)),
        })
    }

    /// Connects to the peer at `addr` within `timeout`, through TLS when `tls` is given: the
    /// handshake (the peer's certificate checked) completes before this returns.
    pub(crate) fn connect(
        addr: SocketAddr,
        timeout: Duration,
        tls: Option<&TlsDialer>,
    ) -> io::Result<Peer> {
        Peer::new(match tls {
            None => MaybeTls::Plain(TcpStream::connect_timeout(&addr, timeout)?),
            Some(tls) => MaybeTls::Tls(Box::new(tls.connect(addr, timeout)?)),
        })
    }

    fn new(stream: MaybeTls<TcpStream>) -> io::Result<Peer> {
        stream.get_ref().set_nodelay(true)?;
        stream.get_ref().set_nonblocking(true)?;
        Ok(Peer {
            stream,
            inbound: Vec::with_capacity(1 << 16),
            start: 0,
            outbound: Vec::with_capacity(1 << 16),
            sent: 0,
        })
    }

    /// Reads what the socket has; `Ok(false)` when nothing was there. A closed peer is an error
    /// (once everything it sent before closing has been handed over).
    pub(crate) fn fill(&mut self) -> io::Result<bool> {
        self.inbound.drain(..self.start);
        self.start = 0;
        let mut chunk = [0u8; 64 * 1024];
        let mut any = false;
        loop {
            match self.stream.read(&mut chunk) {
                // Hand over what came before the close first (a Truncate or Refuse is often the
                // peer's last word); the next fill reports the close.
                Ok(0) if any => return Ok(true),
                Ok(0) => return Err(io::ErrorKind::UnexpectedEof.into()),
                // TLS reports a close without its close_notify this way, after the data.
                Err(e) if e.kind() == io::ErrorKind::UnexpectedEof && any => return Ok(true),
                Ok(n) => {
                    self.inbound.extend_from_slice(&chunk[..n]);
                    any = true;
                    if self.inbound.len() > super::protocol::MAX_FRAME * 2 {
                        return Ok(true);
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(any),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
    }

    /// Hands every complete frame received so far to `handle`, decoded; stops at the first
    /// error `handle` returns. A frame that cannot be decoded is an error (the peer is broken).
    pub(crate) fn frames<E: From<io::Error>>(
        &mut self,
        mut handle: impl FnMut(Message<'_>) -> Result<(), E>,
    ) -> Result<(), E> {
        loop {
            let unread = &self.inbound[self.start..];
            match frame(unread) {
                Framing::Incomplete => return Ok(()),
                Framing::Invalid { declared } => {
                    return Err(io::Error::new(
                        io::ErrorKind::InvalidData,
                        format!("replication frame of {declared} bytes"),
                    )
                    .into());
                }
                Framing::Complete { len } => {
                    let message = Message::decode(&unread[..len])
                        .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e.to_string()))?;
                    handle(message)?;
                    self.start += len;
                }
            }
        }
    }

    /// Waits (bounded) for one frame and returns its bytes, for the handshake.
    pub(crate) fn wait_frame(&mut self, timeout: Duration) -> io::Result<Vec<u8>> {
        let deadline = Instant::now() + timeout;
        loop {
            let unread = &self.inbound[self.start..];
            match frame(unread) {
                Framing::Complete { len } => {
                    let bytes = unread[..len].to_vec();
                    self.start += len;
                    return Ok(bytes);
                }
                Framing::Invalid { declared } => {
                    return Err(io::Error::new(
                        io::ErrorKind::InvalidData,
                        format!("replication frame of {declared} bytes"),
                    ));
                }
                Framing::Incomplete => {}
            }
            if Instant::now() >= deadline {
                return Err(io::ErrorKind::TimedOut.into());
            }
            if !self.fill()? {
                std::thread::sleep(Duration::from_millis(1));
            }
        }
    }

    /// The socket, to watch for readiness.
    pub(crate) fn stream(&self) -> &TcpStream {
        self.stream.get_ref()
    }

    /// Queues a message.
    pub(crate) fn send(&mut self, message: &Message<'_>) {
        message.encode(&mut self.outbound);
    }

    /// Writes what the socket takes now; `Ok(true)` when the queue is empty (TLS records
    /// included).
    pub(crate) fn flush(&mut self) -> io::Result<bool> {
        let queued =
            crate::framing::write_queued(&mut self.stream, &mut self.outbound, &mut self.sent)?;
        if !self.stream.has_pending_output() {
            return Ok(queued);
        }
        // Records TLS made of earlier writes wait for the socket.
        match self.stream.flush() {
            Ok(()) => Ok(queued && !self.stream.has_pending_output()),
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// Flushes, waiting (bounded) until everything is written (handshake answers).
    pub(crate) fn flush_all(&mut self, timeout: Duration) -> io::Result<()> {
        let deadline = Instant::now() + timeout;
        while !self.flush()? {
            if Instant::now() >= deadline {
                return Err(io::ErrorKind::TimedOut.into());
            }
            std::thread::sleep(Duration::from_millis(1));
        }
        Ok(())
    }

    /// Queues one records frame of what `tailer` has from `next_seq` on, at most `max` records
    /// (and [`super::protocol::MAX_RECORDS`]); returns how many. A record that is not a command,
    /// or out of order, is an error: the journal is damaged and the connection ends.
    pub(crate) fn send_records(
        &mut self,
        tailer: &mut Tailer,
        next_seq: u64,
        max: usize,
    ) -> io::Result<u32> {
        let out = &mut self.outbound;
        let mut writer = RecordsWriter::begin(out, next_seq);
        let mut bad = None;
        tailer
            .poll_at_most(max.min(MAX_RECORDS as usize), |seq, bytes| {
                if bad.is_some() {
                    return;
                }
                match Command::from_bytes(bytes) {
                    // At most MAX_RECORDS are delivered, so the frame has room.
                    Ok(command) if seq == writer.next_seq() => {
                        let _ = writer.push(out, &command);
                    }
                    Ok(_) => bad = Some(format!("journal sequence {seq} out of order")),
                    Err(e) => bad = Some(format!("journal record {seq}: {e}")),
                }
            })
            .map_err(io::Error::other)?;
        let sent = writer.finish(&mut self.outbound);
        match bad {
            Some(why) => Err(io::Error::other(why)),
            None => Ok(sent),
        }
    }

    /// Bytes queued and not yet written; TLS records waiting for the socket count as one more,
    /// so callers that flush while anything is pending flush those too.
    pub(crate) fn pending(&self) -> usize {
        self.outbound.len() - self.sent + usize::from(self.stream.has_pending_output())
    }
}

/// A TLS peer is told goodbye (close_notify, as far as the socket takes it), so the other side
/// knows the connection ended on purpose, after the last frame, not cut short.
impl Drop for Peer {
    fn drop(&mut self) {
        if let MaybeTls::Tls(tls) = &mut self.stream {
            tls.close();
        }
    }
}

#[cfg(test)]
mod tests {
    use std::net::TcpListener;

    use super::*;
    use crate::replication::protocol::{Heartbeat, RefuseCode, Truncate};
    use crate::tls::PairTls;

    /// A Truncate and a Refuse, sent: a closing primary's last words.
    fn last_words(server: &mut Peer) -> io::Result<()> {
        server.send(&Message::Truncate(Truncate {
            keep_through: 16,
            epoch: 2,
        }));
        server.send(&Message::Refuse {
            code: RefuseCode::Busy,
            text: "bye",
        });
        server.flush_all(Duration::from_secs(5))
    }

    /// A peer's last frame before it closes is delivered, not lost to the close (the standby
    /// would miss a Truncate or a Refuse and retry forever).
    #[test]
    fn the_last_frame_before_a_close_is_delivered() -> io::Result<()> {
        let listener = TcpListener::bind("127.0.0.1:0")?;
        let client = TcpStream::connect(listener.local_addr()?)?;
        let (server, _) = listener.accept()?;
        let mut server = Peer::accept(server, None)?;
        last_words(&mut server)?;
        drop(server);
        std::thread::sleep(Duration::from_millis(20));
        let mut client = Peer::new(MaybeTls::Plain(client))?;
        let first = client.wait_frame(Duration::from_secs(5))?;
        assert!(matches!(
            Message::decode(&first),
            Ok(Message::Truncate(Truncate {
                keep_through: 16,
                ..
            }))
        ));
        let second = client.wait_frame(Duration::from_secs(5))?;
        assert!(matches!(
            Message::decode(&second),
            Ok(Message::Refuse { text: "bye", .. })
        ));
        assert!(
            client.wait_frame(Duration::from_secs(5)).is_err(),
            "then the close"
        );
        Ok(())
    }

    /// The same through TLS, whether the closing side says goodbye (close_notify) or its socket
    /// is simply shut: the frames before the close still arrive, then the close.
    #[test]
    fn over_tls_the_last_frame_before_a_close_is_delivered() -> io::Result<()> {
        let dir = tempfile::tempdir()?;
        let made = rcgen::generate_simple_self_signed(vec!["127.0.0.1".into()])
            .map_err(io::Error::other)?;
        let (cert, key) = (dir.path().join("c.pem"), dir.path().join("k.pem"));
        std::fs::write(&cert, made.cert.pem())?;
        std::fs::write(&key, made.key_pair.serialize_pem())?;
        let server_config =
            crate::tls::load_server_config(&cert, &key).map_err(|e| io::Error::other(e.message))?;
        let client_config = crate::tls::client_config(&cert).map_err(io::Error::other)?;
        let tls = PairTls::new(Arc::clone(&server_config), client_config, None);
        for say_goodbye in [true, false] {
            let listener = TcpListener::bind("127.0.0.1:0")?;
            let addr = listener.local_addr()?;
            let tls = tls.clone();
            let client = std::thread::spawn(move || -> io::Result<Vec<Vec<u8>>> {
                let mut client = Peer::connect(addr, Duration::from_secs(5), Some(tls.dialer()))?;
                client.send(&Message::Heartbeat(Heartbeat::default()));
                client.flush_all(Duration::from_secs(5))?;
                let first = client.wait_frame(Duration::from_secs(5))?;
                let second = client.wait_frame(Duration::from_secs(5))?;
                assert!(
                    client.wait_frame(Duration::from_secs(5)).is_err(),
                    "then the close"
                );
                Ok(vec![first, second])
            });
            let (server, _) = listener.accept()?;
            let mut server = Peer::accept(server, Some(&server_config))?;
            // The standby speaks first, as it does; that drives the handshake.
            server.wait_frame(Duration::from_secs(5))?;
            last_words(&mut server)?;
            if !say_goodbye {
                server.stream().shutdown(std::net::Shutdown::Both)?;
            }
            drop(server);
            let frames = client
                .join()
                .map_err(|_| io::Error::other("client panicked"))??;
            assert!(matches!(
                Message::decode(&frames[0]),
                Ok(Message::Truncate(Truncate {
                    keep_through: 16,
                    ..
                }))
            ));
            assert!(matches!(
                Message::decode(&frames[1]),
                Ok(Message::Refuse { text: "bye", .. })
            ));
        }
        Ok(())
    }
}
