//! The back office's copy of what the core produced: a [`Sink`] that writes trades, order
//! events and balances to PostgreSQL, each batch of commands in one transaction together with the
//! cursor, so a bridge killed at any moment leaves either the whole batch or none of it.
//!
//! # Schema
//!
//! [`PostgresSink::connect`] creates it when it is missing (schema version
//! [`SCHEMA_VERSION`]). Decimals are `numeric` in the symbol's or asset's units, as the replay
//! tool's `trades` CSV prints them; ids and sequences are `bigint`; `ts` is the command's receive
//! time (`timestamptz`, microseconds; NULL when the journal record carries none) and `ts_ns` the
//! exact nanoseconds since the Unix epoch.
//!
//! | table | columns | key and indexes |
//! |---|---|---|
//! | `trades` | `trade_id`, `seq`, `ts`, `ts_ns`, `symbol`, `price`, `qty`, `taker_side`, `taker_account`, `taker_order_id`, `maker_account`, `maker_order_id`, `taker_fee`, `maker_fee`, `fee_asset` | primary key `trade_id`; `(taker_account, ts)`, `(maker_account, ts)`, `(symbol, ts)` |
//! | `order_events` | `seq`, `index`, `ts`, `ts_ns`, `account`, `order_id`, `client_order_id`, `kind`, `symbol`, `side`, `price`, `order_qty`, `leaves_qty`, `cum_qty`, `last_px`, `last_qty`, `trade_id`, `fee`, `maker`, `reason`, `orig_client_order_id` | primary key `(seq, index)`; `(order_id, seq, index)` (an order's history), `(account, ts)` |
//! | `balances` | `account`, `asset`, `available`, `reserved`, `seq` (the balance after that command) | primary key `(account, asset)` |
//! | `bridge_cursor` | `id` (always true: one row), `seq` (the last journal sequence the tables hold completely), `config_digest` (16 hex digits), `updated_at` | primary key `id` |
//! | `hayate_schema_version` | `version` | one row |
//!
//! The columns of `trades` and `order_events` are those of [`TradeRow`] and [`OrderEventRow`]
//! (`timestamp_ns` is `ts_ns`, plus `ts`). A fill's columns (`last_px`, `last_qty`, `trade_id`,
//! `fee`) are NULL on other events. `balances` only moves forward: a row is replaced only by one
//! of a later sequence.
//!
//! # Whose database
//!
//! The cursor row carries the engine configuration's digest (what the replication handshake
//! compares, `Engine::new(config).digest()`): a sink opened with another digest is refused
//! ([`SinkError::Fatal`]) rather than adding one exchange's trades to another's. A database that
//! already has a `trades`, `order_events`, `balances` or `bridge_cursor` table but no
//! `hayate_schema_version` belongs to something else and is refused too.
//!
//! # Two writers
//!
//! Each transaction first moves the cursor with `UPDATE … WHERE seq = <the sink's cursor>`,
//! which also locks the row: a second bridge writing the same database waits for the first's
//! commit, then finds the cursor moved, updates nothing, rolls back and gets
//! [`SinkError::Unavailable`] (it reads the cursor again, as after any failed write).
//!
//! # Throughput
//!
//! Trades and order events go in with binary `COPY`, balances with one `INSERT … SELECT FROM
//! unnest(…) ON CONFLICT` per batch (the batch's last balance of each account and asset only):
//! a handful of round trips per batch, whatever its size.

use std::collections::HashMap;
use std::str::FromStr;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use ::postgres::binary_copy::BinaryCopyInWriter;
use ::postgres::error::SqlState;
use ::postgres::types::{IsNull, ToSql, Type, to_sql_checked};
use ::postgres::{Client, Config, NoTls, Transaction};
use bytes::{BufMut, BytesMut};
use rust_decimal::Decimal;

use super::rows::{Applied, BalanceRow, OrderEventRow, TradeRow};
use super::sink::{Sink, SinkError};

/// The schema this build writes (`hayate_schema_version.version`). A database with another
/// version is refused until a migration for it exists.
pub const SCHEMA_VERSION: i32 = 1;

