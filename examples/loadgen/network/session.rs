//! One client session over TCP, whatever the protocol: connecting and logging on (blocking),
//! then non-blocking writes of what is queued and reads of what arrived, each message handed to
//! its protocol's module (`binary.rs`, `fix.rs`) and from there to the ledger; and the ClOrdID
//! digits that tie a reply to its order.

use std::io::{self, Read, Write};
use std::net::TcpStream;

use hayate::adapters::tls::{MaybeTls, TlsStream};
use std::time::Duration;

use hayate::adapters::clock::unix_ns;
use hayate::{Price, Qty, SymbolId};

use super::binary::{self, BinaryWire};
use super::driver::{Ledger, NetStats};
use super::fix::{self, FixWire};
use super::gateways::Credentials;
use super::{OrderSpec, SETUP_TIMEOUT, Target};
use crate::Mode;
use crate::schedule::Clock;

/// Receive buffer per session: many replies per read when the generator falls behind.
const RECV_BUFFER: usize = 256 * 1024;
/// The largest message either protocol may send us (the gateway's `max_message_size` bound).
pub(super) const MAX_MESSAGE: usize = 64 * 1024;

/// The protocol side of a session.
pub(super) enum Wire {
    Binary(BinaryWire),
    Fix(Box<FixWire>),
}

/// One TCP session: its socket, what is still to be written, and what was read but not yet
/// parsed.
pub(super) struct Session {
    pub(super) index: usize,
    /// The socket, through TLS with --tls.
    pub(super) stream: MaybeTls<TcpStream>,
    pub(super) out: Vec<u8>,
    pub(super) written: usize,
    pub(super) inbound: Box<[u8]>,
    pub(super) filled: usize,
    pub(super) wire: Wire,
    pub(super) closed: Option<String>,
}

impl Session {
    /// Connects and logs on (blocking), then switches the socket to non-blocking.
    pub(super) fn connect(
        mode: Mode,
        index: usize,
        target: &Target,
        user: &Credentials,
        spec: &OrderSpec,
    ) -> Result<Session, String> {
        let stream = TcpStream::connect_timeout(&target.addr, SETUP_TIMEOUT)
            .map_err(|e| format!("cannot connect to {}: {e}", target.addr))?;
        stream
            .set_nodelay(true)
            .and_then(|()| stream.set_read_timeout(Some(SETUP_TIMEOUT)))
            .map_err(|e| e.to_string())?;
        let stream = match &target.tls {
            None => MaybeTls::Plain(stream),
            Some((config, name)) => MaybeTls::Tls(Box::new(
                TlsStream::connect(stream, config, name)
                    .map_err(|e| format!("TLS with {}: {e}", target.addr))?,
            )),
        };
        let mut session = Session {
            index,
            stream,
            out: Vec::with_capacity(64 * 1024),
            written: 0,
            inbound: vec![0u8; RECV_BUFFER].into_boxed_slice(),
            filled: 0,
            wire: Wire::Binary(BinaryWire {
                symbol: SymbolId(0),
                buy: Price(0),
                sell: Price(0),
                qty: Qty(0),
            }),
            closed: None,
        };
        match mode {
            Mode::Fix => session.fix_logon(target, user, spec)?,
            _ => session.binary_logon(user, spec)?,
        }
        session
            .stream
            .get_ref()
            .set_nonblocking(true)
            .map_err(|e| e.to_string())?;
        Ok(session)
    }

    /// Reads until a whole message (as `frame` cuts them) is at the front of the buffer and
    /// returns its length; the caller consumes it with `consume`.
    pub(super) fn read_message_blocking(
        &mut self,
        frame: impl Fn(&[u8]) -> Result<Option<usize>, String>,
    ) -> Result<usize, String> {
        loop {
            if let Some(len) = frame(&self.inbound[..self.filled])? {
                return Ok(len);
            }
            if self.filled == self.inbound.len() {
                return Err("a message larger than the receive buffer".into());
            }
            match self.stream.read(&mut self.inbound[self.filled..]) {
                Ok(0) => return Err("the gateway closed the connection".into()),
                Ok(n) => self.filled += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(format!("waiting for the gateway: {e}")),
            }
        }
    }

    pub(super) fn consume(&mut self, len: usize) {
        self.inbound.copy_within(len..self.filled, 0);
        self.filled -= len;
    }

