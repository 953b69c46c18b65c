//! QuickFIX's own FIX 4.4 session acceptance scripts (`tests/quickfix/fix44/*.def`, from
//! quickfix/quickfix `test/definitions/server/fix44`, see `tests/quickfix/README.md`) run against
//! the gateway by a runner written here after QuickFIX's `test/Reflector.rb`:
//!
//! - `iCONNECT` / `iDISCONNECT` (optionally `i2,CONNECT` for a second connection) open and close a
//!   connection; `eDISCONNECT` expects the gateway to close it within ten seconds, with no data;
//! - `I<message>` is sent after `<TIME>` / `<TIME+N>` / `<TIME-N>` become the UTC time and a
//!   missing BodyLength or CheckSum is computed;
//! - `E<message>` is the next message the gateway must send.
//!
//! Messages are compared as FIX means them, not byte for byte: BeginString, MsgType and every other
//! expected field must be there with the expected value (timestamps by format), in any order
//! after 8, 9, 35; BodyLength and CheckSum are checked by framing, not against the script's
//! values; Text (58) may be worded differently and Text and RefTagID (371) may be added; nothing
//! else may be.
//!
//! The gateway runs as the scripts' acceptor: SenderCompID `ISLD`, one user `TW44` identified by
//! its CompID alone (`auth = "none"`) whose sequence numbers restart at every Logon
//! (`reset_on_logon = true`). All scripts run in one gateway, one after another, as QuickFIX runs
//! them against its acceptor.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use hayate::ExchangeConfig;
use hayate_testkit::gateway::{config_toml, start};

/// Scripts that need QuickFIX's echo test application: they expect the acceptor to send a
/// NewOrderSingle (or the message they sent) back, which an exchange never does.
const ECHO_SCRIPTS: [&str; 14] = [
    "14e_IncorrectEnumValue.def",
    "15_HeaderAndBodyFieldsOrderedDifferently.def",
    "19a_PossResendMessageThatHAsAlreadyBeenSent.def",
    "19b_PossResendMessageThatHasNotBeenSent.def",
    "20_SimultaneousResendRequest.def",
    "21_RepeatingGroupSpecifierWithValueOfZero.def",
    "2d_GarbledMessage.def",
    "2f_PossDupOrigSendingTimeTooHigh.def",
    "2g_PossDupNoOrigSendingTime.def",
    "2m_BodyLengthValueNotCorrect.def",
    "3b_InvalidChecksum.def",
    "3c_GarbledMessage.def",
    "8_AdminAndApplicationMessages.def",
    "8_OnlyApplicationMessages.def",
];

/// How long the runner waits for an expected message or a disconnection (QuickFIX's runner: 10 s).
const WAIT: Duration = Duration::from_secs(10);

const USER: &str = r#"
[[users]]
username = "TW44"
comp_id = "TW44"
account = 3
auth = "none"
reset_on_logon = true
cancel_on_disconnect = false
"#;

fn acceptor(dir: &Path) -> ExchangeConfig {
    let text = config_toml(dir, None, USER).replace("comp_id = \"HAYATE\"", "comp_id = \"ISLD\"");
    ExchangeConfig::from_toml_str(&text, "acceptance.toml").expect("acceptance config is valid")
}

fn scripts_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/quickfix/fix44")
}

