//! The slaw YAML text form in libPlasma's dialect (plasma spec §3), both ways.
//!
//! Parsing uses `saphyr-parser`'s event stream, which reports every node's tag
//! with `%TAG` directives already applied (saphyr's document loader drops tags on
//! scalars, which this dialect cannot lose). The emitter writes libyaml-style
//! block YAML with libPlasma's tags: `!i32 5`, `!vector [...]`, `!!omap`,
//! `!protein`, `!empty/<type> ~`, `!nonstd`.

use base64::Engine as _;
use saphyr_parser::{Event, Parser, ScalarStyle, Span, Tag};

use super::codec;
use super::error::Error;
use super::value::{Component, NumData, NumFormat, NumType, Numeric, Protein, Shape, Slaw};
use super::MAX_DEPTH;

/// The `%TAG !` prefix of libPlasma's slaw tags.
pub const SLAW_TAG_PREFIX: &str = "tag:oblong.com,2009:slaw/";
const CORE_TAG_PREFIX: &str = "tag:yaml.org,2002:";
const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::STANDARD;

/// Emitter settings (libPlasma's emit options, spec §3).
#[derive(Clone, Debug)]
pub struct EmitOptions {
    /// Tag numbers with their exact type (`!i32 5`); off = plain numbers (lossy).
    pub tag_numbers: bool,
    /// Write the `%YAML 1.1` and `%TAG` directives.
    pub directives: bool,
    /// Write maps as `!!omap` sequences; off = plain mappings (lossy for order
    /// only in other readers; tidepool keeps order either way).
    pub ordered_maps: bool,
    /// Write at most this many elements of a numeric array (`None` = all).
    pub max_array_elements: Option<usize>,
    /// An optional first-line comment (without the `# `).
    pub comment: Option<String>,
}

impl Default for EmitOptions {
    fn default() -> Self {
        EmitOptions {
            tag_numbers: true,
            directives: true,
            ordered_maps: true,
            max_array_elements: None,
            comment: None,
        }
    }
}

impl EmitOptions {
    /// `bin2yaml -L` / `p-info` style: untagged numbers and plain mappings.
    pub fn lossy() -> Self {
        EmitOptions {
            tag_numbers: false,
            ordered_maps: false,
            ..EmitOptions::default()
        }
    }
}

/// One slaw as a YAML document with the default (lossless) options.
pub fn to_yaml(slaw: &Slaw) -> String {
    to_yaml_docs(std::slice::from_ref(slaw), &EmitOptions::default())
}

/// A protein as a YAML document (`--- !protein`).
pub fn protein_to_yaml(p: &Protein) -> String {
    to_yaml(&Slaw::Protein(Box::new(p.clone())))
}

/// Several slawx as a YAML stream, one document each.
pub fn to_yaml_docs(docs: &[Slaw], opts: &EmitOptions) -> String {
    let mut w = Writer {
        out: String::new(),
        opts,
    };
    if let Some(c) = &opts.comment {
        w.out.push_str("# ");
        w.out.push_str(c);
        w.out.push('\n');
    }
    for d in docs {
        if opts.directives {
            w.out.push_str("%YAML 1.1\n%TAG ! ");
            w.out.push_str(SLAW_TAG_PREFIX);
            w.out.push('\n');
        }
        w.value("---", Item::Slaw(d), 0, true, 0);
        w.out.push_str("...\n");
    }
    w.out
}

enum Item<'a> {
    Slaw(&'a Slaw),
    Binary(&'a [u8]),
}

struct Writer<'o> {
    out: String,
    opts: &'o EmitOptions,
}

