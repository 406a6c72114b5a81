//! `tidepool amp …`: one-shot AMP calls from the command line.
//!
//! `tidepool amp call HOST:PORT COMMAND name=value… [--schema FILE] [--json]`
//! prints the answer box as YAML (default) or JSON. A remote `_error` prints
//! its code and description on stderr and exits 4.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;

use crate::cli::Global;
use crate::engine::amp::catalog::{Catalog, Command as Schema};
use crate::engine::amp::codec::AmpBox;
use crate::engine::amp::io::{self, CallOptions, NoCommands, Reply, TypedReply};
use crate::engine::amp::types::{self, Record};
use crate::engine::amp::{self as amp};
use crate::error::{Exit, Report};
use crate::net::transport::Target;

/// Subcommands of `tidepool amp`.
#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// Call one command and print its answer.
    Call(CallArgs),
    /// List the commands of a schema with their arguments.
    Commands(SchemaArgs),
}

/// Arguments of `tidepool amp commands`.
#[derive(Debug, clap::Args)]
pub struct SchemaArgs {
    /// TOML schema (default: `amp.schema` of the config file).
    #[arg(long, value_name = "FILE")]
    pub schema: Option<PathBuf>,
}

/// Arguments of `tidepool amp call`.
#[derive(Debug, clap::Args)]
pub struct CallArgs {
    /// `HOST:PORT`, `[V6]:PORT` or `unix:/path/to/socket`.
    pub target: String,
    /// Command name (case-sensitive).
    pub command: String,
    /// Arguments as `name=value`. With a schema, values are typed (ListOf and
    /// AmpList as JSON; `hex:` for bytes); without one they are sent as raw
    /// bytes.
    pub args: Vec<String>,
    /// TOML schema describing the command (default: `amp.schema` of the config file).
    #[arg(long, value_name = "FILE")]
    pub schema: Option<PathBuf>,
    /// Print the answer as JSON instead of YAML.
    #[arg(long)]
    pub json: bool,
    /// Give up after this many seconds.
    #[arg(long, value_name = "SECS", default_value_t = 10.0)]
    pub timeout: f64,
    /// TLS from the start.
    #[arg(long)]
    pub tls: bool,
    /// Upgrade with Twisted's in-band StartTLS command before calling.
    #[arg(long, conflicts_with = "tls")]
    pub starttls: bool,
    /// Trust only this CA (PEM) instead of the system roots.
    #[arg(long, value_name = "PEM")]
    pub ca: Option<PathBuf>,
    /// Do not verify the server certificate (encryption without authentication).
    #[arg(long)]
    pub insecure: bool,
    /// Name to verify the server certificate against (default: the host).
    #[arg(long, value_name = "NAME")]
    pub server_name: Option<String>,
    /// Client certificate chain (PEM) presented to a server that asks for one
    /// (mutual TLS; with --tls or --starttls).
    #[arg(long, value_name = "PEM", requires = "key", alias = "client-cert")]
    pub cert: Option<PathBuf>,
    /// Private key (PEM) of --cert.
    #[arg(long, value_name = "PEM", requires = "cert", alias = "client-key")]
    pub key: Option<PathBuf>,
}

/// Runs `tidepool amp`.
pub fn run(global: &Global, cmd: Command) -> Result<(), Report> {
    match cmd {
        Command::Call(args) => call(global, args),
        Command::Commands(args) => {
            let catalog = load_schema(global, args.schema.as_deref())?
                .ok_or_else(|| Report::usage("amp commands: give --schema FILE"))?;
            for c in catalog.iter() {
                let args: Vec<String> = c
                    .arguments
                    .iter()
                    .map(|f| format!("{}:{}{}", f.name, f.ty, if f.optional { "?" } else { "" }))
                    .collect();
                let flags = match (c.readonly_safe, c.requires_answer) {
                    (true, true) => " [readonly-safe]",
                    (true, false) => " [readonly-safe, no answer]",
                    (false, false) => " [no answer]",
                    (false, true) => "",
                };
                println!("{} {}{flags}", c.name, args.join(" "));
            }
            Ok(())
        }
    }
}

