//! Observers on the replication port (issue 16): read-only followers besides the standby —
//! authenticated with their own secret, capped, asynchronous (a stalled one never slows the
//! primary), sent only what the matcher processed, resuming from any sequence, and never able to
//! act as the standby.

use std::sync::Arc;
use std::time::{Duration, Instant};

use hayate::adapters::replication::observer::{
    Observation, ObserveError, ObserveSettings, Position,
};
use hayate::adapters::replication::primary::{ObserverAccess, PrimarySettings, ReplicationServer};
use hayate::adapters::secrets::PairSecret;
use hayate::adapters::tls::rustls::ServerConfig;
use hayate::adapters::tls::{TlsDialer, client_config, load_server_config};
use hayate::journal::{FlushPolicy, JournalOptions, JournalReader};
use hayate::pipeline::{EventReceiver, Pipeline, ReplicaLink, ReplicationMode};
use hayate::pipeline::{StandbyLossPolicy, Wait};
use hayate::*;
use hayate_testkit::replication::{EpochOneNode, demo_order};

const PAIR_SECRET: &str = "the pair's secret, 32 bytes long";
const OBSERVER_SECRET: &str = "the observers' secret, not the pair's";

fn secret(text: &str) -> PairSecret {
    PairSecret::new(text.as_bytes()).expect("a long enough secret")
}

fn digest_of(config: &ExchangeConfig) -> u64 {
    Engine::new(config.engine_config().clone()).digest()
}

/// A primary with no standby (async replication) serving at most `max` observers.
struct Primary {
    config: ExchangeConfig,
    pipeline: Option<Pipeline>,
    events: Option<EventReceiver>,
    server: Option<ReplicationServer>,
    dir: tempfile::TempDir,
    drainer: Option<std::thread::JoinHandle<()>>,
}

impl Primary {
    fn start(max: usize) -> Primary {
        Primary::start_with(max, None)
    }

    /// With `[tls] replication` (this node's certificate): the port speaks TLS to standbys and
    /// observers alike.
    fn start_with(max: usize, tls: Option<Arc<ServerConfig>>) -> Primary {
        let config = ExchangeConfig::demo();
        let dir = tempfile::tempdir().expect("tempdir");
        let link = ReplicaLink::new(
            ReplicationMode::Async,
            StandbyLossPolicy::Degrade,
            Duration::from_secs(1),
        );
        let (pipeline, events, _) = Pipeline::builder(config.engine_config().clone(), dir.path())
            .journal_options(JournalOptions {
                segment_size: 1 << 20,
                flush_policy: FlushPolicy::Never,
                first_seq: 1,
            })
            .initial_commands(config.initial_deposits())
            .replica(Arc::clone(&link))
            .start()
            .expect("primary");
        let server = ReplicationServer::start(
            PrimarySettings {
                listen: "127.0.0.1:0".parse().expect("addr"),
                journal_dir: dir.path().join("journal"),
                heartbeat: Duration::from_millis(50),
                config_digest: digest_of(&config),
                wait: Wait::Backoff,
                secret: secret(PAIR_SECRET),
                tls,
                observers: Some(ObserverAccess {
                    secret: secret(OBSERVER_SECRET),
                    max,
                    monitor: pipeline.monitor(),
                }),
            },
            link,
            Arc::new(EpochOneNode(pipeline.monitor())),
        )
        .expect("server");
        Primary {
            config,
            pipeline: Some(pipeline),
            events: Some(events),
            server: Some(server),
            dir,
            drainer: None,
        }
    }

    fn pipeline(&self) -> &Pipeline {
        self.pipeline.as_ref().expect("running")
    }

    fn server(&self) -> &ReplicationServer {
        self.server.as_ref().expect("running")
    }

    /// Publishes `n` orders and waits until the matcher processed them; returns the last
    /// sequence.
    fn trade(&mut self, from: u64, n: u64) -> u64 {
        let mut publisher = self.pipeline().publisher();
        for i in from..from + n {
            publisher
                .publish(&demo_order(1 + (i % 2) as u32, i))
                .expect("publish");
            // Nobody reads the events here but the drain below.
            if let Some(events) = &mut self.events {
                let _ = events.poll(|_| {});
            }
        }
        drop(publisher);
        let deadline = Instant::now() + Duration::from_secs(30);
        // Initial deposits included: every command published since start.
        let target = self.pipeline().stats().published;
        loop {
            if let Some(events) = &mut self.events {
                let _ = events.poll(|_| {});
            }
            let processed = self.pipeline().processed_seq();
            if processed >= target || Instant::now() > deadline {
                return processed;
            }
            std::thread::sleep(Duration::from_millis(1));
        }
    }

