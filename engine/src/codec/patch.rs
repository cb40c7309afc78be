//! `IntPatch`: integers as differences, packed as IntPack packs them, but in units of a step
//! and with exceptions: the few residuals too wide for the packed width are stored whole after
//! the packed ones instead of widening every value.
//!
//! A time column is a regular grid with gaps (a lunch break, a night, a weekend). IntPack packs
//! each of its differences as wide as the widest gap (46 bits for a night of minute bars), and
//! only LZ4 after it wins the room back, at a cost in time on both sides. Here the differences of
//! a regular grid pack in 0 bits, local times in milliseconds in 7, and each gap costs 12 bytes.
//!
//! Payload (FORMAT.md, "IntPatch"): `order: u8`, `order` initial values (`i64`), `base: i64`,
//! `step: u64` (at least 1), `width: u8`, `count: u32`, the `n - order` quotients packed in
//! `width` bits (0 where an exception is), `count` exception positions (`u32`, ascending, each
//! below `n - order`), then their `count` quotients (`u64`). Residual `j` is `base + step * q_j`
//! with wrapping arithmetic, and values are their sums as for IntPack.

use super::bitpack::{bit_width, pack, packed_len, unpack_from_map};
use super::cursor::Cursor;

/// The steps a writer tries, largest first: whole seconds, milliseconds and microseconds of
/// nanosecond times. Each is `2^shift * odd`, as [`Step`] needs.
const STEPS: [Step; 3] = [
    Step::new(1_000_000_000),
    Step::new(1_000_000),
    Step::new(1_000),
];

/// A step `2^shift * odd` with the inverse of `odd` modulo 2^64: `x` is a multiple of the step
/// exactly when `(x * inverse).rotate_right(shift) <= u64::MAX / step`, and then that is the
/// quotient (Granlund and Montgomery's divisibility test: one multiplication, no division).
#[derive(Debug, Clone, Copy)]
struct Step {
    step: u64,
    shift: u32,
    inverse: u64,
    limit: u64,
}

impl Step {
    const fn new(step: u64) -> Step {
        let shift = step.trailing_zeros();
        let odd = step >> shift;
        // Newton's iteration doubles the correct low bits of an inverse each round; `odd` is
        // its own inverse modulo 8 (3 bits), so five rounds give 96 > 64.
        let mut inverse = odd;
        let mut round = 0;
        while round < 5 {
            inverse = inverse.wrapping_mul(2u64.wrapping_sub(odd.wrapping_mul(inverse)));
            round += 1;
        }
        Step {
            step,
            shift,
            inverse,
            limit: u64::MAX / step,
        }
    }

    /// `x / step` if `x` is a multiple of the step, else a value above `limit`.
    #[inline(always)]
    fn quotient(self, x: u64) -> u64 {
        x.wrapping_mul(self.inverse).rotate_right(self.shift)
    }
}

/// The encoding [`plan`] chose: the residuals' base, step and width, where the exceptions are,
/// and the payload's length.
#[derive(Debug, Clone, PartialEq)]
pub struct Plan {
    base: i64,
    step: u64,
    width: u8,
    /// Positions of the quotients wider than `width`, ascending.
    exceptions: Vec<u32>,
    /// The payload's length in bytes.
    pub len: usize,
}

/// Fixed bytes of an order-1 payload: order, one initial value, base, step, width, count.
const HEADER_1: usize = 1 + 8 + 8 + 8 + 1 + 4;

/// Bytes an exception takes: its position and its quotient.
const EXCEPTION: usize = 4 + 8;

/// Every how many quotients [`plan`] takes one to choose the width from their widths.
const SAMPLE_EVERY: usize = 8;

/// Differences a pass handles at a time: a step that does not divide them is given up early.
const RUN: usize = 256;

