//! The on-disk format specification (FORMAT.md) and its golden vectors.