impl Writer<'_> {
    /// Writes `prefix` (already indented by the caller) and the value after it.
    /// `col` is the column the prefix starts at.
    fn value(&mut self, prefix: &str, item: Item<'_>, col: usize, doc: bool, depth: usize) {
        let s = match item {
            Item::Binary(b) => {
                self.out.push_str(prefix);
                self.out.push_str(" !!binary |\n");
                self.literal(&B64.encode(b), col + 2);
                return;
            }
            Item::Slaw(s) => s,
        };
        if depth > MAX_DEPTH {
            self.out.push_str(prefix);
            self.out.push_str(" ~\n");
            return;
        }
        if let Some(text) = self.inline(s, depth) {
            self.out.push_str(prefix);
            self.out.push(' ');
            self.out.push_str(&text);
            self.out.push('\n');
            return;
        }
        let map_tag = if self.opts.ordered_maps {
            " !!omap"
        } else {
            ""
        };
        let (tag, is_seq) = match s {
            Slaw::List(_) => ("", true),
            Slaw::Array(_) => (" !array", true),
            Slaw::Map(_) => (map_tag, self.opts.ordered_maps),
            Slaw::Cons(..) => (" !cons", false),
            Slaw::Protein(_) => (" !protein", false),
            Slaw::Nonstd(b) => {
                self.out.push_str(prefix);
                self.out.push_str(" !nonstd |\n");
                self.literal(&B64.encode(b), col + 2);
                return;
            }
            _ => ("", false),
        };
        self.out.push_str(prefix);
        self.out.push_str(tag);
        self.out.push('\n');
        // libyaml writes a sequence under a mapping key without extra indentation.
        let body = if doc || (is_seq && prefix.ends_with(':')) {
            col
        } else {
            col + 2
        };
        match s {
            Slaw::List(items) => {
                for it in items {
                    self.indent(body);
                    self.value("-", Item::Slaw(it), body, false, depth + 1);
                }
            }
            Slaw::Array(n) => {
                for el in self.array_elements(n) {
                    self.indent(body);
                    self.out.push_str("- ");
                    self.out.push_str(&el);
                    self.out.push('\n');
                }
            }
            Slaw::Map(pairs) if self.opts.ordered_maps => {
                for (k, v) in pairs {
                    self.indent(body);
                    self.out.push_str("- ");
                    self.entry(k, Item::Slaw(v), body + 2, depth + 1);
                }
            }
            Slaw::Map(pairs) => {
                for (k, v) in pairs {
                    self.indent(body);
                    self.entry(k, Item::Slaw(v), body, depth + 1);
                }
            }
            Slaw::Cons(car, cdr) => {
                self.indent(body);
                self.entry(car, Item::Slaw(cdr), body, depth + 1);
            }
            Slaw::Protein(p) => {
                let mut first = true;
                let mut field = |w: &mut Self, name: &str, item: Item<'_>| {
                    if !first {
                        w.indent(body);
                    }
                    first = false;
                    w.value(name, item, body, false, depth + 1);
                };
                self.indent(body);
                if let Some(d) = &p.descrips {
                    field(self, "descrips:", Item::Slaw(d));
                }
                if let Some(i) = &p.ingests {
                    field(self, "ingests:", Item::Slaw(i));
                }
                if !p.rude.is_empty() {
                    field(self, "rude_data:", Item::Binary(&p.rude));
                }
                if first {
                    // A protein with nothing in it still needs a mapping body.
                    self.out.truncate(self.out.len() - body);
                    let l = self.out.len();
                    self.out.truncate(l - 1);
                    self.out.push_str(" {}\n");
                }
            }
            _ => {}
        }
    }

    /// One `key: value` entry; the cursor is already at column `col`.
    fn entry(&mut self, k: &Slaw, v: Item<'_>, col: usize, depth: usize) {
        match self.inline(k, depth).filter(|_| is_scalar(k)) {
            Some(key) => self.value(&format!("{key}:"), v, col, false, depth),
            None => {
                self.out.push_str("? ");
                let key = self.flow(k, depth);
                self.out.push_str(&key);
                self.out.push('\n');
                self.indent(col);
                self.value(":", v, col, false, depth);
            }
        }
    }

    fn indent(&mut self, n: usize) {
        for _ in 0..n {
            self.out.push(' ');
        }
    }

    fn literal(&mut self, text: &str, col: usize) {
        let bytes = text.as_bytes();
        if bytes.is_empty() {
            self.indent(col);
            self.out.push('\n');
        }
        for chunk in bytes.chunks(60) {
            self.indent(col);
            // base64 is ASCII, so any chunk boundary is a char boundary.
            self.out
                .push_str(std::str::from_utf8(chunk).unwrap_or_default());
            self.out.push('\n');
        }
    }

    /// The single-line form of `s`, or `None` if it is written as a block.
    fn inline(&self, s: &Slaw, depth: usize) -> Option<String> {
        Some(match s {
            Slaw::Nil => "~".into(),
            Slaw::Bool(b) => if *b { "true" } else { "false" }.into(),
            Slaw::String(t) => quote(t),
            // The spec names the tag, not its text form; base64 like `!!binary`
            // is tidepool's choice (UNVERIFIED against bin2yaml).
            Slaw::BadUtf8(b) => format!("!badutf8 {}", B64.encode(b)),
            Slaw::Num(n) => self.numeric(n.format, &n.data, 0),
            Slaw::Array(n) if n.data.is_empty() => format!("!empty/{} ~", empty_tag(n.format)),
            Slaw::Array(n) if n.format.shape == Shape::Scalar && !n.format.complex => {
                format!("!array [{}]", self.array_elements(n).join(", "))
            }
            Slaw::List(v) if v.is_empty() => "[]".into(),
            Slaw::Map(v) if v.is_empty() => {
                if self.opts.ordered_maps {
                    "!!omap []".into()
                } else {
                    "{}".into()
                }
            }
            _ if depth > MAX_DEPTH => "~".into(),
            _ => return None,
        })
    }

    fn array_elements(&self, n: &Numeric) -> Vec<String> {
        let per = n.format.components().max(1);
        let mut el = n.breadth();
        if let Some(max) = self.opts.max_array_elements {
            el = el.min(max);
        }
        (0..el)
            .map(|i| self.numeric(n.format, &n.data, i * per))
            .collect()
    }

    /// One numeric element (scalar, complex, vector, multivector) starting at
    /// component `at` of `d`.
    fn numeric(&self, f: NumFormat, d: &NumData, at: usize) -> String {
        let comp = |i: usize| self.component(f.ty, d.get(at + i));
        let complex = |i: usize| {
            if f.complex {
                format!("!complex [{}, {}]", comp(2 * i), comp(2 * i + 1))
            } else {
                comp(i)
            }
        };
        match f.shape {
            Shape::Scalar => complex(0),
            Shape::Vector(n) => format!(
                "!vector [{}]",
                (0..n as usize).map(complex).collect::<Vec<_>>().join(", ")
            ),
            Shape::Multivector(_) => format!(
                "!multivector [{}]",
                (0..f.shape.components())
                    .map(comp)
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        }
    }

    fn component(&self, ty: NumType, c: Option<Component>) -> String {
        let text = match c {
            Some(Component::Int(v)) => v.to_string(),
            Some(Component::Unt(v)) => v.to_string(),
            Some(Component::F32(v)) => float_text(f64::from(v), Some(v)),
            Some(Component::Float(v)) => float_text(v, None),
            None => "0".into(),
        };
        if self.opts.tag_numbers {
            format!("!{} {}", ty.tag(), text)
        } else {
            text
        }
    }

    /// Everything in flow style (used for non-scalar map keys).
    fn flow(&self, s: &Slaw, depth: usize) -> String {
        if let Some(t) = self.inline(s, depth) {
            return t;
        }
        let join = |v: Vec<String>| v.join(", ");
        match s {
            Slaw::List(v) => format!(
                "[{}]",
                join(v.iter().map(|x| self.flow(x, depth + 1)).collect())
            ),
            Slaw::Map(v) => format!(
                "{{{}}}",
                join(
                    v.iter()
                        .map(|(k, x)| format!(
                            "? {} : {}",
                            self.flow(k, depth + 1),
                            self.flow(x, depth + 1)
                        ))
                        .collect()
                )
            ),
            Slaw::Cons(a, d) => format!(
                "!cons {{? {} : {}}}",
                self.flow(a, depth + 1),
                self.flow(d, depth + 1)
            ),
            Slaw::Array(n) => format!("!array [{}]", join(self.array_elements(n))),
            Slaw::Protein(p) => {
                let mut parts = Vec::new();
                if let Some(d) = &p.descrips {
                    parts.push(format!("descrips: {}", self.flow(d, depth + 1)));
                }
                if let Some(i) = &p.ingests {
                    parts.push(format!("ingests: {}", self.flow(i, depth + 1)));
                }
                if !p.rude.is_empty() {
                    parts.push(format!("rude_data: !!binary \"{}\"", B64.encode(&p.rude)));
                }
                format!("!protein {{{}}}", join(parts))
            }
            Slaw::Nonstd(b) => format!("!nonstd \"{}\"", B64.encode(b)),
            _ => "~".into(),
        }
    }
}

