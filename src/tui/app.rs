//! App state and `update`: pure, no IO (console spec sections 2-6 and 9).
//!
//! Every input becomes an [`AppEvent`]; keys resolve through the keymap to an
//! [`Action`]. Anything that needs IO is queued in `outbox` as a [`PoolCmd`] for the
//! main loop to `try_send`; replies come back as events. The clock is a field the
//! loop (or a test) sets, so the state machine is deterministic.

use std::collections::{HashMap, VecDeque};

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use tui_input::{Input, InputRequest};

use crate::tui::action::{Action, Scope};
use crate::tui::command::{self, Command, History};
use crate::tui::event::{AppEvent, Level, LogLine};
use crate::tui::filter::Filter;
use crate::tui::form::{self, Form};
use crate::tui::groups::GroupsCmd;
use crate::tui::keymap::{Chord, Keymap, Resolved};
use crate::tui::source::{PoolCmd, PoolEvent, PoolInfo, PoolStats, TailItem, TailRow};
use crate::tui::theme::Theme;
use crate::tui::widgets::ring::Ring;

/// The tabs, in order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tab {
    /// Engine cards.
    Overview,
    /// Pool list and tail.
    Pools,
    /// Hive browser (engine not built yet).
    Hive,
    /// AMP / simpy.io calls (engines not built yet).
    Calls,
    /// Spread groups (engine not built yet).
    Groups,
    /// The console's own log.
    Log,
}

impl Tab {
    /// All tabs in order.
    pub const ALL: [Tab; 6] = [
        Tab::Overview,
        Tab::Pools,
        Tab::Hive,
        Tab::Calls,
        Tab::Groups,
        Tab::Log,
    ];

    /// Long label.
    pub fn label(self) -> &'static str {
        ["Overview", "Pools", "Hive", "Calls", "Groups", "Log"][self.index()]
    }

    /// Short label (below 70 columns).
    pub fn short(self) -> &'static str {
        ["Ovw", "Pool", "Hive", "Call", "Grp", "Log"][self.index()]
    }

    /// Position, 0-based.
    pub fn index(self) -> usize {
        Tab::ALL.iter().position(|t| *t == self).unwrap_or(0)
    }
}

/// Input modes, shown in the footer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Keys go to the keymap.
    Normal,
    /// Editing a filter.
    Filter,
    /// Editing a command.
    Command,
    /// A form is open.
    Form,
    /// A confirm dialog is open.
    Confirm,
}

impl Mode {
    /// Footer label.
    pub fn label(self) -> &'static str {
        match self {
            Mode::Normal => "NORMAL",
            Mode::Filter => "FILTER",
            Mode::Command => "COMMAND",
            Mode::Form => "FORM",
            Mode::Confirm => "CONFIRM",
        }
    }
}

/// Which pane of the Pools view has focus.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PoolsFocus {
    /// The pool list.
    List,
    /// The tail.
    Tail,
}

/// A footer status message.
#[derive(Debug, Clone, PartialEq)]
pub struct Status {
    /// Text (already sanitised).
    pub text: String,
    /// Errors stay until the next key; info fades after 5 s.
    pub is_error: bool,
    /// When it was set.
    pub at: f64,
}

/// Sparkline samples kept (one per second).
pub const SPARK_LEN: usize = 60;

/// A per-second rate history.
#[derive(Debug, Clone, Default)]
pub struct Spark {
    /// Samples, oldest first.
    pub samples: VecDeque<u64>,
    last_total: Option<u64>,
}

impl Spark {
    /// Records a new cumulative total; the sample is the delta.
    pub fn sample_total(&mut self, total: u64) {
        let d = self
            .last_total
            .map(|l| total.saturating_sub(l))
            .unwrap_or(0);
        self.last_total = Some(total);
        self.push(d);
    }

    /// Pushes one sample.
    pub fn push(&mut self, v: u64) {
        self.samples.push_back(v);
        while self.samples.len() > SPARK_LEN {
            self.samples.pop_front();
        }
    }

    /// The latest sample.
    pub fn current(&self) -> u64 {
        self.samples.back().copied().unwrap_or(0)
    }
}

/// The tail of one pool.
#[derive(Debug, Clone)]
pub struct Tail {
    /// Pool being tailed.
    pub pool: Option<String>,
    /// Rows, capped.
    pub ring: Ring<TailRow>,
    /// Pool indices of rows matching the filter (all rows when no filter).
    pub visible: VecDeque<u64>,
    /// Follow newest.
    pub follow: bool,
    /// Proteins received since the pause.
    pub paused_new: u64,
    /// Proteins dropped or overwritten before being seen.
    pub dropped: u64,
    /// Selected position in `visible`.
    pub sel: usize,
    /// Descrip filter.
    pub filter: Filter,
    /// While paused: the newest index that was on screen, so the view stays still.
    pub pause_bottom: Option<u64>,
}

/// Default tail cap (entries).
pub const TAIL_CAP: usize = 5000;
/// Default tail cap (bytes).
pub const TAIL_CAP_BYTES: usize = 32 << 20;

impl Tail {
    fn new(cap: usize, cap_bytes: usize) -> Tail {
        Tail {
            pool: None,
            ring: Ring::new(cap, cap_bytes),
            visible: VecDeque::new(),
            follow: true,
            paused_new: 0,
            dropped: 0,
            sel: 0,
            filter: Filter::default(),
            pause_bottom: None,
        }
    }

    fn reset(&mut self, pool: Option<String>) {
        self.pool = pool;
        self.ring.clear();
        self.visible.clear();
        self.follow = true;
        self.paused_new = 0;
        self.dropped = 0;
        self.sel = 0;
    }

    /// Row with pool index `index`, by binary search (indices arrive in order).
    pub fn row(&self, index: u64) -> Option<&TailRow> {
        let (mut lo, mut hi) = (0usize, self.ring.len());
        while lo < hi {
            let mid = (lo + hi) / 2;
            let r = self.ring.get(mid)?;
            match r.index.cmp(&index) {
                std::cmp::Ordering::Equal => return Some(r),
                std::cmp::Ordering::Less => lo = mid + 1,
                std::cmp::Ordering::Greater => hi = mid,
            }
        }
        None
    }

    /// The visible row at position `pos`.
    pub fn visible_row(&self, pos: usize) -> Option<&TailRow> {
        self.visible.get(pos).and_then(|i| self.row(*i))
    }

    /// The selected row.
    pub fn selected(&self) -> Option<&TailRow> {
        self.visible_row(self.sel)
    }

    fn push(&mut self, item: TailItem) {
        if let Some(last) = self.ring.back() {
            // an index at or below the newest means the source restarted the tail
            if item.index <= last.index {
                return;
            }
        }
        let row = TailRow::new(item);
        let matches = self.filter.matches(&row.descrips_lower);
        let index = row.index;
        self.ring.push(row);
        if matches {
            self.visible.push_back(index);
        }
        let oldest = self.ring.get(0).map(|r| r.index).unwrap_or(0);
        let mut gone = 0;
        while self.visible.front().is_some_and(|i| *i < oldest) {
            self.visible.pop_front();
            gone += 1;
        }
        if self.follow {
            self.sel = self.visible.len().saturating_sub(1);
        } else {
            self.paused_new += 1;
            self.sel = self.sel.saturating_sub(gone);
        }
    }

    fn refilter(&mut self) {
        let keep = self.selected().map(|r| r.index);
        self.visible = self
            .ring
            .iter()
            .filter(|r| self.filter.matches(&r.descrips_lower))
            .map(|r| r.index)
            .collect();
        self.sel = match (self.follow, keep) {
            (false, Some(k)) => self.visible.iter().position(|i| *i >= k).unwrap_or(0),
            _ => self.visible.len().saturating_sub(1),
        };
    }

    fn set_follow(&mut self, on: bool) {
        self.follow = on;
        self.paused_new = 0;
        if on {
            self.sel = self.visible.len().saturating_sub(1);
            self.pause_bottom = None;
        } else {
            self.pause_bottom = self.visible.back().copied();
        }
    }

