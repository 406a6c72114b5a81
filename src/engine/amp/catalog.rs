//! Command catalog (amp spec section 4): command names, typed arguments and
//! answers, declared errors, `requiresAnswer`, plus tidepool's `readonly_safe`
//! flag. Loaded from a TOML schema (`--schema`, the config file) or built in
//! Rust through [`CommandDef`]. Sans-IO.
//!
//! Schema format (see `docs/amp.md` and `schemas/interop.toml`):
//!
//! ```toml
//! [[command]]
//! name = "Divide"
//! readonly_safe = true            # may be called under --readonly
//! requires_answer = true          # false: sent without _ask, never answered
//! arguments = [
//!   { name = "numerator", type = "integer" },
//!   { name = "denominator", type = "integer" },
//! ]
//! response = [{ name = "result", type = "float" }]
//! errors = ["ZERO_DIVISION"]       # connection kept
//! fatal_errors = []                # connection closed after the error box
//! ```
//!
//! Types: `integer`, `string` (alias `bytes`), `unicode`, `float`, `boolean`,
//! `decimal`, `datetime`, `path`, `listof` with `of = "<scalar>"` (or the
//! shorthand `listof(<scalar>)`), `amplist` with `fields = [...]`. Any field may
//! set `optional = true`. `canned` (a table of response values) and `fail`
//! (`{ code, description, fatal }`) drive `tidepool serve --amp`.

use std::collections::BTreeMap;
use std::path::Path;

use serde::Deserialize;

use super::types::{ArgType, Field};
use super::Error;

/// An error `tidepool serve --amp` answers instead of a value.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct CannedError {
    /// `_error_code`.
    pub code: String,
    /// `_error_description`.
    #[serde(default)]
    pub description: String,
    /// Close the connection after sending it (a `fatalErrors` entry).
    #[serde(default)]
    pub fatal: bool,
}

/// One command's schema.
#[derive(Debug, Clone, PartialEq)]
pub struct Command {
    /// Wire name (`_command`), case-sensitive.
    pub name: String,
    /// Request keys.
    pub arguments: Vec<Field>,
    /// Answer keys.
    pub response: Vec<Field>,
    /// Declared error codes; the connection stays open.
    pub errors: Vec<String>,
    /// Declared fatal error codes; the sender closes after the error box.
    pub fatal_errors: Vec<String>,
    /// `false`: requests carry no `_ask` and get no answer.
    pub requires_answer: bool,
    /// May be called under `--readonly` (it changes nothing on the peer).
    pub readonly_safe: bool,
    /// Response values for the schema-driven responder.
    pub canned: BTreeMap<String, serde_json::Value>,
    /// An error the schema-driven responder always answers.
    pub fail: Option<CannedError>,
}

impl Command {
    /// A command with no arguments or response that requires an answer.
    pub fn new(name: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            arguments: Vec::new(),
            response: Vec::new(),
            errors: Vec::new(),
            fatal_errors: Vec::new(),
            requires_answer: true,
            readonly_safe: false,
            canned: BTreeMap::new(),
            fail: None,
        }
    }

    /// Whether `code` is declared fatal for this command.
    pub fn is_fatal(&self, code: &str) -> bool {
        self.fatal_errors.iter().any(|c| c == code)
    }
}

/// A command defined in Rust, for programs that know their commands at
/// compile time.
///
/// ```
/// use tidepool::engine::amp::catalog::CommandDef;
/// use tidepool::engine::amp::types::{ArgType, Field};
///
/// struct Sum;
/// impl CommandDef for Sum {
///     const NAME: &'static str = "Sum";
///     const READONLY_SAFE: bool = true;
///     fn arguments() -> Vec<Field> {
///         vec![Field::new("a", ArgType::Integer), Field::new("b", ArgType::Integer)]
///     }
///     fn response() -> Vec<Field> {
///         vec![Field::new("total", ArgType::Integer)]
///     }
/// }
/// assert_eq!(Sum::command().arguments.len(), 2);
/// ```
pub trait CommandDef {
    /// Wire name.
    const NAME: &'static str;
    /// `requiresAnswer`.
    const REQUIRES_ANSWER: bool = true;
    /// Safe under `--readonly`.
    const READONLY_SAFE: bool = false;
    /// Request keys.
    fn arguments() -> Vec<Field> {
        Vec::new()
    }
    /// Answer keys.
    fn response() -> Vec<Field> {
        Vec::new()
    }
    /// Declared error codes (connection kept).
    fn errors() -> Vec<&'static str> {
        Vec::new()
    }
    /// Declared fatal error codes (connection closed).
    fn fatal_errors() -> Vec<&'static str> {
        Vec::new()
    }
    /// The catalog entry.
    fn command() -> Command {
        Command {
            arguments: Self::arguments(),
            response: Self::response(),
            errors: Self::errors().into_iter().map(String::from).collect(),
            fatal_errors: Self::fatal_errors().into_iter().map(String::from).collect(),
            requires_answer: Self::REQUIRES_ANSWER,
            readonly_safe: Self::READONLY_SAFE,
            ..Command::new(Self::NAME)
        }
    }
}

