//! A throwaway PostgreSQL server for the bridge's tests: its own cluster in a temporary
//! directory (`initdb`), listening on 127.0.0.1 only, on a free port, with its unix socket in that
//! directory and trust authentication, stopped and removed on drop.
//!
//! The binaries are found through `pg_config --bindir`, else in the newest
//! `/usr/lib/postgresql/*/bin` (Debian's `postgresql` package). PostgreSQL refuses to run as
//! root, so as root the cluster belongs to the `postgres` user (which that package creates) and
//! `initdb` and `pg_ctl` run as it through `runuser`.
//!
//! Where no server can be started, [`Postgres::or_skip`] prints why and returns `None` so the
//! test passes, unless `CI` is set: then it fails, so CI can never go green without having run
//! the test (the project's convention for external programs; `.ci/run` installs the package).

use std::ffi::OsStr;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use tempfile::TempDir;

/// The database user the cluster is created with (and the URL names).
const SUPERUSER: &str = "postgres";

/// One running (or stopped) PostgreSQL cluster of the test's own.
#[derive(Debug)]
pub struct Postgres {
    dir: TempDir,
    bin: PathBuf,
    port: u16,
    /// The OS user `initdb` and `pg_ctl` run as (`None`: this process's own).
    run_as: Option<String>,
    running: bool,
}

impl Postgres {
    /// Creates and starts a cluster, or says why it cannot.
    pub fn start() -> Result<Postgres, String> {
        let bin = bindir()?;
        let dir = tempfile::Builder::new()
            .prefix("hayate-pg-")
            .tempdir()
            .map_err(|e| format!("cannot create a temporary directory: {e}"))?;
        // SAFETY: geteuid has no preconditions.
        let run_as = (unsafe { libc::geteuid() } == 0).then(|| SUPERUSER.to_string());
        if let Some(user) = &run_as {
            chown_to(dir.path(), user)?;
        }
        let port = free_port()?;
        let mut postgres = Postgres {
            dir,
            bin,
            port,
            run_as,
            running: false,
        };
        let data = postgres.data_dir();
        postgres.run(
            "initdb",
            [
                OsStr::new("-D"),
                data.as_os_str(),
                OsStr::new("-U"),
                OsStr::new(SUPERUSER),
                OsStr::new("--auth=trust"),
                OsStr::new("--encoding=UTF8"),
                OsStr::new("--locale=C"),
                // A test cluster need not survive a power cut of its own creation.
                OsStr::new("--no-sync"),
            ],
        )?;
        postgres.start_again()?;
        Ok(postgres)
    }

    /// [`Postgres::start`], or `None` after printing why the test `test` is skipped — and a
    /// panic instead when `CI` is set.
    pub fn or_skip(test: &str) -> Option<Postgres> {
        match Postgres::start() {
            Ok(postgres) => Some(postgres),
            Err(why) => {
                let ci = std::env::var_os("CI").is_some_and(|v| !v.is_empty());
                assert!(
                    !ci,
                    "cannot start PostgreSQL ({why}) and CI is set: .ci/run installs Debian's \
                     postgresql package"
                );
                eprintln!(
                    "SKIPPED {test}: cannot start PostgreSQL ({why}); apt-get install postgresql. \
                     With CI set this would fail"
                );
                None
            }
        }
    }

    /// `postgresql://postgres@127.0.0.1:PORT/postgres`.
    pub fn url(&self) -> String {
        self.url_of("postgres")
    }

    /// The URL of database `dbname` on this server.
    pub fn url_of(&self, dbname: &str) -> String {
        format!("postgresql://{SUPERUSER}@127.0.0.1:{}/{dbname}", self.port)
    }

    /// The TCP port it listens on (the same across stops and starts).
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Stops the server (`pg_ctl stop -m fast`: connections are closed, open transactions
    /// rolled back), keeping its data for [`Postgres::start_again`].
    pub fn stop(&mut self) -> Result<(), String> {
        let data = self.data_dir();
        self.run(
            "pg_ctl",
            [
                OsStr::new("stop"),
                OsStr::new("-D"),
                data.as_os_str(),
                OsStr::new("-m"),
                OsStr::new("fast"),
                OsStr::new("-w"),
            ],
        )?;
        self.running = false;
        Ok(())
    }

    /// Starts the server (again) on the same port and data, waiting until it takes connections.
    pub fn start_again(&mut self) -> Result<(), String> {
        let data = self.data_dir();
        let log = self.dir.path().join("server.log");
        let options = format!(
            "-c listen_addresses=127.0.0.1 -p {} -k {}",
            self.port,
            self.dir.path().display()
        );
        self.run(
            "pg_ctl",
            [
                OsStr::new("start"),
                OsStr::new("-D"),
                data.as_os_str(),
                OsStr::new("-l"),
                log.as_os_str(),
                OsStr::new("-w"),
                OsStr::new("-t"),
                OsStr::new("60"),
                OsStr::new("-o"),
                OsStr::new(&options),
            ],
        )
        .map_err(|e| format!("{e}; server log:\n{}", self.log()))?;
        self.running = true;
        Ok(())
    }

    /// The server's log so far (for failure messages).
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("server.log")).unwrap_or_default()
    }

    fn data_dir(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    /// Runs one of the server's programs (as the cluster's owner), failing with its output.
    fn run<'a>(
        &self,
        program: &str,
        args: impl IntoIterator<Item = &'a OsStr>,
    ) -> Result<(), String> {
        let path = self.bin.join(program);
        let mut command = match &self.run_as {
            Some(user) => {
                let mut command = Command::new("runuser");
                command.args(["-u", user, "--"]).arg(&path);
                command
            }
            None => Command::new(&path),
        };
        command.args(args).current_dir(self.dir.path());
        command.stdin(Stdio::null());
        let output = command
            .output()
            .map_err(|e| format!("cannot run {}: {e}", path.display()))?;
        if output.status.success() {
            Ok(())
        } else {
            Err(format!("{program} failed: {}", printed(&output)))
        }
    }
}