    /// First visible position for a window of `rows` rows: the newest rows while
    /// following; while paused, the window stays where it was and only moves to
    /// keep the selection in view.
    pub fn window_start(&self, rows: usize) -> usize {
        let n = self.visible.len();
        if self.follow || rows == 0 {
            return n.saturating_sub(rows);
        }
        let bottom = match self.pause_bottom {
            Some(b) => self.visible.partition_point(|i| *i <= b),
            None => n,
        };
        let mut start = bottom.saturating_sub(rows);
        if self.sel < start {
            start = self.sel;
        } else if self.sel >= start + rows {
            start = self.sel + 1 - rows;
        }
        start.min(n.saturating_sub(1))
    }
}

/// State of the Pools view.
#[derive(Debug, Clone)]
pub struct Pools {
    /// All pools, as the engine reported them.
    pub list: Vec<PoolInfo>,
    /// Selected position in the filtered list.
    pub sel: usize,
    /// Name filter.
    pub name_filter: Filter,
    /// Deposit-rate history per pool.
    pub rates: HashMap<String, Spark>,
    /// The tail.
    pub tail: Tail,
    /// Focused pane.
    pub focus: PoolsFocus,
    /// Where local pools live (shown in the empty state).
    pub dir: String,
}

impl Pools {
    /// Pools matching the name filter.
    pub fn filtered(&self) -> Vec<&PoolInfo> {
        self.list
            .iter()
            .filter(|p| self.name_filter.matches_text(&p.name))
            .collect()
    }

    /// The selected pool.
    pub fn selected(&self) -> Option<&PoolInfo> {
        self.filtered().get(self.sel).copied()
    }
}

/// The protein detail overlay.
#[derive(Debug, Clone, PartialEq)]
pub struct Detail {
    /// Pool index shown.
    pub index: u64,
    /// Hex view instead of YAML.
    pub hex: bool,
    /// Wrap long lines.
    pub wrap: bool,
    /// Scroll offset (lines).
    pub scroll: usize,
}

/// What a confirm dialog does on yes.
#[derive(Debug, Clone, PartialEq)]
pub enum OnYes {
    /// Send a pool command.
    Pool(PoolCmd),
    /// Leave a group.
    LeaveGroup(String),
    /// Quit, abandoning pending writes.
    Quit,
    /// Close the open form, dropping its edits.
    DiscardForm,
    /// Send a hive write.
    Hive(crate::tui::hive::Write),
}

/// A confirm dialog: says what will happen; defaults to No.
#[derive(Debug, Clone, PartialEq)]
pub struct Confirm {
    /// Title.
    pub title: String,
    /// Body lines.
    pub lines: Vec<String>,
    /// Action on yes.
    pub on_yes: OnYes,
    /// Whether the Yes button is highlighted.
    pub yes_selected: bool,
}

/// Overlays (one at a time; a confirm may sit on top of a form).
#[derive(Debug, Clone)]
pub enum Overlay {
    /// Help generated from the keymap.
    Help {
        /// Scroll offset.
        scroll: usize,
    },
    /// Protein detail.
    Detail(Detail),
    /// A form.
    Form(Form),
}

/// The footer input (filter or command).
#[derive(Debug, Clone)]
pub struct Line {
    /// Filter or command.
    pub mode: Mode,
    /// The input.
    pub input: Input,
    /// Filter text before editing (restored on Esc).
    pub before: String,
    /// Completion candidates and the highlighted one.
    pub completion: Option<(Vec<String>, usize, usize)>,
    /// Error with the offending word.
    pub error: Option<(String, String)>,
}

/// The Log view.
#[derive(Debug, Clone)]
pub struct Log {
    /// Records, capped at 5,000.
    pub ring: Ring<LogLine>,
    /// Minimum level shown.
    pub min_level: Level,
    /// Text filter.
    pub filter: Filter,
    /// Follow newest.
    pub follow: bool,
    /// Offset from the bottom when paused.
    pub scroll_back: usize,
    /// Wrap long lines.
    pub wrap: bool,
    /// Warnings/errors not seen yet (shown on the tab label).
    pub unseen: u64,
    /// Records received while paused.
    pub paused_new: u64,
    /// Log file path, shown in the title.
    pub path: String,
}

impl Log {
    /// Records passing level and text filter, oldest first.
    pub fn shown(&self) -> Vec<&LogLine> {
        self.ring
            .iter()
            .filter(|l| {
                l.level >= self.min_level
                    && (self.filter.is_empty()
                        || self
                            .filter
                            .matches_text(&format!("{} {}", l.target, l.message)))
            })
            .collect()
    }
}

/// Settings fixed at start.
#[derive(Debug, Clone)]
pub struct Settings {
    /// `--readonly`.
    pub readonly: bool,
    /// Tail cap in entries.
    pub tail_cap: usize,
    /// Tail cap in bytes.
    pub tail_cap_bytes: usize,
    /// Local pools directory (display only).
    pub pools_dir: String,
    /// Log file path (display only).
    pub log_path: String,
    /// Show times in UTC instead of local time.
    pub utc: bool,
    /// Offset of local time from UTC in seconds (fixed at start; 0 in tests).
    pub utc_offset: i64,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            readonly: false,
            tail_cap: TAIL_CAP,
            tail_cap_bytes: TAIL_CAP_BYTES,
            pools_dir: String::new(),
            log_path: String::new(),
            utc: true,
            utc_offset: 0,
        }
    }
}

/// Draw timing and tail lag, recorded by the main loop (read by `bench console`).
#[derive(Debug, Clone, Default)]
pub struct FrameStats {
    /// Frames drawn.
    pub frames: u64,
    /// Sum of draw times, nanoseconds.
    pub draw_ns_total: u64,
    /// Slowest draw, nanoseconds.
    pub draw_ns_max: u64,
    /// Per frame: seconds between the newest shown protein's deposit and the draw
    /// (bounded sample).
    pub lag: Vec<f32>,
}

impl FrameStats {
    /// Records one frame.
    pub fn record(&mut self, draw_ns: u64, lag: Option<f64>) {
        self.frames += 1;
        self.draw_ns_total += draw_ns;
        self.draw_ns_max = self.draw_ns_max.max(draw_ns);
        if let Some(l) = lag {
            if self.lag.len() < 100_000 {
                self.lag.push(l as f32);
            }
        }
    }
}

/// The whole console state.
#[derive(Debug, Clone)]
pub struct App {
    /// Active tab.
    pub tab: Tab,
    /// Theme in use.
    pub theme: Theme,
    /// Key table.
    pub keymap: Keymap,
    /// Fixed settings.
    pub settings: Settings,
    /// Current time, seconds since the epoch (set by the loop or a test).
    pub now: f64,
    /// Terminal size.
    pub size: (u16, u16),
    /// Pools view.
    pub pools: Pools,
    /// Latest pool counters.
    pub pool_stats: PoolStats,
    /// Total proteins/s across pools.
    pub pool_rate: Spark,
    /// Log view.
    pub log: Log,
    /// Overview frozen (`f`).
    pub overview_frozen: bool,
    /// Snapshot of stats/rates shown while frozen.
    pub overview_snapshot: Option<(PoolStats, Spark)>,
    /// Selected overview card.
    pub overview_sel: usize,
    /// Open overlay.
    pub overlay: Option<Overlay>,
    /// Open confirm dialog.
    pub confirm: Option<Confirm>,
    /// Footer input line.
    pub line: Option<Line>,
    /// Command history.
    pub history: History,
    /// Footer status.
    pub status: Option<Status>,
    /// Pending key-sequence prefix and when it started.
    pub pending_keys: Vec<Chord>,
    pending_at: f64,
    interrupt_at: Option<f64>,
    /// Writes sent and not answered (descriptions).
    pub in_flight: Vec<String>,
    /// Commands for the engine, drained by the main loop.
    pub outbox: Vec<PoolCmd>,
    /// Set when the app should exit.
    pub quit: bool,
    /// Set when the terminal should suspend (Ctrl-z).
    pub suspend: bool,
    /// Set when the terminal should be fully redrawn (Ctrl-l).
    pub full_redraw: bool,
    /// Something changed since the last draw.
    pub dirty: bool,
    /// A `:debug panic` was requested (debug builds).
    pub debug_panic: bool,
    /// Detail saved-file counter (names `protein-<pool>-<index>.yaml`).
    pub saved: Vec<(String, String)>,
    /// Draw timing.
    pub frame_stats: FrameStats,
    /// Calls view (AMP and simpy.io targets, form, history).
    pub calls: crate::tui::calls::Calls,
    /// Groups view.
    pub groups: crate::tui::groups::Groups,
    /// Hive view.
    pub hive: crate::tui::hive::Hive,
}

