//! Zero-copy views of validated slaw bytes (plasma spec §1). A view is only
//! created after [`codec`](super::codec) has validated the whole slaw, so the
//! accessors here read without re-checking lengths (slice indexing still cannot
//! panic: every index was proven in range by validation, and the few lookups that
//! could fail fall back to an empty result instead).
//!
//! Views borrow their bytes, so nobody can change them while a view exists. Bytes
//! that another process may rewrite (a live mmap'd pool entry) must be copied
//! into a buffer the reader owns, re-checked, and only then viewed.

use super::codec::{
    self, num_head, oct, protein_octlen, special_range, Endian, BREADTH_MASK, NUM_ARRAY,
    OCTLEN_MASK, PROTEIN_DESCRIPS, PROTEIN_INGESTS, PROTEIN_NONSTD, PROTEIN_VERY_RUDE,
    PROTEIN_VERY_RUDE_MASK,
};
use super::error::Error;
use super::value::{NumData, NumType, Numeric, Protein, Slaw};

/// What kind of slaw a view holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// nil
    Nil,
    /// boolean
    Bool,
    /// string (wee or full)
    String,
    /// numeric singleton
    Num,
    /// numeric array
    Array,
    /// list
    List,
    /// map
    Map,
    /// cons
    Cons,
    /// standard protein
    Protein,
    /// nonstandard protein
    Nonstd,
}

/// A borrowed, validated slaw: exactly its own bytes and their byte order.
#[derive(Clone, Copy, Debug)]
pub struct SlawView<'a> {
    bytes: &'a [u8],
    endian: Endian,
    header: u64,
}

impl<'a> SlawView<'a> {
    /// Validates `bytes` as exactly one slaw in byte order `e` and views it.
    pub fn new(bytes: &'a [u8], e: Endian) -> Result<Self, Error> {
        codec::validate(bytes, e)?;
        Ok(Self::new_unchecked(bytes, e))
    }

    /// Views bytes that were already validated as one slaw.
    pub(crate) fn new_unchecked(bytes: &'a [u8], e: Endian) -> Self {
        let header = oct(bytes, 0, e).unwrap_or(0x2000_0000_0000_0002);
        SlawView {
            bytes,
            endian: e,
            header,
        }
    }

