//! Columnar batches: `BarColumns` and `TickColumns`, one `Vec` per field, and the `Columns`
//! trait that lets the write and read paths treat both kinds alike.

use std::ops::Range;

use smol_str::SmolStr;

use crate::codec::{ColumnMut, ColumnRef, ColumnType, ColumnVec, OwnedColumn};
use crate::error::{Error, Result};
use crate::model::{BarData, SeriesKey, SeriesKind, TickData, Timestamp};

/// A column's name and on-disk type, in the order the segment stores columns.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ColumnSpec {
    /// Field name (vn.py's).
    pub name: &'static str,
    /// Stored type.
    pub ty: ColumnType,
}

/// What the engine needs from a columnar batch of one kind.
pub trait Columns: Default + Clone + Send + Sync + std::fmt::Debug + 'static {
    /// The row type.
    type Row: Clone + Send + Sync;
    /// Bars or ticks.
    const KIND: SeriesKind;
    /// [`TILE_ROWS`] rows of every column in one struct, that loads build rows from.
    #[doc(hidden)]
    type Tile: RowTile<Row = Self::Row>;
    /// The stored columns, `datetime` first.
    fn schema() -> &'static [ColumnSpec];
    /// Number of rows.
    fn len(&self) -> usize;
    /// Whether there are no rows.
    fn is_empty(&self) -> bool {
        self.len() == 0
    }
    /// The time column.
    fn datetimes(&self) -> &[Timestamp];
    /// Borrowed columns in schema order.
    fn refs(&self) -> Vec<ColumnRef<'_>>;
    /// Mutable columns in schema order.
    fn muts(&mut self) -> Vec<ColumnMut<'_>>;
    /// The column vectors in schema order, to fill (a load writes the rows they hold in place
    /// and appends the rest, never zero-filling).
    fn vecs(&mut self) -> Vec<ColumnVec<'_>>;
    /// Resizes every column to `n` rows, filling with zeros.
    fn resize(&mut self, n: usize);
    /// An empty batch with room for `n` rows.
    fn with_capacity(n: usize) -> Self;
    /// Removes every row, keeping the allocations.
    fn clear(&mut self);
    /// Appends rows `range` of `other`.
    fn extend_from(&mut self, other: &Self, range: Range<usize>);
    /// Appends row `i` of `other`.
    fn push_from(&mut self, other: &Self, i: usize);
    /// Overwrites row `i` with row `j` of `other`.
    fn set_from(&mut self, i: usize, other: &Self, j: usize);
    /// Appends one row.
    fn push_row(&mut self, row: &Self::Row);
    /// Makes the columns hold `rows`, in order, as long as `check(rows, block)` holds for each
    /// block of rows (a range of at most 512 indices into `rows`), asked just before
    /// the block is copied, while it is in cache. Returns whether every block passed; if one
    /// failed, the columns hold rows of no use. The slots the columns already held are
    /// overwritten in place, and batches of 128 Ki rows or more are split across
    /// rayon's threads, each copying its own part of every column.
    #[doc(hidden)]
    fn set_rows_checked<F>(&mut self, rows: &[Self::Row], check: &F) -> bool
    where
        F: Fn(&[Self::Row], Range<usize>) -> bool + Sync;
    /// Row `i` as a record of series `key`.
    fn row(&self, i: usize, key: &SeriesKey) -> Self::Row;

    /// Rows `range` as records of series `key` (clipped to the rows held), with no bounds check
    /// a row: for building rows straight into their destination.
    fn rows_in<'s>(
        &'s self,
        range: Range<usize>,
        key: &'s SeriesKey,
    ) -> impl ExactSizeIterator<Item = Self::Row> + 's;

    /// Every row, of series `key`.
    fn to_rows(&self, key: &SeriesKey) -> Vec<Self::Row> {
        self.rows_in(0..self.len(), key).collect()
    }
    /// A row of `key` with every field zero (the value of a row slot that could not be filled).
    fn empty_row(key: &SeriesKey) -> Self::Row {
        let mut c = Self::default();
        c.resize(1);
        c.row(0, key)
    }
    /// Errors unless every column has the same length.
    fn check_lengths(&self) -> Result<()>;

    /// The columns in schema order, owning their buffers (no copy): for handing decoded data
    /// to another owner, such as numpy.
    fn into_owned(self) -> Vec<OwnedColumn>;

    /// Columns from owned buffers in schema order, checked for kind and length.
    fn from_owned(cols: Vec<OwnedColumn>) -> Result<Self>;
}

