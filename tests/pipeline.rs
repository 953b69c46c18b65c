//! The pipeline (issue: LMAX pipeline): commands from several producer threads reach the matcher
//! exactly once, in ring order, journaled before processed; a stop/start round trip keeps the
//! state; a full ring pushes back instead of dropping; a failing stage stops the pipeline and says
//! why.

use std::collections::HashSet;
use std::time::{Duration, Instant};

use hayate::journal::{FlushPolicy, JournalOptions};
use hayate::pipeline::{Output, Pipeline, PublishError, Wait};
use hayate::recovery::{self, ReplayOptions};
use hayate::*;
use hayate_testkit::tmpfs::Tmpfs;

fn config() -> ExchangeConfig {
    ExchangeConfig::demo()
}

fn small_journal(policy: FlushPolicy) -> JournalOptions {
    JournalOptions {
        segment_size: 1 << 20,
        flush_policy: policy,
        first_seq: 1,
    }
}

fn order(account: u32, n: u64) -> Command {
    let side = if n % 2 == 0 { Side::Buy } else { Side::Sell };
    let price = Price(
        if side == Side::Buy {
            4_990_000
        } else {
            5_010_000
        } + n % 7,
    );
    let id = ClientOrderId::new(&format!("a{account}-{n}")).expect("short id");
    Command::new_order(NewOrder::limit(
        AccountId(account),
        SymbolId(0),
        side,
        price,
        Qty(1),
        id,
    ))
    .at(n)
}

/// Polls until `until` says stop or the deadline passes.
fn drain(
    events: &mut hayate::pipeline::EventReceiver,
    deadline: Duration,
    mut on: impl FnMut(&Output) -> bool,
) {
    let end = Instant::now() + deadline;
    let mut done = false;
    while !done && Instant::now() < end {
        match events.poll(|out| done |= on(out)) {
            Ok(0) => std::thread::yield_now(),
            Ok(_) => {}
            Err(_) => break,
        }
    }
}

#[test]
fn commands_from_several_producers_reach_the_matcher_once_in_order_and_journaled_first() {
    let data = tempfile::tempdir().expect("tempdir");
    let config = config();
    let (pipeline, mut events, report) =
        Pipeline::builder(config.engine_config().clone(), data.path())
            .journal_options(small_journal(FlushPolicy::Always))
            .input_ring(1 << 10)
            .initial_commands(config.initial_deposits())
            .start()
            .expect("start");
    assert_eq!(report.last_seq, 0);
    let deposits = config.initial_deposits().len() as u64;
    const PER_THREAD: u64 = 3_000;

    let producers: Vec<_> = [1u32, 2]
        .into_iter()
        .map(|account| {
            let mut publisher = pipeline.publisher();
            std::thread::spawn(move || {
                for n in 0..PER_THREAD {
                    publisher.publish(&order(account, n)).expect("publish");
                }
            })
        })
        .collect();

    let total = deposits + 2 * PER_THREAD;
    let mut last = (0u64, 0u32);
    let mut seen_accepted = HashSet::new();
    let mut commands = 0u64;
    let mut ahead_of_journal = 0u64;
    drain(&mut events, Duration::from_secs(60), |out| {
        // Ring order: sequences never go back, and a command's events are numbered 0, 1, 2…
        assert!(
            (out.seq, out.index) > last || last == (0, 0),
            "{:?} after {last:?}",
            (out.seq, out.index)
        );
        if out.index == 0 {
            assert_eq!(out.seq, last.0 + 1, "a command went missing or came twice");
            commands += 1;
        }
        last = (out.seq, out.index);
        // Journaled before processed: nothing comes out past the durable sequence.
        if out.seq > pipeline.durable_seq() {
            ahead_of_journal += 1;
        }
        if out.event.event_kind() == Some(EventKind::Accepted) {
            assert!(
                seen_accepted.insert(out.event.client_order_id),
                "an order was accepted twice"
            );
        }
        commands == total
    });
    for p in producers {
        p.join().expect("producer");
    }
    assert_eq!(commands, total);
    assert_eq!(
        ahead_of_journal, 0,
        "events left before their command was durable"
    );
    assert_eq!(
        seen_accepted.len() as u64,
        2 * PER_THREAD,
        "every order accepted once"
    );

    let stopped = {
        let stopper = std::thread::spawn(move || pipeline.stop());
        drain(&mut events, Duration::from_secs(30), |_| false);
        stopper.join().expect("stop thread").expect("stop")
    };
    assert_eq!(stopped.durable_seq, total);
    assert_eq!(stopped.processed_seq, total);

    // The journal holds exactly what was processed: replaying it gives the matcher's state.
    let (replayed, replay_report) = recovery::replay(
        config.engine_config(),
        &data.path().join("journal"),
        ReplayOptions::default(),
        |_, _, _| {},
        |_| {},
    )
    .expect("replay");
    assert_eq!(replay_report.last_seq, total);
    assert_eq!(replayed.digest(), stopped.digest);
}

