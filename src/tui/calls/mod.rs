//! The Calls view's state and update logic (console spec section 3.4): AMP and
//! simpy.io targets, the command list of the selected target, the call form,
//! and the call history with latency and the result or error in place.
//!
//! Pure like `App::update`: requests go into `outbox` as [`CallsCmd`]s for the
//! main loop to `try_send` to the bridge ([`source`]), which owns the engines'
//! handles (`engine::amp::handle::AmpHandle`, `engine::simpyio::handle::RpcHandle`);
//! replies come back as [`CallsEvent`]s. Text from peers is sanitised once, when
//! it arrives.

pub mod demo;
pub mod form;
pub mod source;

use std::collections::VecDeque;
use std::time::Duration;

use tui_input::{Input, InputRequest};

use crate::engine::amp::types::Field;
use crate::engine::amp::AmpBox;
use crate::engine::simpyio::protocol::Call;
use crate::tui::action::Action;
use crate::tui::app::{App, Spark, Tab};
use crate::tui::source::SourceState;
use crate::tui::text::sanitize;

pub use form::CallForm;

/// History rows kept in memory (console spec section 3.4).
pub const HISTORY_CAP: usize = 1000;
/// Default per-call timeout.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);
/// Latency samples kept per target for the p50.
const LATENCY_SAMPLES: usize = 256;

/// Protocol of a target.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Twisted AMP.
    Amp,
    /// simpy.io RPC.
    Rpc,
}

impl Kind {
    /// `AMP` / `RPC`.
    pub fn label(self) -> &'static str {
        match self {
            Kind::Amp => "AMP",
            Kind::Rpc => "RPC",
        }
    }
}

/// One entry of a target's command list.
#[derive(Debug, Clone, PartialEq)]
pub enum CommandInfo {
    /// An AMP command from the schema.
    Amp {
        /// Wire name.
        name: String,
        /// Arguments with their types.
        arguments: Vec<Field>,
        /// Answer keys with their types.
        response: Vec<Field>,
        /// Declared error codes (fatal ones included).
        errors: Vec<String>,
        /// `false`: sent without `_ask`.
        requires_answer: bool,
        /// Allowed under `--readonly`.
        readonly_safe: bool,
    },
    /// Any AMP command with free `key=value` arguments (never readonly-safe:
    /// nothing says what it does).
    AmpRaw,
    /// A simpy.io method path (empty: type any path).
    Rpc {
        /// `/`-separated path.
        path: String,
        /// Allowed under `--readonly`.
        readonly_safe: bool,
    },
}

impl CommandInfo {
    /// Display name.
    pub fn name(&self) -> String {
        match self {
            CommandInfo::Amp { name, .. } => name.clone(),
            CommandInfo::AmpRaw => "raw".into(),
            CommandInfo::Rpc { path, .. } if path.is_empty() => "(any path)".into(),
            CommandInfo::Rpc { path, .. } => path.clone(),
        }
    }

    /// Allowed under `--readonly`.
    pub fn readonly_safe(&self) -> bool {
        match self {
            CommandInfo::Amp { readonly_safe, .. } | CommandInfo::Rpc { readonly_safe, .. } => {
                *readonly_safe
            }
            CommandInfo::AmpRaw => false,
        }
    }

    /// One line: arguments with their types.
    pub fn signature(&self) -> String {
        match self {
            CommandInfo::Amp { arguments, .. } => arguments
                .iter()
                .map(|a| format!("{}{}: {}", a.name, if a.optional { "?" } else { "" }, a.ty))
                .collect::<Vec<_>>()
                .join(", "),
            CommandInfo::AmpRaw => "key=value …".into(),
            CommandInfo::Rpc { .. } => "args: JSON array, kwargs: JSON object".into(),
        }
    }

    /// Builds the catalog's command list for an AMP target (plus `raw`).
    pub fn from_catalog(catalog: &crate::engine::amp::catalog::Catalog) -> Vec<CommandInfo> {
        let mut v: Vec<CommandInfo> = catalog
            .iter()
            .map(|c| CommandInfo::Amp {
                name: c.name.clone(),
                arguments: c.arguments.clone(),
                response: c.response.clone(),
                errors: c.errors.iter().chain(&c.fatal_errors).cloned().collect(),
                requires_answer: c.requires_answer,
                readonly_safe: c.readonly_safe,
            })
            .collect();
        v.push(CommandInfo::AmpRaw);
        v
    }
}

/// A configured target, as the console shows it.
#[derive(Debug, Clone, PartialEq)]
pub struct TargetInfo {
    /// Name from the config (or the address).
    pub name: String,
    /// Protocol.
    pub kind: Kind,
    /// `host:port` or `unix:/path`.
    pub addr: String,
    /// Over TLS.
    pub tls: bool,
    /// Per-call timeout.
    pub timeout: Duration,
    /// Known commands / methods.
    pub commands: Vec<CommandInfo>,
}

/// A request to send.
#[derive(Debug, Clone, PartialEq)]
pub enum Request {
    /// An AMP call.
    Amp {
        /// `_command`.
        command: String,
        /// Argument box (typed values already encoded).
        args: AmpBox,
        /// Arguments as text, for the history.
        shown: Vec<(String, String)>,
    },
    /// A simpy.io call.
    Rpc(Call),
}

