//! A small blocking HTTP/1.1 client: one `POST` of a JSON body per connection, every step
//! bounded by one deadline. Enough for a webhook, and no new dependency (the tree has an HTTP
//! server, tiny_http, but no client).

use std::io::{self, Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::time::{Duration, Instant};

use crate::config::WebhookUrl;

/// Why a delivery failed.
#[derive(Debug, thiserror::Error)]
pub enum PostError {
    /// The host could not be resolved, connected to, written to or read from in time.
    #[error("{0}")]
    Io(#[from] io::Error),
    /// The server answered, but not with a 2xx status.
    #[error("HTTP status {0}")]
    Status(u16),
    /// The answer did not start with an HTTP status line.
    #[error("not an HTTP response")]
    NotHttp,
}

/// The longest status line read; a longer one is not a webhook's answer.
const MAX_STATUS_LINE: usize = 1024;

fn timed_out() -> io::Error {
    io::Error::new(
        io::ErrorKind::TimedOut,
        "the webhook did not answer in time",
    )
}

/// What is left until `deadline`, or a timeout error once it has passed.
fn remaining(deadline: Instant) -> io::Result<Duration> {
    deadline
        .checked_duration_since(Instant::now())
        .filter(|left| !left.is_zero())
        .ok_or_else(timed_out)
}

/// POSTs `body` (JSON) to `url`; connecting, writing and reading the status line all within
/// `timeout`. Returns the status of a 2xx answer; any other answer is an error. The rest of
/// the answer is not read: the connection is closed (`Connection: close`).
pub fn post_json(url: &WebhookUrl, body: &str, timeout: Duration) -> Result<u16, PostError> {
    let deadline = Instant::now() + timeout;
    // Name resolution is the one step without a timeout of its own (the system resolver's
    // applies); it runs on the sender thread, never on the event loop.
    let addrs = (url.host.trim_matches(['[', ']']), url.port).to_socket_addrs()?;
    let mut last = io::Error::new(io::ErrorKind::NotFound, "the host has no address");
    let mut stream = None;
    for addr in addrs {
        match TcpStream::connect_timeout(&addr, remaining(deadline)?) {
            Ok(s) => {
                stream = Some(s);
                break;
            }
            Err(e) => last = e,
        }
    }
    let mut stream = stream.ok_or(last)?;
    let _ = stream.set_nodelay(true);
    let host = if url.port == 80 {
        url.host.clone()
    } else {
        format!("{}:{}", url.host, url.port)
    };
    let request = format!(
        "POST {} HTTP/1.1\r\nHost: {host}\r\nUser-Agent: hayate\r\nContent-Type: application/json\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        url.path,
        body.len()
    );
    stream.set_write_timeout(Some(remaining(deadline)?))?;
    stream.write_all(request.as_bytes())?;
    let mut answer = Vec::with_capacity(128);
    let mut chunk = [0u8; 256];
    loop {
        if let Some(end) = answer.windows(2).position(|w| w == b"\r\n") {
            return status(&answer[..end]);
        }
        if answer.len() > MAX_STATUS_LINE {
            return Err(PostError::NotHttp);
        }
        // A server trickling bytes must not stretch the wait: each read gets what is left.
        stream.set_read_timeout(Some(remaining(deadline)?))?;
        match stream.read(&mut chunk) {
            Ok(0) => return Err(PostError::NotHttp),
            Ok(n) => answer.extend_from_slice(&chunk[..n]),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) if matches!(e.kind(), io::ErrorKind::WouldBlock) => {
                return Err(timed_out().into());
            }
            Err(e) => return Err(e.into()),
        }
    }
}

/// The status of `HTTP/1.x NNN reason`, if 2xx.
fn status(line: &[u8]) -> Result<u16, PostError> {
    let line = std::str::from_utf8(line).map_err(|_| PostError::NotHttp)?;
    let mut parts = line.split(' ');
    let version = parts.next().unwrap_or_default();
    if !version.starts_with("HTTP/1.") {
        return Err(PostError::NotHttp);
    }
    let code: u16 = parts
        .next()
        .and_then(|c| c.parse().ok())
        .ok_or(PostError::NotHttp)?;
    if (200..300).contains(&code) {
        Ok(code)
    } else {
        Err(PostError::Status(code))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::TcpListener;
    use std::sync::mpsc;

    /// A server answering each connection with the next of `answers` (`None`: accept and
    /// never answer), handing every request it read to the returned receiver.
    fn server(answers: Vec<Option<&'static str>>) -> (WebhookUrl, mpsc::Receiver<String>) {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            let mut held = Vec::new();
            for answer in answers {
                let Ok((mut stream, _)) = listener.accept() else {
                    return;
                };
                stream
                    .set_read_timeout(Some(Duration::from_secs(5)))
                    .unwrap();
                let mut request = Vec::new();
                let mut chunk = [0u8; 4096];
                // Headers, then Content-Length bytes of body.
                while let Ok(n) = stream.read(&mut chunk) {
                    if n == 0 {
                        break;
                    }
                    request.extend_from_slice(&chunk[..n]);
                    let text = String::from_utf8_lossy(&request).to_string();
                    if let Some(end) = text.find("\r\n\r\n") {
                        let length: usize = text
                            .lines()
                            .find_map(|l| l.strip_prefix("Content-Length: "))
                            .and_then(|l| l.parse().ok())
                            .unwrap_or(0);
                        if request.len() >= end + 4 + length {
                            break;
                        }
                    }
                }
                let _ = tx.send(String::from_utf8_lossy(&request).to_string());
                match answer {
                    Some(answer) => {
                        let _ = stream.write_all(answer.as_bytes());
                    }
                    None => held.push(stream),
                }
            }
            // Hung connections stay open until the test is over.
            std::thread::sleep(Duration::from_secs(10));
        });
        let url = WebhookUrl::parse(&format!("http://{addr}/hook?x=1")).unwrap();
        (url, rx)
    }

    #[test]
    fn a_2xx_answer_is_delivered() {
        let (url, requests) = server(vec![Some("HTTP/1.1 204 No Content\r\n\r\n")]);
        let code = post_json(&url, r#"{"alert":"x"}"#, Duration::from_secs(5)).unwrap();
        assert_eq!(code, 204);
        let request = requests.recv().unwrap();
        assert!(
            request.starts_with("POST /hook?x=1 HTTP/1.1\r\n"),
            "{request}"
        );
        assert!(request.contains(&format!("Host: 127.0.0.1:{}\r\n", url.port)));
        assert!(request.contains("Content-Type: application/json\r\n"));
        assert!(request.contains("Content-Length: 13\r\n"));
        assert!(request.ends_with("\r\n\r\n{\"alert\":\"x\"}"));
    }

    #[test]
    fn a_500_is_a_failure_and_the_retry_gets_through() {
        let (url, requests) = server(vec![
            Some("HTTP/1.1 500 Internal Server Error\r\nContent-Length: 0\r\n\r\n"),
            Some("HTTP/1.0 200 OK\r\n\r\n"),
        ]);
        let timeout = Duration::from_secs(5);
        assert!(matches!(
            post_json(&url, "{}", timeout),
            Err(PostError::Status(500))
        ));
        assert_eq!(post_json(&url, "{}", timeout).unwrap(), 200);
        assert_eq!(requests.iter().take(2).count(), 2);
    }

    #[test]
    fn a_server_that_never_answers_times_out() {
        let (url, _requests) = server(vec![None]);
        let start = Instant::now();
        let result = post_json(&url, "{}", Duration::from_millis(300));
        let took = start.elapsed();
        assert!(
            matches!(&result, Err(PostError::Io(e)) if e.kind() == io::ErrorKind::TimedOut),
            "{result:?}"
        );
        assert!(took >= Duration::from_millis(250), "{took:?}");
        assert!(took < Duration::from_secs(3), "{took:?}");
    }

    #[test]
    fn a_refused_connection_and_garbage_are_failures() {
        let closed = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = WebhookUrl::parse(&format!("http://{}/", closed.local_addr().unwrap())).unwrap();
        drop(closed);
        assert!(matches!(
            post_json(&url, "{}", Duration::from_secs(2)),
            Err(PostError::Io(_))
        ));
        let (url, _requests) = server(vec![Some("SMTP ready\r\n")]);
        assert!(matches!(
            post_json(&url, "{}", Duration::from_secs(2)),
            Err(PostError::NotHttp)
        ));
    }
}
