//! The `redis` backend (hive spec section 7): Redis, Valkey or Redis Cluster
//! through the `redis` crate, with the section 7.2 mapping (SET NX/XX/GET, the
//! Lua CAS and REMOVE_IF scripts, SCAN on every master) and the 7.2 error map.
//!
//! The same type also speaks to a tidepool front door (`resp://`) with the native
//! `HIVE.*` commands, so wrpme errors arrive by name (section 8.5).

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use redis::aio::MultiplexedConnection;
use redis::cluster_async::ClusterConnection;
use redis::{Cmd, RedisError, Value};
use tokio::sync::Mutex;

use super::protocol::escape_glob;
use super::{
    CasOutcome, Cursor, EntryMeta, Error, ErrorCode, Expiry, Hive, HiveError, HiveStats, PrefixPage,
};

const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

const CAS_SCRIPT: &str = r#"
local cur = redis.call("GET", KEYS[1])
if not cur then return {8} end
if cur ~= ARGV[2] then return {30, cur} end
local px = tonumber(ARGV[3])
if px > 0 then redis.call("SET", KEYS[1], ARGV[1], "PXAT", px) else redis.call("SET", KEYS[1], ARGV[1]) end
return {0, cur}
"#;

const REMOVE_IF_SCRIPT: &str = r#"
local cur = redis.call("GET", KEYS[1])
if not cur then return 8 end
if cur ~= ARGV[1] then return 30 end
redis.call("DEL", KEYS[1])
return 0
"#;

#[derive(Clone)]
enum Conn {
    Single(MultiplexedConnection),
    Cluster(ClusterConnection),
}

/// What the far side is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Flavor {
    /// A Redis/Valkey server or cluster: section 7.2 mapping.
    Redis,
    /// A tidepool hive front door: `HIVE.*` commands.
    Resp,
}

/// A Redis-backed hive (or a client of a tidepool front door).
#[derive(Clone)]
pub struct RedisHive {
    conn: Conn,
    flavor: Flavor,
    /// `redis` or `rediss`, for per-master connections.
    scheme: &'static str,
    target: String,
    masters: Arc<Mutex<HashMap<String, MultiplexedConnection>>>,
    cas: Arc<redis::Script>,
    remove_if: Arc<redis::Script>,
    /// `--redis-wait-replicas`: replicas every write waits for, and how long.
    wait: Option<(u32, Duration)>,
}

/// Maps a `redis` crate error to a wrpme code (section 7.2 table).
pub fn map_error(e: &RedisError) -> HiveError {
    use redis::{ErrorKind, ServerErrorKind};
    let text = e.to_string();
    if e.is_connection_refusal() {
        let lookup =
            text.contains("lookup") || text.contains("not known") || text.contains("resolve");
        let code = if lookup {
            ErrorCode::HostNotFound
        } else {
            ErrorCode::ConnectionRefused
        };
        return HiveError::new(code, text);
    }
    if e.is_timeout() {
        return HiveError::new(ErrorCode::Timeout, text);
    }
    if e.is_connection_dropped() || e.is_io_error() {
        return HiveError::new(ErrorCode::ConnectionReset, text);
    }
    match e.kind() {
        ErrorKind::Server(ServerErrorKind::ClusterDown) | ErrorKind::ClusterConnectionNotFound => {
            return HiveError::new(ErrorCode::UnstableHive, text)
        }
        ErrorKind::Server(
            ServerErrorKind::Moved | ServerErrorKind::Ask | ServerErrorKind::ReadOnly,
        ) => return HiveError::new(ErrorCode::WrongPeer, text),
        ErrorKind::Server(ServerErrorKind::TryAgain | ServerErrorKind::BusyLoading) => {
            return HiveError::new(ErrorCode::TryAgain, text)
        }
        ErrorKind::UnexpectedReturnType | ErrorKind::Parse => {
            return HiveError::new(ErrorCode::UnexpectedReply, text)
        }
        _ => {}
    }
    let code = e.code().unwrap_or("");
    if code == "OOM" {
        return HiveError::new(ErrorCode::NoMemory, text);
    }
    let full = format!("{} {}", code, e.detail().unwrap_or(""));
    if let Some(h) = HiveError::from_resp_text(full.trim()) {
        return h;
    }
    HiveError::new(ErrorCode::Internal, text)
}