impl App {
    /// A fresh app.
    pub fn new(theme: Theme, keymap: Keymap, settings: Settings) -> App {
        let tail = Tail::new(settings.tail_cap, settings.tail_cap_bytes);
        App {
            tab: Tab::Overview,
            theme,
            keymap,
            now: 0.0,
            size: (120, 36),
            pools: Pools {
                list: Vec::new(),
                sel: 0,
                name_filter: Filter::default(),
                rates: HashMap::new(),
                tail,
                focus: PoolsFocus::List,
                dir: settings.pools_dir.clone(),
            },
            pool_stats: PoolStats::default(),
            pool_rate: Spark::default(),
            log: Log {
                ring: Ring::new(5000, 8 << 20),
                min_level: Level::Info,
                filter: Filter::default(),
                follow: true,
                scroll_back: 0,
                wrap: false,
                unseen: 0,
                paused_new: 0,
                path: settings.log_path.clone(),
            },
            settings,
            overview_frozen: false,
            overview_snapshot: None,
            overview_sel: 0,
            overlay: None,
            confirm: None,
            line: None,
            history: History::default(),
            status: None,
            pending_keys: Vec::new(),
            pending_at: 0.0,
            interrupt_at: None,
            in_flight: Vec::new(),
            outbox: Vec::new(),
            quit: false,
            suspend: false,
            full_redraw: false,
            dirty: true,
            debug_panic: false,
            saved: Vec::new(),
            frame_stats: FrameStats::default(),
            calls: crate::tui::calls::Calls::default(),
            groups: crate::tui::groups::Groups::default(),
            hive: crate::tui::hive::Hive::default(),
        }
    }

    /// The current mode.
    pub fn mode(&self) -> Mode {
        if self.confirm.is_some() {
            Mode::Confirm
        } else if let Some(l) = &self.line {
            l.mode
        } else if matches!(self.overlay, Some(Overlay::Form(_)))
            || self.hive.form.is_some()
            || (self.tab == Tab::Calls && self.overlay.is_none() && self.calls.is_editing())
        {
            Mode::Form
        } else {
            Mode::Normal
        }
    }

    /// Scopes of the view beneath any overlay or input (for the help overlay).
    pub fn view_scopes(&self) -> Vec<Scope> {
        let view = match self.tab {
            Tab::Overview => Some(Scope::Overview),
            Tab::Pools => Some(match self.pools.focus {
                PoolsFocus::List => Scope::PoolList,
                PoolsFocus::Tail => Scope::Tail,
            }),
            Tab::Log => Some(Scope::Log),
            Tab::Calls => Some(self.calls_scope()),
            Tab::Groups => Some(Scope::Groups),
            Tab::Hive => Some(self.hive_scope()),
        };
        view.into_iter().chain([Scope::Global]).collect()
    }

    /// Scopes consulted for a key, narrowest first.
    pub fn scopes(&self) -> Vec<Scope> {
        if self.confirm.is_some() {
            return vec![Scope::Confirm];
        }
        if let Some(l) = &self.line {
            return vec![if l.mode == Mode::Filter {
                Scope::Filter
            } else {
                Scope::Command
            }];
        }
        if self.hive.form.is_some() {
            return vec![Scope::Form];
        }
        match &self.overlay {
            Some(Overlay::Form(_)) => return vec![Scope::Form],
            Some(Overlay::Help { .. }) => return vec![Scope::Help],
            Some(Overlay::Detail(_)) => return vec![Scope::Detail],
            None => {}
        }
        if self.tab == Tab::Calls && self.calls.is_editing() {
            // the form takes every key but Ctrl-c's double press
            return vec![Scope::CallForm];
        }
        let view = match self.tab {
            Tab::Overview => Some(Scope::Overview),
            Tab::Pools => Some(match self.pools.focus {
                PoolsFocus::List => Scope::PoolList,
                PoolsFocus::Tail => Scope::Tail,
            }),
            Tab::Log => Some(Scope::Log),
            Tab::Calls => Some(self.calls_scope()),
            Tab::Groups => Some(Scope::Groups),
            Tab::Hive => Some(self.hive_scope()),
        };
        view.into_iter().chain([Scope::Global]).collect()
    }

    /// The Calls view's scope: the form while it is open, else the focused pane.
    fn calls_scope(&self) -> Scope {
        use crate::tui::calls::Focus;
        if self.calls.is_editing() {
            return Scope::CallForm;
        }
        match self.calls.focus {
            Focus::Targets if self.size.0 < 100 => Scope::CallTargetLine,
            Focus::Targets => Scope::CallTargets,
            Focus::Commands => Scope::CallCommands,
            Focus::History => Scope::CallHistory,
        }
    }

    /// Number of pending writes (in flight + forms with unsent edits).
    pub fn pending_writes(&self) -> Vec<String> {
        let mut v: Vec<String> = self
            .in_flight
            .iter()
            .map(|w| format!("{w} (in flight)"))
            .collect();
        if let Some(Overlay::Form(f)) = &self.overlay {
            if f.edited {
                v.push(format!("{} form (unsent)", f.title()));
            }
        }
        v.extend(self.calls.pending_writes());
        if let Some(f) = &self.hive.form {
            if f.edited {
                v.push(format!("{} form (unsent)", f.title()));
            }
        }
        v
    }

    /// Sets an info message.
    pub fn info(&mut self, text: impl Into<String>) {
        self.status = Some(Status {
            text: crate::tui::text::sanitize(&text.into()),
            is_error: false,
            at: self.now,
        });
        self.dirty = true;
    }

    /// Sets an error message.
    pub fn error(&mut self, text: impl Into<String>) {
        self.status = Some(Status {
            text: crate::tui::text::sanitize(&text.into()),
            is_error: true,
            at: self.now,
        });
        self.dirty = true;
    }

    /// Applies one event.
    pub fn handle(&mut self, ev: AppEvent) {
        match ev {
            AppEvent::Key(k) => self.on_key(k),
            AppEvent::Paste(text) => self.on_paste(&text),
            AppEvent::Resize(w, h) => {
                self.size = (w, h);
                self.dirty = true;
            }
            AppEvent::Tick => self.on_tick(),
            AppEvent::Pool(ev) => self.on_pool(ev),
            AppEvent::PoolStats(s) => {
                if s != self.pool_stats {
                    self.pool_stats = s;
                    self.dirty = true;
                }
            }
            AppEvent::Log(line) => self.on_log(line),
            AppEvent::Calls(ev) => {
                self.calls.on_event(ev, self.now);
                if self.tab == Tab::Calls || self.tab == Tab::Overview {
                    self.dirty = true;
                }
            }
            AppEvent::Click(x, y) => self.on_click(x, y),
            AppEvent::Groups(ev) => {
                self.groups.apply(ev, self.now);
                self.dirty = true;
            }
            AppEvent::GroupsStats(st) => {
                if st != self.groups.stats {
                    self.groups.set_stats(st);
                    self.dirty = true;
                }
            }
            AppEvent::Hive(m) => self.on_hive(m),
        }
    }

    /// A click on the header selects a tab (the header layout is recomputed the
    /// way `ui::draw_header` lays it out).
    fn on_click(&mut self, x: u16, y: u16) {
        if y != 0 || self.overlay.is_some() || self.confirm.is_some() {
            return;
        }
        let short = self.size.0 < 70;
        let mut col = 11u16;
        for t in Tab::ALL {
            let label = if short { t.short() } else { t.label() };
            let w = label.chars().count() as u16 + 4;
            if x >= col && x < col + w {
                self.set_tab(t);
                self.dirty = true;
                return;
            }
            col += w;
        }
    }

