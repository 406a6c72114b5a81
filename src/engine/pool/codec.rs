//! On-disk layout of mmap pools (plasma spec 5.3, 6.1-6.3): the backing file's
//! magic and header chunks (conf, ptrs, perm, indx), the TOC block, the entry
//! layout, protein length from a protein's first oct (spec 1.8, 1.9), and the
//! `pool.conf` slaw file. Pure byte arithmetic: no I/O.
//!
//! The parser reads little-endian headers (the header's byte order is the
//! creating machine's); a big-endian one is first turned into that form with
//! [`header_to_native`] (the store then byte-swaps every word it loads and
//! refuses to write such a pool).

/// The first four bytes of the backing file (shared with binary slaw files).
pub const MAGIC: [u8; 4] = [0xff, 0xff, 0x0b, 0x10];
/// Slaw version byte written in the magic oct.
pub const SLAW_VERSION: u8 = 2;
/// File type byte of a pool backing file (a slaw file is 1).
pub const FILE_TYPE_POOL: u8 = 2;
/// mmap version of directory-version 5 and 6 pools.
pub const MMAP_VERSION: i64 = 1;

/// Chunk signature base; the low 32 bits are a fourcc.
pub const CHUNK_SIG_BASE: u64 = 0x1bad_d00d_0000_0000;
/// 'conf' chunk signature.
pub const SIG_CONF: u64 = CHUNK_SIG_BASE | 0x636f_6e66;
/// 'ptrs' chunk signature.
pub const SIG_PTRS: u64 = CHUNK_SIG_BASE | 0x7074_7273;
/// 'perm' chunk signature.
pub const SIG_PERM: u64 = CHUNK_SIG_BASE | 0x7065_726d;
/// 'indx' chunk signature (the TOC).
pub const SIG_INDX: u64 = CHUNK_SIG_BASE | 0x696e_6478;

/// Header size without a TOC: magic + conf(8) + ptrs(4) + perm(5) octs.
pub const BASE_HEADER_SIZE: u64 = 144;
/// TOC signature (first word of the indx payload).
pub const TOC_SIGNATURE: u64 = 0x00BE_EF00_FEED_0011;
/// Bytes of the TOC block before its entries.
pub const TOC_FIXED_BYTES: u64 = 56;
/// TOC offset meaning "unknown entry".
pub const TOC_UNKNOWN_OFFSET: u64 = u64::MAX;
/// TOC timestamp meaning "unknown entry".
pub const TOC_UNKNOWN_TIME: f64 = -1.0;

/// conf.flags: refuse deposits when full.
pub const FLAG_STOP_WHEN_FULL: u64 = 1 << 0;
/// conf.flags: refuse deposits.
pub const FLAG_FROZEN: u64 = 1 << 1;
/// conf.flags: dispose when the last hose withdraws.
pub const FLAG_AUTO_DISPOSE: u64 = 1 << 2;
/// conf.flags: per-entry checksum word.
pub const FLAG_CHECKSUM: u64 = 1 << 3;
/// conf.flags: flock files instead of System V semaphores.
pub const FLAG_FLOCK: u64 = 1 << 4;
/// conf.flags: msync after each deposit.
pub const FLAG_SYNC: u64 = 1 << 32;
/// Flag bits 0-31 this implementation understands; others refuse the open.
pub const KNOWN_LOW_FLAGS: u64 =
    FLAG_STOP_WHEN_FULL | FLAG_FROZEN | FLAG_AUTO_DISPOSE | FLAG_CHECKSUM | FLAG_FLOCK;

/// Byte offsets inside an entry.
pub const ENTRY_TIMESTAMP: u64 = 0;
/// Offset of the index word.
pub const ENTRY_INDEX: u64 = 8;
/// Offset of the checksum word (checksum pools only).
pub const ENTRY_CHECKSUM: u64 = 16;
/// Size of the trailing jumpback word.
pub const JUMPBACK_BYTES: u64 = 8;

/// libPlasma treats larger indices as corruption (about one per nanosecond for a
/// century), which also keeps index arithmetic far from overflow.
pub const MAX_REASONABLE_INDEX: i64 = 3_153_600_000_000_000_000;

/// Why header bytes were rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HeaderError {
    /// Fewer bytes than the header needs.
    #[error("header truncated: need {need} bytes, have {have}")]
    Truncated {
        /// Bytes needed.
        need: u64,
        /// Bytes available.
        have: u64,
    },
    /// Not an mmap pool backing file of a version we read.
    #[error("{0}")]
    Version(String),
    /// Structurally inconsistent.
    #[error("{0}")]
    Corrupt(String),
}

/// Permission chunk values (−1 = unspecified).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Perm {
    /// Permission bits.
    pub mode: i64,
    /// Owner uid.
    pub uid: i64,
    /// Group gid.
    pub gid: i64,
}

impl Default for Perm {
    fn default() -> Self {
        Perm {
            mode: -1,
            uid: -1,
            gid: -1,
        }
    }
}

