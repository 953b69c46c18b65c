//! A child process of a test (an example binary: the gateway, the bridge, an edge) whose
//! standard output is read line by line on a thread of its own, so a test can wait (bounded) for
//! the line that says it is ready, signal it, and never leave it running: it is killed and reaped
//! when dropped, a failed assertion included.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// A running child process and its output lines.
#[derive(Debug)]
pub struct Spawned {
    name: String,
    child: Child,
    lines: mpsc::Receiver<String>,
}

impl Spawned {
    /// Starts `command` as `name` (as failures call it). Its standard error is shown where the
    /// environment variable `logs` is set, else dropped.
    ///
    /// # Panics
    ///
    /// When it cannot be started.
    pub fn spawn(name: &str, mut command: Command, logs: &str) -> Spawned {
        let mut child = command
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(if std::env::var_os(logs).is_some() {
                Stdio::inherit()
            } else {
                Stdio::null()
            })
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {name}: {e}"));
        let stdout = child.stdout.take().expect("a piped stdout");
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        Spawned {
            name: name.to_string(),
            child,
            lines,
        }
    }

    /// Its process id.
    pub fn id(&self) -> u32 {
        self.child.id()
    }

    /// The next line of its output that starts with `prefix`.
    ///
    /// # Panics
    ///
    /// When none comes within `limit`.
    pub fn wait_line(&self, prefix: &str, limit: Duration) -> String {
        let deadline = Instant::now() + limit;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) if line.starts_with(prefix) => return line,
                Ok(_) => {}
                Err(_) => panic!(
                    "{}: no line starting with {prefix:?} within {limit:?}",
                    self.name
                ),
            }
        }
    }

    /// Sends SIGTERM (a clean stop).
    pub fn sigterm(&self) {
        // SAFETY: kill(2) of our own child, not reaped yet (reaping takes `&mut self`).
        unsafe {
            libc::kill(self.child.id() as libc::pid_t, libc::SIGTERM);
        }
    }

    /// Its exit status.
    ///
    /// # Panics
    ///
    /// When it has not exited within `limit`.
    pub fn wait_exit(&mut self, limit: Duration) -> ExitStatus {
        let deadline = Instant::now() + limit;
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                return status;
            }
            assert!(
                Instant::now() < deadline,
                "{} did not exit within {limit:?}",
                self.name
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// SIGTERM, then its exit status (bounded by `limit`).
    pub fn terminate(mut self, limit: Duration) -> ExitStatus {
        self.sigterm();
        self.wait_exit(limit)
    }

    /// SIGKILL (no goodbye), and reaped.
    pub fn sigkill(mut self) {
        self.kill();
    }

    fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Spawned {
    fn drop(&mut self) {
        self.kill();
    }
}
