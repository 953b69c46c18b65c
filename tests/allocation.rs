//! The hot path allocates nothing: after a warm-up, a long steady-state stream of mixed commands
//! (limits near the touch, cancels, crossing IOC and market orders, replaces) runs through the
//! engine — and through the whole pipeline: publisher, input ring, journaler, replicator, matcher,
//! output ring, receiver — while a counting global allocator watches every thread, and the count
//! must stay at zero.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use hayate::*;
// A deterministic generator (splitmix64), so the stream is the same every run.
use hayate_testkit::rng::Rng;
use rust_decimal::Decimal;

struct Counting;

static COUNTING: AtomicBool = AtomicBool::new(false);
/// The count is process-wide, so the tests in this file take turns.
static ONE_AT_A_TIME: std::sync::Mutex<()> = std::sync::Mutex::new(());
static ALLOCATIONS: AtomicU64 = AtomicU64::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if COUNTING.load(Ordering::Relaxed) {
            ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        }
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        if COUNTING.load(Ordering::Relaxed) {
            ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        }
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

fn config() -> EngineConfig {
    EngineConfig {
        assets: vec![
            AssetSpec {
                name: "BTC".into(),
                decimals: 8,
            },
            AssetSpec {
                name: "JPY".into(),
                decimals: 0,
            },
        ],
        symbols: vec![SymbolSpec {
            name: "BTC-JPY".into(),
            base: AssetId(0),
            quote: AssetId(1),
            tick_size: Decimal::ONE,
            lot_size: Decimal::new(1, 4),
            unit_notional: 1,
            lot_base_minor: 10_000,
            min_qty: Qty(1),
            max_qty: Qty(1_000_000),
            maker_fee_bps: 2,
            taker_fee_bps: 10,
            band_bps: 2_000,
            reference_price: Some(Price(100_000)),
            // A fat-finger limit that is checked on every order and replace but never trips
            // (the stream stays far below it): the check must not allocate either.
            max_notional: Amount(1 << 60),
            // A circuit breaker that trips now and then (the stream's prices spread about ±60
            // ticks around 100 000, market orders reach further; its bounds are ±20 around an
            // anchor a second, a thousand commands, old) and resumes 200 commands later:
            // recording trades, ageing the anchor, tripping and resuming must not allocate either.
            breaker: Some(BreakerSpec {
                bps: 2,
                window_ns: 1_000_000_000,
                halt_ns: 200_000_000,
            }),
        }],
        accounts: (1..=8).map(AccountId).collect(),
        max_open_orders: 1_000_000,
        order_capacity: 1 << 16,
        level_capacity: 4096,
    }
}

/// A mixed stream: ~60% limits near the touch, 25% cancels, 10% crossing IOC/market, 5% replaces.
/// It is generated against `model` (a copy of the engine under test), tracking the open orders
/// from the events, so cancels and replaces hit open orders; while the book holds more than
/// `BOOK_SIZE` orders a limit becomes a cancel, which keeps the book at a steady size as a live
/// market's is.
struct Generator {
    rng: Rng,
    model: Engine,
    live: Vec<(OrderId, AccountId)>,
    position: std::collections::HashMap<OrderId, usize>,
    /// The next command's timestamp: a millisecond apart, so the breaker's second-long window
    /// and halt span a thousand commands.
    next_ns: u64,
}

