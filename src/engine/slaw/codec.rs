//! Slaw version 2 binary encoding (plasma spec §1): validation of untrusted bytes
//! in either byte order (§1.10) and the encoder (native little-endian by default,
//! big-endian on request). Sans-IO: bytes in, bytes out.
//!
//! Validation walks the whole tree once, checking every length against the bytes
//! that are actually there before anything is read; only after it succeeds do
//! [`view`](super::view) and [`decode`] read the bytes without further checks.

use super::error::Error;
use super::value::{NumData, NumFormat, NumType, Numeric, Protein, Shape, Slaw};
use super::view::SlawView;
use super::MAX_DEPTH;

/// Byte order of a slaw.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub enum Endian {
    /// Little-endian: what tidepool and libPlasma on x86/ARM write.
    #[default]
    Little,
    /// Big-endian.
    Big,
}

impl Endian {
    /// The byte order of this machine.
    pub const NATIVE: Endian = if cfg!(target_endian = "big") {
        Endian::Big
    } else {
        Endian::Little
    };

    #[inline]
    pub(crate) fn u64_from(self, b: [u8; 8]) -> u64 {
        match self {
            Endian::Little => u64::from_le_bytes(b),
            Endian::Big => u64::from_be_bytes(b),
        }
    }

    #[inline]
    pub(crate) fn u64_to(self, v: u64) -> [u8; 8] {
        match self {
            Endian::Little => v.to_le_bytes(),
            Endian::Big => v.to_be_bytes(),
        }
    }
}

/// Bits 55..0 of container and full-string headers: the octlen.
pub const OCTLEN_MASK: u64 = 0x00ff_ffff_ffff_ffff;
/// Array breadth, bits 45..0.
pub const BREADTH_MASK: u64 = 0x0000_3fff_ffff_ffff;
/// Protein flags: nonstandard.
pub const PROTEIN_NONSTD: u64 = 0x8000_0000_0000_0000;
/// Protein flags: descrips present.
pub const PROTEIN_DESCRIPS: u64 = 0x4000_0000_0000_0000;
/// Protein flags: ingests present.
pub const PROTEIN_INGESTS: u64 = 0x2000_0000_0000_0000;
/// Protein flags: rude data follows the body.
pub const PROTEIN_VERY_RUDE: u64 = 0x0800_0000_0000_0000;
/// Protein flags: the rude length when very rude.
pub const PROTEIN_VERY_RUDE_MASK: u64 = 0x07ff_ffff_ffff_ffff;
/// Numeric header bit: float.
pub const NUM_FLOAT: u64 = 1 << 61;
/// Numeric header bit: unsigned.
pub const NUM_UNSIGNED: u64 = 1 << 60;
/// Numeric header bit: complex.
pub const NUM_COMPLEX: u64 = 1 << 57;
/// Numeric header bit: array.
pub const NUM_ARRAY: u64 = 1 << 62;

/// The 8-byte oct at `pos`, if all of it is inside `b`.
#[inline]
pub(crate) fn oct(b: &[u8], pos: usize, e: Endian) -> Option<u64> {
    let s = b.get(pos..pos.checked_add(8)?)?;
    let mut a = [0u8; 8];
    a.copy_from_slice(s);
    Some(e.u64_from(a))
}

/// Where the `n` special bytes of the oct at `pos` live (spec §1.3): the first n
/// bytes on little-endian, the last n on big-endian.
#[inline]
pub(crate) fn special_range(pos: usize, n: usize, e: Endian) -> std::ops::Range<usize> {
    match e {
        Endian::Little => pos..pos + n,
        Endian::Big => pos + 8 - n..pos + 8,
    }
}

/// The decoded protein length in octs (spec §1.8, split octlen field).
#[inline]
pub(crate) fn protein_octlen(h: u64) -> u64 {
    let v = h & !0xf000_0000_0000_00f0;
    (v & 0xf) | (v >> 4)
}

/// Decoded fields of a numeric header.
#[derive(Clone, Copy, Debug)]
pub(crate) struct NumHead {
    pub format: NumFormat,
    pub array: bool,
    pub breadth: u64,
}