/// Where the mutable words of a parsed header live (byte offsets into the file)
/// and the values that never change after creation.
#[derive(Debug, Clone, PartialEq)]
pub struct Layout {
    /// Byte offset of the conf payload (mmap_version, file_size, header_size,
    /// sem_key, flags, next_index).
    pub conf: u64,
    /// Byte offset of the ptrs payload (oldest_entry, newest_entry).
    pub ptrs: u64,
    /// Byte offset of the TOC block (its signature word), if any.
    pub toc: Option<u64>,
    /// TOC capacity in entries (0 without a TOC).
    pub toc_capacity: u64,
    /// conf.header_size.
    pub header_size: u64,
    /// conf.file_size at parse time (changes on resize).
    pub file_size: u64,
    /// conf.sem_key.
    pub sem_key: i64,
    /// conf.flags at parse time (some change with options).
    pub flags: u64,
    /// The perm chunk, if present.
    pub perm: Option<Perm>,
}

impl Layout {
    /// Offset of conf.file_size.
    pub fn file_size_off(&self) -> u64 {
        self.conf + 8
    }
    /// Offset of conf.sem_key.
    pub fn sem_key_off(&self) -> u64 {
        self.conf + 24
    }
    /// Offset of conf.flags.
    pub fn flags_off(&self) -> u64 {
        self.conf + 32
    }
    /// Offset of conf.next_index.
    pub fn next_index_off(&self) -> u64 {
        self.conf + 40
    }
    /// Offset of ptrs.oldest_entry.
    pub fn oldest_off(&self) -> u64 {
        self.ptrs
    }
    /// Offset of ptrs.newest_entry.
    pub fn newest_off(&self) -> u64 {
        self.ptrs + 8
    }
    /// Offset of the protein inside an entry.
    pub fn protein_off(&self) -> u64 {
        protein_offset(self.flags & FLAG_CHECKSUM != 0)
    }
}

/// Offset of the protein inside an entry.
pub fn protein_offset(checksum: bool) -> u64 {
    if checksum {
        24
    } else {
        16
    }
}

/// Entry size for a protein of `protein_bytes` bytes.
pub fn entry_size(protein_bytes: u64, checksum: bool) -> u64 {
    protein_offset(checksum) + protein_bytes + JUMPBACK_BYTES
}

/// TOC room in bytes for a capacity (odd capacities round up by one).
pub fn toc_room(capacity: u64) -> u64 {
    TOC_FIXED_BYTES + 16 * normalize_toc_capacity(capacity)
}

/// libPlasma keeps TOC capacities even.
pub fn normalize_toc_capacity(capacity: u64) -> u64 {
    capacity + (capacity & 1)
}

/// Header size of a new pool with a TOC of `toc_capacity` (0 = no TOC).
pub fn header_size_for(toc_capacity: u64) -> u64 {
    if toc_capacity == 0 {
        BASE_HEADER_SIZE
    } else {
        BASE_HEADER_SIZE + 16 + toc_room(toc_capacity)
    }
}

fn word(buf: &[u8], off: u64) -> Option<u64> {
    let off = usize::try_from(off).ok()?;
    let b = buf.get(off..off.checked_add(8)?)?;
    let mut a = [0u8; 8];
    a.copy_from_slice(b);
    Some(u64::from_le_bytes(a))
}

fn put(buf: &mut [u8], off: usize, v: u64) {
    buf[off..off + 8].copy_from_slice(&v.to_le_bytes());
}

/// The number of header bytes a reader must have before [`parse_header`] can
/// succeed: at least the magic and the conf chunk; `header_size` says the rest.
pub const MIN_HEADER_PREFIX: u64 = 0x48;

/// Reads `conf.header_size` from the first [`MIN_HEADER_PREFIX`] bytes, after
/// checking the magic and the conf chunk.
pub fn peek_header_size(buf: &[u8]) -> Result<u64, HeaderError> {
    check_prefix(buf)?;
    word(buf, 0x28).ok_or(HeaderError::Truncated {
        need: MIN_HEADER_PREFIX,
        have: buf.len() as u64,
    })
}

fn check_prefix(buf: &[u8]) -> Result<(), HeaderError> {
    if (buf.len() as u64) < MIN_HEADER_PREFIX {
        return Err(HeaderError::Truncated {
            need: MIN_HEADER_PREFIX,
            have: buf.len() as u64,
        });
    }
    if buf[0..4] != MAGIC {
        return Err(HeaderError::Version(
            "not an mmap-version-1 pool backing file (bad magic)".into(),
        ));
    }
    if buf[5] != FILE_TYPE_POOL {
        return Err(HeaderError::Version(format!(
            "file type {} is not a pool backing file",
            buf[5]
        )));
    }
    if buf[4] != SLAW_VERSION {
        return Err(HeaderError::Version(format!(
            "slaw version {} pools are not supported",
            buf[4]
        )));
    }
    if is_big_endian(buf) {
        return Err(HeaderError::Version(
            "big-endian pool header: swap it with header_to_native first".into(),
        ));
    }
    if word(buf, 0x08) != Some(SIG_CONF) {
        return Err(HeaderError::Corrupt("first chunk is not 'conf'".into()));
    }
    match word(buf, 0x10) {
        Some(l) if l >= 8 => {}
        other => {
            return Err(HeaderError::Corrupt(format!(
                "conf chunk length {other:?} < 8"
            )))
        }
    }
    let ver = word(buf, 0x18).unwrap_or(0) as i64;
    if ver != MMAP_VERSION {
        return Err(HeaderError::Version(format!(
            "mmap version {ver} is not supported"
        )));
    }
    Ok(())
}

