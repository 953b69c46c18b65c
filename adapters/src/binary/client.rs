//! A minimal blocking client of the binary protocol: what the admin tool, the load generator and
//! the tests use, and a working reference for anyone writing their own.

use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::Arc;
use std::time::Duration;

use rustls::ClientConfig;

use super::codec::{Framing, frame};
use super::messages::ClientMessage;
use crate::tls::MaybeTls;

/// The largest message the client accepts (the server's default `max_message_size`).
const MAX_MESSAGE: usize = 4096;

/// A blocking connection to a gateway's binary port.
#[derive(Debug)]
pub struct BinaryClient {
    stream: MaybeTls<TcpStream>,
    inbound: Vec<u8>,
    outbound: Vec<u8>,
}

impl BinaryClient {
    /// Connects, with `timeout` for the connection and for every later read.
    pub fn connect(addr: SocketAddr, timeout: Duration) -> io::Result<BinaryClient> {
        BinaryClient::connect_with(addr, timeout, None)
    }

    /// Speaks the protocol in the clear over a connected socket (one bound to a chosen source
    /// address, say), with `timeout` for every read and write.
    pub fn over(stream: TcpStream, timeout: Duration) -> io::Result<BinaryClient> {
        Ok(BinaryClient {
            stream: MaybeTls::over(stream, timeout, None)?,
            inbound: Vec::with_capacity(1 << 16),
            outbound: Vec::with_capacity(256),
        })
    }

    /// Connects through TLS (a port with `[tls] binary = true`), verifying the server's
    /// certificate for `server_name` against `config` (see [`crate::tls::client_config`]).
    pub fn connect_tls(
        addr: SocketAddr,
        timeout: Duration,
        config: &Arc<ClientConfig>,
        server_name: &str,
    ) -> io::Result<BinaryClient> {
        BinaryClient::connect_with(addr, timeout, Some((config, server_name)))
    }

    /// Connects in the clear, or through TLS when `tls` is given.
    pub fn connect_with(
        addr: SocketAddr,
        timeout: Duration,
        tls: Option<(&Arc<ClientConfig>, &str)>,
    ) -> io::Result<BinaryClient> {
        let stream = MaybeTls::connect(addr, timeout, tls)?;
        Ok(BinaryClient {
            stream,
            inbound: Vec::with_capacity(1 << 16),
            outbound: Vec::with_capacity(256),
        })
    }

    /// Sends one message.
    pub fn send(&mut self, message: &ClientMessage) -> io::Result<()> {
        self.outbound.clear();
        message.encode(&mut self.outbound);
        self.stream.write_all(&self.outbound)?;
        self.stream.flush()
    }

    /// Sends raw bytes (for tests of the server's defences).
    pub fn send_raw(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.stream.write_all(bytes)?;
        self.stream.flush()
    }

    /// Receives one whole message (decode it with `ServerMessage::decode`). Times out with
    /// `WouldBlock`/`TimedOut`; `UnexpectedEof` when the server closed the connection.
    pub fn recv(&mut self) -> io::Result<Vec<u8>> {
        loop {
            match frame(&self.inbound, MAX_MESSAGE) {
                Framing::Complete { len } => {
                    let message = self.inbound[..len].to_vec();
                    self.inbound.drain(..len);
                    return Ok(message);
                }
                Framing::Invalid { declared } => {
                    return Err(io::Error::new(
                        io::ErrorKind::InvalidData,
                        format!("the server sent a message of {declared} bytes"),
                    ));
                }
                Framing::Incomplete => {}
            }
            let mut chunk = [0u8; 16 * 1024];
            let n = self.stream.read(&mut chunk)?;
            if n == 0 {
                return Err(io::ErrorKind::UnexpectedEof.into());
            }
            self.inbound.extend_from_slice(&chunk[..n]);
        }
    }

    /// The socket, e.g. to shut it down or change its timeout.
    pub fn stream(&self) -> &TcpStream {
        self.stream.get_ref()
    }
}