/// The Redis Cluster hash slot of a key: CRC16 (XMODEM) of the key, or of its
/// `{…}` hash tag when that is non-empty, modulo 16384.
pub fn key_slot(key: &[u8]) -> u16 {
    let tagged = key
        .iter()
        .position(|&b| b == b'{')
        .and_then(|open| {
            let rest = &key[open + 1..];
            rest.iter()
                .position(|&b| b == b'}')
                .filter(|&close| close > 0)
                .map(|close| &rest[..close])
        })
        .unwrap_or(key);
    let mut crc: u16 = 0;
    for &b in tagged {
        crc ^= u16::from(b) << 8;
        for _ in 0..8 {
            crc = if crc & 0x8000 != 0 {
                (crc << 1) ^ 0x1021
            } else {
                crc << 1
            };
        }
    }
    crc % 16_384
}

fn unexpected(v: &Value) -> HiveError {
    HiveError::new(ErrorCode::UnexpectedReply, format!("{v:?}"))
}

fn bytes_of(v: Value) -> Result<Option<Bytes>, HiveError> {
    match v {
        Value::Nil => Ok(None),
        Value::BulkString(b) => Ok(Some(Bytes::from(b))),
        Value::SimpleString(s) => Ok(Some(Bytes::from(s))),
        Value::VerbatimString { text, .. } => Ok(Some(Bytes::from(text))),
        other => Err(unexpected(&other)),
    }
}

fn int_of(v: &Value) -> Result<i64, HiveError> {
    match v {
        Value::Int(n) => Ok(*n),
        Value::BulkString(b) => std::str::from_utf8(b)
            .ok()
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| unexpected(v)),
        other => Err(unexpected(other)),
    }
}

fn is_ok(v: &Value) -> bool {
    matches!(v, Value::Okay) || matches!(v, Value::SimpleString(s) if s == "OK")
}

fn not_found(alias: &[u8]) -> HiveError {
    HiveError::new(ErrorCode::AliasNotFound, super::store::escape(alias))
}

fn with_expiry(mut cmd: Cmd, expiry: Expiry, resp: bool) -> Cmd {
    match expiry {
        Expiry::At(t) => {
            cmd.arg("PXAT").arg(t);
        }
        Expiry::Keep if !resp => {
            cmd.arg("KEEPTTL");
        }
        _ => {}
    }
    cmd
}

fn connect_error(target: &str, e: HiveError) -> Error {
    Error::Connect {
        target: target.to_string(),
        source: e,
    }
}

impl RedisHive {
    /// Connects to `redis://…`, `rediss://…`, `redis+cluster://h:p,h:p,…`
    /// (`rediss+cluster://` for TLS), or `resp://host:port` (a tidepool server).
    pub async fn connect(target: &str) -> Result<Self, Error> {
        let bad = |why: &str| Error::Target {
            target: target.to_string(),
            why: why.to_string(),
        };
        let (scheme, rest) = target
            .split_once("://")
            .ok_or_else(|| bad("expected a scheme such as redis://"))?;
        let (flavor, tls, cluster) = match scheme {
            "redis" => (Flavor::Redis, false, false),
            "rediss" => (Flavor::Redis, true, false),
            "redis+cluster" => (Flavor::Redis, false, true),
            "rediss+cluster" => (Flavor::Redis, true, true),
            "resp" => (Flavor::Resp, false, false),
            "resps" => (Flavor::Resp, true, false),
            _ => {
                return Err(connect_error(
                    target,
                    HiveError::new(ErrorCode::InvalidProtocol, format!("scheme {scheme}")),
                ))
            }
        };
        let base = if tls { "rediss" } else { "redis" };
        let timed = |e: HiveError| connect_error(target, e);
        let conn = if cluster {
            let nodes: Vec<String> = rest
                .split(',')
                .filter(|s| !s.is_empty())
                .map(|n| format!("{base}://{n}"))
                .collect();
            if nodes.is_empty() {
                return Err(bad("no seed nodes"));
            }
            let client =
                redis::cluster::ClusterClient::new(nodes).map_err(|e| timed(map_error(&e)))?;
            let c = tokio::time::timeout(CONNECT_TIMEOUT, client.get_async_connection())
                .await
                .map_err(|_| timed(HiveError::new(ErrorCode::Timeout, "connect")))?
                .map_err(|e| timed(map_error(&e)))?;
            Conn::Cluster(c)
        } else {
            let url = format!("{base}://{rest}");
            let client = redis::Client::open(url.as_str()).map_err(|e| timed(map_error(&e)))?;
            let c =
                tokio::time::timeout(CONNECT_TIMEOUT, client.get_multiplexed_async_connection())
                    .await
                    .map_err(|_| timed(HiveError::new(ErrorCode::Timeout, "connect")))?
                    .map_err(|e| timed(map_error(&e)))?;
            Conn::Single(c)
        };
        Ok(Self {
            conn,
            flavor,
            scheme: base,
            target: target.to_string(),
            masters: Arc::new(Mutex::new(HashMap::new())),
            cas: Arc::new(redis::Script::new(CAS_SCRIPT)),
            remove_if: Arc::new(redis::Script::new(REMOVE_IF_SCRIPT)),
            wait: None,
        })
    }