/// The sink's name in logs and errors.
const NAME: &str = "postgres";

/// The `application_name` the sink's connections show in `pg_stat_activity` unless the URL
/// names one.
pub const APPLICATION_NAME: &str = "hayate-bridge";

/// How long a connection attempt may take unless the URL says otherwise: the bridge retries, so
/// a server that does not answer must not hold it for the OS's minutes-long TCP timeout.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// Server-side limits on each statement and on waiting for a lock (a second bridge's
/// transaction, an operator's `LOCK TABLE`), unless the URL gives `options`: a statement that
/// hangs is cancelled (SQLSTATE 57014, 55P03) and the write retried, instead of the bridge
/// waiting forever.
const SESSION_OPTIONS: &str = "-c statement_timeout=60000 -c lock_timeout=10000";
/// How soon a silent connection is probed, unless the URL says: a server that vanished (a
/// pulled cable, a crashed host) is noticed within about half a minute, not the kernel's two
/// hours.
const KEEPALIVE_IDLE: Duration = Duration::from_secs(15);

/// Key of the transaction-scoped advisory lock taken while the schema is created, so two sinks
/// starting on a fresh database do not race on `CREATE TABLE IF NOT EXISTS` (which is not
/// atomic against a concurrent one). Any constant; "hayate" in ASCII.
const SCHEMA_LOCK: i64 = 0x6861_7961_7465;

/// The tables the sink owns, checked for strangers on a database without a schema version.
const TABLES: [&str; 4] = ["trades", "order_events", "balances", "bridge_cursor"];

