//! JSON as Python's `json` module reads and writes it (simpyio spec §2.3 and §2.4).
//!
//! Sans-IO. `serde_json` cannot carry the bare `NaN`/`Infinity` literals Python
//! emits, does not keep integers wider than 64 bits, and writes different
//! separators, so the wire form gets its own small value type, parser and
//! emitter. The emitter reproduces `json.dumps` defaults byte for byte:
//! `", "` and `": "` separators, `\uXXXX` escapes for everything outside ASCII
//! (surrogate pairs above the BMP), Python `repr` for floats.
//!
//! The `__type__` boxing of §2.4 is decoded at parse time into
//! [`Json::Custom`], so a consumer never mistakes a proxy for a plain object.

use std::fmt::Write as _;

/// Key of the custom-type box (`codec.JSON(custom_typeid=…)` default).
pub const CUSTOM_TYPEID: &str = "__type__";

/// Nesting limit of the parser. Python's C scanner stops at the interpreter's
/// recursion limit (about 1000); a lower bound keeps our stack small while
/// staying far above anything a real peer sends.
pub const MAX_DEPTH: usize = 256;

/// A JSON value as Python's `json` sees it.
#[derive(Clone, Debug, PartialEq)]
pub enum Json {
    /// `null` / `None`.
    Null,
    /// `true` / `false`.
    Bool(bool),
    /// An integer that fits 64 bits (signed or unsigned).
    Int(i128),
    /// An integer wider than 64 bits, kept as its decimal digits (Python ints
    /// are unbounded, so the peer may send them and expects them back intact).
    BigInt(String),
    /// A float, including NaN and the infinities.
    Float(f64),
    /// A string.
    Str(String),
    /// An array (Python list or tuple).
    Array(Vec<Json>),
    /// An object with its keys in wire order; a repeated key keeps the last
    /// value at the first position, as a Python dict does.
    Object(Vec<(String, Json)>),
    /// A `{"__type__": [typeid, data]}` box (§2.4).
    Custom {
        /// Index into the sender's registered types, then converters.
        typeid: u64,
        /// The boxed data.
        data: Box<Json>,
    },
}

/// Why a text is not JSON as Python reads it.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("invalid JSON at byte {offset}: {what}")]
pub struct ParseError {
    /// Byte offset of the problem.
    pub offset: usize,
    /// What was wrong.
    pub what: &'static str,
}

impl Json {
    /// A string value.
    pub fn str(s: impl Into<String>) -> Self {
        Json::Str(s.into())
    }

    /// The string inside, if this is a string.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Json::Str(s) => Some(s),
            _ => None,
        }
    }

    /// Python's truthiness is not needed; this is just a typed accessor.
    pub fn as_i64(&self) -> Option<i64> {
        match self {
            Json::Int(i) => i64::try_from(*i).ok(),
            _ => None,
        }
    }

    /// Looks up a key of an object.
    pub fn get(&self, key: &str) -> Option<&Json> {
        match self {
            Json::Object(items) => items.iter().find(|(k, _)| k == key).map(|(_, v)| v),
            _ => None,
        }
    }

    /// Python's name for the value's type, for `TypeError` texts.
    pub fn type_name(&self) -> &'static str {
        match self {
            Json::Null => "NoneType",
            Json::Bool(_) => "bool",
            Json::Int(_) | Json::BigInt(_) => "int",
            Json::Float(_) => "float",
            Json::Str(_) => "str",
            Json::Array(_) => "list",
            Json::Object(_) => "dict",
            Json::Custom { .. } => "object",
        }
    }

    /// Parses one JSON text (surrounding whitespace allowed, nothing else).
    pub fn parse(text: &str) -> Result<Json, ParseError> {
        let mut p = Parser {
            s: text.as_bytes(),
            pos: 0,
        };
        p.ws();
        let v = p.value(0)?;
        p.ws();
        if p.pos != p.s.len() {
            return Err(p.err("extra data after the value"));
        }
        Ok(v)
    }

    /// Writes the value as `json.dumps` does with default arguments.
    pub fn write_to(&self, out: &mut String) {
        match self {
            Json::Null => out.push_str("null"),
            Json::Bool(true) => out.push_str("true"),
            Json::Bool(false) => out.push_str("false"),
            Json::Int(i) => {
                let _ = write!(out, "{i}");
            }
            Json::BigInt(digits) => out.push_str(digits),
            Json::Float(f) => write_float(*f, out),
            Json::Str(s) => write_str(s, out),
            Json::Array(items) => {
                out.push('[');
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        out.push_str(", ");
                    }
                    item.write_to(out);
                }
                out.push(']');
            }
            Json::Object(items) => {
                out.push('{');
                for (i, (k, v)) in items.iter().enumerate() {
                    if i > 0 {
                        out.push_str(", ");
                    }
                    write_str(k, out);
                    out.push_str(": ");
                    v.write_to(out);
                }
                out.push('}');
            }
            Json::Custom { typeid, data } => {
                out.push('{');
                write_str(CUSTOM_TYPEID, out);
                let _ = write!(out, ": [{typeid}, ");
                data.write_to(out);
                out.push_str("]}");
            }
        }
    }

    /// The `json.dumps` text of the value.
    pub fn to_text(&self) -> String {
        let mut s = String::new();
        self.write_to(&mut s);
        s
    }
}