/// Zero-filled vectors that, for numeric types, come from the allocator already zeroed (calloc),
/// so no page is touched until a decoder writes it (in parallel, by column).
trait Zeroed: Sized {
    fn zeroed_vec(n: usize) -> Vec<Self>;
}

impl Zeroed for f64 {
    fn zeroed_vec(n: usize) -> Vec<f64> {
        vec![0.0; n]
    }
}

impl Zeroed for Timestamp {
    fn zeroed_vec(n: usize) -> Vec<Timestamp> {
        bytemuck::allocation::cast_vec(vec![0i64; n])
    }
}

impl Zeroed for Option<Timestamp> {
    fn zeroed_vec(n: usize) -> Vec<Option<Timestamp>> {
        vec![None; n]
    }
}

impl Zeroed for SmolStr {
    fn zeroed_vec(n: usize) -> Vec<SmolStr> {
        vec![SmolStr::default(); n]
    }
}

/// Rows [`Columns::set_rows_checked`] checks, then copies a column at a time: 512 rows of 328
/// bytes (ticks) take 164 KB, in L2 for every column's pass.
pub(crate) const ROWS_BLOCK: usize = 512;

/// The least rows [`Columns::set_rows_checked`] hands to one thread: 64 Ki rows (6 MB of bars,
/// 21 MB of ticks) take far longer to copy than handing them over.
pub(crate) const SET_ROWS_GRAIN: usize = 64 * 1024;

/// The rows a [`RowTile`] holds: 64 rows of 34 tick columns take 19 KB, which stays in the L1
/// cache beside the rows being built from it.
pub const TILE_ROWS: usize = 64;

/// [`TILE_ROWS`] rows of every column of one kind, in one struct, that a load builds its rows
/// from, a tile at a time. The struct is addressed from one base register, where building rows
/// straight from the columns keeps a pointer per column: with 34 tick columns those pointers
/// spill to the stack, and the row loop reads 34 streams at once, more than the hardware
/// prefetchers follow. Copying each column's next rows into the tile is a short sequential
/// copy per column instead. Measured on 28,800 ticks built from cached columns (a loop program,
/// best of five rounds, three runs): 34.3-35.9 ns a row built straight from the columns,
/// 18.2-23.6 through a tile.
#[doc(hidden)]
pub trait RowTile: Send {
    /// The row type.
    type Row;
    /// Whether rows are built through a tile: worth it for many columns (ticks), not for few
    /// (bars), whose column pointers stay in registers, so that the tile's copy only adds work
    /// (a year of 60,000 cached bars: 236-241 M rows/s through tiles, 295-301 without).
    const THROUGH_TILES: bool;
    /// This kind's columns, borrowed and typed.
    type Source<'a>;
    /// A tile of default values.
    fn boxed() -> Box<Self>;
    /// `cols` typed, when they are this kind's columns in schema order, each holding `rows`
    /// rows or more.
    fn source<'a>(cols: &[ColumnRef<'a>], rows: usize) -> Option<Self::Source<'a>>;
    /// Copies rows `range` of `src` into the tile, clipped to [`TILE_ROWS`] rows and to the
    /// shortest column; returns the rows copied.
    fn fill(&mut self, src: &Self::Source<'_>, range: Range<usize>) -> usize;
    /// Rows `range` of `src` (clipped to the rows held), built straight from the columns,
    /// without a tile.
    fn zip<'s>(
        src: &Self::Source<'s>,
        range: Range<usize>,
        key: &'s SeriesKey,
    ) -> impl ExactSizeIterator<Item = Self::Row> + 's;
    /// The first `n` rows held (at most [`TILE_ROWS`]), as records of series `key`.
    fn rows<'s>(
        &'s self,
        n: usize,
        key: &'s SeriesKey,
    ) -> impl ExactSizeIterator<Item = Self::Row> + 's;
}

