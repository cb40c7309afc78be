//! Fixed-width bit packing of `u64` values, least significant bit first.
//!
//! Value `i` occupies bits `[i*w, (i+1)*w)` of the byte string read as one little-endian integer.

/// Bytes needed for `n` values of `width` bits.
pub fn packed_len(n: usize, width: u8) -> usize {
    (n * usize::from(width)).div_ceil(8)
}

/// The number of bits needed to hold `v` (0 for 0).
pub fn bit_width(v: u64) -> u8 {
    (64 - v.leading_zeros()) as u8
}

/// Values packed together: `CHUNK` values of `w` bits fill exactly `w` words, so each chunk
/// starts on a word of its own.
const CHUNK: usize = 64;

/// Chunks packed side by side in one pass: their values sit at the same bit offsets, so one
/// offset and one word-full test serve them all, and their words do not depend on each other.
const LANES: usize = 4;

/// Appends `values`, each `width` bits wide, to `out`. Bits above `width` must be zero.
///
/// Whole chunks of [`CHUNK`] values are packed [`LANES`] at a time into room made for them; the
/// last partial chunk value by value.
pub fn pack(values: &[u64], width: u8, out: &mut Vec<u8>) {
    if width == 0 {
        return;
    }
    let w = usize::from(width);
    let whole = values.len() / CHUNK;
    let start = out.len();
    out.resize(start + whole * w * 8, 0);
    let dst = out.get_mut(start..).unwrap_or_default();
    let mut groups = dst.chunks_exact_mut(LANES * w * 8);
    let mut from = values.chunks_exact(LANES * CHUNK);
    for (dst, vals) in (&mut groups).zip(&mut from) {
        pack_chunks::<LANES>(vals, w, dst);
    }
    let rest = groups.into_remainder().chunks_exact_mut(w * 8);
    let mut vals = from.remainder().chunks_exact(CHUNK);
    for (dst, vals) in rest.zip(&mut vals) {
        pack_chunks::<1>(vals, w, dst);
    }
    pack_tail(vals.remainder(), width, out);
}

/// Packs the `L` chunks of `vals` into `dst`, the `w` words of each chunk after those of the
/// one before.
#[inline(always)]
fn pack_chunks<const L: usize>(vals: &[u64], w: usize, dst: &mut [u8]) {
    let lanes: [&[u64; CHUNK]; L] = std::array::from_fn(|l| {
        vals.get(l * CHUNK..(l + 1) * CHUNK)
            .and_then(|c| c.try_into().ok())
            .unwrap_or(&[0; CHUNK])
    });
    let outs: [&mut [u8]; L] = {
        let mut parts = dst.chunks_exact_mut(w * 8);
        std::array::from_fn(|_| parts.next().unwrap_or_default())
    };
    let mut acc = [0u64; L];
    let mut bits = 0usize;
    let mut word = 0usize;
    // The `j`-th value of every chunk, for `j` in order.
    let steps = (0..CHUNK).map(|j| -> [u64; L] { std::array::from_fn(|l| lanes[l][j]) });
    for v in steps {
        for l in 0..L {
            acc[l] |= v[l] << bits;
        }
        bits += w;
        if bits >= 64 {
            bits -= 64;
            for l in 0..L {
                if let Some(slot) = outs[l].get_mut(word * 8..word * 8 + 8) {
                    slot.copy_from_slice(&acc[l].to_le_bytes());
                }
                // The `bits` high bits of the value that did not fit (none when `bits` is 0).
                acc[l] = v[l].checked_shr((w - bits) as u32).unwrap_or(0);
            }
            word += 1;
        }
    }
}

/// Appends `values` (fewer than a chunk, from a word boundary) one by one.
fn pack_tail(values: &[u64], width: u8, out: &mut Vec<u8>) {
    let w = u32::from(width);
    // `acc` holds the low `bits` (< 64) bits not yet written; a value that crosses a word
    // boundary leaves its high bits in it for the next word.
    let mut acc: u64 = 0;
    let mut bits = 0u32;
    for &v in values {
        acc |= v << bits;
        bits += w;
        if bits >= 64 {
            out.extend_from_slice(&acc.to_le_bytes());
            bits -= 64;
            acc = v.checked_shr(w - bits).unwrap_or(0);
        }
    }
    let tail = acc.to_le_bytes();
    out.extend_from_slice(tail.get(..bits.div_ceil(8) as usize).unwrap_or(&tail));
}

