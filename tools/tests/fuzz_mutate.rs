//! A mutation fuzzer on stable Rust, for machines without cargo-fuzz: every fuzz target's
//! harness (`fuzz/fuzz_targets/`) runs on seeded mutations of its corpus (bit flips, interesting
//! bytes, insertions, deletions, repeated chunks, splices of two inputs). Not coverage-guided
//! like libFuzzer, but it executes the same harnesses many times over. A panic saves the input
//! to `fuzz/corpus/<target>/crash-<seed>` (then replayed by the corpus tests) and fails.
//!
//! `TICKVAULT_FUZZ_EXECS` executions per target (default 3,000, for CI); the long run
//! (`scripts/long-run`) sets 10,000,000. `TICKVAULT_FUZZ_SEED` varies the run;
//! `TICKVAULT_FUZZ_TARGETS=segment,codecs` runs only those targets.

use std::path::{Path, PathBuf};

/// A fuzz target's entry point.
type Harness = fn(&[u8]);

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: usize) -> usize {
        if n == 0 {
            0
        } else {
            (self.next() % n as u64) as usize
        }
    }
}

const INTERESTING: [u8; 12] = [
    0, 1, 0x7f, 0x80, 0xff, b'"', b',', b'\n', b'{', b'[', b'-', b'9',
];

/// One input made from the corpus by a few random mutations.
fn mutate(rng: &mut Rng, corpus: &[Vec<u8>]) -> Vec<u8> {
    let mut data = corpus[rng.below(corpus.len())].clone();
    for _ in 0..1 + rng.below(4) {
        let n = data.len();
        match rng.below(7) {
            0 if n > 0 => {
                let at = rng.below(n);
                data[at] ^= 1 << rng.below(8);
            }
            1 if n > 0 => {
                let at = rng.below(n);
                data[at] = INTERESTING[rng.below(INTERESTING.len())];
            }
            2 => {
                let at = rng.below(n + 1);
                let len = 1 + rng.below(8);
                let bytes: Vec<u8> = (0..len).map(|_| rng.next() as u8).collect();
                data.splice(at..at, bytes);
            }
            3 if n > 0 => {
                let at = rng.below(n);
                let len = 1 + rng.below((n - at).min(64));
                data.drain(at..at + len);
            }
            4 if n > 0 => {
                let at = rng.below(n);
                let len = 1 + rng.below((n - at).min(64));
                let chunk = data[at..at + len].to_vec();
                let to = rng.below(n + 1);
                data.splice(to..to, chunk);
            }
            5 => {
                let other = &corpus[rng.below(corpus.len())];
                let cut = rng.below(n + 1);
                let from = rng.below(other.len() + 1);
                data.truncate(cut);
                data.extend_from_slice(&other[from..]);
            }
            _ if n > 8 => {
                // A little-endian integer field set to an edge value.
                let at = rng.below(n - 8);
                let v: u64 = [0, 1, u64::MAX, u64::from(u32::MAX), 1 << 31][rng.below(5)];
                let width = [1usize, 2, 4, 8][rng.below(4)];
                data[at..at + width].copy_from_slice(&v.to_le_bytes()[..width]);
            }
            _ => {}
        }
    }
    data
}

fn corpus(dir: &Path) -> Vec<Vec<u8>> {
    let mut out: Vec<Vec<u8>> = std::fs::read_dir(dir)
        .map(|d| {
            d.filter_map(|e| std::fs::read(e.ok()?.path()).ok())
                .collect()
        })
        .unwrap_or_default();
    if out.is_empty() {
        out.push(Vec::new());
    }
    out
}

fn env_u64(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

#[test]
fn every_fuzz_target_survives_mutations_of_its_corpus() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../fuzz/corpus");
    let execs = env_u64("TICKVAULT_FUZZ_EXECS", 3_000);
    let seed = env_u64("TICKVAULT_FUZZ_SEED", 0x5eed);
    let targets: [(&str, Harness); 9] = [
        ("segment", tickvault_tests::fuzz::segment),
        ("segment_fixed", tickvault_tests::fuzz::segment_fixed),
        ("codecs", tickvault_tests::fuzz::codecs),
        ("records", tickvault_tests::fuzz::records),
        ("manifest", tickvault_tests::fuzz::manifest),
        ("wal", tickvault_tests::fuzz::wal),
        ("csv", tickvault_cli::fuzz::csv),
        ("json", tickvault_cli::fuzz::json),
        ("jsonl", tickvault_cli::fuzz::jsonl),
    ];
    // Panics are findings, reported below: keep the default hook quiet meanwhile.
    let hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(|_| {}));
    let mut found = Vec::new();
    let only = std::env::var("TICKVAULT_FUZZ_TARGETS").ok();
    let chosen = |name: &str| {
        only.as_deref()
            .is_none_or(|o| o.split(',').any(|t| t == name))
    };
    for (name, harness) in targets.into_iter().filter(|(name, _)| chosen(name)) {
        let inputs = corpus(&root.join(name));
        let mut rng = Rng(seed ^ name.len() as u64 ^ 0x9e37_79b9_7f4a_7c15);
        let began = std::time::Instant::now();
        for i in 0..execs {
            let data = mutate(&mut rng, &inputs);
            if std::panic::catch_unwind(|| harness(&data)).is_err() {
                let path = root.join(name).join(format!("crash-{seed:x}-{i}"));
                let _ = std::fs::write(&path, &data);
                found.push(path);
                break;
            }
        }
        eprintln!(
            "{name}: {execs} executions in {:.1} s",
            began.elapsed().as_secs_f64()
        );
    }
    std::panic::set_hook(hook);
    assert!(found.is_empty(), "inputs that panicked, saved: {found:?}");
}
