//! The console's view of the pool engine: the handle shape of style guide section 3
//! (a bounded command sender, a bounded event receiver, a `watch` of stats).
//!
//! The local pool engine is written on another branch; until it lands the console
//! talks to anything that produces these types: the in-process demo pools
//! (`demo.rs`) and the test harness. Wiring the real `engine::pool::handle` is an
//! adapter task that translates its events into [`PoolEvent`].

use std::sync::Arc;

use tokio::sync::{mpsc, watch};

use crate::tui::text::sanitize;
use crate::tui::widgets::ring::Weigh;

/// Capacity of the command channel (console spec section 9).
pub const CMD_CAP: usize = 64;
/// Capacity of the event channel (console spec section 9).
pub const EVENT_CAP: usize = 1024;

/// A decoded protein as the console shows it. Strings are already YAML text of each
/// slaw (lossless form) and may contain anything: sanitise before display.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Protein {
    /// Descrips, each as slaw-YAML text.
    pub descrips: Vec<String>,
    /// Ingests as (key, value) YAML text pairs.
    pub ingests: Vec<(String, String)>,
    /// Rude data.
    pub rude: Vec<u8>,
}

/// One protein read from a pool, as delivered to the tail.
#[derive(Debug, Clone)]
pub struct TailItem {
    /// Pool name.
    pub pool: String,
    /// Pool index.
    pub index: u64,
    /// Deposit timestamp, seconds since the Unix epoch.
    pub timestamp: f64,
    /// The decoded protein.
    pub protein: Arc<Protein>,
    /// The protein's encoded bytes (for the hex view).
    pub raw: Arc<[u8]>,
    /// Slaw YAML of the whole protein (for the detail view).
    pub yaml: Arc<str>,
}

impl TailItem {
    /// The protein's slaw YAML: decoded from the bytes on demand (detail view,
    /// save), or the text the source supplied.
    pub fn yaml_text(&self) -> String {
        if self.yaml.is_empty() {
            crate::tui::local::protein_yaml(&self.raw).unwrap_or_default()
        } else {
            self.yaml.to_string()
        }
    }
}

/// A tail row, formatted once on arrival so drawing never formats proteins.
#[derive(Debug, Clone)]
pub struct TailRow {
    /// Pool index.
    pub index: u64,
    /// Timestamp, seconds since the epoch.
    pub timestamp: f64,
    /// Sanitised, comma-separated descrips.
    pub descrips: String,
    /// Sanitised one-line ingests summary.
    pub ingests: String,
    /// Number of ingests.
    pub ingest_count: usize,
    /// Encoded size in bytes.
    pub size: usize,
    /// Lower-cased descrips, for filtering without allocating per keystroke.
    pub descrips_lower: Vec<String>,
    /// The full item, for the detail view.
    pub item: TailItem,
}

impl TailRow {
    /// Formats a row from an item (the only place summaries are computed).
    pub fn new(item: TailItem) -> TailRow {
        let p = &item.protein;
        let descrips = sanitize(&p.descrips.join(", "));
        let mut ingests = String::from("{");
        for (i, (k, v)) in p.ingests.iter().enumerate() {
            if i > 0 {
                ingests.push_str(", ");
            }
            if ingests.len() > 200 {
                ingests.push('…');
                break;
            }
            ingests.push_str(&sanitize(k));
            ingests.push_str(": ");
            ingests.push_str(&sanitize(v));
        }
        ingests.push('}');
        TailRow {
            index: item.index,
            timestamp: item.timestamp,
            descrips,
            ingests,
            ingest_count: p.ingests.len(),
            size: item.raw.len(),
            descrips_lower: p.descrips.iter().map(|d| d.to_lowercase()).collect(),
            item,
        }
    }
}

impl Weigh for TailRow {
    fn weight(&self) -> usize {
        std::mem::size_of::<TailRow>()
            + self.descrips.len()
            + self.ingests.len()
            + self.descrips_lower.iter().map(|d| d.len()).sum::<usize>()
            + self.item.raw.len()
            + self.item.yaml.len()
            + self
                .item
                .protein
                .descrips
                .iter()
                .map(|d| d.len())
                .sum::<usize>()
            + self
                .item
                .protein
                .ingests
                .iter()
                .map(|(k, v)| k.len() + v.len())
                .sum::<usize>()
    }
}

/// Where a pool lives.
#[derive(Debug, Clone, PartialEq)]
pub enum Location {
    /// An mmap pool in the local pools directory.
    Local,
    /// An in-process demo pool.
    Demo,
    /// A remote pool server (`tcp://host:port`), with TLS or not.
    Remote {
        /// `host:port`.
        addr: String,
        /// `tcps://`.
        tls: bool,
    },
}

/// One row of the pool list.
#[derive(Debug, Clone, PartialEq)]
pub struct PoolInfo {
    /// Pool name.
    pub name: String,
    /// Where it lives.
    pub location: Location,
    /// Capacity in bytes.
    pub capacity: u64,
    /// Bytes in use.
    pub used: u64,
    /// Oldest index, if any protein.
    pub oldest: Option<u64>,
    /// Newest index, if any protein.
    pub newest: Option<u64>,
}