/// Reads 8 bytes at `at`, zero-padded past the end of `bytes`.
#[inline]
fn word_at(bytes: &[u8], at: usize) -> u64 {
    match bytes.get(at..at + 8) {
        Some(s) => {
            let mut w = [0u8; 8];
            w.copy_from_slice(s);
            u64::from_le_bytes(w)
        }
        None => {
            let mut w = [0u8; 8];
            let rest = bytes.get(at..).unwrap_or(&[]);
            w[..rest.len()].copy_from_slice(rest);
            u64::from_le_bytes(w)
        }
    }
}

/// Calls `f(i, value)` for each of the `n` values packed in `bytes` with `width` bits.
/// The caller checks `bytes.len() >= packed_len(n, width)`; missing bytes read as zero.
#[inline]
pub fn unpack_each(bytes: &[u8], n: usize, width: u8, mut f: impl FnMut(usize, u64)) {
    let w = usize::from(width);
    if w == 0 {
        (0..n).for_each(|i| f(i, 0));
        return;
    }
    let mask = if w == 64 { u64::MAX } else { (1u64 << w) - 1 };
    if w <= 56 {
        // A fast run where 8 bytes can be read at each value's first byte.
        let fast_n = if bytes.len() >= 8 {
            ((bytes.len() - 8) * 8 / w + 1).min(n)
        } else {
            0
        };
        for i in 0..fast_n {
            let bit = i * w;
            let at = bit >> 3;
            let mut word = [0u8; 8];
            if let Some(s) = bytes.get(at..at + 8) {
                word.copy_from_slice(s);
            }
            f(i, (u64::from_le_bytes(word) >> (bit & 7)) & mask);
        }
        for i in fast_n..n {
            let bit = i * w;
            f(i, (word_at(bytes, bit >> 3) >> (bit & 7)) & mask);
        }
    } else {
        (0..n).for_each(|i| f(i, value_at(bytes, width, i)));
    }
}

/// Unpacks `out.len()` values of `width` bits from `bytes` into `out` (missing bytes read as zero).
pub fn unpack_into(bytes: &[u8], width: u8, out: &mut [u64]) {
    unpack_map(bytes, width, out, |v| v);
}

/// Unpacks as [`unpack_into`] does, storing `f(value)` for each value in order: a decoder that
/// turns residuals into values (adding a base, summing differences) does it in the same pass.
#[inline]
pub fn unpack_map(bytes: &[u8], width: u8, out: &mut [u64], mut f: impl FnMut(u64) -> u64) {
    macro_rules! dispatch {
        ($($w:literal)*) => {
            match width {
                0 => out.iter_mut().for_each(|slot| *slot = f(0)),
                $($w => unpack_const::<$w>(bytes, out, f),)*
                _ => unpack_each(bytes, out.len(), width, |i, v| {
                    if let Some(slot) = out.get_mut(i) {
                        *slot = f(v);
                    }
                }),
            }
        };
    }
    dispatch!(1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20 21 22 23 24 25 26 27 28 29 30 31 32
              33 34 35 36 37 38 39 40 41 42 43 44 45 46 47 48 49 50 51 52 53 54 55 56)
}

/// Unpacks values `first..first + out.len()` of `width` bits from `bytes` into `out`, each
/// passed through `f` in order: the few before the first byte-aligned group of 8 one by one, the
/// rest with [`unpack_map`].
#[inline]
pub fn unpack_from_map(
    bytes: &[u8],
    width: u8,
    first: usize,
    out: &mut [u64],
    mut f: impl FnMut(u64) -> u64,
) {
    let head = ((8 - first % 8) % 8).min(out.len());
    let (lead, rest) = out.split_at_mut(head);
    for (i, slot) in lead.iter_mut().enumerate() {
        *slot = f(value_at(bytes, width, first + i));
    }
    // `first + head` is a multiple of 8 (or nothing is left): its values start on a byte.
    let from = (first + head) * usize::from(width) / 8;
    unpack_map(bytes.get(from..).unwrap_or(&[]), width, rest, f);
}

