//! The bridge's PostgreSQL sink (issue 16) against a real server of the test's own
//! (`hayate_testkit::postgres`): what the tables hold equals, row by row, what the bridge's
//! `Applier` produced from a generated journal and what the replay tool's `trades` CSV says; and
//! it stays so through a backend killed mid-transaction, a server stopped for a while, a second
//! writer with a stale cursor, another exchange's configuration, and `replay trades
//! --to-postgres` run again or on an emptied database.
//!
//! The journal is the replay tool's `generate` output (deposits, then limit orders that cross,
//! IOC, FOK, post-only and market orders, replaces and cancels), made once per test run. Without
//! PostgreSQL's server binaries (Debian's `postgresql`) each test says so and passes, unless `CI`
//! is set: then it fails.

use std::collections::HashMap;
use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Command as Process, ExitStatus, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use hayate::adapters::bridge::{
    Applied, Applier, BalanceRow, OrderEventRow, PostgresSink, Sink, SinkError, TradeRow,
};
use hayate::journal::JournalReader;
use hayate::{AssetId, Command, Engine, ExchangeConfig};
use hayate_testkit::example::{example_binary, wait_bounded};
use hayate_testkit::postgres::{Postgres, trades_as_csv};
use postgres::{Client, NoTls};
use tempfile::TempDir;

/// Commands in the generated journal.
const COMMANDS: u64 = 20_000;
/// Segments of 1 MiB hold about 7,000 commands: the journal spans three, so one can be removed
/// to make a journal that does not start at 1.
const SEGMENT_SIZE: u64 = 1 << 20;
/// Commands per transaction, as the bridge and the replay tool write them.
const BATCH: usize = 1000;
/// No run of the replay tool may take longer.
const TIMEOUT: Duration = Duration::from_secs(120);

/// The generated journal and everything the bridge's applier made of it.
struct Fixture {
    data: TempDir,
    digest: u64,
    /// One per command, sequence 1 first; market data dropped (the NATS sink's business).
    applied: Vec<Applied>,
    /// Every (account, asset) balance of the engine after the last command.
    balances: Vec<BalanceRow>,
}

impl Fixture {
    /// The applier's rows of commands `1..=upto`.
    fn trades(&self, upto: u64) -> Vec<TradeRow> {
        self.upto(upto).flat_map(|a| a.trades.clone()).collect()
    }

    fn order_events(&self, upto: u64) -> Vec<OrderEventRow> {
        self.upto(upto)
            .flat_map(|a| a.order_events.clone())
            .collect()
    }

    /// The newest balance row of each (account, asset) among commands `1..=upto`, sorted.
    fn balances(&self, upto: u64) -> Vec<BalanceRow> {
        let mut newest: HashMap<(u32, String), BalanceRow> = HashMap::new();
        for row in self.upto(upto).flat_map(|a| &a.balances) {
            newest.insert((row.account, row.asset.clone()), row.clone());
        }
        let mut rows: Vec<BalanceRow> = newest.into_values().collect();
        rows.sort_by(|a, b| (a.account, &a.asset).cmp(&(b.account, &b.asset)));
        rows
    }

    fn upto(&self, upto: u64) -> impl Iterator<Item = &Applied> {
        self.applied.iter().take_while(move |a| a.seq <= upto)
    }

    /// Commands `from..=to` (sequences).
    fn batch(&self, from: u64, to: u64) -> &[Applied] {
        &self.applied[(from - 1) as usize..to as usize]
    }
}

/// The replay example, built once per test run.
fn tool() -> &'static Path {
    static TOOL: OnceLock<PathBuf> = OnceLock::new();
    TOOL.get_or_init(|| example_binary("replay"))
}