    fn settings(&self, name: &str) -> ObserveSettings {
        ObserveSettings {
            nodes: vec![self.server().addr()],
            name: name.into(),
            secret: secret(OBSERVER_SECRET),
            config_digest: digest_of(&self.config),
            heartbeat: Duration::from_millis(50),
            tls: None,
            connect_timeout: Duration::from_secs(5),
        }
    }

    /// Every command in the journal, in order.
    fn journal(&self) -> Vec<(u64, Command)> {
        let reader = JournalReader::open(self.dir.path().join("journal")).expect("reader");
        reader
            .records_from(1)
            .map(|r| {
                let r = r.expect("record");
                (r.seq, Command::from_bytes(r.payload).expect("command"))
            })
            .collect()
    }
}

impl Drop for Primary {
    fn drop(&mut self) {
        drop(self.server.take());
        if let (Some(pipeline), Some(mut events)) = (self.pipeline.take(), self.events.take()) {
            let stopper = std::thread::spawn(move || pipeline.stop());
            while events.poll(|_| {}).is_ok() {
                std::thread::yield_now();
            }
            let _ = stopper.join();
        }
        if let Some(drainer) = self.drainer.take() {
            let _ = drainer.join();
        }
    }
}

/// Polls `observation` until it has applied `through`, collecting what it was sent.
fn collect(observation: &mut Observation, through: u64) -> Vec<(u64, Command)> {
    let mut got = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(30);
    while observation.next_seq() <= through && Instant::now() < deadline {
        observation
            .poll(Duration::from_millis(100), |seq, command| {
                got.push((seq, *command));
            })
            .expect("observing");
    }
    got
}

#[test]
fn an_observer_gets_every_processed_command_and_resumes_from_any_sequence() {
    let mut primary = Primary::start(4);
    let last = primary.trade(0, 500);
    let mut first =
        Observation::connect(&primary.settings("auditor"), Position::default()).expect("observer");
    let got = collect(&mut first, last);
    assert_eq!(
        got,
        primary.journal(),
        "everything, in order, from sequence 1"
    );
    // Live: more commands reach the connected observer.
    let last = primary.trade(500, 300);
    let live = collect(&mut first, last);
    assert_eq!(live.first().map(|r| r.0), Some(got.len() as u64 + 1));
    assert_eq!(live.last().map(|r| r.0), Some(last));
    // A second observer resumes after sequence 200: it gets 201 on, nothing before.
    let mut resumed = Observation::connect(
        &primary.settings("bridge"),
        Position {
            epoch: 1,
            epoch_start: 0,
            last_seq: 200,
        },
    )
    .expect("observer");
    let tail = collect(&mut resumed, last);
    assert_eq!(tail, primary.journal()[200..].to_vec());
    // The primary knows them by name and position.
    let deadline = Instant::now() + Duration::from_secs(5);
    let hub = primary.server().observers().expect("observers served");
    while hub.observers().iter().any(|o| o.sent_seq < last) && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(10));
    }
    let mut names: Vec<_> = hub.observers().into_iter().map(|o| o.name).collect();
    names.sort();
    assert_eq!(names, ["auditor", "bridge"]);
    assert_eq!(hub.served(), 2);
}

