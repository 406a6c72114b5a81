//! The call form of the Calls view (console spec section 3.4): one field per
//! argument, typed and validated on every keystroke, turned into a request only
//! when every field is valid. Pure: no IO.

use bytes::Bytes;
use tui_input::Input;

use crate::engine::amp::codec::{AmpBox, MAX_KEY_LENGTH, MAX_VALUE_LENGTH};
use crate::engine::amp::types::{self, ArgType, Field, Record};
use crate::engine::simpyio::handle::parse_call;
use crate::engine::simpyio::json::Json;
use crate::tui::calls::{CommandInfo, Request};

/// What a form field holds and how it is checked.
#[derive(Debug, Clone, PartialEq)]
pub enum FieldKind {
    /// A typed AMP argument (checked with the engine's own text parser).
    Amp(ArgType),
    /// The wire name of a free AMP command (`raw`).
    AmpCommand,
    /// Free AMP `key=value` pairs, space-separated.
    AmpPairs,
    /// A simpy.io method path.
    RpcPath,
    /// simpy.io positional arguments: a JSON array.
    RpcArgs,
    /// simpy.io keyword arguments: a JSON object.
    RpcKwargs,
}

impl FieldKind {
    /// The type shown dim on the right of the field.
    pub fn label(&self) -> String {
        match self {
            FieldKind::Amp(t) => t.to_string(),
            FieldKind::AmpCommand => "command".into(),
            FieldKind::AmpPairs => "key=value …".into(),
            FieldKind::RpcPath => "path".into(),
            FieldKind::RpcArgs => "JSON array".into(),
            FieldKind::RpcKwargs => "JSON object".into(),
        }
    }
}

/// One field of the form.
#[derive(Debug, Clone)]
pub struct FormField {
    /// Argument name.
    pub name: String,
    /// Type and checking rule.
    pub kind: FieldKind,
    /// May be left empty (AMP optional argument, simpy.io args/kwargs).
    pub optional: bool,
    /// The text typed so far.
    pub input: Input,
    /// Why the text is not valid (None: valid).
    pub error: Option<String>,
}

impl FormField {
    fn new(name: &str, kind: FieldKind, optional: bool, value: &str) -> FormField {
        let mut f = FormField {
            name: name.to_string(),
            kind,
            optional,
            input: Input::new(value.to_string()),
            error: None,
        };
        f.validate();
        f
    }

    /// Re-checks the field's text; sets or clears `error`.
    pub fn validate(&mut self) {
        self.error = check(&self.kind, self.optional, self.input.value()).err();
    }
}

fn check(kind: &FieldKind, optional: bool, text: &str) -> Result<(), String> {
    if text.trim().is_empty() {
        return if optional || matches!(kind, FieldKind::AmpPairs) {
            Ok(())
        } else {
            Err("required".into())
        };
    }
    match kind {
        FieldKind::Amp(ty) => {
            let v = types::parse_text(ty, text).map_err(|e| e.reason)?;
            let bytes = types::encode(ty, &v).map_err(|e| e.reason)?;
            if bytes.len() > MAX_VALUE_LENGTH {
                return Err(format!(
                    "encodes to {} bytes; AMP values are at most {MAX_VALUE_LENGTH}",
                    bytes.len()
                ));
            }
            Ok(())
        }
        FieldKind::AmpCommand => {
            if text.len() > MAX_VALUE_LENGTH {
                Err("command name too long".into())
            } else {
                Ok(())
            }
        }
        FieldKind::AmpPairs => pairs(text).map(|_| ()),
        FieldKind::RpcPath => parse_call(text, "", "").map(|_| ()),
        FieldKind::RpcArgs => parse_call("x", text, "").map(|_| ()),
        FieldKind::RpcKwargs => parse_call("x", "", text).map(|_| ()),
    }
}

/// Parses `key=value key2=hex:00ff` into a raw box (values are bytes on the
/// wire; `hex:` gives them in hexadecimal).
pub fn pairs(text: &str) -> Result<AmpBox, String> {
    let mut b = AmpBox::new();
    for word in text.split_whitespace() {
        let Some((k, v)) = word.split_once('=') else {
            return Err(format!("{word:?}: expected key=value"));
        };
        if k.is_empty() || k.len() > MAX_KEY_LENGTH {
            return Err(format!("{k:?}: keys are 1..=255 bytes"));
        }
        if k.starts_with('_') {
            return Err(format!("{k:?}: keys starting with _ are reserved"));
        }
        let value = match types::parse_text(&ArgType::String, v) {
            Ok(types::Value::Bytes(b)) => b,
            Ok(_) => Bytes::copy_from_slice(v.as_bytes()),
            Err(e) => return Err(format!("{k}: {}", e.reason)),
        };
        if value.len() > MAX_VALUE_LENGTH {
            return Err(format!("{k}: value over {MAX_VALUE_LENGTH} bytes"));
        }
        b.insert(Bytes::copy_from_slice(k.as_bytes()), value);
    }
    Ok(b)
}

