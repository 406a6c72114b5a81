//! Forms (console spec sections 3.2 and 6): the deposit form and the pool
//! create/resize forms. Fields are tui-input lines; validation runs on every
//! keystroke and names the field and column of the first error.

use crate::engine::slaw::{self, value::Slaw};
use tui_input::Input;

use crate::tui::command::parse_size;
use crate::tui::source::PoolCmd;

/// Which form.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Deposit a protein.
    Deposit,
    /// Create a pool.
    Create,
    /// Resize a pool.
    Resize,
}

/// One field.
#[derive(Debug, Clone)]
pub struct Field {
    /// Label.
    pub label: &'static str,
    /// The input line.
    pub input: Input,
    /// Hint shown dim on the right.
    pub hint: &'static str,
}

/// A form overlay.
#[derive(Debug, Clone)]
pub struct Form {
    /// Which form.
    pub kind: Kind,
    /// Fields, in focus order.
    pub fields: Vec<Field>,
    /// Focused field.
    pub focus: usize,
    /// Whether anything was typed since the form opened or last sent.
    pub edited: bool,
    /// Result of the last send: Ok(message) or Err(retort / error).
    pub result: Option<Result<String, String>>,
    /// Whether a send is in flight.
    pub in_flight: bool,
}

/// Validation outcome: the command to send, or (field, message).
pub type Checked = Result<PoolCmd, (usize, String)>;

fn field(label: &'static str, value: &str, hint: &'static str) -> Field {
    Field {
        label,
        input: Input::new(value.to_string()),
        hint,
    }
}

impl Form {
    /// The deposit form for `pool`.
    pub fn deposit(pool: &str) -> Form {
        Form::new(
            Kind::Deposit,
            vec![
                field("pool", pool, "name"),
                field("descrips", "", "YAML flow list"),
                field("ingests", "", "YAML flow map, tags allowed"),
                field("rude data", "", "hex, optional"),
            ],
        )
    }

    /// The create form.
    pub fn create(name: &str, size: &str) -> Form {
        Form::new(
            Kind::Create,
            vec![
                field("name", name, "pool name"),
                field("capacity", size, "e.g. 64M"),
            ],
        )
    }

    /// The resize form.
    pub fn resize(name: &str, size: &str) -> Form {
        Form::new(
            Kind::Resize,
            vec![
                field("pool", name, "pool name"),
                field("capacity", size, "e.g. 128M"),
            ],
        )
    }

    fn new(kind: Kind, fields: Vec<Field>) -> Form {
        let focus = if kind == Kind::Deposit { 1 } else { 0 };
        Form {
            kind,
            fields,
            focus,
            edited: false,
            result: None,
            in_flight: false,
        }
    }

    /// Title of the overlay.
    pub fn title(&self) -> &'static str {
        match self.kind {
            Kind::Deposit => "deposit a protein",
            Kind::Create => "create a pool",
            Kind::Resize => "resize a pool",
        }
    }

    fn value(&self, i: usize) -> &str {
        self.fields.get(i).map(|f| f.input.value()).unwrap_or("")
    }

    /// Validates every field; the first error wins.
    pub fn check(&self) -> Checked {
        let name = self.value(0).trim();
        if !valid_pool_name(name) {
            return Err((
                0,
                "pool name: 1-100 of A-Z a-z 0-9 . _ - (no leading dot)".into(),
            ));
        }
        match self.kind {
            Kind::Deposit => {
                let descrips = slaw_field(self.value(1)).map_err(|e| (1, e))?;
                let ingests = slaw_field(self.value(2)).map_err(|e| (2, e))?;
                let rude = parse_hex(self.value(3)).map_err(|e| (3, e))?;
                let descrips = match descrips {
                    None => Slaw::List(Vec::new()),
                    Some(d @ Slaw::List(_)) => d,
                    Some(_) => {
                        return Err((1, "column 1: descrips must be a list like [a, b]".into()))
                    }
                };
                let ingests = match ingests {
                    None => Slaw::Map(Vec::new()),
                    Some(m @ Slaw::Map(_)) => m,
                    Some(_) => {
                        return Err((2, "column 1: ingests must be a map like {k: v}".into()))
                    }
                };
                let p = slaw::value::Protein::new(descrips, ingests).with_rude(rude);
                let encoded = slaw::encode_protein(&p);
                Ok(PoolCmd::Deposit {
                    pool: name.to_string(),
                    protein: crate::tui::local::display_protein(&p),
                    encoded,
                })
            }
            Kind::Create | Kind::Resize => {
                let cap = parse_size(self.value(1))
                    .filter(|c| *c >= 1024)
                    .ok_or((1, "capacity: a size of at least 1K, e.g. 64M".to_string()))?;
                Ok(if self.kind == Kind::Create {
                    PoolCmd::Create {
                        pool: name.to_string(),
                        capacity: cap,
                    }
                } else {
                    PoolCmd::Resize {
                        pool: name.to_string(),
                        capacity: cap,
                    }
                })
            }
        }
    }

    /// The live line under the form: what would be sent, or the first error.
    pub fn summary(&self) -> Result<String, (usize, String)> {
        match self.check()? {
            PoolCmd::Deposit {
                protein, encoded, ..
            } => Ok(format!(
                "ok: {} descrips, {} ingests, {} B rude data; encoded {} B",
                protein.descrips.len(),
                protein.ingests.len(),
                protein.rude.len(),
                encoded.len()
            )),
            PoolCmd::Create { capacity, .. } | PoolCmd::Resize { capacity, .. } => {
                Ok(format!("ok: {}", crate::tui::text::iec(capacity)))
            }
            _ => Ok(String::new()),
        }
    }
}

