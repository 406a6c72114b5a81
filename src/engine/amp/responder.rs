//! Responders built from a catalog (amp spec section 4): typed decoding of
//! arguments (a parse failure is `UNKNOWN`, as in Twisted), declared versus
//! undeclared errors, and the canned/echo responder of `tidepool serve --amp`.

use std::collections::HashMap;
use std::sync::Arc;

use bytes::Bytes;

use super::catalog::{Catalog, Command};
use super::io::{BoxFuture, Client, Responder};
use super::protocol::{Outcome, Request};
use super::types::{self, ArgType, DateTime, Decimal, DecimalKind, Integer, Record, Value};

/// A failure a typed handler reports; declared codes become `_error` boxes,
/// others `UNKNOWN` (spec section 4.2).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppError {
    /// Error code.
    pub code: String,
    /// Description.
    pub description: String,
}

impl AppError {
    /// A new application error.
    pub fn new(code: impl Into<String>, description: impl Into<String>) -> Self {
        Self {
            code: code.into(),
            description: description.into(),
        }
    }
}

/// A typed handler: decoded arguments in, response fields or an error out.
pub type Handler =
    Arc<dyn Fn(Client, Record) -> BoxFuture<Result<Record, AppError>> + Send + Sync + 'static>;

/// Maps a handler result to the outcome the command's schema implies.
pub fn outcome_for(command: &Command, result: Result<Record, AppError>) -> Outcome {
    match result {
        Ok(record) => match types::encode_fields(&command.response, &record) {
            Ok(b) => Outcome::Answer(b),
            Err(e) => {
                tracing::warn!(command = %command.name, error = %e, "responder returned a bad answer");
                Outcome::Unknown
            }
        },
        Err(e) if command.errors.contains(&e.code) => Outcome::Error {
            code: e.code,
            description: e.description,
            fatal: false,
        },
        Err(e) if command.is_fatal(&e.code) => Outcome::Error {
            code: e.code,
            description: e.description,
            fatal: true,
        },
        Err(e) => {
            tracing::warn!(command = %command.name, code = %e.code, "undeclared error answered as UNKNOWN");
            Outcome::Unknown
        }
    }
}

/// Decodes a request's arguments by its schema; `Err` carries the outcome to
/// send (`UNHANDLED` for an unknown name, `UNKNOWN` for a parse failure).
pub fn decode_request<'c>(
    catalog: &'c Catalog,
    request: &Request,
) -> Result<(&'c Command, Record), Outcome> {
    let Some(command) = std::str::from_utf8(&request.command)
        .ok()
        .and_then(|n| catalog.get(n))
    else {
        return Err(Outcome::Unhandled);
    };
    match types::decode_fields(&command.arguments, &request.args) {
        Ok(record) => Ok((command, record)),
        Err(e) => {
            tracing::info!(command = %command.name, error = %e, "unparsable request");
            Err(Outcome::Unknown)
        }
    }
}

/// A responder dispatching schema commands to Rust handlers.
#[derive(Clone, Default)]
pub struct Typed {
    catalog: Arc<Catalog>,
    handlers: HashMap<String, Handler>,
}

impl Typed {
    /// A responder for `catalog` with no handlers yet.
    pub fn new(catalog: Catalog) -> Self {
        Self {
            catalog: Arc::new(catalog),
            handlers: HashMap::new(),
        }
    }

    /// Registers the handler of `command`.
    pub fn on<F, Fut>(mut self, command: &str, f: F) -> Self
    where
        F: Fn(Client, Record) -> Fut + Send + Sync + 'static,
        Fut: std::future::Future<Output = Result<Record, AppError>> + Send + 'static,
    {
        let f = Arc::new(f);
        self.handlers.insert(
            command.to_string(),
            Arc::new(move |c, r| {
                let f = f.clone();
                Box::pin(async move { f(c, r).await })
            }),
        );
        self
    }
}

impl Responder for Typed {
    fn respond(&self, caller: Client, request: Request) -> BoxFuture<Outcome> {
        let (command, record) = match decode_request(&self.catalog, &request) {
            Ok(x) => x,
            Err(outcome) => return Box::pin(async move { outcome }),
        };
        let Some(handler) = self.handlers.get(&command.name).cloned() else {
            return Box::pin(async { Outcome::Unhandled });
        };
        let command = command.clone();
        Box::pin(async move {
            let result = handler(caller, record).await;
            outcome_for(&command, result)
        })
    }
}

/// The responder of `tidepool serve --amp`: answers every schema command with
/// its `canned` values, echoing arguments of the same name and type otherwise,
/// and a zero value of the type for anything else; `fail` answers an error.
#[derive(Debug, Clone)]
pub struct Canned {
    catalog: Arc<Catalog>,
}

impl Canned {
    /// A canned responder for `catalog`.
    pub fn new(catalog: Catalog) -> Self {
        Self {
            catalog: Arc::new(catalog),
        }
    }

    /// The outcome for one request (sans-IO).
    pub fn outcome(&self, request: &Request) -> Outcome {
        let (command, args) = match decode_request(&self.catalog, request) {
            Ok(x) => x,
            Err(o) => return o,
        };
        if let Some(fail) = &command.fail {
            return Outcome::Error {
                code: fail.code.clone(),
                description: fail.description.clone(),
                fatal: fail.fatal,
            };
        }
        let mut out = Record::new();
        for field in &command.response {
            let value = match command.canned.get(&field.name) {
                // Checked when the schema was loaded.
                Some(json) => types::from_json(&field.ty, json).ok(),
                None => args
                    .get(&field.name)
                    .filter(|_| {
                        command
                            .arguments
                            .iter()
                            .any(|a| a.name == field.name && a.ty == field.ty)
                    })
                    .cloned(),
            };
            match value {
                Some(v) => {
                    out.insert(field.name.clone(), v);
                }
                None if field.optional => {}
                None => {
                    out.insert(field.name.clone(), zero(&field.ty));
                }
            }
        }
        outcome_for(command, Ok(out))
    }
}

impl Responder for Canned {
    fn respond(&self, _caller: Client, request: Request) -> BoxFuture<Outcome> {
        let outcome = self.outcome(&request);
        Box::pin(async move { outcome })
    }
}

/// A neutral value of a type, for responses neither canned nor echoed.
pub fn zero(ty: &ArgType) -> Value {
    match ty {
        ArgType::Integer => Value::Integer(Integer::from(0)),
        ArgType::String => Value::Bytes(Bytes::new()),
        ArgType::Unicode => Value::Unicode(String::new()),
        ArgType::Path => Value::Path(String::new()),
        ArgType::Float => Value::Float(0.0),
        ArgType::Boolean => Value::Boolean(false),
        ArgType::Decimal => Value::Decimal(Decimal {
            negative: false,
            kind: DecimalKind::Finite {
                coefficient: "0".into(),
                exponent: 0,
            },
        }),
        ArgType::DateTime => Value::DateTime(DateTime {
            year: 1970,
            month: 1,
            day: 1,
            hour: 0,
            minute: 0,
            second: 0,
            microsecond: 0,
            offset_minutes: 0,
        }),
        ArgType::ListOf(_) => Value::List(Vec::new()),
        ArgType::AmpList(_) => Value::Records(Vec::new()),
    }
}
