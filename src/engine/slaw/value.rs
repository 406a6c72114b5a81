//! The owned slaw tree (plasma spec §1): what callers build and what the full
//! decoder returns. Byte layout lives in `codec.rs`; this file is layout-free.

use std::fmt;

/// Element type of a numeric slaw (spec §1.6): the 8 integer widths and the 2 floats.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum NumType {
    /// int8
    I8,
    /// int16
    I16,
    /// int32
    I32,
    /// int64
    I64,
    /// unt8
    U8,
    /// unt16
    U16,
    /// unt32
    U32,
    /// unt64
    U64,
    /// float32
    F32,
    /// float64
    F64,
}

impl NumType {
    /// Every type, in YAML-tag order.
    pub const ALL: [NumType; 10] = [
        NumType::I8,
        NumType::I16,
        NumType::I32,
        NumType::I64,
        NumType::U8,
        NumType::U16,
        NumType::U32,
        NumType::U64,
        NumType::F32,
        NumType::F64,
    ];

    /// Size of one component in bytes.
    #[inline]
    pub fn size(self) -> usize {
        match self {
            NumType::I8 | NumType::U8 => 1,
            NumType::I16 | NumType::U16 => 2,
            NumType::I32 | NumType::U32 | NumType::F32 => 4,
            NumType::I64 | NumType::U64 | NumType::F64 => 8,
        }
    }

    /// Whether this is float32 or float64.
    #[inline]
    pub fn is_float(self) -> bool {
        matches!(self, NumType::F32 | NumType::F64)
    }

    /// Whether this is one of the unsigned types.
    #[inline]
    pub fn is_unsigned(self) -> bool {
        matches!(
            self,
            NumType::U8 | NumType::U16 | NumType::U32 | NumType::U64
        )
    }

    /// The libPlasma YAML tag suffix (`i32`, `u8`, `f64`, …).
    pub fn tag(self) -> &'static str {
        match self {
            NumType::I8 => "i8",
            NumType::I16 => "i16",
            NumType::I32 => "i32",
            NumType::I64 => "i64",
            NumType::U8 => "u8",
            NumType::U16 => "u16",
            NumType::U32 => "u32",
            NumType::U64 => "u64",
            NumType::F32 => "f32",
            NumType::F64 => "f64",
        }
    }

    /// Parses a YAML tag suffix produced by [`NumType::tag`].
    pub fn from_tag(tag: &str) -> Option<NumType> {
        NumType::ALL.into_iter().find(|t| t.tag() == tag)
    }
}

/// How many components one numeric element has apart from complexity (spec §1.6 `vvv`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Shape {
    /// One component.
    Scalar,
    /// A vector of 2, 3 or 4 components.
    Vector(u8),
    /// A multivector of dimension 2..=5 (2^dim real components).
    Multivector(u8),
}

impl Shape {
    /// Components of the shape (before doubling for complex).
    #[inline]
    pub fn components(self) -> usize {
        match self {
            Shape::Scalar => 1,
            Shape::Vector(n) => n as usize,
            Shape::Multivector(n) => 1usize << n,
        }
    }

    /// The 3-bit `vvv` header field.
    #[inline]
    pub fn vvv(self) -> u64 {
        match self {
            Shape::Scalar => 0,
            Shape::Vector(n) => u64::from(n.saturating_sub(1)),
            Shape::Multivector(n) => 4 + u64::from(n.saturating_sub(2)),
        }
    }

    /// The shape for a `vvv` header field.
    #[inline]
    pub fn from_vvv(vvv: u64) -> Shape {
        match vvv & 7 {
            0 => Shape::Scalar,
            v @ 1..=3 => Shape::Vector(v as u8 + 1),
            v => Shape::Multivector(v as u8 - 2),
        }
    }

