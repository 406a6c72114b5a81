//! Argument types and their value bytes (amp spec section 3, including the
//! Float, Decimal, DateTime, ListOf and AmpList rules of 3.1-3.5). Sans-IO.
//!
//! Every encoder produces exactly the bytes Twisted writes; every decoder
//! accepts at least what Twisted writes and what Python's parsers accept where
//! the spec lists it (Integer and Float leniency).

use std::collections::BTreeMap;
use std::fmt;

use bytes::Bytes;

use super::codec::{AmpBox, MAX_VALUE_LENGTH};

/// Why a value could not be encoded, decoded or parsed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{ty}: {reason}")]
pub struct ValueError {
    /// The argument type.
    pub ty: String,
    /// What was wrong.
    pub reason: String,
}

fn bad(ty: &ArgType, reason: impl Into<String>) -> ValueError {
    ValueError {
        ty: ty.to_string(),
        reason: reason.into(),
    }
}

/// A declared argument or response type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ArgType {
    /// Arbitrary-precision decimal integer.
    Integer,
    /// Raw bytes (`amp.String`).
    String,
    /// UTF-8 text.
    Unicode,
    /// IEEE double in Python `repr` form.
    Float,
    /// `True` / `False`.
    Boolean,
    /// Python `decimal.Decimal`, precision kept.
    Decimal,
    /// 32-byte timestamp with a fixed offset.
    DateTime,
    /// A file path as UTF-8 text.
    Path,
    /// Length-prefixed elements of a scalar type.
    ListOf(Box<ArgType>),
    /// Concatenated boxes, one per record.
    AmpList(Vec<Field>),
}

impl fmt::Display for ArgType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ArgType::Integer => f.write_str("integer"),
            ArgType::String => f.write_str("string"),
            ArgType::Unicode => f.write_str("unicode"),
            ArgType::Float => f.write_str("float"),
            ArgType::Boolean => f.write_str("boolean"),
            ArgType::Decimal => f.write_str("decimal"),
            ArgType::DateTime => f.write_str("datetime"),
            ArgType::Path => f.write_str("path"),
            ArgType::ListOf(t) => write!(f, "listof({t})"),
            ArgType::AmpList(_) => f.write_str("amplist"),
        }
    }
}

/// A named, typed key of a command's arguments, response or AmpList record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Field {
    /// The wire key.
    pub name: String,
    /// Its type.
    pub ty: ArgType,
    /// Whether the key may be omitted (Python `None`).
    pub optional: bool,
}

impl Field {
    /// A required field.
    pub fn new(name: impl Into<String>, ty: ArgType) -> Self {
        Self {
            name: name.into(),
            ty,
            optional: false,
        }
    }

    /// An optional field.
    pub fn optional(name: impl Into<String>, ty: ArgType) -> Self {
        Self {
            optional: true,
            ..Self::new(name, ty)
        }
    }
}

/// A decoded argument value.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// Integer, canonical decimal text (see [`Integer`]).
    Integer(Integer),
    /// Raw bytes.
    Bytes(Bytes),
    /// Text.
    Unicode(String),
    /// Double.
    Float(f64),
    /// Boolean.
    Boolean(bool),
    /// Decimal with its precision.
    Decimal(Decimal),
    /// Timestamp.
    DateTime(DateTime),
    /// Path text.
    Path(String),
    /// `ListOf` elements.
    List(Vec<Value>),
    /// `AmpList` records.
    Records(Vec<Record>),
}

/// One `AmpList` record or a whole argument set: absent optional keys are
/// simply missing.
pub type Record = BTreeMap<String, Value>;

// ---------------------------------------------------------------- Integer

/// An arbitrary-precision integer kept as canonical decimal text (no leading
/// zeros, `-` only for negatives), which is also its wire form.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Integer(String);