/// The schema, version 1. Every statement is idempotent.
const CREATE_SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS hayate_schema_version (
    version integer NOT NULL
);
CREATE TABLE IF NOT EXISTS bridge_cursor (
    id boolean PRIMARY KEY DEFAULT true CHECK (id),
    seq bigint NOT NULL CHECK (seq >= 0),
    config_digest text NOT NULL,
    updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE TABLE IF NOT EXISTS trades (
    trade_id bigint PRIMARY KEY,
    seq bigint NOT NULL,
    ts timestamptz,
    ts_ns bigint NOT NULL,
    symbol text NOT NULL,
    price numeric NOT NULL,
    qty numeric NOT NULL,
    taker_side text NOT NULL,
    taker_account bigint NOT NULL,
    taker_order_id bigint NOT NULL,
    maker_account bigint NOT NULL,
    maker_order_id bigint NOT NULL,
    taker_fee numeric NOT NULL,
    maker_fee numeric NOT NULL,
    fee_asset text NOT NULL
);
CREATE INDEX IF NOT EXISTS trades_taker_account_ts ON trades (taker_account, ts);
CREATE INDEX IF NOT EXISTS trades_maker_account_ts ON trades (maker_account, ts);
CREATE INDEX IF NOT EXISTS trades_symbol_ts ON trades (symbol, ts);
CREATE TABLE IF NOT EXISTS order_events (
    seq bigint NOT NULL,
    index integer NOT NULL,
    ts timestamptz,
    ts_ns bigint NOT NULL,
    account bigint NOT NULL,
    order_id bigint NOT NULL,
    client_order_id text NOT NULL,
    kind text NOT NULL,
    symbol text NOT NULL,
    side text NOT NULL,
    price numeric NOT NULL,
    order_qty numeric NOT NULL,
    leaves_qty numeric NOT NULL,
    cum_qty numeric NOT NULL,
    last_px numeric,
    last_qty numeric,
    trade_id bigint,
    fee numeric,
    maker boolean NOT NULL,
    reason text NOT NULL,
    orig_client_order_id text NOT NULL,
    PRIMARY KEY (seq, index)
);
CREATE INDEX IF NOT EXISTS order_events_order ON order_events (order_id, seq, index);
CREATE INDEX IF NOT EXISTS order_events_account_ts ON order_events (account, ts);
CREATE TABLE IF NOT EXISTS balances (
    account bigint NOT NULL,
    asset text NOT NULL,
    available numeric NOT NULL,
    reserved numeric NOT NULL,
    seq bigint NOT NULL,
    PRIMARY KEY (account, asset)
);
";

const COPY_TRADES: &str = "COPY trades (trade_id, seq, ts, ts_ns, symbol, price, qty, taker_side, \
    taker_account, taker_order_id, maker_account, maker_order_id, taker_fee, maker_fee, \
    fee_asset) FROM STDIN BINARY";

/// Column types of [`COPY_TRADES`], in its order.
const TRADE_TYPES: [Type; 15] = [
    Type::INT8,
    Type::INT8,
    Type::TIMESTAMPTZ,
    Type::INT8,
    Type::TEXT,
    Type::NUMERIC,
    Type::NUMERIC,
    Type::TEXT,
    Type::INT8,
    Type::INT8,
    Type::INT8,
    Type::INT8,
    Type::NUMERIC,
    Type::NUMERIC,
    Type::TEXT,
];

const COPY_ORDER_EVENTS: &str = "COPY order_events (seq, index, ts, ts_ns, account, order_id, \
    client_order_id, kind, symbol, side, price, order_qty, leaves_qty, cum_qty, last_px, \
    last_qty, trade_id, fee, maker, reason, orig_client_order_id) FROM STDIN BINARY";

/// Column types of [`COPY_ORDER_EVENTS`], in its order.
const ORDER_EVENT_TYPES: [Type; 21] = [
    Type::INT8,
    Type::INT4,
    Type::TIMESTAMPTZ,
    Type::INT8,
    Type::INT8,
    Type::INT8,
    Type::TEXT,
    Type::TEXT,
    Type::TEXT,
    Type::TEXT,
    Type::NUMERIC,
    Type::NUMERIC,
    Type::NUMERIC,
    Type::NUMERIC,
    Type::NUMERIC,
    Type::NUMERIC,
    Type::INT8,
    Type::NUMERIC,
    Type::BOOL,
    Type::TEXT,
    Type::TEXT,
];

/// One statement for all of a batch's balances; `WHERE` keeps a row from going back in time
/// (a batch retried after the cursor was reset by hand, say).
const UPSERT_BALANCES: &str = "INSERT INTO balances (account, asset, available, reserved, seq) \
    SELECT * FROM unnest($1::bigint[], $2::text[], $3::numeric[], $4::numeric[], $5::bigint[]) \
    ON CONFLICT (account, asset) DO UPDATE SET available = EXCLUDED.available, \
    reserved = EXCLUDED.reserved, seq = EXCLUDED.seq WHERE balances.seq < EXCLUDED.seq";

/// The guarded cursor move: it updates one row only if the cursor is where this sink left it
/// and belongs to its configuration.
const MOVE_CURSOR: &str = "UPDATE bridge_cursor SET seq = $1, updated_at = now() \
    WHERE seq = $2 AND config_digest = $3";

/// What [`PostgresSink::write`] put in the tables, summed over the sink's life (for progress
/// lines and throughput figures).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Written {
    /// Commands (journal sequences) committed.
    pub commands: u64,
    /// Rows of `trades`.
    pub trades: u64,
    /// Rows of `order_events`.
    pub order_events: u64,
    /// Rows of `balances` inserted or moved forward.
    pub balances: u64,
}

/// A [`Sink`] writing to one PostgreSQL database. See the [module documentation](self) for the
/// schema.
pub struct PostgresSink {
    config: Config,
    /// The engine configuration's digest as stored in the cursor row (16 hex digits).
    digest: String,
    /// `None` after a lost connection: the next call connects again.
    client: Option<Client>,
    /// The cursor as this sink last read or wrote it: the `seq` its next write expects in the
    /// database.
    cursor: Option<u64>,
    written: Written,
}

impl std::fmt::Debug for PostgresSink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The configuration may hold a password: only where it points.
        f.debug_struct("PostgresSink")
            .field("hosts", &self.config.get_hosts())
            .field("dbname", &self.config.get_dbname())
            .field("digest", &self.digest)
            .field("connected", &self.client.is_some())
            .field("cursor", &self.cursor)
            .finish_non_exhaustive()
    }
}