/// Whether a backing file's header says it was written on a big-endian machine
/// (bit 0 of the big-endian u16 at bytes 6..8).
pub fn is_big_endian(buf: &[u8]) -> bool {
    buf.len() >= 8 && buf[7] & 1 != 0
}

/// A big-endian header (everything after the 8-byte magic is u64/i64/f64
/// words, TOC included) turned into the little-endian form the parser reads:
/// every word byte-swapped and the big-endian flag cleared. A trailing partial
/// word is dropped.
pub fn header_to_native(buf: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(buf.len());
    out.extend_from_slice(&buf[..buf.len().min(8)]);
    if out.len() == 8 {
        out[7] &= !1;
    }
    for w in buf.get(8..).unwrap_or_default().chunks_exact(8) {
        out.extend(w.iter().rev());
    }
    out
}

/// Parses the whole header (`buf` holds at least `header_size` bytes). Checks the
/// chunk walk, the TOC block and the flags, never trusting a length field to
/// index past `buf`.
pub fn parse_header(buf: &[u8]) -> Result<Layout, HeaderError> {
    check_prefix(buf)?;
    let have = buf.len() as u64;
    let conf_len = word(buf, 0x10).unwrap_or(0);
    let file_size = word(buf, 0x20).unwrap_or(0);
    let header_size = word(buf, 0x28).unwrap_or(0);
    let sem_key = word(buf, 0x30).unwrap_or(0) as i64;
    let flags = word(buf, 0x38).unwrap_or(0);
    if !header_size.is_multiple_of(8) || header_size < MIN_HEADER_PREFIX {
        return Err(HeaderError::Corrupt(format!(
            "header size {header_size} is not a multiple of 8 of at least {MIN_HEADER_PREFIX}"
        )));
    }
    if header_size > have {
        return Err(HeaderError::Truncated {
            need: header_size,
            have,
        });
    }
    if file_size <= header_size || !file_size.is_multiple_of(8) {
        return Err(HeaderError::Corrupt(format!(
            "file size {file_size} vs header size {header_size}"
        )));
    }
    let unknown = flags & 0xffff_ffff & !KNOWN_LOW_FLAGS;
    if unknown != 0 {
        return Err(HeaderError::Version(format!(
            "unknown pool flags {unknown:#x}"
        )));
    }
    let mut at = 8u64
        .checked_add(
            conf_len
                .checked_mul(8)
                .ok_or_else(|| corrupt("conf length"))?,
        )
        .ok_or_else(|| corrupt("conf length"))?;
    if at > header_size {
        return Err(corrupt("conf chunk overruns the header"));
    }
    let mut ptrs = None;
    let mut toc = None;
    let mut toc_capacity = 0;
    let mut perm = None;
    while at < header_size {
        let sig = word(buf, at).ok_or_else(|| corrupt("chunk overruns"))?;
        let len = word(buf, at + 8).ok_or_else(|| corrupt("chunk overruns"))?;
        if len < 2 || len > (header_size - at) / 8 {
            return Err(HeaderError::Corrupt(format!(
                "chunk at {at:#x} has length {len} octs (header ends at {header_size:#x})"
            )));
        }
        let payload = at + 16;
        match sig {
            SIG_PTRS if len >= 4 => ptrs = Some(payload),
            SIG_PERM if len >= 5 => {
                perm = Some(Perm {
                    mode: word(buf, payload).unwrap_or(0) as i64,
                    uid: word(buf, payload + 8).unwrap_or(0) as i64,
                    gid: word(buf, payload + 16).unwrap_or(0) as i64,
                })
            }
            SIG_INDX if len >= 2 + TOC_FIXED_BYTES / 8 => {
                let tsig = word(buf, payload).unwrap_or(0);
                let cap = word(buf, payload + 8).unwrap_or(0);
                let room = (len - 2) * 8;
                if tsig != TOC_SIGNATURE {
                    return Err(corrupt("TOC signature"));
                }
                if cap == 0
                    || cap
                        .checked_mul(16)
                        .and_then(|b| b.checked_add(TOC_FIXED_BYTES))
                        .is_none_or(|need| need > room)
                {
                    return Err(HeaderError::Corrupt(format!(
                        "TOC capacity {cap} does not fit its {room}-byte chunk"
                    )));
                }
                toc = Some(payload);
                toc_capacity = cap;
            }
            SIG_PTRS | SIG_PERM | SIG_INDX => {
                return Err(HeaderError::Corrupt(format!(
                    "chunk {sig:#x} too short ({len} octs)"
                )))
            }
            // Unknown chunks are skipped so newer writers stay readable.
            _ => {}
        }
        at += len * 8;
    }
    let ptrs = ptrs.ok_or_else(|| corrupt("no 'ptrs' chunk"))?;
    Ok(Layout {
        conf: 0x18,
        ptrs,
        toc,
        toc_capacity,
        header_size,
        file_size,
        sem_key,
        flags,
        perm,
    })
}

