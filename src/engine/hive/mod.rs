//! Hive: the wrpme key-value engine (hive spec, `/work/shared/specs/hive.md`).
//!
//! Layers:
//! - [`error`]: wrpme error codes (section 3) and engine errors;
//! - this module: the data model and the [`Hive`] interface (section 2) plus
//!   [`Backend`], the shared validation layer above both backends;
//! - [`store`]: the `embedded` backend, redb plus the limiter cache and the
//!   group-commit writer (section 6);
//! - [`redis`]: the `redis` backend over the `redis` crate, single node or
//!   cluster (section 7), also used for `resp://` targets (a tidepool server);
//! - [`codec`]: RESP2/RESP3 framing, sans-IO (section 8.2);
//! - [`protocol`]: the RESP command table and error mapping, sans-IO (8.4–8.6);
//! - [`io`]: the front-door server;
//! - [`handle`]: [`handle::Handle`], what the console and CLI use;
//! - [`viewer`]: value format detection for the console's viewer (section 9).

pub mod codec;
pub mod error;
pub mod handle;
pub mod io;
pub mod protocol;
pub mod redis;
pub mod store;
pub mod viewer;

use std::future::Future;
use std::time::{SystemTime, UNIX_EPOCH};

use bytes::Bytes;

pub use error::{Error, ErrorCode, HiveError};

/// Longest alias, in bytes (wrpme: "4 KiB maximum").
pub const MAX_ALIAS_BYTES: usize = 4096;
/// Default content cap and RESP bulk cap (`--max-entry-bytes`).
pub const DEFAULT_MAX_ENTRY_BYTES: u64 = 536_870_912;
/// wrpme's default front-door port.
pub const DEFAULT_PORT: u16 = 5909;

/// When an entry expires.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash, Default)]
pub enum Expiry {
    /// Never (the default).
    #[default]
    Never,
    /// At this instant, in milliseconds since the Unix epoch.
    At(u64),
    /// Keep the current expiry (RESP `KEEPTTL` only).
    Keep,
}

impl Expiry {
    /// The wire form: 0 = never.
    pub fn as_ms(self) -> u64 {
        match self {
            Expiry::At(t) => t,
            Expiry::Never | Expiry::Keep => 0,
        }
    }

    /// From the wire form (0 = never).
    pub fn from_ms(ms: u64) -> Self {
        if ms == 0 {
            Expiry::Never
        } else {
            Expiry::At(ms)
        }
    }

    /// Whether the entry is expired at `now_ms`.
    pub fn is_expired(self, now_ms: u64) -> bool {
        matches!(self, Expiry::At(t) if t <= now_ms)
    }
}

/// Result of [`Hive::compare_and_swap`]: the original content either way.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CasOutcome {
    /// The comparand matched; `previous` was replaced.
    Swapped {
        /// The replaced content.
        previous: Bytes,
    },
    /// The comparand did not match; nothing was written.
    Unmatched {
        /// The content in place.
        current: Bytes,
    },
}

/// Size and expiry of an entry.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EntryMeta {
    /// Content length in bytes.
    pub size: u64,
    /// Expiry.
    pub expiry: Expiry,
    /// Whether it is resident in the limiter cache (embedded only).
    pub resident: Option<bool>,
}

/// An opaque, backend-specific continuation of a prefix listing.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Cursor(pub Bytes);

/// One page of a prefix listing.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PrefixPage {
    /// Aliases starting with the prefix (sorted on the embedded backend).
    pub aliases: Vec<Bytes>,
    /// Where to continue; `None` when the listing is complete.
    pub next: Option<Cursor>,
}

/// Counters and settings of a hive backend, for `INFO` and the console.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct HiveStats {
    /// `embedded` or `redis`.
    pub backend: String,
    /// `immediate`, `interval:<s>` or `transient` (embedded); `redis` otherwise.
    pub durability: String,
    /// Directory of `hive.redb`, empty when transient or remote.
    pub root: String,
    /// Size of `hive.redb`.
    pub db_file_bytes: u64,
    /// Live entries (may briefly include expired ones).
    pub live_entries: u64,
    /// Entries with an expiry.
    pub entries_with_expiry: u64,
    /// Limiter bound on resident bytes.
    pub limiter_max_bytes: u64,
    /// Limiter bound on resident entries.
    pub limiter_max_entries_count: u64,
    /// Resident bytes (alias + content).
    pub limiter_resident_bytes: u64,
    /// Resident entries.
    pub limiter_resident_entries: u64,
    /// Entries evicted from the cache.
    pub limiter_evictions: u64,
    /// Cache hits.
    pub cache_hits: u64,
    /// Cache misses (read from redb).
    pub cache_misses: u64,
    /// Reads that found the alias (hit or redb).
    pub keyspace_hits: u64,
    /// Reads that found nothing.
    pub keyspace_misses: u64,
    /// Committed writer batches.
    pub group_commit_batches: u64,
    /// Operations in those batches.
    pub group_commit_ops: u64,
    /// Operations in the last batch.
    pub group_commit_last_batch_ops: u64,
    /// Median batch commit time, µs (recent window).
    pub group_commit_p50_us: u64,
    /// 99th percentile batch commit time, µs (recent window).
    pub group_commit_p99_us: u64,
    /// Requests waiting for the writer.
    pub writer_queue_depth: u64,
    /// Entries removed by the active expiry sweep.
    pub expiry_swept: u64,
    /// Redis masters (redis backend).
    pub redis_nodes: u64,
    /// `ok`/`fail` (redis cluster), empty otherwise.
    pub redis_cluster_state: String,
}

