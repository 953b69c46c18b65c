//! The bridge's NATS JetStream sink (issue 16) against real `nats-server`s: a realistic journal
//! (deposits, crossing limit orders, cancels, replaces on two symbols, one of them named with
//! characters NATS subjects cannot hold) applied with the bridge's [`Applier`] and written in
//! batches, then read back from the streams and the KV buckets and compared with what the
//! applier produced: exactly, in order, each message once — after a clean run, after a crash
//! between the acks and the cursor write, with the server killed and restarted mid-stream, and on
//! a three-server cluster losing a stream leader.
//!
//! `nats-server` comes from Debian's `nats-server` package. Where it is missing the tests say so
//! and pass, unless `CI` is set: then they fail.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::thread::{self, sleep};
use std::time::{Duration, Instant};

use hayate::adapters::bridge::{
    Applied, Applier, NatsSettings, NatsSink, Sink, SinkError, subject_token,
};
use hayate::{
    AccountId, Amount, AssetId, ClientOrderId, Command, EngineConfig, NewOrder, OrderId, OrderRef,
    Price, Qty, Side, SymbolId,
};
use hayate_testkit::market::two_symbol_config;
use hayate_testkit::nats::{NatsCluster, NatsReader, NatsServer, nats_server_or_skip};
use hayate_testkit::rng::Rng;

/// The exchange's configuration digest the sinks are given.
const DIGEST: u64 = 0x4841_5941_5445_0001;
/// A level-2 snapshot every this many updates of a symbol.
const SNAPSHOT_EVERY: u64 = 40;

/// Two symbols; the second named so that its subject token needs escaping.
fn config() -> EngineConfig {
    let mut config = two_symbol_config(4, 1_000);
    config.order_capacity = 4096;
    config.symbols[1].name = "ETH/JPY.v2".into();
    config
}

/// `count` commands — deposits, then limit orders around the reference price (about a third
/// crossing), cancels and replaces of open orders — and what the applier made of each.
fn journal(count: usize, seed: u64) -> Vec<Applied> {
    let config = config();
    let mut applier = Applier::new(&config, SNAPSHOT_EVERY).with_market_state_every(250);
    let mut rng = Rng::new(seed);
    let mut open: Vec<(u32, u64, String)> = Vec::new();
    let mut out = Vec::with_capacity(count);
    let mut commands: Vec<Command> = Vec::new();
    for account in 1..=4 {
        for asset in 0..3 {
            commands.push(Command::deposit(
                AccountId(account),
                AssetId(asset),
                Amount(1 << 50),
            ));
        }
    }
    commands.reverse();
    let mut next_id = 0u64;
    let mut clid = || {
        next_id += 1;
        ClientOrderId::new(&format!("c{next_id}")).unwrap_or_default()
    };
    for seq in 1..=count as u64 {
        let command = match commands.pop() {
            Some(deposit) => deposit,
            None => {
                let roll = rng.below(100);
                if roll < 25 && !open.is_empty() {
                    let (account, id, _) = &open[rng.below(open.len() as u64) as usize];
                    Command::cancel(AccountId(*account), OrderRef::Id(OrderId(*id)), clid())
                } else if roll < 35 && !open.is_empty() {
                    let (account, id, _) = &open[rng.below(open.len() as u64) as usize];
                    let (account, id) = (*account, *id);
                    let price = Price(990 + rng.below(20));
                    let qty = Qty(1 + rng.below(30));
                    Command::replace(
                        AccountId(account),
                        OrderRef::Id(OrderId(id)),
                        clid(),
                        price,
                        qty,
                    )
                } else {
                    let account = AccountId(1 + rng.below(4) as u32);
                    let symbol = SymbolId(rng.below(2) as u16);
                    let side = if rng.below(2) == 0 {
                        Side::Buy
                    } else {
                        Side::Sell
                    };
                    // Buyers mostly below 1000 and sellers above, a third through the touch.
                    let offset = rng.below(15);
                    let crossing = rng.below(3) == 0;
                    let price = match (side, crossing) {
                        (Side::Buy, false) | (Side::Sell, true) => 1000 - offset,
                        (Side::Sell, false) | (Side::Buy, true) => 1000 + offset,
                    };
                    let qty = Qty(1 + rng.below(20));
                    Command::new_order(NewOrder::limit(
                        account,
                        symbol,
                        side,
                        Price(price),
                        qty,
                        clid(),
                    ))
                }
            }
        };
        let applied = applier.apply(seq, &command.at(1_735_689_600_000_000_000 + seq * 1_000));
        for event in &applied.order_events {
            let key = (event.account, event.order_id);
            match event.kind {
                "accepted" => open.push((event.account, event.order_id, String::new())),
                "canceled" => open.retain(|(a, o, _)| (*a, *o) != key),
                "fill" if event.leaves_qty.is_zero() => open.retain(|(a, o, _)| (*a, *o) != key),
                _ => {}
            }
        }
        out.push(applied);
    }
    out
}