#[test]
fn quickfix_fix44_session_scripts_pass() {
    let dir = tempfile::tempdir().expect("tempdir");
    let gateway = start(acceptor(dir.path()));
    let addr = gateway.addrs().fix;

    let mut scripts: Vec<PathBuf> = std::fs::read_dir(scripts_dir())
        .expect("the scripts are in the repository")
        .map(|entry| entry.expect("dir entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "def"))
        .collect();
    scripts.sort();
    // One script (or a few) by name: HAYATE_ACCEPTANCE=2b_MsgSeqNumTooHigh cargo test ...
    let only = std::env::var("HAYATE_ACCEPTANCE").ok();

    let mut failures = Vec::new();
    let mut ran = 0;
    for script in &scripts {
        let name = script.file_name().and_then(|n| n.to_str()).unwrap_or("");
        if ECHO_SCRIPTS.contains(&name) {
            continue;
        }
        if let Some(only) = &only {
            if !only.split(',').any(|o| name.starts_with(o)) {
                continue;
            }
        }
        ran += 1;
        let text = std::fs::read_to_string(script).expect("script reads");
        match run_script(addr, &text) {
            Ok(()) => eprintln!("pass  {name}"),
            Err(why) => {
                eprintln!("FAIL  {name}\n{why}");
                failures.push(name.to_owned());
            }
        }
    }
    assert!(ran > 0, "no script ran");
    if only.is_none() {
        assert_eq!(ran + ECHO_SCRIPTS.len(), scripts.len());
    }
    assert!(
        failures.is_empty(),
        "{} of {ran} scripts failed: {failures:?}",
        failures.len()
    );
}

/// One connection of a script.
struct Connection {
    stream: TcpStream,
    inbound: Vec<u8>,
}

fn run_script(addr: SocketAddr, text: &str) -> Result<(), String> {
    let mut connections: Vec<Option<Connection>> = (0..10).map(|_| None).collect();
    for (number, line) in text.lines().enumerate() {
        let line = line.trim_end_matches('\r');
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let (action, rest) = line.split_at(1);
        let (cid, body) = match rest.as_bytes() {
            [d @ b'0'..=b'9', b',', ..] => (usize::from(d - b'0'), &rest[2..]),
            _ => (1, rest),
        };
        let at = |why: String| format!("    line {}: {line}\n    {why}", number + 1);
        match (action, body) {
            ("i", "CONNECT") => {
                let stream =
                    TcpStream::connect_timeout(&addr, WAIT).map_err(|e| at(e.to_string()))?;
                stream.set_nodelay(true).map_err(|e| at(e.to_string()))?;
                connections[cid] = Some(Connection {
                    stream,
                    inbound: Vec::new(),
                });
            }
            ("i", "DISCONNECT") => connections[cid] = None,
            ("e", "CONNECT") => {}
            ("e", "DISCONNECT") => {
                let conn = connections[cid]
                    .as_mut()
                    .ok_or_else(|| at("no connection".into()))?;
                conn.expect_disconnect().map_err(at)?;
                connections[cid] = None;
            }
            ("I", message) => {
                let conn = connections[cid]
                    .as_mut()
                    .ok_or_else(|| at("unable to send: the connection was dropped".into()))?;
                let bytes = fixify(&timeify(message));
                // A closed connection shows at the next E or eDISCONNECT, as in QuickFIX's runner.
                let _ = conn.stream.write_all(&bytes);
            }
            ("E", message) => {
                let conn = connections[cid]
                    .as_mut()
                    .ok_or_else(|| at("no connection".into()))?;
                let expected = fixify(message);
                let received = conn.read_message().map_err(at)?;
                compare(&expected, &received).map_err(|why| {
                    at(format!(
                        "{why}\n    expected: {}\n    received: {}",
                        printable(&expected),
                        printable(&received)
                    ))
                })?;
            }
            _ => return Err(at("syntax error".into())),
        }
    }
    Ok(())
}

impl Connection {
    /// Reads as QuickFIX's `FixParser` does: up to "\x019=", the length, that many bytes, then the
    /// CheckSum field.
    fn read_message(&mut self) -> Result<Vec<u8>, String> {
        let deadline = Instant::now() + WAIT;
        loop {
            if let Some(len) = complete_message(&self.inbound)? {
                return Ok(self.inbound.drain(..len).collect());
            }
            self.fill(deadline)?
                .then_some(())
                .ok_or("was disconnected, expected data")?;
        }
    }

    fn expect_disconnect(&mut self) -> Result<(), String> {
        let deadline = Instant::now() + WAIT;
        if !self.inbound.is_empty() {
            return Err(format!(
                "expected disconnection, got data: {}",
                printable(&self.inbound)
            ));
        }
        match self.fill(deadline) {
            Ok(false) => Ok(()),
            Ok(true) => Err(format!(
                "expected disconnection, got data: {}",
                printable(&self.inbound)
            )),
            // A reset is a disconnection too.
            Err(why) if why.contains("hangs") => Err(why),
            Err(_) => Ok(()),
        }
    }

    /// Reads more bytes; false at end of stream.
    fn fill(&mut self, deadline: Instant) -> Result<bool, String> {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err("connection hangs: nothing within ten seconds".into());
        }
        self.stream
            .set_read_timeout(Some(left))
            .map_err(|e| e.to_string())?;
        let mut chunk = [0u8; 4096];
        match self.stream.read(&mut chunk) {
            Ok(0) => Ok(false),
            Ok(n) => {
                self.inbound.extend_from_slice(&chunk[..n]);
                Ok(true)
            }
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) =>
            {
                Err("connection hangs: nothing within ten seconds".into())
            }
            Err(e) => Err(e.to_string()),
        }
    }
}