fn fixture() -> &'static Fixture {
    static FIXTURE: OnceLock<Fixture> = OnceLock::new();
    FIXTURE.get_or_init(|| {
        let data = TempDir::new().expect("temp data dir");
        run_ok(
            data.path(),
            &[
                "generate",
                "--commands",
                &COMMANDS.to_string(),
                "--seed",
                "16",
                "--segment-size",
                &SEGMENT_SIZE.to_string(),
            ],
        );
        // The tool's default configuration.
        let config = ExchangeConfig::demo().engine_config().clone();
        let digest = Engine::new(config.clone()).digest();
        let mut applier = Applier::new(&config, u64::MAX);
        let reader = JournalReader::open(data.path().join("journal")).expect("open the journal");
        let mut applied = Vec::new();
        for record in reader.records_from(0) {
            let record = record.expect("journal record");
            let command = Command::from_bytes(record.payload).expect("a command");
            let mut one = applier.apply(record.seq, &command);
            one.market.clear();
            one.snapshots.clear();
            applied.push(one);
        }
        assert_eq!(applied.len() as u64, COMMANDS);
        assert_eq!(applied[0].seq, 1);
        let mut balances = Vec::new();
        // The engine's accounts: the configuration's and the fee account.
        for account in applier.engine().accounts() {
            for asset in 0..config.assets.len() {
                let asset = AssetId(asset as u16);
                if let Some(balance) = applier.engine().balance(account, asset) {
                    balances.extend(BalanceRow::new(
                        &config,
                        COMMANDS,
                        account.0,
                        asset,
                        balance.available,
                        balance.reserved,
                    ));
                }
            }
        }
        let trades: usize = applied.iter().map(|a| a.trades.len()).sum();
        let events: usize = applied.iter().map(|a| a.order_events.len()).sum();
        assert!(trades > 1000, "the generated flow trades: {trades}");
        assert!(events > COMMANDS as usize, "order events: {events}");
        Fixture {
            data,
            digest,
            applied,
            balances,
        }
    })
}

/// Runs the tool on `data` with `args`; output goes to files so a chatty run cannot block.
fn run_tool(data: &Path, args: &[&str]) -> (ExitStatus, String, String) {
    let capture = TempDir::new().expect("temp dir for the output");
    let stdout_path = capture.path().join("stdout");
    let stderr_path = capture.path().join("stderr");
    let child = Process::new(tool())
        .arg("--data")
        .arg(data)
        .arg("--quiet")
        .args(args)
        .stdin(Stdio::null())
        .stdout(File::create(&stdout_path).expect("stdout file"))
        .stderr(File::create(&stderr_path).expect("stderr file"))
        .spawn()
        .expect("start the replay example");
    let status = wait_bounded(child, TIMEOUT, &format!("replay {}", args.join(" ")));
    let read = |path: &Path| std::fs::read_to_string(path).expect("read the tool's output");
    (status, read(&stdout_path), read(&stderr_path))
}

fn run_ok(data: &Path, args: &[&str]) -> String {
    let (status, stdout, stderr) = run_tool(data, args);
    assert!(
        status.success(),
        "`replay {}` failed ({status}):\n{stdout}\n{stderr}",
        args.join(" ")
    );
    stdout
}

fn client(url: &str) -> Client {
    Client::connect(url, NoTls).expect("connect to the test server")
}

fn connect(url: &str, digest: u64) -> PostgresSink {
    PostgresSink::connect(url, digest).expect("the sink connects")
}

/// Row strings live for the test run (the rows' enum-like fields are `&'static str`).
fn leak(text: String) -> &'static str {
    Box::leak(text.into_boxed_str())
}

fn u64_of(value: i64) -> u64 {
    u64::try_from(value).expect("non-negative")
}

fn u32_of(value: i64) -> u32 {
    u32::try_from(value).expect("an account id")
}

fn db_trades(db: &mut Client) -> Vec<TradeRow> {
    db.query(
        "SELECT seq, ts_ns, trade_id, symbol, price, qty, taker_side, taker_account, \
         taker_order_id, maker_account, maker_order_id, taker_fee, maker_fee, fee_asset, \
         (extract(epoch FROM ts) * 1000000)::bigint AS ts_us FROM trades ORDER BY trade_id",
        &[],
    )
    .expect("select trades")
    .iter()
    .map(|r| {
        let ts_ns = u64_of(r.get("ts_ns"));
        // `ts` is the same instant, to PostgreSQL's microsecond.
        assert_eq!(u64_of(r.get("ts_us")), ts_ns / 1000, "ts of {r:?}");
        TradeRow {
            seq: u64_of(r.get("seq")),
            timestamp_ns: ts_ns,
            trade_id: u64_of(r.get("trade_id")),
            symbol: r.get("symbol"),
            price: r.get("price"),
            qty: r.get("qty"),
            taker_side: leak(r.get("taker_side")),
            taker_account: u32_of(r.get("taker_account")),
            taker_order_id: u64_of(r.get("taker_order_id")),
            maker_account: u32_of(r.get("maker_account")),
            maker_order_id: u64_of(r.get("maker_order_id")),
            taker_fee: r.get("taker_fee"),
            maker_fee: r.get("maker_fee"),
            fee_asset: r.get("fee_asset"),
        }
    })
    .collect()
}

