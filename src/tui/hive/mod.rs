//! The Hive view's state and update logic (console spec section 3.3, hive spec
//! section 9): pure, no IO. The view reaches the engine only through
//! `engine::hive::handle::Handle`: requests queue in [`Hive::outbox`], the main
//! loop `send`s them (never waiting) and reports each tag back with
//! [`Hive::sent`]; replies arrive as [`Msg::Event`] and the stats as
//! [`Msg::Snapshot`] from the handle's watch channel.
//!
//! Files: this one (browser, requests, replies), `value` (the value pane's
//! rendering), `form` (put / update form), `demo` (the `--demo` store and the
//! fixture used by screenshots and tests).

pub mod demo;
pub mod form;
mod glue;
pub mod link;
pub mod value;

use std::collections::{BTreeMap, HashMap, HashSet};

use bytes::Bytes;

use crate::engine::hive::handle::{Command, Event, Reply, Snapshot};
use crate::engine::hive::{viewer, Cursor, EntryMeta, ErrorCode, Expiry, HiveError};
use crate::tui::app::Spark;
use crate::tui::source::SourceState;
use crate::tui::text::{iec, sanitize_bytes};

/// Keys per listing page (hive spec section 9).
pub const PAGE: usize = 500;
/// `Meta` requests in flight at most; more are asked as replies come back.
pub const META_IN_FLIGHT: usize = 32;
/// Slices fetched for one "view as one" at most.
pub const MAX_SLICES: u64 = 200;

/// What the main loop feeds the view.
#[allow(clippy::large_enum_variant)] // one snapshot a second; boxing buys nothing
#[derive(Debug, Clone, PartialEq)]
pub enum Msg {
    /// A reply from the handle's event channel.
    Event(Event),
    /// A new snapshot from the handle's watch channel.
    Snapshot(Snapshot),
    /// The connection state changed (set by whoever opened the handle).
    State(SourceState),
}

/// A write, as confirmed by the user.
#[derive(Debug, Clone, PartialEq)]
pub enum Write {
    /// Create only.
    Put {
        /// Alias.
        alias: Bytes,
        /// Content.
        content: Bytes,
    },
    /// Create or replace.
    Update {
        /// Alias.
        alias: Bytes,
        /// Content.
        content: Bytes,
    },
    /// Remove.
    Delete {
        /// Alias.
        alias: Bytes,
    },
}

impl Write {
    /// The alias written.
    pub fn alias(&self) -> &Bytes {
        match self {
            Write::Put { alias, .. } | Write::Update { alias, .. } | Write::Delete { alias } => {
                alias
            }
        }
    }

    /// `hive put user:42`: names the write in the pending list.
    pub fn describe(&self) -> String {
        let verb = match self {
            Write::Put { .. } => "put",
            Write::Update { .. } => "update",
            Write::Delete { .. } => "delete",
        };
        format!("hive {verb} {}", sanitize_bytes(self.alias()))
    }

    fn command(&self) -> Command {
        match self.clone() {
            Write::Put { alias, content } => Command::Put {
                alias,
                content,
                expiry: Expiry::Never,
            },
            // keep whatever expiry the entry had would need a read first; an
            // update from the console makes the entry permanent, as `hive update` does
            Write::Update { alias, content } => Command::Update {
                alias,
                content,
                expiry: Expiry::Never,
            },
            Write::Delete { alias } => Command::Delete { alias },
        }
    }
}

/// Why a request was sent, so its reply can be applied.
#[derive(Debug, Clone, PartialEq)]
pub enum Req {
    /// A listing page under a prefix (the generation drops stale pages).
    List {
        /// Listing generation.
        generation: u64,
    },
    /// Size and expiry of one key.
    Meta(Bytes),
    /// The selected key's content.
    Get(Bytes),
    /// One slice of a sliced document.
    Slice {
        /// Slice number.
        index: u64,
        /// Which "view as one" request.
        doc: u64,
    },
    /// A write.
    Write(Write),
    /// Stats refresh.
    Stats,
}

/// What the app should do after a reply (status line and pending writes).
#[derive(Debug, Clone, PartialEq)]
pub enum Effect {
    /// An info message.
    Info(String),
    /// An error message.
    Error(String),
    /// A write with this description is no longer pending.
    Done(String),
}

/// Which pane has focus.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Focus {
    /// The prefix browser.
    #[default]
    Keys,
    /// The value viewer.
    Value,
}

/// One browser row.
#[derive(Debug, Clone, PartialEq)]
pub enum Row {
    /// A group of keys sharing `prefix` (which ends with the separator).
    Folder {
        /// Full prefix.
        prefix: Bytes,
        /// Sanitised last segment, with the separator.
        label: String,
        /// Keys loaded under it.
        count: usize,
    },
    /// One key.
    Key {
        /// Alias.
        alias: Bytes,
        /// Sanitised last segment.
        label: String,
    },
    /// `… load more`.
    More,
}