/// The length of the first whole message in `buf`, if there is one.
fn complete_message(buf: &[u8]) -> Result<Option<usize>, String> {
    let Some(start) = find(buf, b"\x019=") else {
        return Ok(None);
    };
    let digits_at = start + 3;
    let Some(soh) = buf[digits_at..].iter().position(|&b| b == 1) else {
        return Ok(None);
    };
    let length: usize = std::str::from_utf8(&buf[digits_at..digits_at + soh])
        .ok()
        .and_then(|t| t.parse().ok())
        .ok_or_else(|| format!("bad BodyLength in {}", printable(buf)))?;
    let body_end = digits_at + soh + 1 + length;
    if buf.len() < body_end {
        return Ok(None);
    }
    match buf[body_end..].iter().position(|&b| b == 1) {
        Some(end) => Ok(Some(body_end + end + 1)),
        None => Ok(None),
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// `<TIME>`, `<TIME+N>` and `<TIME-N>` (seconds) as UTC "YYYYMMDD-HH:MM:SS".
fn timeify(message: &str) -> String {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64);
    let mut out = String::with_capacity(message.len() + 16);
    let mut rest = message;
    while let Some(at) = rest.find("<TIME") {
        out.push_str(&rest[..at]);
        let Some(close) = rest[at..].find('>') else {
            break;
        };
        let offset: i64 = rest[at + 5..at + close].parse().unwrap_or(0);
        out.push_str(&utc(now + offset));
        rest = &rest[at + close + 1..];
    }
    out.push_str(rest);
    out
}

/// Seconds since the epoch as "YYYYMMDD-HH:MM:SS" (civil-from-days, proleptic Gregorian).
fn utc(secs: i64) -> String {
    let days = secs.div_euclid(86_400);
    let of_day = secs.rem_euclid(86_400);
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}{month:02}{day:02}-{:02}:{:02}:{:02}",
        of_day / 3600,
        of_day % 3600 / 60,
        of_day % 60
    )
}

/// Adds BodyLength and CheckSum where the script leaves them out (QuickFIX's `fixify!`).
fn fixify(message: &str) -> Vec<u8> {
    let bytes = message.as_bytes();
    let Some(head_end) = bytes.iter().position(|&b| b == 1).map(|p| p + 1) else {
        return bytes.to_vec();
    };
    if !bytes.starts_with(b"8=") {
        return bytes.to_vec();
    }
    let (head, mut rest) = bytes.split_at(head_end);
    let mut checksum: Option<&[u8]> = None;
    if let Some(at) = find(rest, b"\x0110=") {
        if rest.ends_with(b"\x01") {
            checksum = Some(&rest[at + 1..]);
            rest = &rest[..at + 1];
        }
    }
    let has_length = find(bytes, b"\x019=").is_some();
    let mut out = head.to_vec();
    if !has_length {
        out.extend_from_slice(format!("9={}\x01", rest.len()).as_bytes());
    }
    out.extend_from_slice(rest);
    match checksum {
        Some(c) => out.extend_from_slice(c),
        None => {
            let sum = out.iter().map(|&b| u32::from(b)).sum::<u32>() % 256;
            out.extend_from_slice(format!("10={sum:03}\x01").as_bytes());
        }
    }
    out
}