fn db_order_events(db: &mut Client) -> Vec<OrderEventRow> {
    db.query("SELECT * FROM order_events ORDER BY seq, index", &[])
        .expect("select order_events")
        .iter()
        .map(|r| OrderEventRow {
            seq: u64_of(r.get("seq")),
            index: u32::try_from(r.get::<_, i32>("index")).expect("index"),
            timestamp_ns: u64_of(r.get("ts_ns")),
            account: u32_of(r.get("account")),
            order_id: u64_of(r.get("order_id")),
            client_order_id: r.get("client_order_id"),
            kind: leak(r.get("kind")),
            symbol: r.get("symbol"),
            side: leak(r.get("side")),
            price: r.get("price"),
            order_qty: r.get("order_qty"),
            leaves_qty: r.get("leaves_qty"),
            cum_qty: r.get("cum_qty"),
            last_px: r.get("last_px"),
            last_qty: r.get("last_qty"),
            trade_id: r.get::<_, Option<i64>>("trade_id").map(u64_of),
            fee: r.get("fee"),
            maker: r.get("maker"),
            reason: leak(r.get("reason")),
            orig_client_order_id: r.get("orig_client_order_id"),
        })
        .collect()
}

fn db_balances(db: &mut Client) -> Vec<BalanceRow> {
    db.query("SELECT * FROM balances ORDER BY account, asset", &[])
        .expect("select balances")
        .iter()
        .map(|r| BalanceRow {
            account: u32_of(r.get("account")),
            asset: r.get("asset"),
            available: r.get("available"),
            reserved: r.get("reserved"),
            seq: u64_of(r.get("seq")),
        })
        .collect()
}

fn db_cursor(db: &mut Client) -> u64 {
    u64_of(
        db.query_one("SELECT seq FROM bridge_cursor", &[])
            .expect("the cursor row")
            .get(0),
    )
}

/// The database holds exactly the applier's output of commands `1..=upto`, cursor included —
/// nothing more (no duplicate, nothing of a later command), nothing less.
fn assert_holds_exactly(db: &mut Client, fixture: &Fixture, upto: u64) {
    assert_eq!(db_cursor(db), upto, "cursor");
    let trades = db_trades(db);
    let expected = fixture.trades(upto);
    assert_eq!(trades.len(), expected.len(), "trades up to {upto}");
    for (row, want) in trades.iter().zip(&expected) {
        assert_eq!(row, want);
        // Same scale too (1.50 stays 1.50): the CSV and the table print alike.
        assert_eq!(row.price.to_string(), want.price.to_string());
        assert_eq!(row.taker_fee.to_string(), want.taker_fee.to_string());
    }
    let events = db_order_events(db);
    let expected = fixture.order_events(upto);
    assert_eq!(events.len(), expected.len(), "order events up to {upto}");
    for (row, want) in events.iter().zip(&expected) {
        assert_eq!(row, want);
    }
    assert_eq!(
        db_balances(db),
        fixture.balances(upto),
        "balances up to {upto}"
    );
}

/// Writes commands `from..=to` in batches of [`BATCH`].
fn write_range(sink: &mut PostgresSink, fixture: &Fixture, from: u64, to: u64) {
    let mut first = from;
    while first <= to {
        let last = (first + BATCH as u64 - 1).min(to);
        sink.write(fixture.batch(first, last))
            .unwrap_or_else(|e| panic!("write {first}..{last}: {e}"));
        first = last + 1;
    }
}