impl Integer {
    /// Parses like Python `int()`: surrounding whitespace, a sign, and single
    /// `_` between digits are accepted (spec section 4.3 observed leniency).
    pub fn parse(text: &str) -> Result<Integer, ValueError> {
        let err = || bad(&ArgType::Integer, format!("invalid literal {text:?}"));
        let t = text.trim_matches(|c: char| c.is_ascii_whitespace());
        let (neg, body) = match t.as_bytes().first() {
            Some(b'-') => (true, &t[1..]),
            Some(b'+') => (false, &t[1..]),
            _ => (false, t),
        };
        let digits = strip_underscores(body).ok_or_else(err)?;
        if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return Err(err());
        }
        let trimmed = digits.trim_start_matches('0');
        Ok(if trimmed.is_empty() {
            Integer("0".into())
        } else if neg {
            Integer(format!("-{trimmed}"))
        } else {
            Integer(trimmed.to_string())
        })
    }

    /// The value as `i64` when it fits.
    pub fn as_i64(&self) -> Option<i64> {
        self.0.parse().ok()
    }

    /// The canonical text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl From<i64> for Integer {
    fn from(v: i64) -> Self {
        Integer(v.to_string())
    }
}

impl fmt::Display for Integer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Python allows `_` only between two digits; returns the text without them.
fn strip_underscores(s: &str) -> Option<String> {
    if !s.contains('_') {
        return Some(s.to_string());
    }
    let b = s.as_bytes();
    let mut out = String::with_capacity(s.len());
    for (i, &c) in b.iter().enumerate() {
        if c == b'_' {
            let before = i > 0 && b[i - 1].is_ascii_digit();
            let after = b.get(i + 1).is_some_and(|n| n.is_ascii_digit());
            if !(before && after) {
                return None;
            }
        } else {
            out.push(c as char);
        }
    }
    Some(out)
}

// ---------------------------------------------------------------- Float

/// Formats a double as Python's `repr` does (spec section 3.1).
pub fn format_float(v: f64) -> String {
    if v.is_nan() {
        return "nan".into();
    }
    if v.is_infinite() {
        return if v > 0.0 { "inf" } else { "-inf" }.into();
    }
    // `{:e}` yields the shortest round-trip digits as `d.ddde[-]x`.
    let sci = format!("{:e}", v.abs());
    let (mant, exp) = sci.split_once('e').unwrap_or((&sci, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    let digits: String = mant.chars().filter(|c| *c != '.').collect();
    let sign = if v.is_sign_negative() { "-" } else { "" };
    if (-4..16).contains(&exp) {
        if exp >= 0 {
            let int_len = exp as usize + 1;
            if digits.len() <= int_len {
                format!("{sign}{digits}{}.0", "0".repeat(int_len - digits.len()))
            } else {
                format!("{sign}{}.{}", &digits[..int_len], &digits[int_len..])
            }
        } else {
            format!("{sign}0.{}{digits}", "0".repeat((-exp - 1) as usize))
        }
    } else {
        let rest = if digits.len() > 1 {
            format!(".{}", &digits[1..])
        } else {
            String::new()
        };
        let esign = if exp < 0 { '-' } else { '+' };
        format!("{sign}{}{rest}e{esign}{:02}", &digits[..1], exp.abs())
    }
}

/// Parses like Python `float()` (spec section 3.1, receiving side).
pub fn parse_float(text: &str) -> Result<f64, ValueError> {
    let err = || bad(&ArgType::Float, format!("could not convert {text:?}"));
    let t = text.trim_matches(|c: char| c.is_ascii_whitespace());
    let (neg, body) = match t.as_bytes().first() {
        Some(b'-') => (true, &t[1..]),
        Some(b'+') => (false, &t[1..]),
        _ => (false, t),
    };
    let lower = body.to_ascii_lowercase();
    let v = match lower.as_str() {
        "nan" => f64::NAN,
        "inf" | "infinity" => f64::INFINITY,
        _ => {
            let clean = strip_underscores(body).ok_or_else(err)?;
            let ok = !clean.is_empty()
                && clean
                    .bytes()
                    .all(|b| b.is_ascii_digit() || matches!(b, b'.' | b'e' | b'E' | b'+' | b'-'))
                && clean.bytes().any(|b| b.is_ascii_digit());
            if !ok {
                return Err(err());
            }
            clean.parse::<f64>().map_err(|_| err())?
        }
    };
    Ok(if neg { -v } else { v })
}

// ---------------------------------------------------------------- Decimal

/// A Python `decimal.Decimal`: sign, coefficient digits and exponent, or a
/// special value. Precision is part of the value (`1.50` is not `1.5`).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Decimal {
    /// Sign bit (kept for zero and NaN too).
    pub negative: bool,
    /// Finite or special.
    pub kind: DecimalKind,
}

/// What a [`Decimal`] is.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum DecimalKind {
    /// `coefficient × 10^exponent`; the coefficient has no leading zeros
    /// except a lone `0`.
    Finite {
        /// Decimal digits.
        coefficient: String,
        /// Power of ten.
        exponent: i64,
    },
    /// Infinity.
    Infinity,
    /// Quiet NaN with its (possibly empty) diagnostic digits.
    NaN(String),
    /// Signalling NaN with its diagnostic digits.
    SNaN(String),
}