    fn on_tick(&mut self) {
        for p in &self.pools.list {
            let total = p.newest.map(|n| n + 1).unwrap_or(0);
            self.pools
                .rates
                .entry(p.name.clone())
                .or_default()
                .sample_total(total);
        }
        self.calls.on_tick(self.now);
        let sum: u64 = self.pools.rates.values().map(Spark::current).sum();
        self.pool_rate.push(sum);
        self.groups.tick();
        self.hive.tick();
        if let Some(s) = &self.status {
            if !s.is_error && self.now - s.at >= 5.0 {
                self.status = None;
            }
        }
        if !self.pending_keys.is_empty() && self.now - self.pending_at >= 1.0 {
            self.pending_keys.clear();
        }
        self.dirty = true;
    }

    fn on_log(&mut self, line: LogLine) {
        if line.level >= Level::Warn && self.tab != Tab::Log {
            self.log.unseen += 1;
        }
        if !self.log.follow {
            self.log.paused_new += 1;
            self.log.scroll_back += 1;
        }
        self.log.ring.push(line);
        if self.tab == Tab::Log || self.log.unseen > 0 {
            self.dirty = true;
        }
    }

    fn on_pool(&mut self, ev: PoolEvent) {
        match ev {
            PoolEvent::List(list) => {
                let first = self.pools.list.is_empty() && !list.is_empty();
                self.pools.list = list;
                let n = self.pools.filtered().len();
                if self.pools.sel >= n {
                    self.pools.sel = n.saturating_sub(1);
                }
                if first || self.pools.tail.pool.is_none() {
                    self.retail();
                }
                if let Some(t) = &self.pools.tail.pool {
                    if !self.pools.list.iter().any(|p| &p.name == t) {
                        self.pools.tail.reset(None);
                        self.retail();
                    }
                }
            }
            PoolEvent::Protein(item) => {
                if self.pools.tail.pool.as_deref() != Some(item.pool.as_str()) {
                    return;
                }
                if let Some(p) = self.pools.list.iter_mut().find(|p| p.name == item.pool) {
                    p.newest = Some(p.newest.map_or(item.index, |n| n.max(item.index)));
                    if p.oldest.is_none() {
                        p.oldest = Some(item.index);
                    }
                }
                self.pools.tail.push(item);
            }
            PoolEvent::Dropped { pool, count } => {
                if self.pools.tail.pool.as_deref() == Some(pool.as_str()) {
                    self.pools.tail.dropped += count;
                }
            }
            PoolEvent::Deposited { pool, result } => {
                let key = format!("deposit {pool}");
                if let Some(i) = self.in_flight.iter().position(|w| *w == key) {
                    self.in_flight.remove(i);
                }
                let msg = match &result {
                    Ok(i) => Ok(format!("deposited #{i}")),
                    Err(r) => Err(r.to_string()),
                };
                if let Some(Overlay::Form(f)) = &mut self.overlay {
                    if f.kind == form::Kind::Deposit {
                        f.in_flight = false;
                        // a refused deposit leaves the typed protein unsent
                        f.edited = msg.is_err();
                        f.result = Some(msg.clone());
                    }
                }
                match msg {
                    Ok(m) => self.info(format!("{m} in {pool}")),
                    Err(e) => self.error(format!("deposit into {pool}: {e}")),
                }
            }
            PoolEvent::Admin { what, result } => {
                if let Some(i) = self.in_flight.iter().position(|w| *w == what) {
                    self.in_flight.remove(i);
                }
                match result {
                    Ok(()) => self.info(format!("{what}: done")),
                    Err(r) => self.error(format!("{what}: {r}")),
                }
                self.outbox.push(PoolCmd::Refresh);
            }
            PoolEvent::Failed(e) => self.error(format!("pools: {e}")),
        }
        self.dirty = true;
    }

    /// Starts tailing the selected pool if it is not the one tailed.
    fn retail(&mut self) {
        let Some(name) = self.pools.selected().map(|p| p.name.clone()) else {
            return;
        };
        if self.pools.tail.pool.as_deref() == Some(name.as_str()) {
            return;
        }
        self.pools.tail.reset(Some(name.clone()));
        self.outbox.push(PoolCmd::Tail {
            pool: name,
            backlog: 200,
        });
    }

    fn on_paste(&mut self, text: &str) {
        if self.line.is_none() && self.overlay.is_none() && crate::tui::calls::paste(self, text) {
            return;
        }
        let clean: String = text.chars().filter(|c| !c.is_control()).collect();
        let input = if let Some(l) = &mut self.line {
            Some(&mut l.input)
        } else if let Some(Overlay::Form(f)) = &mut self.overlay {
            f.edited = true;
            f.fields.get_mut(f.focus).map(|fl| &mut fl.input)
        } else if let Some(f) = &mut self.hive.form {
            f.edited = true;
            f.fields.get_mut(f.focus).map(|fl| &mut fl.input)
        } else {
            None
        };
        if let Some(input) = input {
            for c in clean.chars() {
                input.handle(InputRequest::InsertChar(c));
            }
            self.after_input_edit();
        }
        self.dirty = true;
    }

    fn on_key(&mut self, key: KeyEvent) {
        self.dirty = true;
        if self.status.as_ref().is_some_and(|s| s.is_error) {
            self.status = None;
        }
        let Some(chord) = Chord::from_event(&key) else {
            return;
        };
        // Ctrl-c always reaches the app: a second press within 2 s quits outright.
        let is_ctrl_c = key.code == KeyCode::Char('c') && key.modifiers == KeyModifiers::CONTROL;
        if is_ctrl_c && self.line.is_none() {
            if let Some(at) = self.interrupt_at {
                if self.now - at <= 2.0 {
                    self.quit = true;
                    return;
                }
            }
            self.interrupt_at = Some(self.now);
        }
        if self.pending_keys.is_empty() {
            self.pending_at = self.now;
        }
        let scopes = self.scopes();
        let pending = std::mem::take(&mut self.pending_keys);
        match self.keymap.resolve(&scopes, &pending, chord) {
            Resolved::Action(a) => self.update(a),
            Resolved::Pending => {
                self.pending_keys = {
                    let mut p = pending;
                    p.push(chord);
                    p
                }
            }
            Resolved::Unbound => {
                if !pending.is_empty() {
                    // an abandoned sequence: try the key on its own
                    if let Resolved::Action(a) = self.keymap.resolve(&scopes, &[], chord) {
                        self.update(a);
                        return;
                    }
                }
                self.text_key(key)
            }
        }
    }

    /// Keys not bound in an input context edit the input.
    fn text_key(&mut self, key: KeyEvent) {
        let ev = crossterm::event::Event::Key(key);
        let Some(req) = tui_input::backend::crossterm::to_input_request(&ev) else {
            return;
        };
        if let Some(l) = &mut self.line {
            l.input.handle(req);
            l.completion = None;
            l.error = None;
            self.after_input_edit();
        } else if let Some(Overlay::Form(f)) = &mut self.overlay {
            if let Some(fl) = f.fields.get_mut(f.focus) {
                if fl.input.handle(req).is_some() {
                    f.edited = true;
                    f.result = None;
                }
            }
        } else if self.tab == Tab::Calls && self.calls.is_editing() {
            crate::tui::calls::text_input(self, req);
        } else if let Some(f) = &mut self.hive.form {
            if let Some(fl) = f.fields.get_mut(f.focus) {
                if fl.input.handle(req).is_some() {
                    f.edited = true;
                    f.result = None;
                }
            }
        }
    }

    /// Live filtering while typing.
    fn after_input_edit(&mut self) {
        let Some(l) = &self.line else { return };
        if l.mode != Mode::Filter {
            return;
        }
        let f = Filter::parse(l.input.value());
        self.apply_filter(f);
    }

