//! Snapshots: a pinned manifest version. While a snapshot lives, this process does not unlink the
//! segment files it names (merges and compaction defer the unlink until it is dropped), so they
//! can be read or copied at leisure.

use std::path::PathBuf;

use crate::engine::Engine;
use crate::error::Result;
use crate::manifest::ManifestState;
use crate::model::SeriesKey;

/// A pinned manifest version; see [`Engine::snapshot`].
#[derive(Debug)]
pub struct Snapshot {
    engine: Engine,
    state: ManifestState,
}

impl Engine {
    /// Pins the current manifest version. A writer handle flushes its memtables first, so every
    /// acknowledged row is in it.
    pub fn snapshot(&self) -> Result<Snapshot> {
        if !self.is_read_only() {
            self.flush()?;
        }
        self.refresh()?;
        let state = self.inner.state.read().manifest.clone();
        let mut pins = self.inner.pins.lock();
        for id in state.partitions.values().flatten().map(|m| m.id) {
            *pins.counts.entry(id).or_default() += 1;
        }
        Ok(Snapshot {
            engine: self.clone(),
            state,
        })
    }

    /// Whether `id` is pinned; if so its file is queued for removal when the last pin goes.
    pub(crate) fn defer_if_pinned(&self, id: u64, path: &std::path::Path) -> bool {
        let mut pins = self.inner.pins.lock();
        if pins.counts.contains_key(&id) {
            pins.waiting.push((id, path.to_path_buf()));
            true
        } else {
            false
        }
    }
}

impl Snapshot {
    /// The pinned manifest state.
    pub fn manifest(&self) -> &ManifestState {
        &self.state
    }

    /// Every segment file of the snapshot, with its series.
    pub fn segment_files(&self) -> Vec<(SeriesKey, PathBuf)> {
        self.state
            .partitions
            .iter()
            .flat_map(|(k, segs)| {
                segs.iter()
                    .map(move |m| (k.clone(), self.engine.segment_path(k, m.id)))
            })
            .collect()
    }
}

impl Drop for Snapshot {
    fn drop(&mut self) {
        let ready: Vec<PathBuf> = {
            let mut pins = self.engine.inner.pins.lock();
            for id in self.state.partitions.values().flatten().map(|m| m.id) {
                if let Some(n) = pins.counts.get_mut(&id) {
                    *n -= 1;
                    if *n == 0 {
                        pins.counts.remove(&id);
                    }
                }
            }
            let crate::engine::Pins { counts, waiting } = &mut *pins;
            let (still, free): (Vec<_>, Vec<_>) = waiting
                .drain(..)
                .partition(|(id, _)| counts.contains_key(id));
            *waiting = still;
            free.into_iter().map(|(_, p)| p).collect()
        };
        for path in ready {
            let _ = self.engine.inner.storage.remove_file(&path);
        }
    }
}