/// Engine → console events.
#[derive(Debug, Clone)]
pub enum PoolEvent {
    /// The pool list changed (full replacement).
    List(Vec<PoolInfo>),
    /// A protein arrived on the tail that is open.
    Protein(TailItem),
    /// Proteins lost before the console saw them (channel full, or the pool
    /// overwrote them before the reader reached them).
    Dropped {
        /// Pool name.
        pool: String,
        /// How many.
        count: u64,
    },
    /// Reply to [`PoolCmd::Deposit`].
    Deposited {
        /// Pool name.
        pool: String,
        /// Index assigned, or the retort (name and code) on failure.
        result: Result<u64, Retort>,
    },
    /// Reply to create / resize / dispose.
    Admin {
        /// What was done, e.g. `created demo`.
        what: String,
        /// The retort on failure.
        result: Result<(), Retort>,
    },
    /// The engine itself failed (transport level).
    Failed(String),
}

/// A pool retort: remote failures are data.
#[derive(Debug, Clone, PartialEq)]
pub struct Retort {
    /// The protocol's name, e.g. `POOL_PROTEIN_BIGGER_THAN_POOL`.
    pub name: String,
    /// The numeric code.
    pub code: i64,
}

impl std::fmt::Display for Retort {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}", self.name, self.code)
    }
}

/// Console → engine commands.
#[derive(Debug, Clone, PartialEq)]
pub enum PoolCmd {
    /// Re-send the pool list.
    Refresh,
    /// Tail this pool from `from` (None = only new proteins, after a backlog of up
    /// to `backlog` recent ones).
    Tail {
        /// Pool name.
        pool: String,
        /// How many recent proteins to send first.
        backlog: usize,
    },
    /// Deposit a protein.
    Deposit {
        /// Pool name.
        pool: String,
        /// The protein as the console shows it.
        protein: Protein,
        /// The protein encoded as binary slaw.
        encoded: Vec<u8>,
    },
    /// Create a pool of `capacity` bytes.
    Create {
        /// Pool name.
        pool: String,
        /// Capacity in bytes.
        capacity: u64,
    },
    /// Resize a pool.
    Resize {
        /// Pool name.
        pool: String,
        /// New capacity in bytes.
        capacity: u64,
    },
    /// Dispose of a pool.
    Dispose {
        /// Pool name.
        pool: String,
    },
}

impl PoolCmd {
    /// Whether the command changes on-disk or remote state.
    pub fn is_write(&self) -> bool {
        !matches!(self, PoolCmd::Refresh | PoolCmd::Tail { .. })
    }

    /// Short text used by event scripts (`expect-cmd pools.deposit demo`).
    pub fn describe(&self) -> String {
        match self {
            PoolCmd::Refresh => "pools.refresh".into(),
            PoolCmd::Tail { pool, .. } => format!("pools.tail {pool}"),
            PoolCmd::Deposit { pool, .. } => format!("pools.deposit {pool}"),
            PoolCmd::Create { pool, capacity } => format!("pools.create {pool} {capacity}"),
            PoolCmd::Resize { pool, capacity } => format!("pools.resize {pool} {capacity}"),
            PoolCmd::Dispose { pool } => format!("pools.dispose {pool}"),
        }
    }
}

/// Counters the pool source publishes through its watch channel.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PoolStats {
    /// Proteins delivered to the console since start.
    pub proteins: u64,
    /// Proteins dropped before the console saw them.
    pub dropped: u64,
    /// Of `dropped`, how many were already reported as a `Dropped` event.
    pub drops_reported: u64,
    /// Deposits made through this source.
    pub deposits: u64,
    /// Errors.
    pub errors: u64,
    /// Whether the source is connected / usable.
    pub state: SourceState,
}

/// Connection state of an engine, as the badges show it.
#[derive(Debug, Clone, Default, PartialEq)]
pub enum SourceState {
    /// Not configured or not built.
    #[default]
    Off,
    /// In-process or mmap.
    Local,
    /// Connected.
    Up {
        /// Over TLS.
        tls: bool,
    },
    /// Connecting.
    Connecting,
    /// Retrying after a failure.
    Retry {
        /// Seconds until the next try.
        in_secs: u64,
        /// Last error.
        error: String,
    },
    /// Down.
    Down {
        /// Last error.
        error: String,
    },
}

/// The console side of a pool engine.
#[derive(Debug)]
pub struct PoolsHandle {
    /// Commands to the engine (`try_send` only).
    pub cmd: mpsc::Sender<PoolCmd>,
    /// Events from the engine.
    pub events: mpsc::Receiver<PoolEvent>,
    /// Latest counters.
    pub stats: watch::Receiver<PoolStats>,
}

/// The engine side of a [`PoolsHandle`], for sources and tests.
#[derive(Debug)]
pub struct PoolsEnd {
    /// Commands from the console.
    pub cmd: mpsc::Receiver<PoolCmd>,
    /// Events to the console (`try_send`, count drops).
    pub events: mpsc::Sender<PoolEvent>,
    /// Counters.
    pub stats: watch::Sender<PoolStats>,
}

/// A connected handle / engine-end pair with the standard capacities.
pub fn pools_channel() -> (PoolsHandle, PoolsEnd) {
    let (ctx, crx) = mpsc::channel(CMD_CAP);
    let (etx, erx) = mpsc::channel(EVENT_CAP);
    let (stx, srx) = watch::channel(PoolStats::default());
    (
        PoolsHandle {
            cmd: ctx,
            events: erx,
            stats: srx,
        },
        PoolsEnd {
            cmd: crx,
            events: etx,
            stats: stx,
        },
    )
}
