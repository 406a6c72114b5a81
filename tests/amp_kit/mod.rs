//! The interop kit's commands implemented in Rust (tests/peers/amp/server.py's
//! behaviour), shared by the loopback and interop tests.
#![allow(dead_code)]

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use tidepool::engine::amp::catalog::Catalog;
use tidepool::engine::amp::io::{self, Client, Counters, Responder, TypedReply};
use tidepool::engine::amp::responder::{AppError, Typed};
use tidepool::engine::amp::types::{Integer, Record, Value};
use tidepool::net::server;
use tidepool::net::shutdown::Shutdown;
use tidepool::net::transport::{Listener, LocalAddr, Target};
use tokio::sync::mpsc;

pub fn catalog() -> Catalog {
    Catalog::load(&Path::new(env!("CARGO_MANIFEST_DIR")).join("schemas/interop.toml"))
        .expect("schema")
}

fn int(r: &Record, k: &str) -> Result<i64, AppError> {
    match r.get(k) {
        Some(Value::Integer(i)) => i
            .as_i64()
            .ok_or_else(|| AppError::new("OVERFLOW", "too big")),
        _ => Err(AppError::new("BAD", "missing")),
    }
}

fn text(r: &Record, k: &str) -> String {
    match r.get(k) {
        Some(Value::Unicode(s)) => s.clone(),
        _ => String::new(),
    }
}

fn one(k: &str, v: Value) -> Record {
    [(k.to_string(), v)].into_iter().collect()
}

/// Server side of the kit. `logs` receives every `Log` message.
pub fn server_responder(logs: mpsc::UnboundedSender<String>) -> Typed {
    let cat = catalog();
    let greet = cat.get("ClientGreet").cloned().expect("ClientGreet");
    Typed::new(cat)
        .on("Sum", |_, r| async move {
            Ok(one(
                "total",
                Value::Integer(Integer::from(int(&r, "a")? + int(&r, "b")?)),
            ))
        })
        .on("Echo", |_, r| async move {
            Ok(one("text", Value::Unicode(text(&r, "text"))))
        })
        .on("Divide", |_, r| async move {
            let d = int(&r, "denominator")?;
            if d == 0 {
                return Err(AppError::new("ZERO_DIVISION", "division by zero"));
            }
            Ok(one(
                "result",
                Value::Float(int(&r, "numerator")? as f64 / d as f64),
            ))
        })
        .on("Tabulate", |_, r| async move {
            let Some(Value::Records(rows)) = r.get("rows") else {
                return Err(AppError::new("BAD", "rows"));
            };
            let names = rows
                .iter()
                .map(|row| Value::Unicode(text(row, "name")))
                .collect();
            let mut total = 0;
            for row in rows {
                total += int(row, "value")?;
            }
            let mut out = one("names", Value::List(names));
            out.insert("total".into(), Value::Integer(Integer::from(total)));
            Ok(out)
        })
        .on("Types", |_, r| async move { Ok(r) })
        .on("Log", move |_, r| {
            let logs = logs.clone();
            async move {
                let _ = logs.send(text(&r, "message"));
                Ok(Record::new())
            }
        })
        .on("Shutdown", |_, _| async move {
            Err(AppError::new("FATAL_SHUTDOWN", "asked to shut down"))
        })
        .on("Ask", move |caller: Client, r| {
            let greet = greet.clone();
            async move {
                let reply = caller
                    .call_typed(
                        &greet,
                        &one("name", Value::Unicode(text(&r, "name"))),
                        Default::default(),
                    )
                    .await
                    .map_err(|e| AppError::new("CALLBACK", e.to_string()))?;
                match reply {
                    TypedReply::Answer(a) => Ok(one(
                        "reply",
                        Value::Unicode(format!("client said: {}", text(&a, "greeting"))),
                    )),
                    TypedReply::Remote { code, description } => {
                        Err(AppError::new(code, description))
                    }
                }
            }
        })
}

/// Client side of the kit: answers `ClientGreet`.
pub fn client_responder() -> Typed {
    Typed::new(catalog()).on("ClientGreet", |_, r| async move {
        Ok(one(
            "greeting",
            Value::Unicode(format!("hello {}", text(&r, "name"))),
        ))
    })
}

/// A running kit server on 127.0.0.1:0.
pub struct KitServer {
    pub shutdown: Shutdown,
    pub target: Target,
    pub counters: Arc<Counters>,
    pub logs: mpsc::UnboundedReceiver<String>,
}

pub async fn start_server(
    responder: Option<Arc<dyn Responder>>,
    opts: io::Options,
    tls: Option<Arc<rustls::ServerConfig>>,
) -> KitServer {
    let listener = Listener::bind_tcp("127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    let LocalAddr::Tcp(addr) = listener.local_addr().unwrap() else {
        unreachable!()
    };
    let (tx, logs) = mpsc::unbounded_channel();
    let responder = responder.unwrap_or_else(|| Arc::new(server_responder(tx)));
    let shutdown = Shutdown::new();
    let counters = Arc::new(Counters::default());
    let server_opts = server::Options {
        tls,
        ..server::Options::new("amp")
    };
    shutdown.spawn(io::serve(
        listener,
        shutdown.clone(),
        server_opts,
        responder,
        opts,
        counters.clone(),
    ));
    KitServer {
        shutdown,
        target: Target::Tcp {
            host: "127.0.0.1".into(),
            port: addr.port(),
        },
        counters,
        logs,
    }
}

/// Polls `cond` until true or the deadline passes.
pub async fn eventually(what: &str, mut cond: impl FnMut() -> bool) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while !cond() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// Whether the Python interop peer is usable; prints the skip line otherwise
/// and panics when TIDEPOOL_REQUIRE_INTEROP=1.
pub fn python(test: &str) -> Option<String> {
    python_with(test, "twisted.protocols.amp")
}

/// Like [`python`], also requiring pyOpenSSL (Twisted's TLS, `twisted[tls]`).
pub fn python_tls(test: &str) -> Option<String> {
    python_with(test, "twisted.protocols.amp, OpenSSL, service_identity")
}

fn python_with(test: &str, modules: &str) -> Option<String> {
    let python = std::env::var("TIDEPOOL_PYTHON").unwrap_or_else(|_| {
        let venv = Path::new(env!("CARGO_MANIFEST_DIR")).join(".venv/bin/python");
        if venv.exists() {
            venv.display().to_string()
        } else {
            "python3".into()
        }
    });
    let ok = std::process::Command::new(&python)
        .args(["-c", &format!("import {modules}")])
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false);
    if ok {
        return Some(python);
    }
    let reason = format!("python modules {modules} not found via {python}");
    if std::env::var("TIDEPOOL_REQUIRE_INTEROP").as_deref() == Ok("1") {
        panic!("{test}: {reason} and TIDEPOOL_REQUIRE_INTEROP=1");
    }
    eprintln!("skipping {test}: {reason}");
    None
}