impl PostgresSink {
    /// Connects to `url` (`postgresql://user@host:port/dbname`, or libpq's `key=value` form),
    /// creates the schema if it is missing and checks the database belongs to the exchange whose
    /// engine configuration has digest `config_digest`.
    ///
    /// [`SinkError::Unavailable`] when the server cannot be reached (try again later);
    /// [`SinkError::Fatal`] for a URL that does not parse, a database of another configuration
    /// or schema, or tables of the same names that are not this sink's.
    pub fn connect(url: &str, config_digest: u64) -> Result<PostgresSink, SinkError> {
        let mut config = Config::from_str(url).map_err(|e| fatal(format!("bad URL: {e}")))?;
        if config.get_application_name().is_none() {
            config.application_name(APPLICATION_NAME);
        }
        if config.get_connect_timeout().is_none() {
            config.connect_timeout(CONNECT_TIMEOUT);
        }
        if config.get_options().is_none() {
            config.options(SESSION_OPTIONS);
        }
        if config.get_keepalives_interval().is_none() {
            config
                .keepalives_idle(KEEPALIVE_IDLE)
                .keepalives_interval(Duration::from_secs(5))
                .keepalives_retries(3);
        }
        let mut sink = PostgresSink {
            config,
            digest: format!("{config_digest:016x}"),
            client: None,
            cursor: None,
            written: Written::default(),
        };
        sink.client()?;
        Ok(sink)
    }

    /// What this sink has written since it was created.
    pub fn written(&self) -> Written {
        self.written
    }

    /// The process id of the server backend serving this sink's connection (`None` when not
    /// connected): what `pg_stat_activity.pid` and `pg_terminate_backend` name.
    pub fn backend_pid(&mut self) -> Option<i32> {
        let client = self.client.as_mut()?;
        client
            .query_one("SELECT pg_backend_pid()", &[])
            .ok()
            .map(|row| row.get(0))
    }

    /// The connection, opened (and the schema checked) if there is none.
    fn client(&mut self) -> Result<&mut Client, SinkError> {
        if self.client.as_ref().is_some_and(Client::is_closed) {
            self.client = None;
        }
        if self.client.is_none() {
            let mut client = self.config.connect(NoTls).map_err(classify)?;
            ensure_schema(&mut client, &self.digest).map_err(|e| e.into_sink_error())?;
            self.client = Some(client);
        }
        self.client
            .as_mut()
            .ok_or_else(|| unavailable("not connected".to_string()))
    }

    /// Turns a client error into a sink error and forgets the connection: the next call opens
    /// a new one. Not only a closed connection is unusable: after a COPY the server aborted (a
    /// lock or statement timeout, a cancelled backend) the client's protocol state no longer
    /// matches the server's, and every later query on it fails ("unexpected message from
    /// server"). Errors are rare; a reconnect costs little next to a sink stuck on one.
    fn failed(&mut self, error: ::postgres::Error) -> SinkError {
        self.client = None;
        classify(error)
    }

    /// Reads the cursor row, checking its digest.
    fn read_cursor(&mut self) -> Result<u64, SinkError> {
        let digest = self.digest.clone();
        let client = self.client()?;
        let row = client.query_opt("SELECT seq, config_digest FROM bridge_cursor", &[]);
        let row = match row {
            Ok(row) => row,
            Err(e) => return Err(self.failed(e)),
        };
        let Some(row) = row else {
            // Deleted by hand since the schema was checked: check (and recreate) it again.
            self.client = None;
            return Err(unavailable(
                "the bridge_cursor row is missing; it is created again on the next call"
                    .to_string(),
            ));
        };
        let seq: i64 = row.get(0);
        let found: String = row.get(1);
        if found != digest {
            return Err(wrong_digest(&found, &digest));
        }
        let seq = u64::try_from(seq).map_err(|_| fatal(format!("negative cursor {seq}")))?;
        self.cursor = Some(seq);
        Ok(seq)
    }