#[test]
fn stop_then_start_recovers_the_same_state_from_the_stop_snapshot() {
    let data = tempfile::tempdir().expect("tempdir");
    let config = config();
    let start = || {
        Pipeline::builder(config.engine_config().clone(), data.path())
            .journal_options(small_journal(FlushPolicy::Never))
            .initial_commands(config.initial_deposits())
            .start()
            .expect("start")
    };
    let stop = |pipeline: Pipeline, mut events: hayate::pipeline::EventReceiver| {
        let stopper = std::thread::spawn(move || pipeline.stop());
        drain(&mut events, Duration::from_secs(30), |_| false);
        stopper.join().expect("stop thread").expect("stop")
    };

    let (pipeline, events, _) = start();
    let mut publisher = pipeline.publisher();
    for n in 0..500 {
        publisher
            .publish(&order(1 + (n % 2) as u32, n))
            .expect("publish");
    }
    drop(publisher);
    let first = stop(pipeline, events);
    assert!(first.snapshot.is_some());

    let (pipeline, events, report) = start();
    assert_eq!(
        report.snapshot.as_ref().map(|s| s.0),
        Some(first.processed_seq),
        "{report}"
    );
    assert_eq!(report.replayed, 0, "the stop snapshot covers everything");
    let second = stop(pipeline, events);
    assert_eq!(second.digest, first.digest);
    assert_eq!(
        second.processed_seq, first.processed_seq,
        "deposits are not applied twice"
    );
}

#[test]
fn a_full_ring_pushes_back_instead_of_dropping() {
    let data = tempfile::tempdir().expect("tempdir");
    let config = config();
    let (pipeline, mut events, _) = Pipeline::builder(config.engine_config().clone(), data.path())
        .journal_options(small_journal(FlushPolicy::Never))
        .input_ring(64)
        .output_ring(8)
        .wait(Wait::Yield)
        .start()
        .expect("start");
    let mut publisher = pipeline.publisher();
    // Nobody polls the output: the matcher blocks on the full output ring, then the input fills.
    let mut accepted = 0u64;
    let deadline = Instant::now() + Duration::from_secs(10);
    let full = loop {
        match publisher.try_publish(&Command::halt(None)) {
            Ok(()) => accepted += 1,
            Err(PublishError::Full) => break true,
            Err(e) => panic!("unexpected {e}"),
        }
        if Instant::now() > deadline {
            break false;
        }
    };
    assert!(full, "the ring never reported full");
    assert!(
        accepted >= 64,
        "at least the input ring's slots were taken ({accepted})"
    );
    // Nothing was dropped: every accepted command comes out once the consumer reads.
    let mut outputs = 0u64;
    drain(&mut events, Duration::from_secs(10), |out| {
        outputs += (out.index == 0) as u64;
        outputs == accepted
    });
    assert_eq!(outputs, accepted);
    drop(publisher);
    let stopper = std::thread::spawn(move || pipeline.stop());
    drain(&mut events, Duration::from_secs(30), |_| false);
    stopper.join().expect("stop thread").expect("stop");
}

