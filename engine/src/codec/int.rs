//! `IntPack`: integers as differences of order 0, 1 or 2, frame-of-reference, bit-packed.
//!
//! Payload: `order: u8`, `order` initial values (`i64` each), `base: i64`, `width: u8`, then the
//! `n - order` residuals minus `base`, packed in `width` bits (see FORMAT.md, "IntPack").
//! Arithmetic wraps, so every `i64` sequence round-trips.

use super::bitpack::{bit_width, pack, packed_len, unpack_from_map, unpack_into};
use super::cursor::Cursor;

/// For each difference order 0, 1 and 2: the lowest and the highest residual, if there are any
/// (`values` longer than the order). Three tight passes, one per order, each a plain loop the
/// compiler vectorises, with the widest vectors the CPU has ([`super::widest`]: the baseline's
/// SSE2 has no 64-bit minimum or comparison).
fn ranges(values: &[i64]) -> [Option<(i64, i64)>; 3] {
    super::widest(
        #[inline(always)]
        || ranges_on(values),
    )
}

/// [`ranges`] compiled for whatever the caller is compiled for.
#[inline(always)]
fn ranges_on(values: &[i64]) -> [Option<(i64, i64)>; 3] {
    let (mut lo, mut hi) = (i64::MAX, i64::MIN);
    for &v in values {
        lo = lo.min(v);
        hi = hi.max(v);
    }
    let r0 = (!values.is_empty()).then_some((lo, hi));
    let (mut lo, mut hi) = (i64::MAX, i64::MIN);
    for w in values.windows(2) {
        if let [a, b] = *w {
            let d = b.wrapping_sub(a);
            lo = lo.min(d);
            hi = hi.max(d);
        }
    }
    let r1 = (values.len() > 1).then_some((lo, hi));
    let (mut lo, mut hi) = (i64::MAX, i64::MIN);
    for w in values.windows(3) {
        if let [a, b, c] = *w {
            let d = c.wrapping_sub(b).wrapping_sub(b.wrapping_sub(a));
            lo = lo.min(d);
            hi = hi.max(d);
        }
    }
    let r2 = (values.len() > 2).then_some((lo, hi));
    [r0, r1, r2]
}

/// Appends the IntPack encoding of `values` to `out`, choosing the order with the narrowest
/// width. Returns the least and the greatest value (`None` when there are none), which the
/// choice finds on the way.
pub fn encode(values: &[i64], out: &mut Vec<u8>) -> Option<(i64, i64)> {
    let ranges = ranges(values);
    let (order, base, width) = narrowest(&ranges, values.len());
    write(values, order, base, width, out);
    ranges[0]
}

/// The IntPack payload is this wide in bits per value, or wider, before [`encode_or_patch`]
/// tries IntPatch: below it, patching saves little.
const PATCH_FROM_WIDTH: u8 = 8;

/// Appends the shorter of the IntPack and the IntPatch encodings of `values` to `out` (IntPatch
/// is tried only when IntPack would pack at least [`PATCH_FROM_WIDTH`] bits a value). Returns
/// whether it is IntPatch, and the least and greatest value as [`encode`] does.
pub fn encode_or_patch(values: &[i64], out: &mut Vec<u8>) -> (bool, Option<(i64, i64)>) {
    let ranges = ranges(values);
    let (order, base, width) = narrowest(&ranges, values.len());
    if let (true, Some((least, _))) = (width >= PATCH_FROM_WIDTH, ranges[1]) {
        let packed = 1 + 8 * order + 8 + 1 + packed_len(values.len() - order, width);
        let patched = super::with_scratch(&RESIDUALS, |room| {
            let plan = super::patch::plan(values, least, room).filter(|p| p.len < packed);
            plan.map(|plan| super::patch::encode(values, &plan, room, out))
                .is_some()
        });
        if patched {
            return (true, ranges[0]);
        }
    }
    write(values, order, base, width, out);
    (false, ranges[0])
}

/// The order whose residuals span the narrowest width, with their least (the base) and that
/// width.
fn narrowest(ranges: &[Option<(i64, i64)>; 3], len: usize) -> (usize, i64, u8) {
    let mut best: Option<(usize, i64, u8)> = None;
    for (order, range) in ranges.iter().enumerate() {
        if let Some((base, hi)) = *range {
            let width = bit_width(hi.wrapping_sub(base) as u64);
            if best.is_none_or(|(_, _, w)| width < w) {
                best = Some((order, base, width));
            }
        }
    }
    best.unwrap_or((len.min(2), 0, 0))
}

