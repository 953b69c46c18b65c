//! HTTPS for the status pages (`[tls] http`).
//!
//! Why not tiny_http's own TLS: its `ssl-rustls` feature (0.12) pulls in rustls 0.20 and ring
//! 0.16, a second and outdated TLS stack beside the one the order ports use, and tiny_http takes
//! no stream from outside. The pages are small GET answers, so this file serves them itself over
//! the gateway's rustls: one request per connection (`Connection: close`), a few threads at
//! most, every read and write bounded by a timeout. Plain HTTP stays on tiny_http.

use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::thread::JoinHandle;
use std::time::Duration;

use super::{PageSource, answer};
use crate::tls::TlsStream;

/// Connections served at once; more are closed at once (a status page needs few).
const MAX_CONNECTIONS: usize = 16;
/// How long a client has for its handshake and request, and for reading the answer.
const TIMEOUT: Duration = Duration::from_secs(5);
/// The longest request head read.
const MAX_HEAD: usize = 8 * 1024;

/// Called for each connection that fails TLS (counted on `/metrics`).
pub type OnTlsFailure = dyn Fn() + Send + Sync;

/// The HTTPS listener's thread; stops when dropped.
pub(super) struct Https {
    stop: Arc<AtomicBool>,
    addr: SocketAddr,
    thread: Option<JoinHandle<()>>,
}

impl Https {
    pub(super) fn start(
        addr: SocketAddr,
        pages: Arc<PageSource>,
        config: Arc<rustls::ServerConfig>,
        on_failure: Arc<OnTlsFailure>,
    ) -> io::Result<Https> {
        let listener = TcpListener::bind(addr)?;
        let addr = listener.local_addr()?;
        let stop = Arc::new(AtomicBool::new(false));
        let stopping = Arc::clone(&stop);
        let thread = std::thread::Builder::new()
            .name("hayate-https".into())
            .spawn(move || accept(&listener, &stopping, &pages, &config, &on_failure))?;
        Ok(Https {
            stop,
            addr,
            thread: Some(thread),
        })
    }

    pub(super) fn addr(&self) -> SocketAddr {
        self.addr
    }
}

impl Drop for Https {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        // Wakes the blocking accept (an unspecified address is reached through loopback).
        let mut wake = self.addr;
        if wake.ip().is_unspecified() {
            wake.set_ip(std::net::Ipv4Addr::LOCALHOST.into());
        }
        let _ = TcpStream::connect_timeout(&wake, TIMEOUT);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

fn accept(
    listener: &TcpListener,
    stop: &AtomicBool,
    pages: &Arc<PageSource>,
    config: &Arc<rustls::ServerConfig>,
    on_failure: &Arc<OnTlsFailure>,
) {
    let active = Arc::new(AtomicUsize::new(0));
    for sock in listener.incoming() {
        if stop.load(Ordering::SeqCst) {
            return;
        }
        let Ok(sock) = sock else { continue };
        if active.load(Ordering::SeqCst) >= MAX_CONNECTIONS {
            continue;
        }
        active.fetch_add(1, Ordering::SeqCst);
        let (done, pages, config, on_failure) = (
            Arc::clone(&active),
            Arc::clone(pages),
            Arc::clone(config),
            Arc::clone(on_failure),
        );
        let spawned = std::thread::Builder::new()
            .name("hayate-https-conn".into())
            .spawn(move || {
                serve(sock, &*pages, &config, &*on_failure);
                done.fetch_sub(1, Ordering::SeqCst);
            });
        if spawned.is_err() {
            // The connection is dropped with the closure; its place is given back here.
            active.fetch_sub(1, Ordering::SeqCst);
            tracing::warn!("no thread for an HTTPS connection");
        }
    }
}

/// One connection: handshake, one GET, its answer, close_notify.
fn serve(
    sock: TcpStream,
    pages: &PageSource,
    config: &Arc<rustls::ServerConfig>,
    on_failure: &OnTlsFailure,
) {
    let Ok(peer) = sock.peer_addr() else {
        return;
    };
    if sock.set_read_timeout(Some(TIMEOUT)).is_err()
        || sock.set_write_timeout(Some(TIMEOUT)).is_err()
    {
        return;
    }
    let Ok(mut tls) = TlsStream::accept(sock, config) else {
        return;
    };
    let head = match read_head(&mut tls) {
        Ok(head) => head,
        Err(e) => {
            if e.kind() == io::ErrorKind::InvalidData {
                on_failure();
                tracing::warn!(%peer, error = %e, "TLS failed: HTTPS connection closed");
            }
            return;
        }
    };
    let mut words = head.split_whitespace();
    let (method, url) = (words.next().unwrap_or(""), words.next().unwrap_or("/"));
    let (status, content_type, body) = answer(method == "GET", url, pages);
    let response = format!(
        "HTTP/1.1 {status} {}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\n\
         Connection: close\r\n\r\n{body}",
        reason(status),
        body.len()
    );
    if tls.write_all(response.as_bytes()).is_ok() {
        tls.close();
    }
}

/// The request head up to its blank line (its first line is all that is used).
fn read_head(tls: &mut TlsStream<TcpStream>) -> io::Result<String> {
    let mut head = Vec::with_capacity(1024);
    let mut chunk = [0u8; 1024];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") {
        if head.len() > MAX_HEAD {
            return Err(io::Error::other("request head too long"));
        }
        let n = tls.read(&mut chunk)?;
        if n == 0 {
            return Err(io::ErrorKind::UnexpectedEof.into());
        }
        head.extend_from_slice(&chunk[..n]);
    }
    Ok(String::from_utf8_lossy(&head).into_owned())
}

fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        400 => "Bad Request",
        404 => "Not Found",
        405 => "Method Not Allowed",
        503 => "Service Unavailable",
        _ => "Status",
    }
}
