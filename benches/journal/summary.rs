//! The printed summary: medians by plain `Instant` timing, commit percentiles, roll-over cost and
//! the 10-million-command recovery against its targets.

use super::*;

pub(super) fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

pub(super) fn thousands(n: u64) -> String {
    let s = n.to_string();
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

pub(super) fn rate(n: u64, d: Duration) -> f64 {
    n as f64 / d.as_secs_f64()
}

pub(super) fn verdict(ok: bool) -> &'static str {
    if ok { "met" } else { "NOT met" }
}

pub(super) fn summary_append(base: &Path, reps: usize, n: u64) {
    println!();
    println!(
        "journal/append_64B - {} records of 64 B per pass (5 segments' worth: {} frames of 80 B \
         per 64 MiB segment), commit/flush every {APPEND_BATCH}; median of {reps} passes",
        thousands(n),
        thousands(records_per_segment(64)),
    );
    let mut medians = Vec::new();
    let mut rollovers = 0;
    let labels = [
        "hayate Never, with roll-overs",
        "hayate Never, between roll-overs",
        "BufWriter<File> 8 KiB",
    ];
    for (i, label) in labels.iter().enumerate() {
        let times: Vec<Duration> = (0..reps)
            .map(|_| match i {
                0 => {
                    // A fresh journal per pass; its first segment is created untimed.
                    let mut rig = NeverRig::new(base, false);
                    let d = rig.append_64(n);
                    rollovers = rig.rollovers;
                    d
                }
                1 => NeverRig::new(base, true).append_64(n),
                _ => BufRig::new(base).append_64(n),
            })
            .collect();
        medians.push((label, median(times)));
    }
    let bufwriter = medians[2].1;
    println!(
        "  {:<34} {:>14} {:>9} {:>10} {:>22}",
        "writer", "records/s", "ns/rec", "MB/s", "time vs BufWriter"
    );
    for (label, d) in &medians {
        println!(
            "  {:<34} {:>14} {:>9.1} {:>10.0} {:>21.2}x",
            label,
            thousands(rate(n, *d) as u64),
            d.as_nanos() as f64 / n as f64,
            rate(n * 80, *d) / 1e6,
            d.as_secs_f64() / bufwriter.as_secs_f64()
        );
    }
    let (with, between) = (medians[0].1, medians[1].1);
    println!(
        "  roll-overs timed in a 'with roll-overs' pass: {rollovers}; they cost {:.0} ms of the \
         pass's {:.0} ms ({:.0} ms each)",
        (with.saturating_sub(between)).as_secs_f64() * 1e3,
        with.as_secs_f64() * 1e3,
        (with.saturating_sub(between)).as_secs_f64() * 1e3 / rollovers.max(1) as f64
    );
    println!(
        "  target 'at least as fast as BufWriter': append path alone {} ({:.2}x BufWriter's \
         time); steady state with roll-overs {} ({:.2}x)",
        verdict(between <= bufwriter),
        between.as_secs_f64() / bufwriter.as_secs_f64(),
        verdict(with <= bufwriter),
        with.as_secs_f64() / bufwriter.as_secs_f64(),
    );
    // What one roll-over is made of: creating a segment (preallocate, prefault, fsync, rename,
    // fsync dir) — the same call `Journal::open` makes for an empty directory.
    let creates: Vec<Duration> = (0..reps)
        .map(|_| {
            let dir = tempfile::tempdir_in(base).unwrap();
            let start = Instant::now();
            let (journal, _) = Journal::open(dir.path(), options(FlushPolicy::Never)).unwrap();
            let d = start.elapsed();
            drop(journal);
            d
        })
        .collect();
    println!(
        "  creating one 64 MiB segment (Journal::open on an empty dir: preallocate, prefault, \
         fsync, rename, fsync dir): {:.0} ms (median of {reps})",
        median(creates).as_secs_f64() * 1e3
    );
}

pub(super) fn percentile(sorted: &[Duration], q: f64) -> Duration {
    sorted[((sorted.len() as f64 * q) as usize).min(sorted.len() - 1)]
}

