//! The bridge between the Calls view and the engines: one task per target owns
//! its `AmpHandle` or `RpcHandle`, takes [`CallsCmd`]s from a bounded channel,
//! turns the handle's events into [`CallsEvent`]s on a shared bounded channel
//! (`try_send`, drops counted), and reconnects with a backoff when the
//! connection goes down. The console never awaits any of this.

use std::collections::HashMap;
use std::str::FromStr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use serde::Deserialize;
use tokio::sync::mpsc;

use crate::engine::amp::catalog::Catalog;
use crate::engine::amp::handle::{AmpHandle, Event as AmpEvent, HandleOptions};
use crate::engine::amp::io::Reply as AmpReply;
use crate::engine::amp::types;
use crate::engine::simpyio::handle::RpcHandle;
use crate::engine::simpyio::io::{Notice, Options as RpcOptions};
use crate::engine::simpyio::protocol::Reply as RpcReply;
use crate::net::shutdown::Shutdown;
use crate::net::transport::Target;
use crate::tui::calls::{
    form, CallsCmd, CallsEvent, CommandInfo, FailKind, Kind, Outcome, Request, TargetInfo,
    DEFAULT_TIMEOUT,
};
use crate::tui::source::{SourceState, CMD_CAP, EVENT_CAP};

/// Call numbers of the bridge's own (demo) calls start here, clear of the
/// console's.
pub const BRIDGE_SEQ_BASE: u64 = 1 << 48;

/// The console side: one bounded command sender per target, one event receiver.
#[derive(Debug)]
pub struct Link {
    /// Per-target command senders (`try_send` only).
    pub targets: Vec<mpsc::Sender<CallsCmd>>,
    /// Events from every target.
    pub events: mpsc::Receiver<CallsEvent>,
    /// Events the console did not take in time.
    pub dropped: Arc<AtomicU64>,
}

impl Link {
    /// A link with no targets (tests, benchmarks).
    pub fn none() -> Link {
        let (_tx, events) = mpsc::channel(1);
        Link {
            targets: Vec::new(),
            events,
            dropped: Arc::new(AtomicU64::new(0)),
        }
    }

    /// Queues `cmd` for its target; a full queue is "engine busy".
    pub fn send(&self, cmd: CallsCmd) -> Result<(), String> {
        let what = cmd.describe();
        match self.targets.get(cmd.target()) {
            Some(tx) => tx.try_send(cmd).map_err(|e| match e {
                mpsc::error::TrySendError::Full(_) => format!("engine busy: {what} not sent"),
                mpsc::error::TrySendError::Closed(_) => format!("target gone: {what} not sent"),
            }),
            None => Err(format!("no such target: {what}")),
        }
    }
}

/// A target to connect to.
#[derive(Debug, Clone)]
pub struct Spec {
    /// What the console shows.
    pub info: TargetInfo,
    /// Where to connect.
    pub target: Target,
    /// The AMP schema (AMP targets).
    pub catalog: Catalog,
    /// Send a little background traffic (`--demo`).
    pub demo_traffic: bool,
    /// TLS from the start: client config and the name the certificate must carry.
    pub tls: Option<(Arc<rustls::ClientConfig>, String)>,
}

/// `[[targets]]` entries of the console config.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct TargetConfig {
    kind: String,
    addr: String,
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    schema: Option<std::path::PathBuf>,
    #[serde(default)]
    timeout_secs: Option<f64>,
    #[serde(default)]
    methods: Vec<MethodConfig>,
    /// TLS from the start.
    #[serde(default)]
    tls: bool,
    /// CA file to trust instead of the system roots.
    #[serde(default)]
    ca: Option<std::path::PathBuf>,
    /// Name the server certificate must carry (default: the host).
    #[serde(default)]
    server_name: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct MethodConfig {
    path: String,
    #[serde(default)]
    readonly_safe: bool,
}