/// A sliced document being fetched to show as one.
#[derive(Debug, Clone, PartialEq)]
pub struct SliceDoc {
    /// The id (alias without `-slice_count`).
    pub base: Bytes,
    /// Slices expected.
    pub count: u64,
    /// Heads of the slices received so far, by index.
    pub got: BTreeMap<u64, Bytes>,
    /// Total bytes received.
    pub total: u64,
    /// Request generation.
    pub doc: u64,
}

/// The Hive view.
#[derive(Debug, Clone)]
pub struct Hive {
    /// Connection state (badge).
    pub state: SourceState,
    /// What the view is connected to (`embedded DIR`, `resp://…`).
    pub target: String,
    /// Latest snapshot from the handle.
    pub snapshot: Snapshot,
    /// Whether any snapshot arrived.
    pub has_stats: bool,
    /// ops/s history.
    pub ops: Spark,
    /// evictions/s history.
    pub evictions: Spark,
    /// Keys loaded so far (all pages) with their metadata once known.
    pub keys: BTreeMap<Bytes, Option<EntryMeta>>,
    /// Server-side prefix of the listing (from a `/prefix` filter).
    pub list_prefix: Bytes,
    /// Client-side substring filter (from a `/*text` filter), lower-cased.
    pub substring: String,
    /// Filter text as typed.
    pub filter_text: String,
    /// Where the listing continues; `None` when complete.
    pub next: Option<Cursor>,
    /// A page request is in flight.
    pub listing: bool,
    /// At least one page arrived.
    pub loaded: bool,
    /// Folder being shown.
    pub path: Bytes,
    /// Tree separator.
    pub sep: u8,
    /// Rows of the folder, recomputed on change (never while drawing).
    pub rows: Vec<Row>,
    /// Selected row.
    pub sel: usize,
    /// Focused pane.
    pub focus: Focus,
    /// Value of the selected key.
    pub value: Option<value::Value>,
    /// Key whose value is being fetched.
    pub loading: Option<Bytes>,
    /// Value pane's error (e.g. `alias_not_found (8)`).
    pub value_error: Option<String>,
    /// View mode.
    pub mode: value::Mode,
    /// Value pane scroll offset.
    pub scroll: usize,
    /// Open put / update form.
    pub form: Option<form::Form>,
    /// A sliced document being assembled.
    pub slices: Option<SliceDoc>,
    /// Requests for the main loop to send.
    pub outbox: Vec<(Req, Command)>,
    /// Last engine error, for the Overview card.
    pub last_error: Option<String>,
    /// Errors seen.
    pub errors: u64,
    pending: HashMap<u64, Req>,
    meta_asked: HashSet<Bytes>,
    generation: u64,
    docs: u64,
    select_after: Option<Bytes>,
}

impl Default for Hive {
    fn default() -> Self {
        Hive {
            state: SourceState::Off,
            target: String::new(),
            snapshot: Snapshot::default(),
            has_stats: false,
            ops: Spark::default(),
            evictions: Spark::default(),
            keys: BTreeMap::new(),
            list_prefix: Bytes::new(),
            substring: String::new(),
            filter_text: String::new(),
            next: None,
            listing: false,
            loaded: false,
            path: Bytes::new(),
            sep: b':',
            rows: Vec::new(),
            sel: 0,
            focus: Focus::Keys,
            value: None,
            loading: None,
            value_error: None,
            mode: value::Mode::Auto,
            scroll: 0,
            form: None,
            slices: None,
            outbox: Vec::new(),
            last_error: None,
            errors: 0,
            pending: HashMap::new(),
            meta_asked: HashSet::new(),
            generation: 0,
            docs: 0,
            select_after: None,
        }
    }
}

/// `name (code)` of a wrpme error, plus its detail.
pub fn error_text(e: &HiveError) -> String {
    let base = format!("{} ({})", e.code.as_str(), e.code as u32);
    if e.detail.is_empty() {
        base
    } else {
        format!("{base}: {}", crate::tui::text::sanitize(&e.detail))
    }
}

/// Total operations the backend has seen: reads plus committed writes.
pub fn total_ops(s: &Snapshot) -> u64 {
    let st = &s.stats;
    (st.keyspace_hits + st.keyspace_misses + st.group_commit_ops).max(s.ops)
}

/// Remaining time of an expiry at `now` (seconds), e.g. `5m`, `2h`, `expired`.
pub fn expiry_text(expiry: Expiry, now: f64) -> Option<(String, u64)> {
    let Expiry::At(ms) = expiry else { return None };
    let left_ms = ms as f64 - now * 1000.0;
    if left_ms <= 0.0 {
        return Some(("expired".into(), 0));
    }
    let s = (left_ms / 1000.0) as u64;
    let t = if s < 60 {
        format!("{s}s")
    } else if s < 3600 {
        format!("{}m", s / 60)
    } else if s < 86_400 {
        format!("{}h", s / 3600)
    } else {
        format!("{}d", s / 86_400)
    };
    Some((t, s))
}