    /// Follows every successful write with `WAIT replicas timeout` on the
    /// alias's master (section 7.4); 0 turns it off. Fewer replicas than asked
    /// within `timeout` fail the write with `timeout` (10): it was applied on the
    /// master but may not survive a fail-over. Ignored for `resp://` targets.
    pub fn with_wait_replicas(mut self, replicas: u32, timeout: Duration) -> Self {
        self.wait = (replicas > 0 && self.flavor == Flavor::Redis).then_some((replicas, timeout));
        self
    }

    /// Runs the `WAIT` of [`Self::with_wait_replicas`] after a successful write.
    async fn replicated<T>(&self, alias: &[u8], r: Result<T, HiveError>) -> Result<T, HiveError> {
        let (Ok(_), Some((replicas, timeout))) = (&r, self.wait) else {
            return r;
        };
        let mut cmd = redis::cmd("WAIT");
        cmd.arg(replicas).arg(timeout.as_millis() as u64);
        let reached = match &self.conn {
            // the multiplexed connection is one socket, so WAIT follows the write
            Conn::Single(c) => cmd.query_async::<Value>(&mut c.clone()).await,
            // WAIT must go to the master that took the write, on the same
            // connection; the crate would otherwise send it to every master
            Conn::Cluster(c) => {
                use redis::cluster_routing::{Route, RoutingInfo, SingleNodeRoutingInfo, SlotAddr};
                let route = Route::new(key_slot(alias), SlotAddr::Master);
                c.clone()
                    .route_command(
                        cmd,
                        RoutingInfo::SingleNode(SingleNodeRoutingInfo::SpecificNode(route)),
                    )
                    .await
            }
        }
        .map_err(|e| map_error(&e))?;
        let reached = int_of(&reached)?;
        if reached < i64::from(replicas) {
            return Err(HiveError::new(
                ErrorCode::Timeout,
                format!(
                    "{}: written on the master but {reached} of {replicas} replicas acknowledged within {} ms",
                    super::store::escape(alias),
                    timeout.as_millis()
                ),
            ));
        }
        r
    }

    /// The target this client was opened with.
    pub fn target(&self) -> &str {
        &self.target
    }

    /// Whether this talks to a tidepool front door.
    pub fn flavor(&self) -> Flavor {
        self.flavor
    }

    async fn query(&self, cmd: &Cmd) -> Result<Value, HiveError> {
        let r = match &self.conn {
            Conn::Single(c) => cmd.query_async::<Value>(&mut c.clone()).await,
            Conn::Cluster(c) => cmd.query_async::<Value>(&mut c.clone()).await,
        };
        r.map_err(|e| map_error(&e))
    }

    async fn script(
        &self,
        script: &redis::Script,
        key: &[u8],
        args: &[&[u8]],
    ) -> Result<Value, HiveError> {
        let mut inv = script.key(key);
        for a in args {
            inv.arg(*a);
        }
        let r = match &self.conn {
            Conn::Single(c) => inv.invoke_async::<Value>(&mut c.clone()).await,
            Conn::Cluster(c) => inv.invoke_async::<Value>(&mut c.clone()).await,
        };
        r.map_err(|e| map_error(&e))
    }

    /// Sends a raw command (the console's server-info panels).
    pub async fn raw(&self, args: &[&[u8]]) -> Result<Value, HiveError> {
        let mut cmd = Cmd::new();
        for a in args {
            cmd.arg(*a);
        }
        self.query(&cmd).await
    }

