//! Progress reports of long work (backup, restore, verify), for a display: the command line
//! draws its bars from them.

/// Where long work stands: `done` of `total` bytes of the current stage.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Progress {
    /// What is being done: `"backing up"`, `"verifying"` or `"copying"`.
    pub stage: &'static str,
    /// Bytes done in this stage.
    pub done: u64,
    /// Bytes of this stage in all.
    pub total: u64,
}

/// Receives progress reports, on the working thread, after each file (or segment): keep it
/// cheap. `&|_| {}` ignores them.
pub type OnProgress<'a> = &'a dyn Fn(Progress);