/// The form for one command of one target.
#[derive(Debug, Clone)]
pub struct CallForm {
    /// Target index.
    pub target: usize,
    /// Command index in the target's command list.
    pub command: usize,
    /// The command's display name.
    pub title: String,
    /// Fields in order.
    pub fields: Vec<FormField>,
    /// Focused field.
    pub focus: usize,
    /// Typed into since it opened or was last sent.
    pub edited: bool,
    /// Outcome of the last send attempt, shown under the fields.
    pub result: Option<Result<String, String>>,
}

impl CallForm {
    /// A form for `cmd`, prefilled with `values` (by position) where given.
    pub fn new(target: usize, command: usize, cmd: &CommandInfo, values: &[String]) -> CallForm {
        let val = |i: usize| values.get(i).map(String::as_str).unwrap_or("");
        let fields: Vec<FormField> = match cmd {
            CommandInfo::Amp { arguments, .. } => arguments
                .iter()
                .enumerate()
                .map(|(i, a)| {
                    FormField::new(&a.name, FieldKind::Amp(a.ty.clone()), a.optional, val(i))
                })
                .collect(),
            CommandInfo::AmpRaw => vec![
                FormField::new("command", FieldKind::AmpCommand, false, val(0)),
                FormField::new("arguments", FieldKind::AmpPairs, true, val(1)),
            ],
            CommandInfo::Rpc { path, .. } => {
                let p = if values.is_empty() {
                    path.as_str()
                } else {
                    val(0)
                };
                vec![
                    FormField::new("path", FieldKind::RpcPath, false, p),
                    FormField::new("args", FieldKind::RpcArgs, true, val(1)),
                    FormField::new("kwargs", FieldKind::RpcKwargs, true, val(2)),
                ]
            }
        };
        // the first field a user has to type into
        let focus = match cmd {
            CommandInfo::Rpc { path, .. } if !path.is_empty() => {
                1.min(fields.len().saturating_sub(1))
            }
            _ => 0,
        };
        CallForm {
            target,
            command,
            title: cmd.name(),
            fields,
            focus,
            edited: false,
            result: None,
        }
    }

    /// The typed texts, by position (kept with a history row for `r` / `e`).
    pub fn values(&self) -> Vec<String> {
        self.fields
            .iter()
            .map(|f| f.input.value().to_string())
            .collect()
    }

    /// Whether every field is valid.
    pub fn is_valid(&self) -> bool {
        self.fields.iter().all(|f| f.error.is_none())
    }

    /// Builds the request, or names the first invalid field and why.
    pub fn build(&self, cmd: &CommandInfo) -> Result<Request, (usize, String)> {
        build(cmd, &self.values()).map_err(|(i, e)| (i.min(self.fields.len().saturating_sub(1)), e))
    }
}

/// Builds a request from field texts (the form's, or a history row's for `r`).
pub fn build(cmd: &CommandInfo, values: &[String]) -> Result<Request, (usize, String)> {
    let val = |i: usize| values.get(i).map(String::as_str).unwrap_or("");
    match cmd {
        CommandInfo::Amp {
            name, arguments, ..
        } => {
            let mut record = Record::new();
            for (i, a) in arguments.iter().enumerate() {
                let text = val(i);
                if text.trim().is_empty() {
                    if a.optional {
                        continue;
                    }
                    return Err((i, format!("{}: required", a.name)));
                }
                let v = types::parse_text(&a.ty, text)
                    .map_err(|e| (i, format!("{}: {}", a.name, e.reason)))?;
                record.insert(a.name.clone(), v);
            }
            let args = types::encode_fields(arguments, &record)
                .map_err(|e| (0, format!("{}: {}", e.ty, e.reason)))?;
            let shown = display_record(arguments, &record);
            Ok(Request::Amp {
                command: name.clone(),
                args,
                shown,
            })
        }
        CommandInfo::AmpRaw => {
            let command = val(0).trim().to_string();
            if command.is_empty() {
                return Err((0, "command: required".into()));
            }
            let args = pairs(val(1)).map_err(|e| (1, e))?;
            let shown = args
                .iter()
                .map(|(k, v)| (types::bytes_text(k), types::bytes_text(v)))
                .collect();
            Ok(Request::Amp {
                command,
                args,
                shown,
            })
        }
        CommandInfo::Rpc { .. } => {
            if val(0).trim().is_empty() {
                return Err((0, "path: required".into()));
            }
            let call = parse_call(val(0), val(1), val(2)).map_err(|e| {
                let field = if e.starts_with("keyword") {
                    2
                } else if e.starts_with("arguments") {
                    1
                } else {
                    0
                };
                (field, e)
            })?;
            Ok(Request::Rpc(call))
        }
    }
}