impl Request {
    /// Command name or method path.
    pub fn name(&self) -> String {
        match self {
            Request::Amp { command, .. } => command.clone(),
            Request::Rpc(c) => c.path.clone(),
        }
    }

    /// The arguments as (name, value) text.
    pub fn shown(&self) -> Vec<(String, String)> {
        match self {
            Request::Amp { shown, .. } => shown.clone(),
            Request::Rpc(c) => vec![
                ("args".into(), form::rpc_text(&c.args, &[]).to_string()),
                ("kwargs".into(), form::rpc_text(&[], &c.kwargs)),
            ],
        }
    }
}

/// Console → bridge.
#[derive(Debug, Clone, PartialEq)]
pub enum CallsCmd {
    /// Send a call; the reply comes back as [`CallsEvent::Finished`] with `seq`.
    Call {
        /// Target index.
        target: usize,
        /// The console's call number.
        seq: u64,
        /// What to send.
        request: Request,
    },
    /// Stop waiting for call `seq` (a late reply is logged and dropped).
    Abandon {
        /// Target index.
        target: usize,
        /// The call.
        seq: u64,
    },
}

impl CallsCmd {
    /// Target index.
    pub fn target(&self) -> usize {
        match self {
            CallsCmd::Call { target, .. } | CallsCmd::Abandon { target, .. } => *target,
        }
    }

    /// Short text for logs and event scripts (`calls.call 0 Sum`).
    pub fn describe(&self) -> String {
        match self {
            CallsCmd::Call {
                target, request, ..
            } => format!("calls.call {target} {}", request.name()),
            CallsCmd::Abandon { target, seq } => format!("calls.abandon {target} {seq}"),
        }
    }
}

/// How a call ended when it got no reply.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FailKind {
    /// No reply within the timeout.
    Timeout,
    /// Abandoned locally.
    Abandoned,
    /// Not connected, connection lost, queue full, …
    Other,
}

/// What came back.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    /// AMP `_answer` fields or the simpy.io result, as (name, text).
    Answer(Vec<(String, String)>),
    /// Sent without `_ask`: nothing comes back.
    NoAnswer,
    /// AMP `_error` (code, description) or simpy.io FAILURE (`FAILURE`, text).
    Remote {
        /// `_error_code`, or `FAILURE` for simpy.io.
        code: String,
        /// `_error_description` or the remote traceback.
        description: String,
    },
    /// No reply.
    Failed {
        /// Why.
        kind: FailKind,
        /// The error text.
        text: String,
    },
}

/// Bridge → console.
#[derive(Debug, Clone, PartialEq)]
pub enum CallsEvent {
    /// A target's connection state changed.
    State {
        /// Target index.
        target: usize,
        /// New state.
        state: SourceState,
    },
    /// A call the console did not start (demo traffic) was sent.
    Started {
        /// Target index.
        target: usize,
        /// Call number (from the bridge's own range).
        seq: u64,
        /// What was sent.
        request: Request,
    },
    /// A call finished.
    Finished {
        /// Target index.
        target: usize,
        /// Call number.
        seq: u64,
        /// Time to the reply.
        latency: Duration,
        /// What came back.
        outcome: Outcome,
    },
}

/// Status of a history row.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    /// Waiting for the reply.
    Pending,
    /// Answered.
    Ok,
    /// The peer answered with an error.
    Error,
    /// No reply in time.
    Timeout,
    /// Abandoned.
    Abandoned,
    /// Not sent or lost with the connection.
    Failed,
}

impl Status {
    /// Word shown in the history (never colour alone).
    pub fn label(self) -> &'static str {
        match self {
            Status::Pending => "…",
            Status::Ok => "ok",
            Status::Error => "error",
            Status::Timeout => "timeout",
            Status::Abandoned => "abandoned",
            Status::Failed => "failed",
        }
    }
}

/// One call in the history; every text is sanitised when the row is made.
#[derive(Debug, Clone, PartialEq)]
pub struct CallRow {
    /// Call number.
    pub seq: u64,
    /// Target index.
    pub target: usize,
    /// When it was sent, seconds since the epoch.
    pub at: f64,
    /// Command or method path.
    pub command: String,
    /// Arguments as (name, value).
    pub request: Vec<(String, String)>,
    /// Status.
    pub status: Status,
    /// Latency in milliseconds, once finished.
    pub latency_ms: Option<f64>,
    /// One-line reply summary (answer fields, error code + description, …).
    pub summary: String,
    /// The whole reply, one line per entry (detail view).
    pub reply: Vec<String>,
    /// The form texts it was sent with (`r` re-runs, `e` edits).
    pub values: Vec<String>,
    /// Index of the command in the target's list, when known.
    pub command_index: Option<usize>,
    /// Counts as a pending write while in flight (not readonly-safe).
    pub is_write: bool,
}

/// Per-target runtime state.
#[derive(Debug, Clone, Default)]
pub struct TargetState {
    /// Connection state.
    pub state: SourceState,
    /// Calls sent.
    pub calls: u64,
    /// Answered.
    pub ok: u64,
    /// Remote errors.
    pub errors: u64,
    /// Timeouts, abandons, local failures.
    pub failures: u64,
    /// Waiting now.
    pub pending: u64,
    /// Recent latencies (ms).
    pub latencies: VecDeque<f64>,
    /// Calls/s, one sample per tick.
    pub rate: Spark,
}