/// What a stream should hold: (subject, Nats-Msg-Id, Hayate-Md-Seq, payload), in order.
type Expected = Vec<(String, String, Option<u64>, String)>;

fn expected(journal: &[Applied]) -> (Expected, Expected, Expected) {
    let (mut md, mut trades, mut dropcopy) = (Vec::new(), Vec::new(), Vec::new());
    for applied in journal {
        for (n, m) in applied.market.iter().enumerate() {
            md.push((
                format!(
                    "hayate.md.{}.{}",
                    subject_token(&m.symbol),
                    m.channel.name()
                ),
                format!("{}.{n}", applied.seq),
                Some(m.sequence),
                m.text.clone(),
            ));
        }
        for (n, t) in applied.trades.iter().enumerate() {
            trades.push((
                format!("hayate.trades.{}", subject_token(&t.symbol)),
                format!("{}.{n}", applied.seq),
                None,
                serde_json::to_string(t).expect("a trade row serialises"),
            ));
        }
        for (n, e) in applied.order_events.iter().enumerate() {
            dropcopy.push((
                format!("hayate.dropcopy.{}", e.account),
                format!("{}.{n}", applied.seq),
                None,
                serde_json::to_string(e).expect("an order event row serialises"),
            ));
        }
    }
    (md, trades, dropcopy)
}

/// Reads `stream` and compares it with `want`, message by message.
fn check_stream(reader: &NatsReader, stream: &str, want: &Expected) {
    let got = reader.read_stream(stream).expect("the stream reads");
    let ids: Vec<&str> = got.iter().map(|m| m.msg_id.as_str()).collect();
    let mut unique = ids.clone();
    unique.sort_unstable();
    unique.dedup();
    assert_eq!(unique.len(), ids.len(), "{stream}: a message id twice");
    assert_eq!(
        got.len(),
        want.len(),
        "{stream}: {} messages, {} expected",
        got.len(),
        want.len()
    );
    for (i, (message, (subject, id, md_seq, text))) in got.iter().zip(want).enumerate() {
        assert_eq!(&message.subject, subject, "{stream} message {i}");
        assert_eq!(&message.msg_id, id, "{stream} message {i}");
        assert_eq!(&message.md_seq, md_seq, "{stream} message {i}");
        assert_eq!(&message.text, text, "{stream} message {i}");
        let seq: u64 = id
            .split('.')
            .next()
            .and_then(|s| s.parse().ok())
            .unwrap_or(0);
        assert_eq!(message.seq, Some(seq), "{stream} message {i}: Hayate-Seq");
    }
}