impl Generator {
    fn stream(&mut self, n: usize) -> Vec<Command> {
        const BOOK_SIZE: usize = 20_000;
        let symbol = SymbolId(0);
        let Generator {
            rng,
            model,
            live,
            position,
            next_ns,
        } = self;
        let mut out = Vec::with_capacity(n);
        let mut events = Vec::new();
        for i in 0..n {
            let account = AccountId(1 + rng.below(8) as u32);
            let side = if rng.below(2) == 0 {
                Side::Buy
            } else {
                Side::Sell
            };
            let client = ClientOrderId::new(&format!("o{i}")).expect("id");
            let mut roll = rng.below(100);
            if roll < 60 && live.len() > BOOK_SIZE {
                roll = 60;
            }
            let target = (!live.is_empty()).then(|| live[rng.below(live.len() as u64) as usize]);
            let cmd = match (roll, target) {
                (0..60, _) | (60..85, None) | (95.., None) => {
                    let away = rng.below(50) + 1;
                    let price = match side {
                        Side::Buy => 100_000 - away,
                        Side::Sell => 100_000 + away,
                    };
                    Command::new_order(NewOrder::limit(
                        account,
                        symbol,
                        side,
                        Price(price),
                        Qty(1 + rng.below(20)),
                        client,
                    ))
                }
                (60..85, Some((id, owner))) => {
                    Command::cancel(owner, OrderRef::Id(id), ClientOrderId::EMPTY)
                }
                (85..95, _) if rng.below(2) == 0 => Command::new_order(NewOrder::market(
                    account,
                    symbol,
                    side,
                    Qty(1 + rng.below(10)),
                    client,
                )),
                (85..95, _) => {
                    let price = match side {
                        Side::Buy => 100_010,
                        Side::Sell => 99_990,
                    };
                    Command::new_order(
                        NewOrder::limit(
                            account,
                            symbol,
                            side,
                            Price(price),
                            Qty(1 + rng.below(10)),
                            client,
                        )
                        .with_tif(TimeInForce::Ioc),
                    )
                }
                (_, Some((id, owner))) => {
                    let price = 100_000 - 60 + rng.below(120);
                    Command::replace(
                        owner,
                        OrderRef::Id(id),
                        client,
                        Price(price),
                        Qty(1 + rng.below(20)),
                    )
                }
            }
            .at(*next_ns);
            *next_ns += 1_000_000;
            events.clear();
            model.process(&cmd, &mut events);
            for e in &events {
                let ended = matches!(e.event_kind(), Some(EventKind::Canceled))
                    || (e.event_kind() == Some(EventKind::Fill) && e.leaves_qty.0 == 0);
                if e.event_kind() == Some(EventKind::Accepted) {
                    position.insert(e.order_id, live.len());
                    live.push((e.order_id, e.account));
                } else if ended {
                    if let Some(at) = position.remove(&e.order_id) {
                        live.swap_remove(at);
                        if let Some(&(moved, _)) = live.get(at) {
                            position.insert(moved, at);
                        }
                    }
                }
            }
            out.push(cmd);
        }
        out
    }
}

#[test]
fn steady_state_commands_allocate_nothing() {
    let _turn = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let mut engine = Engine::new(config());
    let mut events = Vec::new();
    for account in 1..=8 {
        engine.process(
            &Command::deposit(AccountId(account), AssetId(0), Amount(1 << 50)),
            &mut events,
        );
        engine.process(
            &Command::deposit(AccountId(account), AssetId(1), Amount(1 << 50)),
            &mut events,
        );
    }
    let mut generator = Generator {
        rng: Rng::new(7),
        model: Engine::load(&engine.save()).expect("copy"),
        live: Vec::new(),
        position: Default::default(),
        next_ns: 1,
    };
    let warm = generator.stream(200_000);
    let mut counted = 0u64;
    let mut kinds = [0u64; 32];
    let mut sink = |e: &Event| {
        counted += 1;
        kinds[e.kind as usize] += 1;
    };
    for cmd in &warm {
        engine.process(cmd, &mut sink);
    }
    // The measured stream continues from the state the warm-up left.
    let measured = generator.stream(500_000);
    assert_eq!(generator.model.digest(), {
        let mut check = Engine::load(&engine.save()).expect("copy");
        for cmd in &measured {
            check.process(cmd, &mut |_: &Event| {});
        }
        check.digest()
    });
    ALLOCATIONS.store(0, Ordering::SeqCst);
    COUNTING.store(true, Ordering::SeqCst);
    for cmd in &measured {
        engine.process(cmd, &mut sink);
    }
    COUNTING.store(false, Ordering::SeqCst);
    let allocations = ALLOCATIONS.load(Ordering::SeqCst);
    let open: usize = (1..=8)
        .map(|a| engine.open_orders(AccountId(a)).len())
        .sum();
    assert!(
        open <= 20_100,
        "the book should stay at its steady size, holds {open}"
    );
    engine.check_invariants().expect("invariants");
    // The stream must do real work for the zero to mean anything.
    let fills = kinds[EventKind::Fill as usize];
    let cancels = kinds[EventKind::Canceled as usize];
    let replaced = kinds[EventKind::Replaced as usize];
    assert!(
        fills > 100_000 && cancels > 20_000 && replaced > 2_000,
        "fills {fills} cancels {cancels} replaced {replaced}"
    );
    // The circuit breaker tripped and resumed on its own during the count.
    let (trips, resumes) = (
        kinds[EventKind::Halted as usize],
        kinds[EventKind::Resumed as usize],
    );
    assert!(trips > 0 && resumes > 0, "trips {trips} resumes {resumes}");
    assert_eq!(
        allocations,
        0,
        "{allocations} allocations over {} commands",
        measured.len()
    );
}

