//! Byte streams through TLS: [`TlsStream`] (a rustls connection over a socket, blocking or not,
//! as `Read + Write`, so tungstenite and the blocking clients run over it unchanged),
//! [`MaybeTls`] (the same type for plain and TLS sockets), and the two steps the gateway's event
//! loop takes on a TLS connection (`read_into`, `write_from`).
//!
//! Non-blocking sockets: every read drains what rustls decrypted before it returns `WouldBlock`,
//! so no plaintext waits inside rustls for a readiness event that will not come (mio is
//! edge-triggered); handshake records rustls wants to send go out on the next read or flush.

use std::io::{self, Read, Write};
use std::net::TcpStream;
use std::sync::Arc;

use rustls::pki_types::ServerName;
use rustls::{ClientConfig, ClientConnection, Connection, ServerConnection};

/// Plaintext bytes read per step.
const CHUNK: usize = 16 * 1024;

/// A rustls connection over socket `S`.
#[derive(Debug)]
pub struct TlsStream<S> {
    conn: Connection,
    sock: S,
}

impl TlsStream<TcpStream> {
    /// Connects as a client over a blocking socket and finishes the handshake before it returns,
    /// verifying the server's certificate for `server_name` (a DNS name or an IP address) against
    /// `config`'s roots (see [`super::client_config`]).
    pub fn connect(
        sock: TcpStream,
        config: &Arc<ClientConfig>,
        server_name: &str,
    ) -> io::Result<TlsStream<TcpStream>> {
        let name = ServerName::try_from(server_name.to_owned())
            .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?;
        let conn = ClientConnection::new(Arc::clone(config), name).map_err(io::Error::other)?;
        let mut stream = TlsStream {
            conn: conn.into(),
            sock,
        };
        while stream.conn.is_handshaking() {
            stream.conn.complete_io(&mut stream.sock)?;
        }
        Ok(stream)
    }
}

impl<S: Read + Write> TlsStream<S> {
    /// The server side of a freshly accepted socket; the handshake runs as the client speaks.
    pub fn accept(sock: S, config: &Arc<rustls::ServerConfig>) -> io::Result<TlsStream<S>> {
        let conn = ServerConnection::new(Arc::clone(config)).map_err(io::Error::other)?;
        Ok(TlsStream {
            conn: conn.into(),
            sock,
        })
    }

    /// The socket underneath.
    pub fn get_ref(&self) -> &S {
        &self.sock
    }

    /// Says goodbye (close_notify) and writes what is left, as far as the socket takes it.
    pub fn close(&mut self) {
        self.conn.send_close_notify();
        let _ = self.write_records();
    }

    /// Whether TLS records wait to be written (a non-blocking writer flushes until this is false).
    pub fn has_pending_output(&self) -> bool {
        self.conn.wants_write()
    }

    /// Writes TLS records until none is left (`WouldBlock` from a non-blocking socket passes up).
    fn write_records(&mut self) -> io::Result<()> {
        write_records(&mut self.conn, &mut self.sock)
    }

    /// Decrypts what arrived; a TLS error sends rustls's alert (best effort) and becomes
    /// `InvalidData`.
    fn process(&mut self) -> io::Result<()> {
        process(&mut self.conn, &mut self.sock)
            .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))
    }
}

fn write_records(conn: &mut Connection, sock: &mut impl Write) -> io::Result<()> {
    while conn.wants_write() {
        match conn.write_tls(sock) {
            Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
            Ok(_) => {}
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

fn process(conn: &mut Connection, sock: &mut impl Write) -> Result<(), rustls::Error> {
    conn.process_new_packets().map(|_| ()).inspect_err(|_| {
        // rustls queued an alert saying why; the peer may as well learn it.
        let _ = write_records(conn, sock);
    })
}

fn would_block(e: &io::Error) -> bool {
    e.kind() == io::ErrorKind::WouldBlock
}

impl<S: Read + Write> Read for TlsStream<S> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let mut eof = false;
        loop {
            match self.conn.reader().read(buf) {
                Ok(n) => return Ok(n),
                Err(e) if would_block(&e) && eof => return Ok(0),
                Err(e) if would_block(&e) => {}
                Err(e) => return Err(e),
            }
            // Handshake records first: the peer may be waiting for them before it says more.
            match self.write_records() {
                Err(e) if !would_block(&e) => return Err(e),
                _ => {}
            }
            match self.conn.read_tls(&mut self.sock) {
                Ok(0) => eof = true,
                Ok(_) => {}
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            }
            self.process()?;
        }
    }
}

impl<S: Read + Write> Write for TlsStream<S> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let mut taken = self.conn.writer().write(buf)?;
        if taken == 0 && !buf.is_empty() {
            // rustls's buffer is full: make room, then try once more.
            self.write_records()?;
            taken = self.conn.writer().write(buf)?;
            if taken == 0 {
                return Err(io::ErrorKind::WouldBlock.into());
            }
        }
        // Out as far as the socket takes it now; the rest goes with the next write or flush.
        match self.write_records() {
            Err(e) if !would_block(&e) => Err(e),
            _ => Ok(taken),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        self.write_records()?;
        self.sock.flush()
    }
}

/// A socket in the clear or through TLS, as one `Read + Write` type.
#[derive(Debug)]
pub enum MaybeTls<S> {
    /// Plain TCP.
    Plain(S),
    /// TLS.
    Tls(Box<TlsStream<S>>),
}