impl TargetState {
    /// Median of the recent latencies.
    pub fn p50_ms(&self) -> Option<f64> {
        median(self.latencies.iter().copied())
    }
}

/// Median of `values` (None when empty).
pub fn median(values: impl Iterator<Item = f64>) -> Option<f64> {
    let mut v: Vec<f64> = values.filter(|x| x.is_finite()).collect();
    if v.is_empty() {
        return None;
    }
    v.sort_by(|a, b| a.total_cmp(b));
    Some(v[v.len() / 2])
}

/// Focused pane of the Calls view.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Focus {
    /// Target list.
    #[default]
    Targets,
    /// Commands of the selected target.
    Commands,
    /// Call history.
    History,
}

/// State of the Calls view.
#[derive(Debug, Clone, Default)]
pub struct Calls {
    /// Configured targets.
    pub targets: Vec<TargetInfo>,
    /// Runtime state per target (same order).
    pub state: Vec<TargetState>,
    /// Selected target.
    pub sel_target: usize,
    /// Selected command of the selected target.
    pub sel_command: usize,
    /// Focused pane.
    pub focus: Focus,
    /// The open call form (FORM mode while open on this tab).
    pub form: Option<CallForm>,
    /// History, newest first.
    pub history: VecDeque<CallRow>,
    /// Selected history row (0 = newest).
    pub sel_history: usize,
    /// The history pane shows the selected call in full.
    pub detail: bool,
    /// Next call number.
    pub next_seq: u64,
    /// Commands for the bridge, drained by the main loop.
    pub outbox: Vec<CallsCmd>,
    /// Why there are no targets (shown in the empty state).
    pub note: String,
    /// A call repeated every few seconds (`w` in the history).
    pub watch: Option<Watch>,
    /// `/` filter of the history (target, command, status, reply).
    pub history_filter: crate::tui::filter::Filter,
}

/// Watch mode: one call repeated on the tick, with its latency history.
#[derive(Debug, Clone, PartialEq)]
pub struct Watch {
    /// Target index.
    pub target: usize,
    /// Command index in the target's list.
    pub command_index: usize,
    /// Command name (display).
    pub command: String,
    /// Form texts the call is rebuilt from.
    pub values: Vec<String>,
    /// Seconds between calls.
    pub every: f64,
    /// When the last call went out.
    pub last: f64,
    /// Calls made by the watch.
    pub seqs: VecDeque<u64>,
    /// Latencies of the watched calls in µs, oldest first (sparkline).
    pub latencies: VecDeque<u64>,
    /// Calls that got no reply.
    pub misses: u64,
}

/// Seconds between watched calls.
pub const WATCH_EVERY: f64 = 2.0;

impl Calls {
    /// A view over `targets`.
    pub fn new(targets: Vec<TargetInfo>) -> Calls {
        let state = targets.iter().map(|_| TargetState::default()).collect();
        Calls {
            targets,
            state,
            next_seq: 1,
            ..Calls::default()
        }
    }

    /// The selected target.
    pub fn target(&self) -> Option<&TargetInfo> {
        self.targets.get(self.sel_target)
    }

    /// The selected command.
    pub fn command(&self) -> Option<&CommandInfo> {
        self.target()?.commands.get(self.sel_command)
    }

    /// The selected history row.
    pub fn selected_row(&self) -> Option<&CallRow> {
        if self.history_filter.is_empty() {
            return self.history.get(self.sel_history);
        }
        self.shown().into_iter().nth(self.sel_history)
    }

    /// History rows passing the `/` filter, newest first.
    pub fn shown(&self) -> Vec<&CallRow> {
        self.history
            .iter()
            .filter(|r| {
                self.history_filter.is_empty() || {
                    let target = self
                        .targets
                        .get(r.target)
                        .map(|t| t.name.to_lowercase())
                        .unwrap_or_default();
                    self.history_filter.matches(&[
                        target,
                        r.command.to_lowercase(),
                        r.status.label().to_string(),
                        r.summary.to_lowercase(),
                    ])
                }
            })
            .collect()
    }

    /// Whether the form has keyboard focus (FORM mode).
    pub fn is_editing(&self) -> bool {
        self.form.is_some()
    }

    /// Pending writes for the quit confirmation: calls of commands not marked
    /// readonly-safe still in flight, and a form with unsent edits.
    pub fn pending_writes(&self) -> Vec<String> {
        let mut v: Vec<String> = self
            .history
            .iter()
            .filter(|r| r.status == Status::Pending && r.is_write)
            .map(|r| {
                let t = self
                    .targets
                    .get(r.target)
                    .map(|t| t.name.as_str())
                    .unwrap_or("?");
                format!("call {} on {t} (in flight)", r.command)
            })
            .collect();
        if let Some(f) = &self.form {
            if f.edited {
                v.push(format!("call {} form (unsent)", f.title));
            }
        }
        v
    }