/// Appends the IntPack payload of `values` with the given order, base and width.
fn write(values: &[i64], order: usize, base: i64, width: u8, out: &mut Vec<u8>) {
    out.push(order as u8);
    for v in values.iter().take(order) {
        out.extend_from_slice(&v.to_le_bytes());
    }
    out.extend_from_slice(&base.to_le_bytes());
    out.push(width);
    out.reserve(packed_len(values.len().saturating_sub(order), width));
    if width > 0 {
        super::with_scratch(&RESIDUALS, |res| {
            residuals(values, order, base, res);
            pack(res, width, out);
        });
    }
}

thread_local! {
    /// The residuals of the block [`encode`] is packing (or [`encode_or_patch`] planning).
    static RESIDUALS: std::cell::RefCell<Vec<u64>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// Replaces `out` by the differences of order `order` of `values`, less `base`.
fn residuals(values: &[i64], order: usize, base: i64, out: &mut Vec<u64>) {
    out.clear();
    let less = move |r: i64| r.wrapping_sub(base) as u64;
    match order {
        0 => out.extend(values.iter().map(|&v| less(v))),
        1 => out.extend(values.windows(2).map(|w| match *w {
            [a, b] => less(b.wrapping_sub(a)),
            _ => 0,
        })),
        _ => out.extend(values.windows(3).map(|w| match *w {
            [a, b, c] => less(c.wrapping_sub(b).wrapping_sub(b.wrapping_sub(a))),
            _ => 0,
        })),
    }
}

/// Decodes `out.len()` values from an IntPack payload; `None` if the payload is malformed.
pub fn decode(payload: &[u8], out: &mut [i64]) -> Option<()> {
    decode_range(payload, out.len(), 0..out.len(), out)
}

/// The header of an IntPack payload of `total` values, checked against its packed length.
struct Header<'a> {
    order: usize,
    first: [i64; 2],
    base: i64,
    width: u8,
    packed: &'a [u8],
}

/// Reads the difference order and the initial values that start an IntPack or IntPatch
/// payload of `total` values; `None` if the order is above 2 or `total`, or the bytes end.
pub(super) fn order_and_first(c: &mut Cursor<'_>, total: usize) -> Option<(usize, [i64; 2])> {
    let order = usize::from(c.u8()?);
    if order > 2 || order > total {
        return None;
    }
    let mut first = [0i64; 2];
    for slot in first.iter_mut().take(order) {
        *slot = c.i64()?;
    }
    Some((order, first))
}

fn header(payload: &[u8], total: usize) -> Option<Header<'_>> {
    let mut c = Cursor::new(payload);
    let (order, first) = order_and_first(&mut c, total)?;
    let base = c.i64()?;
    let width = c.u8()?;
    if width > 64 {
        return None;
    }
    let packed = c.rest();
    if packed.len() != packed_len(total - order, width) {
        return None;
    }
    Some(Header {
        order,
        first,
        base,
        width,
        packed,
    })
}

/// The value all `total` values of an IntPack payload equal, when its header alone says so (no
/// residual bits, and residuals that add nothing); `None` otherwise, or when the payload is
/// malformed. A constant column (a day's price limits) then decodes as one value, filled.
pub fn constant(payload: &[u8], total: usize) -> Option<i64> {
    let h = header(payload, total)?;
    if h.width != 0 {
        return None;
    }
    match h.order {
        0 => Some(h.base),
        1 if h.base == 0 => Some(h.first[0]),
        2 if h.base == 0 && h.first[0] == h.first[1] => Some(h.first[0]),
        _ => None,
    }
}