/// An IntPatch encoding of the order-1 differences of `values`, whose least difference is
/// `least` (as IntPack's ranges found it), given `room`, a scratch buffer it leaves holding the
/// differences less `least`, in units of the chosen step. `None` with fewer than 2 values, or
/// more than `u32::MAX`.
///
/// The step is the largest of [`STEPS`] that divides every difference less `least` (else 1).
/// The width is the one that would make the payload shortest, at 12 bytes an exception, were the
/// quotients' widths those of every eighth quotient; the exceptions are then found exactly. The
/// width is a writer's choice, which the format does not fix. The passes over every quotient
/// are plain loops, compiled for the widest vectors ([`super::widest`]).
pub fn plan(values: &[i64], least: i64, room: &mut Vec<u64>) -> Option<Plan> {
    let n = values.len().checked_sub(1).filter(|n| *n > 0)?;
    u32::try_from(n).ok()?;
    let step = super::widest(
        #[inline(always)]
        || quotients(values, least, room),
    );
    let mut by_width = [0usize; 65];
    for &q in room.iter().step_by(SAMPLE_EVERY) {
        by_width[usize::from(bit_width(q))] += SAMPLE_EVERY;
    }
    // Exceptions at width `w` are the quotients wider than `w`.
    let mut wider: usize = by_width.iter().sum();
    let mut best: Option<(usize, u8)> = None;
    for (w, &count) in by_width.iter().enumerate() {
        wider -= count;
        let len = packed_len(n, w as u8) + EXCEPTION * wider;
        if best.is_none_or(|(l, _)| len < l) {
            best = Some((len, w as u8));
        }
    }
    let (_, width) = best?;
    let most = most(width);
    let exceptions = super::widest(
        #[inline(always)]
        || {
            // Runs of 16 are tested at once (exceptions are few), and only a run that holds
            // one value by value.
            let mut at = Vec::new();
            for (r, run) in room.chunks(16).enumerate() {
                if run.iter().fold(false, |any, &q| any | (q > most)) {
                    let wide = run.iter().enumerate().filter(|(_, q)| **q > most);
                    at.extend(wide.map(|(i, _)| (r * 16 + i) as u32));
                }
            }
            at
        },
    );
    Some(Plan {
        base: least,
        step: step.map_or(1, |s| s.step),
        width,
        len: HEADER_1 + packed_len(n, width) + EXCEPTION * exceptions.len(),
        exceptions,
    })
}

/// Fills `room` with the order-1 differences of `values` less `least`, divided by the largest
/// of [`STEPS`] that divides them all (returned), else as they are. A step divides them when
/// the bits of all the quotients together stay within its limit (a quotient is at most them; a
/// step that would pass with every quotient below its limit is merely not used). A run of
/// [`RUN`] that fails gives the step up.
#[inline(always)]
fn quotients(values: &[i64], least: i64, room: &mut Vec<u64>) -> Option<Step> {
    let diff = move |w: &[i64]| match *w {
        [a, b] => b.wrapping_sub(a).wrapping_sub(least) as u64,
        _ => 0,
    };
    let n = values.len().saturating_sub(1);
    'steps: for s in STEPS {
        room.clear();
        for from in (0..n).step_by(RUN) {
            let run = values.get(from..=(from + RUN).min(n)).unwrap_or_default();
            room.extend(run.windows(2).map(|w| s.quotient(diff(w))));
            if room[from..].iter().fold(0u64, |bits, &q| bits | q) > s.limit {
                continue 'steps;
            }
        }
        return Some(s);
    }
    room.clear();
    room.extend(values.windows(2).map(diff));
    None
}

/// The greatest value `width` bits hold.
fn most(width: u8) -> u64 {
    u64::MAX.checked_shr(64 - u32::from(width)).unwrap_or(0)
}

/// Appends the IntPatch payload of `values` with order 1, as `plan` (from [`plan`]) chose,
/// given the scratch `room` [`plan`] left.
pub fn encode(values: &[i64], plan: &Plan, room: &mut [u64], out: &mut Vec<u8>) {
    let Some(&first) = values.first() else {
        return;
    };
    let start = out.len();
    out.reserve(plan.len);
    out.push(1);
    out.extend_from_slice(&first.to_le_bytes());
    out.extend_from_slice(&plan.base.to_le_bytes());
    out.extend_from_slice(&plan.step.to_le_bytes());
    out.push(plan.width);
    out.extend_from_slice(&(plan.exceptions.len() as u32).to_le_bytes());
    let mut quotients = Vec::with_capacity(plan.exceptions.len() * 8);
    for &at in &plan.exceptions {
        if let Some(q) = room.get_mut(at as usize) {
            quotients.extend_from_slice(&q.to_le_bytes());
            *q = 0;
        }
    }
    pack(room, plan.width, out);
    for at in &plan.exceptions {
        out.extend_from_slice(&at.to_le_bytes());
    }
    out.extend_from_slice(&quotients);
    debug_assert_eq!(out.len() - start, plan.len);
}