/// Milliseconds since the Unix epoch by the local clock.
pub fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
        .unwrap_or(0)
}

/// Checks an alias against section 2.1.
pub fn validate_alias(alias: &[u8]) -> Result<(), HiveError> {
    if alias.is_empty() {
        return Err(HiveError::new(ErrorCode::InvalidInput, "empty alias"));
    }
    if alias.len() > MAX_ALIAS_BYTES {
        return Err(HiveError::new(
            ErrorCode::AliasTooLong,
            format!("{} bytes", alias.len()),
        ));
    }
    Ok(())
}

/// Checks content against section 2.1.
pub fn validate_content(content: &[u8], max_entry_bytes: u64) -> Result<(), HiveError> {
    if content.is_empty() {
        return Err(HiveError::new(ErrorCode::InvalidInput, "empty content"));
    }
    if content.len() as u64 > max_entry_bytes {
        return Err(HiveError::new(
            ErrorCode::EntryTooLarge,
            format!("{} bytes", content.len()),
        ));
    }
    Ok(())
}

fn validate_expiry(expiry: Expiry) -> Result<(), HiveError> {
    match expiry {
        // i64::MAX ms is what Redis accepts as the far end of PXAT
        Expiry::At(t) if t > i64::MAX as u64 => Err(HiveError::new(
            ErrorCode::OutOfBounds,
            format!("expiry {t} ms"),
        )),
        _ => Ok(()),
    }
}

/// The wrpme operations (section 2.3). Implemented by each backend and by
/// [`Backend`], which validates input before delegating.
pub trait Hive: Send + Sync + 'static {
    /// Creates an entry; `alias_already_exists` if present.
    fn put(
        &self,
        alias: &[u8],
        content: Bytes,
        expiry: Expiry,
    ) -> impl Future<Output = Result<(), HiveError>> + Send;
    /// Creates or replaces an entry.
    fn update(
        &self,
        alias: &[u8],
        content: Bytes,
        expiry: Expiry,
    ) -> impl Future<Output = Result<(), HiveError>> + Send;
    /// Reads an entry.
    fn get(&self, alias: &[u8]) -> impl Future<Output = Result<Bytes, HiveError>> + Send;
    /// Removes an entry.
    fn delete(&self, alias: &[u8]) -> impl Future<Output = Result<(), HiveError>> + Send;
    /// Replaces an existing entry, returning the old content.
    fn get_and_update(
        &self,
        alias: &[u8],
        content: Bytes,
        expiry: Expiry,
    ) -> impl Future<Output = Result<Bytes, HiveError>> + Send;
    /// Removes an entry, returning its content.
    fn get_and_remove(&self, alias: &[u8])
        -> impl Future<Output = Result<Bytes, HiveError>> + Send;
    /// Replaces the content if it equals `comparand`.
    fn compare_and_swap(
        &self,
        alias: &[u8],
        new: Bytes,
        comparand: &[u8],
        expiry: Expiry,
    ) -> impl Future<Output = Result<CasOutcome, HiveError>> + Send;
    /// Removes the entry if its content equals `comparand`.
    fn remove_if(
        &self,
        alias: &[u8],
        comparand: &[u8],
    ) -> impl Future<Output = Result<(), HiveError>> + Send;
    /// Sets an absolute expiry, or never.
    fn expires_at(
        &self,
        alias: &[u8],
        expiry: Expiry,
    ) -> impl Future<Output = Result<(), HiveError>> + Send;
    /// Reads the expiry.
    fn get_expiry(&self, alias: &[u8]) -> impl Future<Output = Result<Expiry, HiveError>> + Send;
    /// Size, expiry, residency.
    fn meta(&self, alias: &[u8]) -> impl Future<Output = Result<EntryMeta, HiveError>> + Send;
    /// One page of aliases starting with `prefix`.
    fn prefix_list(
        &self,
        prefix: &[u8],
        cursor: Option<Cursor>,
        limit: usize,
    ) -> impl Future<Output = Result<PrefixPage, HiveError>> + Send;
    /// Counters and settings.
    fn stats(&self) -> impl Future<Output = Result<HiveStats, HiveError>> + Send;

    /// Relative expiry, converted with this process's clock (the server's,
    /// when the hive runs behind the front door).
    fn expires_from_now(
        &self,
        alias: &[u8],
        ms: u64,
    ) -> impl Future<Output = Result<(), HiveError>> + Send {
        let at = now_ms().saturating_add(ms);
        self.expires_at(alias, Expiry::At(at))
    }
}

