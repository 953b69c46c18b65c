//! The disk guard's drill (BEHAVIOUR.md §10): the gateway's data directory on a small file system
//! of the test's own (a 24 MiB tmpfs), orders over FIX and binary until someone else fills the
//! disk, then space freed again. The guard refuses new orders and replaces `DISK_FULL` (FIX
//! ExecutionReport and OrderCancelReject, binary Report), lets cancels through, raises its alarm
//! on `/status` and `/metrics`, takes orders again once space is back, and the journal holds every
//! acknowledged order and none of the refused ones. Skipped with a message where the machine
//! forbids mounting.

use std::collections::HashSet;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use hayate::adapters::binary::client::BinaryClient;
use hayate::adapters::binary::messages::{
    CancelOnDisconnect, ClientMessage, Logon, NewOrder, ServerMessage,
};
use hayate::adapters::gateway::Gateway;
use hayate::recovery::{self, ReplayOptions};
use hayate::{
    ClientOrderId, CommandKind, EventKind, OrderType, Price, Qty, Reason, Side, SymbolId,
    TimeInForce,
};
use hayate_testkit::gateway::*;
use hayate_testkit::tmpfs::Tmpfs;

const MIB: u64 = 1 << 20;

fn status(gateway: &Gateway) -> String {
    let (_, body) =
        hayate::adapters::http::get(gateway.addrs().http, "/status", WAIT).expect("/status");
    body
}

fn metrics(gateway: &Gateway) -> String {
    let (_, body) =
        hayate::adapters::http::get(gateway.addrs().http, "/metrics", WAIT).expect("/metrics");
    body
}