    /// Appends order `i` to the outbound bytes.
    #[inline]
    pub(super) fn encode_order(&mut self, i: u64, buy: bool, cross: bool, unix_ns: u64) {
        let mut digits = itoa::Buffer::new();
        let id = digits.format(i).as_bytes();
        match &mut self.wire {
            Wire::Binary(wire) => wire.encode_order(id, buy, cross, &mut self.out),
            Wire::Fix(wire) => wire.encode_order(id, buy, cross, unix_ns, &mut self.out),
        }
    }

    pub(super) fn has_output(&self) -> bool {
        self.written < self.out.len() || self.stream.has_pending_output()
    }

    /// Writes what the socket takes now; true if it took anything.
    pub(super) fn flush(&mut self, stats: &mut NetStats) -> bool {
        let mut progress = false;
        while self.written < self.out.len() {
            match self.stream.write(&self.out[self.written..]) {
                Ok(0) => {
                    self.closed = Some("the connection took no bytes".into());
                    break;
                }
                Ok(n) => {
                    self.written += n;
                    stats.bytes_out += n as u64;
                    progress = true;
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    stats.would_block += 1;
                    break;
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => {
                    self.closed = Some(format!("write: {e}"));
                    break;
                }
            }
        }
        if self.closed.is_none() && self.stream.has_pending_output() {
            // TLS records the socket did not take with the writes above.
            match self.stream.flush() {
                Ok(()) => progress = true,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => stats.would_block += 1,
                Err(e) => self.closed = Some(format!("write: {e}")),
            }
        }
        if self.written == self.out.len() {
            self.out.clear();
            self.written = 0;
        }
        progress
    }

    /// Reads and handles everything the socket holds; true if it read anything.
    pub(super) fn receive(&mut self, ledger: &mut Ledger, clock: Clock) -> bool {
        let mut progress = false;
        loop {
            match self.stream.read(&mut self.inbound[self.filled..]) {
                Ok(0) => {
                    self.closed = Some("the gateway closed the connection".into());
                    return progress;
                }
                Ok(n) => {
                    // The receipt time of everything this read returned.
                    let now = clock.now_ns();
                    self.filled += n;
                    ledger.stats.bytes_in += n as u64;
                    progress = true;
                    if let Err(why) = self.handle_messages(now, ledger) {
                        self.closed = Some(why);
                        return progress;
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return progress,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => {
                    self.closed = Some(format!("read: {e}"));
                    return progress;
                }
            }
        }
    }

    fn handle_messages(&mut self, now: u64, ledger: &mut Ledger) -> Result<(), String> {
        let inbound = &self.inbound[..self.filled];
        let start = match &mut self.wire {
            Wire::Binary(_) => binary::handle_messages(inbound, now, self.index, ledger)?,
            Wire::Fix(wire) => {
                fix::handle_messages(wire, inbound, &mut self.out, now, self.index, ledger)?
            }
        };
        if start > 0 {
            self.consume(start);
        }
        if self.filled == self.inbound.len() {
            return Err("a message larger than the receive buffer".into());
        }
        Ok(())
    }

    /// Says goodbye, best effort: the run is over either way.
    pub(super) fn log_out(&mut self) {
        match &mut self.wire {
            Wire::Binary(_) => BinaryWire::encode_logout(&mut self.out),
            Wire::Fix(wire) => wire.encode_logout(unix_ns(), &mut self.out),
        }
        let _ = self.stream.get_ref().set_nonblocking(false);
        let _ = self
            .stream
            .get_ref()
            .set_write_timeout(Some(Duration::from_millis(500)));
        let _ = self.stream.write_all(&self.out[self.written..]);
        let _ = self.stream.flush();
        let _ = self.stream.get_ref().shutdown(std::net::Shutdown::Write);
    }
}

/// The decimal number a ClOrdID holds (up to a zero byte), `None` if it is anything else.
pub(super) fn parse_digits(text: &[u8]) -> Option<u64> {
    let end = text.iter().position(|&b| b == 0).unwrap_or(text.len());
    let digits = &text[..end];
    if digits.is_empty() || digits.len() > 19 {
        return None;
    }
    digits.iter().try_fold(0u64, |n, &b| {
        b.is_ascii_digit().then(|| n * 10 + u64::from(b - b'0'))
    })
}