impl Decimal {
    /// Parses Python's `Decimal(str)` syntax.
    pub fn parse(text: &str) -> Result<Decimal, ValueError> {
        let err = || bad(&ArgType::Decimal, format!("invalid literal {text:?}"));
        let t = text.trim_matches(|c: char| c.is_ascii_whitespace());
        let (negative, body) = match t.as_bytes().first() {
            Some(b'-') => (true, &t[1..]),
            Some(b'+') => (false, &t[1..]),
            _ => (false, t),
        };
        let body = strip_underscores(body).ok_or_else(err)?;
        let lower = body.to_ascii_lowercase();
        let payload = |p: &str| -> Result<String, ValueError> {
            if p.bytes().all(|b| b.is_ascii_digit()) {
                Ok(p.trim_start_matches('0').to_string())
            } else {
                Err(err())
            }
        };
        let kind = if lower == "inf" || lower == "infinity" {
            DecimalKind::Infinity
        } else if let Some(p) = lower.strip_prefix("snan") {
            DecimalKind::SNaN(payload(p)?)
        } else if let Some(p) = lower.strip_prefix("nan") {
            DecimalKind::NaN(payload(p)?)
        } else {
            let (mant, exp) = match lower.find('e') {
                Some(i) => (&lower[..i], Some(&lower[i + 1..])),
                None => (lower.as_str(), None),
            };
            let (int, frac) = mant.split_once('.').unwrap_or((mant, ""));
            if int.is_empty() && frac.is_empty() {
                return Err(err());
            }
            if !int.bytes().chain(frac.bytes()).all(|b| b.is_ascii_digit()) {
                return Err(err());
            }
            let exp: i64 = match exp {
                Some(e) => {
                    let digits = e.trim_start_matches(['+', '-']);
                    if e.len() - digits.len() > 1
                        || digits.is_empty()
                        || !digits.bytes().all(|b| b.is_ascii_digit())
                    {
                        return Err(err());
                    }
                    e.parse().map_err(|_| err())?
                }
                None => 0,
            };
            let all = format!("{int}{frac}");
            let coefficient = match all.trim_start_matches('0') {
                "" => "0".to_string(),
                c => c.to_string(),
            };
            let exponent = exp.checked_sub(frac.len() as i64).ok_or_else(err)?;
            DecimalKind::Finite {
                coefficient,
                exponent,
            }
        };
        Ok(Decimal { negative, kind })
    }
}

impl fmt::Display for Decimal {
    /// General Decimal Arithmetic "to-scientific-string" (spec section 3.2).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.negative {
            f.write_str("-")?;
        }
        match &self.kind {
            DecimalKind::Infinity => f.write_str("Infinity"),
            DecimalKind::NaN(p) => write!(f, "NaN{p}"),
            DecimalKind::SNaN(p) => write!(f, "sNaN{p}"),
            DecimalKind::Finite {
                coefficient: c,
                exponent: e,
            } => {
                let adjusted = e + (c.len() as i64 - 1);
                if *e <= 0 && adjusted >= -6 {
                    if *e == 0 {
                        return f.write_str(c);
                    }
                    // Here -6 <= adjusted, so the point is at most 5 places
                    // left of the first digit: the zero padding is small.
                    let point = c.len() as i64 + e;
                    if point > 0 {
                        let p = point as usize;
                        write!(f, "{}.{}", &c[..p], &c[p..])
                    } else {
                        write!(f, "0.{}{c}", "0".repeat((-point) as usize))
                    }
                } else {
                    f.write_str(&c[..1])?;
                    if c.len() > 1 {
                        write!(f, ".{}", &c[1..])?;
                    }
                    let sign = if adjusted < 0 { '-' } else { '+' };
                    write!(f, "E{sign}{}", adjusted.unsigned_abs())
                }
            }
        }
    }
}

// ---------------------------------------------------------------- DateTime

