//! Float transforms: `Decimal` (values on a decimal grid as scaled integers) and `Shuffle`
//! (the raw IEEE bits split into 8 byte planes, which general compressors squeeze well).

use super::cursor::Cursor;
use super::int;

/// The largest decimal exponent tried: values are `k / 10^e` with `e <= MAX_EXPONENT`.
pub const MAX_EXPONENT: u8 = 12;

const POW10: [f64; MAX_EXPONENT as usize + 1] = [
    1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12,
];

/// Adding then subtracting this rounds a float below 2^51 in magnitude to the nearest integer.
const ROUNDER: f64 = 6_755_399_441_055_744.0;
const LIMIT: f64 = 2_251_799_813_685_248.0; // 2^51

/// The integer `k` with `k / 10^e == v` bit for bit, if there is one.
#[inline]
fn scaled(v: f64, e: u8) -> Option<i64> {
    let p = POW10[usize::from(e)];
    let x = v * p;
    if x.is_nan() || x.abs() >= LIMIT {
        return None;
    }
    let r = (x + ROUNDER) - ROUNDER;
    ((r / p).to_bits() == v.to_bits()).then_some(r as i64)
}

/// The smallest exponent at which every value round-trips exactly, if any (the reference that
/// [`encode_decimal_if_exact`] is tested against).
#[cfg(test)]
pub fn decimal_exponent(values: &[f64]) -> Option<u8> {
    let mut e = 0u8;
    for &v in values {
        while scaled(v, e).is_none() {
            e += 1;
            if e > MAX_EXPONENT {
                return None;
            }
        }
    }
    // An exponent that suits a later value may not suit an earlier one: check them all again.
    values.iter().all(|&v| scaled(v, e).is_some()).then_some(e)
}

/// Appends the Decimal payload: `exponent: u8` then the IntPack of the scaled integers.
/// The caller has checked `decimal_exponent(values) == Some(e)`.
#[cfg(test)]
pub fn encode_decimal(values: &[f64], e: u8, out: &mut Vec<u8>) {
    let ints: Vec<i64> = values.iter().map(|&v| scaled(v, e).unwrap_or(0)).collect();
    out.push(e);
    int::encode(&ints, out);
}

/// Values whose exponent is found one by one before the rest are checked at it all at once.
const HEAD: usize = 16;

/// Scales every value at exponent `e` into `ints` (of the same length); whether each
/// round-trips exactly, as [`scaled`] checks. No branch per value, so the loop vectorises, on
/// the widest vectors the CPU has ([`super::widest`]): the quotients and the integers are exact
/// at any width, so the result is the baseline's (tested).
///
/// The integer is read off the bits of `x + ROUNDER`: for `|x| < 2^51` that sum lies in
/// `[2^52, 2^53)`, where doubles are the integers, so its bits less `ROUNDER`'s are `r`, the
/// value `r as i64` gives. `as` saturates (a compare and two conditional moves a value, and no
/// vector instruction before AVX-512), which kept this loop scalar; an integer subtraction
/// vectorises. A value past `LIMIT`, or NaN, makes the scale inexact, and its integer is unused.
fn scale_all(values: &[f64], e: u8, ints: &mut [i64]) -> bool {
    super::widest(
        #[inline(always)]
        || scale_all_on(values, e, ints),
    )
}

/// [`scale_all`] compiled for whatever the caller is compiled for.
#[inline(always)]
fn scale_all_on(values: &[f64], e: u8, ints: &mut [i64]) -> bool {
    let p = POW10[usize::from(e)];
    let base = ROUNDER.to_bits() as i64;
    let mut exact = true;
    for (k, &v) in ints.iter_mut().zip(values) {
        let x = v * p;
        let y = x + ROUNDER;
        let r = y - ROUNDER;
        // `x.abs() < LIMIT` is false for NaN too.
        exact &= (x.abs() < LIMIT) & ((r / p).to_bits() == v.to_bits());
        *k = (y.to_bits() as i64).wrapping_sub(base);
    }
    exact
}

