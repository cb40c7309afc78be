//! `Dict`: a string column as a dictionary of distinct values plus IntPack indices.
//!
//! Payload: `count: u32`, `count` entries of (`len: u32`, UTF-8 bytes), then IntPack indices.

use std::collections::HashMap;

use smol_str::SmolStr;

use super::cursor::Cursor;
use super::int;

/// Appends the Dict payload of `values`.
pub fn encode(values: &[SmolStr], out: &mut Vec<u8>) {
    let mut index: HashMap<&str, i64> = HashMap::new();
    let mut dict: Vec<&str> = Vec::new();
    let ids: Vec<i64> = values
        .iter()
        .map(|v| {
            *index.entry(v).or_insert_with(|| {
                dict.push(v);
                dict.len() as i64 - 1
            })
        })
        .collect();
    out.extend_from_slice(&(dict.len() as u32).to_le_bytes());
    for s in dict {
        out.extend_from_slice(&(s.len() as u32).to_le_bytes());
        out.extend_from_slice(s.as_bytes());
    }
    int::encode(&ids, out);
}

/// Decodes a Dict payload into `out`.
pub fn decode(payload: &[u8], out: &mut [SmolStr]) -> Option<()> {
    let mut c = Cursor::new(payload);
    let count = c.u32()? as usize;
    if count > c.remaining() / 4 {
        return None;
    }
    let mut dict: Vec<SmolStr> = Vec::with_capacity(count);
    for _ in 0..count {
        let len = c.u32()? as usize;
        dict.push(SmolStr::from(std::str::from_utf8(c.take(len)?).ok()?));
    }
    let mut ids = vec![0i64; out.len()];
    int::decode(c.rest(), &mut ids)?;
    for (slot, id) in out.iter_mut().zip(ids) {
        *slot = dict.get(usize::try_from(id).ok()?)?.clone();
    }
    Some(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_refuses_bad_indices() {
        let values: Vec<SmolStr> = ["螺纹钢2610", "", "螺纹钢2610", "x"]
            .iter()
            .map(|s| SmolStr::from(*s))
            .collect();
        let mut buf = Vec::new();
        encode(&values, &mut buf);
        let mut back: Vec<SmolStr> = vec![SmolStr::default(); 4];
        decode(&buf, &mut back).unwrap();
        assert_eq!(back, values);
        // A dictionary of one entry with an index of 1 is out of range.
        let mut bad = Vec::new();
        bad.extend_from_slice(&1u32.to_le_bytes());
        bad.extend_from_slice(&0u32.to_le_bytes());
        int::encode(&[1], &mut bad);
        assert!(decode(&bad, &mut back[..1]).is_none());
    }
}