impl Hive {
    /// A view connected to `target`.
    pub fn connected(target: impl Into<String>, state: SourceState) -> Hive {
        Hive {
            target: target.into(),
            state,
            ..Hive::default()
        }
    }

    /// Whether a handle is behind the view.
    pub fn is_connected(&self) -> bool {
        matches!(self.state, SourceState::Local | SourceState::Up { .. })
    }

    /// The main loop sent `req` under `tag`.
    pub fn sent(&mut self, tag: u64, req: Req) {
        self.pending.insert(tag, req);
    }

    /// The main loop could not send `req` (queue full or engine stopped).
    pub fn send_failed(&mut self, req: Req, why: &str) -> Vec<Effect> {
        match req {
            Req::List { .. } => self.listing = false,
            Req::Meta(a) => {
                self.meta_asked.remove(&a);
            }
            Req::Get(_) => self.loading = None,
            Req::Write(w) => {
                if let Some(f) = &mut self.form {
                    f.in_flight = false;
                    f.edited = true;
                    f.result = Some(Err(format!("engine busy: {why}")));
                }
                return vec![
                    Effect::Done(w.describe()),
                    Effect::Error(format!("engine busy: {} not sent", w.describe())),
                ];
            }
            Req::Slice { .. } | Req::Stats => {}
        }
        Vec::new()
    }

    fn push(&mut self, req: Req, cmd: Command) {
        self.outbox.push((req, cmd));
    }

    /// Starts (or restarts) the listing from the first page.
    pub fn reload(&mut self) {
        self.generation += 1;
        self.keys.clear();
        self.meta_asked.clear();
        self.next = None;
        self.loaded = false;
        self.listing = false;
        self.request_page(None);
    }

    fn request_page(&mut self, cursor: Option<Cursor>) {
        if !self.is_connected() || self.listing {
            return;
        }
        self.listing = true;
        let generation = self.generation;
        self.push(
            Req::List { generation },
            Command::List {
                prefix: self.list_prefix.clone(),
                cursor,
                limit: PAGE,
            },
        );
    }

    /// `.` / `… load more`: the next page.
    pub fn load_more(&mut self) -> Vec<Effect> {
        match self.next.clone() {
            Some(c) => {
                self.request_page(Some(c));
                vec![Effect::Info("loading more keys".into())]
            }
            None => vec![Effect::Info("all keys loaded".into())],
        }
    }

    /// Applies a message; returns what the app should show.
    pub fn apply(&mut self, msg: Msg, now: f64) -> Vec<Effect> {
        match msg {
            Msg::State(s) => {
                let was = self.is_connected();
                self.state = s;
                if !was && self.is_connected() {
                    self.reload();
                    self.push(Req::Stats, Command::RefreshStats);
                }
                match &self.state {
                    SourceState::Down { error } => {
                        self.last_error = Some(crate::tui::text::sanitize(error));
                        vec![Effect::Error(format!(
                            "hive: {}",
                            self.last_error.clone().unwrap_or_default()
                        ))]
                    }
                    _ => Vec::new(),
                }
            }
            Msg::Snapshot(s) => {
                self.snapshot = s;
                self.has_stats = true;
                Vec::new()
            }
            Msg::Event(ev) => match self.pending.remove(&ev.tag) {
                Some(req) => self.reply(req, ev.result, now),
                // a reply to a request of an earlier session (or another user)
                None => Vec::new(),
            },
        }
    }

    /// The 1 Hz tick: advances the sparklines.
    pub fn tick(&mut self) {
        if self.has_stats {
            self.ops.sample_total(total_ops(&self.snapshot));
            self.evictions
                .sample_total(self.snapshot.stats.limiter_evictions);
        }
    }