    /// The slaw's bytes (a whole number of octs).
    pub fn bytes(&self) -> &'a [u8] {
        self.bytes
    }

    /// The byte order.
    pub fn endian(&self) -> Endian {
        self.endian
    }

    /// The kind of slaw.
    pub fn kind(&self) -> Kind {
        match self.header >> 60 {
            0x1 => {
                if oct(self.bytes, 8, self.endian).unwrap_or(0) & PROTEIN_NONSTD != 0 {
                    Kind::Nonstd
                } else {
                    Kind::Protein
                }
            }
            0x2 => match self.header & 3 {
                2 => Kind::Nil,
                _ => Kind::Bool,
            },
            0x3 | 0x7 => Kind::String,
            0x4 => Kind::List,
            0x5 => Kind::Map,
            0x6 => Kind::Cons,
            0xC..=0xE => Kind::Array,
            _ => Kind::Num,
        }
    }

    /// Whether this is nil.
    pub fn is_nil(&self) -> bool {
        self.kind() == Kind::Nil
    }

    /// The boolean, if this is one.
    pub fn as_bool(&self) -> Option<bool> {
        (self.kind() == Kind::Bool).then_some(self.header & 1 == 1)
    }

    /// The string bytes (without the terminating NUL), if this is a string.
    pub fn str_bytes(&self) -> Option<&'a [u8]> {
        match self.header >> 60 {
            0x3 => {
                let n = ((self.header >> 56) & 7) as usize;
                let r = special_range(0, n, self.endian);
                self.bytes.get(r.start..r.end.saturating_sub(1))
            }
            0x7 => {
                let pad = ((self.header >> 56) & 7) as usize;
                let tlen = self.bytes.len().saturating_sub(8 + pad + 1);
                self.bytes.get(8..8 + tlen)
            }
            _ => None,
        }
    }

    /// The string, if this is a UTF-8 string (borrowed, no copy).
    pub fn as_str(&self) -> Option<&'a str> {
        std::str::from_utf8(self.str_bytes()?).ok()
    }

    /// The integer value of a real integer scalar that fits an `i64`.
    pub fn as_i64(&self) -> Option<i64> {
        self.scalar_slaw()?.as_i64()
    }

    /// The value of any real numeric scalar as an `f64`.
    pub fn as_f64(&self) -> Option<f64> {
        self.scalar_slaw()?.as_f64()
    }

    fn scalar_slaw(&self) -> Option<Slaw> {
        match self.kind() {
            Kind::Num => Some(self.to_slaw()),
            _ => None,
        }
    }

    /// Number of children of a list or map (pairs), 2 for a cons, 0 otherwise.
    pub fn len(&self) -> usize {
        match self.header >> 60 {
            // Validation proved the stated count equals the children present.
            0x4..=0x6 => match (self.header >> 56) & 0xf {
                15 => oct(self.bytes, 8, self.endian).map_or(0, |c| c as usize),
                n => n as usize,
            },
            _ => 0,
        }
    }

    /// Whether [`len`](Self::len) is 0.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The children of a list, the cons pairs of a map, or car and cdr of a cons.
    pub fn children(&self) -> Children<'a> {
        let start = match self.header >> 60 {
            0x4..=0x6 if (self.header >> 56) & 0xf == 15 => 16,
            0x4..=0x6 => 8,
            _ => self.bytes.len(),
        };
        Children {
            bytes: self.bytes,
            pos: start,
            endian: self.endian,
        }
    }

    /// Car and cdr, if this is a cons.
    pub fn cons(&self) -> Option<(SlawView<'a>, SlawView<'a>)> {
        if self.kind() != Kind::Cons {
            return None;
        }
        let mut c = self.children();
        Some((c.next()?, c.next()?))
    }

    /// The (key, value) pairs of a map.
    pub fn pairs(&self) -> impl Iterator<Item = (SlawView<'a>, SlawView<'a>)> + 'a {
        let it = if self.kind() == Kind::Map {
            self.children()
        } else {
            Children {
                bytes: self.bytes,
                pos: self.bytes.len(),
                endian: self.endian,
            }
        };
        it.filter_map(|c| c.cons())
    }

    /// The value under string key `key` in a map (first match).
    pub fn get(&self, key: &str) -> Option<SlawView<'a>> {
        self.pairs()
            .find(|(k, _)| k.str_bytes() == Some(key.as_bytes()))
            .map(|(_, v)| v)
    }

    /// The protein view, if this is a standard protein.
    pub fn as_protein(&self) -> Option<ProteinView<'a>> {
        (self.kind() == Kind::Protein).then(|| ProteinView::from_validated(self.bytes, self.endian))
    }

    /// Copies the slaw into an owned tree.
    pub fn to_slaw(&self) -> Slaw {
        let e = self.endian;
        let h = self.header;
        match self.kind() {
            Kind::Nil => Slaw::Nil,
            Kind::Bool => Slaw::Bool(h & 1 == 1),
            Kind::String => match self.as_str() {
                Some(t) => Slaw::String(t.to_owned()),
                None => Slaw::BadUtf8(self.str_bytes().unwrap_or_default().to_vec()),
            },
            Kind::List => Slaw::List(self.children().map(|c| c.to_slaw()).collect()),
            Kind::Map => Slaw::Map(
                self.pairs()
                    .map(|(k, v)| (k.to_slaw(), v.to_slaw()))
                    .collect(),
            ),
            Kind::Cons => match self.cons() {
                Some((a, d)) => Slaw::cons(a.to_slaw(), d.to_slaw()),
                None => Slaw::Nil,
            },
            Kind::Protein => Slaw::Protein(Box::new(
                ProteinView::from_validated(self.bytes, e).to_protein(),
            )),
            Kind::Nonstd => Slaw::Nonstd(self.bytes.to_vec()),
            Kind::Num | Kind::Array => {
                // Validation already accepted this header.
                let Ok(nh) = num_head(h, 0) else {
                    return Slaw::Nil;
                };
                let comps = nh.format.components();
                let count = comps * nh.breadth as usize;
                let size = nh.format.ty.size();
                let data = if !nh.array && nh.format.bsize() <= 4 {
                    let r = special_range(0, nh.format.bsize(), e);
                    self.bytes.get(r).unwrap_or_default()
                } else {
                    self.bytes.get(8..8 + count * size).unwrap_or_default()
                };
                let n = Numeric {
                    format: nh.format,
                    data: read_components(nh.format.ty, data, e),
                };
                if nh.array {
                    Slaw::Array(n)
                } else {
                    Slaw::Num(n)
                }
            }
        }
    }
}