impl std::fmt::Display for Json {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.to_text())
    }
}

impl From<&str> for Json {
    fn from(s: &str) -> Self {
        Json::Str(s.to_owned())
    }
}

impl From<String> for Json {
    fn from(s: String) -> Self {
        Json::Str(s)
    }
}

impl From<i64> for Json {
    fn from(i: i64) -> Self {
        Json::Int(i.into())
    }
}

impl From<f64> for Json {
    fn from(f: f64) -> Self {
        Json::Float(f)
    }
}

impl From<bool> for Json {
    fn from(b: bool) -> Self {
        Json::Bool(b)
    }
}

impl From<Vec<Json>> for Json {
    fn from(v: Vec<Json>) -> Self {
        Json::Array(v)
    }
}

/// Python's `float.__repr__`: shortest round-trip digits, scientific notation
/// when the decimal exponent is below -4 or at least 16, `e+XX`/`e-XX` with at
/// least two exponent digits, and a `.0` on integral values.
fn write_float(f: f64, out: &mut String) {
    if f.is_nan() {
        out.push_str("NaN");
        return;
    }
    if f.is_infinite() {
        out.push_str(if f > 0.0 { "Infinity" } else { "-Infinity" });
        return;
    }
    // `{:e}` gives the shortest round-trip mantissa; only its layout differs.
    let sci = format!("{f:e}");
    let (mantissa, exp) = match sci.split_once('e') {
        Some((m, e)) => (m, e.parse::<i32>().unwrap_or(0)),
        None => (sci.as_str(), 0),
    };
    if f != 0.0 && !(-4..16).contains(&exp) {
        out.push_str(mantissa);
        let sign = if exp < 0 { '-' } else { '+' };
        let _ = write!(out, "e{sign}{:02}", exp.unsigned_abs());
    } else {
        let start = out.len();
        let _ = write!(out, "{f}");
        if !out[start..].contains('.') {
            out.push_str(".0");
        }
    }
}

fn write_str(s: &str, out: &mut String) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{08}' => out.push_str("\\b"),
            '\u{0c}' => out.push_str("\\f"),
            ' '..='~' => out.push(c),
            _ => {
                let mut units = [0u16; 2];
                for u in c.encode_utf16(&mut units) {
                    let _ = write!(out, "\\u{u:04x}");
                }
            }
        }
    }
    out.push('"');
}

struct Parser<'a> {
    s: &'a [u8],
    pos: usize,
}

