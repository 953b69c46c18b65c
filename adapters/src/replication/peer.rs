//! One replication connection's socket and buffers, shared by both sides: non-blocking reads cut
//! into protocol frames, and writes queued while the socket pushes back.

use std::io::{self, Read};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use hayate_core::pipeline::Wait;

use super::protocol::{Framing, Message, frame};

/// How a replication loop waits when a pass found nothing to do, by the `[pipeline] wait`
/// strategy. Under `backoff` (the default) it naps after a few yields: a replication thread that
/// yields a thousand times per idle stretch, as a ring stage does, was measured taking 97% of a
/// core on this 2-core machine with both nodes on it.
#[derive(Debug)]
pub(crate) struct Idle {
    passes: u32,
    wait: Wait,
}

/// Yields before a backing-off replication loop naps.
const IDLE_YIELDS: u32 = 10;

impl Idle {
    pub(crate) fn new(wait: Wait) -> Idle {
        Idle { passes: 0, wait }
    }

    /// Call once per pass with whether it did anything.
    pub(crate) fn pass(&mut self, busy: bool) {
        if busy {
            self.passes = 0;
        } else {
            self.wait.pause(self.passes, IDLE_YIELDS);
            self.passes = self.passes.saturating_add(1);
        }
    }
}

/// A connection to the peer.
#[derive(Debug)]
pub(crate) struct Peer {
    stream: TcpStream,
    inbound: Vec<u8>,
    /// Consumed bytes at the front of `inbound` (compacted once per read).
    start: usize,
    outbound: Vec<u8>,
    sent: usize,
}

impl Peer {
    pub(crate) fn new(stream: TcpStream) -> io::Result<Peer> {
        stream.set_nodelay(true)?;
        stream.set_nonblocking(true)?;
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

    /// Queues a message.
    pub(crate) fn send(&mut self, message: &Message<'_>) {
        message.encode(&mut self.outbound);
    }

    /// The send queue, for writers that build frames in place.
    pub(crate) fn outbound(&mut self) -> &mut Vec<u8> {
        &mut self.outbound
    }

    /// Writes what the socket takes now; `Ok(true)` when the queue is empty.
    pub(crate) fn flush(&mut self) -> io::Result<bool> {
        crate::framing::write_queued(&mut self.stream, &mut self.outbound, &mut self.sent)
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

    /// Bytes queued and not yet written.
    pub(crate) fn pending(&self) -> usize {
        self.outbound.len() - self.sent
    }
}

#[cfg(test)]
mod tests {
    use std::net::TcpListener;

    use super::*;
    use crate::replication::protocol::{RefuseCode, Truncate};

    /// A peer's last frame before it closes is delivered, not lost to the close (the standby
    /// would miss a Truncate or a Refuse and retry forever).
    #[test]
    fn the_last_frame_before_a_close_is_delivered() -> io::Result<()> {
        let listener = TcpListener::bind("127.0.0.1:0")?;
        let client = TcpStream::connect(listener.local_addr()?)?;
        let (server, _) = listener.accept()?;
        let mut server = Peer::new(server)?;
        server.send(&Message::Truncate(Truncate {
            keep_through: 16,
            epoch: 2,
        }));
        server.send(&Message::Refuse {
            code: RefuseCode::Busy,
            text: "bye",
        });
        server.flush_all(Duration::from_secs(5))?;
        drop(server);
        std::thread::sleep(Duration::from_millis(20));
        let mut client = Peer::new(client)?;
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
}
