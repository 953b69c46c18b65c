//! The example binaries the process tests run (`examples/replay`, `admin`, `gateway`), built
//! next to the test binary with its profile and target directory. `cargo test` builds examples
//! along with the tests; a filtered run (`cargo test --test replay_tool`) does not, so the first
//! call builds the example (a no-op when it is up to date, so a stale binary is never run).
//! `cargo build --example NAME` is what to run by hand if that fails.

use std::path::{Path, PathBuf};
use std::process::{Child, Command as Process, ExitStatus};
use std::time::{Duration, Instant};

/// Building an example may take this long (a cold debug build of the workspace).
const BUILD_TIMEOUT: Duration = Duration::from_secs(900);

/// The root package `hayate`, whose examples these are (this crate lives in `tests/kit`).
const ROOT_PACKAGE_DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../..");

/// `…/target/<profile>/deps/<test>-…` → `…/target/<profile>/examples/<name>`, built.
pub fn example_binary(name: &str) -> PathBuf {
    let exe = std::env::current_exe().expect("the test binary's own path");
    let profile_dir = exe
        .parent()
        .and_then(Path::parent)
        .expect("the test binary lives in target/<profile>/deps");
    let path = profile_dir
        .join("examples")
        .join(format!("{name}{}", std::env::consts::EXE_SUFFIX));
    let profile = match profile_dir.file_name().and_then(|n| n.to_str()) {
        Some("debug") | None => "dev",
        Some(profile) => profile,
    };
    let mut cargo = Process::new(env!("CARGO"));
    cargo
        .args(["build", "--quiet", "--example", name, "--profile", profile])
        .current_dir(ROOT_PACKAGE_DIR);
    if let Some(target_dir) = profile_dir.parent() {
        cargo.arg("--target-dir").arg(target_dir);
    }
    let status = wait_bounded(
        cargo.spawn().expect("start cargo"),
        BUILD_TIMEOUT,
        "cargo build",
    );
    assert!(
        status.success() && path.is_file(),
        "could not build the {name} example at {} ({status}): run `cargo build --example \
         {name}` and look at its errors",
        path.display()
    );
    path
}

/// Waits for `child` at most `timeout`, killing it past that.
pub fn wait_bounded(mut child: Child, timeout: Duration, what: &str) -> ExitStatus {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(status) = child.try_wait().expect("wait for a child process") {
            return status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("`{what}` did not finish within {timeout:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// CPU time (user + system) a process has used, in seconds, from `/proc/PID/stat`.
pub fn cpu_seconds(pid: u32) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).expect("/proc/PID/stat");
    // The command name may hold spaces: the fields that follow start after its ')'.
    let rest = &stat[stat.rfind(')').expect("comm") + 1..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // utime and stime are fields 14 and 15 of the file; `rest` starts at field 3.
    let ticks: u64 =
        fields[11].parse::<u64>().expect("utime") + fields[12].parse::<u64>().expect("stime");
    // SAFETY: sysconf has no preconditions.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) }.max(1) as f64;
    ticks as f64 / hz
}

/// The admin client (`examples/admin`), built once per test run. A test that keeps sessions open
/// across its first admin command calls this before it starts: a stale example can take a minute
/// to build, long enough for the gateway to drop idle sessions (and cancel their orders).
pub fn admin_binary() -> &'static Path {
    static ADMIN: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    ADMIN.get_or_init(|| example_binary("admin"))
}

/// Runs the admin client (`examples/admin`) against `addr` as `user`, the password in
/// `HAYATE_ADMIN_PASSWORD` (as an operator would give it; a `--password` in `args` wins), with
/// `args` (more flags, then the command): whether it exited 0, and what it printed on stdout and
/// stderr.
pub fn run_admin(addr: &str, user: &str, password: &str, args: &[&str]) -> (bool, String) {
    let output = Process::new(admin_binary())
        .args(["--addr", addr, "--user", user])
        .env("HAYATE_ADMIN_PASSWORD", password)
        .args(args)
        .output()
        .expect("run the admin client");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    (output.status.success(), text)
}