/// Either backend, behind the shared validation layer (section 2.3: both
/// backends return identical errors for the same input, and invalid input never
/// reaches Redis).
#[derive(Clone)]
pub enum Backend {
    /// redb plus the limiter cache.
    Embedded(store::Store),
    /// Redis, Redis Cluster, or a tidepool front door.
    Redis(redis::RedisHive),
}

impl Backend {
    fn max_entry_bytes(&self) -> u64 {
        match self {
            Backend::Embedded(s) => s.config().max_entry_bytes,
            Backend::Redis(_) => DEFAULT_MAX_ENTRY_BYTES,
        }
    }

    fn check_write(&self, alias: &[u8], content: &[u8], expiry: Expiry) -> Result<(), HiveError> {
        validate_alias(alias)?;
        validate_content(content, self.max_entry_bytes())?;
        validate_expiry(expiry)
    }
}

macro_rules! dispatch {
    ($self:ident, $b:ident => $e:expr) => {
        match $self {
            Backend::Embedded($b) => $e.await,
            Backend::Redis($b) => $e.await,
        }
    };
}

impl Hive for Backend {
    async fn put(&self, alias: &[u8], content: Bytes, expiry: Expiry) -> Result<(), HiveError> {
        self.check_write(alias, &content, expiry)?;
        dispatch!(self, b => b.put(alias, content, expiry))
    }
    async fn update(&self, alias: &[u8], content: Bytes, expiry: Expiry) -> Result<(), HiveError> {
        self.check_write(alias, &content, expiry)?;
        dispatch!(self, b => b.update(alias, content, expiry))
    }
    async fn get(&self, alias: &[u8]) -> Result<Bytes, HiveError> {
        validate_alias(alias)?;
        dispatch!(self, b => b.get(alias))
    }
    async fn delete(&self, alias: &[u8]) -> Result<(), HiveError> {
        validate_alias(alias)?;
        dispatch!(self, b => b.delete(alias))
    }
    async fn get_and_update(
        &self,
        alias: &[u8],
        content: Bytes,
        expiry: Expiry,
    ) -> Result<Bytes, HiveError> {
        self.check_write(alias, &content, expiry)?;
        dispatch!(self, b => b.get_and_update(alias, content, expiry))
    }
    async fn get_and_remove(&self, alias: &[u8]) -> Result<Bytes, HiveError> {
        validate_alias(alias)?;
        dispatch!(self, b => b.get_and_remove(alias))
    }
    async fn compare_and_swap(
        &self,
        alias: &[u8],
        new: Bytes,
        comparand: &[u8],
        expiry: Expiry,
    ) -> Result<CasOutcome, HiveError> {
        self.check_write(alias, &new, expiry)?;
        validate_content(comparand, self.max_entry_bytes())?;
        dispatch!(self, b => b.compare_and_swap(alias, new, comparand, expiry))
    }
    async fn remove_if(&self, alias: &[u8], comparand: &[u8]) -> Result<(), HiveError> {
        validate_alias(alias)?;
        validate_content(comparand, self.max_entry_bytes())?;
        dispatch!(self, b => b.remove_if(alias, comparand))
    }
    async fn expires_at(&self, alias: &[u8], expiry: Expiry) -> Result<(), HiveError> {
        validate_alias(alias)?;
        validate_expiry(expiry)?;
        dispatch!(self, b => b.expires_at(alias, expiry))
    }
    async fn get_expiry(&self, alias: &[u8]) -> Result<Expiry, HiveError> {
        validate_alias(alias)?;
        dispatch!(self, b => b.get_expiry(alias))
    }
    async fn meta(&self, alias: &[u8]) -> Result<EntryMeta, HiveError> {
        validate_alias(alias)?;
        dispatch!(self, b => b.meta(alias))
    }
    async fn prefix_list(
        &self,
        prefix: &[u8],
        cursor: Option<Cursor>,
        limit: usize,
    ) -> Result<PrefixPage, HiveError> {
        if limit == 0 {
            return Err(HiveError::new(ErrorCode::InvalidArgument, "limit of 0"));
        }
        if prefix.len() > MAX_ALIAS_BYTES {
            return Err(HiveError::code(ErrorCode::AliasTooLong));
        }
        dispatch!(self, b => b.prefix_list(prefix, cursor, limit))
    }
    async fn stats(&self) -> Result<HiveStats, HiveError> {
        dispatch!(self, b => b.stats())
    }
    async fn expires_from_now(&self, alias: &[u8], ms: u64) -> Result<(), HiveError> {
        validate_alias(alias)?;
        dispatch!(self, b => b.expires_from_now(alias, ms))
    }
}