    /// Whether the shape is one the spec defines.
    pub fn is_valid(self) -> bool {
        match self {
            Shape::Scalar => true,
            Shape::Vector(n) => (2..=4).contains(&n),
            Shape::Multivector(n) => (2..=5).contains(&n),
        }
    }
}

/// The format of one numeric element: base type, complexity and shape.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct NumFormat {
    /// Base type of each component.
    pub ty: NumType,
    /// Whether each component is a (re, im) pair. Multivectors are never complex.
    pub complex: bool,
    /// Scalar, vector or multivector.
    pub shape: Shape,
}

impl NumFormat {
    /// A plain scalar of `ty`.
    pub fn scalar(ty: NumType) -> Self {
        NumFormat {
            ty,
            complex: false,
            shape: Shape::Scalar,
        }
    }

    /// Number of base-type components in one element.
    #[inline]
    pub fn components(self) -> usize {
        self.shape.components() * if self.complex { 2 } else { 1 }
    }

    /// Bytes of one element (the header's bsize).
    #[inline]
    pub fn bsize(self) -> usize {
        self.components() * self.ty.size()
    }
}

/// Flattened numeric components, element after element, component after component
/// (complex: re then im).
#[derive(Clone, Debug, PartialEq)]
pub enum NumData {
    /// int8 components.
    I8(Vec<i8>),
    /// int16 components.
    I16(Vec<i16>),
    /// int32 components.
    I32(Vec<i32>),
    /// int64 components.
    I64(Vec<i64>),
    /// unt8 components.
    U8(Vec<u8>),
    /// unt16 components.
    U16(Vec<u16>),
    /// unt32 components.
    U32(Vec<u32>),
    /// unt64 components.
    U64(Vec<u64>),
    /// float32 components.
    F32(Vec<f32>),
    /// float64 components.
    F64(Vec<f64>),
}

impl NumData {
    /// The base type of the components.
    pub fn ty(&self) -> NumType {
        match self {
            NumData::I8(_) => NumType::I8,
            NumData::I16(_) => NumType::I16,
            NumData::I32(_) => NumType::I32,
            NumData::I64(_) => NumType::I64,
            NumData::U8(_) => NumType::U8,
            NumData::U16(_) => NumType::U16,
            NumData::U32(_) => NumType::U32,
            NumData::U64(_) => NumType::U64,
            NumData::F32(_) => NumType::F32,
            NumData::F64(_) => NumType::F64,
        }
    }

    /// An empty component vector of `ty` with room for `cap` components.
    pub fn with_capacity(ty: NumType, cap: usize) -> NumData {
        match ty {
            NumType::I8 => NumData::I8(Vec::with_capacity(cap)),
            NumType::I16 => NumData::I16(Vec::with_capacity(cap)),
            NumType::I32 => NumData::I32(Vec::with_capacity(cap)),
            NumType::I64 => NumData::I64(Vec::with_capacity(cap)),
            NumType::U8 => NumData::U8(Vec::with_capacity(cap)),
            NumType::U16 => NumData::U16(Vec::with_capacity(cap)),
            NumType::U32 => NumData::U32(Vec::with_capacity(cap)),
            NumType::U64 => NumData::U64(Vec::with_capacity(cap)),
            NumType::F32 => NumData::F32(Vec::with_capacity(cap)),
            NumType::F64 => NumData::F64(Vec::with_capacity(cap)),
        }
    }

    /// Number of components.
    pub fn len(&self) -> usize {
        match self {
            NumData::I8(v) => v.len(),
            NumData::I16(v) => v.len(),
            NumData::I32(v) => v.len(),
            NumData::I64(v) => v.len(),
            NumData::U8(v) => v.len(),
            NumData::U16(v) => v.len(),
            NumData::U32(v) => v.len(),
            NumData::U64(v) => v.len(),
            NumData::F32(v) => v.len(),
            NumData::F64(v) => v.len(),
        }
    }