#[test]
fn ring_sizes_the_rings_cannot_take_are_refused_at_start() {
    let data = tempfile::tempdir().expect("tempdir");
    for (input, output) in [(32, 8), (100, 8), (64, 3)] {
        let started = Pipeline::builder(config().engine_config().clone(), data.path())
            .input_ring(input)
            .output_ring(output)
            .start();
        assert!(
            matches!(started, Err(hayate::pipeline::PipelineError::Config(_))),
            "{input}/{output} accepted"
        );
    }
}

#[test]
fn a_failing_stage_stops_the_pipeline_and_says_why() {
    let data = tempfile::tempdir().expect("tempdir");
    let config = config();
    let (pipeline, mut events, _) = Pipeline::builder(config.engine_config().clone(), data.path())
        // Small segments, so the journaler soon needs a new file in the directory removed below.
        .journal_options(JournalOptions {
            segment_size: 8 * 1024,
            flush_policy: FlushPolicy::Never,
            first_seq: 1,
        })
        .snapshot_on_stop(false)
        .start()
        .expect("start");
    std::fs::remove_dir_all(data.path().join("journal")).expect("remove the journal directory");
    let mut publisher = pipeline.publisher();
    let deadline = Instant::now() + Duration::from_secs(20);
    let refused = loop {
        match publisher.try_publish(&Command::halt(None)) {
            Ok(()) | Err(PublishError::Full) => {}
            Err(PublishError::Stopped(why)) => break why,
            Err(e) => panic!("unexpected {e}"),
        }
        let _ = events.poll(|_| {});
        assert!(Instant::now() < deadline, "the journaler never failed");
    };
    assert!(refused.contains("journaler"), "{refused}");
    assert!(pipeline.failure().is_some());
    drop(publisher);
    let stopper = std::thread::spawn(move || pipeline.stop());
    drain(&mut events, Duration::from_secs(30), |_| false);
    let stopped = stopper.join().expect("stop thread");
    assert!(
        matches!(
            stopped,
            Err(hayate::pipeline::PipelineError::StageFailed(_))
        ),
        "{stopped:?}"
    );
}

#[test]
fn a_pipeline_configured_from_toml_uses_its_journal_and_deposits() {
    let data = tempfile::tempdir().expect("tempdir");
    let text = hayate::config::DEMO_TOML.replace(
        "dir = \"data\"",
        &format!("dir = {:?}", data.path().display().to_string()),
    );
    let config = ExchangeConfig::from_toml_str(&text, "test.toml").expect("config");
    let (pipeline, mut events, report) = config.core().pipeline_builder().start().expect("start");
    assert_eq!(report.last_seq, 0);
    let deposits = config.initial_deposits().len() as u64;
    let stopper = std::thread::spawn(move || pipeline.stop());
    let mut seen = 0;
    drain(&mut events, Duration::from_secs(30), |out| {
        seen += (out.event.event_kind() == Some(EventKind::Deposited)) as u64;
        false
    });
    let stopped = stopper.join().expect("stop thread").expect("stop");
    assert_eq!(seen, deposits);
    assert_eq!(stopped.durable_seq, deposits);
    assert!(data.path().join("journal").is_dir() && stopped.snapshot.is_some());
}