    /// The batch's rows, then the commit; the cursor move comes first (see the module doc).
    fn write_batch(&mut self, batch: &[Applied], expected: u64) -> Result<(), WriteError> {
        let last = expected + batch.len() as u64;
        let digest = self.digest.clone();
        let client = self.client().map_err(WriteError::Sink)?;
        let mut tx = client.transaction()?;
        let moved = tx.execute(MOVE_CURSOR, &[&to_i64(last)?, &to_i64(expected)?, &digest])?;
        if moved != 1 {
            tx.rollback()?;
            return Err(WriteError::CursorMoved);
        }
        let trades = copy_trades(&mut tx, batch)?;
        let order_events = copy_order_events(&mut tx, batch)?;
        let balances = upsert_balances(&mut tx, batch)?;
        tx.commit()?;
        self.written.commands += batch.len() as u64;
        self.written.trades += trades;
        self.written.order_events += order_events;
        self.written.balances += balances;
        Ok(())
    }
}

impl Sink for PostgresSink {
    fn name(&self) -> &'static str {
        NAME
    }

    fn cursor(&mut self) -> Result<u64, SinkError> {
        self.read_cursor()
    }

    fn write(&mut self, batch: &[Applied]) -> Result<(), SinkError> {
        let (Some(first), Some(last)) = (batch.first(), batch.last()) else {
            return Ok(());
        };
        if last.seq.checked_sub(first.seq) != Some(batch.len() as u64 - 1)
            || batch.windows(2).any(|w| w[1].seq != w[0].seq + 1)
        {
            return Err(fatal(format!(
                "the batch {}..{} is not {} consecutive commands",
                first.seq,
                last.seq,
                batch.len()
            )));
        }
        let expected = first.seq.checked_sub(1).ok_or_else(|| {
            fatal("journal sequences start at 1; the batch starts at 0".to_string())
        })?;
        let known = match self.cursor {
            Some(cursor) => cursor,
            None => self.read_cursor()?,
        };
        if known != expected {
            return Err(fatal(format!(
                "the batch starts at {} but the database's cursor is {known}",
                first.seq
            )));
        }
        match self.write_batch(batch, expected) {
            Ok(()) => {
                self.cursor = Some(last.seq);
                Ok(())
            }
            Err(WriteError::CursorMoved) => {
                // Not where this sink left it: another writer, or a reset by hand. Which one
                // (and whether the digest changed) is for the next `cursor` call to find out.
                self.cursor = None;
                Err(unavailable(format!(
                    "the cursor is no longer {expected} (another writer on this database?); \
                     nothing of {}..{} was written",
                    first.seq, last.seq
                )))
            }
            Err(WriteError::Sink(error)) => {
                self.cursor = None;
                Err(error)
            }
            Err(WriteError::Client(error)) => {
                // The commit may or may not have happened (a connection lost during COMMIT):
                // the cursor in the database says which.
                self.cursor = None;
                Err(self.failed(error))
            }
        }
    }
}

/// Why one batch was not written.
enum WriteError {
    /// The guarded cursor update matched no row.
    CursorMoved,
    /// Connecting, or a value the schema cannot hold.
    Sink(SinkError),
    /// The server or the connection failed.
    Client(::postgres::Error),
}

impl From<::postgres::Error> for WriteError {
    fn from(error: ::postgres::Error) -> WriteError {
        WriteError::Client(error)
    }
}

impl From<SinkError> for WriteError {
    fn from(error: SinkError) -> WriteError {
        WriteError::Sink(error)
    }
}

impl WriteError {
    fn into_sink_error(self) -> SinkError {
        match self {
            WriteError::CursorMoved => unavailable("the cursor moved".to_string()),
            WriteError::Sink(error) => error,
            WriteError::Client(error) => classify(error),
        }
    }
}