/// Everything the sink should have published for `journal`, checked against the NATS contents.
fn verify(reader: &NatsReader, journal: &[Applied]) {
    let (md, trades, dropcopy) = expected(journal);
    assert!(
        !trades.is_empty() && md.len() > trades.len(),
        "a realistic journal"
    );
    check_stream(reader, "HAYATE_MD", &md);
    check_stream(reader, "HAYATE_TRADES", &trades);
    check_stream(reader, "HAYATE_DROPCOPY", &dropcopy);

    // The events stream: one message per command (its engine events, binary), in journal
    // order; and the market-data state an edge starts from is the applier's newest, naming the
    // events message of its command.
    let events = reader.read_stream("HAYATE_EVENTS").expect("events read");
    let ids: Vec<String> = events.iter().map(|m| m.msg_id.clone()).collect();
    let expected_ids: Vec<String> = journal
        .iter()
        .filter(|a| !a.events.is_empty())
        .map(|a| format!("{}.0", a.seq))
        .collect();
    assert_eq!(
        ids, expected_ids,
        "one events message per command, in order"
    );
    let newest_state = journal
        .iter()
        .rev()
        .find_map(|a| a.market_state.as_ref().map(|s| (a.seq, s.clone())));
    if let Some((seq, state)) = newest_state {
        let value = reader
            .kv_get("hayate_md_state", "market")
            .expect("the bucket reads")
            .expect("a market-data state");
        let journal_seq = u64::from_le_bytes(value[0..8].try_into().expect("8 bytes"));
        let stream_seq = u64::from_le_bytes(value[8..16].try_into().expect("8 bytes"));
        assert_eq!(journal_seq, seq, "the newest state");
        assert_eq!(
            &value[16..],
            &state[..],
            "the applier's state, byte for byte"
        );
        let named = events
            .iter()
            .find(|m| m.stream_seq == stream_seq)
            .expect("the state names a stored events message");
        assert_eq!(
            named.msg_id,
            format!("{seq}.0"),
            "the events message of its command"
        );
    }

    // Per symbol, market-data sequences are contiguous (each update's messages share one).
    let stored = reader.read_stream("HAYATE_MD").expect("md reads");
    let mut last: HashMap<String, u64> = HashMap::new();
    for message in &stored {
        let token = message.subject.split('.').nth(2).unwrap_or("").to_string();
        let seq = message.md_seq.expect("md messages carry Hayate-Md-Seq");
        let previous = last.insert(token.clone(), seq).unwrap_or(0);
        assert!(
            seq == previous || seq == previous + 1,
            "{token}: market-data sequence {seq} after {previous}"
        );
    }

    // The KV snapshot of each symbol is the applier's newest, and points at the last message of
    // its update: an edge consuming from the next stream sequence sees exactly what follows.
    let mut newest: HashMap<String, (u64, String)> = HashMap::new();
    for snapshot in journal.iter().flat_map(|a| &a.snapshots) {
        newest.insert(
            subject_token(&snapshot.symbol),
            (snapshot.sequence, snapshot.text.clone()),
        );
    }
    assert_eq!(newest.len(), 2, "both symbols have snapshots");
    for (token, (sequence, text)) in &newest {
        let value = reader
            .kv_get("hayate_md_snapshot", token)
            .expect("the bucket reads")
            .unwrap_or_else(|| panic!("no snapshot for {token}"));
        let value: serde_json::Value = serde_json::from_slice(&value).expect("snapshot JSON");
        assert_eq!(value["sequence"].as_u64(), Some(*sequence), "{token}");
        let snapshot: serde_json::Value = serde_json::from_str(text).expect("snapshot text");
        assert_eq!(value["snapshot"], snapshot, "{token}");
        let stream_seq = value["stream_seq"].as_u64().expect("stream_seq");
        let of_symbol: Vec<_> = stored
            .iter()
            .filter(|m| m.subject.split('.').nth(2) == Some(token.as_str()))
            .collect();
        let at = of_symbol
            .iter()
            .position(|m| m.stream_seq == stream_seq)
            .unwrap_or_else(|| panic!("{token}: stream_seq {stream_seq} is not its message"));
        assert_eq!(of_symbol[at].md_seq, Some(*sequence), "{token}");
        if let Some(next) = of_symbol.get(at + 1) {
            assert_eq!(next.md_seq, Some(sequence + 1), "{token}: the next update");
        }
    }
}

/// The bridge's loop, reduced: cursor, next batch, write; waits and retries on `Unavailable`.
/// Calls `between(batches written)` after each successful write. Returns (writes that failed,
/// the longest a failed write took).
fn drive(
    sink: &mut NatsSink,
    journal: &[Applied],
    batch: usize,
    within: Duration,
    mut between: impl FnMut(usize),
) -> (usize, Duration) {
    let deadline = Instant::now() + within;
    let (mut failures, mut longest, mut written) = (0, Duration::ZERO, 0);
    loop {
        assert!(Instant::now() < deadline, "not done within {within:?}");
        let cursor = match sink.cursor() {
            Ok(cursor) => cursor as usize,
            Err(SinkError::Unavailable { message, .. }) => {
                eprintln!("cursor unavailable: {message}");
                sleep(Duration::from_millis(200));
                continue;
            }
            Err(e) => panic!("{e}"),
        };
        if cursor == journal.len() {
            return (failures, longest);
        }
        let end = (cursor + batch).min(journal.len());
        let started = Instant::now();
        match sink.write(&journal[cursor..end]) {
            Ok(()) => {
                written += 1;
                between(written);
            }
            Err(SinkError::Unavailable { message, .. }) => {
                failures += 1;
                longest = longest.max(started.elapsed());
                eprintln!(
                    "write of {}..={} unavailable after {:?}: {message}",
                    cursor + 1,
                    end,
                    started.elapsed()
                );
                sleep(Duration::from_millis(200));
            }
            Err(e) => panic!("{e}"),
        }
    }
}