fn corrupt(what: &str) -> HeaderError {
    HeaderError::Corrupt(what.to_string())
}

/// Values that go into a new header.
#[derive(Debug, Clone, PartialEq)]
pub struct NewHeader {
    /// Ring modulus = file size in bytes.
    pub file_size: u64,
    /// TOC capacity (0 = none).
    pub toc_capacity: u64,
    /// System V semaphore key (written even for flock pools).
    pub sem_key: i64,
    /// conf.flags.
    pub flags: u64,
    /// Permissions chunk.
    pub perm: Perm,
}

/// Encodes the header of a new, empty pool: exactly `header_size_for(toc)` bytes.
pub fn encode_header(h: &NewHeader) -> Vec<u8> {
    let header_size = header_size_for(h.toc_capacity);
    let mut b = vec![0u8; header_size as usize];
    b[0..4].copy_from_slice(&MAGIC);
    b[4] = SLAW_VERSION;
    b[5] = FILE_TYPE_POOL;
    // bytes 6..8: big-endian flag word, 0 on a little-endian machine
    put(&mut b, 0x08, SIG_CONF);
    put(&mut b, 0x10, 8);
    put(&mut b, 0x18, MMAP_VERSION as u64);
    put(&mut b, 0x20, h.file_size);
    put(&mut b, 0x28, header_size);
    put(&mut b, 0x30, h.sem_key as u64);
    put(&mut b, 0x38, h.flags);
    put(&mut b, 0x40, 0);
    put(&mut b, 0x48, SIG_PTRS);
    put(&mut b, 0x50, 4);
    // A fresh pool is empty: newest 0, oldest at the first entry position.
    put(&mut b, 0x58, header_size);
    put(&mut b, 0x60, 0);
    put(&mut b, 0x68, SIG_PERM);
    put(&mut b, 0x70, 5);
    put(&mut b, 0x78, h.perm.mode as u64);
    put(&mut b, 0x80, h.perm.uid as u64);
    put(&mut b, 0x88, h.perm.gid as u64);
    if h.toc_capacity > 0 {
        let room = toc_room(h.toc_capacity);
        put(&mut b, 0x90, SIG_INDX);
        put(&mut b, 0x98, 2 + room / 8);
        let t = 0xa0;
        put(&mut b, t, TOC_SIGNATURE);
        put(&mut b, t + 8, normalize_toc_capacity(h.toc_capacity));
        put(&mut b, t + 16, 0); // count
        put(&mut b, t + 24, 0); // start
        put(&mut b, t + 32, 1); // step
        put(&mut b, t + 40, 0); // first
        put(&mut b, t + 48, 0); // last
        put(&mut b, t + 56, TOC_UNKNOWN_OFFSET);
        put(&mut b, t + 64, TOC_UNKNOWN_TIME.to_bits());
    }
    b
}

/// What a protein's first oct says: its byte length and byte order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProteinHead {
    /// Total length in bytes (octlen × 8).
    pub len_bytes: u64,
    /// Whether it is in the other byte order than this machine.
    pub swapped: bool,
}

/// Decodes a protein's first oct (spec 1.8/1.9). `None` when it is not a
/// protein header or its length is 0 or absurd.
pub fn protein_head(oct: [u8; 8]) -> Option<ProteinHead> {
    let native = u64::from_le_bytes(oct);
    let (hdr, swapped) = match native >> 60 {
        1 => (native, false),
        0 => (native.swap_bytes(), true),
        _ => return None,
    };
    if hdr >> 60 != 1 {
        return None;
    }
    let v = hdr & !0xf000_0000_0000_00f0;
    let octs = (v & 0xf) | (v >> 4);
    if octs < 2 {
        return None;
    }
    Some(ProteinHead {
        len_bytes: octs.checked_mul(8)?,
        swapped,
    })
}

/// Checks that `bytes` is exactly one protein by its header and returns its
/// header. Descrips/ingests structure is left to the slaw engine.
pub fn check_protein(bytes: &[u8]) -> Result<ProteinHead, String> {
    let Some(first) = bytes.get(0..8) else {
        return Err(format!(
            "{} bytes is shorter than a protein header",
            bytes.len()
        ));
    };
    let mut a = [0u8; 8];
    a.copy_from_slice(first);
    let head = protein_head(a).ok_or_else(|| "first oct is not a protein header".to_string())?;
    if head.len_bytes != bytes.len() as u64 {
        return Err(format!(
            "protein header says {} bytes but {} were given",
            head.len_bytes,
            bytes.len()
        ));
    }
    Ok(head)
}