/// Creates the schema if the database has none, and checks the version and the digest of the one
/// it has. One transaction, under an advisory lock, so concurrent first connections are safe.
fn ensure_schema(client: &mut Client, digest: &str) -> Result<(), WriteError> {
    let mut tx = client.transaction()?;
    tx.execute("SELECT pg_advisory_xact_lock($1)", &[&SCHEMA_LOCK])?;
    let versioned: bool = tx
        .query_one(
            "SELECT to_regclass('hayate_schema_version') IS NOT NULL",
            &[],
        )?
        .get(0);
    if !versioned {
        for table in TABLES {
            let exists: bool = tx
                .query_one("SELECT to_regclass($1) IS NOT NULL", &[&table])?
                .get(0);
            if exists {
                return Err(fatal(format!(
                    "the database has a table `{table}` but no hayate_schema_version: it is not \
                     a Hayate bridge's (use another database)"
                ))
                .into());
            }
        }
    }
    tx.batch_execute(CREATE_SCHEMA)?;
    let versions: Vec<i32> = tx
        .query("SELECT version FROM hayate_schema_version", &[])?
        .iter()
        .map(|row| row.get(0))
        .collect();
    match versions.as_slice() {
        [] => {
            tx.execute(
                "INSERT INTO hayate_schema_version (version) VALUES ($1)",
                &[&SCHEMA_VERSION],
            )?;
        }
        [SCHEMA_VERSION] => {}
        other => {
            return Err(fatal(format!(
                "the database's schema version is {other:?}; this build knows version \
                 {SCHEMA_VERSION} only"
            ))
            .into());
        }
    }
    // A fresh database gets its owner's digest; an existing one must already have it.
    tx.execute(
        "INSERT INTO bridge_cursor (id, seq, config_digest) VALUES (true, 0, $1) \
         ON CONFLICT (id) DO NOTHING",
        &[&digest],
    )?;
    let found: String = tx
        .query_one("SELECT config_digest FROM bridge_cursor", &[])?
        .get(0);
    if found != digest {
        return Err(wrong_digest(&found, digest).into());
    }
    tx.commit()?;
    Ok(())
}

/// Copies the batch's trades; returns how many.
fn copy_trades(tx: &mut Transaction<'_>, batch: &[Applied]) -> Result<u64, WriteError> {
    if batch.iter().all(|a| a.trades.is_empty()) {
        return Ok(0);
    }
    let mut writer = BinaryCopyInWriter::new(tx.copy_in(COPY_TRADES)?, &TRADE_TYPES);
    for row in batch.iter().flat_map(|a| &a.trades) {
        let TradeRow {
            seq,
            timestamp_ns,
            trade_id,
            symbol,
            price,
            qty,
            taker_side,
            taker_account,
            taker_order_id,
            maker_account,
            maker_order_id,
            taker_fee,
            maker_fee,
            fee_asset,
        } = row;
        writer.write(&[
            &to_i64(*trade_id)?,
            &to_i64(*seq)?,
            &timestamp(*timestamp_ns),
            &to_i64(*timestamp_ns)?,
            symbol,
            &Numeric(*price),
            &Numeric(*qty),
            taker_side,
            &i64::from(*taker_account),
            &to_i64(*taker_order_id)?,
            &i64::from(*maker_account),
            &to_i64(*maker_order_id)?,
            &Numeric(*taker_fee),
            &Numeric(*maker_fee),
            fee_asset,
        ])?;
    }
    Ok(writer.finish()?)
}

/// Copies the batch's order events; returns how many.
fn copy_order_events(tx: &mut Transaction<'_>, batch: &[Applied]) -> Result<u64, WriteError> {
    if batch.iter().all(|a| a.order_events.is_empty()) {
        return Ok(0);
    }
    let mut writer = BinaryCopyInWriter::new(tx.copy_in(COPY_ORDER_EVENTS)?, &ORDER_EVENT_TYPES);
    for row in batch.iter().flat_map(|a| &a.order_events) {
        let OrderEventRow {
            seq,
            index,
            timestamp_ns,
            account,
            order_id,
            client_order_id,
            kind,
            symbol,
            side,
            price,
            order_qty,
            leaves_qty,
            cum_qty,
            last_px,
            last_qty,
            trade_id,
            fee,
            maker,
            reason,
            orig_client_order_id,
        } = row;
        let trade_id = trade_id.map(to_i64).transpose()?;
        writer.write(&[
            &to_i64(*seq)?,
            &i32::try_from(*index).map_err(|_| fatal(format!("event index {index} too large")))?,
            &timestamp(*timestamp_ns),
            &to_i64(*timestamp_ns)?,
            &i64::from(*account),
            &to_i64(*order_id)?,
            client_order_id,
            kind,
            symbol,
            side,
            &Numeric(*price),
            &Numeric(*order_qty),
            &Numeric(*leaves_qty),
            &Numeric(*cum_qty),
            &last_px.map(Numeric),
            &last_qty.map(Numeric),
            &trade_id,
            &fee.map(Numeric),
            maker,
            reason,
            orig_client_order_id,
        ])?;
    }
    Ok(writer.finish()?)
}