    fn reply(&mut self, req: Req, result: Result<Reply, HiveError>, now: f64) -> Vec<Effect> {
        let _ = now;
        if let Err(e) = &result {
            if !matches!(
                (&req, e.code),
                (Req::Meta(_), ErrorCode::AliasNotFound) | (Req::Write(_), _)
            ) {
                self.errors += 1;
                self.last_error = Some(error_text(e));
            }
        }
        match (req, result) {
            (Req::List { generation }, r) => {
                if generation != self.generation {
                    return Vec::new();
                }
                self.listing = false;
                match r {
                    Ok(Reply::Page(page)) => {
                        self.loaded = true;
                        for a in page.aliases {
                            self.keys.entry(a).or_insert(None);
                        }
                        self.next = page.next;
                        self.rebuild();
                        self.ask_meta();
                        Vec::new()
                    }
                    Ok(_) => Vec::new(),
                    Err(e) => vec![Effect::Error(format!("hive list: {}", error_text(&e)))],
                }
            }
            (Req::Meta(alias), r) => {
                self.meta_asked.remove(&alias);
                match r {
                    Ok(Reply::Meta(m)) => {
                        if let Some(slot) = self.keys.get_mut(&alias) {
                            *slot = Some(m);
                        }
                    }
                    Err(e) if e.code == ErrorCode::AliasNotFound => {
                        // expired or deleted since it was listed
                        self.keys.remove(&alias);
                        self.rebuild();
                    }
                    _ => {}
                }
                self.ask_meta();
                Vec::new()
            }
            (Req::Get(alias), r) => {
                if self.loading.as_ref() != Some(&alias) {
                    return Vec::new();
                }
                self.loading = None;
                match r {
                    Ok(Reply::Content(c)) => {
                        let size = c.len() as u64;
                        if let Some(Some(m)) = self.keys.get_mut(&alias) {
                            m.size = size;
                        }
                        self.value = Some(value::Value::new(alias, c, self.mode));
                        self.value_error = None;
                    }
                    Ok(_) => {}
                    Err(e) => {
                        self.value = None;
                        self.value_error = Some(error_text(&e));
                    }
                }
                Vec::new()
            }
            (Req::Slice { index, doc }, r) => self.slice_reply(index, doc, r),
            (Req::Write(w), r) => self.write_reply(w, r),
            (Req::Stats, _) => Vec::new(),
        }
    }

    fn write_reply(&mut self, w: Write, r: Result<Reply, HiveError>) -> Vec<Effect> {
        let mut fx = vec![Effect::Done(w.describe())];
        let label = sanitize_bytes(w.alias());
        match r {
            Ok(_) => {
                let msg = match &w {
                    Write::Put { content, .. } => {
                        format!("stored {label} ({})", iec(content.len() as u64))
                    }
                    Write::Update { content, .. } => {
                        format!("updated {label} ({})", iec(content.len() as u64))
                    }
                    Write::Delete { .. } => format!("deleted {label}"),
                };
                if matches!(w, Write::Delete { .. }) {
                    if self.value.as_ref().is_some_and(|v| v.alias == *w.alias()) {
                        self.value = None;
                    }
                } else {
                    self.form = None;
                    self.select_after = Some(w.alias().clone());
                    if self.value.as_ref().is_some_and(|v| v.alias == *w.alias()) {
                        self.value = None;
                    }
                }
                self.reload();
                fx.push(Effect::Info(msg));
            }
            Err(e) => {
                let text = error_text(&e);
                if let Some(f) = &mut self.form {
                    f.in_flight = false;
                    f.edited = true;
                    if e.code == ErrorCode::AliasAlreadyExists {
                        f.key_error = Some(format!("{text} — press e to update"));
                        f.focus = 0;
                    }
                    f.result = Some(Err(text.clone()));
                }
                fx.push(Effect::Error(format!("{}: {text}", w.describe())));
            }
        }
        fx
    }

    fn slice_reply(&mut self, index: u64, doc: u64, r: Result<Reply, HiveError>) -> Vec<Effect> {
        let Some(d) = &mut self.slices else {
            return Vec::new();
        };
        if d.doc != doc {
            return Vec::new();
        }
        match r {
            Ok(Reply::Content(c)) => {
                d.total += c.len() as u64;
                // keep only what the viewer can show: the head of the document
                let kept: u64 = d.got.values().map(|b| b.len() as u64).sum();
                let room = (value::BIG_VALUE + 1).saturating_sub(kept) as usize;
                d.got.insert(index, c.slice(..c.len().min(room)));
            }
            Ok(_) => {}
            Err(e) => {
                let base = sanitize_bytes(&d.base);
                self.slices = None;
                return vec![Effect::Error(format!(
                    "slice {index} of {base}: {}",
                    error_text(&e)
                ))];
            }
        }
        if d.got.len() as u64 == d.count {
            let mut all = Vec::new();
            for b in d.got.values() {
                all.extend_from_slice(b);
            }
            let total = d.total;
            let count = d.count;
            let base = d.base.clone();
            self.slices = None;
            let mut v = value::Value::new(base, Bytes::from(all), self.mode);
            v.size = total;
            v.slices = Some(count);
            v.render(self.mode);
            self.value = Some(v);
            self.focus = Focus::Value;
            self.scroll = 0;
            return vec![Effect::Info(format!("document of {count} slices loaded"))];
        }
        Vec::new()
    }

    /// Asks `Meta` for keys of the current folder that have none yet.
    fn ask_meta(&mut self) {
        let mut want = Vec::new();
        for r in &self.rows {
            if self.meta_asked.len() + want.len() >= META_IN_FLIGHT {
                break;
            }
            if let Row::Key { alias, .. } = r {
                if matches!(self.keys.get(alias), Some(None)) && !self.meta_asked.contains(alias) {
                    want.push(alias.clone());
                }
            }
        }
        for a in want {
            self.meta_asked.insert(a.clone());
            self.push(Req::Meta(a.clone()), Command::Meta { alias: a });
        }
    }