pub(super) fn summary_durable(base: &Path, commands: &[Command], batches_per_size: usize) {
    println!();
    println!(
        "journal/durable_always - 128-byte commands, one commit per batch, {batches_per_size} \
         batches per size (each timed alone; commit latency = append of the batch + commit)"
    );
    println!(
        "  {:<6} {:<28} {:>12} {:>10} {:>10} {:>10} {:>10} {:>12}",
        "batch", "writer", "commands/s", "mean ms", "p50 ms", "p99 ms", "max ms", "vs baseline"
    );
    let mut source = CommandSource { commands, at: 0 };
    for batch in DURABLE_BATCHES {
        let mut rows: Vec<(&str, Vec<Duration>)> = Vec::new();
        let mut rollovers = 0;
        for which in 0..2 {
            let mut lat = Vec::with_capacity(batches_per_size);
            if which == 0 {
                let mut rig = AlwaysRig::new(base);
                for _ in 0..batches_per_size {
                    lat.push(rig.batch(source.next(batch)));
                }
                rollovers = rig.rollovers;
                rows.push(("hayate Always (msync)", lat));
            } else {
                let mut rig = FdatasyncRig::new(base);
                for _ in 0..batches_per_size {
                    lat.push(rig.batch(source.next(batch)));
                }
                rows.push(("BufWriter + fdatasync", lat));
            }
        }
        let total = |v: &[Duration]| v.iter().sum::<Duration>();
        let baseline_rate = rate((batch * batches_per_size) as u64, total(&rows[1].1));
        for (label, mut lat) in rows {
            let n = (batch * batches_per_size) as u64;
            let r = rate(n, total(&lat));
            let mean = total(&lat) / lat.len() as u32;
            lat.sort();
            let ms = |d: Duration| d.as_secs_f64() * 1e3;
            println!(
                "  {:<6} {:<28} {:>12} {:>10.2} {:>10.2} {:>10.2} {:>10.2} {:>11.2}x",
                batch,
                label,
                thousands(r as u64),
                ms(mean),
                ms(percentile(&lat, 0.5)),
                ms(percentile(&lat, 0.99)),
                ms(*lat.last().unwrap()),
                r / baseline_rate
            );
        }
        if rollovers > 0 {
            println!("         (hayate: {rollovers} segment roll-over(s) in these batches)");
        }
    }
}

pub(super) fn summary_replay(name: &str, f: &ReplayFixture, reps: usize) -> (Duration, Duration) {
    let n = f.commands.len() as u64;
    let replays = median((0..reps).map(|_| time_replay(f).2).collect());
    let memory = median((0..reps).map(|_| time_in_memory(f).2).collect());
    let reader = median((0..reps).map(|_| time_reader_only(f)).collect());
    println!(
        "  {:<52} {:>10} {:>14} {:>10}",
        "", "seconds", "commands/s", "ns/cmd"
    );
    for (label, d) in [
        (
            format!("{name}: recovery::replay from the journal"),
            replays,
        ),
        (format!("{name}: engine, same commands from memory"), memory),
        (
            format!("{name}: journal read + CRC + decode only, no engine"),
            reader,
        ),
    ] {
        println!(
            "  {:<52} {:>10.3} {:>14} {:>10.1}",
            label,
            d.as_secs_f64(),
            thousands(rate(n, d) as u64),
            d.as_nanos() as f64 / n as f64
        );
    }
    println!(
        "  replay takes {:.2}x the in-memory time: the journal (open, read, CRC, decode) costs \
         {:.1} ns per command",
        replays.as_secs_f64() / memory.as_secs_f64(),
        (replays.as_nanos() as f64 - memory.as_nanos() as f64) / n as f64
    );
    (replays, memory)
}

pub(super) fn describe_fixture(f: &ReplayFixture) {
    println!(
        "  journal: {} records ({} setup: deposits and the pre-populated book), {} segments, \
         {:.0} MiB on disk; written (engine + append, Never, commit per {GEN_COMMIT}) in {:.2} s; \
         live engine emitted {} events, zero rejects; replayed digest == live digest == in-memory \
         digest {:#018x}",
        thousands(f.commands.len() as u64),
        thousands(f.setup as u64),
        f.segments,
        f.bytes_on_disk as f64 / MIB as f64,
        f.write_time.as_secs_f64(),
        thousands(f.live_events),
        f.live_digest,
    );
}