    /// Totals over the targets of `kind`: (up, configured, calls, ok, errors,
    /// failures, p50 ms, calls/s spark).
    pub fn totals(&self, kind: Kind) -> Totals {
        let mut t = Totals::default();
        let mut lat = Vec::new();
        let mut spark: Option<Spark> = None;
        for (info, st) in self.targets.iter().zip(&self.state) {
            if info.kind != kind {
                continue;
            }
            t.configured += 1;
            if matches!(st.state, SourceState::Up { .. } | SourceState::Local) {
                t.up += 1;
            }
            if let SourceState::Down { error } | SourceState::Retry { error, .. } = &st.state {
                t.last_error = Some(format!("{}: {error}", info.name));
            }
            t.calls += st.calls;
            t.ok += st.ok;
            t.errors += st.errors;
            t.failures += st.failures;
            lat.extend(st.latencies.iter().copied());
            match &mut spark {
                None => spark = Some(st.rate.clone()),
                Some(s) => {
                    let n = s.samples.len().max(st.rate.samples.len());
                    let a: Vec<u64> = pad(&s.samples, n);
                    let b: Vec<u64> = pad(&st.rate.samples, n);
                    s.samples = a.iter().zip(&b).map(|(x, y)| x + y).collect();
                }
            }
        }
        t.p50_ms = median(lat.into_iter());
        t.rate = spark.unwrap_or_default();
        t
    }

    /// Records a row and keeps the history capped.
    fn push_row(&mut self, row: CallRow) {
        self.history.push_front(row);
        while self.history.len() > HISTORY_CAP {
            self.history.pop_back();
        }
        if self.sel_history > 0 {
            // keep the same row selected while new ones arrive on top
            self.sel_history = (self.sel_history + 1).min(self.history.len().saturating_sub(1));
        }
    }

    /// Applies a bridge event.
    pub fn on_event(&mut self, ev: CallsEvent, now: f64) {
        match ev {
            CallsEvent::State { target, state } => {
                if let Some(s) = self.state.get_mut(target) {
                    s.state = sanitize_state(state);
                }
            }
            CallsEvent::Started {
                target,
                seq,
                request,
            } => {
                if let Some(s) = self.state.get_mut(target) {
                    s.calls += 1;
                    s.pending += 1;
                }
                let (command_index, values) = match self.targets.get(target) {
                    Some(t) => replay_values(t, &request),
                    None => (None, Vec::new()),
                };
                self.push_row(CallRow {
                    seq,
                    target,
                    at: now,
                    command: sanitize(&request.name()),
                    request: clean_pairs(request.shown()),
                    status: Status::Pending,
                    latency_ms: None,
                    summary: String::new(),
                    reply: Vec::new(),
                    values,
                    command_index,
                    is_write: false,
                });
            }
            CallsEvent::Finished {
                target,
                seq,
                latency,
                outcome,
            } => {
                let Some(row) = self
                    .history
                    .iter_mut()
                    .find(|r| r.seq == seq && r.target == target)
                else {
                    // evicted, or already abandoned: late replies are logged and dropped
                    tracing::info!("late reply to call #{seq} dropped");
                    return;
                };
                if row.status != Status::Pending {
                    tracing::info!("late reply to call #{seq} ({}) dropped", row.command);
                    return;
                }
                let ms = latency.as_secs_f64() * 1e3;
                let st = self.state.get_mut(target);
                let (status, summary, reply) = describe(&outcome, self.targets.get(target));
                row.status = status;
                row.summary = summary;
                row.reply = reply;
                if !matches!(outcome, Outcome::Failed { .. }) {
                    row.latency_ms = Some(ms);
                }
                if let Some(w) = &mut self.watch {
                    if w.target == target && w.seqs.contains(&seq) {
                        match row.latency_ms {
                            Some(m) => w.latencies.push_back((m * 1e3) as u64),
                            None => w.misses += 1,
                        }
                        while w.latencies.len() > crate::tui::app::SPARK_LEN {
                            w.latencies.pop_front();
                        }
                    }
                }
                if let Some(s) = st {
                    s.pending = s.pending.saturating_sub(1);
                    match status {
                        Status::Ok => s.ok += 1,
                        Status::Error => s.errors += 1,
                        _ => s.failures += 1,
                    }
                    if row.latency_ms.is_some() {
                        s.latencies.push_back(ms);
                        while s.latencies.len() > LATENCY_SAMPLES {
                            s.latencies.pop_front();
                        }
                    }
                }
            }
        }
    }

    /// The 1 Hz tick: calls/s samples.
    pub fn on_tick(&mut self, now: f64) {
        for s in &mut self.state {
            s.rate.sample_total(s.calls);
        }
        let Some(w) = &self.watch else { return };
        if now - w.last < w.every - 0.01 {
            return;
        }
        let (target, index, values) = (w.target, w.command_index, w.values.clone());
        let Some(cmd) = self
            .targets
            .get(target)
            .and_then(|t| t.commands.get(index))
            .cloned()
        else {
            self.watch = None;
            return;
        };
        let Ok(request) = form::build(&cmd, &values) else {
            self.watch = None;
            return;
        };
        let keep = self.sel_history;
        let seq = self.start(now, target, Some(index), request, values, &cmd);
        // a watch must not yank the selection away from a row being read
        self.sel_history = if keep == 0 {
            0
        } else {
            (keep + 1).min(self.history.len().saturating_sub(1))
        };
        if let Some(w) = &mut self.watch {
            w.last = now;
            w.seqs.push_back(seq);
            while w.seqs.len() > 64 {
                w.seqs.pop_front();
            }
        }
    }
}