/// Waits (bounded) for the guard's state to become `tripped`.
fn wait_guard(gateway: &Gateway, tripped: bool) {
    let deadline = Instant::now() + WAIT;
    while gateway.disk_guard().is_tripped() != tripped {
        assert!(
            Instant::now() < deadline,
            "the guard did not become {}; {} bytes free",
            if tripped { "tripped" } else { "clear" },
            gateway.disk_guard().free()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn binary_logon(addr: SocketAddr, user: &str) -> BinaryClient {
    let mut client = BinaryClient::connect(addr, WAIT).expect("connect");
    let logon = Logon::new(user, "change-me", CancelOnDisconnect::Configured).expect("short");
    client.send(&ClientMessage::Logon(logon)).expect("send");
    let ack = client.recv().expect("logon answer");
    assert!(matches!(
        ServerMessage::decode(&ack),
        Ok(ServerMessage::LogonAck(_))
    ));
    client
}

/// The next Report a binary client gets (heartbeats and symbol infos skipped).
fn next_report(client: &mut BinaryClient) -> hayate::adapters::binary::messages::Report {
    loop {
        let bytes = client.recv().expect("a message");
        if let Ok(ServerMessage::Report(report)) = ServerMessage::decode(&bytes) {
            return report;
        }
    }
}

fn binary_sell(id: &str, lots: u64) -> ClientMessage {
    ClientMessage::NewOrder(NewOrder::new(
        ClientOrderId::new(id).expect("short id"),
        SymbolId(0),
        Side::Sell,
        OrderType::Limit,
        TimeInForce::Gtc,
        Price(5_100_000),
        Qty(lots),
    ))
}

#[test]
fn a_full_disk_refuses_new_orders_and_replaces_then_trading_resumes_and_nothing_is_lost() {
    let Some(tmpfs) = Tmpfs::mount("24m") else {
        return;
    };
    let data = tmpfs.path().join("data");
    // 1 MiB segments; the guard trips below 4 MiB and clears at 5 MiB (4 + the 1 MiB margin).
    let text = config_toml(&data, None, "")
        .replace("segment_size = 67108864", "segment_size = 1048576")
        .replace("min_free_mb = 128", "min_free_mb = 4")
        .replace("fix_message_store_mb = 16", "fix_message_store_mb = 1");
    let config =
        hayate::ExchangeConfig::from_toml_str(&text, "disk_guard.toml").expect("valid config");
    let engine_config = config.engine_config().clone();
    let gateway = start(config);
    assert!(!gateway.disk_guard().is_tripped());
    assert!(status(&gateway).contains("\"guard\":\"ok\""));

    let mut alice = FixClient::connect(gateway.addrs().fix, "ALICE");
    assert_eq!(field(&alice.logon("alice", "change-me", &[]), 35), "A");
    let mut bob = binary_logon(gateway.addrs().binary, "bob");
    let mut acknowledged: Vec<String> = Vec::new();
    alice.new_order("rest-1", "1", "1", "4900000");
    assert_eq!(field(&alice.recv_type("8"), 39), "0");
    acknowledged.push("rest-1".into());
    alice.new_order("rest-2", "1", "1", "4800000");
    assert_eq!(field(&alice.recv_type("8"), 39), "0");
    acknowledged.push("rest-2".into());

    // Someone else fills the disk: 3 MiB left, below the guard's 4.
    let ballast = tmpfs.fill_leaving(3 * MIB);
    wait_guard(&gateway, true);

    // FIX: a new order gets an ExecutionReport Rejected, a replace an OrderCancelReject.
    alice.new_order("refused-1", "1", "1", "4900000");
    let refused = alice.recv_type("8");
    assert_eq!(
        (
            field(&refused, 39),
            field(&refused, 150),
            field(&refused, 103)
        ),
        ("8", "8", "99")
    );
    assert!(field(&refused, 58).contains("DISK_FULL"), "{refused:?}");
    alice.send(
        "G",
        &[
            (41, "rest-1"),
            (11, "refused-2"),
            (55, "BTC-JPY"),
            (54, "1"),
            (60, "20260101-00:00:00.000"),
            (38, "2"),
            (40, "2"),
            (44, "4900000"),
        ],
    );
    let refused = alice.recv_type("9");
    assert_eq!((field(&refused, 434), field(&refused, 102)), ("2", "99"));
    assert!(field(&refused, 58).contains("DISK_FULL"), "{refused:?}");
    // Binary: the Report the engine would have sent, sequence 0 (never journaled).
    bob.send(&binary_sell("refused-3", 1)).expect("send");
    let report = next_report(&mut bob);
    assert_eq!(report.seq, 0);
    let event = report.event();
    assert_eq!(event.event_kind(), Some(EventKind::Rejected));
    assert_eq!(event.reason(), Reason::DiskFull);
    assert_eq!(event.client_order_id.as_bytes(), b"refused-3");
    // A cancel still goes through: it frees what the order held, and its record is small.
    alice.send(
        "F",
        &[
            (41, "rest-2"),
            (11, "cancel-1"),
            (55, "BTC-JPY"),
            (54, "1"),
            (60, "20260101-00:00:00.000"),
        ],
    );
    let canceled = alice.recv_type("8");
    assert_eq!(field(&canceled, 39), "4", "{canceled:?}");

    // The alarm: /status and /metrics.
    let json = status(&gateway);
    assert!(json.contains("\"guard\":\"tripped\""), "{json}");
    assert!(
        json.contains(&format!("\"min_free_bytes\":{}", 4 * MIB)),
        "{json}"
    );
    let text = metrics(&gateway);
    for line in [
        "hayate_disk_guard_tripped 1",
        "hayate_disk_guard_trips_total 1",
        "hayate_rejects_total{reason=\"DISK_FULL\"} 3",
    ] {
        assert!(text.contains(line), "{line} missing from /metrics");
    }

    // Between the threshold and the margin the guard holds: 4.5 MiB free is not enough.
    std::fs::OpenOptions::new()
        .write(true)
        .open(&ballast)
        .and_then(|f| {
            let len = f.metadata()?.len();
            f.set_len(len - 3 * MIB / 2)
        })
        .expect("free 1.5 MiB");
    std::thread::sleep(Duration::from_millis(600));
    assert!(
        gateway.disk_guard().is_tripped(),
        "cleared inside the margin"
    );

    // Space comes back: orders are taken again, and they trade.
    std::fs::remove_file(&ballast).expect("remove ballast");
    wait_guard(&gateway, false);
    assert!(status(&gateway).contains("\"guard\":\"ok\""));
    assert!(metrics(&gateway).contains("hayate_disk_guard_tripped 0"));
    alice.new_order("after-1", "1", "1", "5100000");
    assert_eq!(field(&alice.recv_type("8"), 39), "0");
    acknowledged.push("after-1".into());
    bob.send(&binary_sell("after-2", 1)).expect("send");
    let accepted = next_report(&mut bob);
    assert!(accepted.seq > 0);
    assert_eq!(accepted.event().event_kind(), Some(EventKind::Accepted));
    acknowledged.push("after-2".into());
    let fill = next_report(&mut bob);
    assert_eq!(fill.event().event_kind(), Some(EventKind::Fill));

    gateway.stop().expect("stop");

    // The journal holds every acknowledged new order and none of the refused ones.
    let mut journaled = HashSet::new();
    recovery::replay(
        &engine_config,
        &data.join("journal"),
        ReplayOptions::default(),
        |_, command, _| {
            if command.command_kind() == Some(CommandKind::NewOrder)
                || command.command_kind() == Some(CommandKind::Replace)
            {
                journaled.insert(
                    String::from_utf8_lossy(command.client_order_id.as_bytes()).into_owned(),
                );
            }
        },
        |_| {},
    )
    .expect("replay");
    for id in &acknowledged {
        assert!(
            journaled.contains(id),
            "acknowledged {id} is not in the journal"
        );
    }
    for id in ["refused-1", "refused-2", "refused-3"] {
        assert!(!journaled.contains(id), "refused {id} reached the journal");
    }
}