/// Reads the numeric header at `pos` (already known to be nibble 8..=E).
pub(crate) fn num_head(h: u64, pos: usize) -> Result<NumHead, Error> {
    let corrupt = |what| Error::Corrupt { offset: pos, what };
    let float = h & NUM_FLOAT != 0;
    let unsigned = h & NUM_UNSIGNED != 0;
    let ss = (h >> 58) & 3;
    let complex = h & NUM_COMPLEX != 0;
    let shape = Shape::from_vvv((h >> 54) & 7);
    let bsize = ((h >> 46) & 0xff) + 1;
    let array = h & NUM_ARRAY != 0;
    let ty = match (float, unsigned, ss) {
        (true, true, _) => return Err(corrupt("numeric both float and unsigned")),
        (true, false, 0 | 1) => return Err(corrupt("float of 8 or 16 bits")),
        (true, false, 2) => NumType::F32,
        (true, false, _) => NumType::F64,
        (false, false, 0) => NumType::I8,
        (false, false, 1) => NumType::I16,
        (false, false, 2) => NumType::I32,
        (false, false, _) => NumType::I64,
        (false, true, 0) => NumType::U8,
        (false, true, 1) => NumType::U16,
        (false, true, 2) => NumType::U32,
        (false, true, _) => NumType::U64,
    };
    if complex && matches!(shape, Shape::Multivector(_)) {
        return Err(corrupt("complex multivector"));
    }
    let format = NumFormat { ty, complex, shape };
    if format.bsize() as u64 != bsize {
        return Err(corrupt("numeric bsize does not match its type"));
    }
    let breadth = if array {
        h & BREADTH_MASK
    } else {
        if (h >> 32) & 0x3fff != 0 {
            return Err(corrupt("numeric singleton with breadth bits set"));
        }
        1
    };
    Ok(NumHead {
        format,
        array,
        breadth,
    })
}

// Error constructors live out of line so the validation loop stays small.
#[cold]
#[inline(never)]
fn truncated(offset: usize, what: &'static str, need: u64, have: usize) -> Box<Error> {
    Box::new(Error::Truncated {
        offset,
        what,
        need,
        have,
    })
}

#[cold]
#[inline(never)]
fn corrupt(offset: usize, what: &'static str) -> Box<Error> {
    Box::new(Error::Corrupt { offset, what })
}

#[cold]
#[inline(never)]
fn bad_length(offset: usize, what: &'static str, len: u64) -> Box<Error> {
    Box::new(Error::BadLength { offset, what, len })
}

#[cold]
#[inline(never)]
fn too_deep(offset: usize) -> Box<Error> {
    Box::new(Error::TooDeep {
        offset,
        max: MAX_DEPTH,
    })
}

/// Length in bytes of `octs` octs if they fit in `avail` bytes.
#[inline]
fn fits(pos: usize, octs: u64, avail: usize, what: &'static str) -> Res {
    match octs.checked_mul(8) {
        Some(n) if n <= avail as u64 => Ok(n as usize),
        Some(n) => Err(truncated(pos, what, n, avail)),
        None => Err(bad_length(pos, what, octs)),
    }
}

/// Components per numeric element for each `vvv` value (before complex doubling).
const COMPONENTS: [u64; 8] = [1, 2, 3, 4, 4, 8, 16, 32];

/// Validates the slaw starting at `pos`, which must end by `end`; returns its
/// length in bytes. Offsets in errors are absolute positions in `b`.
pub(crate) fn check(
    b: &[u8],
    pos: usize,
    end: usize,
    e: Endian,
    depth: usize,
    strict: bool,
) -> Result<usize, Error> {
    let r = match (e, strict) {
        (Endian::Little, false) => chk::<false, false>(b, pos, end, depth),
        (Endian::Little, true) => chk::<false, true>(b, pos, end, depth),
        (Endian::Big, false) => chk::<true, false>(b, pos, end, depth),
        (Endian::Big, true) => chk::<true, true>(b, pos, end, depth),
    };
    r.map_err(|e| *e)
}

/// Result of the inner validator: a boxed error keeps the return value in two
/// registers on the hot path.
type Res = Result<usize, Box<Error>>;

/// The oct at `pos` in byte order `BE`.
#[inline(always)]
fn rd<const BE: bool>(b: &[u8], pos: usize) -> Option<u64> {
    let s = b.get(pos..pos.checked_add(8)?)?;
    let mut a = [0u8; 8];
    a.copy_from_slice(s);
    Some(if BE {
        u64::from_be_bytes(a)
    } else {
        u64::from_le_bytes(a)
    })
}