/// The command a request belongs to and the form texts that rebuild it (for
/// `r` / `e` on rows the console did not start).
fn replay_values(t: &TargetInfo, request: &Request) -> (Option<usize>, Vec<String>) {
    use crate::engine::simpyio::json::Json;
    let name = request.name();
    match request {
        Request::Amp { shown, .. } => {
            let typed = t
                .commands
                .iter()
                .position(|c| matches!(c, CommandInfo::Amp { .. }) && c.name() == name);
            match typed {
                Some(i) => (Some(i), shown.iter().map(|(_, v)| v.clone()).collect()),
                None => {
                    let raw = t.commands.iter().position(|c| *c == CommandInfo::AmpRaw);
                    let pairs = shown
                        .iter()
                        .map(|(k, v)| format!("{k}={v}"))
                        .collect::<Vec<_>>()
                        .join(" ");
                    (raw, vec![name, pairs])
                }
            }
        }
        Request::Rpc(call) => {
            let index = t
                .commands
                .iter()
                .position(|c| c.name() == name)
                .or_else(|| t.commands.iter().position(|c| c.name() == "(any path)"));
            let args = Json::Array(call.args.clone()).to_text();
            let kwargs = if call.kwargs.is_empty() {
                String::new()
            } else {
                Json::Object(call.kwargs.clone()).to_text()
            };
            (index, vec![name, args, kwargs])
        }
    }
}

fn pad(s: &VecDeque<u64>, n: usize) -> Vec<u64> {
    let mut v = vec![0; n.saturating_sub(s.len())];
    v.extend(s.iter().copied());
    v
}

fn sanitize_state(s: SourceState) -> SourceState {
    match s {
        SourceState::Retry { in_secs, error } => SourceState::Retry {
            in_secs,
            error: sanitize(&error),
        },
        SourceState::Down { error } => SourceState::Down {
            error: sanitize(&error),
        },
        other => other,
    }
}

fn clean_pairs(v: Vec<(String, String)>) -> Vec<(String, String)> {
    v.into_iter()
        .map(|(k, v)| (sanitize(&k), sanitize(&v)))
        .collect()
}

/// Summaries over one protocol's targets (Overview cards).
#[derive(Debug, Clone, Default)]
pub struct Totals {
    /// Targets up.
    pub up: usize,
    /// Targets configured.
    pub configured: usize,
    /// Calls sent.
    pub calls: u64,
    /// Answered.
    pub ok: u64,
    /// Remote errors.
    pub errors: u64,
    /// Timeouts and local failures.
    pub failures: u64,
    /// Median latency.
    pub p50_ms: Option<f64>,
    /// Calls/s.
    pub rate: Spark,
    /// Last connection error.
    pub last_error: Option<String>,
}

/// Status, one-line summary and detail lines of an outcome (sanitised).
fn describe(outcome: &Outcome, target: Option<&TargetInfo>) -> (Status, String, Vec<String>) {
    match outcome {
        Outcome::Answer(fields) => {
            let fields = clean_pairs(fields.clone());
            let summary = fields
                .iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect::<Vec<_>>()
                .join(" ");
            let reply = fields.iter().map(|(k, v)| format!("{k}: {v}")).collect();
            (Status::Ok, summary, reply)
        }
        Outcome::NoAnswer => (
            Status::Ok,
            "sent (no answer requested)".into(),
            vec!["requires_answer = false: the peer sends no answer".into()],
        ),
        Outcome::Remote { code, description } => {
            let code = sanitize(code);
            let lines: Vec<String> = description.lines().map(sanitize).collect();
            let rpc = target.is_some_and(|t| t.kind == Kind::Rpc);
            let summary = if rpc {
                // simpy.io FAILURE: first and last line of the remote traceback
                let first = lines.iter().find(|l| !l.trim().is_empty());
                let last = lines.iter().rev().find(|l| !l.trim().is_empty());
                match (first, last) {
                    (Some(f), Some(l)) if f != l => format!("{} … {}", f.trim(), l.trim()),
                    (Some(f), _) => f.trim().to_string(),
                    _ => code.clone(),
                }
            } else {
                format!("{code}: {}", lines.join(" "))
            };
            let mut reply = vec![format!("error code: {code}")];
            reply.extend(lines);
            (Status::Error, summary, reply)
        }
        Outcome::Failed { kind, text } => {
            let status = match kind {
                FailKind::Timeout => Status::Timeout,
                FailKind::Abandoned => Status::Abandoned,
                FailKind::Other => Status::Failed,
            };
            let t = sanitize(text);
            (status, t.clone(), vec![t])
        }
    }
}

// ---------------------------------------------------------------- update