/// Connects, retrying while the server (or a cluster's JetStream) is not ready yet.
fn connect(servers: &[String], settings: &NatsSettings) -> NatsSink {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        match NatsSink::connect(servers, settings.clone(), DIGEST) {
            Ok(sink) => return sink,
            Err(SinkError::Unavailable { message, .. }) if Instant::now() < deadline => {
                eprintln!("connect: {message}");
                sleep(Duration::from_millis(250));
            }
            Err(e) => panic!("{e}"),
        }
    }
}

fn settings() -> NatsSettings {
    NatsSettings {
        timeout: Duration::from_secs(1),
        ..NatsSettings::default()
    }
}

#[test]
fn the_streams_hold_exactly_what_the_core_produced() {
    if nats_server_or_skip("the_streams_hold_exactly_what_the_core_produced").is_none() {
        return;
    }
    let server = NatsServer::start().expect("nats-server starts");
    let journal = journal(3_000, 1);
    let mut sink = connect(&[server.url()], &settings());
    assert_eq!(sink.cursor().expect("cursor"), 0);
    // Commands per write; HAYATE_NATS_BATCH changes it for the figure.
    let batch = std::env::var("HAYATE_NATS_BATCH")
        .ok()
        .and_then(|b| b.parse().ok())
        .unwrap_or(100usize)
        .max(1);
    let started = Instant::now();
    for chunk in journal.chunks(batch) {
        sink.write(chunk).expect("write");
    }
    let elapsed = started.elapsed();
    let (md, trades, dropcopy) = expected(&journal);
    let messages = md.len() + trades.len() + dropcopy.len();
    eprintln!(
        "published {messages} messages ({} md, {} trades, {} drop copy) for {} commands in \
         {elapsed:?}, batches of {batch} commands: {:.0} messages/s, {:.0} commands/s",
        md.len(),
        trades.len(),
        dropcopy.len(),
        journal.len(),
        messages as f64 / elapsed.as_secs_f64(),
        journal.len() as f64 / elapsed.as_secs_f64()
    );
    assert_eq!(sink.cursor().expect("cursor"), journal.len() as u64);
    let reader = NatsReader::connect(&[server.url()]).expect("reader connects");
    // The floor in the same run: the same payloads published straight to a stream of their
    // own, no headers, as many in flight as the sink allows.
    let payloads: Vec<Vec<u8>> = md
        .iter()
        .chain(&trades)
        .chain(&dropcopy)
        .map(|(.., text)| text.clone().into_bytes())
        .collect();
    let floor = reader
        .publish_floor(&payloads, settings().max_in_flight)
        .expect("the floor");
    eprintln!(
        "floor: the same {messages} payloads published with acks, {} in flight, in {floor:?}: \
         {:.0} messages/s; the sink took {:.2}× the floor",
        settings().max_in_flight,
        messages as f64 / floor.as_secs_f64(),
        elapsed.as_secs_f64() / floor.as_secs_f64()
    );
    verify(&reader, &journal);
    assert!(
        md.iter()
            .any(|(s, ..)| s.starts_with("hayate.md.ETH=2FJPY=2Ev2.")),
        "the escaped symbol's subjects"
    );
}