fn is_scalar(s: &Slaw) -> bool {
    matches!(
        s,
        Slaw::Nil | Slaw::Bool(_) | Slaw::String(_) | Slaw::BadUtf8(_) | Slaw::Num(_)
    )
}

/// The `!empty/...` tag suffix of an empty array of format `f`.
fn empty_tag(f: NumFormat) -> String {
    let mut t = String::new();
    match f.shape {
        Shape::Scalar => {}
        Shape::Vector(n) => t.push_str(&format!("vector/{n}/")),
        Shape::Multivector(n) => t.push_str(&format!("multivector/{n}/")),
    }
    if f.complex {
        t.push_str("complex/");
    }
    t.push_str(f.ty.tag());
    t
}

/// A float as YAML text. Uses the shortest text that reads back to the same
/// bits (libPlasma prints `%.8g`/`%.17g`; both mean the same number to its
/// parser, and the shortest form never loses float32 bits, which `%.8g` can).
fn float_text(v: f64, narrow: Option<f32>) -> String {
    if v.is_nan() {
        return ".NaN".into();
    }
    if v.is_infinite() {
        return if v > 0.0 { "+.Inf" } else { "-.Inf" }.into();
    }
    let a = v.abs();
    let mut s = if a != 0.0 && !(1e-4..1e16).contains(&a) {
        let e = match narrow {
            Some(f) => format!("{f:e}"),
            None => format!("{v:e}"),
        };
        // YAML 1.1 floats want a '.' in the mantissa and a signed exponent.
        let (m, x) = e.split_once('e').unwrap_or((&e, "0"));
        let m = if m.contains('.') {
            m.to_string()
        } else {
            format!("{m}.0")
        };
        let x = if x.starts_with('-') {
            x.to_string()
        } else {
            format!("+{x}")
        };
        format!("{m}e{x}")
    } else {
        match narrow {
            Some(f) => f.to_string(),
            None => v.to_string(),
        }
    };
    if !s.contains(['.', 'e']) {
        s.push_str(".0");
    }
    s
}

/// A string scalar: plain when that reads back as the same string, else quoted.
fn quote(s: &str) -> String {
    if plain_is_safe(s) {
        return s.to_string();
    }
    if s.chars().any(needs_escape) {
        let mut o = String::from("\"");
        for c in s.chars() {
            match c {
                '"' => o.push_str("\\\""),
                '\\' => o.push_str("\\\\"),
                '\n' => o.push_str("\\n"),
                '\t' => o.push_str("\\t"),
                '\r' => o.push_str("\\r"),
                '\0' => o.push_str("\\0"),
                c if needs_escape(c) => o.push_str(&format!("\\u{:04x}", c as u32)),
                c => o.push(c),
            }
        }
        o.push('"');
        return o;
    }
    format!("'{}'", s.replace('\'', "''"))
}

