//! The `embedded` backend (hive spec section 6): a redb file, the limiter cache
//! (6.2), the group-commit writer (6.3), expiry (6.4) and prefix cursors (6.5).
//!
//! Durability modes (section 5): `Immediate` acknowledges after a durable commit;
//! `Interval(n)` commits non-durably and checkpoints every n seconds (a crash loses
//! at most about n seconds); `Transient` keeps no file at all, the cache is the
//! whole store and eviction deletes.

use std::collections::VecDeque;
use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use bytes::Bytes;
use indexmap::IndexMap;
use rand::Rng;
use redb::{Database, ReadableDatabase, ReadableTable, ReadableTableMetadata, TableDefinition};
use tokio::sync::{mpsc, oneshot};

use super::{
    now_ms, CasOutcome, Cursor, EntryMeta, Error, ErrorCode, Expiry, Hive, HiveError, HiveStats,
    PrefixPage, DEFAULT_MAX_ENTRY_BYTES,
};

const ENTRIES: TableDefinition<&[u8], &[u8]> = TableDefinition::new("entries");
/// Key: big-endian expiry ms followed by the alias, so a range scan from the
/// start finds the entries due first.
const EXPIRY_INDEX: TableDefinition<&[u8], ()> = TableDefinition::new("expiry_index");
const META: TableDefinition<&str, u64> = TableDefinition::new("meta");

/// The on-disk schema this build reads and writes.
pub const SCHEMA_VERSION: u64 = 1;
const RECORD_VERSION: u8 = 1;
const SHARDS: usize = 64;
const WRITER_QUEUE: usize = 65_536;
const SWEEP_EVERY: Duration = Duration::from_millis(100);
const SWEEP_MAX: usize = 1_000;
const EVICTION_SAMPLES: usize = 5;
const COMMIT_WINDOW: usize = 1_024;

/// When acknowledged writes become durable.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Durability {
    /// Every acknowledged write is durable (group commit; the default).
    Immediate,
    /// wrpme-style: non-durable commits plus a durable checkpoint this often.
    Interval(Duration),
    /// No file; the cache is the store and eviction deletes.
    Transient,
}

impl Durability {
    /// The `INFO hive` form: `immediate`, `interval:<s>`, `transient`.
    pub fn label(self) -> String {
        match self {
            Durability::Immediate => "immediate".into(),
            Durability::Interval(d) => format!("interval:{}", d.as_secs()),
            Durability::Transient => "transient".into(),
        }
    }
}

/// Settings of the embedded backend (section 5 options).
#[derive(Clone, Debug)]
pub struct Config {
    /// Directory holding `hive.redb` (ignored when transient).
    pub root: PathBuf,
    /// Durability mode.
    pub durability: Durability,
    /// `--limiter-max-bytes`: resident alias + content bytes.
    pub limiter_max_bytes: u64,
    /// `--limiter-max-entries-count`: resident entries.
    pub limiter_max_entries_count: u64,
    /// `--max-entry-bytes`.
    pub max_entry_bytes: u64,
    /// `--group-commit-max-ops`.
    pub group_commit_max_ops: usize,
    /// `--group-commit-max-bytes`.
    pub group_commit_max_bytes: u64,
}

impl Config {
    /// wrpme's defaults with a data directory.
    pub fn new(root: impl Into<PathBuf>) -> Self {
        Self {
            root: root.into(),
            durability: Durability::Immediate,
            limiter_max_bytes: 1_073_741_824,
            limiter_max_entries_count: 1_000,
            max_entry_bytes: DEFAULT_MAX_ENTRY_BYTES,
            group_commit_max_ops: 4_096,
            group_commit_max_bytes: 64 * 1024 * 1024,
        }
    }

    /// A transient store with wrpme's defaults.
    pub fn transient() -> Self {
        Self {
            durability: Durability::Transient,
            ..Self::new(PathBuf::new())
        }
    }
}

// ---------------------------------------------------------------- cache

struct Resident {
    content: Bytes,
    expiry: Expiry,
    tick: u64,
}

#[derive(Default)]
struct Shard {
    map: IndexMap<Bytes, Resident>,
    epoch: u64,
}

/// The limiter: a sharded map bounded by bytes and entries, sampled-LRU eviction.
struct Cache {
    shards: Box<[Mutex<Shard>]>,
    bytes: AtomicU64,
    entries: AtomicU64,
    max_bytes: AtomicU64,
    max_entries: AtomicU64,
    tick: AtomicU64,
    evictions: AtomicU64,
}

fn lock(shard: &Mutex<Shard>) -> MutexGuard<'_, Shard> {
    // a panic while holding a shard lock leaves the map consistent (every
    // mutation is a single insert/remove), so poisoning is not fatal
    shard.lock().unwrap_or_else(|p| p.into_inner())
}

fn footprint(alias: &[u8], content: &[u8]) -> u64 {
    (alias.len() + content.len()) as u64
}

impl Cache {
    fn new(max_bytes: u64, max_entries: u64) -> Self {
        Self {
            shards: (0..SHARDS).map(|_| Mutex::new(Shard::default())).collect(),
            bytes: AtomicU64::new(0),
            entries: AtomicU64::new(0),
            max_bytes: AtomicU64::new(max_bytes),
            max_entries: AtomicU64::new(max_entries),
            tick: AtomicU64::new(0),
            evictions: AtomicU64::new(0),
        }
    }

    fn shard(&self, alias: &[u8]) -> &Mutex<Shard> {
        let mut h = std::collections::hash_map::DefaultHasher::new();
        alias.hash(&mut h);
        &self.shards[(h.finish() as usize) % SHARDS]
    }

    fn lookup(&self, alias: &[u8]) -> Option<(Bytes, Expiry)> {
        let tick = self.tick.fetch_add(1, Ordering::Relaxed);
        let mut shard = lock(self.shard(alias));
        let r = shard.map.get_mut(alias)?;
        r.tick = tick;
        Some((r.content.clone(), r.expiry))
    }

    fn contains(&self, alias: &[u8]) -> bool {
        lock(self.shard(alias)).map.contains_key(alias)
    }

