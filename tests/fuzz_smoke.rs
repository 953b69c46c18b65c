//! A short, deterministic fuzz run of the gateway's decoders on stable Rust, part of
//! `cargo test`: the targets of `hayate::adapters::fuzzing` over their seeds, then random byte
//! strings, then random mutations of the seeds (bit flips, byte insertions and deletions,
//! splices, damaged BodyLength/CheckSum/length fields). A decoder panic or a broken invariant
//! fails the test; the failing input is printed so it can be replayed. The long, coverage-guided
//! runs use cargo-fuzz (`adapters/fuzz/README.md`).

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::time::Instant;

use hayate::adapters::fuzzing::{
    binary_seeds, binary_stream, fix_seeds, fix_stream, replication_seeds, replication_stream,
    ws_seeds, ws_stream,
};
use hayate_testkit::rng::Rng;

/// Random inputs per target and phase; with the seeds' mutations about 44k inputs per target (a second or two in release).
const RANDOM_INPUTS: usize = 4_000;
const MUTATIONS: usize = 40_000;

/// Runs `target` on `input`, reporting the input if it panics.
fn run(name: &str, target: fn(&[u8]), input: &[u8]) {
    if catch_unwind(AssertUnwindSafe(|| target(input))).is_err() {
        panic!(
            "{name} panicked on {} bytes: {:?}\nas text: {:?}",
            input.len(),
            input,
            String::from_utf8_lossy(input)
        );
    }
}

/// Random bytes, biased towards each protocol's alphabet so some of them frame.
fn random_input(rng: &mut Rng, alphabet: &[u8]) -> Vec<u8> {
    let len = rng.below(300) as usize;
    (0..len)
        .map(|_| {
            if rng.chance(0.7) {
                alphabet[rng.below(alphabet.len() as u64) as usize]
            } else {
                rng.next_u64() as u8
            }
        })
        .collect()
}

/// Offsets just after `needle` in `input` (where a length or checksum's digits start).
fn after(input: &[u8], needle: &[u8]) -> Vec<usize> {
    input
        .windows(needle.len())
        .enumerate()
        .filter(|(_, w)| *w == needle)
        .map(|(i, _)| i + needle.len())
        .collect()
}

/// One to four random edits of a seed, some of them aimed at the framing fields.
fn mutate(rng: &mut Rng, seeds: &[Vec<u8>], binary: bool) -> Vec<u8> {
    let mut input = seeds[rng.below(seeds.len() as u64) as usize].clone();
    for _ in 0..1 + rng.below(4) {
        let len = input.len() as u64;
        match rng.below(9) {
            // Bit flip.
            0 if len > 0 => {
                let at = rng.below(len) as usize;
                input[at] ^= 1 << rng.below(8);
            }
            // Byte overwritten with an interesting value.
            1 if len > 0 => {
                let at = rng.below(len) as usize;
                let values = [0, 1, b'=', b'0', b'9', 0x7f, 0x80, 0xff];
                input[at] = values[rng.below(values.len() as u64) as usize];
            }
            // Bytes inserted.
            2 => {
                let at = rng.below(len + 1) as usize;
                for _ in 0..1 + rng.below(8) {
                    input.insert(at, rng.next_u64() as u8);
                }
            }
            // Bytes deleted.
            3 if len > 0 => {
                let at = rng.below(len) as usize;
                let n = (1 + rng.below(8) as usize).min(input.len() - at);
                input.drain(at..at + n);
            }
            // Splice: a slice of another seed (or of itself) inserted somewhere.
            4 => {
                let other = &seeds[rng.below(seeds.len() as u64) as usize];
                let from = rng.below(other.len() as u64 + 1) as usize;
                let to = from + rng.below((other.len() - from) as u64 + 1) as usize;
                let at = rng.below(len + 1) as usize;
                input.splice(at..at, other[from..to].iter().copied());
            }
            // Truncation.
            5 => input.truncate(rng.below(len + 1) as usize),
            // Length damage: FIX BodyLength digits, or a binary header's length bytes.
            6 | 7 if binary => {
                let mut at = 0;
                while at + 2 <= input.len() {
                    let declared = u16::from_le_bytes([input[at], input[at + 1]]) as usize;
                    if rng.chance(0.3) {
                        let delta = [1u16, 2, 4, 8, 0x100, 0x8000][rng.below(6) as usize];
                        let damaged = if rng.chance(0.5) {
                            (declared as u16).wrapping_add(delta)
                        } else {
                            (declared as u16).wrapping_sub(delta)
                        };
                        input[at..at + 2].copy_from_slice(&damaged.to_le_bytes());
                        break;
                    }
                    at += declared.max(4);
                }
            }
            6 => {
                let starts = after(&input, b"\x019=");
                if !starts.is_empty() {
                    let at = starts[rng.below(starts.len() as u64) as usize];
                    if at < input.len() {
                        let digits = [b'0', b'1', b'9', b'5', b'x', 1][rng.below(6) as usize];
                        input[at] = digits;
                    }
                }
            }
            // Checksum damage (FIX): a digit changed.
            7 => {
                let starts = after(&input, b"\x0110=");
                if !starts.is_empty() {
                    let at =
                        starts[rng.below(starts.len() as u64) as usize] + rng.below(3) as usize;
                    if at < input.len() {
                        input[at] = b'0' + rng.below(10) as u8;
                    }
                }
            }
            // A whole seed appended (streams of several connections' worth).
            _ => {
                let other = &seeds[rng.below(seeds.len() as u64) as usize];
                input.extend_from_slice(other);
            }
        }
    }
    input
}