/// Upserts the batch's balances: the last row of each (account, asset) — a multi-row upsert may
/// not touch one row twice, and the earlier ones are superseded anyway. Returns the rows
/// inserted or moved forward.
fn upsert_balances(tx: &mut Transaction<'_>, batch: &[Applied]) -> Result<u64, WriteError> {
    let mut newest: HashMap<(u32, &str), &BalanceRow> = HashMap::new();
    for row in batch.iter().flat_map(|a| &a.balances) {
        newest.insert((row.account, row.asset.as_str()), row);
    }
    if newest.is_empty() {
        return Ok(0);
    }
    let mut accounts = Vec::with_capacity(newest.len());
    let mut assets = Vec::with_capacity(newest.len());
    let mut available = Vec::with_capacity(newest.len());
    let mut reserved = Vec::with_capacity(newest.len());
    let mut seqs = Vec::with_capacity(newest.len());
    for row in newest.values() {
        accounts.push(i64::from(row.account));
        assets.push(row.asset.as_str());
        available.push(Numeric(row.available));
        reserved.push(Numeric(row.reserved));
        seqs.push(to_i64(row.seq)?);
    }
    let params: [&(dyn ToSql + Sync); 5] = [&accounts, &assets, &available, &reserved, &seqs];
    Ok(tx.execute(UPSERT_BALANCES, &params)?)
}

/// A decimal bound to a `numeric` column with its scale, zero included: rust_decimal's own
/// encoding sends a zero without its scale (0.0000 arrives as 0), and the table must print what
/// the replay tool's CSV prints.
#[derive(Debug)]
struct Numeric(Decimal);

impl ToSql for Numeric {
    fn to_sql(
        &self,
        ty: &Type,
        out: &mut BytesMut,
    ) -> Result<IsNull, Box<dyn std::error::Error + Sync + Send>> {
        if !self.0.is_zero() {
            return self.0.to_sql(ty, out);
        }
        // PostgreSQL's binary numeric: no base-10000 digits, weight 0, sign positive, then the
        // display scale (at most 28 for a Decimal).
        out.put_u16(0);
        out.put_i16(0);
        out.put_u16(0);
        out.put_u16(self.0.scale() as u16);
        Ok(IsNull::No)
    }

    fn accepts(ty: &Type) -> bool {
        <Decimal as ToSql>::accepts(ty)
    }

    to_sql_checked!();
}

/// `bigint` holds sequences and ids up to 2⁶³ − 1; beyond that the schema cannot hold the row.
fn to_i64(value: u64) -> Result<i64, SinkError> {
    i64::try_from(value).map_err(|_| fatal(format!("{value} does not fit a bigint column")))
}

/// The `ts` column: NULL for a command without a receive time.
fn timestamp(ns: u64) -> Option<SystemTime> {
    (ns != 0).then(|| UNIX_EPOCH + Duration::from_nanos(ns))
}

/// Server or connection trouble that passes (the bridge retries) versus a database the bridge
/// cannot write to as it is.
fn classify(error: ::postgres::Error) -> SinkError {
    let message = describe(&error);
    let Some(code) = error.code() else {
        // No SQLSTATE: the connection failed, closed, or timed out.
        return unavailable(message);
    };
    let class = &code.code()[..2.min(code.code().len())];
    let passing = matches!(
        class,
        // Connection exception, insufficient resources, operator intervention (shutdown,
        // pg_terminate_backend), system error.
        "08" | "53" | "57" | "58"
    ) || *code == SqlState::T_R_SERIALIZATION_FAILURE
        || *code == SqlState::T_R_DEADLOCK_DETECTED
        || *code == SqlState::LOCK_NOT_AVAILABLE
        || *code == SqlState::READ_ONLY_SQL_TRANSACTION;
    if passing {
        unavailable(message)
    } else {
        fatal(message)
    }
}