    fn epoch(&self, alias: &[u8]) -> u64 {
        lock(self.shard(alias)).epoch
    }

    fn fits(&self, alias: &[u8], content: &[u8]) -> bool {
        footprint(alias, content) <= self.max_bytes.load(Ordering::Relaxed)
            && self.max_entries.load(Ordering::Relaxed) > 0
    }

    /// Inserts; `epoch` guards a reader against racing the writer (6.2). Returns
    /// whether the entry is resident afterwards.
    fn insert(&self, alias: &[u8], content: Bytes, expiry: Expiry, epoch: Option<u64>) -> bool {
        let tick = self.tick.fetch_add(1, Ordering::Relaxed);
        let mut shard = lock(self.shard(alias));
        match epoch {
            Some(e) if e != shard.epoch => return false,
            Some(_) => {}
            None => shard.epoch += 1,
        }
        if !self.fits(alias, &content) {
            if let Some(old) = shard.map.swap_remove(alias) {
                self.account_remove(alias, &old.content);
            }
            return false;
        }
        let add = footprint(alias, &content);
        let r = Resident {
            content,
            expiry,
            tick,
        };
        match shard.map.get_mut(alias) {
            Some(old) => {
                let before = footprint(alias, &old.content);
                *old = r;
                self.bytes.fetch_sub(before, Ordering::Relaxed);
                self.bytes.fetch_add(add, Ordering::Relaxed);
            }
            None => {
                shard.map.insert(Bytes::copy_from_slice(alias), r);
                self.bytes.fetch_add(add, Ordering::Relaxed);
                self.entries.fetch_add(1, Ordering::Relaxed);
            }
        }
        true
    }

    fn remove(&self, alias: &[u8]) -> Option<(Bytes, Expiry)> {
        let mut shard = lock(self.shard(alias));
        shard.epoch += 1;
        let old = shard.map.swap_remove(alias)?;
        self.account_remove(alias, &old.content);
        Some((old.content, old.expiry))
    }

    fn account_remove(&self, alias: &[u8], content: &[u8]) {
        self.bytes
            .fetch_sub(footprint(alias, content), Ordering::Relaxed);
        self.entries.fetch_sub(1, Ordering::Relaxed);
    }

    fn over_limit(&self) -> bool {
        self.bytes.load(Ordering::Relaxed) > self.max_bytes.load(Ordering::Relaxed)
            || self.entries.load(Ordering::Relaxed) > self.max_entries.load(Ordering::Relaxed)
    }

    /// Sampled LRU: evicts until both limits hold. Returns the evicted aliases
    /// (the transient store counts them as deletions).
    fn evict(&self) -> Vec<Bytes> {
        let mut evicted = Vec::new();
        let mut rng = rand::rng();
        // bounded so a racing inserter can never keep us here forever
        let mut rounds = 0u32;
        while self.over_limit() && rounds < 100_000 {
            rounds += 1;
            let mut victim: Option<(usize, Bytes, u64)> = None;
            for _ in 0..EVICTION_SAMPLES {
                let s = rng.random_range(0..SHARDS);
                let shard = lock(&self.shards[s]);
                if shard.map.is_empty() {
                    continue;
                }
                let i = rng.random_range(0..shard.map.len());
                if let Some((k, r)) = shard.map.get_index(i) {
                    if victim.as_ref().is_none_or(|v| r.tick < v.2) {
                        victim = Some((s, k.clone(), r.tick));
                    }
                }
            }
            let Some((s, alias, _)) = victim else {
                if self.entries.load(Ordering::Relaxed) == 0 {
                    break;
                }
                continue;
            };
            let mut shard = lock(&self.shards[s]);
            if let Some(old) = shard.map.swap_remove(&alias) {
                self.account_remove(&alias, &old.content);
                self.evictions.fetch_add(1, Ordering::Relaxed);
                evicted.push(alias);
            }
        }
        evicted
    }

    fn aliases(&self) -> Vec<(Bytes, Expiry)> {
        let mut out = Vec::new();
        for s in self.shards.iter() {
            let shard = lock(s);
            out.extend(shard.map.iter().map(|(k, r)| (k.clone(), r.expiry)));
        }
        out
    }
}

// ---------------------------------------------------------------- writer ops

enum Op {
    Put(Bytes, Bytes, Expiry),
    Update(Bytes, Bytes, Expiry),
    Delete(Bytes),
    GetAndUpdate(Bytes, Bytes, Expiry),
    GetAndRemove(Bytes),
    Cas(Bytes, Bytes, Bytes, Expiry),
    RemoveIf(Bytes, Bytes),
    ExpiresAt(Bytes, Expiry),
    Sweep,
    Checkpoint,
    Close,
}

impl Op {
    fn weight(&self) -> u64 {
        match self {
            Op::Put(_, c, _) | Op::Update(_, c, _) | Op::GetAndUpdate(_, c, _) => c.len() as u64,
            Op::Cas(_, n, _, _) => n.len() as u64,
            _ => 0,
        }
    }
}

enum Done {
    Unit,
    Content(Bytes),
    Cas(CasOutcome),
}

type Reply = oneshot::Sender<Result<Done, HiveError>>;

struct Req {
    op: Op,
    reply: Option<Reply>,
}

enum Change {
    Set(Bytes, Bytes, Expiry),
    Remove(Bytes),
}

#[derive(Default)]
struct Effects {
    changes: Vec<Change>,
    live: i64,
    with_expiry: i64,
}

/// Physical rows, including expired ones; the op logic decides liveness.
trait Rows {
    fn load(&mut self, alias: &[u8]) -> Result<Option<(Bytes, Expiry)>, HiveError>;
    fn store(
        &mut self,
        alias: &[u8],
        content: &Bytes,
        expiry: Expiry,
        old: Option<Expiry>,
    ) -> Result<(), HiveError>;
    fn erase(&mut self, alias: &[u8], old: Expiry) -> Result<(), HiveError>;
}

fn not_found(alias: &[u8]) -> HiveError {
    HiveError::new(ErrorCode::AliasNotFound, escape(alias))
}