    /// The masters, as `(node id, "host:port")`, sorted by id.
    async fn master_list(&self) -> Result<Vec<(String, String)>, HiveError> {
        let Conn::Cluster(_) = &self.conn else {
            return Ok(vec![(String::new(), String::new())]);
        };
        let text = match self
            .query(&redis::cmd("CLUSTER").arg("NODES").clone())
            .await?
        {
            Value::BulkString(b) => String::from_utf8_lossy(&b).into_owned(),
            Value::VerbatimString { text, .. } => text,
            other => return Err(unexpected(&other)),
        };
        let mut out = Vec::new();
        for line in text.lines() {
            let f: Vec<&str> = line.split_whitespace().collect();
            if f.len() < 8 {
                continue;
            }
            let flags = f[2];
            if !flags.split(',').any(|x| x == "master") || flags.contains("fail") {
                continue;
            }
            let addr = f[1].split('@').next().unwrap_or("").to_string();
            out.push((f[0].to_string(), addr));
        }
        out.sort();
        if out.is_empty() {
            return Err(HiveError::new(ErrorCode::UnstableHive, "no masters"));
        }
        Ok(out)
    }

    async fn master_conn(&self, addr: &str) -> Result<MultiplexedConnection, HiveError> {
        let mut map = self.masters.lock().await;
        if let Some(c) = map.get(addr) {
            return Ok(c.clone());
        }
        let client = redis::Client::open(format!("{}://{addr}", self.scheme).as_str())
            .map_err(|e| map_error(&e))?;
        let c = tokio::time::timeout(CONNECT_TIMEOUT, client.get_multiplexed_async_connection())
            .await
            .map_err(|_| HiveError::new(ErrorCode::Timeout, "connect"))?
            .map_err(|e| map_error(&e))?;
        map.insert(addr.to_string(), c.clone());
        Ok(c)
    }

    async fn scan_node(&self, addr: &str, cmd: &Cmd) -> Result<Value, HiveError> {
        match &self.conn {
            Conn::Single(c) => cmd
                .query_async::<Value>(&mut c.clone())
                .await
                .map_err(|e| map_error(&e)),
            Conn::Cluster(_) => {
                let mut c = self.master_conn(addr).await?;
                cmd.query_async::<Value>(&mut c)
                    .await
                    .map_err(|e| map_error(&e))
            }
        }
    }

    async fn info_of(&self, value: Value, st: &mut HiveStats) {
        let text = match value {
            Value::BulkString(b) => String::from_utf8_lossy(&b).into_owned(),
            Value::VerbatimString { text, .. } => text,
            _ => return,
        };
        merge_info(&text, st);
    }
}

fn encode_cursor(index: u32, node: &str, scan: u64) -> Cursor {
    let mut v = Vec::with_capacity(12 + node.len());
    v.extend_from_slice(&index.to_le_bytes());
    v.extend_from_slice(&scan.to_le_bytes());
    v.extend_from_slice(node.as_bytes());
    Cursor(Bytes::from(v))
}

fn decode_cursor(c: &Cursor) -> Option<(u32, u64, String)> {
    let b = &c.0;
    if b.len() < 12 {
        return None;
    }
    let index = u32::from_le_bytes(b[0..4].try_into().ok()?);
    let scan = u64::from_le_bytes(b[4..12].try_into().ok()?);
    let node = String::from_utf8(b[12..].to_vec()).ok()?;
    Some((index, scan, node))
}

