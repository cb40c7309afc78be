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
            "segment_fixed" => tickvault_tests::fuzz::segment_fixed,
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

#[test]
fn fixing_the_checksums_of_a_valid_segment_changes_nothing_and_lets_a_flip_through() {
    use tickvault::io::ByteView;
    use tickvault::segment::Segment;
    use tickvault::{BarColumns, Columns, Error};
    use tickvault_tests::fuzz::fix_segment_checksums;
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../format-spec/vectors/good/v1");
    let open = |bytes: &[u8]| {
        Segment::open(
            Path::new("x.seg"),
            ByteView::from_vec(bytes.to_vec()),
            None,
            BarColumns::schema(),
        )
    };
    for name in ["bars-none.seg", "bars-lz4.seg", "bars-zstd.seg"] {
        let good = std::fs::read(dir.join(name)).unwrap();
        assert_eq!(fix_segment_checksums(&good), good, "{name}");
        // A flipped byte in the first chunk fails its CRC; fixed, the CRC passes and the
        // reader reaches what lies behind it.
        let mut bad = good.clone();
        bad[24] ^= 0x40;
        let seg = open(&bad).unwrap();
        let mut out = BarColumns::default();
        out.resize(seg.blocks()[0].rows as usize);
        let rows = out.len();
        let col0 = out.muts().into_iter().next().unwrap();
        let err = seg.decode_column(0, 0, 0..rows, col0).unwrap_err();
        assert!(
            matches!(err, Error::ChecksumMismatch { .. }),
            "{name}: {err}"
        );
        let fixed = fix_segment_checksums(&bad);
        assert_ne!(fixed, bad, "{name}");
        let seg = open(&fixed).unwrap();
        let mut out = BarColumns::default();
        out.resize(rows);
        let col0 = out.muts().into_iter().next().unwrap();
        if let Err(err) = seg.decode_column(0, 0, 0..rows, col0) {
            assert!(
                !matches!(err, Error::ChecksumMismatch { .. }),
                "{name}: {err}"
            );
        }
    }
}