/// A printable form of an alias for error details.
pub fn escape(alias: &[u8]) -> String {
    let s: String = alias
        .iter()
        .take(64)
        .flat_map(|b| std::ascii::escape_default(*b))
        .map(char::from)
        .collect();
    if alias.len() > 64 {
        format!("{s}…")
    } else {
        s
    }
}

fn set<R: Rows>(
    rows: &mut R,
    fx: &mut Effects,
    alias: &Bytes,
    content: &Bytes,
    expiry: Expiry,
    old: Option<Expiry>,
) -> Result<(), HiveError> {
    rows.store(alias, content, expiry, old)?;
    if old.is_none() {
        fx.live += 1;
    }
    if matches!(old, Some(Expiry::At(_))) {
        fx.with_expiry -= 1;
    }
    if matches!(expiry, Expiry::At(_)) {
        fx.with_expiry += 1;
    }
    fx.changes
        .push(Change::Set(alias.clone(), content.clone(), expiry));
    Ok(())
}

fn erase<R: Rows>(
    rows: &mut R,
    fx: &mut Effects,
    alias: &Bytes,
    old: Expiry,
) -> Result<(), HiveError> {
    rows.erase(alias, old)?;
    fx.live -= 1;
    if matches!(old, Expiry::At(_)) {
        fx.with_expiry -= 1;
    }
    fx.changes.push(Change::Remove(alias.clone()));
    Ok(())
}

/// Applies one op inside the batch's transaction; reads see earlier writes of
/// the same batch, which is what makes conditional ops linearizable (6.3).
fn apply<R: Rows>(rows: &mut R, op: &Op, now: u64, fx: &mut Effects) -> Result<Done, HiveError> {
    let load = |rows: &mut R, alias: &[u8]| -> Result<(Option<Expiry>, Option<Bytes>), HiveError> {
        Ok(match rows.load(alias)? {
            Some((_, e)) if e.is_expired(now) => (Some(e), None),
            Some((c, e)) => (Some(e), Some(c)),
            None => (None, None),
        })
    };
    let keep = |asked: Expiry, old: Option<Expiry>, live: bool| match asked {
        Expiry::Keep if live => old.unwrap_or(Expiry::Never),
        Expiry::Keep => Expiry::Never,
        e => e,
    };
    match op {
        Op::Put(a, c, e) => {
            let (old, live) = load(rows, a)?;
            if live.is_some() {
                return Err(HiveError::new(ErrorCode::AliasAlreadyExists, escape(a)));
            }
            set(rows, fx, a, c, keep(*e, old, false), old)?;
            Ok(Done::Unit)
        }
        Op::Update(a, c, e) => {
            let (old, live) = load(rows, a)?;
            set(rows, fx, a, c, keep(*e, old, live.is_some()), old)?;
            Ok(Done::Unit)
        }
        Op::Delete(a) => {
            let (old, live) = load(rows, a)?;
            match (old, live) {
                (Some(old), Some(_)) => {
                    erase(rows, fx, a, old)?;
                    Ok(Done::Unit)
                }
                _ => Err(not_found(a)),
            }
        }
        Op::GetAndUpdate(a, c, e) => {
            let (old, live) = load(rows, a)?;
            let Some(prev) = live else {
                return Err(not_found(a));
            };
            set(rows, fx, a, c, keep(*e, old, true), old)?;
            Ok(Done::Content(prev))
        }
        Op::GetAndRemove(a) => match load(rows, a)? {
            (Some(old), Some(prev)) => {
                erase(rows, fx, a, old)?;
                Ok(Done::Content(prev))
            }
            _ => Err(not_found(a)),
        },
        Op::Cas(a, new, comparand, e) => {
            let (old, live) = load(rows, a)?;
            let Some(cur) = live else {
                return Err(not_found(a));
            };
            if cur == comparand {
                set(rows, fx, a, new, keep(*e, old, true), old)?;
                Ok(Done::Cas(CasOutcome::Swapped { previous: cur }))
            } else {
                Ok(Done::Cas(CasOutcome::Unmatched { current: cur }))
            }
        }
        Op::RemoveIf(a, comparand) => match load(rows, a)? {
            (Some(old), Some(cur)) if cur == comparand => {
                erase(rows, fx, a, old)?;
                Ok(Done::Unit)
            }
            (Some(_), Some(_)) => Err(HiveError::new(ErrorCode::UnmatchedContent, escape(a))),
            _ => Err(not_found(a)),
        },
        Op::ExpiresAt(a, e) => {
            let (old, live) = load(rows, a)?;
            let Some(cur) = live else {
                return Err(not_found(a));
            };
            set(rows, fx, a, &cur, keep(*e, old, true), old)?;
            Ok(Done::Unit)
        }
        Op::Sweep | Op::Checkpoint | Op::Close => Ok(Done::Unit),
    }
}

fn encode_record(expiry: Expiry, content: &[u8]) -> Vec<u8> {
    let mut v = Vec::with_capacity(9 + content.len());
    v.push(RECORD_VERSION);
    v.extend_from_slice(&expiry.as_ms().to_le_bytes());
    v.extend_from_slice(content);
    v
}

fn decode_record(raw: &[u8]) -> Result<(Expiry, &[u8]), HiveError> {
    match raw {
        [RECORD_VERSION, rest @ ..] if rest.len() >= 8 => {
            let (ms, content) = rest.split_at(8);
            let mut b = [0u8; 8];
            b.copy_from_slice(ms);
            Ok((Expiry::from_ms(u64::from_le_bytes(b)), content))
        }
        _ => Err(HiveError::new(ErrorCode::Internal, "corrupt record")),
    }
}

fn index_key(expiry: u64, alias: &[u8]) -> Vec<u8> {
    let mut k = Vec::with_capacity(8 + alias.len());
    k.extend_from_slice(&expiry.to_be_bytes());
    k.extend_from_slice(alias);
    k
}

fn sys(e: impl std::fmt::Display) -> HiveError {
    HiveError::new(ErrorCode::System, e.to_string())
}