/// Appends the Decimal payload of `values` if one decimal exponent suits them all (the smallest
/// at which each round-trips exactly, as [`decimal_exponent`] finds). The exponent of the
/// first values is usually that of the block: one branch-free pass checks and scales them all
/// at it; only when one does not fit does the scan go on value by value.
///
/// Returns, when it did, the least and the greatest value (`+inf`, `-inf` when there are
/// none). They come from the integers' range, which the encoding finds anyway: every value is
/// its integer `k` divided by `10^e`, and a correctly rounded division by a positive number
/// keeps the order, so the least value is the least integer's, bit for bit (a Decimal block
/// holds no NaN and no -0.0).
pub fn encode_decimal_if_exact(values: &[f64], out: &mut Vec<u8>) -> Option<(f64, f64)> {
    let mut e = 0u8;
    let raise = |e: &mut u8, values: &[f64]| {
        for &v in values {
            while scaled(v, *e).is_none() {
                *e += 1;
                if *e > MAX_EXPONENT {
                    return false;
                }
            }
        }
        true
    };
    let (head, rest) = values.split_at(values.len().min(HEAD));
    if !raise(&mut e, head) {
        return None;
    }
    super::with_scratch(&SCALED, |ints| {
        // Every slot is overwritten before it is read.
        ints.resize(values.len(), 0);
        let exact = scale_all(values, e, ints)
            // As the reference: the exponent the later values need, then every value at it.
            || (raise(&mut e, rest) && scale_all(values, e, ints));
        exact.then(|| {
            out.push(e);
            let p = POW10[usize::from(e)];
            let value = |k: i64| if e == 0 { k as f64 } else { k as f64 / p };
            int::encode(ints, out).map_or((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi)| {
                (value(lo), value(hi))
            })
        })
    })
}