/// [`check`] monomorphised for the byte order and UTF-8 strictness.
fn chk<const BE: bool, const STRICT: bool>(b: &[u8], pos: usize, end: usize, depth: usize) -> Res {
    let avail = end.saturating_sub(pos);
    let h = match rd::<BE>(b, pos) {
        Some(h) if avail >= 8 => h,
        _ => return Err(truncated(pos, "slaw header", 8, avail)),
    };
    match leaf::<BE, STRICT>(b, pos, h, avail) {
        Some(r) => r,
        None => nested::<BE, STRICT>(b, pos, h, avail, depth),
    }
}

/// Validates a slaw that holds no other slawx (everything but containers and
/// proteins) whose header `h` is at `pos`; `None` for containers and proteins.
/// Inlined into the container loop so leaves cost no call.
#[inline(always)]
fn leaf<const BE: bool, const STRICT: bool>(
    b: &[u8],
    pos: usize,
    h: u64,
    avail: usize,
) -> Option<Res> {
    let e = if BE { Endian::Big } else { Endian::Little };
    Some(match h >> 60 {
        0x8..=0xa | 0xc..=0xe => {
            let ss = (h >> 58) & 3;
            let float = h & NUM_FLOAT != 0;
            if float && (h & NUM_UNSIGNED != 0 || ss < 2) {
                return Some(Err(corrupt(
                    pos,
                    "float that is unsigned or of 8 or 16 bits",
                )));
            }
            let vvv = ((h >> 54) & 7) as usize;
            let complex = h & NUM_COMPLEX != 0;
            if complex && vvv >= 4 {
                return Some(Err(corrupt(pos, "complex multivector")));
            }
            let comps = COMPONENTS[vvv] << u64::from(complex);
            let bsize = ((h >> 46) & 0xff) + 1;
            if comps << ss != bsize {
                return Some(Err(corrupt(pos, "numeric bsize does not match its type")));
            }
            if h & NUM_ARRAY == 0 {
                if (h >> 32) & 0x3fff != 0 {
                    return Some(Err(corrupt(pos, "numeric singleton with breadth bits set")));
                }
                if bsize <= 4 {
                    return Some(Ok(8));
                }
                return Some(fits(pos, 1 + bsize.div_ceil(8), avail, "numeric"));
            }
            // bsize ≤ 256 and breadth < 2^46, so the product cannot overflow.
            fits(
                pos,
                1 + (bsize * (h & BREADTH_MASK)).div_ceil(8),
                avail,
                "numeric array",
            )
        }
        0x3 => {
            if h & (1 << 59) != 0 {
                return Some(Err(corrupt(pos, "wee string with bit 59 set")));
            }
            let n = ((h >> 56) & 7) as usize;
            if n == 0 {
                return Some(Err(corrupt(pos, "wee string with no bytes")));
            }
            // The caller read a whole oct at `pos`, so the special bytes are there.
            let sb = &b[special_range(pos, n, e)];
            if sb[n - 1] != 0 {
                return Some(Err(corrupt(pos, "wee string without its terminating NUL")));
            }
            if STRICT {
                if let Err(err) = utf8(&sb[..n - 1], pos) {
                    return Some(Err(err));
                }
            }
            Ok(8)
        }
        0x7 => {
            if h & (1 << 59) != 0 {
                return Some(Err(corrupt(pos, "full string with bit 59 set")));
            }
            let pad = ((h >> 56) & 7) as usize;
            let octlen = h & OCTLEN_MASK;
            if octlen < 2 {
                return Some(Err(bad_length(pos, "full string", octlen)));
            }
            let len = match fits(pos, octlen, avail, "full string") {
                Ok(l) => l,
                Err(err) => return Some(Err(err)),
            };
            let data = len - 8;
            if pad + 1 > data {
                return Some(Err(corrupt(pos, "full string padding exceeds its data")));
            }
            let tlen = data - pad - 1;
            if b[pos + 8 + tlen] != 0 {
                return Some(Err(corrupt(pos, "full string without its terminating NUL")));
            }
            if STRICT {
                if let Err(err) = utf8(&b[pos + 8..pos + 8 + tlen], pos) {
                    return Some(Err(err));
                }
            }
            Ok(len)
        }
        0x2 => match h & 0x0fff_ffff_ffff_ffff {
            0..=2 => Ok(8),
            _ => Err(corrupt(pos, "boolean/nil with an unknown value")),
        },
        0x0 => Err(Box::new(Error::CorruptProtein {
            offset: pos,
            what: "nested protein in the other byte order",
        })),
        0xb | 0xf => Err(corrupt(pos, "reserved kind nibble")),
        _ => return None,
    })
}

