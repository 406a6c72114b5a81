//! Local mmap pools, byte-compatible with libPlasma (plasma spec sections 5-6).
//!
//! Layers:
//! - [`checksum`]: the entry checksum of `checksum` pools (libLoam's CityHash64
//!   with seeds, spec 6.3 and 13). Pure arithmetic.
//! - [`codec`]: the backing file's header chunks, the TOC block, entry layout,
//!   `pool.conf` (spec 5.3, 6.1-6.3). Pure byte arithmetic.
//! - [`protocol`]: ring-buffer index math (remodulate, wrap, where the next
//!   deposit goes, which entries it overwrites), TOC append and decimation, pool
//!   name rules (spec 5.2, 6.2, 6.3, 6.9). Sans-IO: entries are read through a
//!   trait, time is an argument.
//! - [`store`]: the pools directory, memmap2 mappings, deposit/read, locks (flock
//!   and System V semaphores), create/open/dispose/rename/resize (spec 5, 6.6,
//!   6.8, 6.9). The only home of `unsafe` in this engine.
//! - [`io`]: await and notify through the notification FIFOs (spec 6.7), gangs,
//!   and the tokio tail stream.
//! - [`handle`]: [`handle::PoolHandle`], what the console and CLI use.
//!
//! The pools directory is always an explicit argument ([`store::Pools::new`]);
//! only the CLI reads `OB_POOLS_DIR`.

pub mod checksum;
pub mod codec;
pub mod handle;
pub mod io;
pub mod protocol;
pub mod store;

pub use handle::PoolHandle;
pub use store::{CreateOptions, Entry, Info, Pool, Pools};

use std::path::PathBuf;