/// An IntPatch payload of `total` values, checked: its length exact, its exceptions in order.
struct Header<'a> {
    order: usize,
    first: [i64; 2],
    base: i64,
    step: u64,
    width: u8,
    packed: &'a [u8],
    positions: &'a [u8],
    quotients: &'a [u8],
}

fn header(payload: &[u8], total: usize) -> Option<Header<'_>> {
    let mut c = Cursor::new(payload);
    let (order, first) = super::int::order_and_first(&mut c, total)?;
    let base = c.i64()?;
    let step = c.u64()?;
    let width = c.u8()?;
    let count = c.u32()? as usize;
    let residuals = total - order;
    if step == 0 || width > 64 || count > residuals {
        return None;
    }
    let rest = c.rest();
    let packed_bytes = packed_len(residuals, width);
    if rest.len() != packed_bytes + count * EXCEPTION {
        return None;
    }
    let (packed, tail) = rest.split_at(packed_bytes);
    let (positions, quotients) = tail.split_at(count * 4);
    let h = Header {
        order,
        first,
        base,
        step,
        width,
        packed,
        positions,
        quotients,
    };
    let mut next = 0usize;
    for (p, _) in h.exceptions() {
        if p < next || p >= residuals {
            return None;
        }
        next = p + 1;
    }
    Some(h)
}

impl Header<'_> {
    /// The exceptions' positions and quotients, in order.
    fn exceptions(&self) -> impl Iterator<Item = (usize, u64)> + '_ {
        let positions = self.positions.chunks_exact(4);
        positions.zip(self.quotients.chunks_exact(8)).map(|(p, q)| {
            let p = u32::from_le_bytes(p.try_into().unwrap_or_default());
            (
                p as usize,
                u64::from_le_bytes(q.try_into().unwrap_or_default()),
            )
        })
    }
}

/// Decodes `out.len()` values from an IntPatch payload; `None` if the payload is malformed.
pub fn decode(payload: &[u8], out: &mut [i64]) -> Option<()> {
    let h = header(payload, out.len())?;
    if (h.order, h.width) == (1, 0) {
        return grid(&h, 0, out);
    }
    let (head, rest) = out.split_at_mut(h.order);
    head.copy_from_slice(h.first.get(..h.order)?);
    residuals(&h, rest)?;
    // The sums in a pass of their own, their state in registers: folded into the unpacking,
    // it went through memory, a store and a load on the chain of every value.
    match h.order {
        0 => {}
        1 => {
            let mut v = h.first[0];
            for slot in rest.iter_mut() {
                v = v.wrapping_add(*slot);
                *slot = v;
            }
        }
        _ => {
            let [f0, f1] = h.first;
            let (mut v, mut d) = (f1, f1.wrapping_sub(f0));
            for slot in rest.iter_mut() {
                d = d.wrapping_add(*slot);
                v = v.wrapping_add(d);
                *slot = v;
            }
        }
    }
    Some(())
}

/// Decodes values `keep` of the `total` an IntPatch payload holds into `out` (of length
/// `keep.len()`). A grid with gaps (order 1, no packed bits) starts from its closed form, value
/// `k` being `first + k * base + step * (the quotients of the exceptions before k)`, so a range
/// inside a block costs its own length; other payloads are decoded whole and the range copied.
pub fn decode_range(
    payload: &[u8],
    total: usize,
    keep: std::ops::Range<usize>,
    out: &mut [i64],
) -> Option<()> {
    if !super::range_fits(&keep, total, out.len()) {
        return None;
    }
    let h = header(payload, total)?;
    if (h.order, h.width) == (1, 0) {
        return grid(&h, keep.start, out);
    }
    let mut all = vec![0i64; total];
    decode(payload, &mut all)?;
    out.copy_from_slice(all.get(keep)?);
    Some(())
}