/// A local timestamp with a fixed UTC offset, microsecond precision.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct DateTime {
    /// 1..=9999.
    pub year: u16,
    /// 1..=12.
    pub month: u8,
    /// 1..=31 (checked against the month).
    pub day: u8,
    /// 0..=23.
    pub hour: u8,
    /// 0..=59.
    pub minute: u8,
    /// 0..=59.
    pub second: u8,
    /// 0..=999_999.
    pub microsecond: u32,
    /// Offset east of UTC in minutes, -1439..=1439.
    pub offset_minutes: i16,
}

fn days_in_month(year: u16, month: u8) -> u8 {
    match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if (year.is_multiple_of(4) && !year.is_multiple_of(100)) || year.is_multiple_of(400) => {
            29
        }
        2 => 28,
        _ => 0,
    }
}

impl DateTime {
    /// Checks every field's range, as Python's `datetime` constructor does.
    pub fn validate(&self) -> Result<(), ValueError> {
        let ok = (1..=9999).contains(&self.year)
            && (1..=12).contains(&self.month)
            && self.day >= 1
            && self.day <= days_in_month(self.year, self.month)
            && self.hour < 24
            && self.minute < 60
            && self.second < 60
            && self.microsecond < 1_000_000
            && self.offset_minutes.unsigned_abs() < 24 * 60;
        if ok {
            Ok(())
        } else {
            Err(bad(&ArgType::DateTime, format!("out of range: {self:?}")))
        }
    }

    /// Parses the 32-byte wire form (spec section 3.3); `+00:00` and `-00:00`
    /// are both UTC.
    pub fn parse(bytes: &[u8]) -> Result<DateTime, ValueError> {
        let err = |why: &str| bad(&ArgType::DateTime, why.to_string());
        if bytes.len() != 32 {
            return Err(err(&format!("length {} is not 32", bytes.len())));
        }
        let num = |from: usize, to: usize| -> Result<u32, ValueError> {
            let s = &bytes[from..to];
            if !s.iter().all(u8::is_ascii_digit) {
                return Err(err("non-digit in a numeric field"));
            }
            Ok(s.iter().fold(0u32, |a, d| a * 10 + u32::from(d - b'0')))
        };
        for (at, sep) in [
            (4, b'-'),
            (7, b'-'),
            (10, b'T'),
            (13, b':'),
            (16, b':'),
            (19, b'.'),
            (29, b':'),
        ] {
            if bytes[at] != sep {
                return Err(err("separator out of place"));
            }
        }
        let sign: i16 = match bytes[26] {
            b'+' => 1,
            b'-' => -1,
            _ => return Err(err("offset sign must be + or -")),
        };
        let oh = num(27, 29)? as i16;
        let om = num(30, 32)? as i16;
        let dt = DateTime {
            year: num(0, 4)? as u16,
            month: num(5, 7)? as u8,
            day: num(8, 10)? as u8,
            hour: num(11, 13)? as u8,
            minute: num(14, 16)? as u8,
            second: num(17, 19)? as u8,
            microsecond: num(20, 26)?,
            offset_minutes: sign * (oh * 60 + om),
        };
        if om >= 60 {
            return Err(err("offset minutes out of range"));
        }
        dt.validate()?;
        Ok(dt)
    }

    /// Parses the wire form or an RFC 3339 text (`…Z`, optional fraction) typed
    /// by a user.
    pub fn parse_text(text: &str) -> Result<DateTime, ValueError> {
        if let Ok(dt) = DateTime::parse(text.as_bytes()) {
            return Ok(dt);
        }
        let err = || {
            bad(
                &ArgType::DateTime,
                format!("expected RFC 3339, got {text:?}"),
            )
        };
        let (main, offset) = if let Some(m) = text.strip_suffix(['Z', 'z']) {
            (m, "-00:00".to_string())
        } else if text.len() > 6 && matches!(text.as_bytes()[text.len() - 6], b'+' | b'-') {
            (&text[..text.len() - 6], text[text.len() - 6..].to_string())
        } else {
            return Err(err());
        };
        let (secs, frac) = main.split_once('.').unwrap_or((main, ""));
        if secs.len() != 19 || frac.len() > 6 || !frac.bytes().all(|b| b.is_ascii_digit()) {
            return Err(err());
        }
        let wire = format!("{secs}.{frac:0<6}{offset}");
        DateTime::parse(wire.as_bytes())
    }
}

