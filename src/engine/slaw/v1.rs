//! Slaw version 1 reading (plasma spec §4): legacy quad-based slawx, enough for
//! old `.slaw` files and pool configs and the pool TCP client greeting. v1 is
//! converted to the v2 value tree on the way in; tidepool never writes v1.
//!
//! The wee forms are verified against real 2009 files (the `v1-` vectors); the
//! full-length list/map/string forms and numeric arrays follow the spec's reading
//! of libPlasma's source and are UNVERIFIED, as the spec marks them.

use super::codec::Endian;
use super::error::Error;
use super::value::{NumFormat, NumType, Numeric, Protein, Shape, Slaw};
use super::view::read_components;
use super::MAX_DEPTH;

const NIL: u32 = 0x0101_0101;
const PROTEIN_MASK: u32 = 0xa080_80e0;
const PROTEIN_BITS: u32 = 0x8080_0080;

fn quad(b: &[u8], pos: usize, end: usize, e: Endian) -> Result<u32, Error> {
    match b.get(pos..pos.saturating_add(4)).filter(|_| pos + 4 <= end) {
        Some(s) => {
            let a = [s[0], s[1], s[2], s[3]];
            Ok(match e {
                Endian::Little => u32::from_le_bytes(a),
                Endian::Big => u32::from_be_bytes(a),
            })
        }
        None => Err(Error::Truncated {
            offset: pos,
            what: "v1 quad",
            need: 4,
            have: end.saturating_sub(pos),
        }),
    }
}

/// Decodes a stream of v1 slawx (a version-1 file body) into v2 values.
pub fn decode_stream(body: &[u8], e: Endian) -> Result<Vec<Slaw>, Error> {
    let mut out = Vec::new();
    let mut pos = 0;
    while pos < body.len() {
        let (s, n) = decode_at(body, pos, body.len(), e, 0)?;
        out.push(s);
        pos += n;
    }
    Ok(out)
}

/// Decodes one v1 slaw at the front of `bytes`; returns it and its length.
pub fn decode_prefix(bytes: &[u8], e: Endian) -> Result<(Slaw, usize), Error> {
    decode_at(bytes, 0, bytes.len(), e, 0)
}

/// Bytes of `quads` quads from `pos`, if they fit before `end`.
fn span(pos: usize, end: usize, quads: u64, what: &'static str) -> Result<usize, Error> {
    let avail = end.saturating_sub(pos);
    match quads.checked_mul(4) {
        Some(n) if n <= avail as u64 && n > 0 => Ok(n as usize),
        Some(0) => Err(Error::V1 {
            offset: pos,
            what: "zero length",
        }),
        Some(n) => Err(Error::Truncated {
            offset: pos,
            what,
            need: n,
            have: avail,
        }),
        None => Err(Error::BadLength {
            offset: pos,
            what,
            len: quads,
        }),
    }
}

fn text(b: &[u8]) -> Slaw {
    let t = match b.iter().position(|&c| c == 0) {
        Some(i) => &b[..i],
        None => b,
    };
    match std::str::from_utf8(t) {
        Ok(s) => Slaw::String(s.to_string()),
        Err(_) => Slaw::BadUtf8(t.to_vec()),
    }
}