    fn apply_filter(&mut self, f: Filter) {
        match (self.tab, self.pools.focus) {
            (Tab::Pools, PoolsFocus::Tail) => {
                self.pools.tail.filter = f;
                self.pools.tail.refilter();
            }
            (Tab::Pools, PoolsFocus::List) => {
                self.pools.name_filter = f;
                self.pools.sel = 0;
            }
            (Tab::Log, _) => self.log.filter = f,
            (Tab::Calls, _) => {
                self.calls.history_filter = f;
                self.calls.sel_history = 0;
                self.calls.focus = crate::tui::calls::Focus::History;
            }
            (Tab::Hive, _) => self.hive.set_filter(&f.text),
            _ => {}
        }
    }

    fn current_filter_text(&self) -> String {
        match (self.tab, self.pools.focus) {
            (Tab::Pools, PoolsFocus::Tail) => self.pools.tail.filter.text.clone(),
            (Tab::Pools, PoolsFocus::List) => self.pools.name_filter.text.clone(),
            (Tab::Log, _) => self.log.filter.text.clone(),
            (Tab::Calls, _) => self.calls.history_filter.text.clone(),
            (Tab::Hive, _) => self.hive.filter_text.clone(),
            _ => String::new(),
        }
    }

    fn body_rows(&self) -> usize {
        usize::from(self.size.1.saturating_sub(4)).max(1)
    }

    /// Applies one action.
    pub fn update(&mut self, action: Action) {
        self.dirty = true;
        if action.is_write() && self.settings.readonly {
            let what = action.name().split('.').nth(1).unwrap_or("write");
            self.error(format!("read-only: {what} disabled"));
            return;
        }
        if self.overlay.is_none()
            && self.confirm.is_none()
            && self.line.is_none()
            && crate::tui::calls::update(self, action)
        {
            return;
        }
        if self.hive.form.is_some()
            && matches!(
                action,
                Action::FormNext | Action::FormPrev | Action::FormSend | Action::FormCancel
            )
        {
            return self.hive_form_action(action);
        }
        match action {
            Action::Quit => self.request_quit(),
            Action::Interrupt => self.request_quit(),
            Action::Help => self.overlay = Some(Overlay::Help { scroll: 0 }),
            Action::CommandLine => {
                self.line = Some(Line {
                    mode: Mode::Command,
                    input: Input::default(),
                    before: String::new(),
                    completion: None,
                    error: None,
                });
                self.history.reset();
            }
            Action::Filter => {
                if matches!(self.tab, Tab::Pools | Tab::Log | Tab::Calls | Tab::Hive) {
                    let before = self.current_filter_text();
                    self.line = Some(Line {
                        mode: Mode::Filter,
                        input: Input::new(before.clone()),
                        before,
                        completion: None,
                        error: None,
                    });
                } else {
                    self.info("nothing to filter here");
                }
            }
            Action::Back => self.back(),
            Action::Redraw => self.full_redraw = true,
            Action::Suspend => self.suspend = true,
            Action::NextTab => self.set_tab(Tab::ALL[(self.tab.index() + 1) % 6]),
            Action::PrevTab => self.set_tab(Tab::ALL[(self.tab.index() + 5) % 6]),
            Action::Tab1 => self.set_tab(Tab::Overview),
            Action::Tab2 => self.set_tab(Tab::Pools),
            Action::Tab3 => self.set_tab(Tab::Hive),
            Action::Tab4 => self.set_tab(Tab::Calls),
            Action::Tab5 => self.set_tab(Tab::Groups),
            Action::Tab6 => self.set_tab(Tab::Log),
            Action::Up => self.move_by(-1),
            Action::Down => self.move_by(1),
            Action::HalfUp => self.move_by(-(self.body_rows() as i64 / 2)),
            Action::HalfDown => self.move_by(self.body_rows() as i64 / 2),
            Action::PageUp => self.move_by(-(self.body_rows() as i64)),
            Action::PageDown => self.move_by(self.body_rows() as i64),
            Action::Top => self.move_by(i64::MIN / 2),
            Action::Bottom => {
                self.move_by(i64::MAX / 2);
                self.set_follow(true);
            }
            Action::Left => {
                if self.tab == Tab::Pools {
                    self.pools.focus = PoolsFocus::List;
                }
                if self.tab == Tab::Hive {
                    self.hive.left();
                }
            }
            Action::Right => {
                if self.tab == Tab::Hive {
                    self.update(Action::Enter);
                }
                if self.tab == Tab::Pools {
                    self.retail();
                    self.pools.focus = PoolsFocus::Tail;
                }
            }
            Action::Enter => self.enter(),
            Action::Follow => self.toggle_follow(),
            Action::Deposit => {
                let pool = self
                    .pools
                    .tail
                    .pool
                    .clone()
                    .or_else(|| self.pools.selected().map(|p| p.name.clone()))
                    .unwrap_or_default();
                self.overlay = Some(Overlay::Form(Form::deposit(&pool)));
            }
            Action::CreatePool => self.overlay = Some(Overlay::Form(Form::create("", "64M"))),
            Action::ResizePool => match self.pools.selected() {
                Some(p) => {
                    let cap = format!("{}M", (p.capacity * 2) >> 20);
                    self.overlay = Some(Overlay::Form(Form::resize(&p.name, &cap)));
                }
                None => self.error("no pool selected"),
            },
            Action::DisposePool => match self.pools.selected() {
                Some(p) => self.confirm_dispose(p.name.clone()),
                None => self.error("no pool selected"),
            },
            Action::Refresh => {
                self.outbox.push(PoolCmd::Refresh);
                self.info("refreshing pools");
            }
            Action::DetailMode => self.with_detail(|d| {
                d.hex = !d.hex;
                d.scroll = 0;
            }),
            Action::Wrap => {
                if self.tab == Tab::Log && self.overlay.is_none() {
                    self.log.wrap = !self.log.wrap;
                } else {
                    self.with_detail(|d| d.wrap = !d.wrap);
                }
            }
            Action::DetailPrev => self.detail_step(-1),
            Action::DetailNext => self.detail_step(1),
            Action::DetailSave => self.detail_save(),
            Action::Close => self.overlay = None,
            Action::LevelUp => self.log.min_level = self.log.min_level.up(),
            Action::LevelDown => self.log.min_level = self.log.min_level.down(),
            Action::InputAccept => self.accept_line(),
            Action::InputCancel => {
                if let Some(l) = self.line.take() {
                    if l.mode == Mode::Filter {
                        self.apply_filter(Filter::parse(&l.before));
                    }
                }
            }
            Action::Complete => self.complete(1),
            Action::CompletePrev => self.complete(-1),
            Action::HistoryPrev => {
                if let Some(l) = &mut self.line {
                    if let Some(h) = self.history.prev(l.input.value()) {
                        l.input = Input::new(h);
                    }
                }
            }
            Action::HistoryNext => {
                if let Some(l) = &mut self.line {
                    if let Some(h) = self.history.newer() {
                        l.input = Input::new(h);
                    }
                }
            }
            Action::FormNext | Action::FormPrev => {
                if let Some(Overlay::Form(f)) = &mut self.overlay {
                    let n = f.fields.len();
                    f.focus = if action == Action::FormNext {
                        (f.focus + 1) % n
                    } else {
                        (f.focus + n - 1) % n
                    };
                }
            }
            Action::FormSend => self.form_send(),
            Action::FormCancel => {
                if let Some(Overlay::Form(f)) = &self.overlay {
                    if f.edited {
                        self.confirm = Some(Confirm {
                            title: "discard the form?".into(),
                            lines: vec![format!("the {} form has unsent edits", f.title())],
                            on_yes: OnYes::DiscardForm,
                            yes_selected: false,
                        });
                    } else {
                        self.overlay = None;
                    }
                }
            }
            Action::CallNew
            | Action::CallRerun
            | Action::CallEdit
            | Action::CallAbandon
            | Action::CallWatch => self.info("calls: open the Calls tab (4)"),
            Action::ConfirmYes => self.confirm_answer(true),
            Action::ConfirmNo => self.confirm_answer(false),
            Action::ConfirmToggle => {
                if let Some(c) = &mut self.confirm {
                    c.yes_selected = !c.yes_selected;
                }
            }
            Action::ConfirmActivate => {
                let yes = self.confirm.as_ref().is_some_and(|c| c.yes_selected);
                self.confirm_answer(yes);
            }
            Action::GroupJoin => self.prefill_command("join "),
            Action::GroupLeave => match self.groups.selected().cloned() {
                Some(g) => self.confirm_leave(g),
                None => self.error("no group selected"),
            },
            Action::GroupSend => match self.groups.selected().cloned() {
                Some(g) => self.prefill_command(&format!("send {g} ")),
                None => self.prefill_command("send "),
            },
            Action::GroupMessages => self.groups.show_messages = !self.groups.show_messages,
            Action::HivePut
            | Action::HiveUpdate
            | Action::HiveDelete
            | Action::HiveMode
            | Action::HiveMore
            | Action::HiveRefresh
            | Action::HiveSlices => self.hive_action(action),
        }
    }