thread_local! {
    /// The scaled integers of the block [`encode_decimal_if_exact`] is encoding.
    static SCALED: std::cell::RefCell<Vec<i64>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// Decodes a Decimal payload into `out`.
pub fn decode_decimal(payload: &[u8], out: &mut [f64]) -> Option<()> {
    decode_decimal_range(payload, out.len(), 0..out.len(), out)
}

/// Replaces the integers held as bits in `out` by those integers divided by `p = 10^e`, with
/// the widest vectors the CPU has ([`super::widest`]).
fn scale(out: &mut [f64], e: u8, p: f64) {
    super::widest(
        #[inline(always)]
        || scale_on(out, e, p),
    )
}

/// [`scale`] compiled for whatever the caller is compiled for.
#[inline(always)]
fn scale_on(out: &mut [f64], e: u8, p: f64) {
    if e == 0 {
        out.iter_mut()
            .for_each(|x| *x = (x.to_bits() as i64) as f64);
    } else {
        out.iter_mut()
            .for_each(|x| *x = (x.to_bits() as i64) as f64 / p);
    }
}

/// Decodes rows `keep` of the `total` values of a Decimal payload into `out` (of length
/// `keep.len()`): only the kept integers are decoded ([`int::decode_range`]) and scaled.
pub fn decode_decimal_range(
    payload: &[u8],
    total: usize,
    keep: std::ops::Range<usize>,
    out: &mut [f64],
) -> Option<()> {
    let mut c = Cursor::new(payload);
    let e = c.u8()?;
    let p = *POW10.get(usize::from(e))?;
    let ints = c.rest();
    if let Some(k) = int::constant(ints, total) {
        // One conversion instead of one a value, to the value `scale` gives each.
        if !super::range_fits(&keep, total, out.len()) {
            return None;
        }
        out.fill(if e == 0 { k as f64 } else { k as f64 / p });
        return Some(());
    }
    int::decode_range(ints, total, keep, bytemuck::cast_slice_mut(out))?;
    scale(out, e, p);
    Some(())
}

/// Decodes rows `keep` of the `total` values of a Shuffle payload into `out`.
pub fn decode_shuffle_range(
    payload: &[u8],
    total: usize,
    keep: std::ops::Range<usize>,
    out: &mut [u64],
) -> Option<()> {
    if payload.len() != total * 8 || !super::range_fits(&keep, total, out.len()) {
        return None;
    }
    for (slot, i) in out.iter_mut().zip(keep) {
        let mut b = [0u8; 8];
        for (j, byte) in b.iter_mut().enumerate() {
            *byte = *payload.get(j * total + i)?;
        }
        *slot = u64::from_le_bytes(b);
    }
    Some(())
}

/// Appends the 8 byte planes of `values` (plane `j` holds byte `j` of every value's LE bits).
pub fn encode_shuffle(values: &[u64], out: &mut Vec<u8>) {
    let n = values.len();
    let start = out.len();
    out.resize(start + n * 8, 0);
    let planes = &mut out[start..];
    for (i, v) in values.iter().enumerate() {
        for (j, b) in v.to_le_bytes().into_iter().enumerate() {
            planes[j * n + i] = b;
        }
    }
}

/// Decodes byte planes into `out`.
pub fn decode_shuffle(payload: &[u8], out: &mut [u64]) -> Option<()> {
    let n = out.len();
    if payload.len() != n * 8 {
        return None;
    }
    for (i, slot) in out.iter_mut().enumerate() {
        let mut b = [0u8; 8];
        for (j, byte) in b.iter_mut().enumerate() {
            *byte = payload[j * n + i];
        }
        *slot = u64::from_le_bytes(b);
    }
    Some(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn constant_decimal_columns_decode_to_the_value_of_every_row() {
        for v in [3150.4, 3850.0, -0.25, 0.0] {
            let values = vec![v; 300];
            let mut payload = Vec::new();
            assert!(encode_decimal_if_exact(&values, &mut payload).is_some());
            assert!(int::constant(&payload[1..], 300).is_some());
            let mut back = vec![1.5; 300];
            decode_decimal(&payload, &mut back).unwrap();
            assert!(back.iter().all(|b| b.to_bits() == v.to_bits()), "{v}");
            let mut part = vec![1.5; 10];
            decode_decimal_range(&payload, 300, 100..110, &mut part).unwrap();
            assert!(part.iter().all(|b| b.to_bits() == v.to_bits()), "{v}");
            assert!(decode_decimal_range(&payload, 300, 295..305, &mut part).is_none());
            assert!(decode_decimal_range(&payload, 300, 0..9, &mut part).is_none());
        }
    }

    #[test]
    fn decimal_finds_the_grid() {
        assert_eq!(decimal_exponent(&[3517.4, 3517.6, 3518.0]), Some(1));
        assert_eq!(decimal_exponent(&[1.25, 100.0, 0.01]), Some(2));
        assert_eq!(decimal_exponent(&[100.0, 2.0]), Some(0));
        assert_eq!(decimal_exponent(&[0.1 + 0.2]), None);
        assert_eq!(decimal_exponent(&[-0.0]), None);
        assert_eq!(decimal_exponent(&[f64::NAN]), None);
        assert_eq!(decimal_exponent(&[f64::INFINITY]), None);
        assert_eq!(decimal_exponent(&[1e300]), None);
    }

    #[test]
    fn the_two_pass_encoder_equals_the_reference() {
        let late: Vec<f64> = (0..40)
            .map(|i| if i == 30 { 0.125 } else { f64::from(i) * 0.5 })
            .collect();
        // Integers through the head, then a value off the integer grid, -0.0, or too large.
        let ints_then = |last: f64| -> Vec<f64> {
            (0..40)
                .map(|i| if i == 35 { last } else { f64::from(i) * 3.0 })
                .collect()
        };
        let (half, negative_zero, huge) = (ints_then(2.5), ints_then(-0.0), ints_then(1e17));
        let sets: [&[f64]; 10] = [
            &late,
            &half,
            &negative_zero,
            &huge,
            &[3517.4, 3517.6, -12.8, 0.0, 0.05, 45035.6],
            &[1.0, 2.0, 3.0],
            &[0.001, 100.0, 1.5],
            &[0.1 + 0.2, 1.0],
            &[f64::NAN, 1.0],
            &[],
        ];
        for values in sets {
            let mut fast = Vec::new();
            let ok = encode_decimal_if_exact(values, &mut fast).is_some();
            match decimal_exponent(values) {
                Some(e) => {
                    let mut slow = Vec::new();
                    encode_decimal(values, e, &mut slow);
                    assert!(ok);
                    assert_eq!(fast, slow, "{values:?}");
                }
                None => assert!(!ok, "{values:?}"),
            }
        }
    }

    #[test]
    fn the_widest_vectors_give_the_bits_of_the_baseline() {
        // 1,003 integers (the vector loop's tail is covered too) of every magnitude: small,
        // prices' ticks, past 2^53 (where the conversion itself rounds), negative, zero.
        let mut rnd = crate::codec::xorshift(0x9e37_79b9_7f4a_7c15);
        let ints: Vec<i64> = (0..1003)
            .map(|i| {
                let v = (rnd() as i64) >> [60, 40, 12, 4, 1, 63][i % 6];
                if i % 50 == 0 {
                    0
                } else {
                    v
                }
            })
            .collect();
        let held: Vec<f64> = ints.iter().map(|&i| f64::from_bits(i as u64)).collect();
        let bits = |v: &[f64]| v.iter().map(|x| x.to_bits()).collect::<Vec<u64>>();
        for e in 0..=MAX_EXPONENT {
            let p = POW10[usize::from(e)];
            let (mut wide, mut base) = (held.clone(), held.clone());
            scale(&mut wide, e, p);
            scale_on(&mut base, e, p);
            assert_eq!(bits(&wide), bits(&base), "e = {e}");
            assert_eq!(wide[7], ints[7] as f64 / p, "e = {e}");
            assert_eq!(wide[50], 0.0, "e = {e}");
        }
    }

    #[test]
    fn scaling_a_block_gives_the_reference_integers_at_any_width() {
        // 1,003 values k / 10^e with |k| up to the limit of 2^51 (both signs) and zero, and
        // then the same with one value that does not scale: NaN, infinity, past the limit, a
        // subnormal, off the grid, -0.0 (it would come back +0.0).
        let mut rnd = crate::codec::xorshift(0x2545_f491_4f6c_dd1d);
        for e in 0..=MAX_EXPONENT {
            let p = POW10[usize::from(e)];
            let limit = (1i64 << 51) - 1;
            let values: Vec<f64> = (0..1003)
                .map(|i| match i {
                    0 => limit as f64 / p,
                    1 => -limit as f64 / p,
                    2 => 0.0,
                    _ => ((rnd() as i64) >> [13, 30, 50, 60][i % 4]) as f64 / p,
                })
                .collect();
            let reference: Vec<Option<i64>> = values.iter().map(|&v| scaled(v, e)).collect();
            assert!(
                reference.iter().all(Option::is_some),
                "e = {e}: every value scales"
            );
            for spoil in [
                None,
                Some(f64::NAN),
                Some(f64::INFINITY),
                Some(1e300),
                Some(5e-324),
                Some(0.123_456_789_012_345_6),
            ] {
                let mut values = values.clone();
                let mut reference = reference.clone();
                if let Some(x) = spoil {
                    values[500] = x;
                    reference[500] = scaled(x, e);
                }
                let (mut wide, mut base) = (vec![0; 1003], vec![0; 1003]);
                let exact = scale_all(&values, e, &mut wide);
                assert_eq!(
                    exact,
                    scale_all_on(&values, e, &mut base),
                    "e = {e}, {spoil:?}"
                );
                assert_eq!(
                    exact,
                    reference.iter().all(Option::is_some),
                    "e = {e}, {spoil:?}"
                );
                if exact {
                    let want: Vec<i64> = reference.iter().flatten().copied().collect();
                    assert_eq!(wide, want, "e = {e}");
                    assert_eq!(base, want, "e = {e}");
                }
            }
            assert_eq!(scaled(values[0], e), Some(limit), "e = {e}");
        }
    }

    #[test]
    fn decimal_round_trips_bits() {
        let values = [3517.4, 3517.6, -12.8, 0.0, 0.05, 45035.6];
        let e = decimal_exponent(&values).unwrap();
        assert_eq!(e, 2);
        let mut buf = Vec::new();
        encode_decimal(&values, e, &mut buf);
        let mut back = vec![0.0; values.len()];
        decode_decimal(&buf, &mut back).unwrap();
        for (a, b) in values.iter().zip(&back) {
            assert_eq!(a.to_bits(), b.to_bits());
        }
    }

    #[test]
    fn shuffle_round_trips_bits() {
        let values: Vec<u64> = [
            f64::NAN,
            -0.0,
            f64::NEG_INFINITY,
            1.5,
            f64::from_bits(0x7ff4_0000_0000_0001),
        ]
        .iter()
        .map(|v| v.to_bits())
        .collect();
        let mut buf = Vec::new();
        encode_shuffle(&values, &mut buf);
        let mut back = vec![0u64; values.len()];
        decode_shuffle(&buf, &mut back).unwrap();
        assert_eq!(back, values);
        assert!(decode_shuffle(&buf[1..], &mut back).is_none());
    }
}
