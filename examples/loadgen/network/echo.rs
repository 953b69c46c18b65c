//! The floor the order path is judged against: a plain TCP echo round trip on loopback, one
//! message at a time at the offered rate, the client waiting in `ppoll` exactly as the order
//! path does; and, when the journal syncs every batch, one `msync` of a 4 KiB page on the
//! journal's file system, which every order under `fsync = always` pays too.

use std::io::{self, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};

use hdrhistogram::Histogram;

use super::SETUP_TIMEOUT;
use super::sleep::{MAX_SLEEP_NS, ppoll, sleep_until};
use crate::recorder::HIGHEST_NS;
use crate::schedule::{Clock, NS_PER_S};

/// Bytes of one echo message.
pub(super) const ECHO_SIZE: usize = 64;
/// Echo round trips not recorded at the start (connection and caches warming up).
pub(super) const ECHO_WARMUP: u64 = 1_000;

pub(super) struct EchoResult {
    pub(super) histogram: Histogram<u64>,
    pub(super) sent: u64,
    pub(super) seconds: f64,
    /// `--fsync always`: one `msync` of a dirtied 4 KiB page, and where it was measured.
    pub(super) msync: Option<(Histogram<u64>, PathBuf)>,
}

/// Pages of the file the `msync` floor dirties in turn.
const MSYNC_PAGES: usize = 16;
const PAGE: usize = 4096;

/// Dirties one 4 KiB page of a file in `dir` and `msync`s it, at most `rate` per second for
/// `seconds`, and records each `msync` (what the journaler pays per commit when a batch fits
/// one page). The file is removed at the end.
pub(super) fn msync_floor(dir: &Path, seconds: f64, rate: u64) -> Result<Histogram<u64>, String> {
    let file = tempfile::Builder::new()
        .prefix("loadgen-msync-")
        .tempfile_in(dir)
        .map_err(|e| {
            format!(
                "msync floor: cannot create a file in {}: {e}",
                dir.display()
            )
        })?;
    // Written and synced first, as the journal prepares its segments: each msync below then
    // overwrites allocated blocks, as a commit does.
    (&mut file.as_file())
        .write_all(&[0u8; MSYNC_PAGES * PAGE])
        .and_then(|()| file.as_file().sync_all())
        .map_err(|e| format!("msync floor: {}: {e}", file.path().display()))?;
    // SAFETY: the file is this function's own temporary file; nothing else maps or resizes it.
    let mut map = unsafe { memmap2::MmapMut::map_mut(file.as_file()) }
        .map_err(|e| format!("msync floor: mmap {}: {e}", file.path().display()))?;
    let mut histogram =
        Histogram::new_with_bounds(1, HIGHEST_NS, 3).map_err(|e| format!("histogram: {e:?}"))?;
    let count = (seconds * rate as f64).round() as u64;
    let interval = NS_PER_S / rate;
    let clock = Clock {
        start: std::time::Instant::now(),
    };
    let mut due = clock.now_ns();
    for n in 0..count {
        sleep_until(clock, due);
        let page = (n as usize % MSYNC_PAGES) * PAGE;
        map[page] = map[page].wrapping_add(1);
        let start = clock.now_ns();
        map.flush_range(page, PAGE)
            .map_err(|e| format!("msync floor: msync {}: {e}", file.path().display()))?;
        histogram.saturating_record((clock.now_ns() - start).max(1));
        due += interval;
    }
    Ok(histogram)
}

/// Sends `ECHO_SIZE` bytes at a time to an echo thread on loopback, at most `rate` per second and
/// never two in flight, and records each round trip from the send to the whole echo's receipt.
/// The client waits in `ppoll` exactly as the order path does, so the floor includes the same
/// wake-ups.
pub(super) fn echo_floor(seconds: f64, rate: u64) -> Result<EchoResult, String> {
    let listener =
        TcpListener::bind("127.0.0.1:0").map_err(|e| format!("echo: cannot listen: {e}"))?;
    let addr = listener
        .local_addr()
        .map_err(|e| format!("echo: no local address: {e}"))?;
    let server = std::thread::Builder::new()
        .name("loadgen-echo".into())
        .spawn(move || -> io::Result<()> {
            let (mut stream, _) = listener.accept()?;
            stream.set_nodelay(true)?;
            let mut buf = [0u8; ECHO_SIZE];
            loop {
                match stream.read(&mut buf) {
                    Ok(0) => return Ok(()),
                    Ok(n) => stream.write_all(&buf[..n])?,
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                    Err(e) => return Err(e),
                }
            }
        })
        .map_err(|e| format!("echo: cannot start the echo thread: {e}"))?;
    let mut stream = TcpStream::connect_timeout(&addr, SETUP_TIMEOUT)
        .map_err(|e| format!("echo: cannot connect: {e}"))?;
    stream
        .set_nodelay(true)
        .and_then(|()| stream.set_nonblocking(true))
        .map_err(|e| format!("echo: {e}"))?;
    let mut histogram =
        Histogram::new_with_bounds(1, HIGHEST_NS, 3).map_err(|e| format!("histogram: {e:?}"))?;
    let count = ECHO_WARMUP + (seconds * rate as f64).round() as u64;
    let interval = NS_PER_S / rate;
    let clock = Clock {
        start: std::time::Instant::now(),
    };
    let message = [0x5Au8; ECHO_SIZE];
    let mut reply = [0u8; ECHO_SIZE];
    let mut fds = [libc::pollfd {
        fd: stream.as_raw_fd(),
        events: libc::POLLIN,
        revents: 0,
    }];
    let mut due = clock.now_ns();
    let deadline = due + ((seconds + 10.0) * NS_PER_S as f64) as u64;
    let mut sent = 0;
    while sent < count {
        sleep_until(clock, due);
        let start = clock.now_ns();
        if start > deadline {
            return Err("echo: the round trips took far longer than planned".into());
        }
        // 64 bytes into an empty socket buffer: one write takes them all.
        match stream.write(&message) {
            Ok(ECHO_SIZE) => {}
            Ok(n) => return Err(format!("echo: short write of {n} bytes")),
            Err(e) => return Err(format!("echo: {e}")),
        }
        let mut got = 0;
        while got < ECHO_SIZE {
            match stream.read(&mut reply[got..]) {
                Ok(0) => return Err("echo: the echo thread closed the connection".into()),
                Ok(n) => got += n,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    ppoll(&mut fds, MAX_SLEEP_NS).map_err(|e| format!("echo: ppoll: {e}"))?;
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(format!("echo: {e}")),
            }
        }
        let end = clock.now_ns();
        if sent >= ECHO_WARMUP {
            histogram.saturating_record((end - start).max(1));
        }
        sent += 1;
        due += interval;
    }
    let elapsed = clock.now_ns() as f64 / NS_PER_S as f64;
    drop(stream);
    match server.join() {
        Ok(Ok(())) => {}
        Ok(Err(e)) => return Err(format!("echo: the echo thread failed: {e}")),
        Err(_) => return Err("echo: the echo thread panicked".into()),
    }
    Ok(EchoResult {
        histogram,
        sent,
        seconds: elapsed,
        msync: None,
    })
}
