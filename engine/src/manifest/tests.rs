#![allow(clippy::indexing_slicing, clippy::unwrap_used)]

use std::sync::Arc;

use super::*;
use crate::io::RealFs;
use crate::model::{Exchange, Interval, SeriesKey, Timestamp};

fn key(s: &str) -> SeriesKey {
    SeriesKey::bar(s, Exchange::DCE, Interval::Minute).unwrap()
}

fn meta(id: u64, a: i64, b: i64) -> SegmentMeta {
    SegmentMeta {
        id,
        rows: 2,
        min_ts: Timestamp::from_ns(a),
        max_ts: Timestamp::from_ns(b),
        file_len: 100,
    }
}

#[test]
fn apply_checks_removes_and_overlaps() {
    let mut s = ManifestState {
        next_id: 1,
        ..ManifestState::default()
    };
    s.apply(
        &[
            Edit::Add(key("a"), meta(1, 10, 20)),
            Edit::Add(key("a"), meta(2, 30, 40)),
        ],
        3,
        0,
    )
    .unwrap();
    assert_eq!(
        s.partitions[&key("a")]
            .iter()
            .map(|m| m.id)
            .collect::<Vec<_>>(),
        [1, 2]
    );
    assert!(s
        .clone()
        .apply(&[Edit::Add(key("a"), meta(3, 15, 16))], 4, 0)
        .is_err());
    assert!(s.clone().apply(&[Edit::Remove(key("a"), 9)], 4, 0).is_err());
    assert!(
        s.clone()
            .apply(&[Edit::Add(key("a"), meta(7, 50, 60))], 4, 0)
            .is_err(),
        "id beyond next_id"
    );
    // Replace 1 by a wider segment in one edit.
    s.apply(
        &[
            Edit::Remove(key("a"), 1),
            Edit::Add(key("a"), meta(3, 0, 25)),
        ],
        4,
        0,
    )
    .unwrap();
    assert_eq!(
        s.partitions[&key("a")]
            .iter()
            .map(|m| m.id)
            .collect::<Vec<_>>(),
        [3, 2]
    );
    s.apply(
        &[Edit::Remove(key("a"), 3), Edit::Remove(key("a"), 2)],
        4,
        0,
    )
    .unwrap();
    assert!(s.partitions.is_empty());
}

#[test]
fn records_round_trip_and_garbage_is_refused() {
    let mut state = ManifestState {
        next_id: 5,
        ..ManifestState::default()
    };
    state
        .partitions
        .insert(key("x"), vec![meta(1, 1, 2), meta(4, 3, 9)]);
    let cp = Record::Checkpoint(state);
    assert_eq!(decode_record(&encode_record(&cp)).unwrap(), cp);
    let edit = Record::Edit {
        next_id: 9,
        wal_flushed_seq: 17,
        edits: vec![
            Edit::Add(key("y"), meta(8, 0, 0)),
            Edit::Remove(key("x"), 1),
        ],
    };
    let bytes = encode_record(&edit);
    assert_eq!(decode_record(&bytes).unwrap(), edit);
    for cut in 0..bytes.len() {
        assert!(
            decode_record(&bytes[..cut]).is_err(),
            "prefix of {cut} bytes accepted"
        );
    }
    let mut extra = bytes.clone();
    extra.push(0);
    assert!(decode_record(&extra).is_err());
}

#[test]
fn checkpoints_replace_the_log_and_readers_follow() {
    let dir = tempfile::tempdir().unwrap();
    let storage: Arc<dyn crate::io::Storage> = Arc::new(RealFs::default());
    let (mut log, mut state) = ManifestLog::open(storage.clone(), dir.path()).unwrap();
    let (mut reader, mut seen) = ManifestReader::open(storage.clone(), dir.path())
        .unwrap()
        .unwrap();
    let edits = vec![Edit::Add(key("a"), meta(1, 0, 1))];
    state.apply(&edits, 2, 0).unwrap();
    log.append(2, 0, edits).unwrap();
    assert!(reader.refresh(&mut seen).unwrap());
    assert_eq!(seen, state);
    log.checkpoint(&state).unwrap();
    assert_eq!(log.file_no(), 2);
    assert!(!dir.path().join(manifest_file_name(1)).exists());
    let edits = vec![Edit::Add(key("b"), meta(2, 0, 1))];
    state.apply(&edits, 3, 5).unwrap();
    log.append(3, 5, edits).unwrap();
    assert!(reader.refresh(&mut seen).unwrap());
    assert_eq!(seen, state);
    assert!(!reader.refresh(&mut seen).unwrap());
    drop(log);
    let (_log, reopened) = ManifestLog::open(storage, dir.path()).unwrap();
    assert_eq!(reopened, state);
}

#[test]
fn an_unfinished_checkpoint_falls_back_to_the_older_manifest() {
    let dir = tempfile::tempdir().unwrap();
    let storage: Arc<dyn crate::io::Storage> = Arc::new(RealFs::default());
    let (mut log, mut state) = ManifestLog::open(storage.clone(), dir.path()).unwrap();
    let edits = vec![Edit::Add(key("a"), meta(1, 0, 1))];
    state.apply(&edits, 2, 0).unwrap();
    log.append(2, 0, edits).unwrap();
    drop(log);
    // A crash while writing MANIFEST-2: only part of its header reached the disk.
    std::fs::write(dir.path().join(manifest_file_name(2)), &log::MAGIC[..5]).unwrap();
    let (log, reopened) = ManifestLog::open(storage, dir.path()).unwrap();
    assert_eq!(reopened, state);
    assert_eq!(log.file_no(), 1);
    assert!(!dir.path().join(manifest_file_name(2)).exists());
}