fn fields(message: &[u8]) -> Vec<(u32, String)> {
    message
        .split(|&b| b == 1)
        .filter(|f| !f.is_empty())
        .map(|f| {
            let text = String::from_utf8_lossy(f);
            match text.split_once('=') {
                Some((tag, value)) => (tag.parse().unwrap_or(0), value.to_owned()),
                None => (0, text.into_owned()),
            }
        })
        .collect()
}

fn is_timestamp(value: &str) -> bool {
    let b = value.as_bytes();
    let digits =
        |r: std::ops::Range<usize>| b.get(r).is_some_and(|d| d.iter().all(u8::is_ascii_digit));
    let base = b.len() >= 17
        && digits(0..8)
        && b[8] == b'-'
        && digits(9..11)
        && b[11] == b':'
        && digits(12..14)
        && b[14] == b':'
        && digits(15..17);
    base && (b.len() == 17 || (b[17] == b'.' && b.len() > 18 && digits(18..b.len())))
}

/// Compares as FIX means it (see the module's documentation).
fn compare(expected: &[u8], received: &[u8]) -> Result<(), String> {
    let want = fields(expected);
    let got = fields(received);
    for (i, tag) in [8, 9, 35].into_iter().enumerate() {
        if got.get(i).map(|f| f.0) != Some(tag) {
            return Err(format!("field {} must be tag {tag}", i + 1));
        }
    }
    if got.last().map(|f| f.0) != Some(10) {
        return Err("the last field must be CheckSum (10)".into());
    }
    let mut unmatched: Vec<Option<&(u32, String)>> = got.iter().map(Some).collect();
    for (tag, value) in &want {
        let slot = unmatched
            .iter_mut()
            .find(|f| f.is_some_and(|(t, _)| t == tag));
        let Some(slot) = slot else {
            return Err(format!("expected field {tag} is missing"));
        };
        let (_, got_value) = slot.take().expect("found above");
        let same = match tag {
            9 | 10 | 58 => true,
            42 | 52 | 60 | 122 => is_timestamp(got_value),
            _ => got_value == value,
        };
        if !same {
            return Err(format!(
                "field {tag} should be ({value}) but was ({got_value})"
            ));
        }
    }
    let extra: Vec<u32> = unmatched
        .iter()
        .flatten()
        .map(|(t, _)| *t)
        .filter(|t| *t != 58 && *t != 371)
        .collect();
    if !extra.is_empty() {
        return Err(format!("unexpected fields {extra:?}"));
    }
    Ok(())
}

fn printable(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).replace('\u{1}', "|")
}

#[test]
fn the_runner_compares_as_fix_means_it() {
    let e = fixify(
        "8=FIX.4.4\x0135=5\x0134=2\x0149=ISLD\x0152=00000000-00:00:00.000\x0156=TW44\x0110=0\x01",
    );
    let ok = b"8=FIX.4.4\x019=60\x0135=5\x0149=ISLD\x0156=TW44\x0134=2\x0152=20261205-17:00:00.123\x0158=bye\x0110=123\x01";
    assert_eq!(compare(&e, ok), Ok(()));
    let wrong_seq = b"8=FIX.4.4\x019=60\x0135=5\x0149=ISLD\x0156=TW44\x0134=3\x0152=20261205-17:00:00.123\x0110=123\x01";
    assert!(compare(&e, wrong_seq).is_err());
    let extra = b"8=FIX.4.4\x019=60\x0135=5\x0149=ISLD\x0156=TW44\x0134=2\x0152=20261205-17:00:00.123\x01141=Y\x0110=123\x01";
    assert!(compare(&e, extra).is_err());
    let missing =
        b"8=FIX.4.4\x019=60\x0135=5\x0149=ISLD\x0134=2\x0152=20261205-17:00:00.123\x0110=123\x01";
    assert!(compare(&e, missing).is_err());
    assert_eq!(utc(0), "19700101-00:00:00");
    assert_eq!(utc(1_796_482_800), "20261205-15:00:00");
    assert_eq!(
        fixify("8=FIX.4.4\x0135=0\x01"),
        b"8=FIX.4.4\x019=5\x0135=0\x0110=163\x01".to_vec()
    );
}