// ---------------------------------------------------------------------------
// pool.conf: a binary slaw file holding one protein whose ingests are
// {type: "mmap", pool-version: int32 N} (spec 5.3). Only the handful of slaw
// kinds this file uses are encoded/decoded here, so the pool layer does not
// depend on the full slaw codec.

fn slaw_string(s: &str, out: &mut Vec<u8>) {
    let b = s.as_bytes();
    if b.len() <= 6 {
        let mut special = [0u8; 8];
        special[..b.len()].copy_from_slice(b);
        let mut v = u64::from_le_bytes(special);
        v |= (3u64 << 60) | (((b.len() as u64) + 1) << 56);
        out.extend_from_slice(&v.to_le_bytes());
    } else {
        let t = b.len() as u64 + 1;
        let padded = t.div_ceil(8) * 8;
        let pad = padded - t;
        let octlen = 1 + padded / 8;
        let v = (7u64 << 60) | (pad << 56) | octlen;
        out.extend_from_slice(&v.to_le_bytes());
        out.extend_from_slice(b);
        out.resize(out.len() + 1 + pad as usize, 0);
    }
}

fn slaw_int32(n: i32) -> [u8; 8] {
    // numeric singleton, signed, 32-bit elements (ss = 2), bsize 4 stored as 3
    let v = 0x8800_0000_0000_0000u64 | (3u64 << 46) | u64::from(n as u32);
    v.to_le_bytes()
}

fn slaw_cons(car: &[u8], cdr: &[u8], out: &mut Vec<u8>) {
    let octlen = 1 + (car.len() + cdr.len()) as u64 / 8;
    out.extend_from_slice(&((6u64 << 60) | (2 << 56) | octlen).to_le_bytes());
    out.extend_from_slice(car);
    out.extend_from_slice(cdr);
}

/// The bytes of a `pool.conf` file for an mmap pool of directory version
/// `version` (5 for normal pools).
pub fn encode_pool_conf(version: i32) -> Vec<u8> {
    let mut k1 = Vec::new();
    slaw_string("type", &mut k1);
    let mut v1 = Vec::new();
    slaw_string("mmap", &mut v1);
    let mut k2 = Vec::new();
    slaw_string("pool-version", &mut k2);
    let mut body = Vec::new();
    slaw_cons(&k1, &v1, &mut body);
    slaw_cons(&k2, &slaw_int32(version), &mut body);
    let mut map = Vec::new();
    let map_octs = 1 + body.len() as u64 / 8;
    map.extend_from_slice(&((5u64 << 60) | (2 << 56) | map_octs).to_le_bytes());
    map.extend_from_slice(&body);
    let l = 2 + map.len() as u64 / 8;
    let hdr = 0x1000_0000_0000_0000u64 | (l & 0xf) | ((l & !0xf) << 4);
    let flags = 0x2000_0000_0000_0000u64; // ingests only
    let mut out = Vec::with_capacity(8 + l as usize * 8);
    out.extend_from_slice(&[0xff, 0xff, 0x0b, 0x10, 0x02, 0x01, 0x00, 0x00]);
    out.extend_from_slice(&hdr.to_le_bytes());
    out.extend_from_slice(&flags.to_le_bytes());
    out.extend_from_slice(&map);
    out
}

/// What `pool.conf` says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PoolConf {
    /// The `type` ingest ("mmap" for local pools).
    pub pool_type: Option<String>,
    /// `pool-version` (a missing key means 4).
    pub version: i64,
}

/// Reads a `pool.conf` written by libPlasma or us: a v2 little-endian binary slaw
/// file with one protein whose ingests are a map of string keys. Unknown keys
/// and value kinds are skipped; anything malformed is an error string.
pub fn parse_pool_conf(bytes: &[u8]) -> Result<PoolConf, String> {
    if bytes.len() < 8 || bytes[0..4] != MAGIC {
        return Err("pool.conf is not a binary slaw file".into());
    }
    if bytes[4] != 2 {
        return Err(format!(
            "pool.conf is slaw version {} (legacy directory-version-4 pools are not supported)",
            bytes[4]
        ));
    }
    if bytes[7] & 1 != 0 {
        return parse_pool_conf_slaw(bytes);
    }
    let p = &bytes[8..];
    let head = p
        .get(0..8)
        .and_then(|o| {
            let mut a = [0u8; 8];
            a.copy_from_slice(o);
            protein_head(a)
        })
        .ok_or("pool.conf does not hold a protein")?;
    if head.swapped {
        return parse_pool_conf_slaw(bytes);
    }
    let p = p
        .get(..usize::try_from(head.len_bytes).map_err(|_| "pool.conf protein too long")?)
        .ok_or("pool.conf protein truncated")?;
    let flags = word(p, 8).ok_or("pool.conf protein truncated")?;
    let mut at = 16usize;
    if flags & 0x4000_0000_0000_0000 != 0 {
        at += slaw_octs(p, at)? * 8;
    }
    let mut conf = PoolConf {
        pool_type: None,
        version: 4,
    };
    if flags & 0x2000_0000_0000_0000 == 0 {
        return Ok(conf);
    }
    let map_hdr = word(p, at as u64).ok_or("ingests truncated")?;
    if map_hdr >> 60 != 5 {
        return Ok(conf);
    }
    let map_end = at + slaw_octs(p, at)? * 8;
    let mut e = first_child(p, at).ok_or("map truncated")?;
    while e < map_end {
        let cons_hdr = word(p, e as u64).ok_or("map truncated")?;
        let cons_end = e + slaw_octs(p, e)? * 8;
        if cons_hdr >> 60 == 6 && cons_end <= map_end {
            let key_at = e + 8;
            let val_at = key_at + slaw_octs(p, key_at)? * 8;
            if let Some(key) = slaw_str(p, key_at) {
                match key.as_str() {
                    "type" => conf.pool_type = slaw_str(p, val_at),
                    "pool-version" => {
                        if let Some(v) = slaw_small_int(p, val_at) {
                            conf.version = v;
                        }
                    }
                    _ => {}
                }
            }
        }
        if cons_end <= e {
            return Err("pool.conf map entry of zero length".into());
        }
        e = cons_end;
    }
    Ok(conf)
}