/// Decodes values `start..start + out.len()` of an order-1 payload with no packed bits (a grid
/// with gaps) in one pass. Value `k` is `first + k * base + step * (the quotients of the
/// exceptions below k)`, so the pass starts there; then between exceptions each value is the
/// one before plus the base, a loop the compiler turns into arithmetic progressions.
fn grid(h: &Header<'_>, start: usize, out: &mut [i64]) -> Option<()> {
    let (base, step) = (h.base, h.step);
    let end = start + out.len();
    let mut v = h.first[0].wrapping_add((start as i64).wrapping_mul(base));
    // Residual `j` takes value `j` to value `j + 1`, which is `rest[j - start]`.
    let mut exceptions = h.exceptions().peekable();
    while let Some((_, q)) = exceptions.next_if(|(p, _)| *p < start) {
        v = v.wrapping_add(step.wrapping_mul(q) as i64);
    }
    let Some((head, rest)) = out.split_first_mut() else {
        return Some(());
    };
    *head = v;
    let mut at = start;
    for (p, q) in exceptions.take_while(|(p, _)| p + 1 < end) {
        for slot in rest.get_mut(at - start..p - start)? {
            v = v.wrapping_add(base);
            *slot = v;
        }
        v = v.wrapping_add(base.wrapping_add(step.wrapping_mul(q) as i64));
        *rest.get_mut(p - start)? = v;
        at = p + 1;
    }
    for slot in rest.get_mut(at - start..)? {
        v = v.wrapping_add(base);
        *slot = v;
    }
    Some(())
}

/// Writes residual `j` of `h` into `out[j]`: the runs of packed quotients between exceptions
/// unpacked, each exception in its place.
fn residuals(h: &Header<'_>, out: &mut [i64]) -> Option<()> {
    let (base, step, width, packed) = (h.base, h.step, h.width, h.packed);
    let residual = move |q: u64| base.wrapping_add(step.wrapping_mul(q) as i64);
    let mut at = 0usize;
    for (p, q) in h.exceptions() {
        unpack_run(packed, width, at, out.get_mut(at..p)?, residual);
        *out.get_mut(p)? = residual(q);
        at = p + 1;
    }
    unpack_run(packed, width, at, out.get_mut(at..)?, residual);
    Some(())
}