/// Parses the config's `targets` (entries of other kinds, such as pool
/// servers, are left to their views) and adds `--amp` / `--rpc` flags.
/// Returns the targets and one warning per bad entry.
pub fn specs(
    config: &[toml::Value],
    amp_flags: &[String],
    rpc_flags: &[String],
    schema: Option<&std::path::Path>,
) -> (Vec<Spec>, Vec<String>) {
    let mut out = Vec::new();
    let mut warnings = Vec::new();
    let flag_catalog = match schema.map(Catalog::load) {
        Some(Ok(c)) => c,
        Some(Err(e)) => {
            warnings.push(e.to_string());
            Catalog::new()
        }
        None => Catalog::new(),
    };
    for v in config {
        let kind = v.get("kind").and_then(|k| k.as_str()).unwrap_or("");
        if kind != "amp" && kind != "rpc" {
            continue;
        }
        let cfg: TargetConfig = match v.clone().try_into() {
            Ok(c) => c,
            Err(e) => {
                warnings.push(format!("config targets: {e}"));
                continue;
            }
        };
        let catalog = match &cfg.schema {
            Some(p) => match Catalog::load(p) {
                Ok(c) => c,
                Err(e) => {
                    warnings.push(e.to_string());
                    Catalog::new()
                }
            },
            None => flag_catalog.clone(),
        };
        let timeout = cfg
            .timeout_secs
            .filter(|t| t.is_finite() && *t > 0.0 && *t < 86_400.0)
            .map(Duration::from_secs_f64)
            .unwrap_or(DEFAULT_TIMEOUT);
        let methods: Vec<(String, bool)> = cfg
            .methods
            .iter()
            .map(|m| (m.path.clone(), m.readonly_safe))
            .collect();
        match spec(&cfg.kind, &cfg.addr, cfg.name, catalog, &methods, timeout) {
            Ok(mut s) if cfg.tls => {
                let trust = match &cfg.ca {
                    Some(ca) => crate::net::tls::Trust::CaFile(ca.clone()),
                    None => crate::net::tls::Trust::System,
                };
                match crate::net::tls::client_config(&trust, None) {
                    Ok(c) => {
                        let name = cfg
                            .server_name
                            .clone()
                            .unwrap_or_else(|| s.target.server_name().to_string());
                        s.info.tls = true;
                        s.tls = Some((c, name));
                        out.push(s);
                    }
                    Err(e) => warnings.push(format!("target {:?}: tls: {e}", cfg.addr)),
                }
            }
            Ok(s) => out.push(s),
            Err(e) => warnings.push(e),
        }
    }
    for a in amp_flags {
        match spec("amp", a, None, flag_catalog.clone(), &[], DEFAULT_TIMEOUT) {
            Ok(s) => out.push(s),
            Err(e) => warnings.push(e),
        }
    }
    for a in rpc_flags {
        match spec("rpc", a, None, Catalog::new(), &[], DEFAULT_TIMEOUT) {
            Ok(s) => out.push(s),
            Err(e) => warnings.push(e),
        }
    }
    (out, warnings)
}

/// One target from its parts; `methods` are simpy.io paths with their
/// readonly-safe flag.
pub fn spec(
    kind: &str,
    addr: &str,
    name: Option<String>,
    catalog: Catalog,
    methods: &[(String, bool)],
    timeout: Duration,
) -> Result<Spec, String> {
    let target = Target::from_str(addr).map_err(|e| format!("target {addr:?}: {e}"))?;
    let (kind, commands) = match kind {
        "amp" => (Kind::Amp, CommandInfo::from_catalog(&catalog)),
        "rpc" => {
            let mut v: Vec<CommandInfo> = methods
                .iter()
                .map(|(p, safe)| CommandInfo::Rpc {
                    path: p.trim_matches('/').to_string(),
                    readonly_safe: *safe,
                })
                .collect();
            v.push(CommandInfo::Rpc {
                path: String::new(),
                readonly_safe: false,
            });
            (Kind::Rpc, v)
        }
        other => {
            return Err(format!(
                "target {addr:?}: unknown kind {other:?} (amp, rpc)"
            ))
        }
    };
    Ok(Spec {
        info: TargetInfo {
            name: name.unwrap_or_else(|| target.to_string()),
            kind,
            addr: target.to_string(),
            tls: false,
            timeout,
            commands,
        },
        target,
        catalog,
        demo_traffic: false,
        tls: None,
    })
}

