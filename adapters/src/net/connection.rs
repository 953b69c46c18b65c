//! One client connection's socket and buffers: non-blocking reads into a bounded buffer, and
//! writes that queue what the socket cannot take yet.

use std::io::{self, Read};
use std::net::SocketAddr;

use mio::net::TcpStream;

/// Bytes read per readiness event before the loop moves on to other connections, so a flooding
/// client cannot monopolise the gateway thread.
pub const READ_BUDGET: usize = 64 * 1024;

/// What a read found.
#[derive(Debug, PartialEq, Eq)]
pub enum ReadOutcome {
    /// Read everything available (would block now).
    Drained,
    /// Stopped at the read budget: more may be waiting; come back.
    BudgetSpent,
    /// The peer closed the connection (or it failed).
    Closed,
}

/// A connection's socket with its receive and send buffers.
#[derive(Debug)]
pub struct Conn {
    /// The socket.
    pub stream: TcpStream,
    /// The peer.
    pub peer: SocketAddr,
    /// Received bytes; those before `start` are consumed.
    inbound: Vec<u8>,
    /// Where the unconsumed bytes begin (consuming a message is O(1); the buffer is compacted
    /// once per read, not once per message).
    start: usize,
    /// Bytes to send that the socket has not taken yet.
    pub outbound: Vec<u8>,
    /// Part of `outbound` already sent.
    sent: usize,
}

impl Conn {
    /// Wraps an accepted socket. `max_message_size` bounds the receive buffer.
    pub fn new(stream: TcpStream, peer: SocketAddr, max_message_size: usize) -> Conn {
        Conn {
            stream,
            peer,
            inbound: Vec::with_capacity(max_message_size.min(1 << 16)),
            start: 0,
            outbound: Vec::with_capacity(4096),
            sent: 0,
        }
    }

    /// Reads what the socket has, up to [`READ_BUDGET`] bytes.
    pub fn read(&mut self) -> ReadOutcome {
        self.inbound.drain(..self.start);
        self.start = 0;
        let mut chunk = [0u8; 16 * 1024];
        let mut total = 0;
        loop {
            match self.stream.read(&mut chunk) {
                Ok(0) => return ReadOutcome::Closed,
                Ok(n) => {
                    self.inbound.extend_from_slice(&chunk[..n]);
                    total += n;
                    if total >= READ_BUDGET {
                        return ReadOutcome::BudgetSpent;
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return ReadOutcome::Drained,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(_) => return ReadOutcome::Closed,
            }
        }
    }

    /// Received bytes not yet consumed.
    pub fn unread(&self) -> &[u8] {
        &self.inbound[self.start..]
    }

    /// Marks the first `n` unread bytes consumed.
    pub fn consume(&mut self, n: usize) {
        self.start = (self.start + n).min(self.inbound.len());
    }

    /// Writes what is queued; `Ok(true)` when everything went out.
    pub fn flush(&mut self) -> io::Result<bool> {
        crate::framing::write_queued(&mut self.stream, &mut self.outbound, &mut self.sent)
    }

    /// Bytes queued and not yet sent.
    pub fn pending(&self) -> usize {
        self.outbound.len() - self.sent
    }
}