/// `a.iter().zip(b.iter()).zip(c.iter())...` over the slices named.
macro_rules! zip_iter {
    ($first:ident $(, $rest:ident)*) => {
        $first.iter()$(.zip($rest.iter()))*
    };
}

/// The pattern `((a, b), c)...` of the items of [`zip_iter!`] over the same names.
macro_rules! zip_pat {
    (@nest [$acc:pat]) => { $acc };
    (@nest [$acc:pat] $next:ident $(, $rest:ident)*) => {
        zip_pat!(@nest [($acc, $next)] $($rest),*)
    };
    ($first:ident $(, $rest:ident)*) => { zip_pat!(@nest [$first] $($rest),*) };
}

macro_rules! columns {
    (
        $(#[$meta:meta])*
        $name:ident, $row:ident, $kind:expr, $tile:ident, through_tiles: $through_tiles:expr,
        |$key:ident| { $($extra:ident: $extra_val:expr),* },
        [$($(#[$fmeta:meta])* $field:ident: $ty:ty => $variant:ident),* $(,)?]
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Default, PartialEq)]
        pub struct $name {
            $($(#[$fmeta])* pub $field: Vec<$ty>,)*
        }

        /// [`TILE_ROWS`] rows of every column (see [`RowTile`]).
        #[doc(hidden)]
        #[derive(Debug)]
        pub struct $tile {
            $($field: [$ty; TILE_ROWS],)*
        }

        impl RowTile for $tile {
            type Row = $row;
            const THROUGH_TILES: bool = $through_tiles;
            type Source<'a> = ($(&'a [$ty],)*);

            fn boxed() -> Box<Self> {
                Box::new($tile { $($field: std::array::from_fn(|_| Default::default()),)* })
            }

            fn source<'a>(cols: &[ColumnRef<'a>], rows: usize) -> Option<Self::Source<'a>> {
                let mut cols = cols.iter();
                $(
                    let $field = match cols.next() {
                        Some(ColumnRef::$variant(v)) if v.len() >= rows => *v,
                        _ => return None,
                    };
                )*
                cols.next().is_none().then_some(($($field,)*))
            }

            #[inline]
            fn zip<'s>(
                src: &Self::Source<'s>,
                range: Range<usize>,
                key: &'s SeriesKey,
            ) -> impl ExactSizeIterator<Item = $row> + 's {
                $name::zip_rows(*src, range, key)
            }

            fn fill(&mut self, ($($field,)*): &Self::Source<'_>, range: Range<usize>) -> usize {
                let held = usize::MAX$(.min($field.len()))*;
                let end = range.end.min(held).min(range.start.saturating_add(TILE_ROWS));
                let start = range.start.min(end);
                let n = end - start;
                $(self.$field[..n].clone_from_slice(&$field[start..end]);)*
                n
            }

            #[inline]
            fn rows<'s>(
                &'s self,
                n: usize,
                $key: &'s SeriesKey,
            ) -> impl ExactSizeIterator<Item = $row> + 's {
                (0..n.min(TILE_ROWS)).map(move |i| $row {
                    $($extra: $extra_val,)*
                    $($field: self.$field[i].clone(),)*
                })
            }
        }

        impl $name {
            /// Rows `range` of the columns `cols` (clipped to the shortest), as records of
            /// series `key`. The columns are zipped, not indexed: indexing kept a bounds check
            /// per column and row in the loop that builds a load's rows, whatever was known of
            /// the slices' lengths.
            #[inline]
            fn zip_rows<'s>(
                ($($field,)*): ($(&'s [$ty],)*),
                range: Range<usize>,
                $key: &'s SeriesKey,
            ) -> impl ExactSizeIterator<Item = $row> + 's {
                let held = usize::MAX$(.min($field.len()))*;
                let end = range.end.min(held);
                let start = range.start.min(end);
                $(let $field = &$field[start..end];)*
                zip_iter!($($field),*).map(move |zip_pat!($($field),*)| $row {
                    $($extra: $extra_val,)*
                    $($field: $field.clone(),)*
                })
            }
        }

        impl Columns for $name {
            type Row = $row;
            const KIND: SeriesKind = $kind;
            type Tile = $tile;

            fn schema() -> &'static [ColumnSpec] {
                &[$(ColumnSpec { name: stringify!($field), ty: columns!(@ty $variant) }),*]
            }

            fn len(&self) -> usize {
                self.datetime.len()
            }

            fn datetimes(&self) -> &[Timestamp] {
                &self.datetime
            }

            fn refs(&self) -> Vec<ColumnRef<'_>> {
                vec![$(ColumnRef::$variant(&self.$field)),*]
            }

            fn muts(&mut self) -> Vec<ColumnMut<'_>> {
                vec![$(ColumnMut::$variant(&mut self.$field)),*]
            }

            fn vecs(&mut self) -> Vec<ColumnVec<'_>> {
                vec![$(ColumnVec::$variant(&mut self.$field)),*]
            }

            fn resize(&mut self, n: usize) {
                $(
                    if self.$field.is_empty() {
                        self.$field = Zeroed::zeroed_vec(n);
                    } else {
                        self.$field.resize(n, Default::default());
                    }
                )*
            }

            fn with_capacity(n: usize) -> Self {
                $name { $($field: Vec::with_capacity(n),)* }
            }

            fn clear(&mut self) {
                $(self.$field.clear();)*
            }

            fn extend_from(&mut self, other: &Self, range: Range<usize>) {
                $(self.$field.extend_from_slice(&other.$field[range.clone()]);)*
            }

            fn push_from(&mut self, other: &Self, i: usize) {
                $(self.$field.push(other.$field[i].clone());)*
            }

            fn set_from(&mut self, i: usize, other: &Self, j: usize) {
                $(self.$field[i] = other.$field[j].clone();)*
            }

            fn push_row(&mut self, row: &$row) {
                $(self.$field.push(row.$field.clone());)*
            }

            fn set_rows_checked<F>(&mut self, rows: &[$row], check: &F) -> bool
            where
                F: Fn(&[$row], Range<usize>) -> bool + Sync,
            {
                /// Copies rows `at..at + n` of `rows` into the column slices (each `n`
                /// long), halving the work onto two threads while it is large.
                fn fill<F>(
                    ($($field,)*): ($(&mut [$ty],)*),
                    rows: &[$row],
                    at: usize,
                    check: &F,
                ) -> bool
                where
                    F: Fn(&[$row], Range<usize>) -> bool + Sync,
                {
                    let n = usize::MAX$(.min($field.len()))*;
                    if n >= 2 * SET_ROWS_GRAIN {
                        let mid = n / 2;
                        $(let $field = $field.split_at_mut(mid);)*
                        let (lo, hi) = rayon::join(
                            || fill(($($field.0,)*), rows, at, check),
                            || fill(($($field.1,)*), rows, at + mid, check),
                        );
                        return lo && hi;
                    }
                    let mut start = 0;
                    while start < n {
                        let end = (start + ROWS_BLOCK).min(n);
                        let global = at + start..at + end;
                        let Some(block) = rows.get(global.clone()) else {
                            return false;
                        };
                        if !check(rows, global) {
                            return false;
                        }
                        $(
                            $field[start..end]
                                .iter_mut()
                                .zip(block)
                                .for_each(|(d, r)| *d = r.$field.clone());
                        )*
                        start = end;
                    }
                    true
                }
                let n = rows.len();
                $(
                    self.$field.truncate(n);
                    self.$field.resize(n, Default::default());
                )*
                fill(($(self.$field.as_mut_slice(),)*), rows, 0, check)
            }

            #[inline]
            fn rows_in<'s>(
                &'s self,
                range: Range<usize>,
                key: &'s SeriesKey,
            ) -> impl ExactSizeIterator<Item = $row> + 's {
                $name::zip_rows(($(self.$field.as_slice(),)*), range, key)
            }

            // Inlined into the generic loops that build rows (in other crates too), so that
            // a row is written straight into its slot instead of returned through the stack.
            #[inline]
            fn row(&self, i: usize, $key: &SeriesKey) -> $row {
                $row {
                    $($extra: $extra_val,)*
                    $($field: self.$field[i].clone(),)*
                }
            }

            fn into_owned(self) -> Vec<OwnedColumn> {
                vec![$(OwnedColumn::$variant(self.$field)),*]
            }

            fn from_owned(cols: Vec<OwnedColumn>) -> Result<Self> {
                let mut it = cols.into_iter();
                let out = $name {
                    $($field: match it.next() {
                        Some(OwnedColumn::$variant(v)) => v,
                        _ => {
                            return Err(Error::InvalidArgument(format!(
                                "column {} is missing or of the wrong type",
                                stringify!($field)
                            )))
                        }
                    },)*
                };
                if it.next().is_some() {
                    return Err(Error::InvalidArgument("more columns than the schema has".into()));
                }
                out.check_lengths()?;
                Ok(out)
            }

            fn check_lengths(&self) -> Result<()> {
                let n = self.datetime.len();
                $(
                    if self.$field.len() != n {
                        return Err(Error::InvalidArgument(format!(
                            "column {} has {} rows but datetime has {}",
                            stringify!($field), self.$field.len(), n
                        )));
                    }
                )*
                Ok(())
            }
        }
    };
    (@ty Time) => { ColumnType::I64 };
    (@ty OptTime) => { ColumnType::I64 };
    (@ty F64) => { ColumnType::F64 };
    (@ty Str) => { ColumnType::Str };
}

