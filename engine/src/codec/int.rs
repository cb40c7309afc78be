//! `IntPack`: integers as differences of order 0, 1 or 2, frame-of-reference, bit-packed.
//!
//! Payload: `order: u8`, `order` initial values (`i64` each), `base: i64`, `width: u8`, then the
//! `n - order` residuals minus `base`, packed in `width` bits (see FORMAT.md, "IntPack").
//! Arithmetic wraps, so every `i64` sequence round-trips.

use super::bitpack::{bit_width, pack, packed_len, unpack_into};
use super::cursor::Cursor;

/// For each difference order 0, 1 and 2: the lowest residual and the bit width of the range of
/// residuals, if there are any (`values` longer than the order). Three tight passes, one per
/// order, each a plain loop the compiler vectorises.
fn ranges(values: &[i64]) -> [Option<(i64, u8)>; 3] {
    let span =
        |lo: i64, hi: i64, any: bool| any.then(|| (lo, bit_width(hi.wrapping_sub(lo) as u64)));
    let (mut lo, mut hi) = (i64::MAX, i64::MIN);
    for &v in values {
        lo = lo.min(v);
        hi = hi.max(v);
    }
    let r0 = span(lo, hi, !values.is_empty());
    let (mut lo, mut hi) = (i64::MAX, i64::MIN);
    for w in values.windows(2) {
        if let [a, b] = *w {
            let d = b.wrapping_sub(a);
            lo = lo.min(d);
            hi = hi.max(d);
        }
    }
    let r1 = span(lo, hi, values.len() > 1);
    let (mut lo, mut hi) = (i64::MAX, i64::MIN);
    for w in values.windows(3) {
        if let [a, b, c] = *w {
            let d = c.wrapping_sub(b).wrapping_sub(b.wrapping_sub(a));
            lo = lo.min(d);
            hi = hi.max(d);
        }
    }
    let r2 = span(lo, hi, values.len() > 2);
    [r0, r1, r2]
}

/// Appends the IntPack encoding of `values` to `out`, choosing the order with the narrowest width.
pub fn encode(values: &[i64], out: &mut Vec<u8>) {
    let mut best: Option<(usize, i64, u8)> = None;
    for (order, range) in ranges(values).into_iter().enumerate() {
        if let Some((base, width)) = range {
            if best.is_none_or(|(_, _, w)| width < w) {
                best = Some((order, base, width));
            }
        }
    }
    let (order, base, width) = best.unwrap_or((values.len().min(2), 0, 0));
    out.push(order as u8);
    for v in values.iter().take(order) {
        out.extend_from_slice(&v.to_le_bytes());
    }
    out.extend_from_slice(&base.to_le_bytes());
    out.push(width);
    out.reserve(packed_len(values.len().saturating_sub(order), width));
    let less = move |r: i64| r.wrapping_sub(base) as u64;
    match order {
        0 => pack(values.iter().map(|&v| less(v)), width, out),
        1 => pack(
            values.windows(2).map(|w| match *w {
                [a, b] => less(b.wrapping_sub(a)),
                _ => 0,
            }),
            width,
            out,
        ),
        _ => pack(
            values.windows(3).map(|w| match *w {
                [a, b, c] => less(c.wrapping_sub(b).wrapping_sub(b.wrapping_sub(a))),
                _ => 0,
            }),
            width,
            out,
        ),
    }
}

/// Decodes `out.len()` values from an IntPack payload; `None` if the payload is malformed.
pub fn decode(payload: &[u8], out: &mut [i64]) -> Option<()> {
    decode_head(payload, out.len(), out)
}

/// Decodes the first `out.len()` of the `total` values `payload` holds (the differences of a
/// value need those before it, so a range of a block decodes its head up to the range's end).
pub fn decode_head(payload: &[u8], total: usize, out: &mut [i64]) -> Option<()> {
    let n = out.len();
    let mut c = Cursor::new(payload);
    let order = usize::from(c.u8()?);
    if order > 2 || order > total || n > total {
        return None;
    }
    let mut first = [0i64; 2];
    for slot in first.iter_mut().take(order) {
        *slot = c.i64()?;
    }
    let base = c.i64()?;
    let width = c.u8()?;
    if width > 64 {
        return None;
    }
    let packed = c.rest();
    if packed.len() != packed_len(total - order, width) {
        return None;
    }
    let head = order.min(n);
    out.get_mut(..head)?.copy_from_slice(first.get(..head)?);
    if n <= order {
        return Some(());
    }
    let tail = out.get_mut(order..)?;
    unpack_into(packed, width, bytemuck::cast_slice_mut(tail));
    match order {
        0 => tail.iter_mut().for_each(|x| *x = base.wrapping_add(*x)),
        1 => {
            let mut acc = first[0];
            for x in out.get_mut(1..)? {
                acc = acc.wrapping_add(base.wrapping_add(*x));
                *x = acc;
            }
        }
        _ => {
            let (mut prev, mut cur) = (first[0], first[1]);
            let mut delta = cur.wrapping_sub(prev);
            for x in out.get_mut(2..)? {
                delta = delta.wrapping_add(base.wrapping_add(*x));
                prev = cur;
                cur = prev.wrapping_add(delta);
                *x = cur;
            }
        }
    }
    Some(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn round_trip(values: &[i64]) -> usize {
        let mut buf = Vec::new();
        encode(values, &mut buf);
        let mut back = vec![0; values.len()];
        decode(&buf, &mut back).unwrap();
        assert_eq!(back, values);
        buf.len()
    }

    #[test]
    fn sequences_round_trip() {
        assert_eq!(round_trip(&[]), 10);
        round_trip(&[7]);
        round_trip(&[i64::MIN, i64::MAX, 0, -1, 1, i64::MAX]);
        let minutes: Vec<i64> = (0..1000)
            .map(|i| 1_700_000_000_000_000_000 + i * 60_000_000_000)
            .collect();
        // A regular time column packs to zero bits per value: order, first value, base, width.
        assert_eq!(round_trip(&minutes), 1 + 8 + 8 + 1);
        let walk: Vec<i64> = (0..1000).map(|i: i64| (i * 7919) % 13 - 6).collect();
        assert!(round_trip(&walk) < 1000);
    }

    #[test]
    fn malformed_payloads_are_refused() {
        let mut buf = Vec::new();
        encode(&[1, 5, 9, 200], &mut buf);
        let mut out = vec![0; 4];
        assert!(decode(&buf[..buf.len() - 1], &mut out).is_none());
        let mut bad = buf.clone();
        bad[0] = 3;
        assert!(decode(&bad, &mut out).is_none());
        assert!(decode(&[], &mut out).is_none());
        let mut more = vec![0; 5];
        assert!(decode(&buf, &mut more).is_none());
    }
}
