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
