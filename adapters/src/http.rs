//! The status page (`/`, `http/status_page.rs`), `/status` (JSON) and `/metrics` (Prometheus
//! text) over HTTP, on a thread of their own so a slow or hostile HTTP client can never touch the
//! order path; over HTTPS with `[tls] http` (`http/https.rs`).

use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use rustls::ClientConfig;

use crate::tls::MaybeTls;

mod https;
pub(crate) mod status_page;

pub use https::OnTlsFailure;

/// Produces a page for a URL (path and query): `(status code, content type, body)`, or `None`
/// for 404.
pub type PageSource = dyn Fn(&str) -> Option<(u16, &'static str, String)> + Send + Sync;

/// The running HTTP server; stops when dropped.
pub struct HttpServer {
    /// Plain HTTP: tiny_http and the thread serving it.
    plain: Option<(Arc<tiny_http::Server>, Option<JoinHandle<()>>)>,
    /// HTTPS (dropped first: it stops its own thread).
    _https: Option<https::Https>,
    addr: SocketAddr,
}

impl std::fmt::Debug for HttpServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HttpServer")
            .field("addr", &self.addr)
            .finish()
    }
}

impl HttpServer {
    /// Listens on `addr` and answers GET requests with `pages`.
    pub fn start(addr: SocketAddr, pages: Arc<PageSource>) -> io::Result<HttpServer> {
        let server = tiny_http::Server::http(addr).map_err(io::Error::other)?;
        let addr = server
            .server_addr()
            .to_ip()
            .ok_or_else(|| io::Error::other("the HTTP server has no IP address"))?;
        let server = Arc::new(server);
        let serving = Arc::clone(&server);
        let thread = std::thread::Builder::new()
            .name("hayate-http".into())
            .spawn(move || serve(&serving, &*pages))?;
        Ok(HttpServer {
            plain: Some((server, Some(thread))),
            _https: None,
            addr,
        })
    }

    /// Listens on `addr` for HTTPS with `config`'s certificate; `on_failure` is called for each
    /// connection that fails TLS.
    pub fn start_tls(
        addr: SocketAddr,
        pages: Arc<PageSource>,
        config: Arc<rustls::ServerConfig>,
        on_failure: Arc<OnTlsFailure>,
    ) -> io::Result<HttpServer> {
        let https = https::Https::start(addr, pages, config, on_failure)?;
        Ok(HttpServer {
            plain: None,
            addr: https.addr(),
            _https: Some(https),
        })
    }

    /// Where it listens.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }
}

/// What to answer a request: `(status code, content type, body)`.
fn answer(get: bool, url: &str, pages: &PageSource) -> (u16, &'static str, String) {
    if !get {
        return (405, "text/plain", "only GET\n".to_owned());
    }
    pages(url).unwrap_or_else(|| {
        (
            404,
            "text/plain",
            "not found: try /, /status, /metrics, /book/SYMBOL or /trades/SYMBOL\n".to_owned(),
        )
    })
}

fn serve(server: &tiny_http::Server, pages: &PageSource) {
    for request in server.incoming_requests() {
        let get = *request.method() == tiny_http::Method::Get;
        let (status, content_type, body) = answer(get, request.url(), pages);
        let header = tiny_http::Header::from_bytes(&b"Content-Type"[..], content_type.as_bytes());
        let mut response = tiny_http::Response::from_string(body).with_status_code(status);
        if let Ok(header) = header {
            response = response.with_header(header);
        }
        // A client that hangs up early is its own problem.
        let _ = request.respond(response);
    }
}

impl Drop for HttpServer {
    fn drop(&mut self) {
        if let Some((server, thread)) = &mut self.plain {
            server.unblock();
            if let Some(thread) = thread.take() {
                let _ = thread.join();
            }
        }
    }
}

/// Fetches `path` from an HTTP server with a plain blocking socket (for tests and the admin
/// client's `status`): returns the status code and body.
pub fn get(addr: SocketAddr, path: &str, timeout: Duration) -> io::Result<(u16, String)> {
    get_with(addr, path, timeout, None)
}

/// [`get`] over HTTPS when `tls` gives the client configuration and the server's name.
pub fn get_with(
    addr: SocketAddr,
    path: &str,
    timeout: Duration,
    tls: Option<(&Arc<ClientConfig>, &str)>,
) -> io::Result<(u16, String)> {
    use std::io::{Read, Write};
    let mut stream = MaybeTls::connect(addr, timeout, tls)?;
    write!(
        stream,
        "GET {path} HTTP/1.0\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )?;
    stream.flush()?;
    let mut response = String::new();
    stream.read_to_string(&mut response)?;
    let (head, body) = response
        .split_once("\r\n\r\n")
        .ok_or_else(|| io::Error::other("no end of HTTP headers"))?;
    let code = head
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .ok_or_else(|| io::Error::other("no HTTP status code"))?;
    Ok((code, body.to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serves_pages_and_404s_the_rest() {
        let pages: Arc<PageSource> = Arc::new(|path: &str| match path {
            "/status" => Some((
                200,
                "application/json",
                "{\"state\":\"running\"}".to_owned(),
            )),
            _ => None,
        });
        let server =
            HttpServer::start(SocketAddr::from(([127, 0, 0, 1], 0)), pages).expect("start");
        let timeout = Duration::from_secs(5);
        let (code, body) = get(server.addr(), "/status", timeout).expect("get");
        assert_eq!((code, body.as_str()), (200, "{\"state\":\"running\"}"));
        let (code, _) = get(server.addr(), "/nope", timeout).expect("get");
        assert_eq!(code, 404);
        drop(server);
    }
}
