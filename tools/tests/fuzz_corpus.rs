//! The import fuzz corpora (`fuzz/corpus/{csv,json,jsonl}/`), including every crash a fuzzer
//! found, replayed through the same harnesses as the fuzz targets, with truncations and byte
//! flips of each input: none may panic. (The engine's corpora replay in `tests/`.)

use std::path::Path;

#[test]
fn every_import_corpus_input_runs_without_panic() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz/corpus");
    let mut inputs = 0;
    for (target, harness) in [
        ("csv", tickvault_cli::fuzz::csv as fn(&[u8])),
        ("json", tickvault_cli::fuzz::json),
        ("jsonl", tickvault_cli::fuzz::jsonl),
    ] {
        for file in std::fs::read_dir(root.join(target)).unwrap() {
            let data = std::fs::read(file.unwrap().path()).unwrap();
            harness(&data);
            for cut in [0, 1, data.len() / 2, data.len().saturating_sub(1)] {
                harness(&data[..cut.min(data.len())]);
            }
            // Every 7th byte flipped to each of a few values that matter to the parsers.
            for at in (0..data.len()).step_by(7) {
                for b in [b'"', b',', b'\n', b'{', 0xff] {
                    let mut changed = data.clone();
                    changed[at] = b;
                    harness(&changed);
                }
            }
            inputs += 1;
        }
    }
    assert!(inputs >= 5, "{inputs} corpus inputs");
}
