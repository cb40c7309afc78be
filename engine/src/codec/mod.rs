//! Column codecs: a numeric or dictionary transform (the codec), then general compression.
//!
//! Codec and compression ids are the bytes written in segment footers (FORMAT.md, "Codecs");
//! both enums list every value in `ALL` so tests loop over them.

mod bitpack;
pub(crate) mod cursor;
mod fill;
mod float;
mod int;
mod patch;
mod strings;

use smol_str::SmolStr;

pub(crate) use fill::ColumnFill;

use crate::error::{Error, Result};
use crate::model::Timestamp;

/// A column transform, as stored in a chunk reference.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum Codec {
    /// Little-endian 8-byte values.
    Raw = 0,
    /// Integers: difference order, frame of reference, bit packing.
    IntPack = 1,
    /// Floats: 8 byte planes of the IEEE bits.
    Shuffle = 2,
    /// Floats on a decimal grid: exponent, then IntPack of the scaled integers.
    Decimal = 3,
    /// Strings: dictionary, then IntPack of indices.
    Dict = 4,
    /// Integers as IntPack packs them, in units of a step, with the few residuals too wide for
    /// the width stored whole after the rest (times with gaps).
    IntPatch = 5,
}

impl Codec {
    /// Every codec.
    pub const ALL: [Codec; 6] = [
        Codec::Raw,
        Codec::IntPack,
        Codec::Shuffle,
        Codec::Decimal,
        Codec::Dict,
        Codec::IntPatch,
    ];
}

impl TryFrom<u8> for Codec {
    type Error = u8;
    fn try_from(v: u8) -> std::result::Result<Self, u8> {
        Codec::ALL.into_iter().find(|c| *c as u8 == v).ok_or(v)
    }
}

thread_local! {
    // zstd contexts are costly to create (allocation and tables): one per thread, reused.
    static ZSTD_C: std::cell::RefCell<Option<(i32, zstd::bulk::Compressor<'static>)>> = const { std::cell::RefCell::new(None) };
    static ZSTD_D: std::cell::RefCell<Option<zstd::bulk::Decompressor<'static>>> = const { std::cell::RefCell::new(None) };
}

/// General-purpose compression applied after the codec.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compression {
    /// Stored as is.
    None,
    /// LZ4 block format.
    Lz4,
    /// Zstandard at the given level (1 to 22).
    Zstd(i32),
}

impl Compression {
    /// Every compression id, zstd at its default level.
    pub const ALL: [Compression; 3] = [Compression::None, Compression::Lz4, Compression::Zstd(3)];

    /// The id written on disk.
    pub fn id(self) -> u8 {
        match self {
            Compression::None => 0,
            Compression::Lz4 => 1,
            Compression::Zstd(_) => 2,
        }
    }

    /// The compression for an id read from disk (the zstd level does not matter to decode).
    pub fn from_id(id: u8) -> Option<Self> {
        match id {
            0 => Some(Compression::None),
            1 => Some(Compression::Lz4),
            2 => Some(Compression::Zstd(3)),
            _ => None,
        }
    }

    /// Compresses `raw`; returns `None` when the result would not be smaller.
    pub fn compress(self, raw: &[u8]) -> Result<Option<Vec<u8>>> {
        let out = match self {
            Compression::None => return Ok(None),
            Compression::Lz4 => lz4_flex::block::compress(raw),
            Compression::Zstd(level) => ZSTD_C
                .with(|cell| {
                    let mut slot = cell.borrow_mut();
                    if slot.as_ref().is_none_or(|(l, _)| *l != level) {
                        *slot = Some((level, zstd::bulk::Compressor::new(level)?));
                    }
                    match slot.as_mut() {
                        Some((_, c)) => c.compress(raw),
                        None => Err(std::io::Error::other("no zstd context")),
                    }
                })
                .map_err(|e| Error::InvalidArgument(format!("zstd compression failed: {e}")))?,
        };
        Ok((out.len() < raw.len()).then_some(out))
    }