fn decode_at(
    b: &[u8],
    pos: usize,
    end: usize,
    e: Endian,
    depth: usize,
) -> Result<(Slaw, usize), Error> {
    if depth > MAX_DEPTH {
        return Err(Error::TooDeep {
            offset: pos,
            max: MAX_DEPTH,
        });
    }
    let bad = |what| Error::V1 { offset: pos, what };
    let q = quad(b, pos, end, e)?;
    if q == NIL {
        return Ok((Slaw::Nil, 4));
    }
    if q & PROTEIN_MASK == PROTEIN_BITS {
        return protein(b, pos, end, q, e, depth);
    }
    if q == 2 || q == 3 {
        return Ok((Slaw::Bool(q == 3), 4));
    }
    if q & 0x8000_0000 != 0 {
        // Full forms: the length (quads after the header and length quads) follows.
        let wide = q & 0x4000_0000 != 0;
        let ilk = q & !0xc000_0000;
        let lq = if wide { 2 } else { 1 };
        let read_n = |at: usize| -> Result<u64, Error> {
            if wide {
                let hi = quad(b, at, end, e)?;
                let lo = quad(b, at + 4, end, e)?;
                Ok(match e {
                    Endian::Big => (u64::from(hi) << 32) | u64::from(lo),
                    Endian::Little => (u64::from(lo) << 32) | u64::from(hi),
                })
            } else {
                Ok(u64::from(quad(b, at, end, e)?))
            }
        };
        let body_len = read_n(pos + 4)?;
        let head = 4 + 4 * lq;
        let total = span(pos, end, body_len.saturating_add(1 + lq as u64), "v1 slaw")?;
        let body_start = pos + head;
        let body_end = pos + total;
        return match ilk {
            0x2000_0002 => Ok((text(&b[body_start.min(body_end)..body_end]), total)),
            0x2000_0001 => {
                let (car, n) = decode_at(b, body_start, body_end, e, depth + 1)?;
                let (cdr, _) = decode_at(b, body_start + n, body_end, e, depth + 1)?;
                Ok((Slaw::cons(car, cdr), total))
            }
            0x2000_0004 | 0x2000_0005 => {
                let count = read_n(body_start)?;
                let items = children(b, body_start + 4 * lq, body_end, e, depth, count)?;
                Ok((container(items, ilk & 1 == 1, pos)?, total))
            }
            _ => Err(bad("unknown full-length ilk")),
        };
    }
    if q & 0x4000_0000 != 0 {
        let total = span(pos, end, u64::from(q & 0x3fff_ffff) + 1, "v1 cons")?;
        let (car, n) = decode_at(b, pos + 4, pos + total, e, depth + 1)?;
        let (cdr, _) = decode_at(b, pos + 4 + n, pos + total, e, depth + 1)?;
        return Ok((Slaw::cons(car, cdr), total));
    }
    if q & 0x2000_0000 != 0 {
        let total = span(pos, end, u64::from(q & 0x1fff_ffff) + 1, "v1 string")?;
        return Ok((text(&b[pos + 4..pos + total]), total));
    }
    if q & 0x1000_0000 != 0 {
        let is_map = q & 0x0800_0000 != 0;
        let count = u64::from(q & 0x07ff_ffff);
        let total = span(pos, end, u64::from(quad(b, pos + 4, end, e)?), "v1 list")?;
        if total < 8 {
            return Err(bad("list shorter than its header"));
        }
        let items = children(b, pos + 8, pos + total, e, depth, count)?;
        return Ok((container(items, is_map, pos)?, total));
    }
    if q & 0x0800_0000 != 0 {
        return numeric(b, pos, end, q, e);
    }
    Err(bad("unknown v1 header"))
}

fn children(
    b: &[u8],
    mut p: usize,
    end: usize,
    e: Endian,
    depth: usize,
    count: u64,
) -> Result<Vec<Slaw>, Error> {
    let mut items = Vec::new();
    for _ in 0..count {
        let (s, n) = decode_at(b, p, end, e, depth + 1)?;
        items.push(s);
        p += n;
    }
    Ok(items)
}

fn container(items: Vec<Slaw>, is_map: bool, pos: usize) -> Result<Slaw, Error> {
    if !is_map {
        return Ok(Slaw::List(items));
    }
    let mut pairs = Vec::with_capacity(items.len());
    for it in items {
        match it {
            Slaw::Cons(k, v) => pairs.push((*k, *v)),
            _ => {
                return Err(Error::V1 {
                    offset: pos,
                    what: "map element that is not a cons",
                })
            }
        }
    }
    Ok(Slaw::Map(pairs))
}