    fn set_tab(&mut self, tab: Tab) {
        self.tab = tab;
        if tab == Tab::Log {
            self.log.unseen = 0;
        }
        if tab == Tab::Pools {
            self.retail();
        }
    }

    fn request_quit(&mut self) {
        let pending = self.pending_writes();
        if pending.is_empty() {
            self.quit = true;
            return;
        }
        self.confirm = Some(Confirm {
            title: "quit with pending writes?".into(),
            lines: pending,
            on_yes: OnYes::Quit,
            yes_selected: false,
        });
    }

    fn back(&mut self) {
        if self.overlay.is_some() {
            self.overlay = None;
        } else if self.tab == Tab::Pools && !self.pools.tail.filter.is_empty() {
            self.pools.tail.filter = Filter::default();
            self.pools.tail.refilter();
        } else if self.tab == Tab::Pools && !self.pools.name_filter.is_empty() {
            self.pools.name_filter = Filter::default();
        } else if self.tab == Tab::Log && !self.log.filter.is_empty() {
            self.log.filter = Filter::default();
        } else if self.tab == Tab::Hive && !self.hive.filter_text.is_empty() {
            self.hive.clear_filter();
        } else if self.tab == Tab::Pools && self.pools.focus == PoolsFocus::Tail {
            self.pools.focus = PoolsFocus::List;
        }
    }

    fn move_by(&mut self, delta: i64) {
        let step = |cur: usize, len: usize| -> usize {
            if len == 0 {
                return 0;
            }
            (cur as i64).saturating_add(delta).clamp(0, len as i64 - 1) as usize
        };
        match &mut self.overlay {
            Some(Overlay::Help { scroll }) => {
                *scroll = (*scroll as i64).saturating_add(delta).max(0) as usize;
                return;
            }
            Some(Overlay::Detail(d)) => {
                d.scroll = (d.scroll as i64).saturating_add(delta).max(0) as usize;
                return;
            }
            _ => {}
        }
        match self.tab {
            Tab::Overview => self.overview_sel = step(self.overview_sel, 5),
            Tab::Pools => match self.pools.focus {
                PoolsFocus::List => {
                    let n = self.pools.filtered().len();
                    self.pools.sel = step(self.pools.sel, n);
                    self.retail();
                }
                PoolsFocus::Tail => {
                    let t = &mut self.pools.tail;
                    let n = t.visible.len();
                    let new = step(t.sel, n);
                    if delta < 0 && t.follow && n > 0 {
                        // scrolling up pauses the tail
                        t.set_follow(false);
                    }
                    t.sel = new;
                }
            },
            Tab::Groups => {
                let n = self.groups.groups.len();
                self.groups.sel = step(self.groups.sel, n);
            }
            Tab::Hive => self.hive.move_by(delta),
            Tab::Log => {
                let n = self.log.shown().len();
                if delta < 0 && self.log.follow {
                    self.log.follow = false;
                    self.log.paused_new = 0;
                }
                let back = (self.log.scroll_back as i64 - delta).clamp(0, n as i64) as usize;
                self.log.scroll_back = back;
            }
            _ => {}
        }
    }

    fn set_follow(&mut self, on: bool) {
        match self.tab {
            Tab::Pools => self.pools.tail.set_follow(on),
            Tab::Log => {
                self.log.follow = on;
                self.log.paused_new = 0;
                if on {
                    self.log.scroll_back = 0;
                }
            }
            Tab::Overview => self.set_frozen(!on),
            Tab::Groups => {
                self.groups.paused = !on;
                self.groups.paused_new = 0;
            }
            _ => {}
        }
    }

    fn set_frozen(&mut self, frozen: bool) {
        self.overview_frozen = frozen;
        self.overview_snapshot = frozen.then(|| (self.pool_stats.clone(), self.pool_rate.clone()));
    }

    fn toggle_follow(&mut self) {
        match self.tab {
            Tab::Pools => {
                let on = !self.pools.tail.follow;
                self.pools.tail.set_follow(on);
                self.info(if on { "following" } else { "paused" });
            }
            Tab::Log => {
                let on = !self.log.follow;
                self.set_follow(on);
            }
            Tab::Overview => {
                let f = !self.overview_frozen;
                self.set_frozen(f);
            }
            Tab::Groups => {
                let on = self.groups.paused;
                self.set_follow(on);
                self.info(if on { "following" } else { "timeline paused" });
            }
            _ => self.info("nothing live here yet"),
        }
    }

    fn enter(&mut self) {
        match self.tab {
            Tab::Overview => {
                let tabs = [Tab::Pools, Tab::Hive, Tab::Calls, Tab::Calls, Tab::Groups];
                self.set_tab(tabs[self.overview_sel.min(4)]);
            }
            Tab::Pools => match self.pools.focus {
                PoolsFocus::List => {
                    self.retail();
                    self.pools.focus = PoolsFocus::Tail;
                }
                PoolsFocus::Tail => {
                    if let Some(r) = self.pools.tail.selected() {
                        let index = r.index;
                        self.pools.tail.set_follow(false);
                        self.overlay = Some(Overlay::Detail(Detail {
                            index,
                            hex: false,
                            wrap: false,
                            scroll: 0,
                        }));
                    }
                }
            },
            Tab::Hive => {
                let fx = self.hive.enter();
                self.apply_hive_effects(fx);
            }
            _ => {}
        }
    }

    fn with_detail(&mut self, f: impl FnOnce(&mut Detail)) {
        if let Some(Overlay::Detail(d)) = &mut self.overlay {
            f(d);
        }
    }

    fn detail_step(&mut self, delta: i64) {
        let Some(Overlay::Detail(d)) = &mut self.overlay else {
            return;
        };
        let t = &self.pools.tail;
        let Some(pos) = t.visible.iter().position(|i| *i == d.index) else {
            return;
        };
        let new = (pos as i64 + delta).clamp(0, t.visible.len() as i64 - 1) as usize;
        if let Some(i) = t.visible.get(new) {
            d.index = *i;
            d.scroll = 0;
            self.pools.tail.sel = new;
        }
    }

    fn detail_save(&mut self) {
        let Some(Overlay::Detail(d)) = &self.overlay else {
            return;
        };
        let Some(row) = self.pools.tail.row(d.index) else {
            return;
        };
        let name = format!("protein-{}-{}.yaml", row.item.pool, row.index);
        // the main loop writes the file; the app only records the request
        self.saved.push((name.clone(), row.item.yaml_text()));
        self.info(format!("saving {name}"));
    }

    fn confirm_dispose(&mut self, pool: String) {
        self.confirm = Some(Confirm {
            title: format!("dispose of pool {pool}?"),
            lines: vec![
                format!("pool {pool} and every protein in it will be deleted"),
                "this cannot be undone".into(),
            ],
            on_yes: OnYes::Pool(PoolCmd::Dispose { pool }),
            yes_selected: false,
        });
    }