#[test]
fn periodic_snapshots_keep_the_newest_and_retire_covered_segments() {
    let data = tempfile::tempdir().expect("tempdir");
    let config = config();
    let start = || {
        Pipeline::builder(config.engine_config().clone(), data.path())
            // ~450 commands per segment, a snapshot every 1,000 commands, keep 2.
            .journal_options(JournalOptions {
                segment_size: 64 * 1024,
                flush_policy: FlushPolicy::Never,
                first_seq: 1,
            })
            .snapshots(1_000, 2)
            .snapshot_on_stop(false)
            .initial_commands(config.initial_deposits())
            .start()
            .expect("start")
    };
    let (pipeline, mut events, _) = start();
    let mut publisher = pipeline.publisher();
    let mut n = 0u64;
    let deadline = Instant::now() + Duration::from_secs(60);
    // Publish until three periodic snapshots have been written. Snapshots are taken at ring-batch
    // ends, and under load a batch can span many thousand commands, so count snapshots, not
    // sequence numbers.
    let mut written = std::collections::BTreeSet::new();
    while written.len() < 3 {
        assert!(
            Instant::now() < deadline,
            "only {written:?} snapshots in 60 s"
        );
        for _ in 0..100 {
            publisher
                .publish(&order(1 + (n % 2) as u32, n))
                .expect("publish");
            n += 1;
        }
        while events.poll(|_| {}).unwrap_or(0) > 0 {}
        let seq = pipeline.snapshot_seq();
        if seq > 0 {
            written.insert(seq);
        }
    }
    assert!(
        pipeline.snapshot_error().is_none(),
        "{:?}",
        pipeline.snapshot_error()
    );
    drop(publisher);
    let stopper = std::thread::spawn(move || pipeline.stop());
    drain(&mut events, Duration::from_secs(30), |_| false);
    let stopped = stopper.join().expect("stop thread").expect("stop");

    let snapshots = hayate::journal::snapshot_file::list_snapshots(data.path().join("snapshots"))
        .expect("list");
    assert_eq!(snapshots.len(), 2, "keep 2: {snapshots:?}");
    let oldest_kept = snapshots[0].0;
    let first_segment = std::fs::read_dir(data.path().join("journal"))
        .expect("journal dir")
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter(|name| name.ends_with(".seg"))
        .min()
        .expect("a segment");
    let first_seq: u64 = first_segment
        .trim_end_matches(".seg")
        .parse()
        .expect("name");
    assert!(first_seq > 1, "retention deleted no segment");
    assert!(
        first_seq <= oldest_kept + 1,
        "a segment the oldest kept snapshot needs was deleted"
    );

    // Restart: recovery loads the newest snapshot and replays the tail to the same state.
    let (pipeline, mut events, report) = start();
    assert_eq!(
        report.snapshot.as_ref().map(|s| s.0),
        Some(snapshots[1].0),
        "{report}"
    );
    assert_eq!(report.last_seq, stopped.processed_seq);
    let stopper = std::thread::spawn(move || pipeline.stop());
    drain(&mut events, Duration::from_secs(30), |_| false);
    let again = stopper.join().expect("stop thread").expect("stop");
    assert_eq!(again.digest, stopped.digest);
}

/// A consumer that parks is woken when the matcher publishes; one that does not park never is.
#[test]
fn a_parked_consumer_is_woken_by_the_matcher_and_a_busy_one_is_not() {
    let data = tempfile::tempdir().expect("tempdir");
    let config = config();
    let (wake_tx, wake_rx) = crossbeam::channel::unbounded::<()>();
    let (pipeline, mut events, _) = Pipeline::builder(config.engine_config().clone(), data.path())
        .journal_options(small_journal(FlushPolicy::Never))
        .output_wakeup(move || {
            let _ = wake_tx.send(());
        })
        .start()
        .expect("start");
    let mut publisher = pipeline.publisher();

    // Busy: never parked, so the matcher never calls the wake function.
    publisher.publish(&Command::halt(None)).expect("publish");
    drain(&mut events, Duration::from_secs(10), |_| true);
    assert_eq!(events.wakes(), 0);
    assert!(wake_rx.try_recv().is_err());

    // Parked: the next batch wakes us, and the events are there.
    events.park();
    assert_eq!(events.poll(|_| {}).expect("poll"), 0);
    publisher.publish(&Command::resume(None)).expect("publish");
    wake_rx
        .recv_timeout(Duration::from_secs(10))
        .expect("the matcher wakes a parked consumer");
    events.unpark();
    let mut resumed = false;
    drain(&mut events, Duration::from_secs(10), |out| {
        resumed |= out.event.event_kind() == Some(EventKind::Resumed);
        resumed
    });
    assert!(resumed);
    assert_eq!(events.wakes(), 1);

    drop(publisher);
    let stopper = std::thread::spawn(move || pipeline.stop());
    drain(&mut events, Duration::from_secs(30), |_| false);
    stopper.join().expect("stop thread").expect("stop");
}