/// Adds the fields of an `INFO` text to `st` (sums across masters).
pub fn merge_info(text: &str, st: &mut HiveStats) {
    for line in text.lines() {
        let Some((k, v)) = line.trim_end().split_once(':') else {
            continue;
        };
        let n = v.parse::<u64>().unwrap_or(0);
        match k {
            "used_memory" => st.limiter_resident_bytes += n,
            "keyspace_hits" => st.keyspace_hits += n,
            "keyspace_misses" => st.keyspace_misses += n,
            "expired_keys" => st.expiry_swept += n,
            "evicted_keys" => st.limiter_evictions += n,
            "maxmemory" => st.limiter_max_bytes += n,
            "db0" => {
                for kv in v.split(',') {
                    match kv.split_once('=') {
                        Some(("keys", x)) => st.live_entries += x.parse::<u64>().unwrap_or(0),
                        Some(("expires", x)) => {
                            st.entries_with_expiry += x.parse::<u64>().unwrap_or(0)
                        }
                        _ => {}
                    }
                }
            }
            "backend" => st.backend = v.to_string(),
            "durability" => st.durability = v.to_string(),
            "root" => st.root = v.to_string(),
            "db_file_bytes" => st.db_file_bytes = n,
            "limiter_max_bytes" => st.limiter_max_bytes = n,
            "limiter_max_entries_count" => st.limiter_max_entries_count = n,
            "limiter_resident_bytes" => st.limiter_resident_bytes = n,
            "limiter_resident_entries" => st.limiter_resident_entries = n,
            "limiter_evictions" => st.limiter_evictions = n,
            "cache_hits" => st.cache_hits = n,
            "cache_misses" => st.cache_misses = n,
            "group_commit_batches" => st.group_commit_batches = n,
            "group_commit_ops" => st.group_commit_ops = n,
            "group_commit_last_batch_ops" => st.group_commit_last_batch_ops = n,
            "group_commit_p50_us" => st.group_commit_p50_us = n,
            "group_commit_p99_us" => st.group_commit_p99_us = n,
            "writer_queue_depth" => st.writer_queue_depth = n,
            "expiry_swept" => st.expiry_swept = n,
            "redis_nodes" => st.redis_nodes = n,
            "redis_cluster_state" => st.redis_cluster_state = v.to_string(),
            _ => {}
        }
    }
}

impl Hive for RedisHive {
    async fn put(&self, alias: &[u8], content: Bytes, expiry: Expiry) -> Result<(), HiveError> {
        let r: Result<(), HiveError> = async {
            if self.flavor == Flavor::Resp {
                let mut cmd = redis::cmd("HIVE.PUT");
                cmd.arg(alias).arg(content.as_ref());
                self.query(&with_expiry(cmd, expiry, true)).await?;
                return Ok(());
            }
            let mut cmd = redis::cmd("SET");
            cmd.arg(alias).arg(content.as_ref()).arg("NX");
            match self.query(&with_expiry(cmd, expiry, false)).await? {
                v if is_ok(&v) => Ok(()),
                Value::Nil => Err(HiveError::new(
                    ErrorCode::AliasAlreadyExists,
                    super::store::escape(alias),
                )),
                other => Err(unexpected(&other)),
            }
        }
        .await;
        self.replicated(alias, r).await
    }

    async fn update(&self, alias: &[u8], content: Bytes, expiry: Expiry) -> Result<(), HiveError> {
        let r: Result<(), HiveError> = async {
            let resp = self.flavor == Flavor::Resp;
            let mut cmd = redis::cmd(if resp { "HIVE.UPDATE" } else { "SET" });
            cmd.arg(alias).arg(content.as_ref());
            match self.query(&with_expiry(cmd, expiry, resp)).await? {
                v if is_ok(&v) => Ok(()),
                other => Err(unexpected(&other)),
            }
        }
        .await;
        self.replicated(alias, r).await
    }

    async fn get(&self, alias: &[u8]) -> Result<Bytes, HiveError> {
        let name = if self.flavor == Flavor::Resp {
            "HIVE.GET"
        } else {
            "GET"
        };
        bytes_of(self.query(redis::cmd(name).arg(alias)).await?)?.ok_or_else(|| not_found(alias))
    }

    async fn delete(&self, alias: &[u8]) -> Result<(), HiveError> {
        let r: Result<(), HiveError> = async {
            if self.flavor == Flavor::Resp {
                self.query(redis::cmd("HIVE.DELETE").arg(alias)).await?;
                return Ok(());
            }
            match int_of(&self.query(redis::cmd("DEL").arg(alias)).await?)? {
                0 => Err(not_found(alias)),
                _ => Ok(()),
            }
        }
        .await;
        self.replicated(alias, r).await
    }

    async fn get_and_update(
        &self,
        alias: &[u8],
        content: Bytes,
        expiry: Expiry,
    ) -> Result<Bytes, HiveError> {
        let r: Result<Bytes, HiveError> = async {
            let resp = self.flavor == Flavor::Resp;
            let mut cmd = redis::cmd(if resp { "HIVE.GETUPDATE" } else { "SET" });
            cmd.arg(alias).arg(content.as_ref());
            if !resp {
                cmd.arg("XX").arg("GET");
            }
            bytes_of(self.query(&with_expiry(cmd, expiry, resp)).await?)?
                .ok_or_else(|| not_found(alias))
        }
        .await;
        self.replicated(alias, r).await
    }