/// Pool names as libPlasma accepts them (a conservative subset).
pub fn valid_pool_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 100
        && !name.starts_with('.')
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))
}

/// Parses one field as slaw YAML (libPlasma tags such as `!i64` allowed); errors
/// name the column within the field.
fn slaw_field(text: &str) -> Result<Option<Slaw>, String> {
    if text.trim().is_empty() {
        return Ok(None);
    }
    let doc = format!(
        "%YAML 1.1\n%TAG ! {}\n---\n{text}\n",
        slaw::yaml::SLAW_TAG_PREFIX
    );
    slaw::yaml::from_yaml(&doc).map(Some).map_err(|e| {
        let m = e.to_string();
        // the field is line 4 of the document built above
        match m.split_once(", column ") {
            Some((_, rest)) => format!("column {rest}"),
            None => m,
        }
    })
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
    use tui_input::InputRequest;

    fn set(form: &mut Form, i: usize, v: &str) {
        form.fields[i].input = Input::new(v.to_string());
    }

    #[test]
    fn deposit_form_validates_each_field() {
        let mut f = Form::deposit("demo");
        set(&mut f, 1, "[arf, airports]");
        set(&mut f, 2, "{pid: !i64 10457, name: x}");
        set(&mut f, 3, "de ad");
        match f.check() {
            Ok(PoolCmd::Deposit {
                pool,
                protein,
                encoded,
            }) => {
                assert_eq!(pool, "demo");
                assert_eq!(protein.descrips, vec!["arf", "airports"]);
                assert_eq!(protein.ingests[0].0, "pid");
                assert!(protein.ingests[0].1.contains("10457"));
                assert_eq!(protein.rude, vec![0xde, 0xad]);
                let back = slaw::decode_protein(&encoded).expect("decodes");
                assert_eq!(crate::tui::local::display_protein(&back), protein);
            }
            other => panic!("unexpected {other:?}"),
        }
        set(&mut f, 1, "[arf, airports");
        let (field, msg) = f.check().expect_err("unclosed list");
        assert_eq!(field, 1);
        assert!(msg.starts_with("column"), "{msg}");
        set(&mut f, 1, "[]");
        set(&mut f, 3, "zz");
        assert_eq!(f.check().expect_err("bad hex").0, 3);
        set(&mut f, 0, "");
        assert_eq!(f.check().expect_err("no pool").0, 0);
    }

    #[test]
    fn create_form_needs_a_size() {
        let mut f = Form::create("p", "");
        assert_eq!(f.check().expect_err("no size").0, 1);
        f.fields[1].input.handle(InputRequest::InsertChar('8'));
        f.fields[1].input.handle(InputRequest::InsertChar('M'));
        assert_eq!(
            f.check(),
            Ok(PoolCmd::Create {
                pool: "p".into(),
                capacity: 8 << 20
            })
        );
    }
}