#[test]
fn the_pipeline_allocates_nothing_per_command_on_any_stage() {
    use hayate::journal::{FlushPolicy, JournalOptions};
    use hayate::pipeline::Pipeline;

    let _turn = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let data = tempfile::tempdir().expect("tempdir");
    let mut engine = Engine::new(config());
    let mut deposits = Vec::new();
    for account in 1..=8 {
        deposits.push(Command::deposit(
            AccountId(account),
            AssetId(0),
            Amount(1 << 50),
        ));
        deposits.push(Command::deposit(
            AccountId(account),
            AssetId(1),
            Amount(1 << 50),
        ));
    }
    for d in &deposits {
        engine.process(d, &mut |_: &Event| {});
    }
    let mut generator = Generator {
        rng: Rng::new(11),
        model: Engine::load(&engine.save()).expect("copy"),
        live: Vec::new(),
        position: Default::default(),
        next_ns: 1,
    };
    let warm = generator.stream(100_000);
    let measured = generator.stream(200_000);

    let (pipeline, mut events, _) = Pipeline::builder(config(), data.path())
        // One segment holds the whole run, so no roll-over (which opens a file) lands in it.
        .journal_options(JournalOptions {
            segment_size: 128 << 20,
            flush_policy: FlushPolicy::Never,
            first_seq: 1,
        })
        .initial_commands(deposits)
        .snapshot_on_stop(false)
        .start()
        .expect("start");
    let mut publisher = pipeline.publisher();
    let mut run = |commands: &[Command], events: &mut hayate::pipeline::EventReceiver| {
        let target = pipeline.processed_seq() + commands.len() as u64;
        let mut last = 0;
        for cmd in commands {
            while let Err(e) = publisher.try_publish(cmd) {
                assert_eq!(e, hayate::pipeline::PublishError::Full);
                let _ = events.poll(|out| last = out.seq);
            }
            let _ = events.poll(|out| last = out.seq);
        }
        while last < target {
            let _ = events.poll(|out| last = out.seq);
        }
    };
    run(&warm, &mut events);
    // The journal prepares its next segment on a background thread (once per segment, not per
    // command); let it finish creating the spare file before counting, so its allocations are
    // not mistaken for the hot path's.
    let spare = data.path().join("journal").join("spare.seg.tmp");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while std::fs::metadata(&spare).map_or(true, |m| m.len() < 128 << 20) {
        assert!(
            std::time::Instant::now() < deadline,
            "the spare segment never appeared"
        );
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    std::thread::sleep(std::time::Duration::from_millis(50));
    let before = stage_counters();
    ALLOCATIONS.store(0, Ordering::SeqCst);
    COUNTING.store(true, Ordering::SeqCst);
    run(&measured, &mut events);
    COUNTING.store(false, Ordering::SeqCst);
    let allocations = ALLOCATIONS.load(Ordering::SeqCst);
    let after = stage_counters();

    drop(publisher);
    let stopper = std::thread::spawn(move || pipeline.stop());
    while events.poll(|_| {}).is_ok() {}
    let stopped = stopper.join().expect("stop thread").expect("stop");
    assert_eq!(stopped.processed_seq, 16 + 300_000);
    assert_eq!(
        allocations,
        0,
        "{allocations} allocations over {} commands",
        measured.len()
    );
    // No system call per command while the stages are busy: the journaler appends through its
    // mapping (no read or write call; `fsync = never` here, so no msync), and a stage sleeps on
    // a futex — a voluntary context switch; a futex wake happens only for a stage that slept —
    // only when it runs out of work. A steady flow keeps that rarer than once per hundred
    // commands (the figure is printed for the README).
    let commands = measured.len() as u64;
    for (name, (switches, io_calls)) in &after {
        let (was_switches, was_io) = before.get(name).copied().unwrap_or_default();
        let (switches, io_calls) = (switches - was_switches, io_calls - was_io);
        eprintln!(
            "{name}: {switches} sleeps ({:.4} per command), {io_calls} read/write calls over {commands} commands",
            switches as f64 / commands as f64
        );
        assert_eq!(io_calls, 0, "{name} made read or write calls");
        assert!(
            switches * 100 < commands,
            "{name} slept {switches} times over {commands} commands"
        );
    }
    assert!(after.contains_key("hayate-journaler") && after.contains_key("hayate-matcher"));
}

/// Per pipeline stage thread of this process: voluntary context switches (the thread blocked:
/// slept on a futex or in a system call) and read/write-family system calls, from
/// `/proc/self/task/*/status` and `…/io`.
fn stage_counters() -> std::collections::BTreeMap<String, (u64, u64)> {
    let mut counters = std::collections::BTreeMap::new();
    let tasks = std::fs::read_dir("/proc/self/task").expect("/proc/self/task");
    for task in tasks.flatten() {
        let read = |file: &str| std::fs::read_to_string(task.path().join(file)).unwrap_or_default();
        // Linux keeps 15 bytes of a thread's name: "hayate-journale".
        let comm = read("comm");
        let Some(name) = ["hayate-journaler", "hayate-matcher", "hayate-replicator"]
            .into_iter()
            .find(|stage| stage.starts_with(comm.trim()) && !comm.trim().is_empty())
        else {
            continue;
        };
        let value = |text: &str, key: &str| -> u64 {
            text.lines()
                .find_map(|line| line.strip_prefix(key))
                .and_then(|v| v.trim().parse().ok())
                .expect(key)
        };
        let (status, io) = (read("status"), read("io"));
        counters.insert(
            name.to_owned(),
            (
                value(&status, "voluntary_ctxt_switches:"),
                value(&io, "syscr:") + value(&io, "syscw:"),
            ),
        );
    }
    counters
}

#[test]
fn steady_state_market_data_allocates_nothing() {
    // The builder and the view changes every feed encodes from (BEHAVIOUR.md §9), fed the engine's
    // events as the matcher publishes them, after a warm-up that grows every buffer. Without the
    // circuit breaker: its halts would thin this shorter stream below the book activity that makes
    // the zero mean something (the engine and pipeline tests above run with it).
    let _turn = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let mut config = config();
    config.symbols[0].breaker = None;
    let mut engine = Engine::new(config);
    let mut events = Vec::new();
    for account in 1..=8 {
        for asset in [AssetId(0), AssetId(1)] {
            engine.process(
                &Command::deposit(AccountId(account), asset, Amount(1 << 50)),
                &mut events,
            );
        }
    }
    let mut generator = Generator {
        rng: Rng::new(11),
        model: Engine::load(&engine.save()).expect("copy"),
        live: Vec::new(),
        position: Default::default(),
        next_ns: 1,
    };
    let warm = generator.stream(200_000);
    let measured = generator.stream(300_000);
    let mut market = market_data::MarketData::new(engine.config());
    let mut changes = Vec::with_capacity(4096);
    let mut updates = 0u64;
    let mut entries = 0u64;
    let mut run = |engine: &mut Engine,
                   market: &mut market_data::MarketData,
                   commands: &[Command],
                   first_seq: u64,
                   updates: &mut u64,
                   entries: &mut u64| {
        for (n, cmd) in commands.iter().enumerate() {
            let seq = first_seq + n as u64;
            // The matcher's marking: each event is passed on when the next arrives.
            let mut held: Option<pipeline::Output> = None;
            let mut index = 0u32;
            let mut on_update = |update: &market_data::Update, market: &market_data::MarketData| {
                *updates += 1;
                for depth in [0, 1, 10] {
                    for side in [Side::Buy, Side::Sell] {
                        changes.clear();
                        market.view_changes(update, side, depth, &mut changes);
                        *entries += changes.len() as u64;
                    }
                }
            };
            engine.process(cmd, &mut |event: &Event| {
                let out = pipeline::Output {
                    seq,
                    timestamp_ns: cmd.timestamp_ns,
                    index,
                    last: false,
                    event: *event,
                };
                if let Some(previous) = held.replace(out) {
                    market.on_output(&previous, &mut on_update);
                }
                index += 1;
            });
            if let Some(mut last) = held {
                last.last = true;
                market.on_output(&last, &mut on_update);
            }
        }
    };
    run(
        &mut engine,
        &mut market,
        &warm,
        1,
        &mut updates,
        &mut entries,
    );
    let (warm_updates, warm_entries) = (updates, entries);
    ALLOCATIONS.store(0, Ordering::SeqCst);
    COUNTING.store(true, Ordering::SeqCst);
    run(
        &mut engine,
        &mut market,
        &measured,
        warm.len() as u64 + 1,
        &mut updates,
        &mut entries,
    );
    COUNTING.store(false, Ordering::SeqCst);
    let allocations = ALLOCATIONS.load(Ordering::SeqCst);
    assert!(
        updates - warm_updates > 100_000 && entries - warm_entries > 100_000,
        "the stream must move the book: {} updates, {} entries",
        updates - warm_updates,
        entries - warm_entries
    );
    assert_eq!(
        allocations,
        0,
        "market data allocated {allocations} times over {} commands",
        measured.len()
    );
}