/// Waits until server backend `pid` waits for a lock (the test holds it).
fn wait_for_lock(db: &mut Client, pid: i32) {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let waiting: bool = db
            .query_one(
                "SELECT count(*) > 0 FROM pg_stat_activity \
                 WHERE pid = $1 AND wait_event_type = 'Lock'",
                &[&pid],
            )
            .expect("pg_stat_activity")
            .get(0);
        if waiting {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "backend {pid} never waited for the lock"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
}

fn is_unavailable(result: &Result<impl std::fmt::Debug, SinkError>) -> bool {
    matches!(result, Err(SinkError::Unavailable { .. }))
}

fn is_fatal(result: &Result<impl std::fmt::Debug, SinkError>) -> bool {
    matches!(result, Err(SinkError::Fatal { .. }))
}

/// (a), (b): the whole journal in batches of 1000; the tables equal the applier's rows and the
/// balances the engine's. Logs the sink's throughput.
#[test]
fn the_tables_equal_the_appliers_rows_and_the_engines_balances() {
    let Some(pg) = Postgres::or_skip("the_tables_equal_the_appliers_rows_and_the_engines_balances")
    else {
        return;
    };
    let fixture = fixture();
    let mut sink = connect(&pg.url(), fixture.digest);
    assert_eq!(sink.cursor().expect("cursor"), 0, "a fresh database");
    let start = Instant::now();
    write_range(&mut sink, fixture, 1, COMMANDS);
    let elapsed = start.elapsed().as_secs_f64();
    let written = sink.written();
    let rows = written.trades + written.order_events + written.balances;
    eprintln!(
        "postgres sink: {} commands in batches of {BATCH} in {elapsed:.3} s: {:.0} commands/s, \
         {:.0} rows/s ({} trades, {} order events, {} balance rows)",
        written.commands,
        written.commands as f64 / elapsed,
        rows as f64 / elapsed,
        written.trades,
        written.order_events,
        written.balances
    );
    assert_eq!(written.commands, COMMANDS);
    assert_eq!(sink.cursor().expect("cursor"), COMMANDS);
    let (floor, floor_rows) = copy_floor(&pg.url(), fixture);
    eprintln!(
        "floor: {floor_rows} rows (each trade and order event as JSON text) in the same \
         transactions, one text COPY and a COMMIT each, in {:.3} s: {:.0} rows/s; the sink took \
         {:.2}× the floor",
        floor.as_secs_f64(),
        floor_rows as f64 / floor.as_secs_f64(),
        elapsed / floor.as_secs_f64()
    );

    let mut db = client(&pg.url());
    assert_holds_exactly(&mut db, fixture, COMMANDS);
    // Every balance the engine holds at the end, and none it does not.
    let engine: Vec<BalanceRow> = fixture
        .balances
        .iter()
        .filter(|b| !b.available.is_zero() || !b.reserved.is_zero())
        .cloned()
        .collect();
    let table: Vec<BalanceRow> = db_balances(&mut db)
        .into_iter()
        .filter(|b| !b.available.is_zero() || !b.reserved.is_zero())
        .collect();
    assert_eq!(table.len(), engine.len(), "non-zero balances");
    for (row, want) in table.iter().zip(&engine) {
        assert_eq!(
            (row.account, &row.asset, row.available, row.reserved),
            (want.account, &want.asset, want.available, want.reserved)
        );
    }
    // The schema's indexes exist (the back office's queries depend on them).
    let indexes: Vec<String> = db
        .query(
            "SELECT indexname FROM pg_indexes WHERE schemaname = 'public' ORDER BY indexname",
            &[],
        )
        .expect("pg_indexes")
        .iter()
        .map(|r| r.get(0))
        .collect();
    for index in [
        "trades_taker_account_ts",
        "trades_maker_account_ts",
        "trades_symbol_ts",
        "order_events_order",
        "order_events_account_ts",
    ] {
        assert!(indexes.iter().any(|i| i == index), "{index} in {indexes:?}");
    }
    // Connecting again is idempotent: same schema, same cursor.
    let mut again = connect(&pg.url(), fixture.digest);
    assert_eq!(again.cursor().expect("cursor"), COMMANDS);

    // The rate at other batch sizes, each into a database of its own.
    for size in [100u64, 5000] {
        let name = format!("batch_{size}");
        db.batch_execute(&format!("CREATE DATABASE {name}"))
            .expect("create a database");
        let mut sink = connect(&pg.url_of(&name), fixture.digest);
        let start = Instant::now();
        let mut first = 1;
        while first <= COMMANDS {
            let last = (first + size - 1).min(COMMANDS);
            sink.write(fixture.batch(first, last)).expect("write");
            first = last + 1;
        }
        let elapsed = start.elapsed().as_secs_f64();
        let written = sink.written();
        let rows = written.trades + written.order_events + written.balances;
        eprintln!(
            "postgres sink: {} commands in batches of {size} in {elapsed:.3} s: {:.0} \
             commands/s, {:.0} rows/s",
            written.commands,
            written.commands as f64 / elapsed,
            rows as f64 / elapsed
        );
    }
}

/// (c): the sink's server backend is killed (`pg_terminate_backend`) while it is in the middle
/// of a 10,000-command transaction — cursor moved, trades and order events copied, balances
/// waiting for a lock the test holds. Nothing of that batch stays; retrying from the cursor the
/// sink reads after reconnecting ends with exactly the expected rows.
#[test]
fn a_backend_killed_mid_transaction_leaves_the_cursor_and_the_rows_consistent() {
    let Some(pg) = Postgres::or_skip(
        "a_backend_killed_mid_transaction_leaves_the_cursor_and_the_rows_consistent",
    ) else {
        return;
    };
    let fixture = fixture();
    let url = pg.url();
    let mut sink = connect(&url, fixture.digest);
    assert_eq!(sink.cursor().expect("cursor"), 0);
    write_range(&mut sink, fixture, 1, 5000);
    let pid = sink.backend_pid().expect("the sink's backend");

    // Hold the balances table so the sink's transaction stops right before its last statement.
    let mut locker = client(&url);
    let mut lock = locker.transaction().expect("begin");
    lock.batch_execute("LOCK TABLE balances IN ACCESS EXCLUSIVE MODE")
        .expect("lock balances");
    let writer = std::thread::spawn(move || {
        let result = sink.write(fixture.batch(5001, 15000));
        (sink, result)
    });
    let mut watcher = client(&url);
    wait_for_lock(&mut watcher, pid);
    // The transaction has written its trades and order events by now: it is really mid-way.
    let terminated: bool = watcher
        .query_one("SELECT pg_terminate_backend($1)", &[&pid])
        .expect("terminate")
        .get(0);
    assert!(terminated);
    lock.rollback().expect("release the lock");
    let (mut sink, result) = writer.join().expect("the writer thread");
    assert!(
        is_unavailable(&result),
        "a killed backend is Unavailable: {result:?}"
    );

    let mut db = client(&url);
    assert_holds_exactly(&mut db, fixture, 5000);
    let max_seq: Option<i64> = db
        .query_one("SELECT max(seq) FROM trades", &[])
        .expect("max seq")
        .get(0);
    assert!(
        max_seq.is_some_and(|s| s <= 5000),
        "rows max seq == cursor: {max_seq:?}"
    );

    // The bridge's retry: reconnect, read the cursor, go on from it.
    let cursor = sink.cursor().expect("cursor after reconnecting");
    assert_eq!(cursor, 5000);
    write_range(&mut sink, fixture, cursor + 1, COMMANDS);
    assert_holds_exactly(&mut db, fixture, COMMANDS);
}

/// (d): the server stopped between batches: writes and cursor reads are Unavailable; once it is
/// back the sink reconnects on its own and resumes from the cursor — no gap, no duplicate.
#[test]
fn postgres_stopped_for_a_while_loses_and_duplicates_nothing() {
    let Some(mut pg) =
        Postgres::or_skip("postgres_stopped_for_a_while_loses_and_duplicates_nothing")
    else {
        return;
    };
    let fixture = fixture();
    let mut sink = connect(&pg.url(), fixture.digest);
    assert_eq!(sink.cursor().expect("cursor"), 0);
    write_range(&mut sink, fixture, 1, 3000);

    pg.stop().expect("stop the server");
    let result = sink.write(fixture.batch(3001, 4000));
    assert!(is_unavailable(&result), "server down: {result:?}");
    let result = sink.cursor();
    assert!(is_unavailable(&result), "server down: {result:?}");
    let result = PostgresSink::connect(&pg.url(), fixture.digest);
    assert!(
        is_unavailable(&result),
        "server down: {:?}",
        result.map(|_| ())
    );

    pg.start_again().expect("start the server again");
    let cursor = sink.cursor().expect("cursor once the server is back");
    assert_eq!(cursor, 3000);
    write_range(&mut sink, fixture, cursor + 1, COMMANDS);
    assert_holds_exactly(&mut client(&pg.url()), fixture, COMMANDS);
}

/// The floor the sink is measured against in the same run: per batch of `BATCH` commands, one
/// transaction holding one text COPY of the batch's trades and order events (as JSON, into a
/// table of its own with no index) and its COMMIT. Returns the time and the rows.
fn copy_floor(url: &str, fixture: &Fixture) -> (Duration, u64) {
    use std::io::Write;
    let mut db = client(url);
    db.batch_execute("CREATE TABLE copy_floor (seq bigint, body text)")
        .expect("the floor's table");
    let mut rows = 0;
    let started = Instant::now();
    for chunk in fixture.batch(1, COMMANDS).chunks(BATCH) {
        let mut tx = db.transaction().expect("a transaction");
        let mut copy = tx
            .copy_in("COPY copy_floor (seq, body) FROM STDIN")
            .expect("COPY");
        for applied in chunk {
            let bodies = applied
                .trades
                .iter()
                .map(|t| serde_json::to_string(t).expect("a trade row"))
                .chain(
                    applied
                        .order_events
                        .iter()
                        .map(|e| serde_json::to_string(e).expect("an order event row")),
                );
            for body in bodies {
                writeln!(copy, "{}\t{}", applied.seq, body.replace('\\', "\\\\")).expect("a row");
                rows += 1;
            }
        }
        copy.finish().expect("COPY ends");
        tx.commit().expect("COMMIT");
    }
    (started.elapsed(), rows)
}

/// A table locked by someone else (an operator's `LOCK TABLE`, a long report): the write waits
/// at most the session's `lock_timeout` (the sink sets 10 s unless the URL's `options` say;
/// here 300 ms), fails as Unavailable with nothing written, and goes through once the lock is
/// released.
#[test]
fn a_locked_table_times_the_write_out_and_it_resumes_once_released() {
    let Some(pg) = Postgres::or_skip("a_locked_table_times_the_write_out…") else {
        return;
    };
    let fixture = fixture();
    let url = format!("{}?options=-c%20lock_timeout%3D300", pg.url());
    let mut sink = connect(&url, fixture.digest);
    write_range(&mut sink, fixture, 1, 1000);

    let mut holder = client(&pg.url());
    let mut lock = holder.transaction().expect("a transaction");
    lock.batch_execute("LOCK TABLE trades IN ACCESS EXCLUSIVE MODE")
        .expect("the lock");
    let started = Instant::now();
    let result = sink.write(fixture.batch(1001, 2000));
    assert!(is_unavailable(&result), "locked: {result:?}");
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "gave up after {:?}, not the lock timeout",
        started.elapsed()
    );
    lock.rollback().expect("release");
    drop(holder);

    let cursor = sink.cursor().expect("cursor");
    assert_eq!(cursor, 1000, "nothing of the failed write");
    write_range(&mut sink, fixture, cursor + 1, COMMANDS);
    assert_holds_exactly(&mut client(&pg.url()), fixture, COMMANDS);
}