/// Characters YAML cannot hold literally (outside c-printable) or that break lines.
fn needs_escape(c: char) -> bool {
    c.is_control()
        || matches!(
            c,
            '\u{feff}' | '\u{2028}' | '\u{2029}' | '\u{fffe}' | '\u{ffff}'
        )
}

fn plain_is_safe(s: &str) -> bool {
    let Some(first) = s.chars().next() else {
        return false;
    };
    if "-?:,[]{}#&*!|>'\"%@`~ \t".contains(first)
        && !(first == '-'
            && s.len() > 1
            && !s[1..].starts_with(' ')
            && !s.starts_with("---")
            && s[1..].chars().next().is_some_and(|c| c.is_alphabetic()))
    {
        return false;
    }
    if s.ends_with([' ', '\t', ':']) {
        return false;
    }
    if s.contains(": ")
        || s.contains(" #")
        || s.chars()
            .any(|c| c.is_control() || c as u32 > 0x7e && !c.is_alphanumeric())
    {
        return false;
    }
    if s.contains([',', '[', ']', '{', '}']) {
        // Safe in block context, but keys and flow items would break.
        return false;
    }
    // Anything a YAML 1.1 reader might type as non-string is quoted, a wider set
    // than tidepool's own resolver (yaml2bin's exact rules are unverified).
    let lower = s.to_ascii_lowercase();
    if matches!(
        lower.as_str(),
        "null"
            | "true"
            | "false"
            | "yes"
            | "no"
            | "on"
            | "off"
            | "y"
            | "n"
            | ".inf"
            | "+.inf"
            | "-.inf"
            | ".nan"
            | "<<"
            | "="
    ) {
        return false;
    }
    !matches!(
        implicit(s),
        Implicit::Int(_) | Implicit::Unt(_) | Implicit::Float(_)
    ) && !s.starts_with(|c: char| c.is_ascii_digit() || c == '+' || c == '.')
}

/// What an untagged plain scalar means (YAML 1.1 core resolution as the spec
/// describes it for `yaml2bin`).
enum Implicit {
    Null,
    Bool(bool),
    Int(i64),
    Unt(u64),
    Float(f64),
    Str,
}

fn implicit(s: &str) -> Implicit {
    match s {
        "" | "~" | "null" | "Null" | "NULL" => return Implicit::Null,
        "true" | "True" | "TRUE" => return Implicit::Bool(true),
        "false" | "False" | "FALSE" => return Implicit::Bool(false),
        _ => {}
    }
    if let Some(v) = parse_int(s) {
        return match v {
            IntText::Neg(v) => Implicit::Int(v),
            IntText::Pos(v) => match i64::try_from(v) {
                Ok(v) => Implicit::Int(v),
                Err(_) => Implicit::Unt(v),
            },
        };
    }
    match parse_float(s) {
        Some(f) => Implicit::Float(f),
        None => Implicit::Str,
    }
}

enum IntText {
    Neg(i64),
    Pos(u64),
}

fn parse_int(s: &str) -> Option<IntText> {
    let (neg, body) = match s.as_bytes().first()? {
        b'-' => (true, &s[1..]),
        b'+' => (false, &s[1..]),
        _ => (false, s),
    };
    let (radix, digits) = if let Some(h) = body.strip_prefix("0x") {
        (16, h)
    } else if let Some(o) = body.strip_prefix("0o") {
        (8, o)
    } else {
        (10, body)
    };
    if digits.is_empty() || !digits.chars().all(|c| c.is_digit(radix)) {
        return None;
    }
    let mag = u64::from_str_radix(digits, radix).ok()?;
    if neg {
        if mag == 1 << 63 {
            Some(IntText::Neg(i64::MIN))
        } else {
            Some(IntText::Neg(-(i64::try_from(mag).ok()?)))
        }
    } else {
        Some(IntText::Pos(mag))
    }
}

fn parse_float(s: &str) -> Option<f64> {
    let lower = s.to_ascii_lowercase();
    match lower.as_str() {
        ".inf" | "+.inf" => return Some(f64::INFINITY),
        "-.inf" => return Some(f64::NEG_INFINITY),
        ".nan" => return Some(f64::NAN),
        _ => {}
    }
    let b = s.strip_prefix(['-', '+']).unwrap_or(s);
    let (mant, exp) = match b.find(['e', 'E']) {
        Some(i) => (&b[..i], Some(&b[i + 1..])),
        None => (b, None),
    };
    let digits_ok = !mant.is_empty()
        && mant.chars().all(|c| c.is_ascii_digit() || c == '.')
        && mant.chars().filter(|&c| c == '.').count() <= 1
        && mant.chars().any(|c| c.is_ascii_digit());
    let exp_ok = exp.is_none_or(|x| {
        let x = x.strip_prefix(['-', '+']).unwrap_or(x);
        !x.is_empty() && x.chars().all(|c| c.is_ascii_digit())
    });
    if !digits_ok || !exp_ok || (!mant.contains('.') && exp.is_none()) {
        return None;
    }
    s.parse().ok()
}

// ---------------------------------------------------------------- parsing

/// A YAML node with its resolved tag, before it is read as a slaw.
#[derive(Clone, Debug)]
struct Node {
    tag: Option<Tag>,
    at: (usize, usize),
    kind: NodeKind,
}

