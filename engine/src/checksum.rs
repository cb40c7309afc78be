//! Salted CRC32 (IEEE) over stored bytes.
//!
//! Each structure has its own salt (FORMAT.md, "Checksums"): the CRC starts from the salt instead
//! of zero, so all-zero space never validates and a structure read in place of another fails.

/// Salt of a segment header.
pub const SALT_SEGMENT_HEADER: u32 = 0x5456_4801;
/// Salt of a column chunk.
pub const SALT_CHUNK: u32 = 0x5456_4302;
/// Salt of a segment footer.
pub const SALT_FOOTER: u32 = 0x5456_4603;
/// Salt of a manifest header.
pub const SALT_MANIFEST_HEADER: u32 = 0x5456_4D04;
/// Salt of a manifest record.
pub const SALT_MANIFEST_RECORD: u32 = 0x5456_5205;

/// Salt of a WAL file header.
pub const SALT_WAL_HEADER: u32 = 0x5456_5706;
/// Salt of a WAL record.
pub const SALT_WAL_RECORD: u32 = 0x5456_4C07;

/// Salt of the store options file.
pub const SALT_OPTIONS: u32 = 0x5456_4F08;

/// Salt of a backup catalog.
pub const SALT_CATALOG: u32 = 0x5456_4309;

/// The CRC32 of the concatenation of `parts`, started from `salt`.
pub fn crc(salt: u32, parts: &[&[u8]]) -> u32 {
    let mut h = crc32fast::Hasher::new_with_initial(salt);
    for p in parts {
        h.update(p);
    }
    h.finalize()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn salts_separate_structures_and_zeroes_fail() {
        let zeros = [0u8; 64];
        assert_ne!(crc(SALT_CHUNK, &[&zeros]), 0);
        assert_ne!(crc(SALT_CHUNK, &[&zeros]), crc(SALT_FOOTER, &[&zeros]));
        assert_eq!(crc(SALT_CHUNK, &[b"ab", b"c"]), crc(SALT_CHUNK, &[b"abc"]));
    }
}