/// Decodes packed components of type `ty` in byte order `e`.
pub(crate) fn read_components(ty: NumType, data: &[u8], e: Endian) -> NumData {
    macro_rules! conv {
        ($variant:ident, $t:ty, $n:expr) => {
            NumData::$variant(
                data.chunks_exact($n)
                    .map(|c| {
                        let mut a = [0u8; $n];
                        a.copy_from_slice(c);
                        match e {
                            Endian::Little => <$t>::from_le_bytes(a),
                            Endian::Big => <$t>::from_be_bytes(a),
                        }
                    })
                    .collect(),
            )
        };
    }
    match ty {
        NumType::I8 => NumData::I8(data.iter().map(|&b| b as i8).collect()),
        NumType::U8 => NumData::U8(data.to_vec()),
        NumType::I16 => conv!(I16, i16, 2),
        NumType::U16 => conv!(U16, u16, 2),
        NumType::I32 => conv!(I32, i32, 4),
        NumType::U32 => conv!(U32, u32, 4),
        NumType::F32 => conv!(F32, f32, 4),
        NumType::I64 => conv!(I64, i64, 8),
        NumType::U64 => conv!(U64, u64, 8),
        NumType::F64 => conv!(F64, f64, 8),
    }
}

/// Iterator over the child slawx of a validated container.
#[derive(Clone, Debug)]
pub struct Children<'a> {
    bytes: &'a [u8],
    pos: usize,
    endian: Endian,
}

impl<'a> Iterator for Children<'a> {
    type Item = SlawView<'a>;

    fn next(&mut self) -> Option<SlawView<'a>> {
        let n = slaw_len_unchecked(self.bytes, self.pos, self.endian)?;
        let v = SlawView::new_unchecked(self.bytes.get(self.pos..self.pos + n)?, self.endian);
        self.pos += n;
        Some(v)
    }
}

/// Length of the already-validated slaw at `pos`; `None` at the end of the bytes.
#[inline]
fn slaw_len_unchecked(b: &[u8], pos: usize, e: Endian) -> Option<usize> {
    let h = oct(b, pos, e)?;
    let octs = match h >> 60 {
        0x1 => protein_octlen(h),
        0x2 | 0x3 => 1,
        0x4..=0x7 => h & OCTLEN_MASK,
        _ => {
            // Validated already: the header's own bsize and breadth are right.
            let bsize = ((h >> 46) & 0xff) + 1;
            if h & NUM_ARRAY == 0 {
                if bsize <= 4 {
                    1
                } else {
                    1 + bsize.div_ceil(8)
                }
            } else {
                1 + (bsize * (h & BREADTH_MASK)).div_ceil(8)
            }
        }
    };
    usize::try_from(octs.checked_mul(8)?)
        .ok()
        .filter(|&n| n > 0)
}

/// A borrowed, validated standard protein: descrips, ingests and rude data without
/// building a tree.
#[derive(Clone, Copy, Debug)]
pub struct ProteinView<'a> {
    bytes: &'a [u8],
    endian: Endian,
    descrips: Option<SlawView<'a>>,
    ingests: Option<SlawView<'a>>,
    rude: &'a [u8],
    nonstd: bool,
}