/// (e): two sinks on one database. The one whose cursor is stale is refused (Unavailable, so it
/// reads the cursor again) and writes nothing; a batch that does not start right after the
/// cursor is a bug in the caller (Fatal).
#[test]
fn a_second_writer_with_a_stale_cursor_is_refused() {
    let Some(pg) = Postgres::or_skip("a_second_writer_with_a_stale_cursor_is_refused") else {
        return;
    };
    let fixture = fixture();
    let mut first = connect(&pg.url(), fixture.digest);
    let mut second = connect(&pg.url(), fixture.digest);
    assert_eq!(first.cursor().expect("cursor"), 0);
    assert_eq!(second.cursor().expect("cursor"), 0);

    first
        .write(fixture.batch(1, 1000))
        .expect("first writes 1..1000");
    let result = second.write(fixture.batch(1, 1000));
    assert!(is_unavailable(&result), "stale cursor: {result:?}");
    assert_eq!(second.cursor().expect("cursor"), 1000);
    second
        .write(fixture.batch(1001, 2000))
        .expect("second writes 1001..2000");
    let result = first.write(fixture.batch(1001, 2000));
    assert!(is_unavailable(&result), "stale cursor: {result:?}");

    let mut db = client(&pg.url());
    assert_holds_exactly(&mut db, fixture, 2000);

    // Really at the same time: `first` is mid-transaction (cursor moved, rows copied, waiting
    // for a lock the test holds on balances) when `second`, whose cursor is as stale, writes the
    // same commands. `second` waits on the cursor row, then finds it moved.
    assert_eq!(first.cursor().expect("cursor"), 2000);
    assert_eq!(second.cursor().expect("cursor"), 2000);
    let first_pid = first.backend_pid().expect("pid");
    let second_pid = second.backend_pid().expect("pid");
    let mut locker = client(&pg.url());
    let mut lock = locker.transaction().expect("begin");
    lock.batch_execute("LOCK TABLE balances IN ACCESS EXCLUSIVE MODE")
        .expect("lock balances");
    let one = std::thread::spawn(move || {
        let result = first.write(fixture.batch(2001, 3000));
        (first, result)
    });
    wait_for_lock(&mut db, first_pid);
    let two = std::thread::spawn(move || {
        let result = second.write(fixture.batch(2001, 3000));
        (second, result)
    });
    wait_for_lock(&mut db, second_pid);
    lock.rollback().expect("release the lock");
    let (mut first, result) = one.join().expect("first writer");
    assert!(result.is_ok(), "the first writer commits: {result:?}");
    let (_second, result) = two.join().expect("second writer");
    assert!(
        is_unavailable(&result),
        "the second finds the cursor moved: {result:?}"
    );
    assert_holds_exactly(&mut db, fixture, 3000);

    // A gap after the cursor, and a batch of non-consecutive commands: the caller's bug.
    assert_eq!(first.cursor().expect("cursor"), 3000);
    let result = first.write(fixture.batch(3501, 4000));
    assert!(is_fatal(&result), "a gap: {result:?}");
    let mut shuffled = fixture.batch(3001, 3003).to_vec();
    shuffled.swap(1, 2);
    let result = first.write(&shuffled);
    assert!(is_fatal(&result), "not consecutive: {result:?}");
    assert_holds_exactly(&mut db, fixture, 3000);
}