    fn matches(&self, alias: &[u8]) -> bool {
        self.substring.is_empty()
            || String::from_utf8_lossy(alias)
                .to_lowercase()
                .contains(&self.substring)
    }

    /// Recomputes the rows of the current folder.
    pub fn rebuild(&mut self) {
        let keep = self
            .select_after
            .take()
            .or_else(|| self.selected_key().cloned());
        let mut folders: BTreeMap<Bytes, usize> = BTreeMap::new();
        let mut keys = Vec::new();
        let plen = self.path.len();
        for alias in self.keys.keys() {
            if !alias.starts_with(&self.path) {
                continue;
            }
            if !self.matches(alias) {
                continue;
            }
            let rest = &alias[plen..];
            match rest.iter().position(|b| *b == self.sep) {
                Some(i) if i + 1 < rest.len() => {
                    *folders.entry(alias.slice(..plen + i + 1)).or_default() += 1;
                }
                _ => keys.push(alias.clone()),
            }
        }
        let mut rows: Vec<Row> = folders
            .into_iter()
            .map(|(prefix, count)| Row::Folder {
                label: sanitize_bytes(&prefix[plen..]),
                prefix,
                count,
            })
            .collect();
        rows.extend(keys.into_iter().map(|alias| Row::Key {
            label: sanitize_bytes(&alias[plen..]),
            alias,
        }));
        if self.next.is_some() {
            rows.push(Row::More);
        }
        self.rows = rows;
        if let Some(k) = keep {
            if let Some(i) = self
                .rows
                .iter()
                .position(|r| matches!(r, Row::Key { alias, .. } if *alias == k))
            {
                self.sel = i;
            } else if let Some(i) = self
                .rows
                .iter()
                .position(|r| matches!(r, Row::Folder { prefix, .. } if k.starts_with(prefix)))
            {
                self.sel = i;
            }
        }
        self.sel = self.sel.min(self.rows.len().saturating_sub(1));
        self.fetch_selected();
    }

    /// The selected row.
    pub fn selected(&self) -> Option<&Row> {
        self.rows.get(self.sel)
    }

    /// The selected key, when the selection is a key.
    pub fn selected_key(&self) -> Option<&Bytes> {
        match self.selected() {
            Some(Row::Key { alias, .. }) => Some(alias),
            _ => None,
        }
    }

    /// Fetches the selected key's value unless shown or loading.
    fn fetch_selected(&mut self) {
        let Some(alias) = self.selected_key().cloned() else {
            return;
        };
        let shown = self
            .value
            .as_ref()
            .is_some_and(|v| v.alias == alias && v.slices.is_none());
        if shown || self.loading.as_ref() == Some(&alias) || !self.is_connected() {
            return;
        }
        self.loading = Some(alias.clone());
        self.value_error = None;
        self.scroll = 0;
        self.push(Req::Get(alias.clone()), Command::Get { alias });
    }

    /// `j`/`k` and friends.
    pub fn move_by(&mut self, delta: i64) {
        match self.focus {
            Focus::Keys => {
                let n = self.rows.len();
                if n == 0 {
                    return;
                }
                self.sel = (self.sel as i64)
                    .saturating_add(delta)
                    .clamp(0, n as i64 - 1) as usize;
                self.fetch_selected();
            }
            Focus::Value => {
                let n = self.value.as_ref().map(|v| v.lines.len()).unwrap_or(0);
                self.scroll = (self.scroll as i64)
                    .saturating_add(delta)
                    .clamp(0, n.saturating_sub(1) as i64) as usize;
            }
        }
    }

    /// `l` / `→` / `Enter`: into a folder, onto the value, or load more.
    pub fn enter(&mut self) -> Vec<Effect> {
        if self.focus == Focus::Value {
            return Vec::new();
        }
        match self.selected().cloned() {
            Some(Row::Folder { prefix, .. }) => {
                self.path = prefix;
                self.sel = 0;
                self.rebuild();
                self.ask_meta();
            }
            Some(Row::Key { .. }) => self.focus = Focus::Value,
            Some(Row::More) => return self.load_more(),
            None => {}
        }
        Vec::new()
    }

    /// `h` / `←`: back to the browser, or up a folder.
    pub fn left(&mut self) {
        if self.focus == Focus::Value {
            self.focus = Focus::Keys;
            return;
        }
        if self.path.is_empty() {
            return;
        }
        let from = self.path.clone();
        // drop the last segment: the separator at the end, then back to the previous one
        let body = &from[..from.len() - 1];
        let cut = body
            .iter()
            .rposition(|b| *b == self.sep)
            .map(|i| i + 1)
            .unwrap_or(0);
        self.path = from.slice(..cut);
        self.select_after = None;
        self.rebuild();
        if let Some(i) = self
            .rows
            .iter()
            .position(|r| matches!(r, Row::Folder { prefix, .. } if *prefix == from))
        {
            self.sel = i;
        }
        self.ask_meta();
    }