    fn confirm_answer(&mut self, yes: bool) {
        let Some(c) = self.confirm.take() else { return };
        if !yes {
            return;
        }
        match c.on_yes {
            OnYes::Quit => {
                for w in self.pending_writes() {
                    tracing::warn!("quit abandons {w}");
                }
                self.quit = true;
            }
            OnYes::DiscardForm => {
                self.overlay = None;
                self.hive.form = None;
            }
            OnYes::LeaveGroup(g) => self.queue_group(GroupsCmd::Leave(g)),
            OnYes::Hive(w) => self.hive_confirmed(w),
            OnYes::Pool(cmd) => {
                let what = match &cmd {
                    PoolCmd::Create { pool, .. } => format!("create {pool}"),
                    PoolCmd::Resize { pool, .. } => format!("resize {pool}"),
                    PoolCmd::Dispose { pool } => format!("dispose {pool}"),
                    other => other.describe(),
                };
                self.in_flight.push(what);
                self.outbox.push(cmd);
                if matches!(self.overlay, Some(Overlay::Form(_))) {
                    self.overlay = None;
                }
            }
        }
    }

    fn form_send(&mut self) {
        let Some(Overlay::Form(f)) = &mut self.overlay else {
            return;
        };
        if f.in_flight {
            return;
        }
        match f.check() {
            Err((field, msg)) => {
                f.focus = field;
                f.result = Some(Err(msg));
            }
            Ok(cmd) => match &cmd {
                PoolCmd::Deposit { pool, .. } => {
                    f.in_flight = true;
                    // while in flight the edits count as the write itself, not twice
                    f.edited = false;
                    f.result = Some(Ok("sending…".into()));
                    self.in_flight.push(format!("deposit {pool}"));
                    self.outbox.push(cmd);
                }
                PoolCmd::Create { pool, capacity } | PoolCmd::Resize { pool, capacity } => {
                    let verb = if f.kind == form::Kind::Create {
                        "create"
                    } else {
                        "resize"
                    };
                    self.confirm = Some(Confirm {
                        title: format!("{verb} pool {pool}?"),
                        lines: vec![format!(
                            "{verb} pool {pool} with a capacity of {}",
                            crate::tui::text::iec(*capacity)
                        )],
                        on_yes: OnYes::Pool(cmd.clone()),
                        yes_selected: false,
                    });
                }
                _ => {}
            },
        }
    }

    fn complete(&mut self, dir: i64) {
        let pools: Vec<String> = self.pools.list.iter().map(|p| p.name.clone()).collect();
        let Some(l) = &mut self.line else { return };
        if l.mode != Mode::Command {
            return;
        }
        if let Some((cands, i, start)) = &mut l.completion {
            let n = cands.len() as i64;
            *i = ((*i as i64 + dir).rem_euclid(n)) as usize;
            let value = format!("{}{}", &l.input.value()[..*start], cands[*i]);
            l.input = Input::new(value);
            return;
        }
        let value = l.input.value().to_string();
        let (cands, start) = command::complete(&value, &pools);
        match cands.len() {
            0 => {}
            1 => l.input = Input::new(format!("{}{} ", &value[..start], cands[0])),
            _ => {
                l.input = Input::new(format!("{}{}", &value[..start], cands[0]));
                l.completion = Some((cands, 0, start));
            }
        }
    }

    fn accept_line(&mut self) {
        let Some(l) = self.line.take() else { return };
        if l.mode == Mode::Filter {
            self.apply_filter(Filter::parse(l.input.value()));
            return;
        }
        let text = l.input.value().trim().to_string();
        if text.is_empty() {
            return;
        }
        match command::parse(&text) {
            Err(e) => {
                // the line stays open and editable, with the bad word underlined
                self.line = Some(Line {
                    error: Some((e.message.clone(), e.word)),
                    ..l
                });
                self.error(e.message);
            }
            Ok(cmd) => {
                self.history.push(&text);
                self.run_command(cmd);
            }
        }
    }

    fn run_command(&mut self, cmd: Command) {
        match cmd {
            Command::Quit => self.request_quit(),
            Command::ForceQuit => self.quit = true,
            Command::Help => self.overlay = Some(Overlay::Help { scroll: 0 }),
            Command::Tab(i) => self.set_tab(Tab::ALL[i.min(5)]),
            Command::Tail(pool) => self.select_pool(&pool, true),
            Command::Deposit(pool) => {
                if self.settings.readonly {
                    self.error("read-only: deposit disabled");
                } else {
                    self.select_pool(&pool, false);
                    self.overlay = Some(Overlay::Form(Form::deposit(&pool)));
                }
            }
            Command::Create(pool, size) => {
                if self.settings.readonly {
                    self.error("read-only: create disabled");
                } else {
                    let s = size
                        .map(|s| format!("{}K", s >> 10))
                        .unwrap_or_else(|| "64M".into());
                    self.overlay = Some(Overlay::Form(Form::create(&pool, &s)));
                }
            }
            Command::Resize(pool, size) => {
                if self.settings.readonly {
                    self.error("read-only: resize disabled");
                } else {
                    let s = format!("{}K", size >> 10);
                    self.overlay = Some(Overlay::Form(Form::resize(&pool, &s)));
                }
            }
            Command::Dispose(pool) => {
                if self.settings.readonly {
                    self.error("read-only: dispose disabled");
                } else {
                    self.confirm_dispose(pool);
                }
            }
            Command::Theme(name) => match Theme::load(&name, None) {
                Ok(t) => {
                    self.theme = t;
                    self.info(format!("theme {name}"));
                }
                Err(e) => self.error(e.to_string()),
            },
            Command::Filter(expr) => {
                if self.tab != Tab::Pools {
                    self.set_tab(Tab::Pools);
                }
                self.pools.focus = PoolsFocus::Tail;
                self.apply_filter(Filter::parse(&expr));
            }
            Command::Join(g) => self.queue_group(GroupsCmd::Join(g)),
            Command::Leave(g) => {
                if self.settings.readonly {
                    self.error("read-only: leave disabled");
                } else {
                    self.confirm_leave(g);
                }
            }
            Command::Send(group, text) => self.queue_group(GroupsCmd::Send { group, text }),
            Command::NotBuilt(what) => self.error(format!("{what}: not built yet")),
            Command::Call {
                target,
                command,
                args,
            } => crate::tui::calls::command_line(self, &target, &command, &args),
            Command::HistorySave(file) => crate::tui::calls::save_history(self, file),
            Command::DebugPanic => self.debug_panic = true,
        }
    }

    /// Opens the command line with `text` typed.
    fn prefill_command(&mut self, text: &str) {
        self.line = Some(Line {
            mode: Mode::Command,
            input: Input::new(text.to_string()),
            before: String::new(),
            completion: None,
            error: None,
        });
        self.history.reset();
    }

    fn confirm_leave(&mut self, group: String) {
        self.confirm = Some(Confirm {
            title: format!("leave {group}?"),
            lines: vec![
                format!("this console stops receiving {group}'s messages"),
                "and its members see a LEAVE".into(),
            ],
            on_yes: OnYes::LeaveGroup(group),
            yes_selected: false,
        });
    }

    /// Queues a groups request; every one of them is a write, refused under
    /// `--readonly`.
    fn queue_group(&mut self, cmd: GroupsCmd) {
        if self.settings.readonly {
            let verb = cmd.describe();
            let verb = verb.split(' ').next().unwrap_or("write");
            self.error(format!("read-only: {verb} disabled"));
            return;
        }
        if !self.groups.attached {
            self.error("no groups daemon: start with --groups-daemon PORT@HOST or --demo");
            return;
        }
        self.set_tab(Tab::Groups);
        self.info(format!("{} requested", cmd.describe()));
        self.groups.outbox.push(cmd);
    }