/// (f): a database is one exchange's: another engine configuration's digest is refused, and so
/// are tables of the same names that are not the sink's, and a schema version it does not know.
#[test]
fn another_configuration_or_a_foreign_schema_is_refused() {
    let Some(pg) = Postgres::or_skip("another_configuration_or_a_foreign_schema_is_refused") else {
        return;
    };
    let fixture = fixture();
    let mut sink = connect(&pg.url(), fixture.digest);
    assert_eq!(sink.cursor().expect("cursor"), 0);
    sink.write(fixture.batch(1, 100)).expect("write");

    let result = PostgresSink::connect(&pg.url(), fixture.digest ^ 1);
    match result {
        Err(SinkError::Fatal { message, .. }) => {
            assert!(message.contains("digest"), "{message}");
        }
        other => panic!(
            "another configuration must be Fatal: {:?}",
            other.map(|_| ())
        ),
    }
    // The database is untouched.
    assert_holds_exactly(&mut client(&pg.url()), fixture, 100);

    let mut admin = client(&pg.url());
    admin
        .batch_execute("CREATE DATABASE foreign_app")
        .expect("create a database");
    admin
        .batch_execute("CREATE DATABASE future_version")
        .expect("create a database");
    admin
        .batch_execute("CREATE DATABASE fresh")
        .expect("create a database");
    client(&pg.url_of("foreign_app"))
        .batch_execute("CREATE TABLE trades (id serial PRIMARY KEY, what text)")
        .expect("another application's table");
    let result = PostgresSink::connect(&pg.url_of("foreign_app"), fixture.digest);
    assert!(
        is_fatal(&result),
        "foreign tables: {:?}",
        result.map(|_| ())
    );

    drop(connect(&pg.url_of("future_version"), fixture.digest));
    client(&pg.url_of("future_version"))
        .batch_execute("UPDATE hayate_schema_version SET version = 2")
        .expect("pretend a later schema");
    let result = PostgresSink::connect(&pg.url_of("future_version"), fixture.digest);
    assert!(
        is_fatal(&result),
        "unknown schema version: {:?}",
        result.map(|_| ())
    );

    // A configuration's first connection claims an empty database.
    let mut other = connect(&pg.url_of("fresh"), fixture.digest ^ 1);
    assert_eq!(other.cursor().expect("cursor"), 0);
}