/// Starts one bridge task per spec (inside a tokio runtime); `shutdown` ends them.
pub fn spawn(specs: Vec<Spec>, shutdown: &Shutdown) -> Link {
    let (ev_tx, events) = mpsc::channel(EVENT_CAP);
    let dropped = Arc::new(AtomicU64::new(0));
    let mut targets = Vec::new();
    for (index, spec) in specs.into_iter().enumerate() {
        let (tx, rx) = mpsc::channel(CMD_CAP);
        targets.push(tx);
        let out = Out {
            index,
            events: ev_tx.clone(),
            dropped: dropped.clone(),
        };
        let sd = shutdown.child();
        match spec.info.kind {
            Kind::Amp => {
                tokio::spawn(async move {
                    tokio::select! {
                        _ = run_amp(spec, rx, out) => {}
                        _ = sd.requested() => {}
                    }
                });
            }
            Kind::Rpc => {
                tokio::spawn(async move {
                    tokio::select! {
                        _ = run_rpc(spec, rx, out, &sd) => {}
                        _ = sd.requested() => {}
                    }
                });
            }
        }
    }
    Link {
        targets,
        events,
        dropped,
    }
}

struct Out {
    index: usize,
    events: mpsc::Sender<CallsEvent>,
    dropped: Arc<AtomicU64>,
}

impl Out {
    fn emit(&self, ev: CallsEvent) {
        // never stall a connection for a slow console: count and drop
        if self.events.try_send(ev).is_err() {
            self.dropped.fetch_add(1, Ordering::Relaxed);
        }
    }

    fn state(&self, state: SourceState) {
        self.emit(CallsEvent::State {
            target: self.index,
            state,
        });
    }

    fn finished(&self, seq: u64, latency: Duration, outcome: Outcome) {
        self.emit(CallsEvent::Finished {
            target: self.index,
            seq,
            latency,
            outcome,
        });
    }
}

const BACKOFF_MIN: Duration = Duration::from_secs(1);
const BACKOFF_MAX: Duration = Duration::from_secs(30);

/// Demo calls: (command, argument texts), cycled every two seconds.
const AMP_DEMO: &[(&str, &[&str])] = &[
    ("Sum", &["17", "25"]),
    ("Echo", &["hello from the demo"]),
    ("Divide", &["22", "7"]),
    ("Ask", &["operator"]),
    (
        "Tabulate",
        &["[{\"name\": \"a\", \"value\": 1}, {\"name\": \"b\", \"value\": 2}]"],
    ),
];
const RPC_DEMO: &[(&str, &str)] = &[
    ("add", "[2, 40]"),
    ("greet", "[\"operator\"]"),
    ("math/mul", "[6, 7]"),
    ("echo", "[{\"step\": 1, \"ok\": true}]"),
    ("fail", "[\"demo failure\"]"),
];

fn demo_request(kind: Kind, commands: &[CommandInfo], n: usize) -> Option<Request> {
    match kind {
        Kind::Amp => {
            // every sixth call names a command the peer does not know: UNHANDLED
            if n % 6 == 5 {
                return form::build(
                    &CommandInfo::AmpRaw,
                    &["Frobnicate".into(), "level=3".into()],
                )
                .ok();
            }
            let (name, values) = AMP_DEMO.get(n % 6 % AMP_DEMO.len())?;
            let cmd = commands.iter().find(|c| c.name() == *name)?;
            let values: Vec<String> = values.iter().map(|v| v.to_string()).collect();
            form::build(cmd, &values).ok()
        }
        Kind::Rpc => {
            let (path, args) = RPC_DEMO.get(n % RPC_DEMO.len())?;
            form::build(
                &CommandInfo::Rpc {
                    path: String::new(),
                    readonly_safe: true,
                },
                &[path.to_string(), args.to_string(), String::new()],
            )
            .ok()
        }
    }
}