#[derive(Clone, Debug)]
enum NodeKind {
    Scalar(String, ScalarStyle),
    Seq(Vec<Node>),
    Map(Vec<(Node, Node)>),
}

/// Caps the nodes a document may expand to, so alias bombs cannot exhaust memory.
const MAX_NODES: usize = 4_000_000;

fn yerr(at: (usize, usize), msg: impl Into<String>) -> Error {
    Error::Yaml {
        line: at.0,
        col: at.1,
        msg: msg.into(),
    }
}

fn at_of(span: &Span) -> (usize, usize) {
    (span.start.line(), span.start.col() + 1)
}

/// Parses a YAML stream into one slaw per document.
pub fn from_yaml_docs(text: &str) -> Result<Vec<Slaw>, Error> {
    let mut parser = Parser::new_from_str(text);
    let mut docs = Vec::new();
    let mut anchors: std::collections::HashMap<usize, Node> = Default::default();
    let mut budget = MAX_NODES;
    while let Some(ev) = parser.next_event() {
        let (ev, span) = ev.map_err(|e| {
            yerr(
                (e.marker().line(), e.marker().col() + 1),
                e.info().to_string(),
            )
        })?;
        match ev {
            Event::StreamEnd => break,
            Event::DocumentStart(_) => {
                anchors.clear();
                let node = read_node(&mut parser, None, &mut anchors, &mut budget, 0)?;
                match node {
                    Some(n) => docs.push(to_slaw(&n, 0)?),
                    None => return Err(yerr(at_of(&span), "empty document")),
                }
            }
            _ => {}
        }
    }
    Ok(docs)
}

/// Parses YAML text holding exactly one slaw document.
pub fn from_yaml(text: &str) -> Result<Slaw, Error> {
    let mut docs = from_yaml_docs(text)?;
    match docs.len() {
        1 => Ok(docs.remove(0)),
        n => Err(yerr(
            (1, 1),
            format!("expected one YAML document, found {n}"),
        )),
    }
}

/// Reads the next node; `first` is an event already taken from the parser.
fn read_node<'a>(
    p: &mut Parser<'a, saphyr_parser::StrInput<'a>>,
    first: Option<(Event<'a>, Span)>,
    anchors: &mut std::collections::HashMap<usize, Node>,
    budget: &mut usize,
    depth: usize,
) -> Result<Option<Node>, Error> {
    let (ev, span) = match first {
        Some(x) => x,
        None => match p.next_event() {
            Some(r) => r.map_err(|e| {
                yerr(
                    (e.marker().line(), e.marker().col() + 1),
                    e.info().to_string(),
                )
            })?,
            None => return Ok(None),
        },
    };
    let at = at_of(&span);
    if depth > MAX_DEPTH {
        return Err(yerr(at, format!("nesting deeper than {MAX_DEPTH} levels")));
    }
    let take = |budget: &mut usize, n: usize| -> Result<(), Error> {
        *budget = budget
            .checked_sub(n)
            .ok_or_else(|| yerr(at, "document expands to too many nodes"))?;
        Ok(())
    };
    let (node, anchor) = match ev {
        Event::Scalar(v, style, anchor, tag) => {
            take(budget, 1)?;
            (
                Node {
                    tag: tag.map(|t| t.into_owned()),
                    at,
                    kind: NodeKind::Scalar(v.into_owned(), style),
                },
                anchor,
            )
        }
        Event::Alias(id) => {
            let n = anchors
                .get(&id)
                .cloned()
                .ok_or_else(|| yerr(at, "alias to an unknown anchor"))?;
            take(budget, count_nodes(&n))?;
            return Ok(Some(n));
        }
        Event::SequenceStart(anchor, tag) => {
            take(budget, 1)?;
            let mut items = Vec::new();
            loop {
                let next = next_ev(p)?;
                if matches!(next.0, Event::SequenceEnd) {
                    break;
                }
                match read_node(p, Some(next), anchors, budget, depth + 1)? {
                    Some(n) => items.push(n),
                    None => return Err(yerr(at, "unterminated sequence")),
                }
            }
            (
                Node {
                    tag: tag.map(|t| t.into_owned()),
                    at,
                    kind: NodeKind::Seq(items),
                },
                anchor,
            )
        }
        Event::MappingStart(anchor, tag) => {
            take(budget, 1)?;
            let mut pairs = Vec::new();
            loop {
                let next = next_ev(p)?;
                if matches!(next.0, Event::MappingEnd) {
                    break;
                }
                let k = read_node(p, Some(next), anchors, budget, depth + 1)?
                    .ok_or_else(|| yerr(at, "unterminated mapping"))?;
                let v = read_node(p, None, anchors, budget, depth + 1)?
                    .ok_or_else(|| yerr(at, "unterminated mapping"))?;
                pairs.push((k, v));
            }
            (
                Node {
                    tag: tag.map(|t| t.into_owned()),
                    at,
                    kind: NodeKind::Map(pairs),
                },
                anchor,
            )
        }
        Event::DocumentEnd | Event::StreamEnd => return Ok(None),
        _ => return Err(yerr(at, "unexpected YAML event")),
    };
    if anchor != 0 {
        anchors.insert(anchor, node.clone());
    }
    Ok(Some(node))
}