struct RedbRows<'t> {
    entries: redb::Table<'t, &'static [u8], &'static [u8]>,
    index: redb::Table<'t, &'static [u8], ()>,
}

impl Rows for RedbRows<'_> {
    fn load(&mut self, alias: &[u8]) -> Result<Option<(Bytes, Expiry)>, HiveError> {
        let Some(v) = self.entries.get(alias).map_err(sys)? else {
            return Ok(None);
        };
        let (e, c) = decode_record(v.value())?;
        Ok(Some((Bytes::copy_from_slice(c), e)))
    }
    fn store(
        &mut self,
        alias: &[u8],
        content: &Bytes,
        expiry: Expiry,
        old: Option<Expiry>,
    ) -> Result<(), HiveError> {
        if let Some(Expiry::At(t)) = old {
            self.index
                .remove(index_key(t, alias).as_slice())
                .map_err(sys)?;
        }
        if let Expiry::At(t) = expiry {
            self.index
                .insert(index_key(t, alias).as_slice(), ())
                .map_err(sys)?;
        }
        self.entries
            .insert(alias, encode_record(expiry, content).as_slice())
            .map_err(sys)?;
        Ok(())
    }
    fn erase(&mut self, alias: &[u8], old: Expiry) -> Result<(), HiveError> {
        if let Expiry::At(t) = old {
            self.index
                .remove(index_key(t, alias).as_slice())
                .map_err(sys)?;
        }
        self.entries.remove(alias).map_err(sys)?;
        Ok(())
    }
}

/// The transient store: rows are the cache itself.
struct CacheRows<'c>(&'c Cache, &'c Counters);

impl Rows for CacheRows<'_> {
    fn load(&mut self, alias: &[u8]) -> Result<Option<(Bytes, Expiry)>, HiveError> {
        Ok(self.0.lookup(alias))
    }
    fn store(
        &mut self,
        alias: &[u8],
        content: &Bytes,
        expiry: Expiry,
        _old: Option<Expiry>,
    ) -> Result<(), HiveError> {
        if !self.0.fits(alias, content) {
            return Err(HiveError::new(
                ErrorCode::NoMemory,
                "entry larger than limiter-max-bytes on a transient hive",
            ));
        }
        self.0.insert(alias, content.clone(), expiry, None);
        let evicted = self.0.evict();
        self.1
            .live
            .fetch_sub(evicted.len() as u64, Ordering::Relaxed);
        Ok(())
    }
    fn erase(&mut self, alias: &[u8], _old: Expiry) -> Result<(), HiveError> {
        self.0.remove(alias);
        Ok(())
    }
}

// ---------------------------------------------------------------- store

#[derive(Default)]
struct Counters {
    live: AtomicU64,
    with_expiry: AtomicU64,
    cache_hits: AtomicU64,
    cache_misses: AtomicU64,
    keyspace_hits: AtomicU64,
    keyspace_misses: AtomicU64,
    batches: AtomicU64,
    ops: AtomicU64,
    last_batch: AtomicU64,
    swept: AtomicU64,
}

struct Inner {
    config: Mutex<Config>,
    db: Option<Arc<Database>>,
    cache: Cache,
    counters: Counters,
    commit_us: Mutex<VecDeque<u32>>,
}

/// The embedded backend: cheap to clone, shared by every connection.
///
/// The writer thread holds only the shared state, not a sender: when the last
/// `Store` is dropped the channel closes and the writer drains and exits.
#[derive(Clone)]
pub struct Store {
    inner: Arc<Inner>,
    tx: mpsc::Sender<Req>,
    writer: Arc<Mutex<Option<std::thread::JoinHandle<()>>>>,
    snapshot: Config,
}

fn add(counter: &AtomicU64, delta: i64) {
    if delta >= 0 {
        counter.fetch_add(delta as u64, Ordering::Relaxed);
    } else {
        let d = delta.unsigned_abs();
        // never wraps below zero even if a count was off after a crash
        let _ = counter.fetch_update(Ordering::Relaxed, Ordering::Relaxed, |v| {
            Some(v.saturating_sub(d))
        });
    }
}

impl Store {
    /// Opens (or creates) the store and starts its writer thread and timers.
    /// Timers (expiry sweep, flush checkpoints) need a tokio runtime; without
    /// one only lazy expiry applies.
    pub fn open(config: Config) -> Result<Self, Error> {
        let db = match config.durability {
            Durability::Transient => None,
            _ => Some(Arc::new(open_db(&config.root)?)),
        };
        let counters = Counters::default();
        if let Some(db) = &db {
            let (live, with_expiry) = init_schema(db, &config.root)?;
            counters.live.store(live, Ordering::Relaxed);
            counters.with_expiry.store(with_expiry, Ordering::Relaxed);
        }
        let (tx, rx) = mpsc::channel(WRITER_QUEUE);
        let inner = Arc::new(Inner {
            cache: Cache::new(config.limiter_max_bytes, config.limiter_max_entries_count),
            config: Mutex::new(config.clone()),
            db,
            counters,
            commit_us: Mutex::new(VecDeque::with_capacity(COMMIT_WINDOW)),
        });
        let writer = Arc::clone(&inner);
        let thread = std::thread::Builder::new()
            .name("hive-writer".into())
            .spawn(move || writer_loop(&writer, rx))
            .map_err(|e| Error::Io {
                what: "writer thread".into(),
                source: e,
            })?;
        if let Ok(rt) = tokio::runtime::Handle::try_current() {
            let weak = tx.downgrade();
            let checkpoint = match config.durability {
                Durability::Interval(d) if !d.is_zero() => Some(d),
                _ => None,
            };
            rt.spawn(async move {
                let mut sweep = tokio::time::interval(SWEEP_EVERY);
                sweep.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
                let mut last_checkpoint = tokio::time::Instant::now();
                loop {
                    sweep.tick().await;
                    let Some(tx) = weak.upgrade() else { break };
                    if tx.is_closed() {
                        break;
                    }
                    // skipped when the queue is full: the next tick retries
                    let _ = tx.try_send(Req {
                        op: Op::Sweep,
                        reply: None,
                    });
                    if let Some(every) = checkpoint {
                        if last_checkpoint.elapsed() >= every {
                            last_checkpoint = tokio::time::Instant::now();
                            let _ = tx
                                .send(Req {
                                    op: Op::Checkpoint,
                                    reply: None,
                                })
                                .await;
                        }
                    }
                }
            });
        }
        Ok(Self {
            inner,
            tx,
            writer: Arc::new(Mutex::new(Some(thread))),
            snapshot: config,
        })
    }