    async fn get_and_remove(&self, alias: &[u8]) -> Result<Bytes, HiveError> {
        let r: Result<Bytes, HiveError> = async {
            let name = if self.flavor == Flavor::Resp {
                "HIVE.GETREMOVE"
            } else {
                "GETDEL"
            };
            bytes_of(self.query(redis::cmd(name).arg(alias)).await?)?
                .ok_or_else(|| not_found(alias))
        }
        .await;
        self.replicated(alias, r).await
    }

    async fn compare_and_swap(
        &self,
        alias: &[u8],
        new: Bytes,
        comparand: &[u8],
        expiry: Expiry,
    ) -> Result<CasOutcome, HiveError> {
        let r: Result<CasOutcome, HiveError> = async {
            let v = if self.flavor == Flavor::Resp {
                let mut cmd = redis::cmd("HIVE.CAS");
                cmd.arg(alias).arg(new.as_ref()).arg(comparand);
                self.query(&with_expiry(cmd, expiry, true)).await?
            } else {
                let ms = expiry.as_ms().to_string();
                self.script(&self.cas, alias, &[new.as_ref(), comparand, ms.as_bytes()])
                    .await?
            };
            let Value::Array(items) = v else {
                return Err(unexpected(&v));
            };
            let mut it = items.into_iter();
            let code = it.next().map(|c| int_of(&c)).transpose()?;
            let content = it.next().map(bytes_of).transpose()?.flatten();
            match (code, content) {
                (Some(0), Some(previous)) => Ok(CasOutcome::Swapped { previous }),
                (Some(30), Some(current)) => Ok(CasOutcome::Unmatched { current }),
                (Some(8), _) => Err(not_found(alias)),
                (c, _) => Err(HiveError::new(
                    ErrorCode::UnexpectedReply,
                    format!("cas code {c:?}"),
                )),
            }
        }
        .await;
        self.replicated(alias, r).await
    }

    async fn remove_if(&self, alias: &[u8], comparand: &[u8]) -> Result<(), HiveError> {
        let r: Result<(), HiveError> = async {
            if self.flavor == Flavor::Resp {
                self.query(redis::cmd("HIVE.REMOVEIF").arg(alias).arg(comparand))
                    .await?;
                return Ok(());
            }
            match int_of(&self.script(&self.remove_if, alias, &[comparand]).await?)? {
                0 => Ok(()),
                8 => Err(not_found(alias)),
                30 => Err(HiveError::new(
                    ErrorCode::UnmatchedContent,
                    super::store::escape(alias),
                )),
                c => Err(HiveError::new(
                    ErrorCode::UnexpectedReply,
                    format!("remove_if code {c}"),
                )),
            }
        }
        .await;
        self.replicated(alias, r).await
    }

    async fn expires_at(&self, alias: &[u8], expiry: Expiry) -> Result<(), HiveError> {
        let r: Result<(), HiveError> = async {
            if self.flavor == Flavor::Resp {
                self.query(redis::cmd("HIVE.EXPIREAT").arg(alias).arg(expiry.as_ms()))
                    .await?;
                return Ok(());
            }
            match expiry {
                Expiry::At(t) => {
                    match int_of(
                        &self
                            .query(redis::cmd("PEXPIREAT").arg(alias).arg(t))
                            .await?,
                    )? {
                        0 => Err(not_found(alias)),
                        _ => Ok(()),
                    }
                }
                Expiry::Never | Expiry::Keep => {
                    if int_of(&self.query(redis::cmd("EXISTS").arg(alias)).await?)? == 0 {
                        return Err(not_found(alias));
                    }
                    if expiry == Expiry::Never {
                        self.query(redis::cmd("PERSIST").arg(alias)).await?;
                    }
                    Ok(())
                }
            }
        }
        .await;
        self.replicated(alias, r).await
    }