/// The counters /metrics shows: published, ring depth, journal bytes and commits.
#[test]
fn pipeline_stats_count_published_journaled_and_committed() {
    let data = tempfile::tempdir().expect("tempdir");
    let config = config();
    let (pipeline, mut events, _) = Pipeline::builder(config.engine_config().clone(), data.path())
        .journal_options(small_journal(FlushPolicy::Never))
        .start()
        .expect("start");
    let monitor = pipeline.monitor();
    let mut publisher = pipeline.publisher();
    for n in 0..100 {
        publisher.publish(&order(1, n)).expect("publish");
    }
    let mut seen = 0;
    drain(&mut events, Duration::from_secs(10), |out| {
        seen += usize::from(out.index == 0);
        seen == 100
    });
    let stats = monitor.stats();
    assert_eq!(stats.published, 100);
    assert_eq!(stats.processed_seq, 100);
    assert_eq!(stats.ring_depth, 0);
    assert_eq!(
        stats.journal_bytes,
        100 * hayate::journal::record::frame_len(128) as u64
    );
    assert!(stats.commits >= 1 && stats.commits <= 100, "{stats:?}");
    drop(publisher);
    let stopper = std::thread::spawn(move || pipeline.stop());
    drain(&mut events, Duration::from_secs(30), |_| false);
    stopper.join().expect("stop thread").expect("stop");
}

/// An operator's Snapshot command is journaled and the matcher writes the state at its sequence,
/// even with periodic snapshots off.
#[test]
fn a_snapshot_command_writes_a_snapshot_at_its_sequence() {
    let data = tempfile::tempdir().expect("tempdir");
    let config = config();
    let (pipeline, mut events, _) = Pipeline::builder(config.engine_config().clone(), data.path())
        .journal_options(small_journal(FlushPolicy::Never))
        .initial_commands(config.initial_deposits())
        .snapshot_on_stop(false)
        .start()
        .expect("start");
    let mut publisher = pipeline.publisher();
    publisher.publish(&Command::snapshot()).expect("publish");
    let mut marked = None;
    drain(&mut events, Duration::from_secs(10), |out| {
        if out.event.event_kind() == Some(EventKind::SnapshotMarked) {
            marked = Some(out.seq);
        }
        marked.is_some()
    });
    let seq = marked.expect("the engine marks the snapshot request");
    let deadline = Instant::now() + Duration::from_secs(10);
    while pipeline.snapshot_seq() != seq && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(10));
    }
    assert_eq!(pipeline.snapshot_seq(), seq);
    drop(publisher);
    let stopper = std::thread::spawn(move || pipeline.stop());
    drain(&mut events, Duration::from_secs(30), |_| false);
    stopper.join().expect("stop thread").expect("stop");
    let report = recovery::replay(
        config.engine_config(),
        &data.path().join("journal"),
        ReplayOptions {
            snapshot_dir: Some(&data.path().join("snapshots")),
            to_seq: None,
        },
        |_, _, _| {},
        |_| {},
    )
    .expect("replay")
    .1;
    assert_eq!(report.snapshot.map(|s| s.0), Some(seq));
}