    /// Decompresses `stored` into exactly `raw_len` bytes; `None` on any mismatch.
    pub fn decompress(self, stored: &[u8], raw_len: usize) -> Option<Vec<u8>> {
        let out = match self {
            Compression::None => stored.to_vec(),
            Compression::Lz4 => lz4_flex::block::decompress(stored, raw_len).ok()?,
            Compression::Zstd(_) => ZSTD_D.with(|cell| {
                let mut slot = cell.borrow_mut();
                if slot.is_none() {
                    *slot = Some(zstd::bulk::Decompressor::new().ok()?);
                }
                slot.as_mut()?.decompress(stored, raw_len).ok()
            })?,
        };
        (out.len() == raw_len).then_some(out)
    }
}

/// The value type of a column.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum ColumnType {
    /// 64-bit signed integers (times).
    I64 = 1,
    /// 64-bit IEEE floats.
    F64 = 2,
    /// UTF-8 strings.
    Str = 3,
}

impl ColumnType {
    /// The type for a byte read from disk.
    pub fn from_id(id: u8) -> Option<Self> {
        [ColumnType::I64, ColumnType::F64, ColumnType::Str]
            .into_iter()
            .find(|t| *t as u8 == id)
    }
}

/// One column taken out of a batch, owning its values (see `Columns::into_owned`).
#[derive(Debug, Clone, PartialEq)]
pub enum OwnedColumn {
    /// Times.
    Time(Vec<Timestamp>),
    /// Optional times.
    OptTime(Vec<Option<Timestamp>>),
    /// Floats.
    F64(Vec<f64>),
    /// Strings.
    Str(Vec<SmolStr>),
}

impl OwnedColumn {
    /// The column, borrowed.
    pub fn column_ref(&self) -> ColumnRef<'_> {
        match self {
            OwnedColumn::Time(v) => ColumnRef::Time(v),
            OwnedColumn::OptTime(v) => ColumnRef::OptTime(v),
            OwnedColumn::F64(v) => ColumnRef::F64(v),
            OwnedColumn::Str(v) => ColumnRef::Str(v),
        }
    }

    /// The column's slots, to decode into.
    pub fn column_mut(&mut self) -> ColumnMut<'_> {
        match self {
            OwnedColumn::Time(v) => ColumnMut::Time(v),
            OwnedColumn::OptTime(v) => ColumnMut::OptTime(v),
            OwnedColumn::F64(v) => ColumnMut::F64(v),
            OwnedColumn::Str(v) => ColumnMut::Str(v),
        }
    }
}

