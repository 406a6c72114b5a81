//! The value pane's body (console spec section 3.3, hive spec section 9): one
//! value rendered in one of five modes, once, when it arrives or the mode
//! changes; drawing only copies the visible lines. Everything shown passes
//! `text::sanitize`; pickles are labelled and shown as hex, never unpickled.

use crate::engine::hive::viewer::{self, Format};
use crate::engine::slaw;
use crate::tui::text::{sanitize, sanitize_bytes};
use crate::tui::widgets::hexdump;

/// Values larger than this show only their head.
pub const BIG_VALUE: u64 = 1 << 20;
/// How much of a big value is shown.
pub const HEAD: usize = 64 * 1024;
/// Lines kept for one rendering (the rest is counted, not built).
pub const MAX_LINES: usize = 20_000;

/// How the body is shown, cycled with `v`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Mode {
    /// Detected format.
    #[default]
    Auto,
    /// Hex dump.
    Hex,
    /// UTF-8 text, invalid bytes as `\xNN`.
    Utf8,
    /// Slaw YAML.
    Slaw,
    /// Pretty JSON.
    Json,
}

impl Mode {
    /// The next mode in the `v` cycle.
    pub fn next(self) -> Mode {
        match self {
            Mode::Auto => Mode::Hex,
            Mode::Hex => Mode::Utf8,
            Mode::Utf8 => Mode::Slaw,
            Mode::Slaw => Mode::Json,
            Mode::Json => Mode::Auto,
        }
    }

    /// Label in the pane title.
    pub fn label(self) -> &'static str {
        match self {
            Mode::Auto => "auto",
            Mode::Hex => "hex",
            Mode::Utf8 => "UTF-8",
            Mode::Slaw => "slaw",
            Mode::Json => "JSON",
        }
    }
}

/// The theme role of a body line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tone {
    /// Normal text.
    Base,
    /// Secondary text (hints, offsets).
    Muted,
    /// A mode that cannot decode the value.
    Error,
    /// A note (pickle label, truncation hint).
    Info,
}

/// One rendered line, already sanitised.
#[derive(Debug, Clone, PartialEq)]
pub struct BodyLine {
    /// Role.
    pub tone: Tone,
    /// Text.
    pub text: String,
}

fn line(tone: Tone, text: impl Into<String>) -> BodyLine {
    BodyLine {
        tone,
        text: text.into(),
    }
}

/// A loaded value and its rendering.
#[derive(Debug, Clone, PartialEq)]
pub struct Value {
    /// The alias (or `<id>` for a sliced document shown as one).
    pub alias: bytes::Bytes,
    /// Sanitised alias for display.
    pub label: String,
    /// The bytes kept (the whole value, or its head when big).
    pub head: bytes::Bytes,
    /// Full size in bytes.
    pub size: u64,
    /// Detected format (of the head).
    pub format: Format,
    /// Number of slices when this is a reassembled sliced document.
    pub slices: Option<u64>,
    /// Slice count when the alias is `<id>-slice_count` and the content a count.
    pub slice_count: Option<u64>,
    /// Body lines for the current mode.
    pub lines: Vec<BodyLine>,
    /// Lines not built because of [`MAX_LINES`].
    pub more_lines: usize,
}

impl Value {
    /// Builds a value from the bytes a `Get` returned.
    pub fn new(alias: bytes::Bytes, content: bytes::Bytes, mode: Mode) -> Value {
        let size = content.len() as u64;
        let head = if size > BIG_VALUE {
            content.slice(..HEAD)
        } else {
            content
        };
        let slice_count = viewer::slice_base(&alias).and_then(|_| {
            std::str::from_utf8(&head)
                .ok()
                .and_then(|s| s.trim().parse::<u64>().ok())
        });
        let mut v = Value {
            label: sanitize_bytes(&alias),
            alias,
            format: viewer::detect(&head),
            head,
            size,
            slices: None,
            slice_count,
            lines: Vec::new(),
            more_lines: 0,
        };
        v.render(mode);
        v
    }

    /// Whether only the head is kept.
    pub fn truncated(&self) -> bool {
        (self.head.len() as u64) < self.size
    }

    /// Re-renders the body for `mode`.
    pub fn render(&mut self, mode: Mode) {
        let mut out = Vec::new();
        if let Format::Pickle(p) = self.format {
            out.push(line(
                Tone::Info,
                format!("pickle p{p} (a wrpme.Client entry): shown as hex, never unpickled"),
            ));
        }
        if let Some(n) = self.slice_count {
            out.push(line(
                Tone::Info,
                format!("sliced document: {n} slices — press o to view it as one"),
            ));
        }
        if self.truncated() {
            out.push(line(
                Tone::Info,
                format!(
                    "truncated — first {} KiB shown; :hive get {} --out FILE",
                    HEAD / 1024,
                    self.label
                ),
            ));
        }
        let body = body(&self.head, self.format, mode);
        let total = body.len();
        out.extend(body.into_iter().take(MAX_LINES));
        self.more_lines = total.saturating_sub(MAX_LINES);
        self.lines = out;
    }
}