fn display_record(fields: &[Field], record: &Record) -> Vec<(String, String)> {
    fields
        .iter()
        .filter_map(|f| {
            record
                .get(&f.name)
                .map(|v| (f.name.clone(), json_text(&types::to_json(v))))
        })
        .collect()
}

/// Compact text of a serde JSON value (strings without quotes).
pub fn json_text(v: &serde_json::Value) -> String {
    match v {
        serde_json::Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// The request line of a simpy.io call, as the history shows it.
pub fn rpc_text(args: &[Json], kwargs: &[(String, Json)]) -> String {
    let mut parts: Vec<String> = args.iter().map(Json::to_text).collect();
    parts.extend(kwargs.iter().map(|(k, v)| format!("{k}={}", v.to_text())));
    parts.join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::amp::types::Field;

    fn sum() -> CommandInfo {
        CommandInfo::Amp {
            name: "Sum".into(),
            arguments: vec![
                Field::new("a", ArgType::Integer),
                Field::optional("b", ArgType::Integer),
            ],
            response: Vec::new(),
            errors: Vec::new(),
            requires_answer: true,
            readonly_safe: true,
        }
    }

    #[test]
    fn amp_fields_are_checked_by_type() {
        let mut f = CallForm::new(0, 0, &sum(), &[]);
        assert_eq!(f.fields[0].error.as_deref(), Some("required"));
        assert!(f.fields[1].error.is_none(), "optional may stay empty");
        f.fields[0].input = Input::new("12x".into());
        f.fields[0].validate();
        assert!(f.fields[0].error.is_some());
        f.fields[0].input = Input::new("12".into());
        f.fields[0].validate();
        assert!(f.is_valid());
        match f.build(&sum()) {
            Ok(Request::Amp { args, .. }) => {
                assert_eq!(args.get(b"a").map(|b| b.as_ref()), Some(&b"12"[..]));
                assert!(args.get(b"b").is_none());
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn raw_pairs_reject_reserved_and_malformed_keys() {
        assert!(pairs("a=1 b=hex:00ff").is_ok());
        assert!(pairs("_ask=1").is_err());
        assert!(pairs("novalue").is_err());
        assert!(pairs("=1").is_err());
        assert!(pairs("a=hex:0").is_err());
    }

    #[test]
    fn rpc_fields_name_the_bad_part() {
        let cmd = CommandInfo::Rpc {
            path: "math/mul".into(),
            readonly_safe: true,
        };
        let v = |a: &str, k: &str| vec!["math/mul".to_string(), a.to_string(), k.to_string()];
        assert!(build(&cmd, &v("[6, 7]", "")).is_ok());
        assert_eq!(build(&cmd, &v("{}", "")).map(|_| ()).unwrap_err().0, 1);
        assert_eq!(build(&cmd, &v("[]", "[]")).map(|_| ()).unwrap_err().0, 2);
        assert_eq!(build(&cmd, &["".into()]).map(|_| ()).unwrap_err().0, 0);
    }

    proptest::proptest! {
        #[test]
        fn any_text_in_any_field_never_panics(texts in proptest::collection::vec(".{0,80}", 0..4)) {
            let kinds = [
                FieldKind::Amp(ArgType::Integer),
                FieldKind::Amp(ArgType::Float),
                FieldKind::Amp(ArgType::DateTime),
                FieldKind::Amp(ArgType::AmpList(vec![Field::new("n", ArgType::Unicode)])),
                FieldKind::AmpCommand,
                FieldKind::AmpPairs,
                FieldKind::RpcPath,
                FieldKind::RpcArgs,
                FieldKind::RpcKwargs,
            ];
            for t in &texts {
                for k in &kinds {
                    let _ = check(k, false, t);
                }
            }
            let _ = build(&sum(), &texts);
            let _ = build(&CommandInfo::AmpRaw, &texts);
            let _ = build(&CommandInfo::Rpc { path: String::new(), readonly_safe: false }, &texts);
        }
    }

    #[test]
    fn garbage_never_panics() {
        let kinds = [
            FieldKind::Amp(ArgType::DateTime),
            FieldKind::Amp(ArgType::Decimal),
            FieldKind::Amp(ArgType::ListOf(Box::new(ArgType::Float))),
            FieldKind::AmpPairs,
            FieldKind::RpcArgs,
            FieldKind::RpcKwargs,
        ];
        for text in [
            "\u{0}",
            "[",
            "{\"a\":",
            "hex:zz",
            "9".repeat(70_000).as_str(),
            "é=é",
        ] {
            for k in &kinds {
                let _ = check(k, false, text);
            }
        }
    }
}
