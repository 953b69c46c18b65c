//! Monitoring (issue 15): the shipped Prometheus alert rules pass their `promtool test rules`
//! unit tests, and a live `/metrics` after a trading session passes `promtool check metrics`
//! with no lint at all.
//!
//! promtool comes from Debian's `prometheus` package (`.ci/run` installs it). Where it is
//! missing the tests say so and pass, unless `CI` is set: then a missing promtool fails them,
//! so CI can never go green without having run them.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::thread::sleep;
use std::time::{Duration, Instant};

use hayate_testkit::gateway::*;

/// The repository's root (the `hayate` package's directory).
fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// `promtool`, or `None` (and a message) where it is not installed outside CI.
fn promtool(test: &str) -> Option<PathBuf> {
    let program = PathBuf::from("promtool");
    match Command::new(&program).arg("--version").output() {
        Ok(out) if out.status.success() => Some(program),
        found => {
            let ci = std::env::var_os("CI").is_some_and(|v| !v.is_empty());
            assert!(
                !ci,
                "promtool is not usable ({found:?}) and CI is set: .ci/run installs Debian's \
                 prometheus package, which provides it"
            );
            eprintln!(
                "SKIPPED {test}: promtool is not installed (apt-get install prometheus); \
                 with CI set this would fail"
            );
            None
        }
    }
}

/// Everything a promtool run printed, for failure messages.
fn printed(out: &Output) -> String {
    format!(
        "status {}\nstdout:\n{}\nstderr:\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

#[test]
fn the_alert_rules_are_valid_and_pass_their_unit_tests() {
    let Some(promtool) = promtool("the_alert_rules_are_valid_and_pass_their_unit_tests") else {
        return;
    };
    let rules = root().join("examples/prometheus/hayate-alerts.yml");
    let check = Command::new(&promtool)
        .arg("check")
        .arg("rules")
        .arg(&rules)
        .output()
        .expect("promtool runs");
    assert!(check.status.success(), "{}", printed(&check));
    // 13 alerts; promtool says how many rules it found.
    let said = String::from_utf8_lossy(&check.stdout).into_owned();
    assert!(
        said.contains("SUCCESS: 13 rules found"),
        "{}",
        printed(&check)
    );

    // The test file names the rule file relative to itself: run from anywhere.
    let tests = root().join("tests/prometheus/hayate-alerts_test.yml");
    let run = Command::new(&promtool)
        .arg("test")
        .arg("rules")
        .arg(&tests)
        .output()
        .expect("promtool runs");
    assert!(run.status.success(), "{}", printed(&run));
    let said = String::from_utf8_lossy(&run.stdout).into_owned();
    assert!(
        said.contains("SUCCESS") && !said.contains("FAILED"),
        "{}",
        printed(&run)
    );
}

/// A logged-on FIX client.
fn logged_on(addr: std::net::SocketAddr, comp: &str, user: &str) -> FixClient {
    let mut client = FixClient::connect(addr, comp);
    let reply = client.logon(user, "change-me", &[]);
    assert_eq!(field(&reply, 35), "A", "logon of {user}");
    client
}

/// A sample's value on the page (`name` with its labels, as written).
fn sample(text: &str, name: &str) -> Option<f64> {
    text.lines()
        .find_map(|line| line.strip_prefix(name)?.strip_prefix(' ')?.parse().ok())
}

#[test]
fn a_live_metrics_page_after_trading_passes_promtool_check_metrics() {
    let Some(promtool) =
        promtool("a_live_metrics_page_after_trading_passes_promtool_check_metrics")
    else {
        return;
    };
    let dir = tempfile::tempdir().expect("tempdir");
    let gateway = start(config(dir.path(), None, ""));
    let addrs = gateway.addrs();
    let mut alice = logged_on(addrs.fix, "ALICE", "alice");
    let mut bob = logged_on(addrs.fix, "BOB", "bob");

    // A buy that rests, and two sells that trade against it.
    alice.new_order("buy-1", "1", "0.5", "5000000");
    assert_eq!(field(&alice.recv_type("8"), 150), "0");
    for sell in ["sell-1", "sell-2"] {
        bob.new_order(sell, "2", "0.2", "5000000");
        assert_eq!(field(&bob.recv_type("8"), 150), "0", "{sell} acknowledged");
        assert_eq!(field(&bob.recv_type("8"), 150), "F", "{sell} filled");
        assert_eq!(field(&alice.recv_type("8"), 150), "F", "buy-1 filled");
    }

    // The latency summary is refreshed about once a second: wait for it to count the orders,
    // so the page checked is one with every family filled in.
    let started = Instant::now();
    let text = loop {
        let (code, text) =
            hayate::adapters::http::get(addrs.http, "/metrics", WAIT).expect("GET /metrics");
        assert_eq!(code, 200, "{text}");
        if sample(&text, "hayate_order_ack_latency_seconds_count").unwrap_or(0.0) >= 3.0 {
            break text;
        }
        assert!(started.elapsed() < WAIT, "latency never counted:\n{text}");
        // A heartbeat request keeps the event loop turning.
        alice.send("1", &[(112, "tick")]);
        sleep(Duration::from_millis(200));
    };

    // The figures of the session are there, the new ones among them.
    assert!(sample(&text, "hayate_fix_sessions") == Some(2.0), "{text}");
    assert!(
        sample(&text, "hayate_commands_total") >= Some(3.0),
        "{text}"
    );
    assert!(sample(&text, "hayate_reports_total") >= Some(5.0), "{text}");
    assert!(
        sample(&text, "hayate_state{state=\"running\"}") == Some(1.0),
        "{text}"
    );
    assert!(
        sample(&text, "hayate_journal_segments") >= Some(1.0),
        "{text}"
    );
    assert!(
        sample(&text, "process_cpu_seconds_total") > Some(0.0),
        "{text}"
    );
    assert!(
        sample(&text, "process_resident_memory_bytes") > Some(1e6),
        "{text}"
    );
    assert!(sample(&text, "process_open_fds") > Some(3.0), "{text}");
    assert!(
        sample(&text, "process_start_time_seconds") > Some(1e9),
        "{text}"
    );

    // promtool reads the page from stdin; it prints a line per lint problem and exits non-zero
    // for them, but any output at all is taken as a problem.
    let mut child = Command::new(&promtool)
        .arg("check")
        .arg("metrics")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("promtool starts");
    child
        .stdin
        .take()
        .expect("piped stdin")
        .write_all(text.as_bytes())
        .expect("page written to promtool");
    let out = child.wait_with_output().expect("promtool ends");
    assert!(
        out.status.success() && out.stdout.is_empty() && out.stderr.is_empty(),
        "promtool check metrics:\n{}\npage:\n{text}",
        printed(&out)
    );
    gateway.stop().expect("stop");
}