/// The sums `S = x_0 + ... + x_{m-1}` and (when `weighted`) `T = 0*x_0 + 1*x_1 + ... +
/// (m-1)*x_{m-1}` of the first `m` packed residuals, wrapping: what a range starting past them
/// needs of them, without writing them anywhere.
fn residual_sums(packed: &[u8], width: u8, m: usize, weighted: bool) -> (i64, i64) {
    if width == 0 {
        return (0, 0);
    }
    const CHUNK: usize = 256; // a multiple of 8: each chunk starts on a byte
    let mut buf = [0u64; CHUNK];
    let (mut sum, mut weights) = (0u64, 0u64);
    let mut at = 0;
    while at < m {
        let n = (m - at).min(CHUNK);
        let from = at * usize::from(width) / 8;
        unpack_into(packed.get(from..).unwrap_or(&[]), width, &mut buf[..n]);
        let xs = &buf[..n];
        sum = xs.iter().fold(sum, |a, &x| a.wrapping_add(x));
        if weighted {
            weights = xs
                .iter()
                .zip(at as u64..)
                .fold(weights, |a, (&x, j)| a.wrapping_add(x.wrapping_mul(j)));
        }
        at += n;
    }
    (sum as i64, weights as i64)
}

/// Decodes values `keep` of the `total` an IntPack payload holds into `out` (of length
/// `keep.len()`). A range starting inside the block does not decode the values before it: the
/// difference orders have closed forms over the residuals before it (their sum, and for order
/// 2 their sum weighted by position), which a pass of additions gives.
pub fn decode_range(
    payload: &[u8],
    total: usize,
    keep: std::ops::Range<usize>,
    out: &mut [i64],
) -> Option<()> {
    if !super::range_fits(&keep, total, out.len()) {
        return None;
    }
    let start = keep.start;
    let h = header(payload, total)?;
    if out.is_empty() {
        return Some(());
    }
    let (base, width, packed) = (h.base, h.width, h.packed);
    match h.order {
        0 => unpack_from_map(packed, width, start, bytemuck::cast_slice_mut(out), |x| {
            x.wrapping_add(base as u64)
        }),
        1 => {
            // value[k] = first + k * base + (x_0 + ... + x_{k-1}).
            let (sum, _) = residual_sums(packed, width, start, false);
            let mut v = h.first[0]
                .wrapping_add((start as i64).wrapping_mul(base))
                .wrapping_add(sum);
            let (head, rest) = out.split_first_mut()?;
            *head = v;
            // value[k + 1] = value[k] + base + x_k.
            unpack_from_map(packed, width, start, bytemuck::cast_slice_mut(rest), |x| {
                v = v.wrapping_add(base.wrapping_add(x as i64));
                v as u64
            });
        }
        _ => {
            let [f0, f1] = h.first;
            let mut out = out;
            let mut k0 = start;
            if start == 0 {
                let (head, rest) = out.split_first_mut()?;
                *head = f0;
                out = rest;
                k0 = 1;
                if out.is_empty() {
                    return Some(());
                }
            }
            // With K = k - 1 and d = value[1] - value[0], for k >= 1:
            //   value[k] = value[1] + K * d + base * K(K+1)/2 + sum over j < K of (K - j) * x_j,
            //   value[k] - value[k-1] = d + K * base + (x_0 + ... + x_{K-1}).
            let kk = k0 - 1;
            let (sum, weights) = residual_sums(packed, width, kk, true);
            let k = kk as i64;
            let triangle = if kk.is_multiple_of(2) {
                (k / 2).wrapping_mul(k + 1)
            } else {
                k.wrapping_mul((k + 1) / 2)
            };
            let d1 = f1.wrapping_sub(f0);
            let mut v = f1
                .wrapping_add(k.wrapping_mul(d1))
                .wrapping_add(base.wrapping_mul(triangle))
                .wrapping_add(k.wrapping_mul(sum).wrapping_sub(weights));
            let mut d = d1.wrapping_add(k.wrapping_mul(base)).wrapping_add(sum);
            let (head, rest) = out.split_first_mut()?;
            *head = v;
            // d_{k+1} = d_k + base + x_{k-1}; value[k + 1] = value[k] + d_{k+1}.
            unpack_from_map(packed, width, kk, bytemuck::cast_slice_mut(rest), |x| {
                d = d.wrapping_add(base.wrapping_add(x as i64));
                v = v.wrapping_add(d);
                v as u64
            });
        }
    }
    Some(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn round_trip(values: &[i64]) -> usize {
        let mut buf = Vec::new();
        let range = encode(values, &mut buf);
        let (least, most) = (values.iter().min(), values.iter().max());
        assert_eq!(range, least.copied().zip(most.copied()));
        let mut back = vec![0; values.len()];
        decode(&buf, &mut back).unwrap();
        assert_eq!(back, values);
        buf.len()
    }

    #[test]
    fn constant_payloads_are_recognised_from_the_header_alone() {
        // Handmade headers of 5 values: order, initial values, base, width 0.
        let payload = |order: u8, first: &[i64], base: i64| {
            let mut p = vec![order];
            first.iter().for_each(|f| p.extend(f.to_le_bytes()));
            p.extend(base.to_le_bytes());
            p.push(0);
            p
        };
        let cases = [
            (payload(0, &[], 7), Some(7)),
            (payload(1, &[9], 0), Some(9)),
            (payload(1, &[9], 2), None),
            (payload(2, &[4, 4], 0), Some(4)),
            (payload(2, &[4, 5], 0), None),
            (payload(2, &[4, 4], -1), None),
        ];
        for (p, want) in &cases {
            assert_eq!(constant(p, 5), *want, "{p:?}");
            let mut out = [0i64; 5];
            decode(p, &mut out).unwrap();
            // Every constant found is what a full decode gives each value.
            if let Some(k) = want {
                assert_eq!(out, [*k; 5]);
            } else {
                assert!(out.iter().any(|v| *v != out[0]), "{out:?}");
            }
        }
        let mut ramp = Vec::new();
        encode(&[1, 2, 3, 5], &mut ramp);
        assert_eq!(constant(&ramp, 4), None);
        // Malformed: cut short, or more values than the payload holds.
        assert_eq!(constant(&payload(0, &[], 7)[..5], 5), None);
        assert_eq!(constant(&payload(1, &[9], 0), 0), None);
    }

    #[test]
    fn ranges_on_the_widest_vectors_are_the_baselines() {
        let mut rnd = crate::codec::xorshift(0x853c_49e6_748f_ea9b);
        let mut next = move || rnd() as i64;
        for len in [0, 1, 2, 3, 8, 17, 2048] {
            // Full-range values (differences wrap), small ones, and the extremes.
            for shift in [0, 20, 50, 63] {
                let mut values: Vec<i64> = (0..len).map(|_| next() >> shift).collect();
                if len > 4 {
                    (values[1], values[len - 2]) = (i64::MIN, i64::MAX);
                }
                let wide = ranges(&values);
                assert_eq!(wide, ranges_on(&values), "len {len}, shift {shift}");
                let least = values.iter().copied().min();
                assert_eq!(wide[0], least.zip(values.iter().copied().max()));
            }
        }
        assert_eq!(
            ranges(&[5, 7, 9, 11]),
            [Some((5, 11)), Some((2, 2)), Some((0, 0))]
        );
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
    fn every_range_decodes_as_the_slice_of_a_full_decode() {
        let mut rnd = crate::codec::xorshift(0x2545_f491_4f6c_dd1d);
        let n = 75i64;
        // Sequences the encoder packs with difference order 0, 1 and 2, at narrow and full
        // widths (a full width reads values across two words), and wrapping ones.
        let sets: Vec<(usize, Vec<i64>)> = vec![
            (0, (0..n).map(|_| (rnd() % 50) as i64 - 25).collect()),
            (0, (0..n).map(|_| rnd() as i64).collect()),
            (0, vec![-3; n as usize]),
            (
                1,
                (0..n)
                    .scan(0i64, |a, _| {
                        *a += (rnd() % 9) as i64 - 4;
                        Some(*a)
                    })
                    .collect(),
            ),
            (
                1,
                (0..n)
                    .map(|i| 1_700_000_000_000_000_000 + i * 60_000_000_000)
                    .collect(),
            ),
            (1, (0..n).map(|i| (i64::MAX - 3).wrapping_add(i)).collect()),
            (
                2,
                (0..n)
                    .map(|i| i * i * 7 - 3 * i + 11 + (rnd() % 3) as i64)
                    .collect(),
            ),
            (2, (0..n).map(|i| i64::MIN + i * i * 1_000_003).collect()),
        ];
        for (order, values) in sets {
            let mut buf = Vec::new();
            encode(&values, &mut buf);
            assert_eq!(usize::from(buf[0]), order, "{values:?}");
            let total = values.len();
            crate::codec::assert_every_range(
                &values,
                |keep, out| decode_range(&buf, total, keep, out),
                &format!("order {order}"),
            );
        }
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