    fn select_pool(&mut self, pool: &str, focus_tail: bool) {
        self.set_tab(Tab::Pools);
        self.pools.name_filter = Filter::default();
        match self.pools.list.iter().position(|p| p.name == pool) {
            Some(i) => {
                self.pools.sel = i;
                self.retail();
                if focus_tail {
                    self.pools.focus = PoolsFocus::Tail;
                }
            }
            None => self.error(format!("no pool named {pool:?}")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tui::source::{Location, Protein, Retort};
    use std::sync::Arc;

    fn app() -> App {
        let mut a = App::new(Theme::mono(), Keymap::default(), Settings::default());
        a.handle(AppEvent::Pool(PoolEvent::List(vec![PoolInfo {
            name: "demo".into(),
            location: Location::Demo,
            capacity: 1 << 20,
            used: 0,
            oldest: None,
            newest: None,
        }])));
        a
    }

    fn key(a: &mut App, k: &str) {
        for part in k.split(' ') {
            let c = Chord::parse(part).expect("key");
            a.handle(AppEvent::Key(c.to_event()));
        }
    }

    fn protein(a: &mut App, index: u64, descrip: &str) {
        a.handle(AppEvent::Pool(PoolEvent::Protein(TailItem {
            pool: "demo".into(),
            index,
            timestamp: 0.0,
            protein: Arc::new(Protein {
                descrips: vec![descrip.into()],
                ..Protein::default()
            }),
            raw: Arc::from(&b"xx"[..]),
            yaml: Arc::from("--- !protein"),
        })));
    }

    #[test]
    fn tail_pause_counts_new() {
        let mut a = app();
        key(&mut a, "2 enter");
        assert_eq!(a.outbox[0].describe(), "pools.tail demo");
        for i in 0..3 {
            protein(&mut a, i, "x");
        }
        key(&mut a, "f");
        assert!(!a.pools.tail.follow);
        for i in 3..8 {
            protein(&mut a, i, "x");
        }
        assert_eq!(a.pools.tail.paused_new, 5);
        assert_eq!(a.pools.tail.sel, 2, "selection stays put while paused");
        key(&mut a, "G");
        assert!(a.pools.tail.follow);
        assert_eq!(a.pools.tail.sel, 7);
    }

    #[test]
    fn scrolling_up_pauses() {
        let mut a = app();
        key(&mut a, "2 enter");
        for i in 0..5 {
            protein(&mut a, i, "x");
        }
        key(&mut a, "k");
        assert!(!a.pools.tail.follow);
        assert_eq!(a.pools.tail.sel, 3);
    }

    #[test]
    fn filter_applies_live_and_esc_restores() {
        let mut a = app();
        key(&mut a, "2 enter");
        for (i, d) in ["arf", "debug", "arf"].iter().enumerate() {
            protein(&mut a, i as u64, d);
        }
        key(&mut a, "/ a r f");
        assert_eq!(a.mode(), Mode::Filter);
        assert_eq!(a.pools.tail.visible.len(), 2);
        key(&mut a, "esc");
        assert_eq!(a.pools.tail.visible.len(), 3);
        key(&mut a, "/ a r f enter");
        assert_eq!(a.mode(), Mode::Normal);
        protein(&mut a, 3, "debug");
        protein(&mut a, 4, "arf");
        assert_eq!(a.pools.tail.visible.len(), 3);
        key(&mut a, "esc");
        assert!(a.pools.tail.filter.is_empty());
    }

    #[test]
    fn readonly_blocks_writes_and_sends_nothing() {
        let mut a = app();
        a.settings.readonly = true;
        key(&mut a, "2 d");
        assert!(a.overlay.is_none());
        assert!(a
            .status
            .as_ref()
            .is_some_and(|s| s.text == "read-only: deposit disabled"));
        key(&mut a, "D");
        assert!(a.confirm.is_none());
        assert!(a.outbox.iter().all(|c| !c.is_write()));
    }

    #[test]
    fn dispose_needs_yes_and_defaults_to_no() {
        let mut a = app();
        key(&mut a, "2 D");
        assert_eq!(a.mode(), Mode::Confirm);
        key(&mut a, "enter");
        assert!(a.confirm.is_none());
        assert!(a.outbox.iter().all(|c| !c.is_write()));
        key(&mut a, "D y");
        assert_eq!(
            a.outbox.last(),
            Some(&PoolCmd::Dispose {
                pool: "demo".into()
            })
        );
    }

    #[test]
    fn deposit_form_error_keeps_form_and_result_shows() {
        let mut a = app();
        key(&mut a, "2 d");
        assert_eq!(a.mode(), Mode::Form);
        a.handle(AppEvent::Paste("[unclosed".into()));
        key(&mut a, "ctrl-s");
        match &a.overlay {
            Some(Overlay::Form(f)) => assert!(matches!(f.result, Some(Err(_)))),
            other => panic!("form closed: {other:?}"),
        }
        assert!(a.outbox.iter().all(|c| !c.is_write()));
        // quitting with an edited form asks first
        key(&mut a, "esc");
        assert_eq!(a.mode(), Mode::Confirm);
        key(&mut a, "n");
        assert_eq!(a.mode(), Mode::Form);
        if let Some(Overlay::Form(f)) = &mut a.overlay {
            f.fields[1].input = Input::new("[arf]".into());
        }
        key(&mut a, "ctrl-s");
        assert_eq!(
            a.outbox.last().map(|c| c.describe()).as_deref(),
            Some("pools.deposit demo")
        );
        assert_eq!(a.pending_writes().len(), 1);
        a.handle(AppEvent::Pool(PoolEvent::Deposited {
            pool: "demo".into(),
            result: Err(Retort {
                name: "POOL_PROTEIN_BIGGER_THAN_POOL".into(),
                code: -200700,
            }),
        }));
        match &a.overlay {
            Some(Overlay::Form(f)) => {
                assert_eq!(
                    f.result,
                    Some(Err("POOL_PROTEIN_BIGGER_THAN_POOL -200700".into()))
                )
            }
            other => panic!("form closed: {other:?}"),
        }
    }

    #[test]
    fn quit_asks_when_write_pending_and_ctrl_c_twice_forces() {
        let mut a = app();
        a.in_flight.push("deposit demo".into());
        key(&mut a, "q");
        assert!(!a.quit);
        assert_eq!(a.mode(), Mode::Confirm);
        key(&mut a, "esc");
        key(&mut a, "ctrl-c");
        assert!(!a.quit);
        key(&mut a, "esc ctrl-c");
        assert!(a.quit);
    }

    #[test]
    fn command_line_completes_and_keeps_history() {
        let mut a = app();
        key(&mut a, ": t a i tab d tab");
        assert_eq!(a.line.as_ref().map(|l| l.input.value()), Some("tail demo "));
        key(&mut a, "enter");
        assert_eq!(a.tab, Tab::Pools);
        assert_eq!(a.pools.focus, PoolsFocus::Tail);
        key(&mut a, ": b o g u s enter");
        assert_eq!(a.mode(), Mode::Command, "the line stays editable");
        assert!(a.line.as_ref().is_some_and(|l| l.error.is_some()));
        key(&mut a, "esc : up");
        assert_eq!(a.line.as_ref().map(|l| l.input.value()), Some("tail demo"));
    }

    #[test]
    fn ring_cap_counts_evictions_and_selection_tracks() {
        let mut a = App::new(
            Theme::mono(),
            Keymap::default(),
            Settings {
                tail_cap: 10,
                ..Settings::default()
            },
        );
        a.handle(AppEvent::Pool(PoolEvent::List(vec![PoolInfo {
            name: "demo".into(),
            location: Location::Demo,
            capacity: 1,
            used: 0,
            oldest: None,
            newest: None,
        }])));
        for i in 0..25 {
            protein(&mut a, i, "x");
        }
        assert_eq!(a.pools.tail.ring.len(), 10);
        assert_eq!(a.pools.tail.ring.evicted(), 15);
        assert_eq!(a.pools.tail.visible.len(), 10);
        assert_eq!(a.pools.tail.selected().map(|r| r.index), Some(24));
    }

    #[test]
    fn clicking_a_tab_label_selects_it() {
        let mut a = app();
        a.handle(AppEvent::Click(25, 0));
        assert_eq!(a.tab, Tab::Pools);
        a.handle(AppEvent::Click(25, 5));
        assert_eq!(a.tab, Tab::Pools);
    }

    #[test]
    fn log_warnings_bump_the_tab_counter() {
        let mut a = app();
        a.handle(AppEvent::Log(LogLine {
            time: 0.0,
            level: Level::Warn,
            target: "t".into(),
            message: "m".into(),
        }));
        assert_eq!(a.log.unseen, 1);
        key(&mut a, "6");
        assert_eq!(a.log.unseen, 0);
    }
}
