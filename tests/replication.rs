//! Replication without sockets (issue 6): a standby fed the primary's journal through a tailer
//! reaches the same state at the same sequence; gaps are refused and retransmissions skipped.

use std::time::{Duration, Instant};

use hayate::adapters::replication::standby::{Applier, ApplyError};
use hayate::journal::{FlushPolicy, JournalOptions, Tailer};
use hayate::pipeline::{EventReceiver, Pipeline};
use hayate::*;
use hayate_testkit::replication::demo_order;

fn options() -> JournalOptions {
    JournalOptions {
        segment_size: 1 << 20,
        flush_policy: FlushPolicy::Never,
        first_seq: 1,
    }
}

fn stop(pipeline: Pipeline, mut events: EventReceiver) -> hayate::pipeline::StopReport {
    let stopper = std::thread::spawn(move || pipeline.stop());
    let end = Instant::now() + Duration::from_secs(30);
    while events.poll(|_| {}).is_ok() && Instant::now() < end {
        std::thread::yield_now();
    }
    stopper.join().expect("stop thread").expect("stop")
}

#[test]
fn a_standby_fed_the_primarys_journal_reaches_the_same_digest_at_the_same_sequence() {
    let config = ExchangeConfig::demo();
    let primary_dir = tempfile::tempdir().expect("tempdir");
    let standby_dir = tempfile::tempdir().expect("tempdir");
    let (primary, primary_events, _) =
        Pipeline::builder(config.engine_config().clone(), primary_dir.path())
            .journal_options(options())
            .initial_commands(config.initial_deposits())
            .start()
            .expect("primary");
    // The standby applies nothing of its own, not even the deposits: they come from the primary.
    let (standby, standby_events, _) =
        Pipeline::builder(config.engine_config().clone(), standby_dir.path())
            .journal_options(options())
            .start()
            .expect("standby");
    let mut publisher = primary.publisher();
    for n in 0..2_000 {
        if n == 1_000 {
            // The kill switch is a journaled command: the standby blocks account 1 too, and
            // refuses its later orders as the primary does (BEHAVIOUR.md §10), or the digests
            // below would differ.
            publisher
                .publish(&Command::block(AccountId(1)).at(n))
                .expect("publish");
        }
        publisher
            .publish(&demo_order(1 + (n % 2) as u32, n))
            .expect("publish");
    }
    drop(publisher);
    let total = 2_001 + config.initial_deposits().len() as u64;

    let mut tailer = Tailer::open(primary_dir.path().join("journal"), 1).expect("tailer");
    let mut applier = Applier::new(standby.publisher(), 0);
    let deadline = Instant::now() + Duration::from_secs(30);
    while applier.next_seq() <= total && Instant::now() < deadline {
        tailer
            .poll(|seq, bytes| {
                let command = Command::from_bytes(bytes).expect("a command");
                applier.apply(seq, &command).expect("in order");
            })
            .expect("tail");
        std::thread::yield_now();
    }
    assert_eq!(applier.next_seq(), total + 1);
    // A retransmission is skipped; a gap is refused.
    applier
        .apply(5, &Command::halt(None))
        .expect("duplicate skipped");
    assert_eq!(
        applier.apply(total + 2, &Command::halt(None)),
        Err(ApplyError::Gap {
            expected: total + 1,
            got: total + 2
        })
    );
    drop(applier);
    let primary_report = stop(primary, primary_events);
    let standby_report = stop(standby, standby_events);
    assert_eq!(standby_report.processed_seq, primary_report.processed_seq);
    assert_eq!(standby_report.digest, primary_report.digest);
}