/// The body lines of `bytes` in `mode`.
pub fn body(bytes: &[u8], format: Format, mode: Mode) -> Vec<BodyLine> {
    let mode = match mode {
        Mode::Auto => match format {
            Format::Slaw => Mode::Slaw,
            Format::Json => Mode::Json,
            Format::Utf8 => Mode::Utf8,
            Format::Pickle(_) | Format::Binary => Mode::Hex,
        },
        m => m,
    };
    match mode {
        Mode::Hex | Mode::Auto => hexdump::lines(bytes)
            .into_iter()
            .map(|l| line(Tone::Base, sanitize(&l)))
            .collect(),
        Mode::Utf8 => {
            let mut v = Vec::new();
            if std::str::from_utf8(bytes).is_err() {
                v.push(line(
                    Tone::Muted,
                    "not valid UTF-8: invalid bytes shown as \\xNN",
                ));
            }
            for l in bytes.split(|b| *b == b'\n') {
                v.push(line(Tone::Base, sanitize_bytes(l)));
            }
            v
        }
        Mode::Json => match serde_json::from_slice::<serde_json::Value>(bytes) {
            Ok(j) => serde_json::to_string_pretty(&j)
                .unwrap_or_default()
                .lines()
                .map(|l| line(Tone::Base, sanitize(l)))
                .collect(),
            Err(e) => vec![line(
                Tone::Error,
                format!("not JSON: {}", sanitize(&e.to_string())),
            )],
        },
        Mode::Slaw => match slaw::file::read(bytes) {
            Ok(docs) => {
                let text = slaw::yaml::to_yaml_docs(&docs, &slaw::yaml::EmitOptions::default());
                text.lines()
                    .map(|l| line(Tone::Base, sanitize(l)))
                    .collect()
            }
            Err(e) => vec![line(
                Tone::Error,
                format!("not slaw: {}", sanitize(&e.to_string())),
            )],
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;
    use proptest::prelude::*;

    #[test]
    fn modes_say_when_they_cannot_decode() {
        let v = Value::new(Bytes::from("k"), Bytes::from("plain"), Mode::Json);
        assert_eq!(v.lines[0].tone, Tone::Error);
        assert!(v.lines[0].text.starts_with("not JSON: expected value"));
        let v = Value::new(Bytes::from("k"), Bytes::from("plain"), Mode::Slaw);
        assert!(v.lines[0].text.starts_with("not slaw:"));
    }

    #[test]
    fn auto_picks_json_slaw_text_and_hex() {
        let v = Value::new(Bytes::from("k"), Bytes::from(r#"{"a":[1,2]}"#), Mode::Auto);
        assert_eq!(v.format, Format::Json);
        assert_eq!(v.lines[0].text, "{");
        let s = slaw::file::write(&[slaw::Slaw::String("hello".into())], slaw::Endian::Little);
        let v = Value::new(Bytes::from("k"), Bytes::from(s), Mode::Auto);
        assert_eq!(v.format, Format::Slaw);
        assert!(v.lines.iter().any(|l| l.text.contains("hello")), "{v:?}");
        let v = Value::new(
            Bytes::from("k"),
            Bytes::from_static(b"\x80\x04\x95x"),
            Mode::Auto,
        );
        assert_eq!(v.format, Format::Pickle(4));
        assert!(v.lines[0].text.contains("never unpickled"));
        assert!(v.lines[1].text.starts_with("00000000"), "{:?}", v.lines[1]);
    }

    #[test]
    fn escape_sequences_are_escaped() {
        let v = Value::new(
            Bytes::from("k\x1b[2J"),
            Bytes::from_static(b"a\x1b]0;pwned\x07b\n\xff"),
            Mode::Utf8,
        );
        assert_eq!(v.label, "k\\x1b[2J");
        assert!(v.lines.iter().all(|l| !l.text.contains('\x1b')));
        assert!(v.lines[0].text.starts_with("not valid UTF-8"));
    }

    #[test]
    fn big_values_keep_only_the_head_and_say_so() {
        let big = Bytes::from(vec![b'x'; (BIG_VALUE + 10) as usize]);
        let v = Value::new(Bytes::from("big"), big, Mode::Auto);
        assert!(v.truncated());
        assert_eq!(v.head.len(), HEAD);
        assert!(v.lines[0].text.starts_with("truncated"));
    }

    #[test]
    fn slice_count_is_recognised() {
        let v = Value::new(Bytes::from("abc-slice_count"), Bytes::from("3"), Mode::Auto);
        assert_eq!(v.slice_count, Some(3));
        let v = Value::new(Bytes::from("abc-slice_count"), Bytes::from("x"), Mode::Auto);
        assert_eq!(v.slice_count, None);
    }

    proptest! {
        #[test]
        fn any_bytes_render_in_every_mode_without_control_chars(
            bytes in proptest::collection::vec(any::<u8>(), 0..512),
        ) {
            for mode in [Mode::Auto, Mode::Hex, Mode::Utf8, Mode::Slaw, Mode::Json] {
                let v = Value::new(Bytes::from("k"), Bytes::from(bytes.clone()), mode);
                for l in &v.lines {
                    prop_assert!(!l.text.chars().any(|c| c.is_control()));
                }
            }
        }
    }
}