    /// `v`: next view mode.
    pub fn cycle_mode(&mut self) {
        self.mode = self.mode.next();
        self.scroll = 0;
        if let Some(v) = &mut self.value {
            v.render(self.mode);
        }
    }

    /// `/` filter: `prefix` narrows the listing on the server; `*text` matches
    /// a substring of the loaded keys.
    pub fn set_filter(&mut self, text: &str) {
        let text = text.trim();
        self.filter_text = text.to_string();
        if let Some(sub) = text.strip_prefix('*') {
            self.substring = sub.to_lowercase();
            if !self.list_prefix.is_empty() {
                self.list_prefix = Bytes::new();
                self.path = Bytes::new();
                self.reload();
            }
            self.rebuild();
            return;
        }
        self.substring.clear();
        let prefix = Bytes::copy_from_slice(text.as_bytes());
        if prefix != self.list_prefix {
            self.list_prefix = prefix.clone();
            // show the folder the prefix names, so `user:` opens it
            let cut = prefix
                .iter()
                .rposition(|b| *b == self.sep)
                .map(|i| i + 1)
                .unwrap_or(0);
            self.path = prefix.slice(..cut);
            self.sel = 0;
            self.reload();
        }
        self.rebuild();
    }

    /// `Esc` in the browser: clears the filter; returns whether there was one.
    pub fn clear_filter(&mut self) -> bool {
        if self.filter_text.is_empty() {
            return false;
        }
        self.set_filter("");
        true
    }

    /// `r`: reload keys and stats.
    pub fn refresh(&mut self) {
        self.reload();
        self.push(Req::Stats, Command::RefreshStats);
    }

    /// `o` on a `<id>-slice_count` key: fetch every slice and show them as one.
    pub fn open_slices(&mut self) -> Vec<Effect> {
        let Some(v) = &self.value else {
            return vec![Effect::Info("select a <id>-slice_count key first".into())];
        };
        let (Some(count), Some(base)) = (v.slice_count, viewer::slice_base(&v.alias)) else {
            return vec![Effect::Info(
                "not a sliced document (<id>-slice_count)".into(),
            )];
        };
        if count == 0 || count > MAX_SLICES {
            return vec![Effect::Error(format!(
                "{count} slices: the console assembles 1 to {MAX_SLICES}"
            ))];
        }
        let base = Bytes::copy_from_slice(base);
        self.docs += 1;
        let doc = self.docs;
        for (i, a) in viewer::slice_aliases(&base, count).enumerate() {
            self.push(
                Req::Slice {
                    index: i as u64,
                    doc,
                },
                Command::Get {
                    alias: Bytes::from(a),
                },
            );
        }
        self.slices = Some(SliceDoc {
            base,
            count,
            got: BTreeMap::new(),
            total: 0,
            doc,
        });
        vec![Effect::Info(format!("loading {count} slices"))]
    }

    /// Opens the put form (prefilled with the folder being shown).
    pub fn open_put(&mut self) {
        let key = String::from_utf8_lossy(&self.path).into_owned();
        self.form = Some(form::Form::new(form::Kind::Put, &key, "", "utf-8", None));
        if let Some(f) = &mut self.form {
            f.focus = 0;
        }
    }

    /// Opens the update form, prefilled with the selected key and its value.
    pub fn open_update(&mut self) -> Vec<Effect> {
        let Some(alias) = self.selected_key().cloned() else {
            return vec![Effect::Error("select a key to update".into())];
        };
        let key = String::from_utf8_lossy(&alias).into_owned();
        let (text, enc, old) = match &self.value {
            Some(v) if v.alias == alias && !v.truncated() => match std::str::from_utf8(&v.head) {
                Ok(t) if !t.chars().any(|c| c.is_control() && c != '\n') => {
                    (t.replace('\n', " "), "utf-8", Some(v.size))
                }
                _ => (
                    v.head.iter().map(|b| format!("{b:02x}")).collect(),
                    "hex",
                    Some(v.size),
                ),
            },
            Some(v) if v.alias == alias => (String::new(), "utf-8", Some(v.size)),
            _ => (String::new(), "utf-8", None),
        };
        self.form = Some(form::Form::new(form::Kind::Update, &key, &text, enc, old));
        Vec::new()
    }