fn next_ev<'a>(
    p: &mut Parser<'a, saphyr_parser::StrInput<'a>>,
) -> Result<(Event<'a>, Span), Error> {
    match p.next_event() {
        Some(r) => r.map_err(|e| {
            yerr(
                (e.marker().line(), e.marker().col() + 1),
                e.info().to_string(),
            )
        }),
        None => Err(yerr((0, 0), "unexpected end of YAML")),
    }
}

fn count_nodes(n: &Node) -> usize {
    match &n.kind {
        NodeKind::Scalar(..) => 1,
        NodeKind::Seq(v) => 1 + v.iter().map(count_nodes).sum::<usize>(),
        NodeKind::Map(v) => {
            1 + v
                .iter()
                .map(|(k, x)| count_nodes(k) + count_nodes(x))
                .sum::<usize>()
        }
    }
}

/// The tag of a node: `Some(Ok(suffix))` for a slaw tag, `Some(Err(suffix))`
/// for a core `!!` tag, `None` when untagged or the non-specific `!`.
fn tag_of(n: &Node) -> Option<Result<&str, &str>> {
    let t = n.tag.as_ref()?;
    if t.handle == CORE_TAG_PREFIX {
        Some(Err(&t.suffix))
    } else if t.handle == SLAW_TAG_PREFIX || (t.handle == "!" && !t.suffix.is_empty()) {
        Some(Ok(&t.suffix))
    } else if t.handle.is_empty() && t.suffix == "!" {
        None
    } else if let Some(s) = t.suffix.strip_prefix(SLAW_TAG_PREFIX) {
        // Verbatim tags (`!<tag:oblong.com,2009:slaw/i32>`).
        Some(Ok(s))
    } else if let Some(s) = t.suffix.strip_prefix(CORE_TAG_PREFIX) {
        Some(Err(s))
    } else {
        Some(Ok(&t.suffix))
    }
}

fn to_slaw(n: &Node, depth: usize) -> Result<Slaw, Error> {
    if depth > MAX_DEPTH {
        return Err(yerr(
            n.at,
            format!("nesting deeper than {MAX_DEPTH} levels"),
        ));
    }
    let tag = tag_of(n);
    match &n.kind {
        NodeKind::Scalar(v, style) => scalar(n, v, *style, tag),
        NodeKind::Seq(items) => match tag {
            None | Some(Err("seq")) => Ok(Slaw::List(
                items
                    .iter()
                    .map(|i| to_slaw(i, depth + 1))
                    .collect::<Result<_, _>>()?,
            )),
            Some(Err("omap" | "pairs")) => {
                let mut pairs = Vec::with_capacity(items.len());
                for it in items {
                    match &it.kind {
                        NodeKind::Map(kv) if kv.len() == 1 => {
                            let (k, v) = &kv[0];
                            pairs.push((to_slaw(k, depth + 1)?, to_slaw(v, depth + 1)?));
                        }
                        _ => return Err(yerr(it.at, "!!omap entries must be one-entry mappings")),
                    }
                }
                Ok(Slaw::map(pairs))
            }
            Some(Ok("vector")) => numeric_group(n, items, Group::Vector, depth),
            Some(Ok("complex")) => numeric_group(n, items, Group::Complex, depth),
            Some(Ok("multivector")) => numeric_group(n, items, Group::Multivector, depth),
            Some(Ok("array")) => {
                let mut format = None;
                let mut data: Option<NumData> = None;
                for it in items {
                    let Slaw::Num(num) = to_slaw(it, depth + 1)? else {
                        return Err(yerr(it.at, "!array elements must be numbers"));
                    };
                    match format {
                        None => format = Some(num.format),
                        Some(f) if f != num.format => {
                            return Err(yerr(it.at, "!array elements differ in type"))
                        }
                        _ => {}
                    }
                    match &mut data {
                        None => data = Some(num.data),
                        Some(d) => append(d, num.data),
                    }
                }
                match (format, data) {
                    (Some(format), Some(data)) => Ok(Slaw::Array(Numeric { format, data })),
                    _ => Err(yerr(
                        n.at,
                        "empty !array has no type: write !empty/<type> ~",
                    )),
                }
            }
            Some(Ok(t)) | Some(Err(t)) => {
                Err(yerr(n.at, format!("tag !{t} does not apply to a sequence")))
            }
        },
        NodeKind::Map(pairs) => match tag {
            None | Some(Err("map" | "omap")) => Ok(Slaw::map(
                pairs
                    .iter()
                    .map(|(k, v)| Ok((to_slaw(k, depth + 1)?, to_slaw(v, depth + 1)?)))
                    .collect::<Result<Vec<_>, Error>>()?,
            )),
            Some(Ok("cons")) => match pairs.as_slice() {
                [(k, v)] => Ok(Slaw::cons(to_slaw(k, depth + 1)?, to_slaw(v, depth + 1)?)),
                _ => Err(yerr(n.at, "!cons must be a mapping with exactly one entry")),
            },
            Some(Ok("protein")) => {
                let mut p = Protein::default();
                for (k, v) in pairs {
                    let NodeKind::Scalar(key, _) = &k.kind else {
                        return Err(yerr(k.at, "protein keys are descrips, ingests, rude_data"));
                    };
                    match key.as_str() {
                        "descrips" => p.descrips = Some(to_slaw(v, depth + 1)?),
                        "ingests" => p.ingests = Some(to_slaw(v, depth + 1)?),
                        "rude_data" => p.rude = binary(v)?,
                        other => return Err(yerr(k.at, format!("unknown protein key {other:?}"))),
                    }
                }
                Ok(Slaw::protein(p))
            }
            Some(Ok(t)) | Some(Err(t)) => {
                Err(yerr(n.at, format!("tag !{t} does not apply to a mapping")))
            }
        },
    }
}