/// BEHAVIOUR.md §10: a block is engine state. Stopped without a snapshot, the restart replays it
/// from the journal; stopped with one, the restart loads it from the snapshot; either way the
/// account stays blocked until an unblock.
#[test]
fn a_block_survives_restart_from_the_journal_and_from_a_snapshot() {
    let data = tempfile::tempdir().expect("tempdir");
    let config = config();
    let start = |snapshot_on_stop: bool| {
        Pipeline::builder(config.engine_config().clone(), data.path())
            .journal_options(small_journal(FlushPolicy::Never))
            .initial_commands(config.initial_deposits())
            .snapshot_on_stop(snapshot_on_stop)
            .start()
            .expect("start")
    };
    // Publishes one command, stamped `stamp` (unique, so its events are told apart from the
    // deposits' at start), and returns the kinds and reasons of its events.
    let ask = |pipeline: &Pipeline,
               events: &mut hayate::pipeline::EventReceiver,
               cmd: Command,
               stamp: u64|
     -> Vec<(EventKind, Reason)> {
        pipeline
            .publisher()
            .publish(&cmd.at(stamp))
            .expect("publish");
        let mut got = Vec::new();
        drain(events, Duration::from_secs(10), |out| {
            let ours = out.timestamp_ns == stamp;
            if ours {
                got.push((out.event.event_kind().expect("kind"), out.event.reason()));
            }
            ours && out.last
        });
        got
    };
    let alice = AccountId(1);
    let rejected_blocked = vec![(EventKind::Rejected, Reason::AccountBlocked)];

    let (pipeline, mut events, _) = start(false);
    assert_eq!(
        ask(&pipeline, &mut events, order(1, 0), 1_000),
        [(EventKind::Accepted, Reason::None)]
    );
    assert_eq!(
        ask(&pipeline, &mut events, Command::block(alice), 1_001),
        [
            (EventKind::Canceled, Reason::AccountBlocked),
            (EventKind::AccountBlocked, Reason::None)
        ]
    );
    let first = stop_and_report(pipeline, events);
    assert!(first.snapshot.is_none());

    // From the journal.
    let (pipeline, mut events, report) = start(true);
    assert!(report.snapshot.is_none(), "{report}");
    assert!(report.replayed > 0);
    assert_eq!(report.blocked_accounts, [alice]);
    assert_eq!(
        ask(&pipeline, &mut events, order(1, 2), 1_002),
        rejected_blocked
    );
    let second = stop_and_report(pipeline, events);
    assert!(second.snapshot.is_some());

    // From the stop snapshot.
    let (pipeline, mut events, report) = start(false);
    assert_eq!(
        report.snapshot.as_ref().map(|s| s.0),
        Some(second.processed_seq)
    );
    assert_eq!(report.replayed, 0, "{report}");
    assert_eq!(report.blocked_accounts, [alice]);
    assert_eq!(
        ask(&pipeline, &mut events, order(1, 4), 1_003),
        rejected_blocked
    );
    assert_eq!(
        ask(&pipeline, &mut events, Command::unblock(alice), 1_004),
        [(EventKind::AccountUnblocked, Reason::None)]
    );
    assert_eq!(
        ask(&pipeline, &mut events, order(1, 6), 1_005),
        [(EventKind::Accepted, Reason::None)]
    );
    stop_and_report(pipeline, events);
}

fn stop_and_report(
    pipeline: Pipeline,
    mut events: hayate::pipeline::EventReceiver,
) -> hayate::pipeline::StopReport {
    let stopper = std::thread::spawn(move || pipeline.stop());
    drain(&mut events, Duration::from_secs(30), |_| false);
    stopper.join().expect("stop thread").expect("stop")
}

fn replicated(
    data: &std::path::Path,
    link: std::sync::Arc<hayate::pipeline::ReplicaLink>,
) -> (Pipeline, hayate::pipeline::EventReceiver) {
    let config = config();
    let (pipeline, events, _) = Pipeline::builder(config.engine_config().clone(), data)
        .journal_options(small_journal(FlushPolicy::Never))
        .replica(link)
        .start()
        .expect("start");
    (pipeline, events)
}

fn stop(pipeline: Pipeline, mut events: hayate::pipeline::EventReceiver) {
    let stopper = std::thread::spawn(move || pipeline.stop());
    drain(&mut events, Duration::from_secs(30), |_| false);
    let _ = stopper.join().expect("stop thread");
}