/// Applies `action` on the Calls tab; returns false when the action is not the
/// view's (the app then applies it as usual).
pub fn update(app: &mut App, action: Action) -> bool {
    if app.tab != Tab::Calls {
        return false;
    }
    if app.calls.form.is_some() {
        return form_action(app, action);
    }
    // below 100 columns the targets are a one-line selector: h/l change target
    let narrow_targets = app.size.0 < 100 && app.calls.focus == Focus::Targets;
    let c = &mut app.calls;
    match action {
        Action::Left | Action::Right if narrow_targets => {
            move_sel(c, if action == Action::Left { -1 } else { 1 });
        }
        Action::Up => move_sel(c, -1),
        Action::Down => move_sel(c, 1),
        Action::HalfUp | Action::PageUp => move_sel(c, -10),
        Action::HalfDown | Action::PageDown => move_sel(c, 10),
        Action::Top => move_sel(c, i64::MIN / 2),
        Action::Bottom => move_sel(c, i64::MAX / 2),
        Action::Left => {
            c.detail = false;
            c.focus = match c.focus {
                Focus::History => Focus::Commands,
                _ => Focus::Targets,
            };
        }
        Action::Right => {
            c.focus = match c.focus {
                Focus::Targets => Focus::Commands,
                _ => Focus::History,
            };
        }
        Action::Enter => match c.focus {
            Focus::Targets => {
                if c.target().is_some() {
                    c.focus = Focus::Commands;
                }
            }
            Focus::Commands => open_form(app, None),
            Focus::History => {
                if c.selected_row().is_some() {
                    c.detail = !c.detail;
                }
            }
        },
        Action::Back => {
            if c.detail {
                c.detail = false;
            } else if !c.history_filter.is_empty() {
                c.history_filter = crate::tui::filter::Filter::default();
                c.sel_history = 0;
            } else if c.focus != Focus::Targets {
                c.focus = Focus::Targets;
            } else {
                return false;
            }
        }
        Action::CallNew => open_form(app, None),
        Action::CallRerun => rerun(app),
        Action::CallEdit => {
            if let Some(row) = app.calls.selected_row().cloned() {
                edit_row(app, &row);
            } else {
                app.info("no call selected");
            }
        }
        Action::CallAbandon => abandon(app),
        Action::CallWatch => toggle_watch(app),
        Action::Follow => {
            c.sel_history = 0;
            app.info("history: newest first");
        }
        _ => return false,
    }
    app.dirty = true;
    true
}

fn move_sel(c: &mut Calls, delta: i64) {
    let step = |cur: usize, len: usize| -> usize {
        if len == 0 {
            return 0;
        }
        (cur as i64).saturating_add(delta).clamp(0, len as i64 - 1) as usize
    };
    match c.focus {
        Focus::Targets => {
            let before = c.sel_target;
            c.sel_target = step(c.sel_target, c.targets.len());
            if before != c.sel_target {
                c.sel_command = 0;
            }
        }
        Focus::Commands => {
            let n = c.target().map(|t| t.commands.len()).unwrap_or(0);
            c.sel_command = step(c.sel_command, n);
        }
        Focus::History => {
            let n = c.shown().len();
            c.sel_history = step(c.sel_history, n);
        }
    }
}

/// Opens the form for the selected command (prefilled with `values`).
fn open_form(app: &mut App, values: Option<(usize, usize, Vec<String>)>) {
    let c = &mut app.calls;
    let (target, command, values) = values.unwrap_or((c.sel_target, c.sel_command, Vec::new()));
    let Some(cmd) = c.targets.get(target).and_then(|t| t.commands.get(command)) else {
        app.error("no target configured: add [[targets]] to config.toml or use --amp / --rpc");
        return;
    };
    if app.settings.readonly && !cmd.readonly_safe() {
        let why = format!(
            "read-only: call {} disabled (not marked readonly_safe)",
            cmd.name()
        );
        app.error(why);
        return;
    }
    let mut f = CallForm::new(target, command, cmd, &values);
    f.edited = !values.is_empty();
    c.sel_target = target;
    c.sel_command = command;
    c.form = Some(f);
    app.dirty = true;
}

fn form_action(app: &mut App, action: Action) -> bool {
    let Some(f) = &mut app.calls.form else {
        return false;
    };
    match action {
        Action::FormNext | Action::FormPrev => {
            let n = f.fields.len().max(1);
            f.focus = if action == Action::FormNext {
                (f.focus + 1) % n
            } else {
                (f.focus + n - 1) % n
            };
        }
        Action::FormSend => send_form(app),
        Action::FormCancel => {
            // the typed values stay in the history of the calls made; an
            // unsent form is simply closed (nothing is written by closing it)
            app.calls.form = None;
        }
        _ => return false,
    }
    app.dirty = true;
    true
}

/// Whether a call of `cmd` may be sent now; says why not.
fn refused(app: &App, cmd: &CommandInfo) -> Option<String> {
    if app.settings.readonly && !cmd.readonly_safe() {
        return Some(format!(
            "read-only: call {} disabled (not marked readonly_safe)",
            cmd.name()
        ));
    }
    None
}

fn send_form(app: &mut App) {
    let Some(f) = &app.calls.form else { return };
    let (target, command) = (f.target, f.command);
    let Some(cmd) = app
        .calls
        .targets
        .get(target)
        .and_then(|t| t.commands.get(command))
        .cloned()
    else {
        return;
    };
    if let Some(why) = refused(app, &cmd) {
        if let Some(f) = &mut app.calls.form {
            f.result = Some(Err(why.clone()));
        }
        app.error(why);
        return;
    }
    let built = app.calls.form.as_ref().map(|f| (f.build(&cmd), f.values()));
    let Some((built, values)) = built else { return };
    match built {
        Err((field, msg)) => {
            if let Some(f) = &mut app.calls.form {
                f.focus = field;
                f.result = Some(Err(sanitize(&msg)));
            }
        }
        Ok(request) => {
            let seq = start_call(app, target, Some(command), request, values, &cmd);
            if let Some(f) = &mut app.calls.form {
                f.edited = false;
                f.result = Some(Ok(format!("sent as call #{seq}")));
            }
        }
    }
}