/// Evicts the segment files from the page cache (`dd iflag=nocache count=0` =
/// `posix_fadvise(DONTNEED)`); returns the fraction still resident per `fincore`, if it can tell.
pub(super) fn evict(dir: &Path) -> Option<f64> {
    let segments: Vec<PathBuf> = std::fs::read_dir(dir)
        .ok()?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "seg"))
        .collect();
    for seg in &segments {
        let ok = std::process::Command::new("dd")
            .arg(format!("if={}", seg.display()))
            .args(["iflag=nocache", "count=0", "status=none"])
            .status()
            .ok()?
            .success();
        if !ok {
            return None;
        }
    }
    let out = std::process::Command::new("fincore")
        .args(["--bytes", "--noheadings", "--output", "RES,SIZE"])
        .args(&segments)
        .output()
        .ok()?;
    let (mut res, mut size) = (0u64, 0u64);
    for line in String::from_utf8_lossy(&out.stdout).lines() {
        let mut it = line.split_whitespace();
        res += it.next()?.parse::<u64>().ok()?;
        size += it.next()?.parse::<u64>().ok()?;
    }
    (size > 0).then(|| res as f64 / size as f64)
}

/// Free space in `dir` per `df`, in bytes, if it can tell.
pub(super) fn free_space(dir: &Path) -> Option<u64> {
    let out = std::process::Command::new("df")
        .args(["-Pk"])
        .arg(dir)
        .output()
        .ok()?;
    let text = String::from_utf8_lossy(&out.stdout);
    let line = text.lines().nth(1)?;
    Some(line.split_whitespace().nth(3)?.parse::<u64>().ok()? * 1024)
}

pub(super) fn summary_10m(base: &Path, len: usize, reps: usize) {
    println!();
    println!(
        "recovery of a {}-command journal (full replay from scratch, no snapshot; median of {reps})",
        thousands(len as u64)
    );
    let need = len as u64 * 144 * 12 / 10 + 2 * SEGMENT_SIZE;
    if let Some(free) = free_space(base) {
        if free < need + 2 * 1024 * MIB {
            println!(
                "  skipped: {} MiB free in {}, need about {} MiB",
                free / MIB,
                base.display(),
                need / MIB
            );
            return;
        }
    }
    let started = Instant::now();
    let scenario = stream::mixed(&stream_config(len));
    let commands = commands_of(&scenario);
    let setup = 8 + scenario.prepop.len();
    drop(scenario);
    let generated = started.elapsed();
    let fixture = build_fixture(base, commands, setup);
    eprintln!(
        "10M: stream generated in {:.1}s, journal written and checked in {:.1}s",
        generated.as_secs_f64(),
        started.elapsed().as_secs_f64() - generated.as_secs_f64()
    );
    describe_fixture(&fixture);
    let (replays, memory) = summary_replay("10M", &fixture, reps);
    let n = fixture.commands.len() as u64;
    let r = rate(n, replays);
    println!(
        "  targets (warm page cache): recovered in under 3 s: {} ({:.2} s); at least 5M \
         commands/s: {} ({:.2}M/s); in-memory engine alone: {:.2}M/s",
        verdict(replays.as_secs_f64() < 3.0),
        replays.as_secs_f64(),
        verdict(r >= 5e6),
        r / 1e6,
        rate(n, memory) / 1e6
    );
    match evict(fixture.dir.path()) {
        Some(resident) => {
            let (_, _, cold) = time_replay(&fixture);
            println!(
                "  cold: segment files evicted from the page cache first ({:.1}% still resident \
                 per fincore): {:.2} s, {:.2}M commands/s ({:.0} MB/s read) - one run",
                resident * 100.0,
                cold.as_secs_f64(),
                rate(n, cold) / 1e6,
                fixture.bytes_on_disk as f64 / cold.as_secs_f64() / 1e6
            );
        }
        None => println!("  cold run skipped: could not evict the segment files (dd/fincore)"),
    }
    drop(fixture); // deletes the journal
}