impl fmt::Display for DateTime {
    /// The 32-byte wire form; a zero offset is written `-00:00` as Twisted does.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let sign = if self.offset_minutes > 0 { '+' } else { '-' };
        let off = self.offset_minutes.unsigned_abs();
        write!(
            f,
            "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:06}{sign}{:02}:{:02}",
            self.year,
            self.month,
            self.day,
            self.hour,
            self.minute,
            self.second,
            self.microsecond,
            off / 60,
            off % 60
        )
    }
}

// ---------------------------------------------------------------- encode / decode

/// Encodes `value` as `ty`'s value bytes.
pub fn encode(ty: &ArgType, value: &Value) -> Result<Bytes, ValueError> {
    let out: Bytes = match (ty, value) {
        (ArgType::Integer, Value::Integer(i)) => Bytes::copy_from_slice(i.as_str().as_bytes()),
        (ArgType::String, Value::Bytes(b)) => b.clone(),
        (ArgType::Unicode, Value::Unicode(s)) | (ArgType::Path, Value::Path(s)) => {
            Bytes::copy_from_slice(s.as_bytes())
        }
        (ArgType::Float, Value::Float(v)) => format_float(*v).into(),
        (ArgType::Boolean, Value::Boolean(b)) => {
            Bytes::from_static(if *b { b"True" } else { b"False" })
        }
        (ArgType::Decimal, Value::Decimal(d)) => d.to_string().into(),
        (ArgType::DateTime, Value::DateTime(d)) => {
            d.validate()?;
            d.to_string().into()
        }
        (ArgType::ListOf(inner), Value::List(items)) => {
            if matches!(**inner, ArgType::ListOf(_) | ArgType::AmpList(_)) {
                return Err(bad(ty, "elements must be a scalar type"));
            }
            let mut out = Vec::new();
            for item in items {
                let b = encode(inner, item)?;
                if b.len() > MAX_VALUE_LENGTH {
                    return Err(bad(ty, "element longer than 65535 bytes"));
                }
                out.extend_from_slice(&(b.len() as u16).to_be_bytes());
                out.extend_from_slice(&b);
            }
            out.into()
        }
        (ArgType::AmpList(fields), Value::Records(records)) => {
            let mut out = bytes::BytesMut::new();
            for r in records {
                let b = encode_fields(fields, r)?;
                b.encode(&mut out).map_err(|e| bad(ty, e.to_string()))?;
            }
            out.freeze()
        }
        (ty, v) => return Err(bad(ty, format!("value of the wrong kind: {v:?}"))),
    };
    if out.len() > MAX_VALUE_LENGTH {
        return Err(bad(ty, format!("encoded value too long: {}", out.len())));
    }
    Ok(out)
}

/// Decodes value bytes as `ty`.
pub fn decode(ty: &ArgType, raw: &Bytes) -> Result<Value, ValueError> {
    let text = || std::str::from_utf8(raw).map_err(|e| bad(ty, e.to_string()));
    Ok(match ty {
        ArgType::Integer => Value::Integer(Integer::parse(text()?)?),
        ArgType::String => Value::Bytes(raw.clone()),
        ArgType::Unicode => Value::Unicode(text()?.to_string()),
        ArgType::Path => Value::Path(text()?.to_string()),
        ArgType::Float => Value::Float(parse_float(text()?)?),
        ArgType::Boolean => match raw.as_ref() {
            b"True" => Value::Boolean(true),
            b"False" => Value::Boolean(false),
            _ => return Err(bad(ty, format!("expected True or False, got {raw:?}"))),
        },
        ArgType::Decimal => Value::Decimal(Decimal::parse(text()?)?),
        ArgType::DateTime => Value::DateTime(DateTime::parse(raw)?),
        ArgType::ListOf(inner) => {
            let mut items = Vec::new();
            let mut pos = 0;
            // Twisted silently drops a trailing incomplete element (spec 3.4);
            // we do the same so both peers see the same list.
            while pos + 2 <= raw.len() {
                let len = u16::from_be_bytes([raw[pos], raw[pos + 1]]) as usize;
                let end = pos + 2 + len;
                if end > raw.len() {
                    break;
                }
                items.push(decode(inner, &raw.slice(pos + 2..end))?);
                pos = end;
            }
            Value::List(items)
        }
        ArgType::AmpList(fields) => {
            let mut records = Vec::new();
            let mut rest = raw.clone();
            while !rest.is_empty() {
                match AmpBox::parse_prefix(&rest).map_err(|e| bad(ty, e.to_string()))? {
                    Some((b, used)) => {
                        records.push(decode_fields(fields, &b)?);
                        rest = rest.slice(used..);
                    }
                    None => return Err(bad(ty, "truncated element box")),
                }
            }
            Value::Records(records)
        }
    })
}

