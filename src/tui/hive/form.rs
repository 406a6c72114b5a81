//! The hive put / update form (console spec section 3.3): key, value and value
//! encoding. Validation runs on every keystroke; empty keys and values are
//! refused before anything is sent.

use bytes::Bytes;
use tui_input::Input;

use crate::engine::hive::MAX_ALIAS_BYTES;
use crate::engine::slaw;

/// Put (create only) or update (create or replace).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// `a`: fails when the key exists.
    Put,
    /// `e`: creates or replaces.
    Update,
}

/// The encodings the value field accepts.
pub const ENCODINGS: &str = "utf-8 | hex | json | slaw";

/// One field.
#[derive(Debug, Clone)]
pub struct Field {
    /// Label.
    pub label: &'static str,
    /// Input line.
    pub input: Input,
    /// Hint shown dim on the right.
    pub hint: &'static str,
}

/// The form state.
#[derive(Debug, Clone)]
pub struct Form {
    /// Put or update.
    pub kind: Kind,
    /// key, value, encoding.
    pub fields: Vec<Field>,
    /// Focused field.
    pub focus: usize,
    /// Typed into since it opened (or last failed).
    pub edited: bool,
    /// Result of the last send.
    pub result: Option<Result<String, String>>,
    /// Error shown under the key field (from the engine).
    pub key_error: Option<String>,
    /// Size of the current value when the form was opened (update).
    pub old_size: Option<u64>,
    /// A send is in flight.
    pub in_flight: bool,
}

fn field(label: &'static str, value: &str, hint: &'static str) -> Field {
    Field {
        label,
        input: Input::new(value.to_string()),
        hint,
    }
}

impl Form {
    /// A form of `kind`, prefilled.
    pub fn new(kind: Kind, key: &str, value: &str, encoding: &str, old: Option<u64>) -> Form {
        Form {
            kind,
            fields: vec![
                field("key", key, "alias, e.g. user:42"),
                field("value", value, "content"),
                field("encoding", encoding, ENCODINGS),
            ],
            focus: if key.is_empty() { 0 } else { 1 },
            edited: false,
            result: None,
            key_error: None,
            old_size: old,
            in_flight: false,
        }
    }

    /// Overlay title.
    pub fn title(&self) -> &'static str {
        match self.kind {
            Kind::Put => "hive put",
            Kind::Update => "hive update",
        }
    }

    fn value(&self, i: usize) -> &str {
        self.fields.get(i).map(|f| f.input.value()).unwrap_or("")
    }

    /// Validates: (alias, content) or (field, message).
    pub fn check(&self) -> Result<(Bytes, Bytes), (usize, String)> {
        let key = self.value(0);
        if key.is_empty() {
            return Err((0, "key: empty keys are refused (invalid_input)".into()));
        }
        if key.len() > MAX_ALIAS_BYTES {
            return Err((0, format!("key: longer than {MAX_ALIAS_BYTES} bytes")));
        }
        let text = self.value(1);
        let content = match self.value(2).trim().to_ascii_lowercase().as_str() {
            "" | "utf-8" | "utf8" | "text" => text.as_bytes().to_vec(),
            "hex" => parse_hex(text).map_err(|e| (1, e))?,
            "json" => {
                let v: serde_json::Value =
                    serde_json::from_str(text).map_err(|e| (1, format!("not JSON: {e}")))?;
                serde_json::to_vec(&v).map_err(|e| (1, e.to_string()))?
            }
            "slaw" => {
                let doc = format!(
                    "%YAML 1.1\n%TAG ! {}\n---\n{text}\n",
                    slaw::yaml::SLAW_TAG_PREFIX
                );
                let s =
                    slaw::yaml::from_yaml(&doc).map_err(|e| (1, format!("not slaw YAML: {e}")))?;
                slaw::file::write(&[s], slaw::Endian::Little)
            }
            other => {
                return Err((2, format!("encoding {other:?}: one of {ENCODINGS}")));
            }
        };
        if content.is_empty() {
            return Err((1, "value: empty values are refused (invalid_input)".into()));
        }
        Ok((Bytes::copy_from_slice(key.as_bytes()), Bytes::from(content)))
    }
}

fn parse_hex(text: &str) -> Result<Vec<u8>, String> {
    let digits: Vec<(usize, char)> = text
        .char_indices()
        .filter(|(_, c)| !c.is_whitespace())
        .collect();
    if let Some((col, c)) = digits.iter().find(|(_, c)| !c.is_ascii_hexdigit()) {
        return Err(format!("column {}: {c:?} is not a hex digit", col + 1));
    }
    if !digits.len().is_multiple_of(2) {
        return Err("odd number of hex digits".into());
    }
    Ok(digits
        .chunks(2)
        .filter_map(|p| {
            let s: String = p.iter().map(|(_, c)| *c).collect();
            u8::from_str_radix(&s, 16).ok()
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn form(key: &str, value: &str, enc: &str) -> Form {
        Form::new(Kind::Put, key, value, enc, None)
    }

    #[test]
    fn empty_key_and_value_are_refused() {
        assert_eq!(form("", "v", "utf-8").check().unwrap_err().0, 0);
        assert_eq!(form("k", "", "utf-8").check().unwrap_err().0, 1);
        assert_eq!(form("k", "", "hex").check().unwrap_err().0, 1);
    }

    #[test]
    fn encodings_encode() {
        assert_eq!(
            form("k", "de ad", "hex").check().unwrap().1,
            Bytes::from_static(&[0xde, 0xad])
        );
        assert_eq!(
            form("k", "{ \"a\": 1 }", "json").check().unwrap().1,
            Bytes::from("{\"a\":1}")
        );
        assert_eq!(form("k", "{", "json").check().unwrap_err().0, 1);
        let s = form("k", "[a, !i64 5]", "slaw").check().unwrap().1;
        assert!(slaw::file::has_magic(&s));
        assert_eq!(form("k", "v", "base64").check().unwrap_err().0, 2);
        assert_eq!(form("k", "zz", "hex").check().unwrap_err().0, 1);
    }
}