/// Validates a container or protein whose header `h` is at `pos`.
fn nested<const BE: bool, const STRICT: bool>(
    b: &[u8],
    pos: usize,
    h: u64,
    avail: usize,
    depth: usize,
) -> Res {
    if depth >= MAX_DEPTH {
        return Err(too_deep(pos));
    }
    let kind = h >> 60;
    if kind == 0x1 {
        return check_protein_body::<BE, STRICT>(b, pos, h, avail, depth + 1);
    }
    let what = match kind {
        4 => "list",
        5 => "map",
        _ => "cons",
    };
    let octlen = h & OCTLEN_MASK;
    let field = (h >> 56) & 0xf;
    let (count, head) = if field == 15 {
        match rd::<BE>(b, pos + 8) {
            Some(c) if avail >= 16 => (c, 16usize),
            _ => return Err(truncated(pos, "container count oct", 16, avail)),
        }
    } else {
        (field, 8usize)
    };
    if kind == 6 && count != 2 {
        return Err(corrupt(pos, "cons whose count is not 2"));
    }
    if octlen < (head / 8) as u64 {
        return Err(bad_length(pos, what, octlen));
    }
    let len = fits(pos, octlen, avail, what)?;
    let cend = pos + len;
    let mut p = pos + head;
    let mut seen: u64 = 0;
    while p < cend {
        // p and cend are both whole octs from pos, so a whole oct is left.
        let Some(ch) = rd::<BE>(b, p) else {
            return Err(truncated(p, "slaw header", 8, cend - p));
        };
        if kind == 5 && ch >> 60 != 6 {
            return Err(corrupt(p, "map element that is not a cons"));
        }
        // Map entries are conses of two leaves almost always: validate those
        // here without a call per cons. Anything unusual (and every error) takes
        // the general path, so results and error reports are the same.
        if let Some(n) = quick_cons::<BE, STRICT>(b, p, ch, cend, depth) {
            p += n;
            seen += 1;
            continue;
        }
        p += match leaf::<BE, STRICT>(b, p, ch, cend - p) {
            Some(r) => r?,
            None => nested::<BE, STRICT>(b, p, ch, cend - p, depth + 1)?,
        };
        seen += 1;
    }
    if seen != count {
        return Err(corrupt(
            pos,
            match kind {
                4 => "list count does not match its elements",
                5 => "map count does not match its elements",
                _ => "cons does not hold exactly two slawx",
            },
        ));
    }
    Ok(len)
}

/// Length of the cons at `p` (header `ch`) if it is a valid wee-count cons of
/// two leaf slawx ending by `cend`; `None` for anything else, valid or not.
#[inline(always)]
fn quick_cons<const BE: bool, const STRICT: bool>(
    b: &[u8],
    p: usize,
    ch: u64,
    cend: usize,
    depth: usize,
) -> Option<usize> {
    if ch >> 60 != 6 || (ch >> 56) & 0xf != 2 || depth + 1 >= MAX_DEPTH {
        return None;
    }
    let octlen = ch & OCTLEN_MASK;
    let len = usize::try_from(octlen.checked_mul(8)?).ok()?;
    if len < 8 || len > cend - p {
        return None;
    }
    let end = p + len;
    let mut q = p + 8;
    for _ in 0..2 {
        if q >= end {
            return None;
        }
        let h = rd::<BE>(b, q)?;
        q += leaf::<BE, STRICT>(b, q, h, end - q)?.ok()?;
    }
    (q == end).then_some(len)
}

#[cold]
fn utf8(text: &[u8], pos: usize) -> Result<(), Box<Error>> {
    match std::str::from_utf8(text) {
        Ok(_) => Ok(()),
        Err(err) => Err(Box::new(Error::BadUtf8 {
            offset: pos,
            bad: err.valid_up_to(),
        })),
    }
}