    /// The confirm dialog's title and lines for a write.
    pub fn confirm_text(&self, w: &Write) -> (String, Vec<String>) {
        let label = sanitize_bytes(w.alias());
        match w {
            Write::Put { content, .. } => (
                format!("put {label}?"),
                vec![format!(
                    "create {label} with {} (fails if it exists)",
                    iec(content.len() as u64)
                )],
            ),
            Write::Update { content, .. } => {
                let old = self.form.as_ref().and_then(|f| f.old_size).or_else(|| {
                    self.keys
                        .get(w.alias())
                        .and_then(|m| m.as_ref().map(|m| m.size))
                });
                let line = match old {
                    Some(o) => format!(
                        "replace {label}: {} → {}",
                        iec(o),
                        iec(content.len() as u64)
                    ),
                    None if self.keys.contains_key(w.alias()) => {
                        format!("replace {label} with {}", iec(content.len() as u64))
                    }
                    None => format!("creates a new key {label} ({})", iec(content.len() as u64)),
                };
                (format!("update {label}?"), vec![line])
            }
            Write::Delete { .. } => {
                let size = self
                    .keys
                    .get(w.alias())
                    .and_then(|m| m.as_ref().map(|m| iec(m.size)))
                    .unwrap_or_else(|| "size unknown".into());
                (
                    format!("delete {label}?"),
                    vec![
                        format!("remove {label} ({size}) from the hive"),
                        "this cannot be undone".into(),
                    ],
                )
            }
        }
    }

    /// The delete write for the selected key.
    pub fn delete_selected(&self) -> Option<Write> {
        self.selected_key()
            .map(|a| Write::Delete { alias: a.clone() })
    }

    /// `Ctrl-s` in the form: the write to confirm, or the field error.
    pub fn form_write(&mut self) -> Option<Write> {
        let f = self.form.as_mut()?;
        if f.in_flight {
            return None;
        }
        match f.check() {
            Err((field, msg)) => {
                f.focus = field;
                f.result = Some(Err(msg));
                None
            }
            Ok((alias, content)) => Some(match f.kind {
                form::Kind::Put => Write::Put { alias, content },
                form::Kind::Update => Write::Update { alias, content },
            }),
        }
    }

    /// The user said yes: queue the write.
    pub fn confirmed(&mut self, w: Write) -> String {
        if let Some(f) = &mut self.form {
            f.in_flight = true;
            f.edited = false;
            f.key_error = None;
            f.result = Some(Ok("sending…".into()));
        }
        let what = w.describe();
        let cmd = w.command();
        self.push(Req::Write(w), cmd);
        what
    }