/// Synchronous replication: the matcher does not see a command before the standby acknowledged it.
#[test]
fn sync_replication_holds_each_batch_until_the_standby_acknowledges_it() {
    use hayate::pipeline::ReplicationMode;
    use hayate::pipeline::{ReplicaLink, StandbyLossPolicy};
    let data = tempfile::tempdir().expect("tempdir");
    let link = ReplicaLink::new(
        ReplicationMode::Sync,
        StandbyLossPolicy::Halt,
        Duration::from_secs(20),
    );
    link.set_connected(true);
    let (pipeline, mut events) = replicated(data.path(), std::sync::Arc::clone(&link));
    let mut publisher = pipeline.publisher();
    publisher.publish(&Command::halt(None)).expect("publish");
    // Journaled, but not matched: the standby has not acknowledged it.
    let mut seen = 0;
    drain(&mut events, Duration::from_millis(200), |_| {
        seen += 1;
        false
    });
    assert_eq!(seen, 0, "nothing is matched before the standby has it");
    assert_eq!(pipeline.durable_seq(), 1);
    link.acknowledge(1);
    drain(&mut events, Duration::from_secs(10), |_| {
        seen += 1;
        true
    });
    assert_eq!(seen, 1);
    assert!(!link.is_degraded());
    drop(publisher);
    stop(pipeline, events);
}

/// With the standby gone, `halt` stops the pipeline and `degrade` trades on with the alarm up.
#[test]
fn losing_the_standby_halts_or_degrades_by_policy() {
    use hayate::pipeline::ReplicationMode;
    use hayate::pipeline::{ReplicaLink, StandbyLossPolicy};
    let data = tempfile::tempdir().expect("tempdir");
    let link = ReplicaLink::new(
        ReplicationMode::Sync,
        StandbyLossPolicy::Halt,
        Duration::from_millis(50),
    );
    let (pipeline, events) = replicated(data.path(), link);
    let mut publisher = pipeline.publisher();
    publisher.publish(&Command::halt(None)).expect("publish");
    let deadline = Instant::now() + Duration::from_secs(10);
    while pipeline.failure().is_none() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(5));
    }
    let failure = pipeline.failure().expect("halted");
    assert!(
        failure.contains("no standby acknowledged sequence 1"),
        "{failure}"
    );
    assert!(matches!(
        publisher.publish(&Command::resume(None)),
        Err(PublishError::Stopped(_))
    ));
    drop(publisher);
    stop(pipeline, events);

    let data = tempfile::tempdir().expect("tempdir");
    let link = ReplicaLink::new(
        ReplicationMode::Sync,
        StandbyLossPolicy::Degrade,
        Duration::from_millis(50),
    );
    let (pipeline, mut events) = replicated(data.path(), std::sync::Arc::clone(&link));
    let mut publisher = pipeline.publisher();
    publisher.publish(&Command::halt(None)).expect("publish");
    let mut seen = 0;
    drain(&mut events, Duration::from_secs(10), |_| {
        seen += 1;
        true
    });
    assert_eq!(seen, 1, "degraded: trading goes on");
    assert!(link.is_degraded());
    // The standby catches up: the next batch clears the alarm and waits again from then on.
    link.set_connected(true);
    link.acknowledge(2);
    publisher.publish(&Command::resume(None)).expect("publish");
    drain(&mut events, Duration::from_secs(10), |_| true);
    assert!(!link.is_degraded());
    drop(publisher);
    stop(pipeline, events);
}

/// A degraded link recovers under steady traffic: once the standby is back and holds everything
/// before a batch, that batch is waited for, and its acknowledgement clears the alarm.
#[test]
fn a_degraded_link_waits_again_once_the_standby_has_caught_up() {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, Ordering};

    use hayate::pipeline::ReplicationMode;
    use hayate::pipeline::{ReplicaLink, StandbyLossPolicy};
    let data = tempfile::tempdir().expect("tempdir");
    let link = ReplicaLink::new(
        ReplicationMode::Sync,
        StandbyLossPolicy::Degrade,
        Duration::from_secs(20),
    );
    let (pipeline, mut events) = replicated(data.path(), Arc::clone(&link));
    let mut publisher = pipeline.publisher();
    // No standby: trading goes on, alarmed.
    publisher.publish(&Command::halt(None)).expect("publish");
    drain(&mut events, Duration::from_secs(10), |_| true);
    assert!(link.is_degraded());
    // A standby connects and keeps up: it acknowledges whatever the journal made durable.
    link.set_connected(true);
    let done = Arc::new(AtomicBool::new(false));
    let standby = {
        let (link, done, monitor) = (Arc::clone(&link), Arc::clone(&done), pipeline.monitor());
        std::thread::spawn(move || {
            while !done.load(Ordering::Acquire) {
                link.acknowledge(monitor.stats().durable_seq);
                std::thread::sleep(Duration::from_millis(1));
            }
        })
    };
    let deadline = Instant::now() + Duration::from_secs(10);
    while link.acked_seq() < pipeline.durable_seq() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(1));
    }
    assert_eq!(link.acked_seq(), 1, "the standby has caught up");
    // The next batch is waited for, and its acknowledgement clears the alarm.
    publisher.publish(&Command::resume(None)).expect("publish");
    drain(&mut events, Duration::from_secs(10), |_| true);
    assert!(
        !link.is_degraded(),
        "the alarm clears once the standby keeps up"
    );
    done.store(true, Ordering::Release);
    standby.join().expect("standby thread");
    drop(publisher);
    stop(pipeline, events);
}