columns! {
    /// Bars of one series, one `Vec` per field (all the same length).
    BarColumns, BarData, SeriesKind::Bar, BarTile, through_tiles: false,
    |key| { symbol: key.symbol().clone(), exchange: key.exchange(), interval: key.interval() },
    [
        /// Bar times, ascending when loaded.
        datetime: Timestamp => Time,
        /// Open prices.
        open_price: f64 => F64,
        /// High prices.
        high_price: f64 => F64,
        /// Low prices.
        low_price: f64 => F64,
        /// Close prices.
        close_price: f64 => F64,
        /// Volumes.
        volume: f64 => F64,
        /// Turnovers.
        turnover: f64 => F64,
        /// Open interests.
        open_interest: f64 => F64,
    ]
}

columns! {
    /// Ticks of one series, one `Vec` per field (all the same length).
    TickColumns, TickData, SeriesKind::Tick, TickTile, through_tiles: true,
    |key| { symbol: key.symbol().clone(), exchange: key.exchange() },
    [
        /// Tick times, ascending when loaded.
        datetime: Timestamp => Time,
        /// Local receive times.
        localtime: Option<Timestamp> => OptTime,
        /// Instrument names.
        name: SmolStr => Str,
        /// Cumulative volumes.
        volume: f64 => F64,
        /// Cumulative turnovers.
        turnover: f64 => F64,
        /// Open interests.
        open_interest: f64 => F64,
        /// Last prices.
        last_price: f64 => F64,
        /// Last volumes.
        last_volume: f64 => F64,
        /// Upper limits.
        limit_up: f64 => F64,
        /// Lower limits.
        limit_down: f64 => F64,
        /// Session opens.
        open_price: f64 => F64,
        /// Session highs.
        high_price: f64 => F64,
        /// Session lows.
        low_price: f64 => F64,
        /// Previous closes.
        pre_close: f64 => F64,
        /// Bid price 1.
        bid_price_1: f64 => F64,
        /// Bid price 2.
        bid_price_2: f64 => F64,
        /// Bid price 3.
        bid_price_3: f64 => F64,
        /// Bid price 4.
        bid_price_4: f64 => F64,
        /// Bid price 5.
        bid_price_5: f64 => F64,
        /// Ask price 1.
        ask_price_1: f64 => F64,
        /// Ask price 2.
        ask_price_2: f64 => F64,
        /// Ask price 3.
        ask_price_3: f64 => F64,
        /// Ask price 4.
        ask_price_4: f64 => F64,
        /// Ask price 5.
        ask_price_5: f64 => F64,
        /// Bid volume 1.
        bid_volume_1: f64 => F64,
        /// Bid volume 2.
        bid_volume_2: f64 => F64,
        /// Bid volume 3.
        bid_volume_3: f64 => F64,
        /// Bid volume 4.
        bid_volume_4: f64 => F64,
        /// Bid volume 5.
        bid_volume_5: f64 => F64,
        /// Ask volume 1.
        ask_volume_1: f64 => F64,
        /// Ask volume 2.
        ask_volume_2: f64 => F64,
        /// Ask volume 3.
        ask_volume_3: f64 => F64,
        /// Ask volume 4.
        ask_volume_4: f64 => F64,
        /// Ask volume 5.
        ask_volume_5: f64 => F64,
    ]
}