/// Validates a protein whose header `h` (already in its own byte order) is at `pos`.
fn check_protein_body<const BE: bool, const STRICT: bool>(
    b: &[u8],
    pos: usize,
    h: u64,
    avail: usize,
    depth: usize,
) -> Res {
    let bad = |what| Box::new(Error::CorruptProtein { offset: pos, what });
    if h & 0xf0 != 0 {
        return Err(bad("header bits 7..4 are not zero"));
    }
    let octlen = protein_octlen(h);
    if octlen < 2 {
        return Err(bad_length(pos, "protein", octlen));
    }
    let len = fits(pos, octlen, avail, "protein")?;
    let end = pos + len;
    // octlen ≥ 2 and fits, so the flags oct is there.
    let flags = rd::<BE>(b, pos + 8).ok_or_else(|| bad("missing flags oct"))?;
    if flags & PROTEIN_NONSTD != 0 {
        return Ok(len);
    }
    let mut p = pos + 16;
    if flags & PROTEIN_DESCRIPS != 0 {
        p += chk::<BE, STRICT>(b, p, end, depth)?;
    }
    if flags & PROTEIN_INGESTS != 0 {
        p += chk::<BE, STRICT>(b, p, end, depth)?;
    }
    if flags & PROTEIN_VERY_RUDE != 0 {
        let rude = flags & PROTEIN_VERY_RUDE_MASK;
        let padded = rude.div_ceil(8).saturating_mul(8);
        if padded > (end - p) as u64 {
            return Err(bad("rude data runs past the protein"));
        }
        p += padded as usize;
    }
    if p != end {
        return Err(bad("body does not fill the protein's length"));
    }
    Ok(len)
}

/// Length in bytes of the valid slaw at the front of `bytes` (which may continue
/// with more data).
///
/// Strings that are not UTF-8 are accepted, as libPlasma accepts them (its own
/// test data holds one); use [`validate_strict`] to refuse them.
pub fn validate_prefix(bytes: &[u8], e: Endian) -> Result<usize, Error> {
    check(bytes, 0, bytes.len(), e, 0, false)
}

/// Like [`validate`], but strings must also be valid UTF-8.
pub fn validate_strict(bytes: &[u8], e: Endian) -> Result<(), Error> {
    whole(bytes, check(bytes, 0, bytes.len(), e, 0, true)?)
}

fn whole(bytes: &[u8], n: usize) -> Result<(), Error> {
    if !bytes.len().is_multiple_of(8) {
        return Err(Error::Misaligned {
            offset: 0,
            len: bytes.len(),
        });
    }
    if n != bytes.len() {
        return Err(Error::Trailing {
            offset: n,
            extra: bytes.len() - n,
        });
    }
    Ok(())
}

/// Validates that `bytes` hold exactly one slaw in byte order `e`.
pub fn validate(bytes: &[u8], e: Endian) -> Result<(), Error> {
    if !bytes.len().is_multiple_of(8) {
        return Err(Error::Misaligned {
            offset: 0,
            len: bytes.len(),
        });
    }
    let n = validate_prefix(bytes, e)?;
    if n != bytes.len() {
        return Err(Error::Trailing {
            offset: n,
            extra: bytes.len() - n,
        });
    }
    Ok(())
}

/// The byte order of a protein from its first oct, or `None` if the oct is not a
/// protein header in either order (spec §1.9).
pub fn protein_endian(first_oct: [u8; 8]) -> Option<Endian> {
    if u64::from_le_bytes(first_oct) >> 60 == 1 && first_oct[0] & 0xf0 == 0 {
        Some(Endian::Little)
    } else if u64::from_be_bytes(first_oct) >> 60 == 1 && first_oct[7] & 0xf0 == 0 {
        Some(Endian::Big)
    } else {
        None
    }
}

/// For stream framing: the byte order and total length of the protein that starts
/// `bytes`, `Ok(None)` if fewer than 8 bytes are there yet. Does not validate the body.
pub fn protein_frame_len(bytes: &[u8]) -> Result<Option<(Endian, usize)>, Error> {
    let Some(first) = bytes.get(..8) else {
        return Ok(None);
    };
    let mut a = [0u8; 8];
    a.copy_from_slice(first);
    let e = protein_endian(a).ok_or(Error::NotAProtein {
        offset: 0,
        header: u64::from_le_bytes(a),
    })?;
    let octlen = protein_octlen(e.u64_from(a));
    match octlen.checked_mul(8).and_then(|n| usize::try_from(n).ok()) {
        Some(n) if octlen >= 2 => Ok(Some((e, n))),
        _ => Err(Error::BadLength {
            offset: 0,
            what: "protein",
            len: octlen,
        }),
    }
}