#[test]
fn observers_are_refused_without_the_observers_secret_past_the_cap_or_with_a_copy_that_diverged() {
    let mut primary = Primary::start(2);
    let last = primary.trade(0, 50);
    // The pair's secret is not the observers': a standby's credential observes nothing (and
    // the observers' secret cannot make a standby: its proofs carry other labels).
    let mut settings = primary.settings("intruder");
    settings.secret = secret(PAIR_SECRET);
    let refused = Observation::connect(&settings, Position::default()).expect_err("refused");
    assert!(refused.is_fatal(), "{refused}");
    // Counted by the primary once its handshake thread sees no proof come.
    let deadline = Instant::now() + Duration::from_secs(10);
    while primary.server().unproven() == 0 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(primary.server().unproven(), 1);
    // Another engine configuration.
    let mut settings = primary.settings("other exchange");
    settings.config_digest ^= 1;
    let refused = Observation::connect(&settings, Position::default()).expect_err("refused");
    assert!(
        matches!(refused, ObserveError::Refused { code, .. } if format!("{code:?}") == "ConfigMismatch"),
        "{refused}"
    );
    // A copy holding more than the primary ever processed (it followed a primary that lost its
    // tail): told where the histories part, fatal.
    let diverged = Observation::connect(
        &primary.settings("ahead"),
        Position {
            epoch: 1,
            epoch_start: 0,
            last_seq: last + 10,
        },
    )
    .expect_err("diverged");
    assert!(
        matches!(diverged, ObserveError::Diverged { keep_through } if keep_through == last),
        "{diverged}"
    );
    // The cap: two connected, the third waits (refused, not fatal: it retries later).
    let _a = Observation::connect(&primary.settings("a"), Position::default()).expect("a");
    let _b = Observation::connect(&primary.settings("b"), Position::default()).expect("b");
    let full = Observation::connect(&primary.settings("c"), Position::default()).expect_err("full");
    assert!(
        matches!(&full, ObserveError::Refused { code, .. } if format!("{code:?}") == "ObserversFull"),
        "{full}"
    );
    assert!(!full.is_fatal());
    drop(_a);
    // A place frees when one leaves (the hub notices the closed socket).
    let deadline = Instant::now() + Duration::from_secs(5);
    let again = loop {
        match Observation::connect(&primary.settings("c"), Position::default()) {
            Ok(observation) => break observation,
            Err(e) if Instant::now() > deadline => panic!("no place freed: {e}"),
            Err(_) => std::thread::sleep(Duration::from_millis(50)),
        }
    };
    drop(again);
}

#[test]
fn a_stalled_observer_never_slows_the_primary_and_is_dropped() {
    let mut primary = Primary::start(4);
    // Connected, then never read: its socket buffers fill and push back.
    let stalled =
        Observation::connect(&primary.settings("stalled"), Position::default()).expect("observer");
    let started = Instant::now();
    let last = primary.trade(0, 20_000);
    let took = started.elapsed();
    assert_eq!(
        last,
        primary.pipeline().stats().published,
        "the primary processed every command while its observer read nothing"
    );
    eprintln!("20000 orders processed in {took:?} with a stalled observer attached");
    // It missed its heartbeats: dropped, its place freed.
    let hub = primary.server().observers().expect("observers served");
    let deadline = Instant::now() + Duration::from_secs(10);
    while !hub.observers().is_empty() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(hub.observers().is_empty(), "{:?}", hub.observers());
    drop(stalled);
}

/// A primary whose replication port speaks TLS (`[tls] replication`): an observer trusting its
/// certificate (as the bridge's `ca_file` loads it) reads every command; one trusting another
/// certificate, or speaking plain TCP, reads nothing.
#[test]
fn an_observer_of_a_tls_port_checks_the_primarys_certificate() {
    let certs = tempfile::tempdir().expect("tempdir");
    let (cert, key) = hayate_testkit::certificate::self_signed(certs.path());
    let server = load_server_config(&cert, &key).expect("the test certificate");
    let trusted = client_config(&cert).expect("trusted");
    let mut primary = Primary::start_with(2, Some(server));
    let last = primary.trade(0, 200);

    let mut settings = primary.settings("tls-bridge");
    settings.tls = Some(TlsDialer::new(trusted, None));
    let mut observation =
        Observation::connect(&settings, Position::default()).expect("observer over TLS");
    assert_eq!(collect(&mut observation, last), primary.journal());
    drop(observation);

    let others = tempfile::tempdir().expect("tempdir");
    let (other, _) = hayate_testkit::certificate::self_signed(others.path());
    settings.tls = Some(TlsDialer::new(
        client_config(&other).expect("another certificate"),
        None,
    ));
    let refused = Observation::connect(&settings, Position::default())
        .expect_err("a certificate the observer does not trust");
    eprintln!("another certificate: {refused}");
    settings.tls = None;
    let refused =
        Observation::connect(&settings, Position::default()).expect_err("plain TCP to a TLS port");
    eprintln!("plain TCP: {refused}");
}