/// Encodes a record into a box by `fields`; absent optional fields are omitted.
pub fn encode_fields(fields: &[Field], record: &Record) -> Result<AmpBox, ValueError> {
    let mut out = AmpBox::new();
    for f in fields {
        match record.get(&f.name) {
            Some(v) => {
                let b = encode(&f.ty, v).map_err(|e| ValueError {
                    ty: e.ty,
                    reason: format!("{}: {}", f.name, e.reason),
                })?;
                out.insert(Bytes::copy_from_slice(f.name.as_bytes()), b);
            }
            None if f.optional => {}
            None => return Err(bad(&f.ty, format!("missing required key {:?}", f.name))),
        }
    }
    Ok(out)
}

/// Decodes the declared keys of a box; undeclared keys are ignored (as
/// Twisted does) and a missing required key is an error.
pub fn decode_fields(fields: &[Field], b: &AmpBox) -> Result<Record, ValueError> {
    let mut out = Record::new();
    for f in fields {
        match b.get(f.name.as_bytes()) {
            Some(raw) => {
                let v = decode(&f.ty, raw).map_err(|e| ValueError {
                    ty: e.ty,
                    reason: format!("{}: {}", f.name, e.reason),
                })?;
                out.insert(f.name.clone(), v);
            }
            None if f.optional => {}
            None => return Err(bad(&f.ty, format!("missing required key {:?}", f.name))),
        }
    }
    Ok(out)
}

// ---------------------------------------------------------------- text and JSON

/// Parses a value typed by a user (`arg=value` on the command line, a form
/// field): scalars as plain text, `ListOf`/`AmpList` as JSON arrays. For
/// `String`, a `hex:` prefix gives the bytes in hexadecimal.
pub fn parse_text(ty: &ArgType, text: &str) -> Result<Value, ValueError> {
    match ty {
        ArgType::ListOf(_) | ArgType::AmpList(_) => {
            let json: serde_json::Value =
                serde_json::from_str(text).map_err(|e| bad(ty, format!("expected JSON: {e}")))?;
            from_json(ty, &json)
        }
        ArgType::String => match text.strip_prefix("hex:") {
            Some(h) => Ok(Value::Bytes(
                parse_hex(h).ok_or_else(|| bad(ty, "bad hex"))?,
            )),
            None => Ok(Value::Bytes(Bytes::copy_from_slice(text.as_bytes()))),
        },
        ArgType::Unicode => Ok(Value::Unicode(text.to_string())),
        ArgType::Path => Ok(Value::Path(text.to_string())),
        ArgType::Integer => Ok(Value::Integer(Integer::parse(text)?)),
        ArgType::Float => Ok(Value::Float(parse_float(text)?)),
        ArgType::Boolean => match text.to_ascii_lowercase().as_str() {
            "true" | "yes" | "1" => Ok(Value::Boolean(true)),
            "false" | "no" | "0" => Ok(Value::Boolean(false)),
            _ => Err(bad(ty, format!("expected true or false, got {text:?}"))),
        },
        ArgType::Decimal => Ok(Value::Decimal(Decimal::parse(text)?)),
        ArgType::DateTime => Ok(Value::DateTime(DateTime::parse_text(text)?)),
    }
}

fn parse_hex(h: &str) -> Option<Bytes> {
    if !h.len().is_multiple_of(2) {
        return None;
    }
    (0..h.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(h.get(i..i + 2)?, 16).ok())
        .collect::<Option<Vec<u8>>>()
        .map(Bytes::from)
}