    /// Whether there are no components.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Component `i` as a [`Component`].
    pub fn get(&self, i: usize) -> Option<Component> {
        Some(match self {
            NumData::I8(v) => Component::Int(i64::from(*v.get(i)?)),
            NumData::I16(v) => Component::Int(i64::from(*v.get(i)?)),
            NumData::I32(v) => Component::Int(i64::from(*v.get(i)?)),
            NumData::I64(v) => Component::Int(*v.get(i)?),
            NumData::U8(v) => Component::Unt(u64::from(*v.get(i)?)),
            NumData::U16(v) => Component::Unt(u64::from(*v.get(i)?)),
            NumData::U32(v) => Component::Unt(u64::from(*v.get(i)?)),
            NumData::U64(v) => Component::Unt(*v.get(i)?),
            NumData::F32(v) => Component::F32(*v.get(i)?),
            NumData::F64(v) => Component::Float(*v.get(i)?),
        })
    }
}

/// One numeric component widened for display and conversion.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Component {
    /// A signed integer component.
    Int(i64),
    /// An unsigned integer component.
    Unt(u64),
    /// A float32 component (kept narrow so printing uses float32 precision).
    F32(f32),
    /// A float64 component.
    Float(f64),
}

/// A numeric singleton or array: a format plus its flattened components.
///
/// For a singleton `data.len() == format.components()`; for an array it is a
/// multiple of it (the breadth times the components).
#[derive(Clone, Debug, PartialEq)]
pub struct Numeric {
    /// Element format.
    pub format: NumFormat,
    /// Components, in the order of the wire.
    pub data: NumData,
}

impl Numeric {
    /// Number of elements (the breadth for arrays; 1 for a well-formed singleton).
    pub fn breadth(&self) -> usize {
        match self.format.components() {
            0 => 0,
            c => self.data.len() / c,
        }
    }
}

/// A protein (spec §1.8): descrips, ingests and rude data, each optional on the wire.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Protein {
    /// Descrips, normally a list of strings; absent when `None`.
    pub descrips: Option<Slaw>,
    /// Ingests, normally a map; absent when `None`.
    pub ingests: Option<Slaw>,
    /// Opaque rude data (never byte-swapped).
    pub rude: Vec<u8>,
}

impl Protein {
    /// A protein with descrips and ingests present.
    pub fn new(descrips: Slaw, ingests: Slaw) -> Self {
        Protein {
            descrips: Some(descrips),
            ingests: Some(ingests),
            rude: Vec::new(),
        }
    }

    /// The same protein with rude data.
    pub fn with_rude(mut self, rude: impl Into<Vec<u8>>) -> Self {
        self.rude = rude.into();
        self
    }

    /// Looks up `key` in the ingests when they are a map with string keys.
    pub fn ingest(&self, key: &str) -> Option<&Slaw> {
        self.ingests.as_ref()?.get(key)
    }
}

/// A slaw value (spec §1): the owned tree.
///
/// Construct with the helpers (`Slaw::str("x")`, `Slaw::i32(5)`, `Slaw::list(..)`,
/// `Slaw::map(..)`) or the enum variants directly.
#[derive(Clone, Debug, PartialEq)]
pub enum Slaw {
    /// nil
    Nil,
    /// A boolean.
    Bool(bool),
    /// A UTF-8 string (embedded NULs allowed).
    String(String),
    /// A numeric singleton (scalar, complex, vector or multivector).
    Num(Numeric),
    /// A string slaw whose bytes are not UTF-8 (libPlasma writes such strings;
    /// YAML shows them as `!badutf8`). Bytes without the terminating NUL.
    BadUtf8(Vec<u8>),
    /// A numeric array.
    Array(Numeric),
    /// A list.
    List(Vec<Slaw>),
    /// A map: ordered (key, value) pairs. Decoding keeps the wire's pairs as they are;
    /// [`Slaw::map`] applies libPlasma's duplicate-key rule.
    Map(Vec<(Slaw, Slaw)>),
    /// A cons pair (car . cdr).
    Cons(Box<Slaw>, Box<Slaw>),
    /// A protein nested in a slaw (or standing alone).
    Protein(Box<Protein>),
    /// A nonstandard protein carried opaquely: its whole bytes, in the order they
    /// were read (spec §1.8).
    Nonstd(Vec<u8>),
}

