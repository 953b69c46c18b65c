//! Incident notices and maintenance windows through the admin client (issue 15): opened,
//! updated, resolved; refused with a reason when they name no open incident or a role lacks
//! them; kept across a restart, and rebuilt from the journal when the board's file is lost.
//! (The standby and a failover: tests/failover.rs.)

use hayate::adapters::gateway::Gateway;
use hayate_testkit::example::{admin_binary, run_admin};
use hayate_testkit::gateway::*;

const VIEWER: &str = r#"
[[admins]]
username = "watcher"
password = "pw-watcher"
role = "viewer"
"#;

fn admin(gateway: &Gateway, user: &str, password: &str, args: &[&str]) -> (bool, String) {
    run_admin(
        &gateway.addrs().binary.to_string(),
        user,
        password,
        &[&["--timeout", "20"], args].concat(),
    )
}

fn admin_ok(gateway: &Gateway, args: &[&str]) -> String {
    let (ok, text) = admin(gateway, "admin", "change-me", args);
    assert!(ok, "{args:?}: {text}");
    text
}

fn status(gateway: &Gateway) -> String {
    let (_, body) =
        hayate::adapters::http::get(gateway.addrs().http, "/status", WAIT).expect("/status");
    body
}

/// Waits (bounded) until `/status` satisfies `done` (the board reads the journal every 200 ms).
fn wait_status(gateway: &Gateway, done: impl Fn(&str) -> bool) -> String {
    let deadline = std::time::Instant::now() + WAIT;
    loop {
        let body = status(gateway);
        if done(&body) {
            return body;
        }
        assert!(std::time::Instant::now() < deadline, "/status: {body}");
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
}

fn id_of(answer: &str) -> String {
    answer
        .trim()
        .strip_prefix("notice ")
        .and_then(|rest| rest.strip_suffix(" recorded"))
        .unwrap_or_else(|| panic!("the answer names the notice: {answer}"))
        .to_owned()
}

#[test]
fn incidents_open_update_resolve_and_survive_restarts() {
    let _ = admin_binary();
    let dir = tempfile::tempdir().expect("tempdir");
    let gateway = start(config(dir.path(), None, VIEWER));
    let long_body = "The matcher is slow. ".repeat(40);
    let opened = admin_ok(
        &gateway,
        &[
            "notice",
            "open",
            "Slow acknowledgements",
            "--severity",
            "critical",
            "--body",
            &long_body,
            "--component",
            "matching",
            "journal",
        ],
    );
    let id = id_of(&opened);
    let body = wait_status(&gateway, |s| s.contains("Slow acknowledgements"));
    assert!(
        body.contains(&format!("\"id\":{id},\"title\":\"Slow acknowledgements\",\"severity\":\"critical\",\"status\":\"investigating\",\"components\":[\"Matching\",\"Journal and disk\"]")),
        "{body}"
    );
    // A body of 840 bytes came through its 11 parts whole.
    assert!(body.contains(long_body.trim_end()), "{body}");
    admin_ok(
        &gateway,
        &["notice", "update", &id, "Identified: a slow disk."],
    );
    admin_ok(
        &gateway,
        &[
            "maintenance",
            "2099-03-01T01:00:00+09:00",
            "2099-03-01T03:00:00+09:00",
            "Disk replacement",
            "--component",
            "journal",
        ],
    );
    let body = wait_status(&gateway, |s| {
        s.contains("Identified: a slow disk.") && s.contains("Disk replacement")
    });
    // 2099-03-01T01:00:00+09:00 is 4075977600 in Unix seconds.
    assert!(
        body.contains("\"status\":\"scheduled\"")
            && body.contains("\"window\":{\"from\":4075977600,\"to\":4075984800}"),
        "{body}"
    );

    // Refusals, each with its reason and a failing exit status.
    for (args, why) in [
        (
            vec!["notice", "update", "999999", "x"],
            "no open incident 999999",
        ),
        (
            vec!["notice", "open", "T", "--severity", "huge"],
            "one of minor, major, critical",
        ),
        (
            vec![
                "notice",
                "open",
                "T",
                "--severity",
                "minor",
                "--component",
                "dns",
            ],
            "unknown component",
        ),
        (
            vec![
                "maintenance",
                "2099-01-02T00:00:00Z",
                "2099-01-01T00:00:00Z",
                "x",
            ],
            "end after it starts",
        ),
        (
            vec!["maintenance", "tomorrow", "2099-01-01T00:00:00Z", "x"],
            "RFC 3339",
        ),
    ] {
        let (ok, text) = admin(&gateway, "admin", "change-me", &args);
        assert!(!ok && text.contains(why), "{args:?}: {text}");
    }
    let (ok, text) = admin(
        &gateway,
        "watcher",
        "pw-watcher",
        &["notice", "resolve", &id],
    );
    assert!(!ok && text.contains("needs operator"), "{text}");

    let board = gateway.notices();
    gateway.stop().expect("stop");

    // A restart reads the board's file and the journal written since: the same board.
    let gateway = start(config(dir.path(), None, VIEWER));
    assert_eq!(gateway.notices(), board);
    admin_ok(&gateway, &["notice", "resolve", &id]);
    let body = wait_status(&gateway, |s| s.contains("\"status\":\"resolved\""));
    assert!(body.contains("Disk replacement"), "{body}");
    let board = gateway.notices();
    assert_eq!(
        board.incident(id.parse().unwrap()).map(|i| i.updates.len()),
        Some(3)
    );
    gateway.stop().expect("stop");

    // The board's file lost: rebuilt from the journal, the same.
    std::fs::remove_file(hayate::adapters::notices::follower::board_file(dir.path()))
        .expect("the board's file exists");
    let gateway = start(config(dir.path(), None, VIEWER));
    assert_eq!(gateway.notices(), board);
    gateway.stop().expect("stop");
}

type Ws = tungstenite::WebSocket<tungstenite::stream::MaybeTlsStream<std::net::TcpStream>>;

/// The next `notices` message on the WebSocket feed, other messages skipped.
fn next_notices(ws: &mut Ws) -> serde_json::Value {
    loop {
        if let tungstenite::Message::Text(text) = ws.read().expect("a message") {
            let message: serde_json::Value = serde_json::from_str(text.as_str()).expect("JSON");
            if message["type"] == "notices" {
                return message;
            }
        }
    }
}

/// Market-data subscribers of the `status` channel get the notices: the current list when they
/// subscribe, and the list again whenever an operator opens, updates or resolves one.
#[test]
fn the_status_channel_carries_the_notices() {
    let _ = admin_binary();
    let dir = tempfile::tempdir().expect("tempdir");
    let gateway = start(config(dir.path(), None, ""));
    let ws_addr = gateway
        .addrs()
        .ws
        .expect("the demo serves the WebSocket feed");
    let (mut ws, _) = tungstenite::connect(format!("ws://{ws_addr}")).expect("handshake");
    if let tungstenite::stream::MaybeTlsStream::Plain(stream) = ws.get_mut() {
        stream.set_read_timeout(Some(WAIT)).expect("timeout");
    }
    let subscribe = |ws: &mut Ws, channels: &str| {
        ws.send(tungstenite::Message::text(format!(
            r#"{{"type":"subscribe","product_ids":["BTC-JPY"],"channels":[{channels}]}}"#
        )))
        .expect("subscribe");
    };
    subscribe(&mut ws, r#""status""#);
    let first = next_notices(&mut ws);
    assert_eq!(first["incidents"], serde_json::json!([]), "{first}");
    assert!(first["time"].is_string(), "{first}");

    let opened = admin_ok(
        &gateway,
        &["notice", "open", "Feed delayed", "--severity", "minor"],
    );
    let id: u64 = id_of(&opened).parse().expect("a number");
    let shown = next_notices(&mut ws);
    assert_eq!(shown["incidents"][0]["id"], id, "{shown}");
    assert_eq!(shown["incidents"][0]["title"], "Feed delayed", "{shown}");
    assert_eq!(shown["incidents"][0]["status"], "investigating", "{shown}");
    admin_ok(&gateway, &["notice", "resolve", &id.to_string()]);
    let resolved = next_notices(&mut ws);
    assert_eq!(resolved["incidents"][0]["status"], "resolved", "{resolved}");

    // A later subscriber gets the list as it is now.
    let other = gateway.addrs().ws.expect("ws");
    let (mut late, _) = tungstenite::connect(format!("ws://{other}")).expect("handshake");
    if let tungstenite::stream::MaybeTlsStream::Plain(stream) = late.get_mut() {
        stream.set_read_timeout(Some(WAIT)).expect("timeout");
    }
    subscribe(&mut late, r#""status""#);
    let now = next_notices(&mut late);
    assert_eq!(now["incidents"][0]["status"], "resolved", "{now}");
    gateway.stop().expect("stop");
}