impl Parser<'_> {
    fn err(&self, what: &'static str) -> ParseError {
        ParseError {
            offset: self.pos,
            what,
        }
    }

    fn ws(&mut self) {
        while let Some(b' ' | b'\t' | b'\n' | b'\r') = self.s.get(self.pos) {
            self.pos += 1;
        }
    }

    fn eat(&mut self, lit: &[u8]) -> bool {
        if self.s[self.pos..].starts_with(lit) {
            self.pos += lit.len();
            true
        } else {
            false
        }
    }

    fn value(&mut self, depth: usize) -> Result<Json, ParseError> {
        if depth >= MAX_DEPTH {
            return Err(self.err("nested too deeply"));
        }
        match self.s.get(self.pos) {
            None => Err(self.err("expecting value")),
            Some(b'{') => self.object(depth),
            Some(b'[') => self.array(depth),
            Some(b'"') => Ok(Json::Str(self.string()?)),
            Some(b'n') if self.eat(b"null") => Ok(Json::Null),
            Some(b't') if self.eat(b"true") => Ok(Json::Bool(true)),
            Some(b'f') if self.eat(b"false") => Ok(Json::Bool(false)),
            Some(b'N') if self.eat(b"NaN") => Ok(Json::Float(f64::NAN)),
            Some(b'I') if self.eat(b"Infinity") => Ok(Json::Float(f64::INFINITY)),
            Some(b'-') if self.eat(b"-Infinity") => Ok(Json::Float(f64::NEG_INFINITY)),
            Some(b'-' | b'0'..=b'9') => self.number(),
            Some(_) => Err(self.err("expecting value")),
        }
    }

    fn array(&mut self, depth: usize) -> Result<Json, ParseError> {
        self.pos += 1;
        let mut items = Vec::new();
        self.ws();
        if self.eat(b"]") {
            return Ok(Json::Array(items));
        }
        loop {
            self.ws();
            items.push(self.value(depth + 1)?);
            self.ws();
            if self.eat(b",") {
                continue;
            }
            if self.eat(b"]") {
                return Ok(Json::Array(items));
            }
            return Err(self.err("expecting ',' or ']'"));
        }
    }

    fn object(&mut self, depth: usize) -> Result<Json, ParseError> {
        self.pos += 1;
        let mut items: Vec<(String, Json)> = Vec::new();
        self.ws();
        if !self.eat(b"}") {
            loop {
                self.ws();
                if self.s.get(self.pos) != Some(&b'"') {
                    return Err(self.err("expecting property name in double quotes"));
                }
                let key = self.string()?;
                self.ws();
                if !self.eat(b":") {
                    return Err(self.err("expecting ':' delimiter"));
                }
                self.ws();
                let value = self.value(depth + 1)?;
                match items.iter_mut().find(|(k, _)| *k == key) {
                    Some(slot) => slot.1 = value,
                    None => items.push((key, value)),
                }
                self.ws();
                if self.eat(b",") {
                    continue;
                }
                if self.eat(b"}") {
                    break;
                }
                return Err(self.err("expecting ',' or '}'"));
            }
        }
        // The Python codec's object hook turns any dict holding the type key
        // into the registered type; a malformed box is a decode error there too.
        if let Some(pos) = items.iter().position(|(k, _)| k == CUSTOM_TYPEID) {
            let (_, boxed) = items.swap_remove(pos);
            return match boxed {
                Json::Array(mut pair) if pair.len() == 2 => {
                    let data = pair.pop().unwrap_or(Json::Null);
                    match pair.pop() {
                        Some(Json::Int(id)) if (0..=i128::from(u64::MAX)).contains(&id) => {
                            Ok(Json::Custom {
                                typeid: id as u64,
                                data: Box::new(data),
                            })
                        }
                        _ => Err(self.err("custom type id is not a non-negative integer")),
                    }
                }
                _ => Err(self.err("custom type box is not [typeid, data]")),
            };
        }
        Ok(Json::Object(items))
    }

    fn hex4(&mut self) -> Result<u16, ParseError> {
        let digits = self
            .s
            .get(self.pos..self.pos + 4)
            .ok_or_else(|| self.err("truncated \\u escape"))?;
        let mut v = 0u16;
        for d in digits {
            let n = match d {
                b'0'..=b'9' => d - b'0',
                b'a'..=b'f' => d - b'a' + 10,
                b'A'..=b'F' => d - b'A' + 10,
                _ => return Err(self.err("invalid \\u escape")),
            };
            v = v << 4 | u16::from(n);
        }
        self.pos += 4;
        Ok(v)
    }

    fn string(&mut self) -> Result<String, ParseError> {
        self.pos += 1;
        let mut out = String::new();
        loop {
            let start = self.pos;
            while let Some(&b) = self.s.get(self.pos) {
                if b == b'"' || b == b'\\' || b < 0x20 {
                    break;
                }
                self.pos += 1;
            }
            // The input is a &str and we stopped on ASCII bytes, so the slice is
            // on character boundaries.
            out.push_str(std::str::from_utf8(&self.s[start..self.pos]).unwrap_or_default());
            match self.s.get(self.pos) {
                None => return Err(self.err("unterminated string")),
                Some(b'"') => {
                    self.pos += 1;
                    return Ok(out);
                }
                Some(b'\\') => {
                    self.pos += 1;
                    let esc = *self
                        .s
                        .get(self.pos)
                        .ok_or_else(|| self.err("unterminated string"))?;
                    self.pos += 1;
                    match esc {
                        b'"' => out.push('"'),
                        b'\\' => out.push('\\'),
                        b'/' => out.push('/'),
                        b'b' => out.push('\u{08}'),
                        b'f' => out.push('\u{0c}'),
                        b'n' => out.push('\n'),
                        b'r' => out.push('\r'),
                        b't' => out.push('\t'),
                        b'u' => {
                            let u = self.hex4()?;
                            let c = if (0xd800..0xdc00).contains(&u)
                                && self.s[self.pos..].starts_with(b"\\u")
                            {
                                let save = self.pos;
                                self.pos += 2;
                                let lo = self.hex4()?;
                                if (0xdc00..0xe000).contains(&lo) {
                                    let cp = 0x10000
                                        + ((u32::from(u) - 0xd800) << 10)
                                        + (u32::from(lo) - 0xdc00);
                                    char::from_u32(cp)
                                } else {
                                    self.pos = save;
                                    None
                                }
                            } else {
                                char::from_u32(u32::from(u))
                            };
                            // Python keeps a lone surrogate in its str; Rust strings
                            // cannot hold one, so it becomes U+FFFD (documented deviation).
                            out.push(c.unwrap_or('\u{fffd}'));
                        }
                        _ => {
                            self.pos -= 1;
                            return Err(self.err("invalid \\escape"));
                        }
                    }
                }
                Some(_) => return Err(self.err("invalid control character in string")),
            }
        }
    }

    fn number(&mut self) -> Result<Json, ParseError> {
        let start = self.pos;
        self.eat(b"-");
        match self.s.get(self.pos) {
            Some(b'0') => self.pos += 1,
            Some(b'1'..=b'9') => {
                while let Some(b'0'..=b'9') = self.s.get(self.pos) {
                    self.pos += 1;
                }
            }
            _ => return Err(self.err("expecting value")),
        }
        let mut is_float = false;
        if self.s.get(self.pos) == Some(&b'.')
            && matches!(self.s.get(self.pos + 1), Some(b'0'..=b'9'))
        {
            is_float = true;
            self.pos += 1;
            while let Some(b'0'..=b'9') = self.s.get(self.pos) {
                self.pos += 1;
            }
        }
        if let Some(b'e' | b'E') = self.s.get(self.pos) {
            let save = self.pos;
            self.pos += 1;
            if let Some(b'+' | b'-') = self.s.get(self.pos) {
                self.pos += 1;
            }
            if let Some(b'0'..=b'9') = self.s.get(self.pos) {
                is_float = true;
                while let Some(b'0'..=b'9') = self.s.get(self.pos) {
                    self.pos += 1;
                }
            } else {
                // Python's scanner stops the number before a bare `e`.
                self.pos = save;
            }
        }
        let text = std::str::from_utf8(&self.s[start..self.pos]).unwrap_or("0");
        if is_float {
            return text
                .parse::<f64>()
                .map(Json::Float)
                .map_err(|_| self.err("invalid number"));
        }
        match text.parse::<i128>() {
            Ok(i) if i >= i128::from(i64::MIN) && i <= i128::from(u64::MAX) => Ok(Json::Int(i)),
            _ => Ok(Json::BigInt(text.to_owned())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn round(text: &str) -> String {
        Json::parse(text).expect("parses").to_text()
    }

    #[test]
    fn floats_follow_python_repr() {
        for (f, want) in [
            (2.5, "2.5"),
            (1.0, "1.0"),
            (1e16, "1e+16"),
            (1e15, "1000000000000000.0"),
            (1e-5, "1e-05"),
            (0.0001, "0.0001"),
            (-0.0, "-0.0"),
            (1.5e300, "1.5e+300"),
            (0.1, "0.1"),
            (123456789.125, "123456789.125"),
        ] {
            assert_eq!(Json::Float(f).to_text(), want, "{f}");
        }
    }

    #[test]
    fn python_separators_and_escapes() {
        assert_eq!(
            round("{\"k\":[1,2.5,null,true]}"),
            "{\"k\": [1, 2.5, null, true]}"
        );
        assert_eq!(round("\"h\u{e9} \u{2603}\""), "\"h\\u00e9 \\u2603\"");
        assert_eq!(round("\"\\ud83d\\ude00\""), "\"\\ud83d\\ude00\"");
        assert_eq!(
            round("[NaN, Infinity, -Infinity]"),
            "[NaN, Infinity, -Infinity]"
        );
    }

    #[test]
    fn big_ints_are_kept_verbatim() {
        assert_eq!(
            round("123456789012345678901234567890"),
            "123456789012345678901234567890"
        );
        assert_eq!(round("-9223372036854775808"), "-9223372036854775808");
    }

    #[test]
    fn duplicate_keys_keep_the_last_value_in_first_place() {
        assert_eq!(round("{\"a\":1,\"b\":2,\"a\":3}"), "{\"a\": 3, \"b\": 2}");
    }

    #[test]
    fn custom_type_box_is_decoded() {
        let v = Json::parse("{\"__type__\": [0, \"math\"]}").unwrap();
        assert_eq!(
            v,
            Json::Custom {
                typeid: 0,
                data: Box::new(Json::str("math"))
            }
        );
        assert_eq!(v.to_text(), "{\"__type__\": [0, \"math\"]}");
        assert!(Json::parse("{\"__type__\": 3}").is_err());
    }

    #[test]
    fn bad_text_is_rejected() {
        for bad in [
            "",
            "[",
            "[1,]",
            "{\"a\" 1}",
            "01x",
            "\"\\x\"",
            "\"a",
            "nul",
            "[1] 2",
            "\"\u{1}\"",
            "-",
            "1.",
            "{1: 2}",
        ] {
            assert!(Json::parse(bad).is_err(), "{bad:?}");
        }
        let deep = "[".repeat(MAX_DEPTH + 1);
        assert!(Json::parse(&deep).is_err());
    }
}