fn amp_report(e: amp::Error) -> Report {
    let exit = match e {
        amp::Error::Schema { .. }
        | amp::Error::Argument(_)
        | amp::Error::UnknownCommand(_)
        | amp::Error::Value { .. }
        | amp::Error::Codec(_) => Exit::Usage,
        _ => Exit::Failure,
    };
    Report::from_error(exit, &e)
}

/// Loads `--schema` or else the config file's `[amp] schema`.
pub fn load_schema(global: &Global, explicit: Option<&Path>) -> Result<Option<Catalog>, Report> {
    let path = match explicit {
        Some(p) => Some(p.to_path_buf()),
        None => schema_from_config(global),
    };
    match path {
        Some(p) => Catalog::load(&p).map(Some).map_err(amp_report),
        None => Ok(None),
    }
}

fn schema_from_config(global: &Global) -> Option<PathBuf> {
    let path = global.config.clone().or_else(|| {
        directories::ProjectDirs::from("", "", "tidepool")
            .map(|d| d.config_dir().join("config.toml"))
    })?;
    let text = std::fs::read_to_string(&path).ok()?;
    let value: toml::Table = toml::from_str(&text).ok()?;
    let schema = value.get("amp")?.get("schema")?.as_str()?;
    let schema = PathBuf::from(schema);
    // Relative paths are relative to the config file.
    Some(match (schema.is_relative(), path.parent()) {
        (true, Some(dir)) => dir.join(schema),
        _ => schema,
    })
}

/// Parses `name=value` pairs into raw or typed arguments.
fn build_args(schema: Option<&Schema>, pairs: &[String]) -> Result<AmpBox, amp::Error> {
    let mut raw = Vec::new();
    for p in pairs {
        let (k, v) = p
            .split_once('=')
            .ok_or_else(|| amp::Error::Argument(p.clone()))?;
        if k.is_empty() {
            return Err(amp::Error::Argument(p.clone()));
        }
        raw.push((k.to_string(), v.to_string()));
    }
    let Some(schema) = schema else {
        return Ok(raw
            .into_iter()
            .map(|(k, v)| (Bytes::from(k), Bytes::from(v)))
            .collect());
    };
    let mut record = Record::new();
    for (k, v) in raw {
        let field = schema
            .arguments
            .iter()
            .find(|f| f.name == k)
            .ok_or_else(|| amp::Error::Value {
                command: schema.name.clone(),
                source: types::ValueError {
                    ty: "argument".into(),
                    reason: format!("{k:?} is not an argument of {}", schema.name),
                },
            })?;
        let value = types::parse_text(&field.ty, &v).map_err(|source| amp::Error::Value {
            command: schema.name.clone(),
            source,
        })?;
        record.insert(k, value);
    }
    types::encode_fields(&schema.arguments, &record).map_err(|source| amp::Error::Value {
        command: schema.name.clone(),
        source,
    })
}

fn tls_client(args: &CallArgs, target: &Target) -> Result<Arc<rustls::ClientConfig>, Report> {
    use crate::net::tls::{client_config, Trust};
    let trust = match (&args.ca, args.insecure) {
        (_, true) => Trust::Insecure,
        (Some(ca), false) => Trust::CaFile(ca.clone()),
        (None, false) => Trust::System,
    };
    let _ = target;
    let client_cert = args.cert.as_deref().zip(args.key.as_deref());
    client_config(&trust, client_cert).map_err(|e| Report::from_error(Exit::Usage, &e))
}

