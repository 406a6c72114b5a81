//! The Calls view's part of `--demo` and of the screenshot fixture: an
//! in-process AMP server answering `schemas/interop.toml` with the canned
//! responder and a simpy.io server with the mock methods, both on loopback
//! port 0, each with a target sending a little background traffic.

use std::sync::Arc;
use std::time::Duration;

use crate::engine::amp::catalog::Catalog;
use crate::engine::amp::io::{self as amp_io, Counters};
use crate::engine::amp::responder::Canned;
use crate::engine::simpyio::io as rpc_io;
use crate::engine::simpyio::mock;
use crate::net::server;
use crate::net::shutdown::Shutdown;
use crate::net::transport::Listener;
use crate::tui::app::App;
use crate::tui::calls::source::{self, Spec};
use crate::tui::calls::{form, Calls, CallsEvent, CommandInfo, Outcome, Request, DEFAULT_TIMEOUT};
use crate::tui::source::SourceState;

/// The interop peer's schema, embedded so the demo needs no files.
pub const INTEROP_SCHEMA: &str = include_str!("../../../schemas/interop.toml");

/// simpy.io methods of the mock server; none changes anything, so all may be
/// called under `--readonly`.
pub const RPC_METHODS: &[&str] = &[
    "echo", "add", "greet", "math/mul", "delay", "fail", "callback",
];

/// Starts both demo servers on 127.0.0.1 port 0 and returns their targets
/// (with background traffic on). Servers stop with `shutdown`.
pub async fn start(shutdown: &Shutdown) -> Result<Vec<Spec>, String> {
    let catalog =
        Catalog::from_toml(INTEROP_SCHEMA, "schemas/interop.toml").map_err(|e| e.to_string())?;
    let loopback = std::net::SocketAddr::from(([127, 0, 0, 1], 0));

    let amp = Listener::bind_tcp(loopback)
        .await
        .map_err(|e| format!("demo amp server: {e}"))?;
    let amp_addr = amp.local_addr().map_err(|e| e.to_string())?.to_string();
    tokio::spawn(amp_io::serve(
        amp,
        shutdown.child(),
        server::Options::new("amp"),
        Arc::new(Canned::new(catalog.clone())),
        amp_io::Options::default(),
        Arc::new(Counters::default()),
    ));

    let rpc = Listener::bind_tcp(loopback)
        .await
        .map_err(|e| format!("demo simpy.io server: {e}"))?;
    let rpc_addr = rpc.local_addr().map_err(|e| e.to_string())?.to_string();
    tokio::spawn(rpc_io::serve(
        rpc,
        shutdown.child(),
        server::Options::new("rpc"),
        Arc::new(mock::server()),
        rpc_io::Options::default(),
    ));
    tracing::info!("demo AMP server on {amp_addr}, demo simpy.io server on {rpc_addr}");

    let methods: Vec<(String, bool)> = RPC_METHODS.iter().map(|m| (m.to_string(), true)).collect();
    let mut a = source::spec(
        "amp",
        &amp_addr,
        Some("demo-amp".into()),
        catalog,
        &[],
        DEFAULT_TIMEOUT,
    )?;
    let mut r = source::spec(
        "rpc",
        &rpc_addr,
        Some("demo-rpc".into()),
        Catalog::new(),
        &methods,
        DEFAULT_TIMEOUT,
    )?;
    a.demo_traffic = true;
    r.demo_traffic = true;
    Ok(vec![a, r])
}