/// The error with the server's message, detail and SQLSTATE when it has them (postgres::Error's
/// own text says only "db error").
fn describe(error: &::postgres::Error) -> String {
    match error.as_db_error() {
        Some(db) => {
            let mut text = format!(
                "{}: {} (SQLSTATE {})",
                db.severity(),
                db.message(),
                db.code().code()
            );
            if let Some(detail) = db.detail() {
                text.push_str("; ");
                text.push_str(detail);
            }
            text
        }
        None => {
            let mut text = error.to_string();
            let mut source = std::error::Error::source(error);
            while let Some(cause) = source {
                text.push_str(": ");
                text.push_str(&cause.to_string());
                source = cause.source();
            }
            text
        }
    }
}

fn wrong_digest(found: &str, ours: &str) -> SinkError {
    fatal(format!(
        "the database belongs to the engine configuration with digest {found}, not {ours}: \
         another exchange's (or this one's before a configuration change); use another database"
    ))
}

fn unavailable(message: String) -> SinkError {
    SinkError::Unavailable {
        sink: NAME,
        message,
    }
}

fn fatal(message: String) -> SinkError {
    SinkError::Fatal {
        sink: NAME,
        message,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn encoded(value: &dyn ToSql) -> Vec<u8> {
        let mut out = BytesMut::new();
        value
            .to_sql_checked(&Type::NUMERIC, &mut out)
            .expect("encodes");
        out.to_vec()
    }

    #[test]
    fn a_zero_keeps_its_scale_and_other_decimals_encode_as_rust_decimal_does() {
        // ndigits 0, weight 0, sign +, dscale 4: PostgreSQL prints 0.0000.
        assert_eq!(
            encoded(&Numeric(Decimal::new(0, 4))),
            [0, 0, 0, 0, 0, 0, 0, 4]
        );
        assert_eq!(encoded(&Numeric(Decimal::ZERO)), [0, 0, 0, 0, 0, 0, 0, 0]);
        for value in [
            Decimal::new(150, 2),
            Decimal::new(-24994, 4),
            Decimal::new(4998986, 0),
        ] {
            assert_eq!(encoded(&Numeric(value)), encoded(&value), "{value}");
        }
        assert!(Numeric::accepts(&Type::NUMERIC));
        assert!(!Numeric::accepts(&Type::TEXT));
    }

    #[test]
    fn a_command_without_a_receive_time_has_a_null_ts() {
        assert_eq!(timestamp(0), None);
        assert_eq!(
            timestamp(1_735_689_600_000_000_123),
            Some(UNIX_EPOCH + Duration::from_nanos(1_735_689_600_000_000_123))
        );
    }

    #[test]
    fn sequences_beyond_bigint_are_refused() {
        assert_eq!(to_i64(7).ok(), Some(7));
        assert!(matches!(to_i64(u64::MAX), Err(SinkError::Fatal { .. })));
    }

    #[test]
    fn a_bad_url_is_fatal_and_a_server_that_is_not_there_is_unavailable() {
        let result = PostgresSink::connect("postgresql://u@127.0.0.1:notaport/db", 1);
        assert!(matches!(result, Err(SinkError::Fatal { .. })), "{result:?}");
        // A port nobody listens on: connection refused, which passes (the bridge retries).
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        let result = PostgresSink::connect(&format!("postgresql://u@127.0.0.1:{port}/db"), 1);
        assert!(
            matches!(result, Err(SinkError::Unavailable { .. })),
            "{result:?}"
        );
    }

    #[test]
    fn the_schema_creates_every_table_the_sink_checks_for() {
        for table in TABLES.iter().chain(&["hayate_schema_version"]) {
            assert!(
                CREATE_SCHEMA.contains(&format!("CREATE TABLE IF NOT EXISTS {table} (")),
                "{table}"
            );
        }
    }
}
