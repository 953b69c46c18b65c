//! Replication without sockets (issue 6): a standby fed the primary's journal through a tailer
//! reaches the same state at the same sequence; gaps are refused and retransmissions skipped.

use std::time::{Duration, Instant};

use hayate::adapters::replication::standby::{Applier, ApplyError};
use hayate::journal::{FlushPolicy, JournalOptions, Tailer};
use hayate::pipeline::{EventReceiver, Pipeline};
use hayate::*;

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

fn order(account: u32, n: u64) -> Command {
    let side = if n % 2 == 0 { Side::Buy } else { Side::Sell };
    let id = ClientOrderId::new(&format!("r{n}")).expect("short");
    Command::new_order(NewOrder::limit(
        AccountId(account),
        SymbolId(0),
        side,
        Price(4_999_990 + n % 20),
        Qty(1 + n % 3),
        id,
    ))
    .at(n)
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
        publisher
            .publish(&order(1 + (n % 2) as u32, n))
            .expect("publish");
    }
    drop(publisher);
    let total = 2_000 + config.initial_deposits().len() as u64;

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

    use hayate::adapters::replication::primary::{
        PrimarySettings, PrimaryState, ReplicationServer,
    };
    use hayate::adapters::replication::standby::{
        Applier, FollowerSettings, FollowerStatus, StandbyState, follow,
    };
    use hayate::pipeline::ReplicationMode;
    use hayate::pipeline::{Monitor, ReplicaLink, StandbyLossPolicy, Wait};

    use super::*;

    struct Node(Monitor);

    impl PrimaryState for Node {
        fn epochs(&self) -> Vec<(u64, u64)> {
            Vec::new()
        }
        fn last_seq(&self) -> u64 {
            self.0.stats().durable_seq
        }
        fn step_down(&self, _higher_epoch: u64) {}
    }

    impl StandbyState for Node {
        fn epoch(&self) -> (u64, u64) {
            (1, 1)
        }
        fn durable_seq(&self) -> u64 {
            self.0.stats().durable_seq
        }
        fn applied_seq(&self) -> u64 {
            self.0.stats().processed_seq
        }
    }

    fn digest_of(config: &ExchangeConfig) -> u64 {
        Engine::new(config.engine_config().clone()).digest()
    }

    /// Sync mode over a real socket: every batch waits for the standby's acknowledgement, and
    /// the standby ends in the same state at the same sequence.
    #[test]
    fn a_sync_standby_over_tcp_holds_every_command_the_primary_matched() {
        let _ = tracing_subscriber::fmt().with_test_writer().try_init();
        let config = ExchangeConfig::demo();
        let primary_dir = tempfile::tempdir().expect("tempdir");
        let standby_dir = tempfile::tempdir().expect("tempdir");
        let link = ReplicaLink::new(
            ReplicationMode::Sync,
            StandbyLossPolicy::Halt,
            Duration::from_secs(10),
        );
        // The standby's own link: inactive (it has no standby), it wakes the follower when
        // records become durable.
        let standby_link = ReplicaLink::new(
            ReplicationMode::Sync,
            StandbyLossPolicy::Halt,
            Duration::from_secs(10),
        );
        standby_link.set_active(false);
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
            PrimarySettings {
                listen: "127.0.0.1:0".parse().expect("addr"),
                journal_dir: primary_dir.path().join("journal"),
                heartbeat: Duration::from_millis(50),
                config_digest: digest_of(&config),
                wait: Wait::Backoff,
            },
            Arc::clone(&link),
            Arc::new(Node(primary.monitor())),
        )
        .expect("server");
        let stop = Arc::new(AtomicBool::new(false));
        let status = Arc::new(FollowerStatus::default());
        let follower = {
            let settings = FollowerSettings {
                primary: server.addr(),
                heartbeat: Duration::from_millis(50),
                config_digest: digest_of(&config),
                promote_after: None,
                wait: Wait::Backoff,
                link: standby_link,
            };
            let mut applier = Applier::new(standby.publisher(), 0);
            let node = Node(standby.monitor());
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
                .publish(&order(1 + (n % 2) as u32, n))
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
}