/// Records a pending row and queues the call; returns its number.
fn start_call(
    app: &mut App,
    target: usize,
    command_index: Option<usize>,
    request: Request,
    values: Vec<String>,
    cmd: &CommandInfo,
) -> u64 {
    let now = app.now;
    app.dirty = true;
    app.calls
        .start(now, target, command_index, request, values, cmd)
}

impl Calls {
    /// Records a pending row and queues the call; returns its number.
    fn start(
        &mut self,
        now: f64,
        target: usize,
        command_index: Option<usize>,
        request: Request,
        values: Vec<String>,
        cmd: &CommandInfo,
    ) -> u64 {
        let c = self;
        let seq = c.next_seq;
        c.next_seq += 1;
        let no_answer = matches!(
            cmd,
            CommandInfo::Amp {
                requires_answer: false,
                ..
            }
        );
        c.push_row(CallRow {
            seq,
            target,
            at: now,
            command: sanitize(&request.name()),
            request: clean_pairs(request.shown()),
            status: Status::Pending,
            latency_ms: None,
            summary: if no_answer {
                "sending (no answer requested)".into()
            } else {
                String::new()
            },
            reply: Vec::new(),
            values,
            command_index,
            is_write: !cmd.readonly_safe(),
        });
        c.sel_history = 0;
        if let Some(s) = c.state.get_mut(target) {
            s.calls += 1;
            s.pending += 1;
        }
        c.outbox.push(CallsCmd::Call {
            target,
            seq,
            request,
        });
        seq
    }
}

fn row_command(app: &App, row: &CallRow) -> Option<CommandInfo> {
    let t = app.calls.targets.get(row.target)?;
    row.command_index.and_then(|i| t.commands.get(i)).cloned()
}

fn rerun(app: &mut App) {
    let Some(row) = app.calls.selected_row().cloned() else {
        app.info("no call selected");
        return;
    };
    let Some(cmd) = row_command(app, &row) else {
        app.error(format!("{}: not in the target's command list", row.command));
        return;
    };
    if let Some(why) = refused(app, &cmd) {
        app.error(why);
        return;
    }
    let values = row.values.clone();
    match form::build(&cmd, &values) {
        Ok(request) => {
            let seq = start_call(app, row.target, row.command_index, request, values, &cmd);
            app.info(format!("re-sent {} as call #{seq}", row.command));
        }
        Err((_, e)) => {
            // open the form so the problem can be fixed in place
            edit_row(app, &row);
            app.error(e);
        }
    }
}

fn edit_row(app: &mut App, row: &CallRow) {
    let Some(index) = row.command_index else {
        app.error(format!("{}: not in the target's command list", row.command));
        return;
    };
    open_form(app, Some((row.target, index, row.values.clone())));
}

fn toggle_watch(app: &mut App) {
    if let Some(w) = app.calls.watch.take() {
        app.info(format!("stopped watching {}", w.command));
        return;
    }
    let Some(row) = app.calls.selected_row().cloned() else {
        app.info("no call selected");
        return;
    };
    let (Some(index), Some(cmd)) = (row.command_index, row_command(app, &row)) else {
        app.error(format!("{}: not in the target's command list", row.command));
        return;
    };
    if let Some(why) = refused(app, &cmd) {
        app.error(why);
        return;
    }
    if let Err((_, e)) = form::build(&cmd, &row.values) {
        app.error(e);
        return;
    }
    app.calls.watch = Some(Watch {
        target: row.target,
        command_index: index,
        command: row.command.clone(),
        values: row.values.clone(),
        every: WATCH_EVERY,
        // the first call goes out on the next tick
        last: f64::NEG_INFINITY,
        seqs: VecDeque::new(),
        latencies: VecDeque::new(),
        misses: 0,
    });
    app.info(format!(
        "watching {} every {WATCH_EVERY:.0} s (w stops)",
        row.command
    ));
}

fn abandon(app: &mut App) {
    let seq = app.calls.selected_row().map(|r| (r.target, r.seq));
    let Some(row) = seq.and_then(|(t, s)| {
        app.calls
            .history
            .iter_mut()
            .find(|r| r.target == t && r.seq == s)
    }) else {
        app.info("no call selected");
        return;
    };
    if row.status != Status::Pending {
        let msg = format!(
            "call #{} already finished ({})",
            row.seq,
            row.status.label()
        );
        app.info(msg);
        return;
    }
    row.status = Status::Abandoned;
    row.summary = "abandoned by you; a late reply is logged and dropped".into();
    let (target, seq) = (row.target, row.seq);
    if let Some(s) = app.calls.state.get_mut(target) {
        s.pending = s.pending.saturating_sub(1);
        s.failures += 1;
    }
    app.calls.outbox.push(CallsCmd::Abandon { target, seq });
    app.info(format!("abandoned call #{seq}"));
}