#[test]
fn a_restarted_sink_resumes_without_duplicates_after_a_crash_before_the_cursor_write() {
    if nats_server_or_skip("a_restarted_sink_resumes…").is_none() {
        return;
    }
    let server = NatsServer::start().expect("nats-server starts");
    let reader = NatsReader::connect(&[server.url()]).expect("reader connects");
    let journal = journal(1_500, 2);
    {
        let mut sink = connect(&[server.url()], &settings());
        for chunk in journal[..500].chunks(100) {
            sink.write(chunk).expect("write");
        }
    }
    // A new sink on the same NATS resumes at the cursor.
    let mut sink = connect(&[server.url()], &settings());
    assert_eq!(sink.cursor().expect("cursor"), 500);
    // Writes 500 more, then the cursor goes back to where it was: as if the bridge died after
    // the acks and before the cursor write (the second write ends mid-way through what the
    // next run's batches will be, so the next run finds a tail inside a batch).
    let saved = reader
        .kv_get("hayate_bridge", "cursor")
        .expect("cursor reads")
        .expect("a cursor");
    sink.write(&journal[500..700]).expect("write");
    sink.write(&journal[700..1_000]).expect("write");
    drop(sink);
    reader
        .kv_put("hayate_bridge", "cursor", saved)
        .expect("cursor rewinds");
    let mut sink = connect(&[server.url()], &settings());
    assert_eq!(sink.cursor().expect("cursor"), 500, "the rewound cursor");
    // Other batch boundaries than the first run's.
    let (failures, _) = drive(&mut sink, &journal, 137, Duration::from_secs(40), |_| {});
    assert_eq!(failures, 0);
    verify(&reader, &journal);
}

#[test]
fn nats_killed_mid_stream_costs_neither_a_gap_nor_a_duplicate() {
    if nats_server_or_skip("nats_killed_mid_stream…").is_none() {
        return;
    }
    let server = Arc::new(Mutex::new(NatsServer::start().expect("nats-server starts")));
    let url = server.lock().expect("server").url();
    let journal = journal(3_000, 3);
    let settings = settings();
    let mut sink = connect(std::slice::from_ref(&url), &settings);
    let mut killer = None;
    let (failures, longest) = drive(&mut sink, &journal, 200, Duration::from_secs(50), |n| {
        if n == 4 {
            // Dies a moment into the next write, stays down two seconds, comes back on the same
            // port and store.
            let server = Arc::clone(&server);
            killer = Some(thread::spawn(move || {
                // A batch takes tens of milliseconds: this lands inside one.
                sleep(Duration::from_millis(20));
                server.lock().expect("server").kill();
                sleep(Duration::from_secs(2));
                server.lock().expect("server").restart().expect("restarts");
            }));
        }
    });
    if let Some(killer) = killer {
        killer.join().expect("the killer thread");
    }
    assert!(failures > 0, "the kill was noticed");
    assert!(
        longest <= settings.timeout * 3 + Duration::from_millis(500),
        "a failed write took {longest:?}"
    );
    let reader = NatsReader::connect(&[url]).expect("reader connects");
    verify(&reader, &journal);
}

#[test]
fn a_restart_after_the_duplicate_window_does_not_stall_the_sink() {
    // A restarted server knows its streams' last message id only if that message is younger
    // than the duplicate window; a sink chaining every message by Nats-Expected-Last-Msg-Id
    // would then be refused for ever. The first message of each write names the last stream
    // sequence instead, which the server always knows.
    if nats_server_or_skip("a_restart_after_the_duplicate_window…").is_none() {
        return;
    }
    let mut server = NatsServer::start().expect("nats-server starts");
    let settings = NatsSettings {
        duplicate_window: Duration::from_millis(500),
        ..settings()
    };
    let journal = journal(1_000, 7);
    let mut sink = connect(&[server.url()], &settings);
    for chunk in journal[..400].chunks(100) {
        sink.write(chunk).expect("write");
    }
    sleep(Duration::from_millis(1_200));
    server.restart().expect("restarts");
    let (failures, _) = drive(&mut sink, &journal, 100, Duration::from_secs(20), |_| {});
    eprintln!("writes retried while the client reconnected: {failures}");
    let reader = NatsReader::connect(&[server.url()]).expect("reader connects");
    verify(&reader, &journal);
}