impl TickColumns {
    /// The five bid price columns then the five ask price columns, level 1 first.
    pub fn price_levels_mut(&mut self) -> [&mut Vec<f64>; 10] {
        [
            &mut self.bid_price_1,
            &mut self.bid_price_2,
            &mut self.bid_price_3,
            &mut self.bid_price_4,
            &mut self.bid_price_5,
            &mut self.ask_price_1,
            &mut self.ask_price_2,
            &mut self.ask_price_3,
            &mut self.ask_price_4,
            &mut self.ask_price_5,
        ]
    }

    /// The five bid volume columns then the five ask volume columns, level 1 first.
    pub fn volume_levels_mut(&mut self) -> [&mut Vec<f64>; 10] {
        [
            &mut self.bid_volume_1,
            &mut self.bid_volume_2,
            &mut self.bid_volume_3,
            &mut self.bid_volume_4,
            &mut self.bid_volume_5,
            &mut self.ask_volume_1,
            &mut self.ask_volume_2,
            &mut self.ask_volume_3,
            &mut self.ask_volume_4,
            &mut self.ask_volume_5,
        ]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Exchange, Interval};

    #[test]
    fn owned_columns_round_trip_and_are_checked() {
        let key = SeriesKey::tick("IF", Exchange::CFFEX).unwrap();
        let mut t = TickData::new("IF", Exchange::CFFEX, Timestamp::from_secs(5));
        t.name = "沪深".into();
        t.ask_volume_5 = 7.0;
        t.localtime = Some(Timestamp::from_secs(6));
        let mut cols = TickColumns::default();
        cols.push_row(&t);
        let owned = cols.clone().into_owned();
        assert_eq!(owned.len(), TickColumns::schema().len());
        assert_eq!(owned[0], OwnedColumn::Time(vec![Timestamp::from_secs(5)]));
        let back = TickColumns::from_owned(owned.clone()).unwrap();
        assert_eq!(back.row(0, &key).ask_volume_5, 7.0);
        assert_eq!(back, cols);
        // A column of the wrong type, a missing one, or one of the wrong length is refused.
        let mut wrong = owned.clone();
        wrong[1] = OwnedColumn::F64(vec![1.0]);
        assert!(TickColumns::from_owned(wrong)
            .unwrap_err()
            .to_string()
            .contains("column localtime"));
        assert!(TickColumns::from_owned(owned[..3].to_vec()).is_err());
        let mut short = owned;
        short[3] = OwnedColumn::F64(vec![]);
        assert!(TickColumns::from_owned(short)
            .unwrap_err()
            .to_string()
            .contains("column volume has 0 rows but datetime has 1"));
    }