/// Validates that `bytes` are exactly one protein, in either byte order; returns
/// the byte order.
pub fn validate_protein_bytes(bytes: &[u8]) -> Result<Endian, Error> {
    let (e, len) = protein_frame_len(bytes)?.ok_or(Error::Truncated {
        offset: 0,
        what: "protein header",
        need: 8,
        have: bytes.len(),
    })?;
    if !bytes.len().is_multiple_of(8) {
        return Err(Error::Misaligned {
            offset: 0,
            len: bytes.len(),
        });
    }
    let n = check(bytes, 0, bytes.len(), e, 0, false)?;
    if n != bytes.len() {
        return Err(Error::Trailing {
            offset: n,
            extra: bytes.len() - n,
        });
    }
    debug_assert_eq!(n, len);
    Ok(e)
}

/// Decodes exactly one slaw in byte order `e` into an owned tree.
pub fn decode(bytes: &[u8], e: Endian) -> Result<Slaw, Error> {
    Ok(SlawView::new(bytes, e)?.to_slaw())
}

/// Decodes the slaw at the front of `bytes`; returns it and its length in bytes.
pub fn decode_prefix(bytes: &[u8], e: Endian) -> Result<(Slaw, usize), Error> {
    let n = validate_prefix(bytes, e)?;
    let view = SlawView::new(&bytes[..n], e)?;
    Ok((view.to_slaw(), n))
}

/// Decodes a protein in either byte order. A nonstandard protein comes back as
/// [`Slaw::Nonstd`], a standard one as [`Slaw::Protein`].
pub fn decode_protein_slaw(bytes: &[u8]) -> Result<Slaw, Error> {
    let e = validate_protein_bytes(bytes)?;
    Ok(SlawView::new_unchecked(bytes, e).to_slaw())
}

/// Decodes a standard protein in either byte order.
pub fn decode_protein(bytes: &[u8]) -> Result<Protein, Error> {
    match decode_protein_slaw(bytes)? {
        Slaw::Protein(p) => Ok(*p),
        _ => Err(Error::CorruptProtein {
            offset: 0,
            what: "nonstandard protein (carried opaquely only)",
        }),
    }
}

/// Encodes `slaw` in little-endian.
pub fn encode(slaw: &Slaw) -> Vec<u8> {
    let mut out = Vec::new();
    encode_into(slaw, Endian::Little, &mut out);
    out
}

/// Encodes a protein in little-endian, as libPlasma writes on x86/ARM.
pub fn encode_protein(p: &Protein) -> Vec<u8> {
    let mut out = Vec::new();
    encode_protein_into(p, Endian::Little, &mut out);
    out
}

/// Appends the encoding of `slaw` in byte order `e` to `out`.
///
/// Numerics are written from their data's element type; a singleton's data is
/// cut or zero-filled to exactly its components, and an array's to whole elements.
pub fn encode_into(slaw: &Slaw, e: Endian, out: &mut Vec<u8>) {
    match slaw {
        Slaw::Nil => put(out, 0x2000_0000_0000_0002, e),
        Slaw::Bool(v) => put(out, 0x2000_0000_0000_0000 | u64::from(*v), e),
        Slaw::String(s) => encode_str(s.as_bytes(), e, out),
        Slaw::BadUtf8(s) => encode_str(s, e, out),
        Slaw::Num(n) => encode_num(n, false, e, out),
        Slaw::Array(n) => encode_num(n, true, e, out),
        Slaw::List(items) => {
            encode_container(0x4, items.len(), e, out, |out| {
                for it in items {
                    encode_into(it, e, out);
                }
            });
        }
        Slaw::Map(pairs) => {
            encode_container(0x5, pairs.len(), e, out, |out| {
                for (k, v) in pairs {
                    encode_container(0x6, 2, e, out, |out| {
                        encode_into(k, e, out);
                        encode_into(v, e, out);
                    });
                }
            });
        }
        Slaw::Cons(car, cdr) => encode_container(0x6, 2, e, out, |out| {
            encode_into(car, e, out);
            encode_into(cdr, e, out);
        }),
        Slaw::Protein(p) => encode_protein_into(p, e, out),
        Slaw::Nonstd(bytes) => {
            out.extend_from_slice(bytes);
            pad8(out);
        }
    }
}

