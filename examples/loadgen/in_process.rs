//! `--mode in-process` (the default): a [`Pipeline`] in this process, fed by the producer
//! (its `Publisher`) on one thread and read by a consumer (its `EventReceiver`) on another; the
//! two accounts it trades are made rich first. Also this mode's configuration lines and report.

use std::io::Write as _;
use std::path::Path;
use std::time::{Duration, Instant};

use hayate::journal::JournalOptions;
use hayate::pipeline::{EventReceiver, Output, Pipeline, StagePins, StopReport};
use hayate::{AccountId, Amount, Command, ExchangeConfig, Price, SymbolId};

use crate::flow::{Flow, FlowCounts};
use crate::producer::{ProducerStats, run_producer};
use crate::recorder::Recorder;
use crate::report::{
    Words, group, hgrm_path, percentiles_line, print_event_counts, print_throughput,
    print_timeline, save_hgrm,
};
use crate::schedule::{Clock, Plan};
use crate::{Args, is_empty_dir};

/// What each account is credited before the flow starts, per asset, in minor units: far more
/// than any run can hold or trade, so no order is refused for funds.
const BIG_DEPOSIT: u64 = 100_000_000_000_000_000;
/// Passive orders kept on the book before the flow cancels the oldest.
const MIN_RESTING: usize = 2_000;

/// The in-process mode, start to finish: the demo exchange, one run, its report.
pub(crate) fn run(args: &Args, plan: &Plan) -> Result<(), String> {
    let config = ExchangeConfig::demo();
    let market = Market::of(&config)?;
    let result = run_in_process(args, &config, &market, plan)?;
    report(args, plan, result)
}

/// The symbol and accounts the flow trades.
struct Market {
    symbol: SymbolId,
    reference: Price,
    accounts: [AccountId; 2],
    /// Deposits that make the accounts rich enough for any run.
    deposits: Vec<Command>,
}

impl Market {
    fn of(config: &ExchangeConfig) -> Result<Market, String> {
        let engine = config.engine_config();
        let symbol = engine
            .symbol_id("BTC-JPY")
            .ok_or("the demo configuration has no BTC-JPY")?;
        let spec = engine
            .symbol(symbol)
            .ok_or("the demo configuration has no BTC-JPY spec")?;
        let reference = spec
            .reference_price
            .ok_or("BTC-JPY has no reference price")?;
        let accounts = [AccountId(1), AccountId(2)];
        for account in accounts {
            if !engine.accounts.contains(&account) {
                return Err(format!("the demo configuration has no account {account}"));
            }
        }
        let assets = [spec.base, spec.quote];
        let mut deposits = config.initial_deposits();
        for account in accounts {
            for asset in assets {
                deposits.push(Command::deposit(account, asset, Amount(BIG_DEPOSIT)).at(0));
            }
        }
        Ok(Market {
            symbol,
            reference,
            accounts,
            deposits,
        })
    }
}

/// What a run produced.
struct RunResult {
    recorder: Recorder,
    producer: ProducerStats,
    stop: Result<StopReport, String>,
    initial_commands: u64,
    data_dir: String,
}

