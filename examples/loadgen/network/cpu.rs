//! Per-thread CPU over a run, from `/proc/self/task/*/stat`: on a two-core machine it tells
//! whether the gateway's threads or the load generator's own were short of CPU.

use std::collections::HashMap;
use std::time::Instant;

/// CPU time used so far by this process's threads, in clock ticks, summed per thread name
/// (`/proc/self/task/*/stat`, Linux; empty elsewhere).
pub(super) fn thread_cpu() -> HashMap<String, u64> {
    let mut cpu = HashMap::new();
    let Ok(tasks) = std::fs::read_dir("/proc/self/task") else {
        return cpu;
    };
    for task in tasks.flatten() {
        let Ok(stat) = std::fs::read_to_string(task.path().join("stat")) else {
            continue;
        };
        // `tid (comm) state ppid ...`: utime and stime are the 14th and 15th fields, the 12th
        // and 13th after the name (which may hold spaces, hence the last parenthesis).
        let (Some(open), Some(close)) = (stat.find('('), stat.rfind(')')) else {
            continue;
        };
        let name = stat[open + 1..close].to_owned();
        let fields: Vec<&str> = stat[close + 1..].split_whitespace().collect();
        let ticks = |i: usize| {
            fields
                .get(i)
                .and_then(|f| f.parse::<u64>().ok())
                .unwrap_or(0)
        };
        *cpu.entry(name).or_insert(0) += ticks(11) + ticks(12);
    }
    cpu
}

/// Prints each thread's share of a core over the run so far since `before`: on a two-core
/// machine this tells whether the gateway or the load generator's own readers were short of CPU.
pub(super) fn print_thread_cpu(before: (Instant, HashMap<String, u64>)) {
    let (started, before) = before;
    let wall = started.elapsed().as_secs_f64();
    // SAFETY: sysconf only reads a configuration value.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    if wall <= 0.0 || hz <= 0 {
        return;
    }
    let mut used: Vec<(String, f64)> = thread_cpu()
        .into_iter()
        .map(|(name, ticks)| {
            let was = before.get(&name).copied().unwrap_or(0);
            let seconds = ticks.saturating_sub(was) as f64 / hz as f64;
            (name, seconds / wall * 100.0)
        })
        .filter(|(_, percent)| *percent >= 1.0)
        .collect();
    if used.is_empty() {
        return;
    }
    used.sort_by(|a, b| b.1.total_cmp(&a.1));
    let total: f64 = used.iter().map(|(_, p)| p).sum();
    let list: Vec<String> = used
        .iter()
        .map(|(name, percent)| format!("{name} {percent:.0}%"))
        .collect();
    println!(
        "  cpu            threads of this process over the {wall:.1} s run (100% = one core): {} — {total:.0}% in all",
        list.join(", ")
    );
}