/// Appends the encoding of protein `p` in byte order `e` to `out`.
pub fn encode_protein_into(p: &Protein, e: Endian, out: &mut Vec<u8>) {
    let start = out.len();
    out.extend_from_slice(&[0u8; 16]);
    let mut flags = 0u64;
    if let Some(d) = &p.descrips {
        flags |= PROTEIN_DESCRIPS;
        encode_into(d, e, out);
    }
    if let Some(i) = &p.ingests {
        flags |= PROTEIN_INGESTS;
        encode_into(i, e, out);
    }
    let rude = &p.rude;
    if rude.len() > 7 {
        flags |= PROTEIN_VERY_RUDE | (rude.len() as u64 & PROTEIN_VERY_RUDE_MASK);
        out.extend_from_slice(rude);
        pad8(out);
    } else {
        flags |= (rude.len() as u64) << 56;
    }
    let octlen = ((out.len() - start) / 8) as u64;
    let hdr = 0x1000_0000_0000_0000 | (octlen & 0xf) | ((octlen & !0xf) << 4);
    out[start..start + 8].copy_from_slice(&e.u64_to(hdr));
    out[start + 8..start + 16].copy_from_slice(&e.u64_to(flags));
    if rude.len() <= 7 {
        let r = special_range(start + 8, rude.len(), e);
        out[r].copy_from_slice(rude);
    }
}

#[inline]
fn put(out: &mut Vec<u8>, v: u64, e: Endian) {
    out.extend_from_slice(&e.u64_to(v));
}

#[inline]
fn pad8(out: &mut Vec<u8>) {
    let rem = out.len() % 8;
    if rem != 0 {
        out.resize(out.len() + 8 - rem, 0);
    }
}

fn encode_str(s: &[u8], e: Endian, out: &mut Vec<u8>) {
    if s.len() <= 6 {
        let n = s.len() + 1;
        let start = out.len();
        put(out, (3 << 60) | ((n as u64) << 56), e);
        let r = special_range(start, n, e);
        out[r.start..r.start + s.len()].copy_from_slice(s);
    } else {
        let t = s.len() + 1;
        let padded = t.div_ceil(8) * 8;
        let pad = (padded - t) as u64;
        let octlen = 1 + (padded / 8) as u64;
        put(out, (7 << 60) | (pad << 56) | (octlen & OCTLEN_MASK), e);
        out.extend_from_slice(s);
        out.push(0);
        pad8(out);
    }
}

fn encode_container(
    kind: u64,
    count: usize,
    e: Endian,
    out: &mut Vec<u8>,
    body: impl FnOnce(&mut Vec<u8>),
) {
    let start = out.len();
    let big = count >= 15;
    put(out, 0, e);
    if big {
        put(out, count as u64, e);
    }
    body(out);
    let octlen = ((out.len() - start) / 8) as u64;
    let field = if big { 15 } else { count as u64 };
    let hdr = (kind << 60) | (field << 56) | (octlen & OCTLEN_MASK);
    out[start..start + 8].copy_from_slice(&e.u64_to(hdr));
}

/// The header bits (without breadth/special bytes) of a numeric format.
pub(crate) fn num_header(f: NumFormat, array: bool) -> u64 {
    let ss = match f.ty.size() {
        1 => 0,
        2 => 1,
        4 => 2,
        _ => 3,
    };
    let mut h = 1u64 << 63;
    if array {
        h |= NUM_ARRAY;
    }
    if f.ty.is_float() {
        h |= NUM_FLOAT;
    }
    if f.ty.is_unsigned() {
        h |= NUM_UNSIGNED;
    }
    h |= ss << 58;
    if f.complex {
        h |= NUM_COMPLEX;
    }
    h |= f.shape.vvv() << 54;
    h |= ((f.bsize() as u64 - 1) & 0xff) << 46;
    h
}

/// Normalises a numeric to something encodable (see [`encode_into`]).
fn normal_format(n: &Numeric) -> NumFormat {
    let mut f = n.format;
    f.ty = n.data.ty();
    if !f.shape.is_valid() {
        f.shape = Shape::Scalar;
    }
    if matches!(f.shape, Shape::Multivector(_)) {
        f.complex = false;
    }
    f
}

fn encode_num(n: &Numeric, array: bool, e: Endian, out: &mut Vec<u8>) {
    let f = normal_format(n);
    let comps = f.components();
    let count = if array {
        n.data.len() / comps * comps
    } else {
        comps
    };
    let bytes = count * f.ty.size();
    let mut h = num_header(f, array);
    if array {
        h |= (count / comps) as u64 & BREADTH_MASK;
    }
    let start = out.len();
    put(out, h, e);
    if !array && bytes <= 4 {
        let mut tmp = Vec::with_capacity(4);
        put_components(&n.data, count, e, &mut tmp);
        let r = special_range(start, bytes, e);
        out[r].copy_from_slice(&tmp);
    } else {
        put_components(&n.data, count, e, out);
        pad8(out);
    }
}