/// Value `i` of those packed in `bytes` with `width` bits (missing bytes read as zero).
fn value_at(bytes: &[u8], width: u8, i: usize) -> u64 {
    let w = usize::from(width);
    if w == 0 {
        return 0;
    }
    let mask = if w == 64 { u64::MAX } else { (1u64 << w) - 1 };
    let bit = i * w;
    let (at, shift) = (bit >> 3, (bit & 7) as u32);
    let lo = word_at(bytes, at) >> shift;
    let hi = if shift == 0 {
        0
    } else {
        word_at(bytes, at + 8) << (64 - shift)
    };
    (lo | hi) & mask
}

/// Unpacks with a width known at compile time: 8 values (exactly `W` bytes) per step, with
/// constant shifts, so the inner loop is straight-line code.
#[inline(always)]
fn unpack_const<const W: usize>(bytes: &[u8], out: &mut [u64], mut f: impl FnMut(u64) -> u64) {
    let mask = (1u64 << W) - 1;
    let span = (7 * W) / 8 + 8;
    let mut done = 0;
    for (g, group) in out.chunks_exact_mut(8).enumerate() {
        let Some(chunk) = bytes.get(g * W..g * W + span) else {
            break;
        };
        for (j, slot) in group.iter_mut().enumerate() {
            let bit = j * W;
            let at = bit >> 3;
            let mut word = [0u8; 8];
            word.copy_from_slice(&chunk[at..at + 8]);
            *slot = f((u64::from_le_bytes(word) >> (bit & 7)) & mask);
        }
        done += 8;
    }
    for (i, slot) in out.iter_mut().enumerate().skip(done) {
        let bit = i * W;
        *slot = f((word_at(bytes, bit >> 3) >> (bit & 7)) & mask);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_every_width() {
        for width in 0..=64u8 {
            let mask = if width == 64 {
                u64::MAX
            } else {
                (1u64 << width) - 1
            };
            let values: Vec<u64> = (0..741u64)
                .map(|i| i.wrapping_mul(0x9E37_79B9_7F4A_7C15) & mask)
                .collect();
            let mut out = Vec::new();
            pack(&values, width, &mut out);
            assert_eq!(out.len(), packed_len(values.len(), width), "width {width}");
            let mut back = vec![0u64; values.len()];
            unpack_each(&out, values.len(), width, |i, v| back[i] = v);
            assert_eq!(back, values, "width {width}");
            let mut fast = vec![0u64; values.len()];
            unpack_into(&out, width, &mut fast);
            assert_eq!(fast, values, "width {width}");
        }
    }

    #[test]
    fn packs_each_bit_where_the_format_puts_it() {
        // Bit `b` of value `k` is bit `k * width + b` of the little-endian stream.
        for width in 1..=64u8 {
            let w = usize::from(width);
            let values: Vec<u64> = (0..357u64)
                .map(|i| i.wrapping_mul(0xD1B5_4A32_D192_ED03) >> (64 - w))
                .collect();
            let mut want = vec![0u8; (values.len() * w).div_ceil(8)];
            for (k, v) in values.iter().enumerate() {
                for b in 0..w {
                    if v >> b & 1 == 1 {
                        let at = k * w + b;
                        want[at / 8] |= 1 << (at % 8);
                    }
                }
            }
            let mut out = vec![0xAB];
            pack(&values, width, &mut out);
            assert_eq!(out[0], 0xAB, "appends");
            assert_eq!(out[1..], want[..], "width {width}");
        }
    }

    #[test]
    fn widths() {
        assert_eq!(bit_width(0), 0);
        assert_eq!(bit_width(1), 1);
        assert_eq!(bit_width(255), 8);
        assert_eq!(bit_width(u64::MAX), 64);
    }
}