/// `pool.conf` in the other byte order (written on a big-endian machine): read
/// through the slaw engine, which handles both orders.
fn parse_pool_conf_slaw(bytes: &[u8]) -> Result<PoolConf, String> {
    use crate::engine::slaw::{file, Slaw};
    let slawx = file::read(bytes).map_err(|e| format!("pool.conf: {e}"))?;
    let Some(Slaw::Protein(p)) = slawx.first() else {
        return Err("pool.conf does not hold a protein".into());
    };
    Ok(PoolConf {
        pool_type: p.ingest("type").and_then(Slaw::as_str).map(str::to_string),
        version: p.ingest("pool-version").and_then(Slaw::as_i64).unwrap_or(4),
    })
}

fn slaw_octs(p: &[u8], at: usize) -> Result<usize, String> {
    let h = word(p, at as u64).ok_or("slaw truncated")?;
    let octs = match h >> 60 {
        2 | 3 => 1,
        4..=7 => (h & 0x00ff_ffff_ffff_ffff) as usize,
        0 | 1 => {
            let head = protein_head(h.to_le_bytes()).ok_or("bad nested protein")?;
            (head.len_bytes / 8) as usize
        }
        8..=0xa => {
            let bsize = ((h >> 46) & 0xff) + 1;
            if bsize <= 4 {
                1
            } else {
                1 + bsize.div_ceil(8) as usize
            }
        }
        0xc..=0xe => {
            let bsize = ((h >> 46) & 0xff) + 1;
            let breadth = h & 0x0000_3fff_ffff_ffff;
            let bytes = bsize.checked_mul(breadth).ok_or("array too long")?;
            1 + usize::try_from(bytes.div_ceil(8)).map_err(|_| "array too long")?
        }
        _ => return Err(format!("unexpected slaw kind {:#x} in pool.conf", h >> 60)),
    };
    if octs == 0
        || octs
            .checked_mul(8)
            .and_then(|b| b.checked_add(at))
            .is_none_or(|end| end > p.len())
    {
        return Err("slaw length out of bounds in pool.conf".into());
    }
    Ok(octs)
}

fn slaw_str(p: &[u8], at: usize) -> Option<String> {
    let h = word(p, at as u64)?;
    match h >> 60 {
        3 => {
            let n = ((h >> 56) & 7) as usize;
            let raw = p.get(at..at + n)?;
            let s = raw.strip_suffix(&[0])?;
            String::from_utf8(s.to_vec()).ok()
        }
        7 => {
            let octs = (h & 0x00ff_ffff_ffff_ffff) as usize;
            let pad = ((h >> 56) & 7) as usize;
            let total = (octs.checked_sub(1)?) * 8;
            let len = total.checked_sub(pad + 1)?;
            let raw = p.get(at + 8..at + 8 + len)?;
            String::from_utf8(raw.to_vec()).ok()
        }
        _ => None,
    }
}

fn slaw_small_int(p: &[u8], at: usize) -> Option<i64> {
    let h = word(p, at as u64)?;
    let kind = h >> 60;
    let bsize = (((h >> 46) & 0xff) + 1) as usize;
    // scalars only: no complex bit, no vector bits
    if (h >> 54) & 0xf != 0 || !(kind == 8 || kind == 9) || !matches!(bsize, 1 | 2 | 4 | 8) {
        return None;
    }
    if bsize <= 4 {
        let raw = p.get(at..at + bsize)?;
        let mut a = [0u8; 8];
        a[..bsize].copy_from_slice(raw);
        let u = u64::from_le_bytes(a);
        if kind == 8 {
            let shift = 64 - 8 * bsize as u32;
            Some(((u << shift) as i64) >> shift)
        } else {
            Some(u as i64)
        }
    } else {
        word(p, at as u64 + 8).map(|v| v as i64)
    }
}