/// A full disk (filled by someone else, past the gateway's disk guard) stops the pipeline with an
/// error naming the journal file and the cause, and every command whose events came out is in the
/// journal. Needs root to mount a small tmpfs; skipped (with a message) where mounting is refused.
#[test]
fn a_full_disk_stops_the_pipeline_with_a_named_error_and_loses_nothing_acknowledged() {
    let Some(tmpfs) = Tmpfs::mount("4m") else {
        return;
    };
    let data = tmpfs.path().join("data");
    let config = config();
    let (pipeline, mut events, _) = Pipeline::builder(config.engine_config().clone(), &data)
        .journal_options(JournalOptions {
            segment_size: 64 * 1024,
            flush_policy: FlushPolicy::Always,
            first_seq: 1,
        })
        .initial_commands(config.initial_deposits())
        .snapshot_on_stop(false)
        .start()
        .expect("start");
    // A few orders go through while there is room.
    let mut publisher = pipeline.publisher();
    let mut acknowledged = 0u64;
    let mut n = 0u64;
    while n < 10 {
        publisher
            .try_publish(&order(1, n))
            .expect("room in the ring");
        n += 1;
    }
    drain(&mut events, Duration::from_secs(10), |out| {
        acknowledged = acknowledged.max(out.seq);
        out.event.client_order_id.as_bytes() == b"a1-9"
    });
    assert!(
        acknowledged > 0,
        "orders went through before the disk filled"
    );
    // Someone else fills the disk, leaving room for about one more segment.
    tmpfs.fill_leaving(96 * 1024);
    let deadline = Instant::now() + Duration::from_secs(30);
    let refused = loop {
        match publisher.try_publish(&order(1, n)) {
            Ok(()) => n += 1,
            Err(PublishError::Full) => {}
            Err(PublishError::Stopped(why)) => break why,
            Err(e) => panic!("unexpected {e}"),
        }
        let _ = events.poll(|out| acknowledged = acknowledged.max(out.seq));
        assert!(Instant::now() < deadline, "the journaler never failed");
    };
    eprintln!("stopped after {acknowledged} acknowledged commands: {refused}");
    assert!(refused.contains("journaler"), "{refused}");
    assert!(refused.contains("No space left on device"), "{refused}");
    assert!(refused.contains(".seg"), "names the file: {refused}");
    drop(publisher);
    let stopper = std::thread::spawn(move || pipeline.stop());
    drain(&mut events, Duration::from_secs(30), |out| {
        acknowledged = acknowledged.max(out.seq);
        false
    });
    let stopped = stopper.join().expect("stop thread");
    assert!(
        matches!(
            stopped,
            Err(hayate::pipeline::PipelineError::StageFailed(_))
        ),
        "{stopped:?}"
    );
    let (_, report) = recovery::replay(
        config.engine_config(),
        &data.join("journal"),
        ReplayOptions::default(),
        |_, _, _| {},
        |_| {},
    )
    .expect("replay");
    assert!(
        report.last_seq >= acknowledged,
        "acknowledged through {acknowledged}, journal ends at {}",
        report.last_seq
    );
}
