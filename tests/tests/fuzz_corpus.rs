//! The fuzz corpora (`fuzz/corpus/<target>/`), including every crash a fuzzer found, replayed
//! through the same harnesses as the fuzz targets: none may panic.

use std::path::Path;

#[test]
fn every_corpus_input_runs_without_panic() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz/corpus");
    let mut inputs = 0;
    for target in std::fs::read_dir(&root).unwrap() {
        let target = target.unwrap();
        let name = target.file_name().into_string().unwrap();
        let harness: fn(&[u8]) = match name.as_str() {
            "segment" => tickvault_tests::fuzz::segment,
            "codecs" => tickvault_tests::fuzz::codecs,
            "records" => tickvault_tests::fuzz::records,
            "manifest" => tickvault_tests::fuzz::manifest,
            "wal" => tickvault_tests::fuzz::wal,
            // Import formats: replayed by tools/tests/fuzz_corpus.rs.
            "csv" | "json" | "jsonl" => continue,
            other => panic!("fuzz/corpus/{other} has no harness"),
        };
        for file in std::fs::read_dir(target.path()).unwrap() {
            let data = std::fs::read(file.unwrap().path()).unwrap();
            harness(&data);
            // Truncations and single flips of every input too: cheap extra coverage.
            for cut in [0, data.len() / 2, data.len().saturating_sub(1)] {
                harness(&data[..cut]);
            }
            inputs += 1;
        }
    }
    assert!(inputs >= 8, "{inputs} corpus inputs");
}
