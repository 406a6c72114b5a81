//! Binary slaw files (plasma spec §2): the 8-byte header `ff ff 0b 10`, slaw
//! version, file type, big-endian flags, then slawx back to back until the end.
//! Version-1 files are read through [`v1`](super::v1) and converted.

use super::codec::{self, Endian};
use super::error::Error;
use super::v1;
use super::value::Slaw;

/// The file magic.
pub const MAGIC: [u8; 4] = [0xff, 0xff, 0x0b, 0x10];
/// File type byte: a slaw file.
pub const TYPE_SLAW: u8 = 1;
/// File type byte: an mmap pool backing file.
pub const TYPE_MMAP_POOL: u8 = 2;
/// Flags bit 0: the slawx are big-endian.
pub const FLAG_BIG_ENDIAN: u16 = 1;

/// The parsed 8-byte file header.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Header {
    /// Slaw version of the body (1 or 2).
    pub version: u8,
    /// File type byte ([`TYPE_SLAW`] or [`TYPE_MMAP_POOL`]).
    pub file_type: u8,
    /// Byte order of the slawx.
    pub endian: Endian,
}

/// Whether `bytes` start with the slaw file magic.
pub fn has_magic(bytes: &[u8]) -> bool {
    bytes.starts_with(&MAGIC)
}

/// Reads the 8-byte header at the front of `bytes`.
pub fn read_header(bytes: &[u8]) -> Result<Header, Error> {
    let bad = |offset, what: String| Error::BadFileHeader { offset, what };
    if bytes.len() < 8 {
        return Err(Error::Truncated {
            offset: 0,
            what: "slaw file header",
            need: 8,
            have: bytes.len(),
        });
    }
    if !has_magic(bytes) {
        return Err(bad(0, "missing magic ff ff 0b 10".into()));
    }
    let version = bytes[4];
    if version != 1 && version != 2 {
        return Err(bad(4, format!("unsupported slaw version {version}")));
    }
    let flags = u16::from_be_bytes([bytes[6], bytes[7]]);
    Ok(Header {
        version,
        file_type: bytes[5],
        endian: if flags & FLAG_BIG_ENDIAN != 0 {
            Endian::Big
        } else {
            Endian::Little
        },
    })
}

/// The header bytes for a version-2 slaw file in byte order `e`.
pub fn header_bytes(e: Endian) -> [u8; 8] {
    let flags: u16 = if e == Endian::Big { FLAG_BIG_ENDIAN } else { 0 };
    let f = flags.to_be_bytes();
    [0xff, 0xff, 0x0b, 0x10, 2, TYPE_SLAW, f[0], f[1]]
}

/// Reads every slaw of a binary slaw file (v2 in either byte order, or v1).
pub fn read(bytes: &[u8]) -> Result<Vec<Slaw>, Error> {
    let h = read_header(bytes)?;
    let body = &bytes[8..];
    if h.version == 1 {
        return v1::decode_stream(body, h.endian).map_err(|e| e.shift(8));
    }
    let mut out = Vec::new();
    let mut pos = 0;
    while pos < body.len() {
        let (s, n) = codec::decode_prefix(&body[pos..], h.endian).map_err(|e| e.shift(8 + pos))?;
        out.push(s);
        pos += n;
    }
    Ok(out)
}

/// A version-2 slaw file holding `slawx` in byte order `e`.
pub fn write(slawx: &[Slaw], e: Endian) -> Vec<u8> {
    let mut out = header_bytes(e).to_vec();
    for s in slawx {
        codec::encode_into(s, e, &mut out);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn write_then_read_both_orders() {
        let s = vec![Slaw::str("foo"), Slaw::i32(-1)];
        for e in [Endian::Little, Endian::Big] {
            assert_eq!(read(&write(&s, e)), Ok(s.clone()));
        }
    }

    #[test]
    fn bad_magic_is_named() {
        let err = read(&[0u8; 16]).unwrap_err();
        assert!(
            matches!(err, Error::BadFileHeader { offset: 0, .. }),
            "{err}"
        );
    }
}