    #[test]
    fn rows_round_trip_through_columns() {
        let key = SeriesKey::tick("rb2610", Exchange::SHFE).unwrap();
        let mut t = TickData::new("rb2610", Exchange::SHFE, Timestamp::from_secs(5));
        t.name = "螺纹钢".into();
        t.ask_volume_5 = 7.0;
        t.localtime = Some(Timestamp::from_secs(6));
        let mut cols = TickColumns::default();
        cols.push_row(&t);
        assert_eq!(cols.row(0, &key), t);
        assert_eq!(TickColumns::schema().len(), 34);
        assert_eq!(BarColumns::schema()[0].name, "datetime");
        cols.ask_volume_5.pop();
        assert!(matches!(
            cols.check_lengths(),
            Err(Error::InvalidArgument(_))
        ));
    }

    #[test]
    fn rows_in_matches_row_and_clips_to_the_rows_held() {
        let key = SeriesKey::tick("rb2610", Exchange::SHFE).unwrap();
        let mut cols = TickColumns::default();
        for i in 0..6 {
            let mut t = TickData::new("rb2610", Exchange::SHFE, Timestamp::from_secs(i));
            t.name = format!("n{i}").into();
            t.bid_price_5 = i as f64 + 0.5;
            t.localtime = (i % 2 == 0).then(|| Timestamp::from_secs(i + 100));
            cols.push_row(&t);
        }
        let expect: Vec<TickData> = (2..5).map(|i| cols.row(i, &key)).collect();
        let got: Vec<TickData> = cols.rows_in(2..5, &key).collect();
        assert_eq!(got, expect);
        assert_eq!(got[1].name, "n3");
        assert_eq!(got[2].localtime, Some(Timestamp::from_secs(104)));
        assert_eq!(cols.rows_in(4..100, &key).len(), 2);
        assert_eq!(cols.rows_in(9..12, &key).len(), 0);
        assert_eq!(cols.rows_in(2..5, &key).len(), 3);
        assert_eq!(cols.to_rows(&key).len(), 6);
        // Columns of unequal length (never built by the engine): the shortest bounds the rows.
        cols.bid_price_5.truncate(3);
        let clipped: Vec<TickData> = cols.rows_in(1..6, &key).collect();
        assert_eq!(clipped.len(), 2);
        assert_eq!(clipped[1].bid_price_5, 2.5);
        assert_eq!(clipped[1].datetime, Timestamp::from_secs(2));
    }

