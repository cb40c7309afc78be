//! The manifest: the single commit point (FORMAT.md, "Manifest").
//!
//! A manifest file is a checkpoint record (the whole state) followed by edit records (segments
//! added and removed). A write becomes visible when its edit record is durable. Checkpoints are
//! written to a new file, so nothing is overwritten in place.
#![deny(clippy::indexing_slicing, clippy::unwrap_used)]

mod log;
mod record;

use std::collections::BTreeMap;

pub(crate) use log::{grew, READ_TRIES};
pub use log::{manifest_file_name, write_snapshot, ManifestLog, ManifestReader, MANIFEST_PREFIX};
pub use record::{decode_record, encode_record, Record};

use crate::error::{Error, Result};
use crate::model::{SeriesKey, Timestamp};

/// What the manifest knows of one segment file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SegmentMeta {
    /// Segment id (the file is `<id as 16 hex digits>.seg` in the partition directory).
    pub id: u64,
    /// Number of rows.
    pub rows: u64,
    /// Time of the first row.
    pub min_ts: Timestamp,
    /// Time of the last row.
    pub max_ts: Timestamp,
    /// File length in bytes.
    pub file_len: u64,
}

/// One change to the set of live segments.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Edit {
    /// A segment joins a partition.
    Add(SeriesKey, SegmentMeta),
    /// A segment leaves a partition.
    Remove(SeriesKey, u64),
}

/// The live segments of every partition, each list sorted by time and non-overlapping.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ManifestState {
    /// The id the next new segment gets.
    pub next_id: u64,
    /// Live segments per partition.
    pub partitions: BTreeMap<SeriesKey, Vec<SegmentMeta>>,
    /// Every WAL record with a sequence up to this one is in segments.
    pub wal_flushed_seq: u64,
}

impl ManifestState {
    /// Bytes of every segment file this version names.
    pub fn segment_bytes(&self) -> u64 {
        self.partitions.values().flatten().map(|m| m.file_len).sum()
    }

    /// Applies `edits` (removes first, then adds), checking that every removed segment exists
    /// and that added segments do not overlap the others of their partition.
    pub fn apply(&mut self, edits: &[Edit], next_id: u64, wal_flushed_seq: u64) -> Result<()> {
        let invalid = |what: String| Error::InvalidArgument(format!("manifest edit: {what}"));
        for edit in edits {
            if let Edit::Remove(key, id) = edit {
                let segs = self
                    .partitions
                    .get_mut(key)
                    .ok_or_else(|| invalid(format!("no partition {key}")))?;
                let pos = segs
                    .iter()
                    .position(|s| s.id == *id)
                    .ok_or_else(|| invalid(format!("no segment {id} in {key}")))?;
                segs.remove(pos);
                if segs.is_empty() {
                    self.partitions.remove(key);
                }
            }
        }
        for edit in edits {
            if let Edit::Add(key, meta) = edit {
                if meta.rows == 0 || meta.min_ts > meta.max_ts || meta.id >= next_id {
                    return Err(invalid(format!(
                        "segment {} of {key} is malformed",
                        meta.id
                    )));
                }
                let segs = self.partitions.entry(key.clone()).or_default();
                let pos = segs.partition_point(|s| s.max_ts < meta.min_ts);
                if segs.get(pos).is_some_and(|s| s.min_ts <= meta.max_ts) {
                    return Err(invalid(format!(
                        "segment {} overlaps another in {key}",
                        meta.id
                    )));
                }
                segs.insert(pos, *meta);
            }
        }
        self.next_id = self.next_id.max(next_id);
        self.wal_flushed_seq = self.wal_flushed_seq.max(wal_flushed_seq);
        Ok(())
    }
}

#[cfg(test)]
mod tests;