/// Writes exactly `count` components of `d` (zero-filling when it has fewer).
fn put_components(d: &NumData, count: usize, e: Endian, out: &mut Vec<u8>) {
    macro_rules! each {
        ($v:expr, $zero:expr) => {{
            let v = $v;
            out.reserve(count * std::mem::size_of_val(&$zero));
            for i in 0..count {
                let x = v.get(i).copied().unwrap_or($zero);
                match e {
                    Endian::Little => out.extend_from_slice(&x.to_le_bytes()),
                    Endian::Big => out.extend_from_slice(&x.to_be_bytes()),
                }
            }
        }};
    }
    match d {
        NumData::I8(v) => each!(v, 0i8),
        NumData::I16(v) => each!(v, 0i16),
        NumData::I32(v) => each!(v, 0i32),
        NumData::I64(v) => each!(v, 0i64),
        NumData::U8(v) => each!(v, 0u8),
        NumData::U16(v) => each!(v, 0u16),
        NumData::U32(v) => each!(v, 0u32),
        NumData::U64(v) => each!(v, 0u64),
        NumData::F32(v) => each!(v, 0f32),
        NumData::F64(v) => each!(v, 0f64),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex(b: &[u8]) -> String {
        b.iter().map(|x| format!("{x:02x}")).collect()
    }

    #[test]
    fn wee_string_hello_both_orders() {
        let s = Slaw::str("Hello");
        assert_eq!(hex(&encode(&s)), "48656c6c6f000036");
        let mut be = Vec::new();
        encode_into(&s, Endian::Big, &mut be);
        assert_eq!(hex(&be), "360048656c6c6f00");
        assert_eq!(decode(&be, Endian::Big), Ok(s));
    }

    #[test]
    fn minimal_protein() {
        let b = encode_protein(&Protein::default());
        assert_eq!(hex(&b), "02000000000000100000000000000000");
        assert_eq!(decode_protein(&b), Ok(Protein::default()));
    }

    #[test]
    fn truncated_list_names_offset() {
        let b = encode(&Slaw::list([Slaw::str("abcdefghij")]));
        let err = validate(&b[..16], Endian::Little).unwrap_err();
        assert!(matches!(err, Error::Truncated { offset: 0, .. }), "{err}");
    }

    #[test]
    fn nesting_bomb_is_refused() {
        // 10_000 nested single-element lists, innermost empty.
        let depth = 10_000u64;
        let mut b = Vec::new();
        for i in 0..depth {
            let octlen = depth - i;
            let count = u64::from(i + 1 < depth);
            b.extend_from_slice(&((4u64 << 60) | (count << 56) | octlen).to_le_bytes());
        }
        let err = validate(&b, Endian::Little).unwrap_err();
        assert!(matches!(err, Error::TooDeep { .. }), "{err}");
    }

    #[test]
    fn huge_octlen_is_an_error_not_an_allocation() {
        let b = (0x4fu64 << 56 | OCTLEN_MASK).to_le_bytes();
        assert!(validate(&b, Endian::Little).is_err());
        let p = !0xf000_0000_0000_00f0u64 | 0x1000_0000_0000_0000;
        assert!(validate_protein_bytes(&p.to_le_bytes()).is_err());
    }

    #[test]
    fn nonstandard_protein_is_carried_opaquely() {
        let mut b = Vec::new();
        b.extend_from_slice(&0x1000_0000_0000_0003u64.to_le_bytes());
        b.extend_from_slice(&(PROTEIN_NONSTD | 0x1234).to_le_bytes());
        b.extend_from_slice(b"anything");
        let s = decode_protein_slaw(&b).expect("nonstd decodes");
        assert_eq!(s, Slaw::Nonstd(b.clone()));
        assert_eq!(encode(&s), b);
        let y = super::super::yaml::to_yaml(&s);
        assert!(y.contains("--- !nonstd |"), "{y}");
        assert_eq!(super::super::yaml::from_yaml(&y), Ok(s));
        assert!(decode_protein(&b).is_err());
    }

    #[test]
    fn bad_utf8_is_typed() {
        let b = [0xff, 0xfe, 0, 0, 0, 0, 0, 0x33];
        assert_eq!(
            decode(&b, Endian::Little),
            Ok(Slaw::BadUtf8(vec![0xff, 0xfe]))
        );
        assert_eq!(
            validate_strict(&b, Endian::Little),
            Err(Error::BadUtf8 { offset: 0, bad: 0 })
        );
    }
}