impl Drop for Postgres {
    fn drop(&mut self) {
        if self.running {
            let data = self.data_dir();
            // Immediate: the data is thrown away next, nothing to shut down cleanly for.
            let _ = self.run(
                "pg_ctl",
                [
                    OsStr::new("stop"),
                    OsStr::new("-D"),
                    data.as_os_str(),
                    OsStr::new("-m"),
                    OsStr::new("immediate"),
                    OsStr::new("-w"),
                ],
            );
        }
        // The TempDir removes the directory (root may remove the postgres user's files).
    }
}

/// The directory holding `initdb`, `pg_ctl` and `postgres`.
fn bindir() -> Result<PathBuf, String> {
    let has_programs = |dir: &Path| {
        ["initdb", "pg_ctl", "postgres"]
            .iter()
            .all(|p| dir.join(p).is_file())
    };
    if let Ok(out) = Command::new("pg_config").arg("--bindir").output()
        && out.status.success()
    {
        let dir = PathBuf::from(String::from_utf8_lossy(&out.stdout).trim());
        if has_programs(&dir) {
            return Ok(dir);
        }
    }
    // Debian's pg_config (libpq-dev) may be absent or point elsewhere; the server's binaries
    // live in /usr/lib/postgresql/<major>/bin.
    let mut found: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .map_err(|e| format!("no pg_config and no /usr/lib/postgresql ({e})"))?
        .filter_map(Result::ok)
        .filter_map(|entry| {
            let major = entry.file_name().to_str()?.parse().ok()?;
            let bin = entry.path().join("bin");
            has_programs(&bin).then_some((major, bin))
        })
        .collect();
    found.sort();
    found
        .pop()
        .map(|(_, bin)| bin)
        .ok_or_else(|| "no PostgreSQL server binaries in /usr/lib/postgresql/*/bin".to_string())
}

/// Gives `dir` to `user`, so the server running as it can write there.
fn chown_to(dir: &Path, user: &str) -> Result<(), String> {
    let status = Command::new("chown")
        .arg(user)
        .arg(dir)
        .status()
        .map_err(|e| format!("cannot run chown: {e}"))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!(
            "chown {user} {} failed ({status}): is there a `{user}` user?",
            dir.display()
        ))
    }
}

/// A TCP port nobody listens on right now (the OS's pick for an ephemeral bind).
fn free_port() -> Result<u16, String> {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .map(|addr| addr.port())
        .map_err(|e| format!("cannot find a free port: {e}"))
}

fn printed(output: &Output) -> String {
    format!(
        "{}\n{}{}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

/// The `trades` table the bridge's PostgreSQL sink writes, as the replay tool's `trades` CSV
/// prints it (header included), the decimals as PostgreSQL prints them (`numeric` keeps their
/// scale: 0.0000 stays 0.0000): what a back office reads with `psql`, to compare with the CSV
/// line by line rather than a value decoded and printed again.
pub fn trades_as_csv(db: &mut postgres::Client) -> Vec<String> {
    let mut lines = vec![hayate::adapters::bridge::TradeRow::CSV_HEADER.to_string()];
    let rows = db
        .query(
            "SELECT seq, ts_ns, trade_id, symbol, price::text, qty::text, taker_side, \
             taker_account, taker_order_id, maker_account, maker_order_id, taker_fee::text, \
             maker_fee::text, fee_asset FROM trades ORDER BY trade_id",
            &[],
        )
        .expect("select trades");
    for r in rows {
        let ns = u64::try_from(r.get::<_, i64>(1)).expect("a receive time");
        lines.push(format!(
            "{},{},{},{},{},{},{},{},{},{},{},{},{},{}",
            r.get::<_, i64>(0),
            hayate::adapters::clock::rfc3339_nanos(ns),
            r.get::<_, i64>(2),
            r.get::<_, String>(3),
            r.get::<_, String>(4),
            r.get::<_, String>(5),
            r.get::<_, String>(6),
            r.get::<_, i64>(7),
            r.get::<_, i64>(8),
            r.get::<_, i64>(9),
            r.get::<_, i64>(10),
            r.get::<_, String>(11),
            r.get::<_, String>(12),
            r.get::<_, String>(13),
        ));
    }
    lines
}