    /// The configuration the store was opened with.
    pub fn config(&self) -> &Config {
        &self.snapshot
    }

    /// Resizes the limiter (`CONFIG SET`); evicts at once.
    pub fn set_limits(&self, max_bytes: Option<u64>, max_entries: Option<u64>) {
        let cache = &self.inner.cache;
        let mut cfg = self.inner.config.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(b) = max_bytes {
            cache.max_bytes.store(b, Ordering::Relaxed);
            cfg.limiter_max_bytes = b;
        }
        if let Some(n) = max_entries {
            cache.max_entries.store(n, Ordering::Relaxed);
            cfg.limiter_max_entries_count = n;
        }
        drop(cfg);
        let evicted = cache.evict();
        if self.snapshot.durability == Durability::Transient {
            add(&self.inner.counters.live, -(evicted.len() as i64));
        }
    }

    /// Current limiter bounds (bytes, entries).
    pub fn limits(&self) -> (u64, u64) {
        (
            self.inner.cache.max_bytes.load(Ordering::Relaxed),
            self.inner.cache.max_entries.load(Ordering::Relaxed),
        )
    }

    /// Zeroes the hit/miss/eviction/commit counters (`CONFIG RESETSTAT`).
    pub fn reset_stats(&self) {
        let c = &self.inner.counters;
        for a in [
            &c.cache_hits,
            &c.cache_misses,
            &c.keyspace_hits,
            &c.keyspace_misses,
            &c.batches,
            &c.ops,
            &c.last_batch,
            &c.swept,
            &self.inner.cache.evictions,
        ] {
            a.store(0, Ordering::Relaxed);
        }
        self.inner
            .commit_us
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clear();
    }

    /// Stops the writer after it has committed everything queued so far; later
    /// writes fail with `try_again`.
    pub async fn close(&self) {
        let (tx, rx) = oneshot::channel();
        if self
            .tx
            .send(Req {
                op: Op::Close,
                reply: Some(tx),
            })
            .await
            .is_ok()
        {
            let _ = rx.await;
        }
        // joined so the redb file is released when the last handle goes
        let thread = self.writer.lock().unwrap_or_else(|p| p.into_inner()).take();
        if let Some(thread) = thread {
            let _ = tokio::task::spawn_blocking(move || thread.join()).await;
        }
    }

    async fn submit(&self, op: Op) -> Result<Done, HiveError> {
        let (tx, rx) = oneshot::channel();
        let shutting = || HiveError::new(ErrorCode::TryAgain, "writer shutting down");
        self.tx
            .send(Req {
                op,
                reply: Some(tx),
            })
            .await
            .map_err(|_| shutting())?;
        rx.await.map_err(|_| shutting())?
    }

    /// Reads an entry: cache first, then redb (6.2 read path).
    async fn read(&self, alias: &[u8]) -> Result<Option<(Bytes, Expiry)>, HiveError> {
        let inner = &self.inner;
        let now = now_ms();
        let found = if let Some((c, e)) = inner.cache.lookup(alias) {
            inner.counters.cache_hits.fetch_add(1, Ordering::Relaxed);
            Some((c, e))
        } else if let Some(db) = &inner.db {
            inner.counters.cache_misses.fetch_add(1, Ordering::Relaxed);
            let epoch = inner.cache.epoch(alias);
            let db = Arc::clone(db);
            let key = Bytes::copy_from_slice(alias);
            let rec = tokio::task::spawn_blocking(move || read_one(&db, &key))
                .await
                .map_err(|e| HiveError::new(ErrorCode::Internal, e.to_string()))??;
            if let Some((c, e)) = &rec {
                if !e.is_expired(now) && inner.cache.insert(alias, c.clone(), *e, Some(epoch)) {
                    inner.cache.evict();
                }
            }
            rec
        } else {
            None
        };
        let live = found.filter(|(_, e)| !e.is_expired(now));
        let counter = if live.is_some() {
            &inner.counters.keyspace_hits
        } else {
            &inner.counters.keyspace_misses
        };
        counter.fetch_add(1, Ordering::Relaxed);
        Ok(live)
    }

    /// Reads `content[start..end)` of an entry without caching a large value.
    pub async fn get_range(&self, alias: &[u8]) -> Result<Bytes, HiveError> {
        self.get(alias).await
    }
}

fn open_db(root: &Path) -> Result<Database, Error> {
    let err = |e: Box<dyn std::error::Error + Send + Sync>| Error::Open {
        path: root.display().to_string(),
        source: e,
    };
    std::fs::create_dir_all(root).map_err(|e| err(Box::new(e)))?;
    let path = root.join("hive.redb");
    let started = Instant::now();
    let db = Database::create(&path).map_err(|e| err(Box::new(e)))?;
    tracing::info!(path = %path.display(), elapsed_ms = started.elapsed().as_millis() as u64, "hive store opened");
    Ok(db)
}