    /// Tick `i` of rb2610: second `i`, named `n{i}`, ask price 4 `i / 4`, ask volume 5 `2i`, a
    /// local time `i + 1000` s for every third.
    fn numbered_tick(i: i64) -> TickData {
        let mut t = TickData::new("rb2610", Exchange::SHFE, Timestamp::from_secs(i));
        t.name = format!("n{i}").into();
        t.ask_price_4 = i as f64 / 4.0;
        t.ask_volume_5 = i as f64 * 2.0;
        t.localtime = (i % 3 == 0).then(|| Timestamp::from_secs(i + 1000));
        t
    }

    #[test]
    fn set_rows_holds_what_push_row_gives_over_any_columns_held_before() {
        let key = SeriesKey::tick("rb2610", Exchange::SHFE).unwrap();
        let all: Vec<TickData> = (0..1_300).map(numbered_tick).collect();
        let mut pushed = TickColumns::default();
        all[..1_000].iter().for_each(|r| pushed.push_row(r));
        let yes = |_: &[TickData], _: Range<usize>| true;
        // Columns that held more rows, fewer rows, and none.
        for before in [1_300, 10, 0] {
            let mut cols = TickColumns::default();
            all[..before].iter().rev().for_each(|r| cols.push_row(r));
            assert!(cols.set_rows_checked(&all[..1_000], &yes));
            assert_eq!(cols, pushed, "{before} rows held before");
            assert_eq!(cols.ask_price_4[999], 249.75);
            assert_eq!(cols.name[600], "n600");
            assert_eq!(cols.localtime[999], Some(Timestamp::from_secs(1999)));
            assert_eq!(cols.to_rows(&key), all[..1_000]);
        }
        let mut cols = pushed.clone();
        assert!(cols.set_rows_checked(&[], &yes));
        assert!(cols.is_empty());
    }

