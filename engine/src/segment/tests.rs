#![allow(clippy::indexing_slicing, clippy::unwrap_used)]

use std::path::Path;

use super::*;
use crate::codec::{ColumnMut, Compression};
use crate::columns::{BarColumns, Columns, TickColumns};
use crate::error::Error;
use crate::io::ByteView;
use crate::model::Timestamp;
use crate::sample;

fn open(bytes: Vec<u8>) -> crate::Result<Segment> {
    Segment::open(
        Path::new("t.seg"),
        ByteView::from_vec(bytes),
        Some(7),
        BarColumns::schema(),
    )
}

fn decode_all<C: Columns>(seg: &Segment) -> C {
    let mut out = C::default();
    out.resize(seg.rows() as usize);
    for (col, mut slots) in out.muts().into_iter().enumerate() {
        for (b, meta) in seg.blocks().iter().enumerate() {
            let part: ColumnMut<'_> = slots.split_off_front(meta.rows as usize).unwrap();
            seg.decode_column(b, col, 0..meta.rows as usize, part)
                .unwrap();
        }
    }
    out
}

#[test]
fn bars_round_trip_with_every_compression() {
    let cols = sample::bars(10_000, 1);
    for compression in Compression::ALL {
        let opts = WriteOptions {
            block_rows: 3000,
            compression,
            equal_times: false,
        };
        let bytes = encode_segment(7, &cols, 0..cols.len(), &opts).unwrap();
        let seg = open(bytes).unwrap();
        assert_eq!(seg.rows(), 10_000);
        assert_eq!(seg.blocks().len(), 4);
        assert_eq!(seg.min_ts(), cols.datetime[0]);
        assert_eq!(seg.max_ts(), cols.datetime[9_999]);
        assert_eq!(decode_all::<BarColumns>(&seg), cols);
    }
}

#[test]
fn ticks_round_trip_and_blocks_prune_by_time() {
    let cols = sample::ticks(5_000, 2, "螺纹钢2610");
    let bytes = encode_segment(
        9,
        &cols,
        1000..5000,
        &WriteOptions {
            block_rows: 1000,
            ..WriteOptions::default()
        },
    )
    .unwrap();
    let seg = Segment::open(
        Path::new("t.seg"),
        ByteView::from_vec(bytes),
        Some(9),
        TickColumns::schema(),
    )
    .unwrap();
    let mut expected = TickColumns::default();
    expected.extend_from(&cols, 1000..5000);
    assert_eq!(decode_all::<TickColumns>(&seg), expected);
    assert_eq!(
        seg.blocks_in(cols.datetime[2500], cols.datetime[2600]),
        1..2
    );
    assert_eq!(
        seg.blocks_in(cols.datetime[1999], cols.datetime[2000]),
        0..2
    );
    assert_eq!(seg.blocks_in(Timestamp::MIN, cols.datetime[0]), 0..0);
    assert_eq!(seg.blocks_in(Timestamp::MAX, Timestamp::MAX), 4..4);
}

#[test]
fn floats_round_trip_bit_for_bit() {
    let mut cols = sample::bars(6, 3);
    cols.close_price = vec![
        f64::NAN,
        -0.0,
        f64::INFINITY,
        f64::NEG_INFINITY,
        f64::from_bits(0x7ff0_0000_0000_0001),
        f64::MIN_POSITIVE / 2.0,
    ];
    let bytes = encode_segment(7, &cols, 0..6, &WriteOptions::default()).unwrap();
    let back: BarColumns = decode_all(&open(bytes).unwrap());
    let bits = |v: &[f64]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
    assert_eq!(bits(&back.close_price), bits(&cols.close_price));
}

#[test]
fn writer_refuses_unsorted_or_empty_input() {
    let mut cols = sample::bars(3, 1);
    assert!(matches!(
        encode_segment(1, &cols, 0..0, &WriteOptions::default()),
        Err(Error::InvalidArgument(_))
    ));
    cols.datetime.swap(0, 1);
    assert!(matches!(
        encode_segment(1, &cols, 0..3, &WriteOptions::default()),
        Err(Error::InvalidArgument(_))
    ));
    let bad = WriteOptions {
        block_rows: 0,
        ..WriteOptions::default()
    };
    assert!(matches!(
        encode_segment(1, &sample::bars(3, 1), 0..3, &bad),
        Err(Error::InvalidArgument(_))
    ));
}

#[test]
fn every_single_byte_flip_is_detected() {
    let cols = sample::bars(300, 4);
    let good = encode_segment(
        7,
        &cols,
        0..300,
        &WriteOptions {
            block_rows: 100,
            ..WriteOptions::default()
        },
    )
    .unwrap();
    for i in 0..good.len() {
        let mut bad = good.clone();
        bad[i] ^= 0x10;
        let result = open(bad).and_then(|seg| {
            for b in 0..seg.blocks().len() {
                for c in 0..BarColumns::schema().len() {
                    seg.chunk_payload(b, c)?;
                }
            }
            Ok(())
        });
        let err = result.expect_err(&format!("flip at {i} went unnoticed"));
        assert!(err.is_corruption(), "flip at {i}: {err}");
    }
}