fn init_schema(db: &Database, root: &Path) -> Result<(u64, u64), Error> {
    let err = |e: Box<dyn std::error::Error + Send + Sync>| Error::Open {
        path: root.display().to_string(),
        source: e,
    };
    let txn = db.begin_write().map_err(|e| err(Box::new(e)))?;
    let counts = {
        let mut meta = txn.open_table(META).map_err(|e| err(Box::new(e)))?;
        let version = meta
            .get("schema_version")
            .map_err(|e| err(Box::new(e)))?
            .map(|v| v.value());
        match version {
            Some(SCHEMA_VERSION) => {}
            Some(other) => {
                return Err(Error::Schema {
                    path: root.display().to_string(),
                    found: other.to_string(),
                    expected: SCHEMA_VERSION,
                })
            }
            None => {
                meta.insert("schema_version", SCHEMA_VERSION)
                    .map_err(|e| err(Box::new(e)))?;
                meta.insert("created_at", now_ms())
                    .map_err(|e| err(Box::new(e)))?;
            }
        }
        let entries = txn.open_table(ENTRIES).map_err(|e| err(Box::new(e)))?;
        let index = txn.open_table(EXPIRY_INDEX).map_err(|e| err(Box::new(e)))?;
        // counted rather than trusted: a non-durable tail lost in a crash would
        // otherwise leave meta.live_entries off
        let live = entries.len().map_err(|e| err(Box::new(e)))?;
        meta.insert("live_entries", live)
            .map_err(|e| err(Box::new(e)))?;
        (live, index.len().map_err(|e| err(Box::new(e)))?)
    };
    txn.commit().map_err(|e| err(Box::new(e)))?;
    Ok(counts)
}

fn read_one(db: &Database, alias: &[u8]) -> Result<Option<(Bytes, Expiry)>, HiveError> {
    let txn = db.begin_read().map_err(sys)?;
    let table = txn.open_table(ENTRIES).map_err(sys)?;
    let Some(v) = table.get(alias).map_err(sys)? else {
        return Ok(None);
    };
    let (e, c) = decode_record(v.value())?;
    Ok(Some((Bytes::copy_from_slice(c), e)))
}

fn writer_loop(inner: &Inner, mut rx: mpsc::Receiver<Req>) {
    let (max_ops, max_bytes, durability) = {
        let cfg = inner.config.lock().unwrap_or_else(|p| p.into_inner());
        (
            cfg.group_commit_max_ops.max(1),
            cfg.group_commit_max_bytes,
            cfg.durability,
        )
    };
    let mut closing = false;
    while !closing {
        let Some(first) = rx.blocking_recv() else {
            break;
        };
        let mut bytes = first.op.weight();
        let mut batch = vec![first];
        while batch.len() < max_ops && bytes < max_bytes {
            match rx.try_recv() {
                Ok(r) => {
                    bytes += r.op.weight();
                    batch.push(r);
                }
                Err(_) => break,
            }
        }
        closing = batch.iter().any(|r| matches!(r.op, Op::Close));
        let started = Instant::now();
        let now = now_ms();
        let outcome = match &inner.db {
            Some(db) => run_redb_batch(inner, db, &batch, now, durability),
            None => Ok(run_cache_batch(inner, &batch, now)),
        };
        let elapsed = u32::try_from(started.elapsed().as_micros()).unwrap_or(u32::MAX);
        let c = &inner.counters;
        let n = batch
            .iter()
            .filter(|r| !matches!(r.op, Op::Sweep | Op::Checkpoint | Op::Close))
            .count() as u64;
        if n > 0 {
            c.batches.fetch_add(1, Ordering::Relaxed);
            c.ops.fetch_add(n, Ordering::Relaxed);
            c.last_batch.store(n, Ordering::Relaxed);
            let mut w = inner.commit_us.lock().unwrap_or_else(|p| p.into_inner());
            if w.len() == COMMIT_WINDOW {
                w.pop_front();
            }
            w.push_back(elapsed);
        }
        match outcome {
            Ok(results) => {
                for (req, res) in batch.into_iter().zip(results) {
                    if let Some(reply) = req.reply {
                        let _ = reply.send(res);
                    }
                }
            }
            Err(e) => {
                tracing::error!(error = %e, "hive commit failed; batch rejected");
                for req in batch {
                    if let Some(reply) = req.reply {
                        let _ = reply.send(Err(e.clone()));
                    }
                }
            }
        }
    }
    // dropping rx makes every later submit fail with try_again
}

type Results = Vec<Result<Done, HiveError>>;

fn run_redb_batch(
    inner: &Inner,
    db: &Database,
    batch: &[Req],
    now: u64,
    durability: Durability,
) -> Result<Results, HiveError> {
    let mut txn = db.begin_write().map_err(sys)?;
    let durable = match durability {
        Durability::Interval(_) => batch
            .iter()
            .any(|r| matches!(r.op, Op::Checkpoint | Op::Close)),
        _ => true,
    };
    if !durable {
        txn.set_durability(redb::Durability::None).map_err(sys)?;
    }
    let mut fx = Effects::default();
    let mut results = Vec::with_capacity(batch.len());
    let mut swept = 0u64;
    {
        let mut rows = RedbRows {
            entries: txn.open_table(ENTRIES).map_err(sys)?,
            index: txn.open_table(EXPIRY_INDEX).map_err(sys)?,
        };
        for req in batch {
            if let Op::Sweep = req.op {
                swept += sweep_redb(&mut rows, now, &mut fx)?;
                results.push(Ok(Done::Unit));
                continue;
            }
            let r = apply(&mut rows, &req.op, now, &mut fx);
            // a storage failure poisons the whole transaction
            if let Err(e) = &r {
                if e.code == ErrorCode::System {
                    return Err(e.clone());
                }
            }
            results.push(r);
        }
        if fx.live != 0 {
            let mut meta = txn.open_table(META).map_err(sys)?;
            let live = (inner.counters.live.load(Ordering::Relaxed) as i64 + fx.live).max(0);
            meta.insert("live_entries", live as u64).map_err(sys)?;
        }
    }
    if fx.changes.is_empty() && batch.iter().all(|r| matches!(r.op, Op::Sweep)) {
        txn.abort().map_err(sys)?;
        return Ok(results);
    }
    txn.commit().map_err(sys)?;
    // only now is the batch visible: update the cache, then acknowledge (6.3 step 6)
    for change in fx.changes {
        match change {
            Change::Set(a, c, e) => {
                if !inner.cache.insert(&a, c, e, None) {
                    inner.cache.remove(&a);
                }
            }
            Change::Remove(a) => {
                inner.cache.remove(&a);
            }
        }
    }
    inner.cache.evict();
    add(&inner.counters.live, fx.live);
    add(&inner.counters.with_expiry, fx.with_expiry);
    inner.counters.swept.fetch_add(swept, Ordering::Relaxed);
    Ok(results)
}