macro_rules! scalar_ctor {
    ($($name:ident $t:ty => $variant:ident $nt:ident;)*) => {
        $(
            #[doc = concat!("A `", stringify!($t), "` scalar.")]
            pub fn $name(v: $t) -> Slaw {
                Slaw::Num(Numeric { format: NumFormat::scalar(NumType::$nt), data: NumData::$variant(vec![v]) })
            }
        )*
    };
}

impl Slaw {
    scalar_ctor! {
        i8 i8 => I8 I8;
        i16 i16 => I16 I16;
        i32 i32 => I32 I32;
        i64 i64 => I64 I64;
        u8 u8 => U8 U8;
        u16 u16 => U16 U16;
        u32 u32 => U32 U32;
        u64 u64 => U64 U64;
        f32 f32 => F32 F32;
        f64 f64 => F64 F64;
    }

    /// nil.
    pub fn nil() -> Slaw {
        Slaw::Nil
    }

    /// A boolean.
    pub fn bool(b: bool) -> Slaw {
        Slaw::Bool(b)
    }

    /// A string.
    pub fn str(s: impl Into<String>) -> Slaw {
        Slaw::String(s.into())
    }

    /// A list.
    pub fn list(items: impl IntoIterator<Item = Slaw>) -> Slaw {
        Slaw::List(items.into_iter().collect())
    }

    /// A list of strings (the usual descrips).
    pub fn strings<S: Into<String>>(items: impl IntoIterator<Item = S>) -> Slaw {
        Slaw::List(items.into_iter().map(|s| Slaw::String(s.into())).collect())
    }

    /// A map from pairs. As libPlasma's map builders do, a later duplicate key
    /// replaces the earlier value and keeps the earlier position.
    pub fn map<K: Into<Slaw>>(pairs: impl IntoIterator<Item = (K, Slaw)>) -> Slaw {
        let mut out: Vec<(Slaw, Slaw)> = Vec::new();
        for (k, v) in pairs {
            let k = k.into();
            match out.iter_mut().find(|(ek, _)| *ek == k) {
                Some(slot) => slot.1 = v,
                None => out.push((k, v)),
            }
        }
        Slaw::Map(out)
    }

    /// A cons pair.
    pub fn cons(car: Slaw, cdr: Slaw) -> Slaw {
        Slaw::Cons(Box::new(car), Box::new(cdr))
    }

    /// A numeric array of plain scalars.
    pub fn array(data: NumData) -> Slaw {
        Slaw::Array(Numeric {
            format: NumFormat::scalar(data.ty()),
            data,
        })
    }

    /// A protein as a slaw.
    pub fn protein(p: Protein) -> Slaw {
        Slaw::Protein(Box::new(p))
    }