/// `:call TARGET COMMAND [k=v …]` and `:rpc TARGET PATH [JSON-ARGS]`: opens
/// the form prefilled (it never sends by itself, as the console spec asks of
/// write commands on the command line).
pub fn command_line(app: &mut App, target: &str, command: &str, args: &str) {
    let c = &app.calls;
    let t = c
        .targets
        .iter()
        .position(|t| t.name == target || t.addr == target)
        .or_else(|| {
            target
                .parse::<usize>()
                .ok()
                .and_then(|n| n.checked_sub(1))
                .filter(|i| *i < c.targets.len())
        });
    let Some(ti) = t else {
        app.error(format!("no call target {target:?}"));
        return;
    };
    let info = &c.targets[ti];
    let named = info.commands.iter().position(|x| x.name() == command);
    let (index, values) = match (info.kind, named) {
        (Kind::Amp, Some(i)) => {
            let fields = match &info.commands[i] {
                CommandInfo::Amp { arguments, .. } => arguments.clone(),
                _ => Vec::new(),
            };
            let given: Vec<(&str, &str)> = args
                .split_whitespace()
                .filter_map(|w| w.split_once('='))
                .collect();
            let values = fields
                .iter()
                .map(|f| {
                    given
                        .iter()
                        .find(|(k, _)| *k == f.name)
                        .map(|(_, v)| v.to_string())
                        .unwrap_or_default()
                })
                .collect();
            (Some(i), values)
        }
        (Kind::Amp, None) => (
            info.commands.iter().position(|x| *x == CommandInfo::AmpRaw),
            vec![command.to_string(), args.to_string()],
        ),
        (Kind::Rpc, found) => (
            found.or_else(|| info.commands.iter().position(|x| x.name() == "(any path)")),
            vec![command.to_string(), args.to_string(), String::new()],
        ),
    };
    let Some(index) = index else {
        app.error(format!("{command}: not in the command list of {target}"));
        return;
    };
    app.tab = Tab::Calls;
    app.calls.focus = Focus::Commands;
    open_form(app, Some((ti, index, values)));
}

/// `:history save [FILE]`: the call history, oldest first, as JSON lines;
/// the main loop writes the file (default `calls-<time>.jsonl` in the working
/// directory).
pub fn save_history(app: &mut App, file: Option<String>) {
    let c = &app.calls;
    let mut out = String::new();
    for row in c.history.iter().rev() {
        let t = c.targets.get(row.target);
        let line = serde_json::json!({
            "seq": row.seq,
            "time": row.at,
            "target": t.map(|t| t.name.clone()),
            "kind": t.map(|t| t.kind.label()),
            "addr": t.map(|t| t.addr.clone()),
            "command": row.command,
            "request": row
                .request
                .iter()
                .map(|(k, v)| (k.clone(), serde_json::Value::String(v.clone())))
                .collect::<serde_json::Map<String, serde_json::Value>>(),
            "status": row.status.label(),
            "latency_ms": row.latency_ms,
            "reply": row.reply,
        });
        out.push_str(&line.to_string());
        out.push('\n');
    }
    let name = file.unwrap_or_else(|| format!("calls-{}.jsonl", app.now.max(0.0) as u64));
    let n = c.history.len();
    app.saved.push((name.clone(), out));
    app.info(format!("saving {n} calls to {name}"));
}

/// Text typed into the focused form field (keys the keymap does not bind).
pub fn text_input(app: &mut App, req: InputRequest) -> bool {
    let Some(f) = &mut app.calls.form else {
        return false;
    };
    if let Some(field) = f.fields.get_mut(f.focus) {
        if field.input.handle(req).is_some() {
            field.validate();
            f.edited = true;
            f.result = None;
        }
    }
    app.dirty = true;
    true
}

/// Bracketed paste into the focused form field.
pub fn paste(app: &mut App, text: &str) -> bool {
    if app.tab != Tab::Calls || app.calls.form.is_none() {
        return false;
    }
    for c in text.chars().filter(|c| !c.is_control()) {
        text_input(app, InputRequest::InsertChar(c));
    }
    true
}

/// Replaces the whole text of the focused field (tests and `e`).
pub fn set_field(app: &mut App, text: &str) {
    if let Some(f) = &mut app.calls.form {
        if let Some(field) = f.fields.get_mut(f.focus) {
            field.input = Input::new(text.to_string());
            field.validate();
            f.edited = true;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn median_of_latencies() {
        assert_eq!(median([3.0, 1.0, 2.0].into_iter()), Some(2.0));
        assert_eq!(median(std::iter::empty()), None);
        assert_eq!(median([f64::NAN].into_iter()), None);
    }

    #[test]
    fn rpc_failure_shows_first_and_last_traceback_line() {
        let t = TargetInfo {
            name: "sim".into(),
            kind: Kind::Rpc,
            addr: "x".into(),
            tls: false,
            timeout: DEFAULT_TIMEOUT,
            commands: Vec::new(),
        };
        let (s, summary, reply) = describe(
            &Outcome::Remote {
                code: "FAILURE".into(),
                description:
                    "Traceback (most recent call last):\n  File \"x\"\nValueError: boom\x1b[2J\n"
                        .into(),
            },
            Some(&t),
        );
        assert_eq!(s, Status::Error);
        assert!(summary.starts_with("Traceback"), "{summary}");
        assert!(summary.ends_with("ValueError: boom\\x1b[2J"), "{summary}");
        assert_eq!(reply.len(), 4);
    }
}