/// Converts JSON (from a schema's canned values or a user) to a value.
pub fn from_json(ty: &ArgType, json: &serde_json::Value) -> Result<Value, ValueError> {
    use serde_json::Value as J;
    match (ty, json) {
        (ArgType::ListOf(inner), J::Array(items)) => Ok(Value::List(
            items
                .iter()
                .map(|i| from_json(inner, i))
                .collect::<Result<_, _>>()?,
        )),
        (ArgType::AmpList(fields), J::Array(items)) => {
            let mut records = Vec::new();
            for item in items {
                let J::Object(obj) = item else {
                    return Err(bad(ty, "records must be JSON objects"));
                };
                let mut r = Record::new();
                for f in fields {
                    match obj.get(&f.name) {
                        Some(J::Null) | None if f.optional => {}
                        None | Some(J::Null) => {
                            return Err(bad(ty, format!("missing key {:?}", f.name)))
                        }
                        Some(v) => {
                            r.insert(f.name.clone(), from_json(&f.ty, v)?);
                        }
                    }
                }
                records.push(r);
            }
            Ok(Value::Records(records))
        }
        (ArgType::ListOf(_) | ArgType::AmpList(_), _) => Err(bad(ty, "expected a JSON array")),
        (_, J::String(s)) => parse_text(ty, s),
        (ArgType::Boolean, J::Bool(b)) => Ok(Value::Boolean(*b)),
        (_, J::Number(n)) => parse_text(ty, &n.to_string()),
        _ => Err(bad(ty, format!("cannot use JSON {json}"))),
    }
}

/// A JSON rendering for display (`--json`, the console): integers that fit
/// `i64` and finite floats are numbers; other values are strings in their wire
/// text; bytes that are not UTF-8 are shown as `hex:…`.
pub fn to_json(value: &Value) -> serde_json::Value {
    use serde_json::Value as J;
    match value {
        Value::Integer(i) => i
            .as_i64()
            .map(J::from)
            .unwrap_or_else(|| J::String(i.to_string())),
        Value::Bytes(b) => J::String(bytes_text(b)),
        Value::Unicode(s) | Value::Path(s) => J::String(s.clone()),
        Value::Float(f) => serde_json::Number::from_f64(*f)
            .map(J::Number)
            .unwrap_or_else(|| J::String(format_float(*f))),
        Value::Boolean(b) => J::Bool(*b),
        Value::Decimal(d) => J::String(d.to_string()),
        Value::DateTime(d) => J::String(d.to_string()),
        Value::List(items) => J::Array(items.iter().map(to_json).collect()),
        Value::Records(rs) => J::Array(
            rs.iter()
                .map(|r| J::Object(r.iter().map(|(k, v)| (k.clone(), to_json(v))).collect()))
                .collect(),
        ),
    }
}

/// Raw bytes as text: UTF-8 when valid, otherwise `hex:…`.
pub fn bytes_text(b: &[u8]) -> String {
    match std::str::from_utf8(b) {
        Ok(s) => s.to_string(),
        Err(_) => {
            let mut s = String::from("hex:");
            for byte in b {
                s.push_str(&format!("{byte:02x}"));
            }
            s
        }
    }
}