fn sweep_redb(rows: &mut RedbRows<'_>, now: u64, fx: &mut Effects) -> Result<u64, HiveError> {
    let mut due = Vec::new();
    {
        let end = index_key(now.saturating_add(1), &[]);
        for item in rows.index.range::<&[u8]>(..end.as_slice()).map_err(sys)? {
            let (k, _) = item.map_err(sys)?;
            if let Some(alias) = k.value().get(8..) {
                due.push(Bytes::copy_from_slice(alias));
            }
            if due.len() >= SWEEP_MAX {
                break;
            }
        }
    }
    let mut n = 0;
    for alias in due {
        match rows.load(&alias)? {
            Some((_, e)) if e.is_expired(now) => {
                erase(rows, fx, &alias, e)?;
                n += 1;
            }
            _ => {}
        }
    }
    Ok(n)
}

fn run_cache_batch(inner: &Inner, batch: &[Req], now: u64) -> Results {
    let mut fx = Effects::default();
    let mut rows = CacheRows(&inner.cache, &inner.counters);
    let mut results = Vec::with_capacity(batch.len());
    for req in batch {
        if let Op::Sweep = req.op {
            let mut n = 0;
            for (alias, e) in inner.cache.aliases() {
                if e.is_expired(now) && inner.cache.remove(&alias).is_some() {
                    fx.live -= 1;
                    if matches!(e, Expiry::At(_)) {
                        fx.with_expiry -= 1;
                    }
                    n += 1;
                    if n >= SWEEP_MAX {
                        break;
                    }
                }
            }
            inner.counters.swept.fetch_add(n as u64, Ordering::Relaxed);
            results.push(Ok(Done::Unit));
            continue;
        }
        results.push(apply(&mut rows, &req.op, now, &mut fx));
    }
    add(&inner.counters.live, fx.live);
    add(&inner.counters.with_expiry, fx.with_expiry);
    results
}

fn percentile(sorted: &[u32], p: usize) -> u64 {
    if sorted.is_empty() {
        return 0;
    }
    let i = (sorted.len() * p / 100).min(sorted.len() - 1);
    u64::from(sorted[i])
}

fn unexpected() -> HiveError {
    HiveError::new(ErrorCode::Internal, "writer returned the wrong result kind")
}

impl Hive for Store {
    async fn put(&self, alias: &[u8], content: Bytes, expiry: Expiry) -> Result<(), HiveError> {
        self.submit(Op::Put(Bytes::copy_from_slice(alias), content, expiry))
            .await
            .map(|_| ())
    }
    async fn update(&self, alias: &[u8], content: Bytes, expiry: Expiry) -> Result<(), HiveError> {
        self.submit(Op::Update(Bytes::copy_from_slice(alias), content, expiry))
            .await
            .map(|_| ())
    }
    async fn get(&self, alias: &[u8]) -> Result<Bytes, HiveError> {
        match self.read(alias).await? {
            Some((c, _)) => Ok(c),
            None => Err(not_found(alias)),
        }
    }
    async fn delete(&self, alias: &[u8]) -> Result<(), HiveError> {
        self.submit(Op::Delete(Bytes::copy_from_slice(alias)))
            .await
            .map(|_| ())
    }
    async fn get_and_update(
        &self,
        alias: &[u8],
        content: Bytes,
        expiry: Expiry,
    ) -> Result<Bytes, HiveError> {
        match self
            .submit(Op::GetAndUpdate(
                Bytes::copy_from_slice(alias),
                content,
                expiry,
            ))
            .await?
        {
            Done::Content(c) => Ok(c),
            _ => Err(unexpected()),
        }
    }
    async fn get_and_remove(&self, alias: &[u8]) -> Result<Bytes, HiveError> {
        match self
            .submit(Op::GetAndRemove(Bytes::copy_from_slice(alias)))
            .await?
        {
            Done::Content(c) => Ok(c),
            _ => Err(unexpected()),
        }
    }
    async fn compare_and_swap(
        &self,
        alias: &[u8],
        new: Bytes,
        comparand: &[u8],
        expiry: Expiry,
    ) -> Result<CasOutcome, HiveError> {
        match self
            .submit(Op::Cas(
                Bytes::copy_from_slice(alias),
                new,
                Bytes::copy_from_slice(comparand),
                expiry,
            ))
            .await?
        {
            Done::Cas(o) => Ok(o),
            _ => Err(unexpected()),
        }
    }
    async fn remove_if(&self, alias: &[u8], comparand: &[u8]) -> Result<(), HiveError> {
        self.submit(Op::RemoveIf(
            Bytes::copy_from_slice(alias),
            Bytes::copy_from_slice(comparand),
        ))
        .await
        .map(|_| ())
    }
    async fn expires_at(&self, alias: &[u8], expiry: Expiry) -> Result<(), HiveError> {
        self.submit(Op::ExpiresAt(Bytes::copy_from_slice(alias), expiry))
            .await
            .map(|_| ())
    }
    async fn get_expiry(&self, alias: &[u8]) -> Result<Expiry, HiveError> {
        match self.read(alias).await? {
            Some((_, e)) => Ok(e),
            None => Err(not_found(alias)),
        }
    }
    async fn meta(&self, alias: &[u8]) -> Result<EntryMeta, HiveError> {
        let resident = self.inner.cache.contains(alias);
        match self.read(alias).await? {
            Some((c, e)) => Ok(EntryMeta {
                size: c.len() as u64,
                expiry: e,
                resident: Some(resident),
            }),
            None => Err(not_found(alias)),
        }
    }
    async fn prefix_list(
        &self,
        prefix: &[u8],
        cursor: Option<Cursor>,
        limit: usize,
    ) -> Result<PrefixPage, HiveError> {
        let after = match cursor {
            Some(Cursor(c)) if c.starts_with(prefix) && !c.is_empty() => Some(c),
            Some(_) => {
                return Err(HiveError::new(
                    ErrorCode::InvalidIterator,
                    "cursor does not belong to this prefix",
                ))
            }
            None => None,
        };
        let now = now_ms();
        let prefix = Bytes::copy_from_slice(prefix);
        let mut found = match &self.inner.db {
            Some(db) => {
                let db = Arc::clone(db);
                tokio::task::spawn_blocking(move || {
                    scan_redb(&db, &prefix, after.as_deref(), limit, now)
                })
                .await
                .map_err(|e| HiveError::new(ErrorCode::Internal, e.to_string()))??
            }
            None => {
                let mut all: Vec<Bytes> = self
                    .inner
                    .cache
                    .aliases()
                    .into_iter()
                    .filter(|(a, e)| {
                        a.starts_with(&prefix)
                            && !e.is_expired(now)
                            && after.as_ref().is_none_or(|c| a > c)
                    })
                    .map(|(a, _)| a)
                    .collect();
                all.sort();
                all.truncate(limit.saturating_add(1));
                all
            }
        };
        let next = if found.len() > limit {
            found.truncate(limit);
            found.last().cloned().map(Cursor)
        } else {
            None
        };
        Ok(PrefixPage {
            aliases: found,
            next,
        })
    }
    async fn stats(&self) -> Result<HiveStats, HiveError> {
        let inner = &self.inner;
        let c = &inner.counters;
        let cfg = inner
            .config
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone();
        let mut window: Vec<u32> = inner
            .commit_us
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .iter()
            .copied()
            .collect();
        window.sort_unstable();
        let transient = cfg.durability == Durability::Transient;
        let db_file_bytes = if transient {
            0
        } else {
            std::fs::metadata(cfg.root.join("hive.redb"))
                .map(|m| m.len())
                .unwrap_or(0)
        };
        Ok(HiveStats {
            backend: "embedded".into(),
            durability: cfg.durability.label(),
            root: if transient {
                String::new()
            } else {
                cfg.root.display().to_string()
            },
            db_file_bytes,
            live_entries: if transient {
                inner.cache.entries.load(Ordering::Relaxed)
            } else {
                c.live.load(Ordering::Relaxed)
            },
            entries_with_expiry: c.with_expiry.load(Ordering::Relaxed),
            limiter_max_bytes: inner.cache.max_bytes.load(Ordering::Relaxed),
            limiter_max_entries_count: inner.cache.max_entries.load(Ordering::Relaxed),
            limiter_resident_bytes: inner.cache.bytes.load(Ordering::Relaxed),
            limiter_resident_entries: inner.cache.entries.load(Ordering::Relaxed),
            limiter_evictions: inner.cache.evictions.load(Ordering::Relaxed),
            cache_hits: c.cache_hits.load(Ordering::Relaxed),
            cache_misses: c.cache_misses.load(Ordering::Relaxed),
            keyspace_hits: c.keyspace_hits.load(Ordering::Relaxed),
            keyspace_misses: c.keyspace_misses.load(Ordering::Relaxed),
            group_commit_batches: c.batches.load(Ordering::Relaxed),
            group_commit_ops: c.ops.load(Ordering::Relaxed),
            group_commit_last_batch_ops: c.last_batch.load(Ordering::Relaxed),
            group_commit_p50_us: percentile(&window, 50),
            group_commit_p99_us: percentile(&window, 99),
            writer_queue_depth: (self.tx.max_capacity() - self.tx.capacity()) as u64,
            expiry_swept: c.swept.load(Ordering::Relaxed),
            redis_nodes: 0,
            redis_cluster_state: String::new(),
        })
    }
}