    async fn expires_from_now(&self, alias: &[u8], ms: u64) -> Result<(), HiveError> {
        let r: Result<(), HiveError> = async {
            if self.flavor == Flavor::Resp {
                // the front door converts with the server's clock (section 2.2)
                self.query(redis::cmd("HIVE.EXPIRESIN").arg(alias).arg(ms))
                    .await?;
                return Ok(());
            }
            match int_of(&self.query(redis::cmd("PEXPIRE").arg(alias).arg(ms)).await?)? {
                0 => Err(not_found(alias)),
                _ => Ok(()),
            }
        }
        .await;
        self.replicated(alias, r).await
    }

    async fn get_expiry(&self, alias: &[u8]) -> Result<Expiry, HiveError> {
        if self.flavor == Flavor::Resp {
            let v = int_of(&self.query(redis::cmd("HIVE.GETEXPIRY").arg(alias)).await?)?;
            return Ok(Expiry::from_ms(v.max(0) as u64));
        }
        match int_of(&self.query(redis::cmd("PEXPIRETIME").arg(alias)).await?)? {
            -2 => Err(not_found(alias)),
            -1 => Ok(Expiry::Never),
            t => Ok(Expiry::At(t.max(0) as u64)),
        }
    }

    async fn meta(&self, alias: &[u8]) -> Result<EntryMeta, HiveError> {
        if self.flavor == Flavor::Resp {
            let v = self.query(redis::cmd("HIVE.META").arg(alias)).await?;
            let pairs: Vec<(Value, Value)> = match v {
                Value::Map(p) => p,
                Value::Array(items) => {
                    let mut it = items.into_iter();
                    let mut p = Vec::new();
                    while let (Some(k), Some(v)) = (it.next(), it.next()) {
                        p.push((k, v));
                    }
                    p
                }
                other => return Err(unexpected(&other)),
            };
            let mut m = EntryMeta {
                size: 0,
                expiry: Expiry::Never,
                resident: None,
            };
            for (k, v) in pairs {
                let k = bytes_of(k)?.unwrap_or_default();
                let n = int_of(&v)?;
                match k.as_ref() {
                    b"size" => m.size = n.max(0) as u64,
                    b"expiry_ms" => m.expiry = Expiry::from_ms(n.max(0) as u64),
                    b"resident" => m.resident = (n >= 0).then_some(n == 1),
                    _ => {}
                }
            }
            return Ok(m);
        }
        let mut pipe = redis::pipe();
        pipe.cmd("STRLEN").arg(alias).cmd("PEXPIRETIME").arg(alias);
        let r = match &self.conn {
            Conn::Single(c) => pipe.query_async::<Vec<i64>>(&mut c.clone()).await,
            Conn::Cluster(c) => pipe.query_async::<Vec<i64>>(&mut c.clone()).await,
        }
        .map_err(|e| map_error(&e))?;
        match r.as_slice() {
            [_, -2] => Err(not_found(alias)),
            [size, t] => Ok(EntryMeta {
                size: (*size).max(0) as u64,
                expiry: if *t < 0 {
                    Expiry::Never
                } else {
                    Expiry::At(*t as u64)
                },
                resident: None,
            }),
            _ => Err(HiveError::new(ErrorCode::UnexpectedReply, "meta pipeline")),
        }
    }