    /// The string, if this is one.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Slaw::String(s) => Some(s),
            _ => None,
        }
    }

    /// The boolean, if this is one.
    pub fn as_bool(&self) -> Option<bool> {
        match self {
            Slaw::Bool(b) => Some(*b),
            _ => None,
        }
    }

    /// Whether this is nil.
    pub fn is_nil(&self) -> bool {
        matches!(self, Slaw::Nil)
    }

    /// The value of a real integer scalar of any width that fits an `i64`.
    pub fn as_i64(&self) -> Option<i64> {
        match self.scalar()? {
            Component::Int(v) => Some(v),
            Component::Unt(v) => i64::try_from(v).ok(),
            _ => None,
        }
    }

    /// The value of a real unsigned or non-negative integer scalar.
    pub fn as_u64(&self) -> Option<u64> {
        match self.scalar()? {
            Component::Int(v) => u64::try_from(v).ok(),
            Component::Unt(v) => Some(v),
            _ => None,
        }
    }

    /// The value of any real numeric scalar as an `f64`.
    pub fn as_f64(&self) -> Option<f64> {
        Some(match self.scalar()? {
            Component::Int(v) => v as f64,
            Component::Unt(v) => v as f64,
            Component::F32(v) => f64::from(v),
            Component::Float(v) => v,
        })
    }

    fn scalar(&self) -> Option<Component> {
        match self {
            Slaw::Num(n) if n.format.shape == Shape::Scalar && !n.format.complex => n.data.get(0),
            _ => None,
        }
    }

    /// The items, if this is a list.
    pub fn as_list(&self) -> Option<&[Slaw]> {
        match self {
            Slaw::List(v) => Some(v),
            _ => None,
        }
    }

    /// The pairs, if this is a map.
    pub fn as_map(&self) -> Option<&[(Slaw, Slaw)]> {
        match self {
            Slaw::Map(v) => Some(v),
            _ => None,
        }
    }

    /// The protein, if this is a standard protein.
    pub fn as_protein(&self) -> Option<&Protein> {
        match self {
            Slaw::Protein(p) => Some(p),
            _ => None,
        }
    }

    /// The value under string key `key`, if this is a map (first match).
    pub fn get(&self, key: &str) -> Option<&Slaw> {
        self.as_map()?
            .iter()
            .find(|(k, _)| k.as_str() == Some(key))
            .map(|(_, v)| v)
    }

    /// A short name of the kind, for messages and the console.
    pub fn kind_name(&self) -> &'static str {
        match self {
            Slaw::Nil => "nil",
            Slaw::Bool(_) => "boolean",
            Slaw::String(_) => "string",
            Slaw::BadUtf8(_) => "string (not UTF-8)",
            Slaw::Num(_) => "number",
            Slaw::Array(_) => "array",
            Slaw::List(_) => "list",
            Slaw::Map(_) => "map",
            Slaw::Cons(..) => "cons",
            Slaw::Protein(_) => "protein",
            Slaw::Nonstd(_) => "nonstandard protein",
        }
    }
}

impl From<&str> for Slaw {
    fn from(s: &str) -> Slaw {
        Slaw::String(s.to_owned())
    }
}

impl From<String> for Slaw {
    fn from(s: String) -> Slaw {
        Slaw::String(s)
    }
}

impl From<bool> for Slaw {
    fn from(b: bool) -> Slaw {
        Slaw::Bool(b)
    }
}

impl From<i64> for Slaw {
    fn from(v: i64) -> Slaw {
        Slaw::i64(v)
    }
}

impl From<f64> for Slaw {
    fn from(v: f64) -> Slaw {
        Slaw::f64(v)
    }
}

impl From<Protein> for Slaw {
    fn from(p: Protein) -> Slaw {
        Slaw::protein(p)
    }
}

impl fmt::Display for Slaw {
    /// The slaw as a one-document libPlasma YAML text.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&super::yaml::to_yaml(self))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn map_builder_keeps_first_position_for_duplicates() {
        let m = Slaw::map([
            ("a", Slaw::i32(1)),
            ("b", Slaw::i32(2)),
            ("a", Slaw::i32(3)),
        ]);
        assert_eq!(
            m,
            Slaw::Map(vec![
                (Slaw::str("a"), Slaw::i32(3)),
                (Slaw::str("b"), Slaw::i32(2))
            ])
        );
        assert_eq!(m.get("a").and_then(Slaw::as_i64), Some(3));
    }

    #[test]
    fn shape_vvv_round_trips() {
        for v in 0..8 {
            assert_eq!(Shape::from_vvv(v).vvv(), v);
        }
        assert_eq!(Shape::Multivector(5).components(), 32);
    }
}
