//! Real-process crash test: a child process appends under load with group commit and reports
//! each durable sequence; the parent SIGKILLs it at a random moment and checks the journal.
//! Segments are small, so kills also land while the background thread prepares a spare segment
//! and in the middle of roll-overs; the `Never` variant (4 KiB segments: a roll-over every ~20
//! records) checks the roll-over that neither msyncs nor fsyncs.
//!
//! The child is this test binary re-executed on the ignored test `crash_child_writer`, which does
//! nothing unless `HAYATE_CRASH_DIR` is set.

mod common;

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use common::*;
use hayate_journal::{FlushPolicy, Journal};

const DIR_VAR: &str = "HAYATE_CRASH_DIR";
const SEED_VAR: &str = "HAYATE_CRASH_SEED";
/// `never` runs the child under `FlushPolicy::Never` with `NEVER_SEGMENT`; anything else, `Always`
/// with `SEGMENT`.
const POLICY_VAR: &str = "HAYATE_CRASH_POLICY";
const SEGMENT: u64 = 16 * 1024;
const NEVER_SEGMENT: u64 = 4096;
const TRIALS: usize = 60;
const NEVER_TRIALS: usize = 40;
/// The child stops by itself after this long if nobody kills it.
const CHILD_LIFETIME: Duration = Duration::from_secs(2);

#[test]
#[ignore = "child process of sigkill_mid_group_commit_keeps_every_durable_record"]
fn crash_child_writer() {
    let Some(dir) = std::env::var_os(DIR_VAR) else {
        return;
    };
    let seed = std::env::var(SEED_VAR)
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(1);
    let mut rng = Rng::seeded(seed);
    let mode = Mode::from_name(&std::env::var(POLICY_VAR).unwrap_or_default());
    let (mut journal, _) = Journal::open(&dir, mode.options()).unwrap();
    // libtest may have printed "test crash_child_writer ... " without a newline; the `@` marks
    // where our message starts.
    println!("@ready");
    let started = Instant::now();
    while started.elapsed() < CHILD_LIFETIME {
        for _ in 0..rng.between(1, 32) {
            let seq = journal.next_seq();
            journal.append(&payload_for(seq)).unwrap();
        }
        let durable = journal.commit().unwrap();
        // One short write per line: atomic on a pipe, and in the pipe as soon as it returns.
        println!("@durable {durable}");
    }
}

/// What the child runs under.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    Always,
    Never,
}

impl Mode {
    fn from_name(name: &str) -> Mode {
        if name == "never" {
            Mode::Never
        } else {
            Mode::Always
        }
    }

    fn name(self) -> &'static str {
        match self {
            Mode::Always => "always",
            Mode::Never => "never",
        }
    }

    fn options(self) -> hayate_journal::JournalOptions {
        match self {
            Mode::Always => options(SEGMENT, FlushPolicy::Always),
            Mode::Never => options(NEVER_SEGMENT, FlushPolicy::Never),
        }
    }
}

/// The part of a child's output line after the `@` marker ("" if none).
fn marked(line: &str) -> &str {
    line.find('@').map_or("", |at| &line[at + 1..])
}

struct Trial {
    reported_durable: u64,
    last_seq: u64,
    torn_tail: bool,
    segments: usize,
    /// Temp files (a spare, or an inline creation) the open deleted.
    removed_temp_files: usize,
}

fn run_trial(mode: Mode, seed: u64, rng: &mut Rng) -> Trial {
    let dir = tempfile::tempdir().unwrap();
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "crash_child_writer",
            "--ignored",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(DIR_VAR, dir.path())
        .env(SEED_VAR, seed.to_string())
        .env(POLICY_VAR, mode.name())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let (lines_tx, lines_rx) = mpsc::channel();
    let reader = std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if lines_tx.send(line).is_err() {
                break;
            }
        }
    });
    let mut reported_durable = 0;
    let mut note = |line: &str| {
        if let Some(seq) = marked(line).strip_prefix("durable ") {
            reported_durable = reported_durable.max(seq.trim().parse().unwrap());
        }
    };
    // Start the clock once the child is writing, so the kill lands under load.
    let ready_deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let remaining = ready_deadline.saturating_duration_since(Instant::now());
        match lines_rx.recv_timeout(remaining) {
            Ok(line) if marked(&line) == "ready" => break,
            Ok(line) => note(&line),
            Err(_) => {
                let _ = child.kill();
                panic!("child did not become ready within 20 s");
            }
        }
    }
    std::thread::sleep(Duration::from_millis(rng.between(1, 50)));
    child.kill().unwrap(); // SIGKILL on Unix
    child.wait().unwrap();
    reader.join().unwrap();
    for line in lines_rx.try_iter() {
        note(&line);
    }
    check_journal(dir.path(), mode, reported_durable)
}