fn run_in_process(
    args: &Args,
    config: &ExchangeConfig,
    market: &Market,
    plan: &Plan,
) -> Result<RunResult, String> {
    // The flow predicts order ids from 1: the journal must be new.
    let temp;
    let data_dir = match &args.data {
        Some(dir) => {
            if dir.exists() && !is_empty_dir(dir)? {
                return Err(format!(
                    "--data {}: the directory must be empty or absent (the flow needs a fresh exchange)",
                    dir.display()
                ));
            }
            dir.clone()
        }
        None => {
            temp = tempfile::Builder::new()
                .prefix("hayate-loadgen-")
                .tempdir()
                .map_err(|e| format!("cannot create a temporary directory: {e}"))?;
            temp.path().to_path_buf()
        }
    };
    let journal = JournalOptions {
        segment_size: args.segment_size,
        flush_policy: args.fsync.0,
        first_seq: 1,
    };
    let pins = StagePins {
        journaler: args.pin_journaler,
        replicator: args.pin_replicator,
        matcher: args.pin_matcher,
    };
    let (pipeline, events, recovery) = Pipeline::builder(config.engine_config().clone(), &data_dir)
        .journal_options(journal)
        .input_ring(args.input_ring)
        .output_ring(args.output_ring)
        .wait(args.wait)
        .pins(pins)
        .initial_commands(market.deposits.clone())
        .start()
        .map_err(|e| format!("cannot start the pipeline: {e}"))?;
    if recovery.last_seq != 0 || recovery.snapshot.is_some() {
        return Err(format!(
            "the journal under {} was not new ({recovery})",
            data_dir.display()
        ));
    }

    print_configuration(args, plan, &data_dir);
    let clock = Clock {
        start: Instant::now(),
    };
    let recorder = Recorder::new(*plan)?;
    let consumer = {
        std::thread::Builder::new()
            .name("loadgen-consumer".into())
            .spawn(move || consume(events, recorder, clock))
            .map_err(|e| format!("cannot start the consumer thread: {e}"))?
    };
    let producer = {
        let mut publisher = pipeline.publisher();
        let mut flow = Flow::new(
            market.symbol,
            market.accounts,
            market.reference,
            args.seed,
            MIN_RESTING,
        );
        let plan = *plan;
        std::thread::Builder::new()
            .name("loadgen-producer".into())
            .spawn(move || run_producer(&mut publisher, &mut flow, &plan, clock))
            .map_err(|e| format!("cannot start the producer thread: {e}"))?
    };

    let producer = producer
        .join()
        .map_err(|_| "the producer thread panicked".to_string())?;
    // The producer's publisher is gone; stop drains the rings while the consumer keeps polling.
    let stopped = pipeline.stop();
    let recorder = consumer
        .join()
        .map_err(|_| "the consumer thread panicked".to_string())?;
    Ok(RunResult {
        recorder,
        producer,
        stop: stopped.map_err(|e| e.to_string()),
        initial_commands: market.deposits.len() as u64,
        data_dir: data_dir.display().to_string(),
    })
}

/// Polls until the pipeline has stopped and every event is read.
fn consume(mut events: EventReceiver, mut recorder: Recorder, clock: Clock) -> Recorder {
    let mut idle = 0u32;
    loop {
        // One clock read per batch, taken lazily after the batch is visible: every event in it
        // was published before the poll began, so none is charged less than its latency.
        let mut now = 0u64;
        let polled = events.poll(|out: &Output| {
            if now == 0 {
                now = clock.now_ns();
            }
            recorder.on_event(now, out.timestamp_ns, out.index, &out.event);
        });
        match polled {
            Ok(0) => {
                if idle < 100 {
                    std::hint::spin_loop();
                } else if idle < 1_100 {
                    std::thread::yield_now();
                } else {
                    std::thread::sleep(Duration::from_micros(50));
                }
                idle = idle.saturating_add(1);
            }
            Ok(_) => idle = 0,
            Err(_stopped) => return recorder,
        }
    }
}

fn print_configuration(args: &Args, plan: &Plan, data_dir: &Path) {
    let pin = |p: Option<usize>| p.map_or("-".to_string(), |c| c.to_string());
    println!("hayate loadgen — mode {:?}", args.mode);
    println!(
        "  offered rate   {} commands/s, open loop (latency from the scheduled send time: coordinated-omission corrected)",
        group(args.rate)
    );
    println!(
        "  schedule       warm-up {} s ({} commands, not recorded), measured {} s ({} commands), drain timeout {} s",
        args.warmup,
        group(plan.warmup),
        args.duration,
        group(plan.measured),
        args.drain_timeout
    );
    println!("  fsync          {}", args.fsync);
    println!(
        "  wait           {:?}; pins journaler {} replicator {} matcher {}; {} cores available",
        args.wait,
        pin(args.pin_journaler),
        pin(args.pin_replicator),
        pin(args.pin_matcher),
        std::thread::available_parallelism().map_or(0, |n| n.get())
    );
    println!(
        "  rings          input {} slots, output {} slots; journal segment {} bytes",
        args.input_ring, args.output_ring, args.segment_size
    );
    println!(
        "  flow           BTC-JPY, account 1 buys, account 2 sells, seed {}: 60% limits (25% passive, 35% aggressive), 25% cancels, 10% market/IOC, 5% replaces",
        args.seed
    );
    println!(
        "  data           {}{}",
        data_dir.display(),
        if args.data.is_none() {
            " (temporary, deleted at the end)"
        } else {
            ""
        }
    );
    let _ = std::io::stdout().flush();
}