/// A scalar ingest value, as p-deposit infers it from `key:value`.
#[derive(Debug, Clone, PartialEq)]
pub enum Scalar {
    /// Parsed fully as a base-10 integer.
    Int(i64),
    /// Parsed fully as a float.
    Float(f64),
    /// Anything else.
    Str(String),
}

impl Scalar {
    /// p-deposit's inference: int64 if the text is a whole base-10 integer, else
    /// float64 if it is a whole float, else a string.
    pub fn infer(text: &str) -> Scalar {
        if let Ok(i) = text.parse::<i64>() {
            Scalar::Int(i)
        } else if let Some(f) = text.parse::<f64>().ok().filter(|_| looks_numeric(text)) {
            Scalar::Float(f)
        } else {
            Scalar::Str(text.to_string())
        }
    }
}

// strtod accepts "inf"/"nan" too, but Rust also takes "infinity"; both agree
// on plain decimal and exponent forms, which is what matters here.
fn looks_numeric(t: &str) -> bool {
    let t = t.trim_start_matches(['+', '-']);
    t.starts_with(|c: char| c.is_ascii_digit() || c == '.')
        || t.eq_ignore_ascii_case("inf")
        || t.eq_ignore_ascii_case("infinity")
        || t.eq_ignore_ascii_case("nan")
}

fn encode_scalar(v: &Scalar, out: &mut Vec<u8>) {
    match v {
        Scalar::Int(i) => {
            // signed, 64-bit elements (ss = 3), bsize 8 stored as 7
            let h = 0x8c00_0000_0000_0000u64 | (7u64 << 46);
            out.extend_from_slice(&h.to_le_bytes());
            out.extend_from_slice(&i.to_le_bytes());
        }
        Scalar::Float(f) => {
            let h = 0xac00_0000_0000_0000u64 | (7u64 << 46);
            out.extend_from_slice(&h.to_le_bytes());
            out.extend_from_slice(&f.to_bits().to_le_bytes());
        }
        Scalar::Str(s) => slaw_string(s, out),
    }
}

/// A list (nibble 4) or map (nibble 5) of `count` elements: counts up to 14 sit
/// in the header, larger ones in a second oct (spec 1.7).
fn container(nibble: u64, count: usize, body: &[u8], out: &mut Vec<u8>) {
    let big = count >= 15;
    let octs = 1 + u64::from(big) + body.len() as u64 / 8;
    let c = if big { 15 } else { count as u64 };
    out.extend_from_slice(&((nibble << 60) | (c << 56) | octs).to_le_bytes());
    if big {
        out.extend_from_slice(&(count as u64).to_le_bytes());
    }
    out.extend_from_slice(body);
}

/// Where the first element of the list/map at `at` starts.
fn first_child(p: &[u8], at: usize) -> Option<usize> {
    let h = word(p, at as u64)?;
    Some(at + if (h >> 56) & 0xf == 15 { 16 } else { 8 })
}

/// Encodes a native little-endian protein with descrips = a list of strings and
/// ingests = a map of string keys to scalars (the shape p-deposit builds).
/// Either part is omitted when empty, as p-deposit does.
pub fn encode_simple_protein(descrips: &[String], ingests: &[(String, Scalar)]) -> Vec<u8> {
    let mut body = Vec::new();
    let mut flags = 0u64;
    if !descrips.is_empty() {
        let mut items = Vec::new();
        for d in descrips {
            slaw_string(d, &mut items);
        }
        container(4, descrips.len(), &items, &mut body);
        flags |= 0x4000_0000_0000_0000;
    }
    if !ingests.is_empty() {
        let mut pairs = Vec::new();
        for (k, v) in ingests {
            let mut key = Vec::new();
            slaw_string(k, &mut key);
            let mut val = Vec::new();
            encode_scalar(v, &mut val);
            slaw_cons(&key, &val, &mut pairs);
        }
        container(5, ingests.len(), &pairs, &mut body);
        flags |= 0x2000_0000_0000_0000;
    }
    let l = 2 + body.len() as u64 / 8;
    let hdr = 0x1000_0000_0000_0000u64 | (l & 0xf) | ((l & !0xf) << 4);
    let mut out = Vec::with_capacity(body.len() + 16);
    out.extend_from_slice(&hdr.to_le_bytes());
    out.extend_from_slice(&flags.to_le_bytes());
    out.extend_from_slice(&body);
    out
}