fn fail_all_queued(rx: &mut mpsc::Receiver<CallsCmd>, out: &Out, why: &str) {
    while let Ok(cmd) = rx.try_recv() {
        if let CallsCmd::Call { seq, .. } = cmd {
            out.finished(
                seq,
                Duration::ZERO,
                Outcome::Failed {
                    kind: FailKind::Other,
                    text: format!("not connected: {why}"),
                },
            );
        }
    }
}

/// Waits out a reconnect delay, failing calls that arrive meanwhile. Returns
/// false when the console is gone.
async fn wait_retry(
    rx: &mut mpsc::Receiver<CallsCmd>,
    out: &Out,
    delay: Duration,
    why: &str,
) -> bool {
    out.state(SourceState::Retry {
        in_secs: delay.as_secs().max(1),
        error: why.to_string(),
    });
    let sleep = tokio::time::sleep(delay);
    tokio::pin!(sleep);
    loop {
        tokio::select! {
            _ = &mut sleep => return true,
            cmd = rx.recv() => match cmd {
                None => return false,
                Some(CallsCmd::Call { seq, .. }) => out.finished(seq, Duration::ZERO, Outcome::Failed {
                    kind: FailKind::Other,
                    text: format!("not connected: {why}"),
                }),
                Some(CallsCmd::Abandon { .. }) => {}
            }
        }
    }
}

fn amp_outcome(
    catalog: &Catalog,
    command: &str,
    result: Result<AmpReply, crate::engine::amp::Error>,
) -> Outcome {
    use crate::engine::amp::Error;
    match result {
        Ok(AmpReply::Answer(b)) => {
            let cmd = catalog.get(command);
            if cmd.is_some_and(|c| !c.requires_answer) {
                return Outcome::NoAnswer;
            }
            let typed =
                cmd.and_then(|c| types::decode_fields(&c.response, &b).ok().map(|r| (c, r)));
            match typed {
                Some((c, record)) => Outcome::Answer(
                    c.response
                        .iter()
                        .filter_map(|f| {
                            record
                                .get(&f.name)
                                .map(|v| (f.name.clone(), form::json_text(&types::to_json(v))))
                        })
                        .collect(),
                ),
                // no schema (or an answer that does not match it): raw values
                None => Outcome::Answer(
                    b.iter()
                        .map(|(k, v)| (types::bytes_text(k), types::bytes_text(v)))
                        .collect(),
                ),
            }
        }
        Ok(AmpReply::Remote { code, description }) => Outcome::Remote { code, description },
        Err(Error::Timeout { after, .. }) => Outcome::Failed {
            kind: FailKind::Timeout,
            text: format!("no answer within {:.1} s", after.as_secs_f64()),
        },
        Err(Error::Abandoned(_)) => Outcome::Failed {
            kind: FailKind::Abandoned,
            text: "abandoned".into(),
        },
        Err(e) => Outcome::Failed {
            kind: FailKind::Other,
            text: e.to_string(),
        },
    }
}