fn report(args: &Args, plan: &Plan, result: RunResult) -> Result<(), String> {
    let RunResult {
        mut recorder,
        producer,
        stop,
        initial_commands,
        data_dir,
    } = result;
    let abandoned = recorder.charge_never_sent(producer.abandoned);
    let h = &recorder.histogram;

    println!();
    println!("results");
    let words = Words {
        unit: "commands",
        done: "completed",
        system: "PIPELINE",
    };
    print_throughput(plan, &recorder, &words, abandoned > 0);
    let tail_ms = recorder.tail_ms();
    println!(
        "  measured       {} commands recorded ({} completed{}), last one completed {:.1} ms after the window closed",
        group(h.len()),
        group(recorder.completed_measured),
        if abandoned > 0 {
            format!(
                ", {} NEVER SENT: recorded at a lower bound (give-up time − scheduled), so the percentiles are lower bounds",
                group(abandoned)
            )
        } else {
            String::new()
        },
        tail_ms
    );
    println!(
        "  producer       sent {}, ring full {} times, latest send {:.3} ms behind schedule, {} sends > 1 ms late{}",
        group(producer.sent),
        group(producer.full),
        producer.max_send_lag_ns as f64 / 1e6,
        group(producer.late_1ms),
        producer
            .closed
            .as_ref()
            .map(|why| format!("; REFUSED: {why}"))
            .unwrap_or_default()
    );
    println!("  latency (µs, scheduled send → first event):");
    println!("    {}", percentiles_line(h));

    print_timeline(plan, &recorder);
    print_events(&recorder, &producer.flow);

    let stop = match stop {
        Ok(stop) => stop,
        Err(why) => return Err(format!("the pipeline stopped badly: {why}")),
    };
    println!(
        "  stop           processed seq {}, durable seq {}, digest {:#018x}, snapshot {} (data {})",
        stop.processed_seq,
        stop.durable_seq,
        stop.digest,
        stop.snapshot
            .as_ref()
            .map_or("none".to_string(), |p| p.display().to_string()),
        data_dir
    );
    let expected = initial_commands + producer.sent;
    if stop.processed_seq != expected || recorder.completed != expected {
        println!(
            "  !! MISMATCH: sent {} commands (+{} deposits) but the pipeline processed {} and {} first events came out",
            producer.sent, initial_commands, stop.processed_seq, recorder.completed
        );
    } else {
        println!(
            "  check          every command sent came out once ({} = {} deposits + {} sent)",
            expected, initial_commands, producer.sent
        );
    }

    let path = hgrm_path(args);
    save_hgrm(h, &path)?;
    println!("  hgrm           {} (values in µs)", path.display());
    Ok(())
}

fn print_events(recorder: &Recorder, flow: &FlowCounts) {
    println!(
        "  flow sent      {} passive, {} aggressive, {} market, {} IOC, {} cancels of passive orders, {} of recent aggressive ones, {} replaces",
        group(flow.passive),
        group(flow.aggressive),
        group(flow.market),
        group(flow.ioc),
        group(flow.cancels_resting),
        group(flow.cancels_recent),
        group(flow.replaces)
    );
    print_event_counts(recorder);
}