    #[test]
    fn set_rows_asks_of_every_block_once_on_threads_and_stops_at_a_refusal() {
        // Enough rows to be split in four parts, of 65,545 and 65,546 rows.
        let n = 4 * SET_ROWS_GRAIN + 37;
        let rows: Vec<BarData> = (0..n as i64)
            .map(|i| {
                let mut b = BarData::new(
                    "IF",
                    Exchange::CFFEX,
                    Interval::Minute,
                    Timestamp::from_secs(i),
                );
                b.close_price = i as f64;
                b
            })
            .collect();
        let asked = parking_lot::Mutex::new(Vec::new());
        let record = |_: &[BarData], r: Range<usize>| {
            asked.lock().push(r);
            true
        };
        let mut cols = BarColumns::default();
        assert!(cols.set_rows_checked(&rows, &record));
        assert_eq!(cols.len(), n);
        assert_eq!(cols.close_price[n - 1], (n - 1) as f64);
        assert_eq!(
            cols.datetime[SET_ROWS_GRAIN],
            Timestamp::from_secs(SET_ROWS_GRAIN as i64)
        );
        assert!(cols
            .close_price
            .iter()
            .enumerate()
            .all(|(i, &c)| c == i as f64));
        let mut asked = asked.into_inner();
        asked.sort_by_key(|r| r.start);
        assert!(asked.iter().all(|r| !r.is_empty() && r.len() <= ROWS_BLOCK));
        assert_eq!(asked.first().map(|r| r.start), Some(0));
        assert!(
            asked.windows(2).all(|w| w[0].end == w[1].start),
            "each row once"
        );
        assert_eq!(asked.last().map(|r| r.end), Some(n));
        // A refusal in the last part, past the rows of the other threads: false.
        let late = 3 * SET_ROWS_GRAIN + 100;
        let refuse = |_: &[BarData], r: Range<usize>| !r.contains(&late);
        assert!(!cols.set_rows_checked(&rows, &refuse));
    }

    #[test]
    fn tiles_build_the_rows_of_the_columns_and_refuse_columns_that_do_not_fit() {
        let key = SeriesKey::tick("rb2610", Exchange::SHFE).unwrap();
        let mut cols = TickColumns::default();
        (0..150).for_each(|i| cols.push_row(&numbered_tick(i)));
        let refs = cols.refs();
        let src = TickTile::source(&refs, 150).expect("the columns hold 150 rows");
        let mut tile = TickTile::boxed();
        // From row 5 to 149, a tile at a time: 64, 64, then 17.
        let mut got = Vec::new();
        let mut sizes = Vec::new();
        let mut s = 5;
        while s < 150 {
            let n = tile.fill(&src, s..150);
            sizes.push(n);
            got.extend(tile.rows(n, &key));
            s += n;
        }
        assert_eq!(sizes, [64, 64, 17]);
        assert_eq!(got, cols.rows_in(5..150, &key).collect::<Vec<_>>());
        assert_eq!(got[100].name, "n105");
        assert_eq!(got[100].ask_volume_5, 210.0);
        assert_eq!(got[1].localtime, Some(Timestamp::from_secs(1006)));
        assert_eq!(got[0].localtime, None);
        // A range past the rows held is clipped; rows past what a tile holds are not given.
        assert_eq!(tile.fill(&src, 140..400), 10);
        assert_eq!(tile.rows(500, &key).len(), TILE_ROWS);
        // Columns too short, missing, of another kind or of the wrong type do not fit.
        assert!(TickTile::source(&refs, 151).is_none());
        assert!(TickTile::source(&refs[..refs.len() - 1], 10).is_none());
        let bars = BarColumns::default();
        assert!(TickTile::source(&bars.refs(), 0).is_none());
        let mut swapped = refs.clone();
        swapped.swap(1, 2);
        assert!(TickTile::source(&swapped, 0).is_none());
    }
}