async fn run_amp(spec: Spec, mut rx: mpsc::Receiver<CallsCmd>, out: Out) {
    let mut backoff = BACKOFF_MIN;
    let mut demo_n = 0usize;
    let mut demo_seq = BRIDGE_SEQ_BASE;
    let mut tick = tokio::time::interval(Duration::from_secs(2));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        out.state(SourceState::Connecting);
        let opts = HandleOptions {
            tls: spec.tls.clone(),
            ..HandleOptions::default()
        };
        let mut h = AmpHandle::spawn(spec.target.clone(), spec.catalog.clone(), opts);
        let mut ids: HashMap<u64, u64> = HashMap::new();
        let mut up = false;
        let why = loop {
            tokio::select! {
                cmd = rx.recv() => match cmd {
                    None => { h.close(); return; }
                    Some(CallsCmd::Call { seq, request, .. }) => {
                        let Request::Amp { command, args, .. } = request else {
                            out.finished(seq, Duration::ZERO, Outcome::Failed { kind: FailKind::Other, text: "not an AMP request".into() });
                            continue;
                        };
                        match h.call(&command, args, Some(spec.info.timeout)) {
                            Ok(id) => { ids.insert(id, seq); }
                            Err(e) => out.finished(seq, Duration::ZERO, Outcome::Failed { kind: FailKind::Other, text: e.to_string() }),
                        }
                    }
                    Some(CallsCmd::Abandon { seq, .. }) => {
                        if let Some((id, _)) = ids.iter().find(|(_, s)| **s == seq) {
                            let _ = h.abandon(*id);
                        }
                    }
                },
                ev = h.next_event() => match ev {
                    Some(AmpEvent::Connected { .. }) => {
                        up = true;
                        backoff = BACKOFF_MIN;
                        out.state(SourceState::Up { tls: spec.info.tls });
                    }
                    Some(AmpEvent::Disconnected { reason }) => break reason,
                    Some(AmpEvent::Finished { id, command, latency, result }) => {
                        if let Some(seq) = ids.remove(&id) {
                            out.finished(seq, latency, amp_outcome(&spec.catalog, &command, result));
                        }
                    }
                    None => break "connection task ended".to_string(),
                },
                _ = tick.tick(), if spec.demo_traffic && up => {
                    if let Some(Request::Amp { command, args, shown }) = demo_request(Kind::Amp, &spec.info.commands, demo_n) {
                        demo_n += 1;
                        if let Ok(id) = h.call(&command, args.clone(), Some(spec.info.timeout)) {
                            demo_seq += 1;
                            ids.insert(id, demo_seq);
                            out.emit(CallsEvent::Started { target: out.index, seq: demo_seq, request: Request::Amp { command, args, shown } });
                        }
                    }
                }
            }
        };
        // calls still waiting end with the connection
        for (_, seq) in ids.drain() {
            out.finished(
                seq,
                Duration::ZERO,
                Outcome::Failed {
                    kind: FailKind::Other,
                    text: format!("connection lost: {why}"),
                },
            );
        }
        h.close();
        drop(h);
        fail_all_queued(&mut rx, &out, &why);
        if !wait_retry(&mut rx, &out, backoff, &why).await {
            return;
        }
        backoff = (backoff * 2).min(BACKOFF_MAX);
    }
}

fn rpc_outcome(outcome: Result<RpcReply, String>) -> Outcome {
    match outcome {
        Ok(RpcReply::Success(json)) => Outcome::Answer(vec![("result".into(), json.to_text())]),
        Ok(RpcReply::Failure(text)) => Outcome::Remote {
            code: "FAILURE".into(),
            description: text,
        },
        Err(text) => {
            let kind = if text.contains("abandoned") {
                FailKind::Abandoned
            } else if text.starts_with("no reply to") {
                FailKind::Timeout
            } else {
                FailKind::Other
            };
            Outcome::Failed { kind, text }
        }
    }
}