/// The Calls part of the screenshot fixture: three targets and a history with
/// an answer, an AMP error, a simpy.io failure, a timeout and a pending call.
pub fn install_fixture(app: &mut App, now: f64) {
    let catalog = Catalog::from_toml(INTEROP_SCHEMA, "schemas/interop.toml").unwrap_or_default();
    let methods: Vec<(String, bool)> = RPC_METHODS.iter().map(|m| (m.to_string(), true)).collect();
    let specs = [
        source::spec(
            "amp",
            "10.0.4.17:7001",
            Some("billing".into()),
            catalog.clone(),
            &[],
            DEFAULT_TIMEOUT,
        ),
        source::spec(
            "amp",
            "inventory.lab:7001",
            Some("inventory".into()),
            catalog,
            &[],
            DEFAULT_TIMEOUT,
        ),
        source::spec(
            "rpc",
            "127.0.0.1:5555",
            Some("mosaik-sim".into()),
            Catalog::new(),
            &methods,
            DEFAULT_TIMEOUT,
        ),
    ];
    let targets = specs
        .into_iter()
        .filter_map(Result::ok)
        .map(|s| s.info)
        .collect();
    let mut calls = Calls::new(targets);
    let states = [
        SourceState::Up { tls: false },
        SourceState::Retry {
            in_secs: 4,
            error: "connection refused (os error 111)".into(),
        },
        SourceState::Up { tls: false },
    ];
    for (i, s) in states.into_iter().enumerate() {
        calls.on_event(
            CallsEvent::State {
                target: i,
                state: s,
            },
            now,
        );
    }
    let amp = |c: &Calls, name: &str, values: &[&str]| -> Option<Request> {
        let cmd = c
            .targets
            .first()?
            .commands
            .iter()
            .find(|x| x.name() == name)?
            .clone();
        let v: Vec<String> = values.iter().map(|s| s.to_string()).collect();
        form::build(&cmd, &v).ok()
    };
    let rpc = |path: &str, args: &str| {
        form::build(
            &CommandInfo::Rpc {
                path: String::new(),
                readonly_safe: true,
            },
            &[path.to_string(), args.to_string(), String::new()],
        )
        .ok()
    };
    let script: Vec<(usize, Option<Request>, f64, Option<Outcome>)> = vec![
        (0, amp(&calls, "Sum", &["17", "25"]), 1.92, Some(Outcome::Answer(vec![("total".into(), "42".into())]))),
        (2, rpc("math/mul", "[6, 7]"), 0.84, Some(Outcome::Answer(vec![("result".into(), "42".into())]))),
        (0, amp(&calls, "Divide", &["1", "0"]), 2.31, Some(Outcome::Remote {
            code: "ZERO_DIVISION".into(),
            description: "division by zero".into(),
        })),
        (2, rpc("fail", "[\"bad step\"]"), 1.07, Some(Outcome::Remote {
            code: "FAILURE".into(),
            description: "Traceback (most recent call last):\n  File \"simpy/io/rpc.py\", line 85, in dispatch\nValueError: bad step".into(),
        })),
        (0, amp(&calls, "Echo", &["hello"]), 1.55, Some(Outcome::Answer(vec![("text".into(), "hello".into())]))),
        (1, amp(&calls, "Ask", &["operator"]), 0.0, Some(Outcome::Failed {
            kind: super::FailKind::Timeout,
            text: "no answer within 10.0 s".into(),
        })),
        (2, rpc("greet", "[\"operator\"]"), 0.97, Some(Outcome::Answer(vec![("result".into(), "\"hi operator!\"".into())]))),
        (2, rpc("delay", "[30, \"late\"]"), 0.0, None),
    ];
    for (i, (target, request, ms, outcome)) in script.into_iter().enumerate() {
        let Some(request) = request else { continue };
        let seq = 100 + i as u64;
        let at = now - 40.0 + i as f64 * 5.0;
        calls.on_event(
            CallsEvent::Started {
                target,
                seq,
                request,
            },
            at,
        );
        if let Some(outcome) = outcome {
            calls.on_event(
                CallsEvent::Finished {
                    target,
                    seq,
                    latency: Duration::from_secs_f64(ms / 1e3),
                    outcome,
                },
                at,
            );
        }
    }
    // 60 s of pre-baked calls/s
    for (i, st) in calls.state.iter_mut().enumerate() {
        for t in 0..60u64 {
            let v = match i {
                0 => 3 + (t * 7 % 5),
                1 => 0,
                _ => 1 + (t * 3 % 4),
            };
            st.rate.push(v);
        }
    }
    calls.sel_command = 0;
    calls.next_seq = 200;
    app.calls = calls;
}