fn binary(n: &Node) -> Result<Vec<u8>, Error> {
    let NodeKind::Scalar(v, _) = &n.kind else {
        return Err(yerr(n.at, "binary data must be a base64 scalar"));
    };
    let clean: String = v.chars().filter(|c| !c.is_whitespace()).collect();
    B64.decode(clean.as_bytes())
        .map_err(|e| yerr(n.at, format!("bad base64: {e}")))
}

fn scalar(
    n: &Node,
    v: &str,
    style: ScalarStyle,
    tag: Option<Result<&str, &str>>,
) -> Result<Slaw, Error> {
    let at = n.at;
    match tag {
        None if style != ScalarStyle::Plain => Ok(Slaw::String(v.to_string())),
        None => Ok(match implicit(v) {
            Implicit::Null => Slaw::Nil,
            Implicit::Bool(b) => Slaw::Bool(b),
            Implicit::Int(i) => Slaw::i64(i),
            Implicit::Unt(u) => Slaw::u64(u),
            Implicit::Float(f) => Slaw::f64(f),
            Implicit::Str => Slaw::String(v.to_string()),
        }),
        Some(Err("str")) => Ok(Slaw::String(v.to_string())),
        Some(Err("null")) => Ok(Slaw::Nil),
        Some(Err("bool")) => match v {
            "true" | "True" | "TRUE" | "yes" | "Yes" | "on" | "On" => Ok(Slaw::Bool(true)),
            "false" | "False" | "FALSE" | "no" | "No" | "off" | "Off" => Ok(Slaw::Bool(false)),
            _ => Err(yerr(at, format!("{v:?} is not a boolean"))),
        },
        Some(Err("int")) => match parse_int(v) {
            Some(IntText::Neg(i)) => Ok(Slaw::i64(i)),
            Some(IntText::Pos(u)) => Ok(i64::try_from(u).map_or(Slaw::u64(u), Slaw::i64)),
            None => Err(yerr(at, format!("{v:?} is not an integer"))),
        },
        Some(Err("float")) => num_text(v, NumType::F64, at),
        Some(Err("binary")) => Ok(Slaw::array(NumData::U8(binary(n)?))),
        Some(Ok("badutf8")) => {
            let bytes = binary(n)?;
            Ok(match String::from_utf8(bytes) {
                Ok(t) => Slaw::String(t),
                Err(e) => Slaw::BadUtf8(e.into_bytes()),
            })
        }
        Some(Ok("nonstd")) => {
            let bytes = binary(n)?;
            codec::decode_protein_slaw(&bytes).map_err(|e| yerr(at, format!("!nonstd: {e}")))
        }
        Some(Ok(t)) => {
            if let Some(ty) = NumType::from_tag(t) {
                return num_text(v, ty, at);
            }
            if let Some(rest) = t.strip_prefix("empty/") {
                let format =
                    parse_empty_tag(rest).ok_or_else(|| yerr(at, format!("bad tag !{t}")))?;
                return Ok(Slaw::Array(Numeric {
                    format,
                    data: NumData::with_capacity(format.ty, 0),
                }));
            }
            Err(yerr(at, format!("unknown slaw tag !{t}")))
        }
        Some(Err(t)) => Err(yerr(at, format!("unsupported tag !!{t} on a scalar"))),
    }
}

fn parse_empty_tag(rest: &str) -> Option<NumFormat> {
    let parts: Vec<&str> = rest.split('/').collect();
    let mut i = 0;
    let mut shape = Shape::Scalar;
    match *parts.first()? {
        "vector" => {
            shape = Shape::Vector(parts.get(1)?.parse().ok()?);
            i = 2;
        }
        "multivector" => {
            shape = Shape::Multivector(parts.get(1)?.parse().ok()?);
            i = 2;
        }
        _ => {}
    }
    let complex = parts.get(i) == Some(&"complex");
    if complex {
        i += 1;
    }
    let ty = NumType::from_tag(parts.get(i)?)?;
    if i + 1 != parts.len()
        || !shape.is_valid()
        || (complex && matches!(shape, Shape::Multivector(_)))
    {
        return None;
    }
    Some(NumFormat { ty, complex, shape })
}