fn call(global: &Global, args: CallArgs) -> Result<(), Report> {
    let catalog = load_schema(global, args.schema.as_deref())?;
    let schema = match &catalog {
        Some(c) => Some(
            c.get(&args.command)
                .ok_or_else(|| amp_report(amp::Error::UnknownCommand(args.command.clone())))?,
        ),
        None => None,
    };
    if global.readonly && !schema.is_some_and(|s| s.readonly_safe) {
        return Err(Report::readonly(&format!(
            "amp call {} (not marked readonly_safe in the schema)",
            args.command
        )));
    }
    let target: Target = args
        .target
        .parse()
        .map_err(|e: crate::net::transport::TargetError| Report::usage(e.to_string()))?;
    let request = build_args(schema, &args.args).map_err(amp_report)?;
    let timeout = Duration::try_from_secs_f64(args.timeout)
        .map_err(|_| Report::usage("--timeout: expected a positive number of seconds"))?;
    let server_name = args
        .server_name
        .clone()
        .unwrap_or_else(|| target.server_name().to_string());
    let tls = if args.tls || args.starttls {
        Some((tls_client(&args, &target)?, server_name))
    } else {
        None
    };
    crate::cli::logging::to_stderr();
    let runtime = crate::cli::runtime()?;
    runtime.block_on(async move {
        let opts = io::Options {
            connect_timeout: timeout,
            tls_client: if args.starttls { tls.clone() } else { None },
            ..io::Options::default()
        };
        let from_start = if args.tls { tls } else { None };
        let client = io::connect(&target, from_start, Arc::new(NoCommands), opts)
            .await
            .map_err(amp_report)?;
        if args.starttls {
            client.start_tls().await.map_err(amp_report)?;
        }
        let requires_answer = schema.is_none_or(|s| s.requires_answer);
        let reply = client
            .start_call(
                &args.command,
                request,
                requires_answer,
                CallOptions {
                    timeout: Some(timeout),
                },
            )
            .await
            .map_err(amp_report)?
            .await
            .map_err(amp_report)?;
        client.close().await;
        if !requires_answer {
            return Ok(());
        }
        let reply = match (schema, reply) {
            (Some(s), Reply::Answer(fields)) => TypedReply::Answer(
                types::decode_fields(&s.response, &fields).map_err(|source| {
                    Report::from_error(
                        Exit::Failure,
                        &amp::Error::Value {
                            command: s.name.clone(),
                            source,
                        },
                    )
                    .context("decoding the answer")
                })?,
            ),
            (None, Reply::Answer(fields)) => {
                let json = raw_json(&fields);
                print_json(&json, args.json);
                return Ok(());
            }
            (_, Reply::Remote { code, description }) => TypedReply::Remote { code, description },
        };
        match reply {
            TypedReply::Answer(record) => {
                let json = serde_json::Value::Object(
                    record
                        .iter()
                        .map(|(k, v)| (k.clone(), types::to_json(v)))
                        .collect(),
                );
                print_json(&json, args.json);
                Ok(())
            }
            TypedReply::Remote { code, description } => Err(Report::remote(format!(
                "amp {} on {}: remote error {code}: {description}",
                args.command, args.target
            ))),
        }
    })
}

fn raw_json(b: &AmpBox) -> serde_json::Value {
    serde_json::Value::Object(
        b.iter()
            .map(|(k, v)| {
                (
                    types::bytes_text(k),
                    serde_json::Value::String(types::bytes_text(v)),
                )
            })
            .collect(),
    )
}

fn print_json(v: &serde_json::Value, json: bool) {
    if json {
        println!("{v}");
    } else {
        let mut out = String::new();
        yaml(v, 0, &mut out);
        if out.is_empty() {
            out.push_str("{}\n");
        }
        print!("{out}");
    }
}