/// A set of commands by name.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Catalog {
    commands: BTreeMap<String, Command>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SchemaFile {
    #[serde(default)]
    command: Vec<CommandSpec>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CommandSpec {
    name: String,
    #[serde(default)]
    arguments: Vec<FieldSpec>,
    #[serde(default)]
    response: Vec<FieldSpec>,
    #[serde(default)]
    errors: Vec<String>,
    #[serde(default)]
    fatal_errors: Vec<String>,
    #[serde(default = "yes")]
    requires_answer: bool,
    #[serde(default)]
    readonly_safe: bool,
    #[serde(default)]
    canned: BTreeMap<String, serde_json::Value>,
    #[serde(default)]
    fail: Option<CannedError>,
    #[serde(default)]
    #[allow(dead_code)]
    description: Option<String>,
}

fn yes() -> bool {
    true
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FieldSpec {
    name: String,
    #[serde(rename = "type")]
    ty: String,
    #[serde(default)]
    optional: bool,
    #[serde(default)]
    of: Option<String>,
    #[serde(default)]
    fields: Vec<FieldSpec>,
}

fn parse_type(ty: &str, of: Option<&str>, fields: &[FieldSpec]) -> Result<ArgType, String> {
    let lower = ty.trim().to_ascii_lowercase();
    Ok(match lower.as_str() {
        "integer" | "int" => ArgType::Integer,
        "string" | "bytes" => ArgType::String,
        "unicode" | "text" => ArgType::Unicode,
        "float" => ArgType::Float,
        "boolean" | "bool" => ArgType::Boolean,
        "decimal" => ArgType::Decimal,
        "datetime" => ArgType::DateTime,
        "path" => ArgType::Path,
        "amplist" => {
            if fields.is_empty() {
                return Err("amplist needs `fields`".into());
            }
            ArgType::AmpList(convert_fields(fields)?)
        }
        "listof" => {
            let inner = of.ok_or("listof needs `of`")?;
            list_of(parse_type(inner, None, &[])?)?
        }
        other => match other
            .strip_prefix("listof(")
            .and_then(|r| r.strip_suffix(')'))
        {
            Some(inner) => list_of(parse_type(inner, None, &[])?)?,
            None => return Err(format!("unknown type {ty:?}")),
        },
    })
}

fn list_of(inner: ArgType) -> Result<ArgType, String> {
    if matches!(inner, ArgType::ListOf(_) | ArgType::AmpList(_)) {
        return Err("listof elements must be a scalar type".into());
    }
    Ok(ArgType::ListOf(Box::new(inner)))
}

fn convert_fields(specs: &[FieldSpec]) -> Result<Vec<Field>, String> {
    let mut out: Vec<Field> = Vec::new();
    for s in specs {
        if s.name.is_empty() || s.name.len() > super::codec::MAX_KEY_LENGTH {
            return Err(format!("field name {:?} must be 1..=255 bytes", s.name));
        }
        if s.name.starts_with('_') {
            return Err(format!("field name {:?}: `_` keys are reserved", s.name));
        }
        if out.iter().any(|f| f.name == s.name) {
            return Err(format!("field {:?} declared twice", s.name));
        }
        let ty = parse_type(&s.ty, s.of.as_deref(), &s.fields)
            .map_err(|e| format!("field {:?}: {e}", s.name))?;
        out.push(Field {
            name: s.name.clone(),
            ty,
            optional: s.optional,
        });
    }
    Ok(out)
}

impl Catalog {
    /// An empty catalog.
    pub fn new() -> Self {
        Self::default()
    }

    /// Parses a TOML schema; `origin` names it in errors.
    pub fn from_toml(text: &str, origin: &str) -> Result<Catalog, Error> {
        let schema = |reason: String| Error::Schema {
            origin: origin.to_string(),
            reason,
        };
        let file: SchemaFile = toml::from_str(text).map_err(|e| schema(e.to_string()))?;
        let mut catalog = Catalog::new();
        for spec in file.command {
            let ctx = |e: String| schema(format!("command {:?}: {e}", spec.name));
            if spec.name.is_empty() || spec.name.len() > super::codec::MAX_VALUE_LENGTH {
                return Err(ctx("name must not be empty".into()));
            }
            if catalog.get(&spec.name).is_some() {
                return Err(ctx("declared twice".into()));
            }
            let command = Command {
                name: spec.name.clone(),
                arguments: convert_fields(&spec.arguments).map_err(ctx)?,
                response: convert_fields(&spec.response).map_err(ctx)?,
                errors: spec.errors,
                fatal_errors: spec.fatal_errors,
                requires_answer: spec.requires_answer,
                readonly_safe: spec.readonly_safe,
                canned: spec.canned,
                fail: spec.fail,
            };
            for (key, value) in &command.canned {
                let field = command
                    .response
                    .iter()
                    .find(|f| &f.name == key)
                    .ok_or_else(|| ctx(format!("canned value {key:?} is not a response key")))?;
                super::types::from_json(&field.ty, value)
                    .map_err(|e| ctx(format!("canned value {key:?}: {e}")))?;
            }
            catalog.insert(command);
        }
        Ok(catalog)
    }

    /// Reads and parses a TOML schema file.
    pub fn load(path: &Path) -> Result<Catalog, Error> {
        let text = std::fs::read_to_string(path).map_err(|e| Error::Schema {
            origin: path.display().to_string(),
            reason: e.to_string(),
        })?;
        Self::from_toml(&text, &path.display().to_string())
    }

    /// Adds or replaces a command.
    pub fn insert(&mut self, command: Command) {
        self.commands.insert(command.name.clone(), command);
    }

    /// Adds a Rust-defined command.
    pub fn with<C: CommandDef>(mut self) -> Self {
        self.insert(C::command());
        self
    }

    /// The command called `name` (case-sensitive, as on the wire).
    pub fn get(&self, name: &str) -> Option<&Command> {
        self.commands.get(name)
    }

    /// Commands sorted by name.
    pub fn iter(&self) -> impl Iterator<Item = &Command> {
        self.commands.values()
    }

    /// Number of commands.
    pub fn len(&self) -> usize {
        self.commands.len()
    }

    /// Whether the catalog is empty.
    pub fn is_empty(&self) -> bool {
        self.commands.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schema_types_parse() {
        let c = Catalog::from_toml(
            r#"
            [[command]]
            name = "T"
            readonly_safe = true
            arguments = [
              { name = "rows", type = "amplist", fields = [{ name = "n", type = "unicode" }] },
              { name = "xs", type = "listof", of = "float" },
              { name = "ys", type = "listof(boolean)", optional = true },
            ]
            response = [{ name = "total", type = "integer" }]
            canned = { total = 7 }
            "#,
            "test",
        )
        .unwrap();
        let t = c.get("T").unwrap();
        assert!(t.readonly_safe && t.requires_answer);
        assert_eq!(t.arguments[1].ty, ArgType::ListOf(Box::new(ArgType::Float)));
        assert!(t.arguments[2].optional);
    }

    #[test]
    fn schema_errors_name_the_command() {
        for bad in [
            r#"[[command]]
               name = "X"
               arguments = [{ name = "a", type = "nope" }]"#,
            r#"[[command]]
               name = "X"
               arguments = [{ name = "_ask", type = "integer" }]"#,
            r#"[[command]]
               name = "X"
               canned = { nothing = 1 }"#,
        ] {
            let err = Catalog::from_toml(bad, "s.toml").unwrap_err().to_string();
            assert!(err.contains("\"X\""), "{err}");
        }
    }
}