/// The packed quotients `at..` into `run`, each turned into its residual; with no bits, each
/// is the base.
#[inline(always)]
fn unpack_run(packed: &[u8], width: u8, at: usize, run: &mut [i64], residual: impl Fn(u64) -> i64) {
    if width == 0 {
        run.fill(residual(0));
    } else {
        unpack_from_map(packed, width, at, bytemuck::cast_slice_mut(run), |x| {
            residual(x) as u64
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn round_trip(values: &[i64]) -> (Plan, Vec<u8>) {
        let least = values
            .windows(2)
            .map(|w| w[1].wrapping_sub(w[0]))
            .min()
            .unwrap();
        let mut room = Vec::new();
        let plan = plan(values, least, &mut room).unwrap();
        let mut buf = vec![0xAA];
        encode(values, &plan, &mut room, &mut buf);
        assert_eq!(buf.len() - 1, plan.len);
        let mut back = vec![0; values.len()];
        decode(&buf[1..], &mut back).unwrap();
        assert_eq!(back, values);
        (plan, buf.split_off(1))
    }

    #[test]
    fn steps_test_divisibility_as_the_remainder_does() {
        let mut rnd = crate::codec::xorshift(0x9e37_79b9_7f4a_7c15);
        for s in STEPS
            .into_iter()
            .chain([Step::new(1), Step::new(60_000_000_000)])
        {
            let mut xs: Vec<u64> = vec![0, 1, s.step, s.step - 1, s.step + 1, u64::MAX];
            xs.extend((0..1000).map(|_| rnd() >> (rnd() % 64)));
            xs.extend((0..1000).map(|_| (rnd() % s.limit) * s.step));
            xs.push(s.limit * s.step);
            for x in xs {
                let q = s.quotient(x);
                assert_eq!(q <= s.limit, x % s.step == 0, "{x} by {}", s.step);
                if x % s.step == 0 {
                    assert_eq!(q, x / s.step);
                }
            }
        }
    }

    /// Minute bars of `days` A-share days from 09:30: 240 a day, a break at lunch and overnight.
    fn minutes(days: i64) -> Vec<i64> {
        let (min, day) = (60_000_000_000i64, 86_400_000_000_000i64);
        (0..days)
            .flat_map(|d| {
                let sessions = [(570, 690), (780, 900)];
                sessions
                    .into_iter()
                    .flat_map(move |(a, b)| (a..b).map(move |m| d * day + m * min))
            })
            .map(|t| 1_262_534_400_000_000_000 + t)
            .collect()
    }

    #[test]
    fn a_grid_with_gaps_packs_in_no_bits_and_an_exception_per_gap() {
        let times = minutes(9);
        let (plan, buf) = round_trip(&times[..2048]);
        // Eight days and a half: 9 lunches and 8 nights, each a gap.
        assert_eq!(
            (plan.base, plan.step, plan.width, plan.exceptions.len()),
            (60_000_000_000, 1_000_000_000, 0, 17)
        );
        assert_eq!(buf.len(), HEADER_1 + 17 * 12);
        // The first exception is the lunch break after bar 119 (11:29 to 13:00, 91 minutes),
        // in seconds above the least difference (one minute).
        let at = HEADER_1;
        assert_eq!(buf[at..at + 4], 119u32.to_le_bytes());
        let q = u64::from_le_bytes(buf[at + 17 * 4..at + 17 * 4 + 8].try_into().unwrap());
        assert_eq!(q, 90 * 60);
    }

    #[test]
    fn local_times_pack_in_milliseconds_and_the_width_of_the_most() {
        // Every 500 ms plus 1 to 40 ms of delay, and a gap of an hour every 700 values.
        let mut rnd = crate::codec::xorshift(0x2545_f491_4f6c_dd1d);
        let mut t = 1_700_000_000_000_000_000i64;
        let times: Vec<i64> = (0..2048)
            .map(|i| {
                t += if i % 700 == 699 {
                    3_600_000_000_000
                } else {
                    500_000_000
                };
                t + (rnd() % 40 + 1) as i64 * 1_000_000
            })
            .collect();
        let (plan, _) = round_trip(&times);
        // Differences from 461 to 539 ms, less the least: under 2^7 ms. (At 6 bits, the one
        // in thirteen above 63 ms would cost more as exceptions than the bit they save.)
        assert_eq!(
            (plan.step, plan.width, plan.exceptions.len()),
            (1_000_000, 7, 2)
        );
    }

    #[test]
    fn any_sequence_round_trips() {
        let mut rnd = crate::codec::xorshift(0x853c_49e6_748f_ea9b);
        let sets: Vec<Vec<i64>> = vec![
            vec![5, 5],
            vec![i64::MIN, i64::MAX, 0, -1, 1, i64::MAX],
            (0..300).map(|_| rnd() as i64).collect(),
            (0..300)
                .map(|i| if i % 17 == 0 { i64::MIN } else { i * 1000 })
                .collect(),
            (0..777)
                .map(|i| i * 3 + (rnd() % 2) as i64 * (1 << 40))
                .collect(),
        ];
        for values in sets {
            round_trip(&values);
        }
    }

    #[test]
    fn every_range_decodes_as_the_slice_of_a_full_decode() {
        // A grid with gaps at the first and last residual and in between (the closed form), and
        // a payload with packed bits (decoded whole).
        let mut t = 0i64;
        let grid: Vec<i64> = (0..90)
            .map(|i| {
                t += if [1, 2, 30, 31, 88].contains(&i) {
                    7_000
                } else {
                    60
                };
                t
            })
            .collect();
        let mut rnd = crate::codec::xorshift(0x9e37_79b9_7f4a_7c15);
        let mut t = 0i64;
        let local: Vec<i64> = (0..90)
            .map(|i| {
                t += if i == 45 {
                    1 << 40
                } else {
                    500 + (rnd() % 40) as i64
                };
                t
            })
            .collect();
        for (values, packed) in [(grid, false), (local, true)] {
            let (plan, payload) = round_trip(&values);
            assert!(!plan.exceptions.is_empty());
            assert_eq!(plan.width > 0, packed, "{plan:?}");
            let n = values.len();
            crate::codec::assert_every_range(
                &values,
                |keep, out| decode_range(&payload, n, keep, out),
                &format!("{plan:?}"),
            );
        }
    }

    /// A payload from its fields, as FORMAT.md lays it out, and the values it stands for,
    /// computed from the definition.
    fn handmade(
        order: usize,
        base: i64,
        step: u64,
        width: u8,
        q: &[u64],
        exc: &[(u32, u64)],
    ) -> (Vec<u8>, Vec<i64>) {
        let first = [1_000i64, 997];
        let mut p = vec![order as u8];
        first
            .iter()
            .take(order)
            .for_each(|f| p.extend(f.to_le_bytes()));
        p.extend(base.to_le_bytes());
        p.extend(step.to_le_bytes());
        p.push(width);
        p.extend((exc.len() as u32).to_le_bytes());
        pack(q, width, &mut p);
        exc.iter().for_each(|(at, _)| p.extend(at.to_le_bytes()));
        exc.iter().for_each(|(_, x)| p.extend(x.to_le_bytes()));
        let mut q = q.to_vec();
        exc.iter().for_each(|&(at, x)| q[at as usize] = x);
        let r: Vec<i64> = q
            .iter()
            .map(|&x| base.wrapping_add(step.wrapping_mul(x) as i64))
            .collect();
        let mut values = first[..order].to_vec();
        for (j, &r) in r.iter().enumerate() {
            let k = j + order;
            values.push(match order {
                0 => r,
                1 => values[k - 1].wrapping_add(r),
                _ => values[k - 1]
                    .wrapping_add(values[k - 1].wrapping_sub(values[k - 2]))
                    .wrapping_add(r),
            });
        }
        (p, values)
    }

    #[test]
    fn every_order_and_width_decodes_as_format_md_defines() {
        let q: Vec<u64> = (0..100u64).map(|i| (i * 7) % 29).collect();
        let exc = [(0u32, 1u64 << 40), (37, 3), (99, u64::MAX)];
        for order in 0..=2 {
            for (width, step) in [(0u8, 1u64), (5, 1_000), (64, 3)] {
                let q: Vec<u64> = q.iter().map(|&x| x & most(width)).collect();
                for exc in [&exc[..], &exc[1..2], &[]] {
                    let (payload, want) = handmade(order, -17, step, width, &q, exc);
                    let mut got = vec![0; want.len()];
                    decode(&payload, &mut got).unwrap();
                    assert_eq!(got, want, "order {order}, width {width}, {exc:?}");
                }
            }
        }
    }

    #[test]
    fn malformed_payloads_are_refused() {
        let times = minutes(3);
        let (plan, buf) = round_trip(&times);
        assert!(plan.exceptions.len() > 2);
        let mut out = vec![0; times.len()];
        assert!(decode(&buf[..buf.len() - 1], &mut out).is_none());
        let at = HEADER_1;
        let mut set = |offset: usize, bytes: &[u8]| {
            let mut bad = buf.clone();
            bad[offset..offset + bytes.len()].copy_from_slice(bytes);
            decode(&bad, &mut out)
        };
        // Order 3, step 0, width 65, more exceptions than values.
        assert!(set(0, &[3]).is_none());
        assert!(set(17, &0u64.to_le_bytes()).is_none());
        assert!(set(25, &[65]).is_none());
        assert!(set(26, &u32::MAX.to_le_bytes()).is_none());
        // Positions out of order, or past the last residual.
        let second = u32::from_le_bytes(buf[at + 4..at + 8].try_into().unwrap());
        assert!(set(at, &(second + 1).to_le_bytes()).is_none());
        assert!(set(at, &second.to_le_bytes()).is_none());
        let last = at + (plan.exceptions.len() - 1) * 4;
        assert!(set(last, &(times.len() as u32 - 1).to_le_bytes()).is_none());
        assert!(set(0, &[1]).is_some());
    }
}