/// The string elements of a native-order protein's descrips list (non-string
/// elements are skipped); `None` when it has no descrips list or is malformed.
/// Enough for `--filter` and probes without the full slaw decoder.
pub fn descrip_strings(protein: &[u8]) -> Option<Vec<String>> {
    let head = protein_head(protein.get(0..8)?.try_into().ok()?)?;
    if head.swapped {
        return None;
    }
    let p = protein.get(..usize::try_from(head.len_bytes).ok()?)?;
    let flags = word(p, 8)?;
    if flags & 0x8000_0000_0000_0000 != 0 || flags & 0x4000_0000_0000_0000 == 0 {
        return None;
    }
    let h = word(p, 16)?;
    if h >> 60 != 4 {
        return None;
    }
    let end = 16 + slaw_octs(p, 16).ok()? * 8;
    let mut at = first_child(p, 16)?;
    let mut out = Vec::new();
    while at < end {
        if let Some(s) = slaw_str(p, at) {
            out.push(s);
        }
        at += slaw_octs(p, at).ok()? * 8;
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_size_examples() {
        assert_eq!(toc_room(10), 216);
        assert_eq!(header_size_for(10), 0x178);
        assert_eq!(header_size_for(0), 144);
        assert_eq!(toc_room(9), toc_room(10));
    }

    #[test]
    fn encoded_header_parses_back() {
        let h = NewHeader {
            file_size: 16384,
            toc_capacity: 10,
            sem_key: 0x0b81_2345,
            flags: FLAG_FLOCK,
            perm: Perm::default(),
        };
        let b = encode_header(&h);
        let l = parse_header(&b).unwrap();
        assert_eq!(l.header_size, 0x178);
        assert_eq!(l.file_size, 16384);
        assert_eq!(l.toc, Some(0xa0));
        assert_eq!(l.toc_capacity, 10);
        assert_eq!(l.ptrs, 0x58);
        assert_eq!(l.flags, FLAG_FLOCK);
        assert_eq!(peek_header_size(&b).unwrap(), 0x178);
    }

    #[test]
    fn truncated_and_garbage_headers_are_errors() {
        let h = encode_header(&NewHeader {
            file_size: 16384,
            toc_capacity: 4,
            sem_key: 1,
            flags: 0,
            perm: Perm::default(),
        });
        for n in 0..h.len() {
            assert!(parse_header(&h[..n]).is_err(), "prefix {n}");
        }
        let mut bad = h.clone();
        bad[0x50] = 0xff; // ptrs.len overruns
        assert!(parse_header(&bad).is_err());
        let mut bad = h.clone();
        bad[0x38] = 0x80; // unknown low flag
        assert!(matches!(parse_header(&bad), Err(HeaderError::Version(_))));
        let mut bad = h;
        bad[0xa8] = 0xff; // TOC capacity too big for its chunk
        assert!(parse_header(&bad).is_err());
    }

    #[test]
    fn protein_head_reads_both_orders() {
        let le = [2u8, 0, 0, 0, 0, 0, 0, 0x10];
        assert_eq!(
            protein_head(le),
            Some(ProteinHead {
                len_bytes: 16,
                swapped: false
            })
        );
        let mut be = le;
        be.reverse();
        assert_eq!(
            protein_head(be).map(|h| (h.len_bytes, h.swapped)),
            Some((16, true))
        );
        assert_eq!(protein_head([0x20, 0, 0, 0, 0, 0, 0, 0x20]), None);
        // octlen 0x12 = 18 octs: low nibble 2, rest shifted by 4
        let l = 0x12u64;
        let hdr = 0x1000_0000_0000_0000u64 | (l & 0xf) | ((l & !0xf) << 4);
        assert_eq!(protein_head(hdr.to_le_bytes()).unwrap().len_bytes, 144);
    }

    #[test]
    fn p_deposit_inference_and_encoding() {
        assert_eq!(Scalar::infer("42"), Scalar::Int(42));
        assert_eq!(Scalar::infer("-7"), Scalar::Int(-7));
        assert_eq!(Scalar::infer("1.5"), Scalar::Float(1.5));
        assert_eq!(Scalar::infer("1e3"), Scalar::Float(1000.0));
        assert_eq!(Scalar::infer("12abc"), Scalar::Str("12abc".into()));
        assert_eq!(Scalar::infer("hello"), Scalar::Str("hello".into()));
        let p = encode_simple_protein(
            &["alpha".into(), "a much longer descrip".into()],
            &[
                ("k".into(), Scalar::Int(1)),
                ("name".into(), Scalar::Str("x".into())),
            ],
        );
        assert_eq!(check_protein(&p).unwrap().len_bytes, p.len() as u64);
        assert_eq!(
            descrip_strings(&p).unwrap(),
            vec!["alpha".to_string(), "a much longer descrip".to_string()]
        );
        let empty = encode_simple_protein(&[], &[]);
        assert_eq!(empty, [2u8, 0, 0, 0, 0, 0, 0, 0x10, 0, 0, 0, 0, 0, 0, 0, 0]);
        for n in 0..p.len() {
            let _ = descrip_strings(&p[..n]);
        }
    }

    #[test]
    fn pool_conf_round_trips() {
        let b = encode_pool_conf(5);
        let c = parse_pool_conf(&b).unwrap();
        assert_eq!(c.version, 5);
        assert_eq!(c.pool_type.as_deref(), Some("mmap"));
        for n in 0..b.len() {
            let _ = parse_pool_conf(&b[..n]);
        }
    }
}