/// A plain scalar when YAML reads it back as the same string, else a JSON
/// (= YAML double-quoted) string.
fn yaml_scalar(v: &serde_json::Value) -> String {
    match v {
        serde_json::Value::String(s) => {
            let plain = !s.is_empty()
                && s.chars()
                    .all(|c| c.is_alphanumeric() || matches!(c, '_' | '-' | '.' | '/' | ' '))
                && !s.starts_with(['-', ' ', '.'])
                && !s.ends_with(' ')
                && s.parse::<f64>().is_err()
                && !matches!(
                    s.to_ascii_lowercase().as_str(),
                    "true" | "false" | "yes" | "no" | "null" | "on" | "off" | "~" | "nan" | "inf"
                );
            if plain {
                s.clone()
            } else {
                v.to_string()
            }
        }
        other => other.to_string(),
    }
}

fn yaml(v: &serde_json::Value, indent: usize, out: &mut String) {
    let pad = " ".repeat(indent);
    match v {
        serde_json::Value::Object(map) => {
            for (k, val) in map {
                let key = yaml_scalar(&serde_json::Value::String(k.clone()));
                match val {
                    serde_json::Value::Object(m) if !m.is_empty() => {
                        out.push_str(&format!("{pad}{key}:\n"));
                        yaml(val, indent + 2, out);
                    }
                    serde_json::Value::Array(a) if !a.is_empty() => {
                        out.push_str(&format!("{pad}{key}:\n"));
                        yaml(val, indent, out);
                    }
                    serde_json::Value::Object(_) => out.push_str(&format!("{pad}{key}: {{}}\n")),
                    serde_json::Value::Array(_) => out.push_str(&format!("{pad}{key}: []\n")),
                    scalar => out.push_str(&format!("{pad}{key}: {}\n", yaml_scalar(scalar))),
                }
            }
        }
        serde_json::Value::Array(items) => {
            for item in items {
                match item {
                    serde_json::Value::Object(m) if !m.is_empty() => {
                        let mut inner = String::new();
                        yaml(item, indent + 2, &mut inner);
                        // The first key goes on the dash line.
                        let trimmed = inner.trim_start_matches(' ');
                        out.push_str(&format!("{pad}- {trimmed}"));
                    }
                    serde_json::Value::Array(a) if !a.is_empty() => {
                        out.push_str(&format!("{pad}-\n"));
                        yaml(item, indent + 2, out);
                    }
                    scalar => out.push_str(&format!("{pad}- {}\n", yaml_scalar(scalar))),
                }
            }
        }
        scalar => out.push_str(&format!("{pad}{}\n", yaml_scalar(scalar))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn yaml_output_quotes_ambiguous_strings() {
        let v = serde_json::json!({
            "total": 94, "text": "h\u{e9}llo", "flag": "true", "empty": "",
            "names": ["a", "b"], "rows": [{"name": "a", "value": 1}]
        });
        let mut out = String::new();
        yaml(&v, 0, &mut out);
        assert!(out.contains("total: 94\n"), "{out}");
        assert!(out.contains("flag: \"true\"\n"), "{out}");
        assert!(out.contains("empty: \"\"\n"), "{out}");
        assert!(out.contains("names:\n- a\n- b\n"), "{out}");
        assert!(out.contains("rows:\n- name: a\n  value: 1\n"), "{out}");
    }

    #[test]
    fn raw_args_without_schema_and_typed_with() {
        let b = build_args(None, &["a=13".into(), "b=x=y".into()]).unwrap();
        assert_eq!(b.get(b"b").unwrap().as_ref(), b"x=y");
        assert!(build_args(None, &["novalue".into()]).is_err());
        let cat = Catalog::from_toml(
            r#"[[command]]
               name = "Sum"
               arguments = [{ name = "a", type = "integer" }, { name = "b", type = "integer" }]"#,
            "t",
        )
        .unwrap();
        let s = cat.get("Sum").unwrap();
        let b = build_args(Some(s), &["a=+013".into(), "b=1".into()]).unwrap();
        assert_eq!(b.get(b"a").unwrap().as_ref(), b"13");
        assert!(build_args(Some(s), &["a=two".into(), "b=1".into()]).is_err());
        assert!(build_args(Some(s), &["a=1".into()]).is_err());
    }
}