/// A borrowed column to encode.
#[derive(Debug, Clone, Copy)]
pub enum ColumnRef<'a> {
    /// Times (stored as `I64`).
    Time(&'a [Timestamp]),
    /// Optional times (stored as `I64`, `i64::MIN` for none).
    OptTime(&'a [Option<Timestamp>]),
    /// Floats.
    F64(&'a [f64]),
    /// Strings.
    Str(&'a [SmolStr]),
}

impl<'a> ColumnRef<'a> {
    /// Rows `range` of this column.
    pub fn slice(self, range: std::ops::Range<usize>) -> Option<ColumnRef<'a>> {
        Some(match self {
            ColumnRef::Time(v) => ColumnRef::Time(v.get(range)?),
            ColumnRef::OptTime(v) => ColumnRef::OptTime(v.get(range)?),
            ColumnRef::F64(v) => ColumnRef::F64(v.get(range)?),
            ColumnRef::Str(v) => ColumnRef::Str(v.get(range)?),
        })
    }

    /// Number of rows.
    pub fn len(self) -> usize {
        match self {
            ColumnRef::Time(v) => v.len(),
            ColumnRef::OptTime(v) => v.len(),
            ColumnRef::F64(v) => v.len(),
            ColumnRef::Str(v) => v.len(),
        }
    }

    /// Whether the column has no rows.
    pub fn is_empty(self) -> bool {
        self.len() == 0
    }

    /// The type stored on disk.
    pub fn column_type(self) -> ColumnType {
        match self {
            ColumnRef::Time(_) | ColumnRef::OptTime(_) => ColumnType::I64,
            ColumnRef::F64(_) => ColumnType::F64,
            ColumnRef::Str(_) => ColumnType::Str,
        }
    }
}

/// A column vector to fill, as [`crate::Columns::vecs`] gives them: a load writes the rows it
/// already has in place and appends the rest.
#[derive(Debug)]
pub enum ColumnVec<'a> {
    /// Times.
    Time(&'a mut Vec<Timestamp>),
    /// Optional times.
    OptTime(&'a mut Vec<Option<Timestamp>>),
    /// Floats.
    F64(&'a mut Vec<f64>),
    /// Strings.
    Str(&'a mut Vec<SmolStr>),
}

/// A column slice to decode into.
#[derive(Debug)]
pub enum ColumnMut<'a> {
    /// Times.
    Time(&'a mut [Timestamp]),
    /// Optional times.
    OptTime(&'a mut [Option<Timestamp>]),
    /// Floats.
    F64(&'a mut [f64]),
    /// Strings.
    Str(&'a mut [SmolStr]),
}

impl ColumnMut<'_> {
    /// Number of slots.
    pub fn len(&self) -> usize {
        match self {
            ColumnMut::Time(s) => s.len(),
            ColumnMut::OptTime(s) => s.len(),
            ColumnMut::F64(s) => s.len(),
            ColumnMut::Str(s) => s.len(),
        }
    }

    /// Whether there are no slots.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Splits off the first `n` slots, leaving the rest in `self`.
    pub fn split_off_front(&mut self, n: usize) -> Option<Self> {
        if n > self.len() {
            return None;
        }
        Some(match self {
            ColumnMut::Time(s) => {
                let (a, b) = std::mem::take(s).split_at_mut(n);
                *s = b;
                ColumnMut::Time(a)
            }
            ColumnMut::OptTime(s) => {
                let (a, b) = std::mem::take(s).split_at_mut(n);
                *s = b;
                ColumnMut::OptTime(a)
            }
            ColumnMut::F64(s) => {
                let (a, b) = std::mem::take(s).split_at_mut(n);
                *s = b;
                ColumnMut::F64(a)
            }
            ColumnMut::Str(s) => {
                let (a, b) = std::mem::take(s).split_at_mut(n);
                *s = b;
                ColumnMut::Str(a)
            }
        })
    }

    /// Decodes into a scratch column of `rows` slots and copies rows `keep` of it into `self`
    /// (whose length must be `keep.len()`).
    pub fn decode_partial(
        &mut self,
        codec: Codec,
        payload: &[u8],
        rows: usize,
        keep: std::ops::Range<usize>,
    ) -> Option<()> {
        fn part<T: Clone>(
            out: &mut [T],
            fill: T,
            rows: usize,
            keep: std::ops::Range<usize>,
            dec: impl FnOnce(&mut [T]) -> Option<()>,
        ) -> Option<()> {
            let mut tmp = vec![fill; rows];
            dec(&mut tmp)?;
            let src = tmp.get(keep)?;
            if src.len() != out.len() {
                return None;
            }
            out.clone_from_slice(src);
            Some(())
        }
        // The codecs that can decode only the kept values: integers (from sums over the
        // residuals before the range), byte planes, raw.
        match (codec, &mut *self) {
            (Codec::IntPack, ColumnMut::Time(o)) => {
                return int::decode_range(payload, rows, keep, bytemuck::cast_slice_mut(o));
            }
            (Codec::IntPatch, ColumnMut::Time(o)) => {
                return patch::decode_range(payload, rows, keep, bytemuck::cast_slice_mut(o));
            }
            (Codec::IntPack, ColumnMut::OptTime(o)) => {
                if o.len() != keep.len() {
                    return None;
                }
                let mut ints = vec![0i64; keep.len()];
                int::decode_range(payload, rows, keep, &mut ints)?;
                optional_times(&ints, o);
                return Some(());
            }
            (Codec::Decimal, ColumnMut::F64(o)) => {
                return float::decode_decimal_range(payload, rows, keep, o);
            }
            (Codec::Shuffle, ColumnMut::F64(o)) => {
                return float::decode_shuffle_range(
                    payload,
                    rows,
                    keep,
                    bytemuck::cast_slice_mut(o),
                );
            }
            (Codec::Raw, ColumnMut::F64(o)) => {
                if payload.len() != rows * 8 {
                    return None;
                }
                let src = payload.get(keep.start * 8..keep.end * 8)?;
                if src.len() != o.len() * 8 {
                    return None;
                }
                for (slot, b) in o.iter_mut().zip(src.chunks_exact(8)) {
                    *slot = f64::from_bits(u64::from_le_bytes(b.try_into().ok()?));
                }
                return Some(());
            }
            _ => {}
        }
        match self {
            ColumnMut::Time(o) => part(o, Timestamp::from_ns(0), rows, keep, |t| {
                decode(codec, payload, ColumnMut::Time(t))
            }),
            ColumnMut::OptTime(o) => part(o, None, rows, keep, |t| {
                decode(codec, payload, ColumnMut::OptTime(t))
            }),
            ColumnMut::F64(o) => part(o, 0.0, rows, keep, |t| {
                decode(codec, payload, ColumnMut::F64(t))
            }),
            ColumnMut::Str(o) => part(o, SmolStr::default(), rows, keep, |t| {
                decode(codec, payload, ColumnMut::Str(t))
            }),
        }
    }
}

/// One encoded column chunk before compression, with its min/max statistics as raw bits
/// (`i64` for integer columns, `f64` for float columns ignoring NaN, 0 for strings).
#[derive(Debug)]
pub struct Encoded {
    /// The transform used.
    pub codec: Codec,
    /// The transformed bytes.
    pub payload: Vec<u8>,
    /// Minimum, as 8 raw bytes.
    pub min: u64,
    /// Maximum, as 8 raw bytes.
    pub max: u64,
}

/// Encodes a column with the best codec for its type and values.
pub fn encode(col: ColumnRef<'_>) -> Encoded {
    let mut payload = Vec::new();
    match col {
        ColumnRef::Time(v) => encode_i64(bytemuck::cast_slice(v), payload),
        ColumnRef::OptTime(v) => {
            let ints: Vec<i64> = v
                .iter()
                .map(|t| t.map_or(Timestamp::NONE_NS, Timestamp::as_ns))
                .collect();
            encode_i64(&ints, payload)
        }
        ColumnRef::F64(v) => {
            let (codec, (min, max)) = match float::encode_decimal_if_exact(v, &mut payload) {
                Some(range) => (Codec::Decimal, range),
                None => {
                    payload.clear();
                    let bits: &[u64] = bytemuck::cast_slice(v);
                    float::encode_shuffle(bits, &mut payload);
                    (Codec::Shuffle, float_range(v))
                }
            };
            Encoded {
                codec,
                payload,
                min: min.to_bits(),
                max: max.to_bits(),
            }
        }
        ColumnRef::Str(v) => {
            strings::encode(v, &mut payload);
            Encoded {
                codec: Codec::Dict,
                payload,
                min: 0,
                max: 0,
            }
        }
    }
}

/// Whether rows `keep` lie within `total` rows, and `slots` is one for each: what every range
/// decoder checks first.
pub(crate) fn range_fits(keep: &std::ops::Range<usize>, total: usize, slots: usize) -> bool {
    keep.start <= keep.end && keep.end <= total && slots == keep.len()
}

/// Asserts that every range of `values` decodes (through `decode_range`, given the range and
/// its slots) as their slice, and that a range past the end, or slots of another length, are
/// refused; `what` names the payload in a failure.
#[cfg(test)]
pub(crate) fn assert_every_range(
    values: &[i64],
    decode_range: impl Fn(std::ops::Range<usize>, &mut [i64]) -> Option<()>,
    what: &str,
) {
    let n = values.len();
    for start in 0..=n {
        for end in start..=n {
            let mut part = vec![i64::MIN; end - start];
            decode_range(start..end, &mut part).unwrap();
            assert_eq!(part, values[start..end], "{what}, {start}..{end}");
        }
    }
    let mut part = vec![0; 3];
    assert!(decode_range(n - 2..n + 1, &mut part).is_none(), "{what}");
    assert!(decode_range(0..2, &mut part).is_none(), "{what}");
}

/// A xorshift generator of test inputs, from `seed` (not zero).
#[cfg(test)]
pub(crate) fn xorshift(mut seed: u64) -> impl FnMut() -> u64 {
    move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    }
}

/// The most values a thread's scratch buffer keeps room for between blocks (512 KiB of 8-byte
/// values): blocks of the default size reuse it, a huge one does not keep it.
const KEPT_SCRATCH: usize = 64 * 1024;

/// Runs `f` with this thread's scratch buffer in `cell` (a fresh one should it be in use), so
/// that encoding a block allocates nothing; the buffer keeps its room for the next block unless
/// it grew past [`KEPT_SCRATCH`] values. `f` must not rely on what the buffer held before.
#[inline]
pub(crate) fn with_scratch<T, R>(
    cell: &'static std::thread::LocalKey<std::cell::RefCell<Vec<T>>>,
    f: impl FnOnce(&mut Vec<T>) -> R,
) -> R {
    cell.with(|cell| {
        let mut own = Vec::new();
        let mut held = cell.try_borrow_mut().ok();
        // One call of `f` (it is inlined, with everything it encodes, where it is called).
        let buf = held.as_deref_mut().unwrap_or(&mut own);
        let result = f(buf);
        if buf.capacity() > KEPT_SCRATCH {
            *buf = Vec::new();
        }
        result
    })
}

/// Runs `f` compiled for the widest vector instructions this CPU has, detected at run time
/// (`pulp`: AVX-512 or AVX2 on x86-64, else the baseline). `f` must be `#[inline(always)]` for
/// its loops to be compiled so. The loops run so are exact at any width (integer arithmetic,
/// and correctly rounded conversions and quotients), so they give the bits of the baseline
/// build; the tests check it. On an AMD EPYC, AVX-512 divides 8 doubles an instruction where the
/// baseline's SSE2 divides 2, and takes the minimum of 8 `i64`s where SSE2 has no instruction.
#[inline(always)]
pub(crate) fn widest<R>(f: impl FnOnce() -> R) -> R {
    pulp::Arch::new().dispatch(f)
}

/// The least and greatest values of `v` that are not NaN (+inf and -inf when there are none):
/// what folding `lo.min(x)`, `hi.max(x)` over the values in order gives, bit for bit.
fn float_range(v: &[f64]) -> (f64, f64) {
    let fold = |v: &[f64], lo: f64, hi: f64| {
        v.iter()
            .filter(|x| !x.is_nan())
            .fold((lo, hi), |(lo, hi), &x| (lo.min(x), hi.max(x)))
    };
    // Eight independent lanes of comparisons, which vectorise, where the fold is one chain of
    // dependent steps (a fifth of a Decimal block's encoding). A NaN compares false, so a lane
    // skips it as the fold does.
    let mut lo = [f64::INFINITY; 8];
    let mut hi = [f64::NEG_INFINITY; 8];
    let chunks = v.chunks_exact(8);
    let tail = chunks.remainder();
    for c in chunks {
        for i in 0..8 {
            lo[i] = if c[i] < lo[i] { c[i] } else { lo[i] };
            hi[i] = if c[i] > hi[i] { c[i] } else { hi[i] };
        }
    }
    let (lanes_lo, _) = fold(&lo, f64::INFINITY, f64::NEG_INFINITY);
    let (_, lanes_hi) = fold(&hi, f64::INFINITY, f64::NEG_INFINITY);
    let (lo, hi) = fold(tail, lanes_lo, lanes_hi);
    // Any value but zero has one encoding; which zero the fold keeps depends on the order of
    // +0.0 and -0.0 in the block, so a zero bound is found as the fold finds it.
    if lo == 0.0 || hi == 0.0 {
        return fold(v, f64::INFINITY, f64::NEG_INFINITY);
    }
    (lo, hi)
}

fn encode_i64(v: &[i64], mut payload: Vec<u8>) -> Encoded {
    let (patched, range) = int::encode_or_patch(v, &mut payload);
    let (min, max) = range.unwrap_or((0, 0));
    Encoded {
        codec: if patched {
            Codec::IntPatch
        } else {
            Codec::IntPack
        },
        payload,
        min: min as u64,
        max: max as u64,
    }
}

/// Decodes `payload` of `codec` into `out`; `None` if the payload does not fit the codec,
/// the column type or the slot count.
pub fn decode(codec: Codec, payload: &[u8], out: ColumnMut<'_>) -> Option<()> {
    match (codec, out) {
        (Codec::Raw | Codec::IntPack | Codec::IntPatch, ColumnMut::Time(o)) => {
            decode_i64(codec, payload, bytemuck::cast_slice_mut(o))
        }
        (Codec::Raw | Codec::IntPack | Codec::IntPatch, ColumnMut::OptTime(o)) => {
            let mut ints = vec![0i64; o.len()];
            decode_i64(codec, payload, &mut ints)?;
            optional_times(&ints, o);
            Some(())
        }
        (Codec::Raw, ColumnMut::F64(o)) => decode_raw(payload, bytemuck::cast_slice_mut(o)),
        (Codec::Shuffle, ColumnMut::F64(o)) => {
            float::decode_shuffle(payload, bytemuck::cast_slice_mut(o))
        }
        (Codec::Decimal, ColumnMut::F64(o)) => float::decode_decimal(payload, o),
        (Codec::Dict, ColumnMut::Str(o)) => strings::decode(payload, o),
        _ => None,
    }
}

/// The optional times the integers of an optional time column stand for (`NONE_NS`: none).
fn optional_times(ints: &[i64], out: &mut [Option<Timestamp>]) {
    for (slot, &v) in out.iter_mut().zip(ints) {
        *slot = (v != Timestamp::NONE_NS).then_some(Timestamp::from_ns(v));
    }
}

fn decode_i64(codec: Codec, payload: &[u8], out: &mut [i64]) -> Option<()> {
    match codec {
        Codec::IntPack => int::decode(payload, out),
        Codec::IntPatch => patch::decode(payload, out),
        _ => decode_raw(payload, bytemuck::cast_slice_mut(out)),
    }
}

fn decode_raw(payload: &[u8], out: &mut [u64]) -> Option<()> {
    if payload.len() != out.len() * 8 {
        return None;
    }
    for (slot, chunk) in out.iter_mut().zip(payload.chunks_exact(8)) {
        *slot = u64::from_le_bytes(chunk.try_into().ok()?);
    }
    Some(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn int_ranges_are_the_least_and_greatest() {
        // 1,003 values (the vector loop's tail too), the extremes placed in the tail, the middle
        // and the first lane.
        let mut rnd = xorshift(0x853c_49e6_748f_ea9b);
        for (at_min, at_max) in [(1001, 3), (500, 0), (0, 1002)] {
            let mut v: Vec<i64> = (0..1003).map(|_| (rnd() as i64) >> 8).collect();
            v[at_min] = i64::MIN;
            v[at_max] = i64::MAX;
            let range = |v: &[i64]| {
                let enc = encode(ColumnRef::Time(bytemuck::cast_slice(v)));
                (enc.min as i64, enc.max as i64)
            };
            assert_eq!(range(&v), (i64::MIN, i64::MAX));
            v[at_min] = -7;
            v[at_max] = 7;
            let want = (v.iter().copied().min(), v.iter().copied().max());
            assert_eq!(Some(range(&v)), want.0.zip(want.1));
        }
        let times: Vec<Timestamp> = [5, -3, 9, 2].map(Timestamp::from_ns).to_vec();
        let enc = encode(ColumnRef::Time(&times));
        assert_eq!((enc.min as i64, enc.max as i64), (-3, 9));
        let enc = encode(ColumnRef::Time(&[]));
        assert_eq!((enc.min, enc.max), (0, 0));
    }

    #[test]
    fn float_ranges_are_the_folds_bit_for_bit() {
        let reference = |v: &[f64]| {
            v.iter()
                .filter(|x| !x.is_nan())
                .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), &x| {
                    (lo.min(x), hi.max(x))
                })
        };
        let specials = [
            f64::NAN,
            0.0,
            -0.0,
            f64::INFINITY,
            f64::NEG_INFINITY,
            5e-324,
        ];
        let mut next = xorshift(0x2545_f491_4f6c_dd1d);
        let mut blocks: Vec<Vec<f64>> =
            vec![vec![], vec![f64::NAN; 13], vec![-0.0, 0.0], vec![0.0, -0.0]];
        for len in [1, 7, 8, 9, 16, 31, 2048] {
            for mix in 0..12 {
                blocks.push(
                    (0..len)
                        .map(|_| {
                            let r = next();
                            if r % 12 < mix {
                                specials[(r >> 8) as usize % specials.len()]
                            } else {
                                ((r >> 20) as i64 - (1 << 43)) as f64 / 100.0
                            }
                        })
                        .collect(),
                );
            }
        }
        // Zeros of both signs as the bounds, in either order, with a NaN between.
        blocks.push((0..40).map(|i| [0.0, -0.0, f64::NAN, 3.5][i % 4]).collect());
        blocks.push((0..40).map(|i| [-0.0, 0.0, -1.0][i % 3]).collect());
        // +0.0 first in the block's order, -0.0 first in its lane's (and the other way).
        for (a, b) in [(0.0, -0.0), (-0.0, 0.0)] {
            for fill in [5.0, -5.0] {
                let mut v = vec![fill; 16];
                (v[1], v[8]) = (a, b);
                blocks.push(v);
            }
        }
        // Decimal blocks at exponents 0, 1 and 12, negative and positive, with +0.0 inside.
        let at_exponents: [Vec<f64>; 3] = [
            (-20..20).map(f64::from).collect(),
            (0..40).map(|i| f64::from(i - 7) / 10.0).collect(),
            (0..40).map(|i| f64::from(i * 37 - 700) / 1e12).collect(),
        ];
        for (v, e) in at_exponents.iter().zip([0u8, 1, 12]) {
            let enc = encode(ColumnRef::F64(v));
            assert_eq!((enc.codec, enc.payload[0]), (Codec::Decimal, e), "{v:?}");
        }
        blocks.extend(at_exponents);
        let mut decimal = 0;
        for v in &blocks {
            let (lo, hi) = float_range(v);
            let (want_lo, want_hi) = reference(v);
            let want = (want_lo.to_bits(), want_hi.to_bits());
            assert_eq!((lo.to_bits(), hi.to_bits()), want, "{v:?}");
            // A Decimal block's footer bounds come from its integers: the same bits.
            let enc = encode(ColumnRef::F64(v));
            assert_eq!((enc.min, enc.max), want, "{:?} {v:?}", enc.codec);
            decimal += usize::from(enc.codec == Codec::Decimal);
        }
        assert!(decimal >= 10, "{decimal} Decimal blocks");
        assert_eq!(
            float_range(&[2.5, f64::NAN, -7.25, 9.0, 1.0, 0.5, 3.0, 4.0, -1.0]),
            (-7.25, 9.0)
        );
    }

    #[test]
    fn ids_round_trip() {
        for c in Codec::ALL {
            assert_eq!(Codec::try_from(c as u8), Ok(c));
        }
        assert_eq!(Codec::try_from(6), Err(6));
        for c in Compression::ALL {
            assert_eq!(
                Compression::from_id(c.id()).map(Compression::id),
                Some(c.id())
            );
        }
        assert_eq!(Compression::from_id(3), None);
    }

    #[test]
    fn every_compression_round_trips() {
        let raw: Vec<u8> = (0..10_000u32).map(|i| (i % 7) as u8).collect();
        for c in Compression::ALL {
            let stored = c.compress(&raw).unwrap().unwrap_or_else(|| raw.clone());
            let id = if stored == raw { Compression::None } else { c };
            assert_eq!(id.decompress(&stored, raw.len()).unwrap(), raw);
            assert!(id.decompress(&stored, raw.len() + 1).is_none());
        }
    }

    #[test]
    fn codec_and_type_must_agree() {
        let enc = encode(ColumnRef::F64(&[1.5, 2.5]));
        assert_eq!(enc.codec, Codec::Decimal);
        assert_eq!(f64::from_bits(enc.min), 1.5);
        let mut times = [Timestamp::from_ns(0); 2];
        assert!(decode(enc.codec, &enc.payload, ColumnMut::Time(&mut times)).is_none());
        let mut floats = [0f64; 2];
        decode(enc.codec, &enc.payload, ColumnMut::F64(&mut floats)).unwrap();
        assert_eq!(floats, [1.5, 2.5]);
    }

    #[test]
    fn partial_decodes_equal_the_slice_of_a_full_decode() {
        let n = 300usize;
        let mut rnd = xorshift(0x1234_5678_9abc_def1);
        let times: Vec<Vec<Timestamp>> = vec![
            (0..n as i64).map(|i| Timestamp::from_ns(i * 60)).collect(), // even steps
            (0..n as i64)
                .scan(0i64, |a, _| {
                    *a += (rnd() % 1000) as i64;
                    Some(Timestamp::from_ns(*a))
                })
                .collect(), // a random walk
            (0..n).map(|_| Timestamp::from_ns(rnd() as i64)).collect(),  // anything
            vec![Timestamp::from_ns(7); n],
            // Minutes with an hour's gap after every 50: IntPatch.
            (0..n as i64)
                .map(|i| Timestamp::from_ns(i * 60_000_000_000 + i / 50 * 3_600_000_000_000))
                .collect(),
        ];
        let codecs: Vec<Codec> = times
            .iter()
            .map(|t| encode(ColumnRef::Time(t)).codec)
            .collect();
        assert_eq!(codecs[4], Codec::IntPatch);
        assert!(
            codecs[..4].iter().all(|c| *c == Codec::IntPack),
            "{codecs:?}"
        );
        let floats: Vec<Vec<f64>> = vec![
            (0..n).map(|i| 3500.0 + (i % 17) as f64 * 0.2).collect(), // a decimal grid
            (0..n).map(|_| f64::from_bits(rnd())).collect(),          // any bits
            (0..n).map(|i| i as f64 * 1.5).collect(),
        ];
        let ranges = [
            0..1,
            0..2,
            0..3,
            1..2,
            2..5,
            0..n,
            n - 1..n,
            37..211,
            150..300,
        ];
        for t in &times {
            let e = encode(ColumnRef::Time(t));
            for r in ranges.clone() {
                let mut part = vec![Timestamp::from_ns(-1); r.len()];
                ColumnMut::Time(&mut part)
                    .decode_partial(e.codec, &e.payload, n, r.clone())
                    .unwrap();
                assert_eq!(part, t[r.clone()], "{:?} {r:?}", e.codec);
            }
            // The same times as an optional column, every third one missing.
            let opt: Vec<Option<Timestamp>> = t
                .iter()
                .enumerate()
                .map(|(i, &v)| (i % 3 != 1).then_some(v))
                .collect();
            let e = encode(ColumnRef::OptTime(&opt));
            for r in ranges.clone() {
                let mut part = vec![Some(Timestamp::from_ns(-1)); r.len()];
                ColumnMut::OptTime(&mut part)
                    .decode_partial(e.codec, &e.payload, n, r.clone())
                    .unwrap();
                assert_eq!(part, opt[r.clone()], "{:?} {r:?}", e.codec);
            }
        }
        for f in &floats {
            let e = encode(ColumnRef::F64(f));
            let mut raw = Vec::new();
            for x in f {
                raw.extend_from_slice(&x.to_bits().to_le_bytes());
            }
            for (codec, payload) in [(e.codec, e.payload.clone()), (Codec::Raw, raw)] {
                for r in ranges.clone() {
                    let mut part = vec![-1.0; r.len()];
                    ColumnMut::F64(&mut part)
                        .decode_partial(codec, &payload, n, r.clone())
                        .unwrap();
                    let want: Vec<u64> = f[r.clone()].iter().map(|x| x.to_bits()).collect();
                    let got: Vec<u64> = part.iter().map(|x| x.to_bits()).collect();
                    assert_eq!(got, want, "{codec:?} {r:?}");
                }
                // A range past the end, or a payload cut short, is refused.
                let mut part = vec![0.0; 2];
                assert!(ColumnMut::F64(&mut part)
                    .decode_partial(codec, &payload, n, n - 1..n + 1)
                    .is_none());
                assert!(ColumnMut::F64(&mut part)
                    .decode_partial(codec, &payload[..payload.len() - 1], n, 0..2)
                    .is_none());
            }
        }
    }
}