mod over_tcp {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, Ordering};

    use hayate::adapters::replication::primary::{PrimarySettings, ReplicationServer};
    use hayate::adapters::replication::standby::{
        Applier, FollowerSettings, FollowerStatus, follow,
    };
    use hayate::adapters::secrets::PairSecret;
    use hayate::adapters::tls::{PairTls, client_config, load_server_config};
    use hayate::pipeline::ReplicationMode;
    use hayate::pipeline::{ReplicaLink, StandbyLossPolicy, Wait};
    use hayate_testkit::certificate;
    use hayate_testkit::replication::EpochOneNode;

    use super::*;

    const SECRET: &str = "the pair's secret, 32 bytes long";

    fn secret(text: &str) -> PairSecret {
        PairSecret::new(text.as_bytes()).expect("a long enough secret")
    }

    fn digest_of(config: &ExchangeConfig) -> u64 {
        Engine::new(config.engine_config().clone()).digest()
    }

    /// A primary of `config` journaling under `dir`, on a free port, over TLS with `tls`.
    fn primary_settings(
        config: &ExchangeConfig,
        dir: &std::path::Path,
        tls: Option<&PairTls>,
    ) -> PrimarySettings {
        PrimarySettings {
            listen: "127.0.0.1:0".parse().expect("addr"),
            journal_dir: dir.join("journal"),
            heartbeat: Duration::from_millis(50),
            config_digest: digest_of(config),
            wait: Wait::Backoff,
            secret: secret(SECRET),
            tls: tls.map(|tls| Arc::clone(tls.server())),
            observers: None,
        }
    }

    /// A standby of `config` following `primary` with the pair's secret, over TLS with `tls`.
    fn follower_settings(
        config: &ExchangeConfig,
        primary: std::net::SocketAddr,
        tls: Option<PairTls>,
        link: Arc<ReplicaLink>,
    ) -> FollowerSettings {
        FollowerSettings {
            primary,
            heartbeat: Duration::from_millis(50),
            config_digest: digest_of(config),
            promote_after: None,
            wait: Wait::Backoff,
            secret: secret(SECRET),
            tls,
            link,
        }
    }

    /// A standby's own pipeline link: inactive (it has no standby of its own); it wakes the
    /// follower when records become durable.
    fn idle_link() -> Arc<ReplicaLink> {
        let link = ReplicaLink::new(
            ReplicationMode::Sync,
            StandbyLossPolicy::Halt,
            Duration::from_secs(10),
        );
        link.set_active(false);
        link
    }

    /// `[tls] replication = true` as both nodes of a test pair load it: one self-signed
    /// certificate for 127.0.0.1, presented by the primary and trusted by the standby.
    fn pair_tls(dir: &std::path::Path) -> PairTls {
        let (cert, key) = certificate::self_signed(dir);
        let server = load_server_config(&cert, &key).expect("the test certificate");
        let client = client_config(&cert).expect("trusted");
        PairTls::new(server, client, None)
    }

    /// Sync mode over a real socket: every batch waits for the standby's acknowledgement, and
    /// the standby ends in the same state at the same sequence.
    #[test]
    fn a_sync_standby_over_tcp_holds_every_command_the_primary_matched() {
        sync_standby_holds_every_command_the_primary_matched(None);
    }

    /// The same over TLS (`[tls] replication = true`).
    #[test]
    fn a_sync_standby_over_tls_holds_every_command_the_primary_matched() {
        let certs = tempfile::tempdir().expect("tempdir");
        sync_standby_holds_every_command_the_primary_matched(Some(pair_tls(certs.path())));
    }

    fn sync_standby_holds_every_command_the_primary_matched(tls: Option<PairTls>) {
        let _ = tracing_subscriber::fmt().with_test_writer().try_init();
        let config = ExchangeConfig::demo();
        let primary_dir = tempfile::tempdir().expect("tempdir");
        let standby_dir = tempfile::tempdir().expect("tempdir");
        let link = ReplicaLink::new(
            ReplicationMode::Sync,
            StandbyLossPolicy::Halt,
            Duration::from_secs(10),
        );
        let standby_link = idle_link();
        // The standby starts first (as in production: the primary waits for it under `halt`).
        let (standby, mut standby_events, _) =
            Pipeline::builder(config.engine_config().clone(), standby_dir.path())
                .journal_options(options())
                .replica(Arc::clone(&standby_link))
                .start()
                .expect("standby");
        let (primary, primary_events, _) =
            Pipeline::builder(config.engine_config().clone(), primary_dir.path())
                .journal_options(options())
                .replica(Arc::clone(&link))
                .start()
                .expect("primary");
        let server = ReplicationServer::start(
            primary_settings(&config, primary_dir.path(), tls.as_ref()),
            Arc::clone(&link),
            Arc::new(EpochOneNode(primary.monitor())),
        )
        .expect("server");
        let stop = Arc::new(AtomicBool::new(false));
        let status = Arc::new(FollowerStatus::default());
        let follower = {
            let settings = follower_settings(&config, server.addr(), tls, standby_link);
            let mut applier = Applier::new(standby.publisher(), 0);
            let node = EpochOneNode(standby.monitor());
            let (stop, status) = (Arc::clone(&stop), Arc::clone(&status));
            std::thread::spawn(move || {
                follow(&settings, &mut applier, &node, &status, &|| {
                    stop.load(Ordering::Acquire)
                })
            })
        };
        // Drain the standby's events (nobody reads them) so its matcher never waits.
        let drainer = std::thread::spawn(move || {
            while standby_events.poll(|_| {}).is_ok() {
                std::thread::sleep(Duration::from_millis(1));
            }
        });
        let mut publisher = primary.publisher();
        for deposit in config.initial_deposits() {
            publisher.publish(&deposit).expect("publish");
        }
        for n in 0..1_000 {
            publisher
                .publish(&demo_order(1 + (n % 2) as u32, n))
                .expect("publish");
        }
        drop(publisher);
        let total = 1_000 + config.initial_deposits().len() as u64;
        let deadline = Instant::now() + Duration::from_secs(30);
        while primary.processed_seq() < total && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(5));
        }
        assert_eq!(primary.processed_seq(), total, "{:?}", primary.failure());
        // Sync: the standby had everything the primary matched, durable, before it matched it.
        assert!(link.acked_seq() >= total);
        assert!(!link.is_degraded());
        assert!(status.connected.load(Ordering::Acquire));
        stop.store(true, Ordering::Release);
        let outcome = follower.join().expect("follower");
        assert_eq!(
            outcome,
            hayate::adapters::replication::standby::Followed::Stopped
        );
        drop(server);
        let primary_report = stop_pipeline(primary, primary_events);
        let standby_report = standby.stop().expect("standby stop");
        drainer.join().expect("drainer");
        assert_eq!(standby_report.processed_seq, primary_report.processed_seq);
        assert_eq!(standby_report.digest, primary_report.digest);
    }

    fn stop_pipeline(pipeline: Pipeline, events: EventReceiver) -> hayate::pipeline::StopReport {
        super::stop(pipeline, events)
    }

    /// Replication frames written by hand, as an attacker who knows the protocol (but not the
    /// secret) would: `[len u32][type][version 2][0 0]` then the body.
    mod wire {
        use std::io::{Read, Write};
        use std::net::TcpStream;
        use std::time::Duration;

        pub const HELLO: u8 = 0x01;
        pub const REFUSE: u8 = 0x04;
        pub const RECORDS: u8 = 0x05;
        pub const ACK: u8 = 0x06;
        pub const CHALLENGE: u8 = 0x09;
        pub const PROOF: u8 = 0x0A;
        pub const BAD_HANDSHAKE: u16 = 4;
        pub const BAD_PROOF: u16 = 6;

        pub fn frame(msg_type: u8, body: &[u8]) -> Vec<u8> {
            let mut out = ((8 + body.len()) as u32).to_le_bytes().to_vec();
            out.extend_from_slice(&[msg_type, 2, 0, 0]);
            out.extend_from_slice(body);
            out
        }

        /// A Hello from sequence 0 with the given engine digest.
        pub fn hello(digest: u64) -> Vec<u8> {
            let mut body = b"HAYATERP".to_vec();
            for field in [1u64, 0, 0, digest] {
                body.extend_from_slice(&field.to_le_bytes());
            }
            body.extend_from_slice(&[7u8; 32]);
            frame(HELLO, &body)
        }

        /// Every frame until the primary closes (or 5 s pass), as (type, body).
        pub fn read_until_closed(stream: &mut TcpStream) -> Vec<(u8, Vec<u8>)> {
            stream
                .set_read_timeout(Some(Duration::from_secs(5)))
                .expect("timeout");
            let mut bytes = Vec::new();
            let _ = stream.read_to_end(&mut bytes);
            let mut frames = Vec::new();
            let mut rest = &bytes[..];
            while rest.len() >= 8 {
                let len = u32::from_le_bytes([rest[0], rest[1], rest[2], rest[3]]) as usize;
                let Some(frame) = rest.get(..len) else { break };
                frames.push((frame[4], frame[8..].to_vec()));
                rest = &rest[len..];
            }
            frames
        }

        /// Sends `bytes` on a fresh connection to `addr`, then a Proof of `proof` once the
        /// Challenge came (if `proof` is given), and returns every frame the primary sent.
        pub fn exchange(
            addr: std::net::SocketAddr,
            bytes: &[u8],
            proof: Option<[u8; 32]>,
        ) -> Vec<(u8, Vec<u8>)> {
            let mut stream = TcpStream::connect(addr).expect("connect");
            stream.write_all(bytes).expect("send");
            if let Some(proof) = proof {
                let mut head = [0u8; 8];
                stream
                    .set_read_timeout(Some(Duration::from_secs(5)))
                    .expect("timeout");
                stream
                    .read_exact(&mut head)
                    .expect("the Challenge's header");
                assert_eq!(
                    head[4], CHALLENGE,
                    "the primary challenges a Hello: {head:?}"
                );
                let mut body = [0u8; 64];
                stream.read_exact(&mut body).expect("the Challenge");
                stream.write_all(&frame(PROOF, &proof)).expect("send");
            }
            read_until_closed(&mut stream)
        }

        pub fn refusal(frames: &[(u8, Vec<u8>)]) -> Option<u16> {
            frames
                .iter()
                .find(|(t, _)| *t == REFUSE)
                .map(|(_, body)| u16::from_le_bytes([body[0], body[1]]))
        }
    }

    /// Copies one connection both ways and records what the client sent (a wiretap).
    fn tap(
        target: std::net::SocketAddr,
    ) -> (std::net::SocketAddr, std::sync::mpsc::Receiver<Vec<u8>>) {
        use std::io::{Read, Write};
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let addr = listener.local_addr().expect("addr");
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let Ok((mut client, _)) = listener.accept() else {
                return;
            };
            let Ok(mut server) = std::net::TcpStream::connect(target) else {
                return;
            };
            let (mut client_in, mut server_out) = (
                client.try_clone().expect("clone"),
                server.try_clone().expect("clone"),
            );
            std::thread::spawn(move || {
                let _ = std::io::copy(&mut server, &mut client);
            });
            let mut recorded = Vec::new();
            let mut chunk = [0u8; 4096];
            while let Ok(n) = client_in.read(&mut chunk) {
                if n == 0 || server_out.write_all(&chunk[..n]).is_err() {
                    break;
                }
                recorded.extend_from_slice(&chunk[..n]);
                // Hello (80 bytes) and Proof (40): the handshake, all an attacker needs. Then
                // the wiretap hangs up both sides.
                if recorded.len() >= 120 {
                    let _ = tx.send(recorded.clone());
                    break;
                }
            }
            let _ = server_out.shutdown(std::net::Shutdown::Both);
            let _ = client_in.shutdown(std::net::Shutdown::Both);
        });
        (addr, rx)
    }

    /// The primary sends nothing but its Challenge, and believes nothing, to a connection that
    /// does not prove the pair's secret: a client without it, one with another secret, one
    /// replaying a recorded handshake, one that opens with a forged acknowledgement.
    #[test]
    fn no_record_leaves_and_no_ack_counts_without_the_pairs_secret() {
        let _ = tracing_subscriber::fmt().with_test_writer().try_init();
        let primary = Primary::start(None);
        let (config, server, link) = (&primary.config, &primary.server, &primary.link);
        let addr = server.addr();
        let digest = digest_of(config);
        let no_records = |frames: &[(u8, Vec<u8>)]| {
            assert!(
                frames.iter().all(|(t, _)| *t != wire::RECORDS),
                "a journal record left: {frames:?}"
            );
        };

        // A forged acknowledgement as the first message: refused, not believed.
        let forged_ack = [u64::MAX.to_le_bytes(), u64::MAX.to_le_bytes()].concat();
        let frames = wire::exchange(addr, &wire::frame(wire::ACK, &forged_ack), None);
        assert_eq!(wire::refusal(&frames), Some(wire::BAD_HANDSHAKE));
        no_records(&frames);
        assert_eq!(link.acked_seq(), 0, "the forged ack counted");

        // A client that knows the protocol but not the secret.
        let frames = wire::exchange(addr, &wire::hello(digest), Some([0; 32]));
        assert_eq!(wire::refusal(&frames), Some(wire::BAD_PROOF));
        no_records(&frames);

        // A standby with another secret: it finds the primary's proof wrong and says so.
        let other = FollowerSettings {
            secret: secret("another secret, also 32 bytes!!"),
            ..follower_settings(config, addr, None, idle_link())
        };
        let standby_dir = tempfile::tempdir().expect("tempdir");
        let (standby, standby_events, _) =
            Pipeline::builder(config.engine_config().clone(), standby_dir.path())
                .journal_options(options())
                .start()
                .expect("standby");
        let mut applier = Applier::new(standby.publisher(), 0);
        let status = FollowerStatus::default();
        let outcome = follow(
            &other,
            &mut applier,
            &EpochOneNode(standby.monitor()),
            &status,
            &|| false,
        );
        match outcome {
            hayate::adapters::replication::standby::Followed::Refused { text } => {
                assert!(text.contains("secret"), "{text}")
            }
            other => panic!("followed with another secret: {other:?}"),
        }
        assert_eq!(applier.next_seq(), 1, "the standby applied records");

        // A good standby's handshake, recorded on the wire, then replayed on a new connection.
        let (tapped, recorded) = tap(addr);
        let good = FollowerSettings {
            primary: tapped,
            secret: secret(SECRET),
            ..other.clone()
        };
        let stop_good = Arc::new(AtomicBool::new(false));
        let follower = {
            let stop_good = Arc::clone(&stop_good);
            let mut applier = Applier::new(standby.publisher(), 0);
            let node = EpochOneNode(standby.monitor());
            std::thread::spawn(move || {
                let status = FollowerStatus::default();
                follow(&good, &mut applier, &node, &status, &|| {
                    stop_good.load(Ordering::Acquire)
                })
            })
        };
        let handshake = recorded
            .recv_timeout(Duration::from_secs(10))
            .expect("the good standby's handshake");
        stop_good.store(true, Ordering::Release);
        let _ = follower.join();
        // The primary serves one standby at a time: wait until it has let the tapped one go.
        let deadline = Instant::now() + Duration::from_secs(10);
        while server.peer().is_some() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(10));
        }
        let unproven_before = server.unproven();
        // The replay needs the old primary nonce's answer; the primary made a new one.
        let replayed_proof: [u8; 32] = handshake[handshake.len() - 32..].try_into().expect("32");
        let frames = wire::exchange(addr, &handshake[..80], Some(replayed_proof));
        assert_eq!(wire::refusal(&frames), Some(wire::BAD_PROOF));
        no_records(&frames);
        // Counted once the primary's session with it has ended, just after the refusal went out.
        let deadline = Instant::now() + Duration::from_secs(10);
        while server.unproven() <= unproven_before && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(5));
        }
        assert!(server.unproven() > unproven_before);
        // Four connections did not prove the secret: the forged ack, the stranger, the other
        // secret (which hung up before its proof), the replay.
        assert_eq!(server.unproven(), 4);

        drop(applier);
        primary.stop();
        let _ = stop_pipeline(standby, standby_events);
    }

    /// A primary of the demo exchange with a replication server (over TLS with `tls`), in sync
    /// mode that degrades without its standby, so it trades on whoever connects.
    struct Primary {
        config: ExchangeConfig,
        pipeline: Pipeline,
        events: EventReceiver,
        link: Arc<ReplicaLink>,
        server: ReplicationServer,
        _dir: tempfile::TempDir,
    }

    impl Primary {
        fn start(tls: Option<&PairTls>) -> Primary {
            let config = ExchangeConfig::demo();
            let dir = tempfile::tempdir().expect("tempdir");
            let link = ReplicaLink::new(
                ReplicationMode::Sync,
                StandbyLossPolicy::Degrade,
                Duration::from_secs(1),
            );
            let (pipeline, events, _) =
                Pipeline::builder(config.engine_config().clone(), dir.path())
                    .journal_options(options())
                    .initial_commands(config.initial_deposits())
                    .replica(Arc::clone(&link))
                    .start()
                    .expect("primary");
            let server = ReplicationServer::start(
                primary_settings(&config, dir.path(), tls),
                Arc::clone(&link),
                Arc::new(EpochOneNode(pipeline.monitor())),
            )
            .expect("server");
            Primary {
                config,
                pipeline,
                events,
                link,
                server,
                _dir: dir,
            }
        }

        fn stop(self) {
            drop(self.server);
            let _ = stop_pipeline(self.pipeline, self.events);
        }
    }

    /// Waits (bounded) until the primary has counted `n` connections that did not prove the
    /// pair's secret (it counts one when that session ends).
    fn wait_unproven(server: &ReplicationServer, n: u64) {
        let deadline = Instant::now() + Duration::from_secs(10);
        while server.unproven() < n && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(5));
        }
        assert_eq!(server.unproven(), n);
    }

    /// Over TLS a primary says nothing in the clear: a client speaking the replication protocol
    /// in plain TCP gets no Challenge (and no record), and a standby that does not trust the
    /// primary's certificate stops following, saying why; both are counted as unproven.
    #[test]
    fn over_tls_a_plain_client_and_an_untrusting_standby_get_nothing() {
        let _ = tracing_subscriber::fmt().with_test_writer().try_init();
        let certs = tempfile::tempdir().expect("tempdir");
        let tls = pair_tls(certs.path());
        let primary = Primary::start(Some(&tls));
        let addr = primary.server.addr();

        let frames = wire::exchange(addr, &wire::hello(digest_of(&primary.config)), None);
        assert!(
            frames
                .iter()
                .all(|(t, _)| *t != wire::CHALLENGE && *t != wire::RECORDS),
            "the primary answered in the clear: {frames:?}"
        );
        wait_unproven(&primary.server, 1);

        // Another certificate: the standby's roots do not include the primary's.
        let others = tempfile::tempdir().expect("tempdir");
        let untrusting = follower_settings(
            &primary.config,
            addr,
            Some(pair_tls(others.path())),
            idle_link(),
        );
        let standby_dir = tempfile::tempdir().expect("tempdir");
        let (standby, standby_events, _) =
            Pipeline::builder(primary.config.engine_config().clone(), standby_dir.path())
                .journal_options(options())
                .start()
                .expect("standby");
        let mut applier = Applier::new(standby.publisher(), 0);
        let outcome = follow(
            &untrusting,
            &mut applier,
            &EpochOneNode(standby.monitor()),
            &FollowerStatus::default(),
            &|| false,
        );
        match outcome {
            hayate::adapters::replication::standby::Followed::Refused { text } => {
                assert!(text.contains("TLS"), "{text}")
            }
            other => panic!("followed a primary it does not trust: {other:?}"),
        }
        assert_eq!(applier.next_seq(), 1, "the standby applied records");
        wait_unproven(&primary.server, 2);
        assert_eq!(primary.link.acked_seq(), 0);
        drop(applier);
        let _ = stop_pipeline(standby, standby_events);
        primary.stop();
    }

    /// What a wiretap between the primary and a good standby saw of a session that carried
    /// orders with a recognisable id, over TLS with `tls`: (standby → primary, primary →
    /// standby).
    fn wiretapped_session(tls: Option<PairTls>) -> (Vec<u8>, Vec<u8>) {
        let primary = Primary::start(tls.as_ref());
        let (tapped, recorded) = wiretap(primary.server.addr());
        let standby_dir = tempfile::tempdir().expect("tempdir");
        let (standby, mut standby_events, _) =
            Pipeline::builder(primary.config.engine_config().clone(), standby_dir.path())
                .journal_options(options())
                .start()
                .expect("standby");
        let stop = Arc::new(AtomicBool::new(false));
        let follower = {
            let settings = follower_settings(&primary.config, tapped, tls, idle_link());
            let mut applier = Applier::new(standby.publisher(), 0);
            let node = EpochOneNode(standby.monitor());
            let stop = Arc::clone(&stop);
            std::thread::spawn(move || {
                follow(
                    &settings,
                    &mut applier,
                    &node,
                    &FollowerStatus::default(),
                    &|| stop.load(Ordering::Acquire),
                )
            })
        };
        let drainer = std::thread::spawn(move || {
            while standby_events.poll(|_| {}).is_ok() {
                std::thread::sleep(Duration::from_millis(1));
            }
        });
        let mut publisher = primary.pipeline.publisher();
        for n in 0..20 {
            let id = ClientOrderId::new(&format!("PRIVATE-{n:04}")).expect("short");
            let order = NewOrder::limit(
                AccountId(1),
                SymbolId(0),
                Side::Buy,
                Price(4_000_000),
                Qty(1),
                id,
            );
            publisher
                .publish(&Command::new_order(order).at(n))
                .expect("publish");
        }
        drop(publisher);
        let total = 20 + primary.config.initial_deposits().len() as u64;
        let deadline = Instant::now() + Duration::from_secs(30);
        while primary.link.acked_seq() < total && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(5));
        }
        assert!(
            primary.link.acked_seq() >= total,
            "the standby acknowledged everything"
        );
        stop.store(true, Ordering::Release);
        let _ = follower.join();
        let seen = recorded
            .recv_timeout(Duration::from_secs(10))
            .expect("the wiretap's recording");
        let _ = standby.stop();
        drainer.join().expect("drainer");
        primary.stop();
        seen
    }

    /// With `[tls] replication` a wiretap on the link learns nothing: not the handshake, not
    /// the orders in the journal records, which the same wiretap reads in the clear without TLS.
    #[test]
    fn over_tls_a_wiretap_on_the_link_reads_nothing() {
        let _ = tracing_subscriber::fmt().with_test_writer().try_init();
        let contains =
            |bytes: &[u8], needle: &[u8]| bytes.windows(needle.len()).any(|w| w == needle);
        let (to_primary, to_standby) = wiretapped_session(None);
        assert!(
            contains(&to_primary, b"HAYATERP"),
            "the plain Hello is readable"
        );
        assert!(
            contains(&to_standby, b"PRIVATE-0007"),
            "plain records are readable"
        );

        let certs = tempfile::tempdir().expect("tempdir");
        let (to_primary, to_standby) = wiretapped_session(Some(pair_tls(certs.path())));
        assert!(
            to_standby.len() > 20 * 16,
            "the records went through the wiretap"
        );
        assert!(
            !contains(&to_primary, b"HAYATERP"),
            "the Hello went in the clear"
        );
        assert!(
            !contains(&to_standby, b"PRIVATE-"),
            "a record went in the clear"
        );
    }

    /// What each side of a tapped connection sent: (client → target, target → client).
    type Recording = std::sync::mpsc::Receiver<(Vec<u8>, Vec<u8>)>;

    /// Copies one connection both ways until either side closes, then hands over what each
    /// side sent: (client → target, target → client).
    fn wiretap(target: std::net::SocketAddr) -> (std::net::SocketAddr, Recording) {
        use std::io::{Read, Write};
        fn copy(mut from: std::net::TcpStream, mut to: std::net::TcpStream) -> Vec<u8> {
            let mut recorded = Vec::new();
            let mut chunk = [0u8; 4096];
            while let Ok(n) = from.read(&mut chunk) {
                if n == 0 || to.write_all(&chunk[..n]).is_err() {
                    break;
                }
                recorded.extend_from_slice(&chunk[..n]);
            }
            let _ = from.shutdown(std::net::Shutdown::Both);
            let _ = to.shutdown(std::net::Shutdown::Both);
            recorded
        }
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let addr = listener.local_addr().expect("addr");
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let Ok((client, _)) = listener.accept() else {
                return;
            };
            let Ok(server) = std::net::TcpStream::connect(target) else {
                return;
            };
            let (client_in, server_out) = (
                client.try_clone().expect("clone"),
                server.try_clone().expect("clone"),
            );
            let back = std::thread::spawn(move || copy(server, client));
            let sent = copy(client_in, server_out);
            let received = back.join().unwrap_or_default();
            let _ = tx.send((sent, received));
        });
        (addr, rx)
    }
}