/// The table and the CSV, line by line (the first difference is the message, not two
/// megabytes of text).
fn assert_table_is_csv(db: &mut Client, csv: &str, what: &str) {
    let table = trades_as_csv(db);
    let csv: Vec<&str> = csv.lines().collect();
    for (index, (row, line)) in table.iter().zip(&csv).enumerate() {
        assert_eq!(row, line, "{what}: line {} of the CSV", index + 1);
    }
    assert_eq!(table.len(), csv.len(), "{what}: rows");
}

/// (4): `replay trades --to-postgres` restores the back office from the journal: the table
/// equals the tool's CSV row by row; running it again writes nothing; on emptied tables or a
/// dropped and recreated database it rebuilds them identically; a journal that does not start
/// at sequence 1 is refused, naming its first sequence.
#[test]
fn replay_trades_to_postgres_restores_the_trade_history() {
    let Some(pg) = Postgres::or_skip("replay_trades_to_postgres_restores_the_trade_history") else {
        return;
    };
    let fixture = fixture();
    let mut admin = client(&pg.url());
    admin
        .batch_execute("CREATE DATABASE backoffice")
        .expect("create the database");
    let url = pg.url_of("backoffice");
    let data = fixture.data.path();

    let csv_path = data.join("trades-for-postgres.csv");
    run_ok(
        data,
        &["trades", "--out", csv_path.to_str().expect("utf-8 path")],
    );
    let csv = std::fs::read_to_string(&csv_path).expect("the CSV");
    assert!(csv.lines().count() > 1000, "trades in the CSV");

    let out = run_ok(data, &["trades", "--to-postgres", &url]);
    eprintln!("replay trades --to-postgres:\n{out}");
    assert!(out.contains(&format!("{COMMANDS} commands")), "{out}");
    let mut db = client(&url);
    assert_table_is_csv(&mut db, &csv, "the table is the CSV, row by row");
    assert_holds_exactly(&mut db, fixture, COMMANDS);

    // Again: resumes after the cursor, which is the end: nothing written.
    let out = run_ok(data, &["trades", "--to-postgres", &url]);
    assert!(out.contains("0 commands, 0 trades"), "{out}");
    assert_table_is_csv(&mut db, &csv, "no duplicates");
    let out = run_ok(data, &["trades", "--to", "100", "--to-postgres", &url]);
    assert!(out.contains("nothing to write"), "{out}");

    // Part of it: up to a sequence, then the rest.
    db.batch_execute("TRUNCATE trades, order_events, balances, bridge_cursor")
        .expect("empty the tables");
    run_ok(data, &["trades", "--to", "7777", "--to-postgres", &url]);
    assert_holds_exactly(&mut db, fixture, 7777);
    run_ok(data, &["trades", "--to-postgres", &url]);
    assert_table_is_csv(&mut db, &csv, "rebuilt from emptied tables");
    assert_holds_exactly(&mut db, fixture, COMMANDS);

    // The database lost altogether.
    drop(db);
    admin
        .batch_execute("DROP DATABASE backoffice")
        .expect("drop the database");
    admin
        .batch_execute("CREATE DATABASE backoffice")
        .expect("create it again");
    run_ok(data, &["trades", "--to-postgres", &url]);
    let mut db = client(&url);
    assert_table_is_csv(&mut db, &csv, "rebuilt in a new database");
    assert_holds_exactly(&mut db, fixture, COMMANDS);

    // A journal whose first segment is gone cannot restore a history from the start.
    let cut = TempDir::new().expect("temp dir");
    std::fs::create_dir(cut.path().join("journal")).expect("journal dir");
    let mut segments: Vec<PathBuf> = std::fs::read_dir(data.join("journal"))
        .expect("journal dir")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.extension().is_some_and(|x| x == "seg"))
        .collect();
    segments.sort();
    assert!(segments.len() >= 2, "several segments: {segments:?}");
    for segment in &segments[1..] {
        let name = segment.file_name().expect("a file name");
        std::fs::copy(segment, cut.path().join("journal").join(name)).expect("copy a segment");
    }
    admin.batch_execute("CREATE DATABASE cut").expect("create");
    let (status, stdout, stderr) =
        run_tool(cut.path(), &["trades", "--to-postgres", &pg.url_of("cut")]);
    assert!(!status.success(), "a journal not starting at 1: {stdout}");
    let first = JournalReader::open(cut.path().join("journal"))
        .expect("open")
        .records_from(0)
        .next()
        .expect("a record")
        .expect("readable")
        .seq;
    assert!(
        stderr.contains(&format!("starts at sequence {first}")),
        "names the first sequence {first}: {stderr}"
    );
}