async fn run_rpc(spec: Spec, mut rx: mpsc::Receiver<CallsCmd>, out: Out, shutdown: &Shutdown) {
    let mut backoff = BACKOFF_MIN;
    let mut demo_n = 0usize;
    let mut demo_seq = BRIDGE_SEQ_BASE;
    let mut tick = tokio::time::interval(Duration::from_secs(2));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        out.state(SourceState::Connecting);
        let opts = RpcOptions {
            call_timeout: Some(spec.info.timeout),
            ..RpcOptions::default()
        };
        // the peer may call us back: answer `ping` as the interop kit's client does
        let service = Arc::new(crate::engine::simpyio::mock::client());
        let tls = spec.tls.as_ref().map(|(c, _)| c.clone());
        let mut h = RpcHandle::connect(spec.target.clone(), tls, service, opts, shutdown);
        let mut stats = h.stats();
        let mut tokens: HashMap<u64, u64> = HashMap::new();
        let mut up = false;
        let why = loop {
            tokio::select! {
                cmd = rx.recv() => match cmd {
                    None => { h.close(); return; }
                    Some(CallsCmd::Call { seq, request, .. }) => {
                        let Request::Rpc(call) = request else {
                            out.finished(seq, Duration::ZERO, Outcome::Failed { kind: FailKind::Other, text: "not a simpy.io request".into() });
                            continue;
                        };
                        match h.call(call) {
                            Ok(token) => { tokens.insert(token, seq); }
                            Err(e) => out.finished(seq, Duration::ZERO, Outcome::Failed { kind: FailKind::Other, text: e.to_string() }),
                        }
                    }
                    Some(CallsCmd::Abandon { seq, .. }) => {
                        if let Some((t, _)) = tokens.iter().find(|(_, s)| **s == seq) {
                            let _ = h.abandon(*t);
                        }
                    }
                },
                changed = stats.changed() => {
                    if changed.is_err() {
                        break "connection task ended".to_string();
                    }
                    let connected = stats.borrow_and_update().connected;
                    if connected && !up {
                        up = true;
                        backoff = BACKOFF_MIN;
                        out.state(SourceState::Up { tls: spec.info.tls });
                    }
                }
                ev = h.event() => match ev {
                    Some(Notice::Finished { token, latency, outcome, .. }) => {
                        if let Some(seq) = tokens.remove(&token) {
                            out.finished(seq, latency, rpc_outcome(outcome));
                        }
                    }
                    Some(Notice::Served { .. }) => {}
                    Some(Notice::Closed(reason)) => break reason,
                    None => break "connection task ended".to_string(),
                },
                _ = tick.tick(), if spec.demo_traffic && up => {
                    if let Some(Request::Rpc(call)) = demo_request(Kind::Rpc, &spec.info.commands, demo_n) {
                        demo_n += 1;
                        if let Ok(token) = h.call(call.clone()) {
                            demo_seq += 1;
                            tokens.insert(token, demo_seq);
                            out.emit(CallsEvent::Started { target: out.index, seq: demo_seq, request: Request::Rpc(call) });
                        }
                    }
                }
            }
        };
        for (_, seq) in tokens.drain() {
            out.finished(
                seq,
                Duration::ZERO,
                Outcome::Failed {
                    kind: FailKind::Other,
                    text: format!("connection lost: {why}"),
                },
            );
        }
        h.close();
        drop(h);
        fail_all_queued(&mut rx, &out, &why);
        if !wait_retry(&mut rx, &out, backoff, &why).await {
            return;
        }
        backoff = (backoff * 2).min(BACKOFF_MAX);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config_targets_parse_and_bad_ones_warn() {
        let cfg: toml::Table = toml::from_str(
            r#"
            [[targets]]
            kind = "rpc"
            addr = "127.0.0.1:5555"
            name = "sim"
            methods = [{ path = "/math/mul", readonly_safe = true }]
            [[targets]]
            kind = "pool"
            addr = "tcp://x/y"
            [[targets]]
            kind = "amp"
            addr = "127.0.0.1:7001"
            bogus = 1
            "#,
        )
        .expect("toml");
        let list = cfg["targets"].as_array().cloned().unwrap_or_default();
        let (specs, warnings) = specs(&list, &["127.0.0.1:7002".into()], &[], None);
        assert_eq!(specs.len(), 2, "{warnings:?}");
        assert_eq!(warnings.len(), 1, "{warnings:?}");
        assert_eq!(specs[0].info.name, "sim");
        assert_eq!(specs[0].info.commands[0].name(), "math/mul");
        assert!(specs[0].info.commands[0].readonly_safe());
        assert_eq!(specs[1].info.kind, Kind::Amp);
        assert_eq!(specs[1].info.commands.last(), Some(&CommandInfo::AmpRaw));
    }

    #[test]
    fn demo_requests_build() {
        let catalog =
            Catalog::from_toml(super::super::demo::INTEROP_SCHEMA, "interop").expect("schema");
        let cmds = CommandInfo::from_catalog(&catalog);
        for n in 0..12 {
            assert!(demo_request(Kind::Amp, &cmds, n).is_some(), "amp {n}");
            assert!(demo_request(Kind::Rpc, &[], n).is_some(), "rpc {n}");
        }
    }
}