    /// Number of writes queued or in flight (for tests).
    pub fn writes_pending(&self) -> usize {
        self.pending
            .values()
            .filter(|r| matches!(r, Req::Write(_)))
            .count()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::hive::PrefixPage;

    /// Sends every queued request with consecutive tags, like the main loop.
    fn flush(h: &mut Hive, tag: &mut u64) -> Vec<(u64, Req, Command)> {
        let mut out = Vec::new();
        for (req, cmd) in std::mem::take(&mut h.outbox) {
            *tag += 1;
            h.sent(*tag, req.clone());
            out.push((*tag, req, cmd));
        }
        out
    }

    fn reply(h: &mut Hive, tag: u64, r: Result<Reply, HiveError>) -> Vec<Effect> {
        h.apply(Msg::Event(Event { tag, result: r }), 0.0)
    }

    fn page(keys: &[&str], more: bool) -> Reply {
        Reply::Page(PrefixPage {
            aliases: keys.iter().map(|k| Bytes::from(k.to_string())).collect(),
            next: more.then(|| Cursor(Bytes::from("c"))),
        })
    }

    fn loaded(keys: &[&str], more: bool) -> (Hive, u64) {
        let mut h = Hive::default();
        let mut tag = 0;
        h.apply(Msg::State(SourceState::Local), 0.0);
        let sent = flush(&mut h, &mut tag);
        assert!(matches!(sent[0].2, Command::List { limit: PAGE, .. }));
        reply(&mut h, sent[0].0, Ok(page(keys, more)));
        (h, tag)
    }

    #[test]
    fn keys_group_into_folders_with_counts() {
        let (mut h, _) = loaded(&["a", "user:1", "user:2", "user:x:9", "zz:"], true);
        let labels: Vec<String> = h
            .rows
            .iter()
            .map(|r| match r {
                Row::Folder { label, count, .. } => format!("{label}{count}"),
                Row::Key { label, .. } => label.clone(),
                Row::More => "more".into(),
            })
            .collect();
        assert_eq!(labels, ["user:3", "a", "zz:", "more"]);
        h.enter();
        assert_eq!(h.path, Bytes::from("user:"));
        let labels: Vec<&Row> = h.rows.iter().collect();
        assert_eq!(labels.len(), 4, "{labels:?}");
        h.left();
        assert!(h.path.is_empty());
        assert_eq!(h.sel, 0, "back on the folder we came from");
    }

    #[test]
    fn selecting_a_key_fetches_value_and_meta() {
        let (mut h, mut tag) = loaded(&["a", "b"], false);
        let sent = flush(&mut h, &mut tag);
        let kinds: Vec<&Req> = sent.iter().map(|s| &s.1).collect();
        assert!(kinds.contains(&&Req::Meta(Bytes::from("a"))));
        assert!(kinds.contains(&&Req::Get(Bytes::from("a"))));
        let get = sent.iter().find(|s| matches!(s.1, Req::Get(_))).unwrap().0;
        reply(&mut h, get, Ok(Reply::Content(Bytes::from("{\"x\":1}"))));
        let v = h.value.as_ref().unwrap();
        assert_eq!(v.format, viewer::Format::Json);
        h.move_by(1);
        let sent = flush(&mut h, &mut tag);
        assert_eq!(sent[0].1, Req::Get(Bytes::from("b")));
        reply(
            &mut h,
            sent[0].0,
            Err(HiveError::code(ErrorCode::AliasNotFound)),
        );
        assert_eq!(h.value_error.as_deref(), Some("alias_not_found (8)"));
    }

    #[test]
    fn put_conflict_shows_under_the_key_and_keeps_the_form() {
        let (mut h, mut tag) = loaded(&["a"], false);
        flush(&mut h, &mut tag);
        h.open_put();
        let f = h.form.as_mut().unwrap();
        f.fields[0].input = tui_input::Input::new("a".into());
        f.fields[1].input = tui_input::Input::new("v".into());
        let w = h.form_write().unwrap();
        assert_eq!(h.confirm_text(&w).0, "put a?");
        h.confirmed(w);
        let sent = flush(&mut h, &mut tag);
        assert!(matches!(sent[0].2, Command::Put { .. }));
        assert_eq!(h.writes_pending(), 1);
        let fx = reply(
            &mut h,
            sent[0].0,
            Err(HiveError::code(ErrorCode::AliasAlreadyExists)),
        );
        assert!(fx.contains(&Effect::Done("hive put a".into())));
        let f = h.form.as_ref().unwrap();
        assert_eq!(
            f.key_error.as_deref(),
            Some("alias_already_exists (9) — press e to update")
        );
    }

    #[test]
    fn successful_put_reloads_and_selects_the_key() {
        let (mut h, mut tag) = loaded(&["a"], false);
        flush(&mut h, &mut tag);
        h.open_put();
        let f = h.form.as_mut().unwrap();
        f.fields[0].input = tui_input::Input::new("b".into());
        f.fields[1].input = tui_input::Input::new("hello".into());
        let w = h.form_write().unwrap();
        h.confirmed(w);
        let sent = flush(&mut h, &mut tag);
        let fx = reply(&mut h, sent[0].0, Ok(Reply::Done));
        assert!(
            fx.contains(&Effect::Info("stored b (5 B)".into())),
            "{fx:?}"
        );
        assert!(h.form.is_none());
        let sent = flush(&mut h, &mut tag);
        reply(&mut h, sent[0].0, Ok(page(&["a", "b"], false)));
        assert_eq!(h.selected_key(), Some(&Bytes::from("b")));
    }

    #[test]
    fn stale_pages_are_ignored_and_filters_narrow() {
        let (mut h, mut tag) = loaded(&["a:1", "b:1"], false);
        flush(&mut h, &mut tag);
        h.set_filter("b:");
        let sent = flush(&mut h, &mut tag);
        match &sent[0].2 {
            Command::List { prefix, .. } => assert_eq!(prefix, &Bytes::from("b:")),
            other => panic!("{other:?}"),
        }
        assert_eq!(h.path, Bytes::from("b:"));
        h.set_filter("*1");
        assert!(h.list_prefix.is_empty());
        let sent2 = flush(&mut h, &mut tag);
        // the page for "b:" arrives late and is dropped
        reply(&mut h, sent[0].0, Ok(page(&["b:1"], false)));
        assert!(h.keys.is_empty());
        reply(&mut h, sent2[0].0, Ok(page(&["a:1", "b:1", "c"], false)));
        assert_eq!(h.keys.len(), 3);
        assert!(h.clear_filter());
    }

    #[test]
    fn sliced_documents_assemble_in_order() {
        let (mut h, mut tag) = loaded(&["d-slice_count", "d0", "d1"], false);
        let sent = flush(&mut h, &mut tag);
        let get = sent.iter().find(|s| matches!(s.1, Req::Get(_))).unwrap().0;
        reply(&mut h, get, Ok(Reply::Content(Bytes::from("2"))));
        h.open_slices();
        let sent = flush(&mut h, &mut tag);
        assert_eq!(sent.len(), 2);
        reply(&mut h, sent[1].0, Ok(Reply::Content(Bytes::from("world"))));
        reply(&mut h, sent[0].0, Ok(Reply::Content(Bytes::from("hello "))));
        let v = h.value.as_ref().unwrap();
        assert_eq!(v.slices, Some(2));
        assert_eq!(&v.head[..], b"hello world");
    }

    #[test]
    fn expiry_text_counts_down() {
        assert_eq!(expiry_text(Expiry::Never, 0.0), None);
        assert_eq!(
            expiry_text(Expiry::At(90_000), 0.0),
            Some(("1m".into(), 90))
        );
        assert_eq!(
            expiry_text(Expiry::At(1), 5.0).map(|t| t.0),
            Some("expired".into())
        );
    }
}