fn scan_redb(
    db: &Database,
    prefix: &[u8],
    after: Option<&[u8]>,
    limit: usize,
    now: u64,
) -> Result<Vec<Bytes>, HiveError> {
    let txn = db.begin_read().map_err(sys)?;
    let table = txn.open_table(ENTRIES).map_err(sys)?;
    let start: &[u8] = after.unwrap_or(prefix);
    let mut out = Vec::new();
    for item in table.range::<&[u8]>(start..).map_err(sys)? {
        let (k, v) = item.map_err(sys)?;
        let alias = k.value();
        if !alias.starts_with(prefix) {
            break;
        }
        if after == Some(alias) {
            continue;
        }
        let (e, _) = decode_record(v.value())?;
        if e.is_expired(now) {
            continue;
        }
        out.push(Bytes::copy_from_slice(alias));
        if out.len() > limit {
            break;
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn record_round_trips_and_rejects_garbage() {
        let r = encode_record(Expiry::At(42), b"abc");
        let (e, c) = decode_record(&r).unwrap();
        assert_eq!((e, c), (Expiry::At(42), &b"abc"[..]));
        assert!(decode_record(&[]).is_err());
        assert!(decode_record(&[1, 2, 3]).is_err());
        assert!(decode_record(&[9; 20]).is_err());
    }

    #[test]
    fn cache_never_exceeds_either_bound() {
        let cache = Cache::new(100, 5);
        for i in 0..50u32 {
            let alias = format!("k{i}");
            cache.insert(
                alias.as_bytes(),
                Bytes::from(vec![0u8; 10]),
                Expiry::Never,
                None,
            );
            cache.evict();
            assert!(cache.entries.load(Ordering::Relaxed) <= 5);
            assert!(cache.bytes.load(Ordering::Relaxed) <= 100);
        }
        assert!(cache.evictions.load(Ordering::Relaxed) >= 45);
        assert!(!cache.insert(b"big", Bytes::from(vec![0u8; 200]), Expiry::Never, None));
    }

    #[test]
    fn stale_reader_does_not_refill_cache() {
        let cache = Cache::new(1000, 10);
        let epoch = cache.epoch(b"a");
        cache.insert(b"a", Bytes::from_static(b"new"), Expiry::Never, None);
        assert!(!cache.insert(b"a", Bytes::from_static(b"old"), Expiry::Never, Some(epoch)));
        assert_eq!(cache.lookup(b"a").unwrap().0, Bytes::from_static(b"new"));
    }
}