#[test]
fn wrong_id_kind_and_version_are_typed_errors() {
    let cols = sample::bars(10, 5);
    let bytes = encode_segment(8, &cols, 0..10, &WriteOptions::default()).unwrap();
    assert!(matches!(
        open(bytes.clone()),
        Err(Error::Corruption { offset: 12, .. })
    ));
    let tick_schema = Segment::open(
        Path::new("t.seg"),
        ByteView::from_vec(bytes.clone()),
        None,
        TickColumns::schema(),
    );
    assert!(matches!(tick_schema, Err(Error::Corruption { .. })));
    // Version 2 with a valid header checksum.
    let mut v2 = bytes.clone();
    v2[8] = 2;
    let crc = crate::checksum::crc(crate::checksum::SALT_SEGMENT_HEADER, &[&v2[..20]]);
    v2[20..24].copy_from_slice(&crc.to_le_bytes());
    assert!(matches!(
        Segment::open(
            Path::new("t.seg"),
            ByteView::from_vec(v2),
            None,
            BarColumns::schema()
        ),
        Err(Error::UnsupportedVersion {
            found: 2,
            supported: 1,
            ..
        })
    ));
    assert!(matches!(
        open(bytes[..40].to_vec()),
        Err(Error::Corruption { .. })
    ));
    assert!(matches!(
        open(Vec::new()),
        Err(Error::Corruption { offset: 0, .. })
    ));
}

#[test]
fn layout_constants_match_the_bytes_written() {
    let cols = sample::bars(5, 6);
    let bytes = encode_segment(7, &cols, 0..5, &WriteOptions::default()).unwrap();
    assert_eq!(&bytes[..8], &MAGIC);
    assert_eq!(&bytes[bytes.len() - 8..], &MAGIC);
    let t = bytes.len() - TRAILER_LEN;
    let footer_offset = u64::from_le_bytes(bytes[t..t + 8].try_into().unwrap()) as usize;
    let footer_len = u32::from_le_bytes(bytes[t + 8..t + 12].try_into().unwrap()) as usize;
    assert_eq!(footer_offset + footer_len, t);
    let ncols = BarColumns::schema().len();
    assert_eq!(
        footer_len,
        FOOTER_FIXED_LEN + ncols + BLOCK_ENTRY_FIXED_LEN + ncols * CHUNK_REF_LEN
    );
}

/// 7,000 bars in blocks of 100 rows: 70 blocks, three groups (32, 32 and 6 blocks).
fn seventy_blocks() -> (BarColumns, WriteOptions) {
    let opts = WriteOptions {
        block_rows: 100,
        ..WriteOptions::default()
    };
    (sample::bars(7_000, 3), opts)
}

#[test]
fn a_segment_goes_to_its_sink_a_group_of_blocks_at_a_time() {
    let (cols, opts) = seventy_blocks();
    let mut pieces: Vec<Vec<u8>> = Vec::new();
    let len = write_segment(7, &cols, 0..7_000, &opts, |bytes| {
        pieces.push(bytes.to_vec());
        Ok(())
    })
    .unwrap();
    assert_eq!(
        pieces.len(),
        1 + 3 + 1,
        "header, three groups, footer and trailer"
    );
    assert_eq!(pieces[0].len(), HEADER_LEN);
    let bytes = pieces.concat();
    assert_eq!(len, bytes.len() as u64);
    let seg = open(bytes).unwrap();
    assert_eq!(seg.blocks().len(), 70);
    // The pieces end where the footer says the groups' chunks end.
    let chunks_of = |b: usize| seg.blocks()[b].chunks.len();
    let end_of_block = |b: usize| {
        let last = &seg.blocks()[b].chunks[chunks_of(b) - 1];
        last.offset + u64::from(last.stored_len)
    };
    let ends: Vec<u64> = pieces
        .iter()
        .scan(0u64, |at, p| {
            *at += p.len() as u64;
            Some(*at)
        })
        .collect();
    assert_eq!(
        ends[1..4],
        [end_of_block(31), end_of_block(63), end_of_block(69)]
    );
    assert_eq!(decode_all::<BarColumns>(&seg), cols);
}

#[test]
fn a_sink_error_stops_the_segment() {
    let (cols, opts) = seventy_blocks();
    let mut calls = 0;
    let err = write_segment(7, &cols, 0..7_000, &opts, |_| {
        calls += 1;
        if calls == 2 {
            return Err(Error::InvalidArgument("disk full".into()));
        }
        Ok(())
    })
    .unwrap_err();
    assert!(
        matches!(&err, Error::InvalidArgument(m) if m == "disk full"),
        "{err}"
    );
    assert_eq!(calls, 2, "nothing is handed on after the failure");
}