fn check_journal(dir: &Path, mode: Mode, reported_durable: u64) -> Trial {
    let (mut journal, report) = Journal::open(dir, mode.options())
        .unwrap_or_else(|e| panic!("journal must open after SIGKILL: {e}"));
    for temp in &report.removed_temp_files {
        let name = temp.file_name().unwrap().to_string_lossy();
        // (The reopened journal's thread soon prepares a new spare under the same name.)
        assert!(name.ends_with(".seg.tmp"), "removed {name}");
    }
    let last_seq = report.last_seq.unwrap_or(0);
    assert!(
        last_seq >= reported_durable,
        "durable seq {reported_durable} lost: journal ends at {last_seq}"
    );
    // Gap-free prefix 1..=last with the right content.
    drop(journal);
    let seqs = read_all_checked(dir);
    assert_eq!(seqs.len() as u64, last_seq);
    assert!(seqs.first().is_none_or(|first| *first == 1));
    // And the journal takes appends from where it ended.
    (journal, _) = Journal::open(dir, mode.options()).unwrap();
    assert_eq!(
        journal.append(&payload_for(last_seq + 1)).unwrap(),
        last_seq + 1
    );
    Trial {
        reported_durable,
        last_seq,
        torn_tail: report.torn_tail.is_some(),
        segments: report.segments,
        removed_temp_files: report.removed_temp_files.len(),
    }
}

/// Runs `count` SIGKILL trials in `mode` and prints what they saw.
fn run_trials(mode: Mode, count: usize) -> Vec<Trial> {
    let started = Instant::now();
    let mut rng = Rng::from_clock();
    let mut trials = Vec::new();
    for trial in 0..count {
        let seed = rng.next_u64();
        let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            run_trial(mode, seed, &mut rng)
        }));
        match result {
            Ok(t) => trials.push(t),
            Err(panic) => {
                eprintln!("{mode:?} trial {trial} (seed {seed}) failed");
                std::panic::resume_unwind(panic);
            }
        }
    }
    let torn = trials.iter().filter(|t| t.torn_tail).count();
    let beyond_durable = trials
        .iter()
        .filter(|t| t.last_seq > t.reported_durable)
        .count();
    let max_records = trials.iter().map(|t| t.last_seq).max().unwrap_or(0);
    let max_segments = trials.iter().map(|t| t.segments).max().unwrap_or(0);
    let temps = trials.iter().filter(|t| t.removed_temp_files > 0).count();
    eprintln!(
        "crash test ({mode:?}): {} trials in {:.1?}, torn tails seen {torn}, trials with records \
         beyond the last reported durable seq {beyond_durable}, largest journal {max_records} \
         records in {max_segments} segments, trials that left a temp segment file {temps}",
        trials.len(),
        started.elapsed()
    );
    trials
}

#[test]
fn sigkill_mid_group_commit_keeps_every_durable_record() {
    let trials = run_trials(Mode::Always, TRIALS);
    assert!(
        trials.iter().filter(|t| t.reported_durable > 0).count() > TRIALS / 2,
        "most kills should land after commits"
    );
}

#[test]
fn sigkill_amid_never_roll_overs_keeps_every_committed_record() {
    // Under `Never`, a commit's sequence is safe from a process crash: SIGKILL must not lose it,
    // whether the kill lands mid-append, while the spare is prepared or during a roll-over.
    let trials = run_trials(Mode::Never, NEVER_TRIALS);
    assert!(
        trials.iter().filter(|t| t.reported_durable > 0).count() > NEVER_TRIALS / 2,
        "most kills should land after commits"
    );
    assert!(
        trials.iter().any(|t| t.segments > 10),
        "the children should roll over many times"
    );
}