/// Errors of the pool engine. Each names the pool and, where the spec has one,
/// maps to a libPlasma retort ([`Error::retort`]).
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The pool does not exist.
    #[error("pool {pool:?}: no such pool (POOL_NO_SUCH_POOL)")]
    NoSuchPool {
        /// Pool name.
        pool: String,
    },
    /// Creating or renaming onto a pool that exists.
    #[error("pool {pool:?}: pool exists (POOL_EXISTS)")]
    Exists {
        /// Pool name.
        pool: String,
    },
    /// The name breaks the rules of spec 5.2.
    #[error("pool {pool:?}: illegal pool name: {reason} (POOL_POOLNAME_BADTH)")]
    BadName {
        /// Pool name as given.
        pool: String,
        /// Which rule it breaks.
        reason: String,
    },
    /// The backing file or its header is inconsistent.
    #[error("pool {pool:?}: corrupt pool: {detail} (POOL_CORRUPT)")]
    Corrupt {
        /// Pool name.
        pool: String,
        /// What is wrong.
        detail: String,
    },
    /// A version, byte order or flag this implementation does not handle.
    #[error("pool {pool:?}: {detail} (POOL_WRONG_VERSION)")]
    WrongVersion {
        /// Pool name.
        pool: String,
        /// What is unsupported.
        detail: String,
    },
    /// The pool.conf is not a readable mmap pool configuration.
    #[error("pool {pool:?}: {detail} (POOL_CONFIG_BADTH)")]
    Config {
        /// Pool name.
        pool: String,
        /// What is wrong.
        detail: String,
    },
    /// No protein with that index (never deposited, or already overwritten).
    #[error("pool {pool:?}: no protein with index {index} (POOL_NO_SUCH_PROTEIN)")]
    NoSuchProtein {
        /// Pool name.
        pool: String,
        /// The index asked for.
        index: i64,
    },
    /// The entry does not fit in the ring at all.
    #[error(
        "pool {pool:?}: protein of {entry_bytes} bytes (with entry overhead) bigger than the pool's {room_bytes} bytes of ring (POOL_PROTEIN_BIGGER_THAN_POOL)"
    )]
    TooBig {
        /// Pool name.
        pool: String,
        /// Entry size needed.
        entry_bytes: u64,
        /// Ring space available.
        room_bytes: u64,
    },
    /// The pool is frozen.
    #[error("pool {pool:?}: pool is frozen (POOL_FROZEN)")]
    Frozen {
        /// Pool name.
        pool: String,
    },
    /// The pool is stop-when-full and full.
    #[error("pool {pool:?}: pool is full (POOL_FULL)")]
    Full {
        /// Pool name.
        pool: String,
    },
    /// A size outside the spec's limits.
    #[error("pool {pool:?}: invalid size {size}: {reason} (POOL_INVALID_SIZE)")]
    InvalidSize {
        /// Pool name.
        pool: String,
        /// Size asked for.
        size: u64,
        /// Which limit.
        reason: String,
    },
    /// Bytes that are not a protein.
    #[error("pool {pool:?}: not a protein: {detail} (POOL_NOT_A_PROTEIN)")]
    NotAProtein {
        /// Pool name.
        pool: String,
        /// Why.
        detail: String,
    },
    /// An option this implementation cannot honour compatibly.
    #[error("pool {pool:?}: {what} is not supported (POOL_UNSUPPORTED_OPERATION)")]
    Unsupported {
        /// Pool name.
        pool: String,
        /// What was asked.
        what: String,
    },
    /// A pool inside another pool, or a pool around other pools.
    #[error("pool {pool:?}: {reason} (POOL_ILLEGAL_NESTING)")]
    IllegalNesting {
        /// Pool name.
        pool: String,
        /// Which way it nests.
        reason: String,
    },
    /// Rename across pools that cannot be renamed (e.g. in use or nested).
    #[error("pool {pool:?}: cannot rename: {reason} (POOL_IMPOSSIBLE_RENAME)")]
    ImpossibleRename {
        /// Pool name.
        pool: String,
        /// Why.
        reason: String,
    },
    /// Await ended by its timeout.
    #[error("pool {pool:?}: await timed out (POOL_AWAIT_TIMEDOUT)")]
    Timeout {
        /// Pool name.
        pool: String,
    },
    /// Await ended by a wake-up request.
    #[error("pool {pool:?}: await woken (POOL_AWAIT_WOKEN)")]
    Woken {
        /// Pool name.
        pool: String,
    },
    /// Another hose (of this or any process, libPlasma's included) has the
    /// pool open, so it cannot be disposed or renamed now.
    #[error("pool {pool:?}: pool is in use by another hose (POOL_IN_USE)")]
    InUse {
        /// Pool name.
        pool: String,
    },
    /// A gang with no members.
    #[error("gang has no pools (POOL_EMPTY_GANG)")]
    EmptyGang,
    /// System V semaphore or flock failure.
    #[error("pool {pool:?}: {op}: lock failed (POOL_SEMAPHORES_BADTH)")]
    Lock {
        /// Pool name.
        pool: String,
        /// Which step.
        op: &'static str,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
    /// Notification FIFO failure.
    #[error("pool {pool:?}: {op}: notification fifo failed (POOL_FIFO_BADTH)")]
    Fifo {
        /// Pool name.
        pool: String,
        /// Which step.
        op: &'static str,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
    /// The pools directory is missing or unusable.
    #[error("pools directory {dir:?}: {detail} (POOL_NO_POOLS_DIR)")]
    NoPoolsDir {
        /// The directory.
        dir: PathBuf,
        /// What is wrong.
        detail: String,
    },
    /// Any other I/O failure on a pool's files.
    #[error("pool {pool:?}: {op} {path:?}")]
    Io {
        /// Pool name.
        pool: String,
        /// Which step.
        op: &'static str,
        /// The file involved.
        path: PathBuf,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
}

impl Error {
    /// The libPlasma retort code for this error (spec 7.5).
    pub fn retort(&self) -> i64 {
        match self {
            Error::NoSuchPool { .. } => -200570,
            Error::Exists { .. } => -200575,
            Error::BadName { .. } => -200550,
            Error::Corrupt { .. } => -200548,
            Error::WrongVersion { .. } => -200547,
            Error::Config { .. } => -200545,
            Error::NoSuchProtein { .. } => -200635,
            Error::TooBig { .. } => -200700,
            Error::Frozen { .. } => -200710,
            Error::Full { .. } => -200720,
            Error::InvalidSize { .. } => -200560,
            Error::NotAProtein { .. } => -200800,
            Error::Unsupported { .. } => -201100,
            Error::ImpossibleRename { .. } => -200551,
            Error::IllegalNesting { .. } => -200576,
            Error::Timeout { .. } => -200640,
            Error::Woken { .. } => -200650,
            Error::InUse { .. } => -200530,
            Error::EmptyGang => -201060,
            Error::Lock { .. } => -200510,
            Error::Fifo { .. } => -200555,
            Error::NoPoolsDir { .. } => -200400,
            Error::Io { source, .. } => source
                .raw_os_error()
                .map(|e| -(90000 + i64::from(e)))
                .unwrap_or(-220),
        }
    }

    /// The retort's name as libPlasma spells it.
    pub fn retort_name(&self) -> &'static str {
        match self {
            Error::NoSuchPool { .. } => "POOL_NO_SUCH_POOL",
            Error::Exists { .. } => "POOL_EXISTS",
            Error::BadName { .. } => "POOL_POOLNAME_BADTH",
            Error::Corrupt { .. } => "POOL_CORRUPT",
            Error::WrongVersion { .. } => "POOL_WRONG_VERSION",
            Error::Config { .. } => "POOL_CONFIG_BADTH",
            Error::NoSuchProtein { .. } => "POOL_NO_SUCH_PROTEIN",
            Error::TooBig { .. } => "POOL_PROTEIN_BIGGER_THAN_POOL",
            Error::Frozen { .. } => "POOL_FROZEN",
            Error::Full { .. } => "POOL_FULL",
            Error::InvalidSize { .. } => "POOL_INVALID_SIZE",
            Error::NotAProtein { .. } => "POOL_NOT_A_PROTEIN",
            Error::Unsupported { .. } => "POOL_UNSUPPORTED_OPERATION",
            Error::ImpossibleRename { .. } => "POOL_IMPOSSIBLE_RENAME",
            Error::IllegalNesting { .. } => "POOL_ILLEGAL_NESTING",
            Error::Timeout { .. } => "POOL_AWAIT_TIMEDOUT",
            Error::Woken { .. } => "POOL_AWAIT_WOKEN",
            Error::InUse { .. } => "POOL_IN_USE",
            Error::EmptyGang => "POOL_EMPTY_GANG",
            Error::Lock { .. } => "POOL_SEMAPHORES_BADTH",
            Error::Fifo { .. } => "POOL_FIFO_BADTH",
            Error::NoPoolsDir { .. } => "POOL_NO_POOLS_DIR",
            Error::Io { .. } => "OB_ERRNO",
        }
    }
}

/// Result alias of the pool engine.
pub type Result<T, E = Error> = std::result::Result<T, E>;