impl<'a> ProteinView<'a> {
    fn from_validated(bytes: &'a [u8], e: Endian) -> Self {
        let flags = oct(bytes, 8, e).unwrap_or(0);
        let mut v = ProteinView {
            bytes,
            endian: e,
            descrips: None,
            ingests: None,
            rude: &[],
            nonstd: flags & PROTEIN_NONSTD != 0,
        };
        if v.nonstd {
            return v;
        }
        let mut p = 16;
        let take = |p: &mut usize| {
            let n = slaw_len_unchecked(bytes, *p, e)?;
            let s = SlawView::new_unchecked(bytes.get(*p..*p + n)?, e);
            *p += n;
            Some(s)
        };
        if flags & PROTEIN_DESCRIPS != 0 {
            v.descrips = take(&mut p);
        }
        if flags & PROTEIN_INGESTS != 0 {
            v.ingests = take(&mut p);
        }
        v.rude = if flags & PROTEIN_VERY_RUDE != 0 {
            let n = (flags & PROTEIN_VERY_RUDE_MASK) as usize;
            bytes.get(p..p.saturating_add(n)).unwrap_or_default()
        } else {
            let n = ((flags >> 56) & 7) as usize;
            bytes.get(special_range(8, n, e)).unwrap_or_default()
        };
        v
    }

    /// The protein's bytes.
    pub fn bytes(&self) -> &'a [u8] {
        self.bytes
    }

    /// The protein's byte order.
    pub fn endian(&self) -> Endian {
        self.endian
    }

    /// Whether the protein is nonstandard (descrips/ingests/rude are then empty).
    pub fn is_nonstd(&self) -> bool {
        self.nonstd
    }

    /// The descrips, if present.
    pub fn descrips(&self) -> Option<SlawView<'a>> {
        self.descrips
    }

    /// The ingests, if present.
    pub fn ingests(&self) -> Option<SlawView<'a>> {
        self.ingests
    }

    /// The rude data (possibly empty).
    pub fn rude(&self) -> &'a [u8] {
        self.rude
    }

    /// Looks up `key` in the ingests map.
    pub fn ingest(&self, key: &str) -> Option<SlawView<'a>> {
        self.ingests?.get(key)
    }

    /// Copies into an owned [`Protein`].
    pub fn to_protein(&self) -> Protein {
        Protein {
            descrips: self.descrips.map(|d| d.to_slaw()),
            ingests: self.ingests.map(|i| i.to_slaw()),
            rude: self.rude.to_vec(),
        }
    }

    /// Copies into an owned slaw ([`Slaw::Nonstd`] for nonstandard proteins).
    pub fn to_slaw(&self) -> Slaw {
        if self.nonstd {
            Slaw::Nonstd(self.bytes.to_vec())
        } else {
            Slaw::Protein(Box::new(self.to_protein()))
        }
    }
}

/// Validates `bytes` as exactly one protein in either byte order and views it.
///
/// This is the zero-copy entry point for untrusted protein bytes: nothing is
/// read from the body before the whole protein has been validated.
pub fn validate_protein(bytes: &[u8]) -> Result<ProteinView<'_>, Error> {
    let e = codec::validate_protein_bytes(bytes)?;
    Ok(ProteinView::from_validated(bytes, e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn view_reads_protein_without_tree() {
        let p = Protein::new(
            Slaw::strings(["a", "long descrip string"]),
            Slaw::map([("k", Slaw::i32(7)), ("name", Slaw::str("x"))]),
        )
        .with_rude(vec![9u8; 20]);
        let b = codec::encode_protein(&p);
        let v = validate_protein(&b).expect("valid");
        assert_eq!(v.rude(), &[9u8; 20][..]);
        assert_eq!(v.ingest("k").and_then(|s| s.as_i64()), Some(7));
        let names: Vec<_> = v
            .descrips()
            .expect("descrips")
            .children()
            .filter_map(|c| c.as_str())
            .collect();
        assert_eq!(names, ["a", "long descrip string"]);
        assert_eq!(v.to_protein(), p);
    }
}