#[test]
fn a_cluster_losing_a_stream_leader_keeps_every_message_once() {
    if nats_server_or_skip("a_cluster_losing_a_stream_leader…").is_none() {
        return;
    }
    let cluster = Arc::new(Mutex::new(
        NatsCluster::start(3).expect("the cluster starts"),
    ));
    let urls = cluster.lock().expect("cluster").urls();
    let settings = NatsSettings {
        replicas: 3,
        timeout: Duration::from_secs(2),
        ..NatsSettings::default()
    };
    let journal = journal(2_000, 4);
    let mut sink = connect(&urls, &settings);
    let reader = NatsReader::connect(&urls).expect("reader connects");
    let leader = reader
        .stream_leader("HAYATE_MD")
        .expect("the stream elects a leader");
    let index = |name: &str| {
        let cluster = cluster.lock().expect("cluster");
        (0..3).find(|&i| cluster.name(i) == name)
    };
    let leader = index(&leader).expect("the leader is one of ours");
    let follower = (leader + 1) % 3;
    eprintln!("HAYATE_MD's leader: n{leader}; the follower killed later: n{follower}");
    let mut threads = Vec::new();
    let (failures, _) = drive(&mut sink, &journal, 100, Duration::from_secs(50), |n| {
        let cluster = Arc::clone(&cluster);
        match n {
            // The leader dies mid-write and comes back a few batches later.
            3 => threads.push(thread::spawn(move || {
                sleep(Duration::from_millis(5));
                cluster.lock().expect("cluster").kill(leader);
            })),
            8 => cluster
                .lock()
                .expect("cluster")
                .restart(leader)
                .expect("restarts"),
            // Then, once the restarted leader has caught up (as an operator waits between two
            // restarts: killing a second server earlier can leave a stream without a quorum), a
            // follower dies mid-write and stays down.
            11 => cluster
                .lock()
                .expect("cluster")
                .wait_healthy(leader, Duration::from_secs(30))
                .expect("the restarted server catches up"),
            12 => threads.push(thread::spawn(move || {
                sleep(Duration::from_millis(5));
                cluster.lock().expect("cluster").kill(follower);
            })),
            _ => {}
        }
    });
    for thread in threads {
        thread.join().expect("a killer thread");
    }
    eprintln!("writes that failed and were retried: {failures}");
    let alive: Vec<String> = urls
        .iter()
        .enumerate()
        .filter(|(i, _)| *i != follower)
        .map(|(_, u)| u.clone())
        .collect();
    let reader = NatsReader::connect(&alive).expect("reader connects");
    verify(&reader, &journal);
}

#[test]
fn two_bridges_racing_store_every_message_once() {
    if nats_server_or_skip("two_bridges_racing…").is_none() {
        return;
    }
    let server = NatsServer::start().expect("nats-server starts");
    let journal = Arc::new(journal(2_000, 6));
    let url = server.url();
    // The cursor exists before they race (a first start creates it; two first starts at once
    // would see one of them refused, which the bridge retries).
    drop(connect(std::slice::from_ref(&url), &settings()));
    let racers: Vec<_> = [50, 73]
        .into_iter()
        .map(|batch| {
            let (journal, url) = (Arc::clone(&journal), url.clone());
            thread::spawn(move || {
                let mut sink = connect(&[url], &settings());
                drive(&mut sink, &journal, batch, Duration::from_secs(50), |_| {}).0
            })
        })
        .collect();
    let refused: Vec<usize> = racers
        .into_iter()
        .map(|r| r.join().expect("a racer"))
        .collect();
    eprintln!("writes refused and retried, per bridge: {refused:?}");
    let reader = NatsReader::connect(&[url]).expect("reader connects");
    verify(&reader, &journal);
}

#[test]
fn another_exchanges_cursor_is_fatal() {
    if nats_server_or_skip("another_exchanges_cursor_is_fatal").is_none() {
        return;
    }
    let server = NatsServer::start().expect("nats-server starts");
    let journal = journal(50, 5);
    let mut sink = connect(&[server.url()], &settings());
    sink.write(&journal).expect("write");
    drop(sink);
    match NatsSink::connect(&[server.url()], settings(), DIGEST + 1) {
        Err(SinkError::Fatal { message, .. }) => {
            assert!(message.contains("another exchange"), "{message}");
        }
        other => panic!("expected Fatal, got {other:?}"),
    }
    // The right digest still continues.
    let mut sink = connect(&[server.url()], &settings());
    assert_eq!(sink.cursor().expect("cursor"), 50);
}
