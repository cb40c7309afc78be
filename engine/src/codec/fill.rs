//! Filling a column piece by piece, never zero-filling more than one piece ahead.
//!
//! A load knows how many rows it returns before it decodes them. Sizing the whole output with
//! `resize` first would write every byte twice from memory's point of view: zeros first (the
//! allocator's `memset` of reused memory: 11% of all samples of a `perf` profile of the one-core
//! bench `bars_1m/load_columns`, its setup included), then, after they left the cache, the
//! decoded values. A [`ColumnFill`] instead overwrites the rows the vector already holds (a
//! buffer reused from an earlier load) and grows it by one piece (at most a block) at a time for
//! the rest: the piece's zeros are overwritten while still in cache, so fresh memory is written
//! out once. (Pieces were decoded into a scratch and copied out before; growing the output in
//! place saves that copy: uncached one-day loads of 240 bars took 18-19% less time in a loop
//! program, both builds alternating three times.)

use smol_str::SmolStr;

use super::{ColumnMut, ColumnRef, ColumnVec, OwnedColumn};
use crate::error::{Error, Result};
use crate::model::Timestamp;

/// One column being filled with `total` rows, in order.
#[derive(Debug)]
pub(crate) struct ColumnFill<'a>(Kind<'a>);

#[derive(Debug)]
enum Kind<'a> {
    Time(Fill<'a, Timestamp>),
    OptTime(Fill<'a, Option<Timestamp>>),
    F64(Fill<'a, f64>),
    Str(Fill<'a, SmolStr>),
}

/// The state of one column: `vec[..pos]` is written; `pos <= vec.len()` throughout.
#[derive(Debug)]
struct Fill<'a, T> {
    vec: &'a mut Vec<T>,
    pos: usize,
    total: usize,
}

impl<'a, T: Clone + Default> Fill<'a, T> {
    fn new(vec: &'a mut Vec<T>, total: usize) -> Self {
        vec.truncate(total);
        vec.reserve_exact(total - vec.len());
        Fill { vec, pos: 0, total }
    }

    /// The next `n` rows, written by `write` into the slots it is given: the vector's own,
    /// grown by the piece's rows (zeros, overwritten while still in cache) where it has none.
    fn decode(&mut self, n: usize, write: impl FnOnce(&mut [T]) -> Result<()>) -> Result<()> {
        let end = self.end(n)?;
        if self.vec.len() < end {
            self.vec.resize(end, T::default());
        }
        let slots = self
            .vec
            .get_mut(self.pos..end)
            .ok_or_else(|| Error::InvalidArgument("piece outside the output".into()))?;
        write(slots)?;
        self.pos = end;
        Ok(())
    }

    /// The next `src.len()` rows, copied from `src`: over the rows the vector holds, then
    /// appended.
    fn copy(&mut self, src: &[T]) -> Result<()> {
        let end = self.end(src.len())?;
        let len = self.vec.len();
        let (inside, past) = src.split_at(len.clamp(self.pos, end) - self.pos);
        if let Some(slots) = self.vec.get_mut(self.pos..self.pos + inside.len()) {
            slots.clone_from_slice(inside);
        }
        self.vec.extend_from_slice(past);
        self.pos = end;
        Ok(())
    }

    /// Where `n` more rows end; an error past `total`.
    fn end(&self, n: usize) -> Result<usize> {
        self.pos
            .checked_add(n)
            .filter(|&end| end <= self.total)
            .ok_or_else(|| Error::InvalidArgument("piece plan exceeds the output".into()))
    }

    fn finish(&self) -> Result<()> {
        if self.pos == self.total && self.vec.len() == self.total {
            Ok(())
        } else {
            Err(Error::InvalidArgument(format!(
                "{} of {} rows filled",
                self.pos, self.total
            )))
        }
    }
}

impl<'a> ColumnFill<'a> {
    /// Starts filling `vec` with `total` rows: rows past `total` are dropped, room is reserved
    /// for the rest, nothing is zero-filled.
    pub(crate) fn new(vec: ColumnVec<'a>, total: usize) -> Self {
        ColumnFill(match vec {
            ColumnVec::Time(v) => Kind::Time(Fill::new(v, total)),
            ColumnVec::OptTime(v) => Kind::OptTime(Fill::new(v, total)),
            ColumnVec::F64(v) => Kind::F64(Fill::new(v, total)),
            ColumnVec::Str(v) => Kind::Str(Fill::new(v, total)),
        })
    }

    /// The next `n` rows, written by `write` into the `n` slots it is given.
    pub(crate) fn decode(
        &mut self,
        n: usize,
        write: impl FnOnce(ColumnMut<'_>) -> Result<()>,
    ) -> Result<()> {
        match &mut self.0 {
            Kind::Time(f) => f.decode(n, |s| write(ColumnMut::Time(s))),
            Kind::OptTime(f) => f.decode(n, |s| write(ColumnMut::OptTime(s))),
            Kind::F64(f) => f.decode(n, |s| write(ColumnMut::F64(s))),
            Kind::Str(f) => f.decode(n, |s| write(ColumnMut::Str(s))),
        }
    }

    /// The next rows, copied from `src`; an error when its type differs.
    pub(crate) fn copy(&mut self, src: ColumnRef<'_>) -> Result<()> {
        match (&mut self.0, src) {
            (Kind::Time(f), ColumnRef::Time(s)) => f.copy(s),
            (Kind::OptTime(f), ColumnRef::OptTime(s)) => f.copy(s),
            (Kind::F64(f), ColumnRef::F64(s)) => f.copy(s),
            (Kind::Str(f), ColumnRef::Str(s)) => f.copy(s),
            _ => Err(Error::InvalidArgument(
                "a column copied into one of another type".into(),
            )),
        }
    }

    /// `rows` default values of the type this column holds.
    pub(crate) fn blank(&self, rows: usize) -> OwnedColumn {
        match &self.0 {
            Kind::Time(_) => OwnedColumn::Time(vec![Timestamp::from_ns(0); rows]),
            Kind::OptTime(_) => OwnedColumn::OptTime(vec![None; rows]),
            Kind::F64(_) => OwnedColumn::F64(vec![0.0; rows]),
            Kind::Str(_) => OwnedColumn::Str(vec![SmolStr::default(); rows]),
        }
    }

    /// Checks that every one of the `total` rows was written.
    pub(crate) fn finish(&self) -> Result<()> {
        match &self.0 {
            Kind::Time(f) => f.finish(),
            Kind::OptTime(f) => f.finish(),
            Kind::F64(f) => f.finish(),
            Kind::Str(f) => f.finish(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fill_with(vec: &mut Vec<f64>, total: usize, pieces: &[&[f64]], by_copy: bool) -> Result<()> {
        let mut fill = ColumnFill::new(ColumnVec::F64(vec), total);
        for piece in pieces {
            if by_copy {
                fill.copy(ColumnRef::F64(piece))?;
            } else {
                fill.decode(piece.len(), |out| match out {
                    ColumnMut::F64(out) => {
                        out.copy_from_slice(piece);
                        Ok(())
                    }
                    _ => Err(Error::InvalidArgument("not floats".into())),
                })?;
            }
        }
        fill.finish()
    }

    #[test]
    fn fills_fresh_shorter_and_longer_vectors() {
        let pieces: [&[f64]; 3] = [&[1.0, 2.0], &[3.0, 4.0, 5.0], &[6.0]];
        let want = vec![1.0, 2.0, 3.0, 4.0, 5.0, 6.0];
        for by_copy in [false, true] {
            // Fresh, shorter (a piece straddles the old end, then appends), longer (truncated).
            for start in [vec![], vec![9.0; 3], vec![9.0; 4], vec![9.0; 10]] {
                let mut vec = start.clone();
                fill_with(&mut vec, 6, &pieces, by_copy).unwrap();
                assert_eq!(vec, want, "from {start:?}, copy {by_copy}");
            }
        }
    }

    #[test]
    fn fresh_vector_is_not_grown_more_than_once() {
        let mut vec = Vec::new();
        let pieces: Vec<Vec<f64>> = (0..10).map(|i| vec![f64::from(i); 100]).collect();
        let refs: Vec<&[f64]> = pieces.iter().map(Vec::as_slice).collect();
        fill_with(&mut vec, 1000, &refs, false).unwrap();
        assert_eq!(vec.capacity(), 1000);
        assert_eq!(vec.get(999), Some(&9.0));
    }

    #[test]
    fn too_many_or_too_few_rows_are_errors() {
        let mut vec = Vec::new();
        let err = fill_with(&mut vec, 2, &[&[1.0, 2.0, 3.0]], false).unwrap_err();
        assert!(
            err.to_string().contains("piece plan exceeds the output"),
            "{err}"
        );
        let err = fill_with(&mut vec, 4, &[&[1.0, 2.0, 3.0]], true).unwrap_err();
        assert!(err.to_string().contains("3 of 4 rows filled"), "{err}");
    }

    #[test]
    fn a_copy_of_another_type_is_an_error() {
        let mut vec = Vec::new();
        let mut fill = ColumnFill::new(ColumnVec::F64(&mut vec), 1);
        let times = [Timestamp::from_ns(1)];
        let err = fill.copy(ColumnRef::Time(&times)).unwrap_err();
        assert!(err.to_string().contains("another type"), "{err}");
        assert!(vec.is_empty());
    }
}
