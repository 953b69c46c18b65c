//! One client connection's socket and buffers: non-blocking reads into a bounded buffer, and
//! writes that queue what the socket cannot take yet; through TLS when the listener has it on
//! (the protocol code above sees plaintext either way).

use std::io::{self, Read};
use std::net::SocketAddr;
use std::sync::Arc;

use mio::net::TcpStream;

use crate::tls::stream::{self as tls_stream, TlsRead};

/// Bytes read per readiness event before the loop moves on to other connections, so a flooding
/// client cannot monopolise the gateway thread.
pub const READ_BUDGET: usize = 64 * 1024;

/// What a read found.
#[derive(Debug, PartialEq)]
pub enum ReadOutcome {
    /// Read everything available (would block now).
    Drained,
    /// Stopped at the read budget: more may be waiting; come back.
    BudgetSpent,
    /// The peer closed the connection (or it failed).
    Closed,
    /// TLS failed (a plain client on a TLS port, a bad handshake): rustls's alert is sent; the
    /// caller closes the connection.
    TlsFailed(rustls::Error),
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
    /// The TLS session, on a TLS listener (boxed: plain connections carry one pointer).
    tls: Option<Box<rustls::Connection>>,
}

impl Conn {
    /// Wraps an accepted socket. `max_message_size` bounds the receive buffer; with `tls` the
    /// connection is the server side of a TLS session (its handshake runs as the client speaks).
    pub fn new(
        stream: TcpStream,
        peer: SocketAddr,
        max_message_size: usize,
        tls: Option<&Arc<rustls::ServerConfig>>,
    ) -> Result<Conn, rustls::Error> {
        let tls = match tls {
            Some(config) => Some(Box::new(
                rustls::ServerConnection::new(Arc::clone(config))?.into(),
            )),
            None => None,
        };
        Ok(Conn {
            stream,
            peer,
            inbound: Vec::with_capacity(max_message_size.min(1 << 16)),
            start: 0,
            outbound: Vec::with_capacity(4096),
            sent: 0,
            tls,
        })
    }

    /// Reads what the socket has, up to [`READ_BUDGET`] bytes.
    pub fn read(&mut self) -> ReadOutcome {
        self.inbound.drain(..self.start);
        self.start = 0;
        if let Some(tls) = &mut self.tls {
            return match tls_stream::read_into(
                tls,
                &mut self.stream,
                &mut self.inbound,
                READ_BUDGET,
            ) {
                TlsRead::Drained => ReadOutcome::Drained,
                TlsRead::BudgetSpent => ReadOutcome::BudgetSpent,
                TlsRead::Closed => ReadOutcome::Closed,
                TlsRead::Failed(e) => ReadOutcome::TlsFailed(e),
            };
        }
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
        match &mut self.tls {
            None => {
                crate::framing::write_queued(&mut self.stream, &mut self.outbound, &mut self.sent)
            }
            Some(tls) => {
                tls_stream::write_from(tls, &mut self.stream, &mut self.outbound, &mut self.sent)
            }
        }
    }

    /// Whether TLS has records to send that no answer queued (the handshake's, after a read):
    /// the loop flushes the connection when so. Never for plain TCP.
    pub fn wants_write(&self) -> bool {
        self.tls.as_ref().is_some_and(|tls| tls.wants_write())
    }

    /// The last flush before the socket closes: TLS says goodbye (close_notify) first.
    pub fn finish(&mut self) {
        if let Some(tls) = &mut self.tls {
            tls.send_close_notify();
        }
        let _ = self.flush();
    }

    /// Bytes queued and not yet sent.
    pub fn pending(&self) -> usize {
        self.outbound.len() - self.sent
    }
}