fn protein(
    b: &[u8],
    pos: usize,
    end: usize,
    q: u32,
    e: Endian,
    depth: usize,
) -> Result<(Slaw, usize), Error> {
    let bad = |what| Error::V1 { offset: pos, what };
    let (body_start, body_quads) = if q & 0x1000_0000 != 0 {
        (pos + 4, u64::from((q >> 16) & 0x7f))
    } else if q & 0x4000_0000 != 0 {
        let hi = quad(b, pos + 4, end, e)?;
        let lo = quad(b, pos + 8, end, e)?;
        let n = match e {
            Endian::Big => (u64::from(hi) << 32) | u64::from(lo),
            Endian::Little => (u64::from(lo) << 32) | u64::from(hi),
        };
        (pos + 12, n)
    } else {
        (pos + 8, u64::from(quad(b, pos + 4, end, e)?))
    };
    if q & 0x0800_0000 != 0 {
        return Err(bad("nonstandard v1 protein"));
    }
    let body = span(body_start, end, body_quads, "v1 protein")?;
    let body_end = body_start + body;
    let pad = ((q >> 8) & 0x7f) as usize;
    let mut p = body_start;
    let mut out = Protein::default();
    if q & 0x0400_0000 != 0 {
        let (s, n) = decode_at(b, p, body_end, e, depth + 1)?;
        out.descrips = Some(s);
        p += n;
    }
    if q & 0x0200_0000 != 0 {
        let (s, n) = decode_at(b, p, body_end, e, depth + 1)?;
        out.ingests = Some(s);
        p += n;
    }
    if q & 0x0100_0000 != 0 {
        let rude_end = body_end
            .checked_sub(pad)
            .filter(|&r| r >= p)
            .ok_or(bad("protein pad exceeds its rude data"))?;
        out.rude = b[p..rude_end].to_vec();
    }
    Ok((Slaw::protein(out), body_end - pos))
}

fn numeric(b: &[u8], pos: usize, end: usize, q: u32, e: Endian) -> Result<(Slaw, usize), Error> {
    let bad = |what| Error::V1 { offset: pos, what };
    let float = q & 0x0400_0000 != 0;
    let complex = q & 0x0200_0000 != 0;
    let unsigned = q & 0x0100_0000 != 0;
    let ty = match (float, unsigned, q & 0x0080_0000 != 0, q & 0x0040_0000 != 0) {
        (false, false, false, false) => NumType::I32,
        (false, false, false, true) => NumType::I8,
        (false, false, true, true) => NumType::I16,
        (false, false, true, false) => NumType::I64,
        (false, true, false, false) => NumType::U32,
        (false, true, false, true) => NumType::U8,
        (false, true, true, true) => NumType::U16,
        (false, true, true, false) => NumType::U64,
        (true, false, false, false) => NumType::F32,
        (true, false, true, false) => NumType::F64,
        _ => return Err(bad("unknown numeric type bits")),
    };
    let vfield = ((q >> 19) & 3) as u8;
    let shape = if q & 0x0020_0000 != 0 {
        Shape::Multivector(vfield + 2)
    } else if vfield > 0 {
        Shape::Vector(vfield + 1)
    } else {
        Shape::Scalar
    };
    let format = NumFormat { ty, complex, shape };
    let bsize = (q & 0xff) as usize + 1;
    if bsize != format.bsize() {
        return Err(bad("numeric bsize does not match its type"));
    }
    let mut head = 4usize;
    let breadth: Option<u64> = if q & 0x0004_0000 != 0 {
        if q & 0x0002_0000 != 0 {
            let hi = quad(b, pos + 4, end, e)?;
            let lo = quad(b, pos + 8, end, e)?;
            head = 12;
            Some(match e {
                Endian::Big => (u64::from(hi) << 32) | u64::from(lo),
                Endian::Little => (u64::from(lo) << 32) | u64::from(hi),
            })
        } else {
            head = 8;
            Some(u64::from(quad(b, pos + 4, end, e)?))
        }
    } else {
        match (q >> 8) & 0x1ff {
            0 => None,
            w => Some(u64::from(w) - 1),
        }
    };
    let elems = breadth.unwrap_or(1);
    let bytes = elems
        .checked_mul(bsize as u64)
        .ok_or(bad("numeric array too long"))?;
    let total = span(pos, end, (head as u64 + bytes).div_ceil(4), "v1 numeric")?;
    let data = read_components(ty, &b[pos + head..pos + head + bytes as usize], e);
    let n = Numeric { format, data };
    Ok((
        if breadth.is_some() {
            Slaw::Array(n)
        } else {
            Slaw::Num(n)
        },
        total,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn truncated_and_garbage_v1_is_an_error() {
        assert!(decode_stream(&[0x03, 0, 0, 0x20], Endian::Little).is_err());
        assert!(decode_stream(&[0xff; 13], Endian::Little).is_err());
        assert!(decode_stream(&[0x80, 0, 0xff, 0x9f], Endian::Little).is_err());
    }
}
