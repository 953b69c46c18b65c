//! A real counterparty: QuickFIX itself (Debian's `libquickfix-dev`, which `.ci/run` installs)
//! as the initiator, with its data-dictionary validation on, trading with the gateway:
//! Username/Password logon, market data, orders, fills, replace, status, cancel, a refused
//! cancel, mass cancel, then a disconnect that lost messages, the resend that brings the lost
//! fill back, and a logon that continues the sequence numbers. QuickFIX must never reject a
//! message we send. The scenario is `tests/quickfix/initiator.cpp`; this test compiles it with
//! the system's C++ compiler and runs it against a gateway on an ephemeral port.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use hayate_testkit::example::wait_bounded;
use hayate_testkit::gateway::{config, start};

fn initiator_binary() -> PathBuf {
    let source = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/quickfix/initiator.cpp");
    let binary = Path::new(env!("CARGO_TARGET_TMPDIR")).join("quickfix-initiator");
    let output = Command::new("g++")
        .args(["-std=c++14", "-O1", "-Wno-deprecated", "-o"])
        .arg(&binary)
        .arg(&source)
        .args(["-lquickfix", "-lpthread"])
        .output()
        .expect("g++ runs (CI installs it with libquickfix-dev)");
    assert!(
        output.status.success(),
        "building the QuickFIX initiator failed (is libquickfix-dev installed?):\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    binary
}

#[test]
fn a_quickfix_initiator_trades_resends_and_never_rejects_a_message_of_ours() {
    let binary = initiator_binary();
    let dir = tempfile::tempdir().expect("tempdir");
    let gateway = start(config(&dir.path().join("gateway"), None, ""));
    let addr = gateway.addrs().fix;
    let work = dir.path().join("quickfix");
    std::fs::create_dir_all(&work).expect("workdir");
    let dictionary = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/quickfix/FIX44.xml");
    let child = Command::new(&binary)
        .arg(addr.ip().to_string())
        .arg(addr.port().to_string())
        .arg(&work)
        .arg(&dictionary)
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("start the initiator");
    let output = wait_output(child);
    let stdout = String::from_utf8_lossy(&output.0);
    eprintln!("{stdout}");
    let passed = output.1 && stdout.lines().last() == Some("PASS");
    if !passed {
        // Keep QuickFIX's own logs (every message both ways, its events) for the reader.
        let kept = Path::new(env!("CARGO_TARGET_TMPDIR")).join("quickfix-initiator-log");
        let _ = std::fs::remove_dir_all(&kept);
        let _ = std::fs::create_dir_all(&kept);
        for entry in std::fs::read_dir(work.join("log"))
            .into_iter()
            .flatten()
            .flatten()
        {
            let _ = std::fs::copy(entry.path(), kept.join(entry.file_name()));
        }
        panic!(
            "the QuickFIX initiator failed; its logs are in {}:\n{stdout}",
            kept.display()
        );
    }
    gateway.stop().expect("stop");
}

/// Waits (bounded) for the initiator; its stdout and whether it succeeded.
fn wait_output(mut child: std::process::Child) -> (Vec<u8>, bool) {
    use std::io::Read;
    let mut stdout = child.stdout.take().expect("stdout");
    let reader = std::thread::spawn(move || {
        let mut bytes = Vec::new();
        let _ = stdout.read_to_end(&mut bytes);
        bytes
    });
    let status = wait_bounded(child, Duration::from_secs(120), "the QuickFIX initiator");
    (reader.join().unwrap_or_default(), status.success())
}