fn smoke(name: &str, target: fn(&[u8]), seeds: &[Vec<u8>], alphabet: &[u8], binary: bool) {
    let started = Instant::now();
    let mut rng = Rng::new(0x4841_5941_5445 ^ name.len() as u64);
    for seed in seeds {
        run(name, target, seed);
    }
    for _ in 0..RANDOM_INPUTS {
        let input = random_input(&mut rng, alphabet);
        run(name, target, &input);
    }
    for _ in 0..MUTATIONS {
        let input = mutate(&mut rng, seeds, binary);
        run(name, target, &input);
    }
    eprintln!(
        "{name}: {} inputs in {:?}",
        seeds.len() + RANDOM_INPUTS + MUTATIONS,
        started.elapsed()
    );
}

#[test]
fn fix_decoder_survives_random_and_mutated_input() {
    smoke(
        "fix_stream",
        fix_stream,
        &fix_seeds(),
        b"8=FIX.4.4\x019=10\x0135=AD\x0134=1\x0149=ALICE\x0156=HAYATE\x0110=000\x01",
        false,
    );
}

#[test]
fn binary_decoder_survives_random_and_mutated_input() {
    smoke(
        "binary_stream",
        binary_stream,
        &binary_seeds(),
        &[
            0, 1, 2, 3, 4, 8, 0x10, 0x11, 0x12, 0x20, 0x48, 0x81, 0x90, 0xa0, b'a',
        ],
        true,
    );
}

#[test]
fn websocket_requests_survive_random_and_mutated_input() {
    smoke(
        "ws_stream",
        ws_stream,
        &ws_seeds(),
        &[
            0x81, 0x82, 0x88, 0x89, 0x80, 0xfe, 0x7e, b'{', b'"', b'}', b'[', b']', b':', b',',
        ],
        true,
    );
}

#[test]
fn replication_decoder_survives_random_and_mutated_input() {
    smoke(
        "replication_stream",
        replication_stream,
        &replication_seeds(),
        &[0, 1, 2, 3, 4, 5, 6, 7, 8, 0x10, 0x20, 0x40, 0xff, b'H'],
        true,
    );
}

/// Writes the seeds as cargo-fuzz's starting corpus (`adapters/fuzz/corpus/<target>/`); run
/// with `--ignored` before a first long run.
#[test]
#[ignore = "writes files: run explicitly to seed the cargo-fuzz corpus"]
fn write_seed_corpus() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("adapters/fuzz/corpus");
    for (target, seeds) in [
        ("fix_stream", fix_seeds()),
        ("binary_stream", binary_seeds()),
        ("replication_stream", replication_seeds()),
        ("ws_stream", ws_seeds()),
    ] {
        let dir = root.join(target);
        std::fs::create_dir_all(&dir).expect("corpus dir");
        for (i, seed) in seeds.iter().enumerate() {
            std::fs::write(dir.join(format!("seed-{i}")), seed).expect("seed file");
        }
    }
}