/// A tagged numeric scalar's text as a value of `ty`.
fn num_text(v: &str, ty: NumType, at: (usize, usize)) -> Result<Slaw, Error> {
    let bad = || yerr(at, format!("{v:?} is not a valid {}", ty.tag()));
    let v = v.trim();
    if ty.is_float() {
        let f = parse_float(v)
            .or_else(|| match parse_int(v)? {
                IntText::Neg(i) => Some(i as f64),
                IntText::Pos(u) => Some(u as f64),
            })
            .ok_or_else(bad)?;
        return Ok(match ty {
            NumType::F32 => Slaw::f32(f as f32),
            _ => Slaw::f64(f),
        });
    }
    let wide: i128 = match parse_int(v).ok_or_else(bad)? {
        IntText::Neg(i) => i128::from(i),
        IntText::Pos(u) => i128::from(u),
    };
    Ok(match ty {
        NumType::I8 => Slaw::i8(i8::try_from(wide).map_err(|_| bad())?),
        NumType::I16 => Slaw::i16(i16::try_from(wide).map_err(|_| bad())?),
        NumType::I32 => Slaw::i32(i32::try_from(wide).map_err(|_| bad())?),
        NumType::I64 => Slaw::i64(i64::try_from(wide).map_err(|_| bad())?),
        NumType::U8 => Slaw::u8(u8::try_from(wide).map_err(|_| bad())?),
        NumType::U16 => Slaw::u16(u16::try_from(wide).map_err(|_| bad())?),
        NumType::U32 => Slaw::u32(u32::try_from(wide).map_err(|_| bad())?),
        _ => Slaw::u64(u64::try_from(wide).map_err(|_| bad())?),
    })
}

#[derive(Clone, Copy, PartialEq)]
enum Group {
    Vector,
    Complex,
    Multivector,
}

/// Builds a `!vector`, `!complex` or `!multivector` from its element nodes.
fn numeric_group(n: &Node, items: &[Node], g: Group, depth: usize) -> Result<Slaw, Error> {
    let mut format: Option<NumFormat> = None;
    let mut data: Option<NumData> = None;
    for it in items {
        let Slaw::Num(num) = to_slaw(it, depth + 1)? else {
            return Err(yerr(it.at, "numeric group elements must be numbers"));
        };
        let ok_shape =
            num.format.shape == Shape::Scalar && (g == Group::Vector || !num.format.complex);
        if !ok_shape {
            return Err(yerr(it.at, "element cannot be nested here"));
        }
        match format {
            None => format = Some(num.format),
            Some(f) if f != num.format => return Err(yerr(it.at, "elements differ in type")),
            _ => {}
        }
        match &mut data {
            None => data = Some(num.data),
            Some(d) => append(d, num.data),
        }
    }
    let (Some(mut format), Some(data)) = (format, data) else {
        return Err(yerr(n.at, "empty numeric group"));
    };
    let k = items.len();
    match g {
        Group::Complex if k == 2 => format.complex = true,
        Group::Vector if (2..=4).contains(&k) => format.shape = Shape::Vector(k as u8),
        Group::Multivector if k.is_power_of_two() && (4..=32).contains(&k) => {
            format.shape = Shape::Multivector(k.trailing_zeros() as u8)
        }
        _ => return Err(yerr(n.at, format!("wrong number of elements ({k})"))),
    }
    Ok(Slaw::Num(Numeric { format, data }))
}

fn append(d: &mut NumData, more: NumData) {
    match (d, more) {
        (NumData::I8(a), NumData::I8(b)) => a.extend(b),
        (NumData::I16(a), NumData::I16(b)) => a.extend(b),
        (NumData::I32(a), NumData::I32(b)) => a.extend(b),
        (NumData::I64(a), NumData::I64(b)) => a.extend(b),
        (NumData::U8(a), NumData::U8(b)) => a.extend(b),
        (NumData::U16(a), NumData::U16(b)) => a.extend(b),
        (NumData::U32(a), NumData::U32(b)) => a.extend(b),
        (NumData::U64(a), NumData::U64(b)) => a.extend(b),
        (NumData::F32(a), NumData::F32(b)) => a.extend(b),
        (NumData::F64(a), NumData::F64(b)) => a.extend(b),
        // Callers check that the formats agree first.
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arf_coord_example_parses() {
        let text = "%YAML 1.1\n%TAG ! tag:oblong.com,2009:slaw/\n--- !protein\ndescrips:\n- arf\n- airports\ningests: !!omap\n- destination: KLAX\n- pid: !i64 10457\n- time: !f64 1240009221.079\n...\n";
        let s = from_yaml(text).expect("parses");
        let p = s.as_protein().expect("protein");
        assert_eq!(p.ingest("pid").and_then(Slaw::as_i64), Some(10457));
        assert_eq!(from_yaml(&to_yaml(&s)).expect("round trip"), s);
    }

    #[test]
    fn emitter_matches_libplasma_layout() {
        let p = Protein::new(
            Slaw::strings(["arf", "airports"]),
            Slaw::map([
                ("destination", Slaw::str("KLAX")),
                ("pid", Slaw::i64(10457)),
            ]),
        );
        assert_eq!(
            protein_to_yaml(&p),
            "%YAML 1.1\n%TAG ! tag:oblong.com,2009:slaw/\n--- !protein\ndescrips:\n- arf\n- airports\ningests: !!omap\n- destination: KLAX\n- pid: !i64 10457\n...\n"
        );
    }

    #[test]
    fn ambiguous_strings_are_quoted() {
        for s in [
            "true", "123", "1.5", "~", "", "yes", "- x", "a: b", "#c", "null", "0x10",
        ] {
            let y = to_yaml(&Slaw::str(s));
            assert_eq!(from_yaml(&y).expect("parses"), Slaw::str(s), "{y}");
        }
    }
}