impl<S: Read + Write> MaybeTls<S> {
    /// The socket underneath.
    pub fn get_ref(&self) -> &S {
        match self {
            MaybeTls::Plain(s) => s,
            MaybeTls::Tls(t) => t.get_ref(),
        }
    }

    /// Whether bytes written wait inside TLS for the socket (never for plain TCP).
    pub fn has_pending_output(&self) -> bool {
        match self {
            MaybeTls::Plain(_) => false,
            MaybeTls::Tls(t) => t.has_pending_output(),
        }
    }
}

impl MaybeTls<TcpStream> {
    /// Connects a client to `addr` with `timeout` for the connection and every later read and
    /// write; through TLS when `tls` gives the client configuration and the server's name.
    pub fn connect(
        addr: std::net::SocketAddr,
        timeout: std::time::Duration,
        tls: Option<(&Arc<ClientConfig>, &str)>,
    ) -> io::Result<MaybeTls<TcpStream>> {
        MaybeTls::over(TcpStream::connect_timeout(&addr, timeout)?, timeout, tls)
    }

    /// As [`MaybeTls::connect`], over a socket already connected (one bound to a chosen source
    /// address, say).
    pub fn over(
        sock: TcpStream,
        timeout: std::time::Duration,
        tls: Option<(&Arc<ClientConfig>, &str)>,
    ) -> io::Result<MaybeTls<TcpStream>> {
        sock.set_read_timeout(Some(timeout))?;
        sock.set_write_timeout(Some(timeout))?;
        sock.set_nodelay(true)?;
        Ok(match tls {
            None => MaybeTls::Plain(sock),
            Some((config, name)) => {
                MaybeTls::Tls(Box::new(TlsStream::connect(sock, config, name)?))
            }
        })
    }
}

impl<S: Read + Write> Read for MaybeTls<S> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            MaybeTls::Plain(s) => s.read(buf),
            MaybeTls::Tls(t) => t.read(buf),
        }
    }
}

impl<S: Read + Write> Write for MaybeTls<S> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            MaybeTls::Plain(s) => s.write(buf),
            MaybeTls::Tls(t) => t.write(buf),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        match self {
            MaybeTls::Plain(s) => s.flush(),
            MaybeTls::Tls(t) => t.flush(),
        }
    }
}

/// What [`read_into`] found.
#[derive(Debug, PartialEq)]
pub(crate) enum TlsRead {
    /// Everything the socket had is read and decrypted (it would block now).
    Drained,
    /// `budget` bytes came in and more may be waiting.
    BudgetSpent,
    /// The peer closed (with or without close_notify), or the socket failed.
    Closed,
    /// The peer broke the protocol (a plain client, a failed handshake): the alert is sent.
    Failed(rustls::Error),
}

/// Reads a non-blocking socket through `tls` into `plain`, until it would block or `budget`
/// bytes came in, decrypting as it goes so rustls holds no plaintext afterwards.
pub(crate) fn read_into(
    tls: &mut Connection,
    sock: &mut (impl Read + Write),
    plain: &mut Vec<u8>,
    budget: usize,
) -> TlsRead {
    let mut chunk = [0u8; CHUNK];
    let mut total = 0;
    loop {
        let (eof, drained) = match tls.read_tls(sock) {
            Ok(0) => (true, false),
            Ok(n) => {
                total += n;
                (false, false)
            }
            Err(e) if would_block(&e) => (false, true),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(_) => return TlsRead::Closed,
        };
        if let Err(e) = process(tls, sock) {
            return TlsRead::Failed(e);
        }
        loop {
            match tls.reader().read(&mut chunk) {
                Ok(0) => return TlsRead::Closed,
                Ok(n) => plain.extend_from_slice(&chunk[..n]),
                Err(e) if would_block(&e) => break,
                Err(_) => return TlsRead::Closed,
            }
        }
        if eof {
            return TlsRead::Closed;
        }
        if drained {
            return TlsRead::Drained;
        }
        if total >= budget {
            return TlsRead::BudgetSpent;
        }
    }
}

/// Hands `queue[*sent..]` to `tls` and writes its records to a non-blocking socket as far as it
/// takes them: `Ok(true)` (and the queue emptied) once everything is on the wire, `Ok(false)`
/// when the socket pushed back or the handshake must finish first.
pub(crate) fn write_from(
    tls: &mut Connection,
    sock: &mut impl Write,
    queue: &mut Vec<u8>,
    sent: &mut usize,
) -> io::Result<bool> {
    loop {
        while *sent < queue.len() {
            // rustls takes what its buffer limit allows; the rest stays queued (and counted
            // against the slow-consumer limit).
            let n = tls.writer().write(&queue[*sent..])?;
            if n == 0 {
                break;
            }
            *sent += n;
        }
        match write_records(tls, sock) {
            Ok(()) => {}
            Err(e) if would_block(&e) => return Ok(false),
            Err(e) => return Err(e),
        }
        if *sent == queue.len() {
            queue.clear();
            *sent = 0;
            return Ok(true);
        }
        if tls.is_handshaking() {
            // Plaintext waits for the handshake; the read that finishes it schedules a flush.
            return Ok(false);
        }
    }
}
