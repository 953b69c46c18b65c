//! Real-process crash test: a child process appends under load with group commit and reports
//! each durable sequence; the parent SIGKILLs it at a random moment and checks the journal.
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
const SEGMENT: u64 = 16 * 1024;
const TRIALS: usize = 60;
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
    let (mut journal, _) = Journal::open(&dir, options(SEGMENT, FlushPolicy::Always)).unwrap();
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

/// The part of a child's output line after the `@` marker ("" if none).
fn marked(line: &str) -> &str {
    line.find('@').map_or("", |at| &line[at + 1..])
}

struct Trial {
    reported_durable: u64,
    last_seq: u64,
    torn_tail: bool,
}

fn run_trial(seed: u64, rng: &mut Rng) -> Trial {
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
    check_journal(dir.path(), reported_durable)
}

fn check_journal(dir: &Path, reported_durable: u64) -> Trial {
    let (mut journal, report) = Journal::open(dir, options(SEGMENT, FlushPolicy::Always))
        .unwrap_or_else(|e| panic!("journal must open after SIGKILL: {e}"));
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
    (journal, _) = Journal::open(dir, options(SEGMENT, FlushPolicy::Always)).unwrap();
    assert_eq!(
        journal.append(&payload_for(last_seq + 1)).unwrap(),
        last_seq + 1
    );
    Trial {
        reported_durable,
        last_seq,
        torn_tail: report.torn_tail.is_some(),
    }
}

#[test]
fn sigkill_mid_group_commit_keeps_every_durable_record() {
    let started = Instant::now();
    let mut rng = Rng::from_clock();
    let mut trials = Vec::new();
    for trial in 0..TRIALS {
        let seed = rng.next_u64();
        let result =
            std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| run_trial(seed, &mut rng)));
        match result {
            Ok(t) => trials.push(t),
            Err(panic) => {
                eprintln!("trial {trial} (seed {seed}) failed");
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
    eprintln!(
        "crash test: {} trials in {:.1?}, torn tails seen {torn}, trials with records beyond the last \
         reported durable seq {beyond_durable}, largest journal {max_records} records",
        trials.len(),
        started.elapsed()
    );
    assert!(
        trials.iter().filter(|t| t.reported_durable > 0).count() > TRIALS / 2,
        "most kills should land after commits"
    );
}
