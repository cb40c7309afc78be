//! `inspect`: the physical layout of one segment file, as a table or JSON Lines.

use anyhow::{bail, Context, Result};
use serde_json::json;
use tickvault::codec::Compression;
use tickvault::io::ByteView;
use tickvault::segment::Segment;
use tickvault::{BarColumns, ColumnSpec, Columns, TickColumns};

use super::human_bytes;
use crate::cli::{Cli, InspectArgs};

pub fn run(cli: &Cli, a: &InspectArgs) -> Result<()> {
    let bytes = std::fs::read(&a.segment)
        .with_context(|| format!("cannot read {}", a.segment.display()))?;
    let file_len = bytes.len();
    // Byte 10 of the header is the kind (FORMAT.md): 1 bars, 2 ticks.
    let schema: &[ColumnSpec] = match bytes.get(10) {
        Some(1) => BarColumns::schema(),
        Some(2) => TickColumns::schema(),
        _ => bail!(
            "{} is not a tickvault segment (unknown kind byte)",
            a.segment.display()
        ),
    };
    let seg = Segment::open(&a.segment, ByteView::from_vec(bytes), None, schema)?;
    let compression_name = |id: u8| match Compression::from_id(id) {
        Some(Compression::None) => "none",
        Some(Compression::Lz4) => "lz4",
        Some(Compression::Zstd(_)) => "zstd",
        None => "?",
    };
    let mut stored = vec![0u64; schema.len()];
    let mut raw = vec![0u64; schema.len()];
    let mut bad = 0;
    if cli.json {
        println!(
            "{}",
            json!({"type": "segment", "file": a.segment.display().to_string(), "id": seg.id(), "bytes": file_len,
                   "rows": seg.rows(), "first": seg.min_ts().to_string(), "last": seg.max_ts().to_string(),
                   "blocks": seg.blocks().len()})
        );
    } else {
        println!(
            "{}: segment {}, {} rows, {} blocks, {} ({:.2} B/row), {} .. {}",
            a.segment.display(),
            seg.id(),
            seg.rows(),
            seg.blocks().len(),
            human_bytes(file_len as u64),
            file_len as f64 / seg.rows().max(1) as f64,
            seg.min_ts(),
            seg.max_ts()
        );
        println!(
            "{:>6} {:>8} {:<32} {:<32}",
            "block", "rows", "first", "last"
        );
    }
    for (b, block) in seg.blocks().iter().enumerate() {
        let mut chunks = Vec::new();
        for (c, chunk) in block.chunks.iter().enumerate() {
            let ok = seg.chunk_payload(b, c).is_ok();
            bad += usize::from(!ok);
            stored[c] += u64::from(chunk.stored_len);
            raw[c] += u64::from(chunk.raw_len);
            chunks.push(json!({"column": schema[c].name, "codec": format!("{:?}", chunk.codec),
                               "compression": compression_name(chunk.compression), "offset": chunk.offset,
                               "stored": chunk.stored_len, "raw": chunk.raw_len, "crc": format!("{:08x}", chunk.crc), "crc_ok": ok}));
        }
        if cli.json {
            println!(
                "{}",
                json!({"type": "block", "index": b, "rows": block.rows, "first": block.min_ts.to_string(),
                       "last": block.max_ts.to_string(), "chunks": chunks})
            );
        } else {
            println!(
                "{b:>6} {:>8} {:<32} {:<32}",
                block.rows,
                block.min_ts.to_string(),
                block.max_ts.to_string()
            );
        }
    }
    if !cli.json {
        println!(
            "\n{:<16} {:>12} {:>12} {:>10}  codecs of block 0",
            "column", "stored", "decoded", "B/row"
        );
        for (c, spec) in schema.iter().enumerate() {
            let first = seg.blocks().first().and_then(|b| b.chunks.get(c));
            println!(
                "{:<16} {:>12} {:>12} {:>10.2}  {}",
                spec.name,
                human_bytes(stored[c]),
                human_bytes(raw[c]),
                stored[c] as f64 / seg.rows().max(1) as f64,
                first.map_or(String::new(), |ch| format!(
                    "{:?}+{}",
                    ch.codec,
                    compression_name(ch.compression)
                ))
            );
        }
        println!("\n{} chunks with a bad checksum", bad);
    }
    if bad > 0 {
        bail!(
            "{bad} chunks of {} fail their checksum",
            a.segment.display()
        );
    }
    Ok(())
}