    async fn prefix_list(
        &self,
        prefix: &[u8],
        cursor: Option<Cursor>,
        limit: usize,
    ) -> Result<PrefixPage, HiveError> {
        if self.flavor == Flavor::Resp {
            let cur = cursor.map(|c| c.0).unwrap_or_default();
            let v = self
                .query(
                    redis::cmd("HIVE.PREFIX")
                        .arg(prefix)
                        .arg(cur.as_ref())
                        .arg("COUNT")
                        .arg(limit),
                )
                .await?;
            let Value::Array(mut items) = v else {
                return Err(unexpected(&v));
            };
            if items.len() != 2 {
                return Err(HiveError::new(ErrorCode::UnexpectedReply, "prefix reply"));
            }
            let list = items.pop().unwrap_or(Value::Nil);
            let next = bytes_of(items.pop().unwrap_or(Value::Nil))?.unwrap_or_default();
            let Value::Array(list) = list else {
                return Err(unexpected(&list));
            };
            let aliases = list
                .into_iter()
                .map(|v| bytes_of(v).map(|b| b.unwrap_or_default()))
                .collect::<Result<Vec<_>, _>>()?;
            return Ok(PrefixPage {
                aliases,
                next: (!next.is_empty()).then_some(Cursor(next)),
            });
        }
        let masters = self.master_list().await?;
        let (mut index, mut scan) = (0usize, 0u64);
        if let Some(c) = &cursor {
            let (i, s, node) = decode_cursor(c)
                .ok_or_else(|| HiveError::new(ErrorCode::InvalidIterator, "malformed cursor"))?;
            index = i as usize;
            scan = s;
            if masters.get(index).map(|m| m.0.as_str()) != Some(node.as_str()) {
                return Err(HiveError::new(
                    ErrorCode::InvalidIterator,
                    "the set of masters changed",
                ));
            }
        }
        let mut pattern = escape_glob(prefix);
        pattern.push(b'*');
        let mut seen = BTreeSet::new();
        // one SCAN call per page keeps the page near `limit`; an empty batch from
        // one master moves on to the next rather than returning nothing
        loop {
            let Some((_, addr)) = masters.get(index) else {
                return Ok(PrefixPage {
                    aliases: seen.into_iter().collect(),
                    next: None,
                });
            };
            let cmd = redis::cmd("SCAN")
                .arg(scan)
                .arg("MATCH")
                .arg(&pattern)
                .arg("COUNT")
                .arg(limit.max(10))
                .clone();
            let v = self.scan_node(addr, &cmd).await?;
            let Value::Array(mut parts) = v else {
                return Err(unexpected(&v));
            };
            if parts.len() != 2 {
                return Err(HiveError::new(ErrorCode::UnexpectedReply, "scan reply"));
            }
            let keys = parts.pop().unwrap_or(Value::Nil);
            let next = int_of(&parts.pop().unwrap_or(Value::Nil))?;
            if let Value::Array(keys) = keys {
                for k in keys {
                    if let Some(b) = bytes_of(k)? {
                        seen.insert(b);
                    }
                }
            }
            if next == 0 {
                index += 1;
                scan = 0;
            } else {
                scan = next as u64;
            }
            if !seen.is_empty() || index >= masters.len() {
                let next = masters
                    .get(index)
                    .map(|(node, _)| encode_cursor(index as u32, node, scan));
                return Ok(PrefixPage {
                    aliases: seen.into_iter().collect(),
                    next,
                });
            }
        }
    }

    async fn stats(&self) -> Result<HiveStats, HiveError> {
        let mut st = HiveStats::default();
        if self.flavor == Flavor::Resp {
            let v = self.query(redis::cmd("INFO").arg("default")).await?;
            self.info_of(v, &mut st).await;
            return Ok(st);
        }
        st.backend = "redis".into();
        st.durability = "redis".into();
        let masters = self.master_list().await?;
        st.redis_nodes = masters.len() as u64;
        for (_, addr) in &masters {
            let v = self.scan_node(addr, redis::cmd("INFO").arg("all")).await?;
            self.info_of(v, &mut st).await;
        }
        if let Conn::Cluster(_) = &self.conn {
            if let Ok(v) = self.query(redis::cmd("CLUSTER").arg("INFO")).await {
                let text = match v {
                    Value::BulkString(b) => String::from_utf8_lossy(&b).into_owned(),
                    Value::VerbatimString { text, .. } => text,
                    _ => String::new(),
                };
                st.redis_cluster_state = text
                    .lines()
                    .find_map(|l| l.strip_prefix("cluster_state:"))
                    .unwrap_or("")
                    .trim()
                    .to_string();
            }
        }
        Ok(st)
    }
}

#[cfg(test)]
mod tests {
    use super::key_slot;

    #[test]
    fn key_slot_matches_redis_cluster() {
        // spec 11.2 (verified on 7.0.15): `a` is slot 15495; `foo` is the
        // cluster tutorial's 12182
        assert_eq!(key_slot(b"a"), 15_495);
        assert_eq!(key_slot(b"foo"), 12_182);
        // a non-empty hash tag places the key by the tag alone
        assert_eq!(key_slot(b"{foo}bar"), key_slot(b"foo"));
        assert_eq!(key_slot(b"x{foo}y{z}"), key_slot(b"foo"));
        // an empty tag `{}` does not count: the whole key is hashed
        assert_ne!(key_slot(b"{}foo"), key_slot(b"foo"));
        assert_eq!(key_slot(b""), 0);
    }
}