/// Python's `repr` of a bytes object, as Twisted puts it in `UNHANDLED`
/// descriptions (`b'Nope'`).
pub fn python_bytes_repr(b: &[u8]) -> String {
    let quote = if b.contains(&b'\'') && !b.contains(&b'"') {
        '"'
    } else {
        '\''
    };
    let mut s = String::from("b");
    s.push(quote);
    for &c in b {
        match c {
            b'\\' => s.push_str("\\\\"),
            b'\t' => s.push_str("\\t"),
            b'\n' => s.push_str("\\n"),
            b'\r' => s.push_str("\\r"),
            c if c as char == quote => {
                s.push('\\');
                s.push(quote);
            }
            0x20..=0x7e => s.push(c as char),
            c => s.push_str(&format!("\\x{c:02x}")),
        }
    }
    s.push(quote);
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn float_layout_follows_python_repr() {
        for (v, want) in [
            (0.1, "0.1"),
            (100.0, "100.0"),
            (1e15, "1000000000000000.0"),
            (1e16, "1e+16"),
            (1e300, "1e+300"),
            (0.0001, "0.0001"),
            (1e-5, "1e-05"),
            (f64::MAX, "1.7976931348623157e+308"),
            (5e-324, "5e-324"),
            (-0.0, "-0.0"),
            (0.0, "0.0"),
            (3.5, "3.5"),
            (123456.789, "123456.789"),
            (1.5e-7, "1.5e-07"),
        ] {
            assert_eq!(format_float(v), want);
        }
    }

    #[test]
    fn float_parsing_accepts_python_forms() {
        for (t, v) in [
            ("Infinity", f64::INFINITY),
            ("INF", f64::INFINITY),
            (" 1.5 ", 1.5),
        ] {
            assert_eq!(parse_float(t).unwrap(), v);
        }
        assert_eq!(parse_float("1_0.5").unwrap(), 10.5);
        assert!(parse_float("-NaN").unwrap().is_nan());
        assert!(parse_float("1__0").is_err());
        assert!(parse_float("abc").is_err());
    }

    #[test]
    fn integer_parsing_is_python_lenient() {
        assert_eq!(Integer::parse(" +1_000 ").unwrap().as_str(), "1000");
        assert_eq!(Integer::parse("-007").unwrap().as_str(), "-7");
        assert_eq!(Integer::parse("-0").unwrap().as_str(), "0");
        for bad in ["two", "0x10", "1e3", "", "-", "_1", "1_"] {
            assert!(Integer::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn decimal_parsing_and_exponent_overflow() {
        assert!(Decimal::parse("1E+99999999999999999999999").is_err());
        assert_eq!(Decimal::parse("1.50").unwrap().to_string(), "1.50");
        assert_eq!(Decimal::parse("-1500e0").unwrap().to_string(), "-1500");
        assert_eq!(Decimal::parse("0.00").unwrap().to_string(), "0.00");
        assert_eq!(Decimal::parse("123E-10").unwrap().to_string(), "1.23E-8");
        assert!(Decimal::parse("1.2.3").is_err());
    }

    #[test]
    fn datetime_rejects_what_twisted_rejects() {
        assert!(DateTime::parse(b"2000-01-01T00:00:00Z").is_err());
        assert!(DateTime::parse(b"2000-01-01T00:00:00.000000Z00:00").is_err());
        assert!(DateTime::parse(b"2001-02-29T00:00:00.000000+00:00").is_err());
        let utc = DateTime::parse(b"2000-01-01T00:00:00.000000+00:00").unwrap();
        assert_eq!(utc.to_string(), "2000-01-01T00:00:00.000000-00:00");
        let t = DateTime::parse_text("2024-02-29T12:30:45.123456Z").unwrap();
        assert_eq!(t.to_string(), "2024-02-29T12:30:45.123456-00:00");
    }

    #[test]
    fn unhandled_description_uses_python_bytes_repr() {
        assert_eq!(python_bytes_repr(b"Nope"), "b'Nope'");
        assert_eq!(python_bytes_repr(b"a'b"), "b\"a'b\"");
        assert_eq!(python_bytes_repr(b"\x00\n"), "b'\\x00\\n'");
    }

    proptest! {
        #[test]
        fn float_round_trips(v in any::<f64>()) {
            let text = format_float(v);
            let back = parse_float(&text).unwrap();
            prop_assert!(back == v || (v.is_nan() && back.is_nan()));
            if !v.is_nan() {
                prop_assert_eq!(back.is_sign_negative(), v.is_sign_negative());
            }
        }

        #[test]
        fn decimal_round_trips(neg in any::<bool>(), c in "[1-9][0-9]{0,30}", e in -40i64..40) {
            let d = Decimal { negative: neg, kind: DecimalKind::Finite { coefficient: c, exponent: e } };
            prop_assert_eq!(Decimal::parse(&d.to_string()).unwrap(), d);
        }

        #[test]
        fn decoders_never_panic(raw in prop::collection::vec(any::<u8>(), 0..200)) {
            let raw = Bytes::from(raw);
            let rec = ArgType::AmpList(vec![Field::new("a", ArgType::Integer), Field::optional("b", ArgType::ListOf(Box::new(ArgType::Unicode)))]);
            for ty in [ArgType::Integer, ArgType::Float, ArgType::Decimal, ArgType::DateTime, ArgType::Boolean,
                       ArgType::Unicode, ArgType::ListOf(Box::new(ArgType::Float)), rec] {
                let _ = decode(&ty, &raw);
            }
        }

        #[test]
        fn integer_round_trips(v in any::<i64>()) {
            let i = Integer::from(v);
            let b = encode(&ArgType::Integer, &Value::Integer(i.clone())).unwrap();
            prop_assert_eq!(decode(&ArgType::Integer, &b).unwrap(), Value::Integer(i));
        }
    }
}
