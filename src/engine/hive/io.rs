//! The RESP front door (hive spec section 8): one task per connection over
//! `net::server::serve` and `net::framing::Connection`, running the command table
//! of [`super::protocol`] against a [`Backend`].
//!
//! Pipelining: every request already buffered is answered before one flush.
//! Runs of plain writes (`SET` without options, `HIVE.UPDATE`) go to the backend
//! together, so the group-commit writer sees them in one batch; the writer keeps
//! arrival order, so a later read on the same connection still sees them.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use futures::FutureExt;
use tokio::io::AsyncWriteExt;
use tokio_util::codec::{Decoder, Encoder};

use super::codec::{encode_reply, ProtocolError, Reply, Request, RequestDecoder};
use super::protocol::{self, Action, Call, HiveCall, ServerFacts, Session, SetCond, Unit};
use super::{Backend, Cursor, ErrorCode, Expiry, Hive, HiveError};
use crate::net::framing::{Connection, FrameError, Limits};
use crate::net::server::{serve, Options};
use crate::net::shutdown::{CloseReason, Shutdown};
use crate::net::transport::{Listener, LocalAddr, Peer, Stream};

const MAX_PIPELINE: usize = 1024;
const MAX_SCAN_CURSORS: usize = 1024;
const SCAN_CURSOR_IDLE: Duration = Duration::from_secs(300);

/// Front-door settings (section 5 options).
#[derive(Clone)]
pub struct Config {
    /// `--requirepass`.
    pub requirepass: Option<String>,
    /// `--max-clients`.
    pub max_clients: usize,
    /// `--max-entry-bytes`: the bulk cap.
    pub max_entry_bytes: u64,
    /// `--proto-inline-max`.
    pub inline_max: usize,
    /// `--client-query-buffer-limit`.
    pub query_buffer_limit: usize,
    /// TLS from the first byte.
    pub tls: Option<Arc<rustls::ServerConfig>>,
    /// Close connections idle this long (None: never, as Redis's `timeout 0`).
    pub idle_timeout: Option<Duration>,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            requirepass: None,
            max_clients: 200,
            max_entry_bytes: super::DEFAULT_MAX_ENTRY_BYTES,
            inline_max: super::codec::DEFAULT_INLINE_MAX,
            query_buffer_limit: 1 << 30,
            tls: None,
            idle_timeout: None,
        }
    }
}

/// Live counters of a running server (for `INFO` and the console).
#[derive(Default)]
pub struct Counters {
    /// Open connections.
    pub connected: AtomicU64,
    /// Accepted connections.
    pub total_connections: AtomicU64,
    /// Commands processed.
    pub total_commands: AtomicU64,
    /// Refused at `--max-clients`.
    pub rejected: AtomicU64,
    /// Commands in the last second.
    pub ops_per_sec: AtomicU64,
}

struct Shared {
    backend: Backend,
    config: Config,
    counters: Counters,
    port: u16,
    started: Instant,
    next_id: AtomicU64,
    cmdstats: Mutex<HashMap<String, [u64; 4]>>,
}

/// A running front door.
#[derive(Clone)]
pub struct Server {
    shared: Arc<Shared>,
    addr: LocalAddr,
}

impl Server {
    /// Where it listens (with the real port when bound to 0).
    pub fn local_addr(&self) -> &LocalAddr {
        &self.addr
    }

    /// Its live counters.
    pub fn counters(&self) -> &Counters {
        &self.shared.counters
    }
}

/// Starts serving `listener` on `shutdown`'s tracker and returns at once.
pub fn start(
    listener: Listener,
    backend: Backend,
    config: Config,
    shutdown: &Shutdown,
) -> std::io::Result<Server> {
    let addr = listener.local_addr()?;
    let port = match &addr {
        LocalAddr::Tcp(a) => a.port(),
        LocalAddr::Unix(_) => 0,
    };
    let shared = Arc::new(Shared {
        backend,
        counters: Counters::default(),
        port,
        started: Instant::now(),
        next_id: AtomicU64::new(1),
        cmdstats: Mutex::new(HashMap::new()),
        config,
    });
    let options = Options {
        name: "hive",
        // the cap is enforced in the handler so refused clients get Redis's text
        max_connections: shared.config.max_clients.saturating_add(64),
        tls: shared.config.tls.clone(),
    };
    let handler_shared = Arc::clone(&shared);
    shutdown.spawn(serve(
        listener,
        shutdown.clone(),
        options,
        move |stream, peer, conn_shutdown| {
            let shared = Arc::clone(&handler_shared);
            async move { connection(shared, stream, peer, conn_shutdown).await }
        },
    ));
    let ticker = Arc::clone(&shared);
    let stop = shutdown.clone();
    shutdown.spawn(async move {
        let mut every = tokio::time::interval(Duration::from_secs(1));
        let mut last = 0;
        loop {
            tokio::select! {
                _ = stop.requested() => break,
                _ = every.tick() => {
                    let total = ticker.counters.total_commands.load(Ordering::Relaxed);
                    ticker.counters.ops_per_sec.store(total - last, Ordering::Relaxed);
                    last = total;
                }
            }
        }
    });
    Ok(Server { shared, addr })
}

/// The front door's codec: the request decoder plus a reply encoder whose
/// protocol version follows `HELLO`.
struct RespCodec {
    decoder: RequestDecoder,
    proto: u8,
    query_buffer_limit: usize,
}

impl Decoder for RespCodec {
    type Item = Request;
    type Error = ProtocolError;
    fn decode(&mut self, src: &mut BytesMut) -> Result<Option<Request>, ProtocolError> {
        let frame = self.decoder.decode(src)?;
        // `Connection` turns this into `TooLarge` (its cap is the same number),
        // which closes without a reply as Redis does for client-query-buffer-limit
        if frame.is_none() && src.len() > self.query_buffer_limit {
            return Err(ProtocolError::QueryBufferLimit);
        }
        Ok(frame)
    }
}

impl Encoder<&Reply> for RespCodec {
    type Error = ProtocolError;
    fn encode(&mut self, item: &Reply, dst: &mut BytesMut) -> Result<(), ProtocolError> {
        encode_reply(item, self.proto, dst);
        Ok(())
    }
}

struct ConnGuard<'a>(&'a Counters);
impl Drop for ConnGuard<'_> {
    fn drop(&mut self) {
        self.0.connected.fetch_sub(1, Ordering::Relaxed);
    }
}

struct ScanCursor {
    prefix: Bytes,
    next: Cursor,
    used: Instant,
}

struct ConnState {
    session: Session,
    cursors: HashMap<u64, ScanCursor>,
    stats: HashMap<&'static str, [u64; 4]>,
}

async fn connection(
    shared: Arc<Shared>,
    mut stream: Stream,
    peer: Peer,
    shutdown: Shutdown,
) -> CloseReason {
    let counters = &shared.counters;
    counters.total_connections.fetch_add(1, Ordering::Relaxed);
    let open = counters.connected.fetch_add(1, Ordering::Relaxed) + 1;
    let _guard = ConnGuard(counters);
    if open > shared.config.max_clients as u64 {
        counters.rejected.fetch_add(1, Ordering::Relaxed);
        let _ = stream
            .write_all(b"-ERR max number of clients reached\r\n")
            .await;
        let _ = stream.shutdown().await;
        return CloseReason::Limit(format!("{} clients", shared.config.max_clients));
    }
    let id = shared.next_id.fetch_add(1, Ordering::Relaxed);
    let codec = RespCodec {
        decoder: RequestDecoder::new(shared.config.max_entry_bytes, shared.config.inline_max),
        proto: 2,
        query_buffer_limit: shared.config.query_buffer_limit,
    };
    let limits = Limits {
        idle_timeout: shared.config.idle_timeout,
        max_buffer_bytes: shared.config.query_buffer_limit,
        write_batch_bytes: 64 * 1024,
    };
    let mut conn = Connection::new(stream, peer, codec, limits);
    let mut state = ConnState {
        session: Session::new(id, shared.config.requirepass.is_some()),
        cursors: HashMap::new(),
        stats: HashMap::new(),
    };
    let reason = loop {
        let first = tokio::select! {
            biased;
            _ = shutdown.requested() => break CloseReason::Shutdown,
            f = conn.read_frame() => f,
        };
        let mut batch = Vec::new();
        let mut end: Option<Result<(), FrameError<ProtocolError>>> = None;
        match first {
            Ok(Some(r)) => batch.push(r),
            Ok(None) => break CloseReason::PeerClosed,
            Err(e) => end = Some(Err(e)),
        }
        // only look for more when bytes are already buffered: polling an empty
        // socket again would cost a read syscall per request at pipeline depth 1
        while end.is_none() && batch.len() < MAX_PIPELINE && !conn.read_buffer().is_empty() {
            match conn.read_frame().now_or_never() {
                Some(Ok(Some(r))) => batch.push(r),
                Some(Ok(None)) => end = Some(Ok(())),
                Some(Err(e)) => end = Some(Err(e)),
                None => break,
            }
        }
        let closing = match run_batch(&shared, &mut state, &mut conn, batch).await {
            Ok(closing) => closing,
            Err(e) => break e.close_reason(),
        };
        if let Some(reason) = closing {
            let _ = conn.flush::<&Reply>().await;
            break reason;
        }
        match end {
            None => {}
            Some(Ok(())) => {
                let _ = conn.flush::<&Reply>().await;
                break CloseReason::PeerClosed;
            }
            Some(Err(FrameError::Codec(e))) => {
                // Redis answers a framing error, then closes (section 8.2)
                let _ = conn.feed(&Reply::err(&e)).await;
                let _ = conn.flush::<&Reply>().await;
                break CloseReason::Protocol(e.to_string());
            }
            Some(Err(e)) => {
                let _ = conn.flush::<&Reply>().await;
                break e.close_reason();
            }
        }
        if let Err(e) = conn.flush::<&Reply>().await {
            break e.close_reason();
        }
    };
    merge_stats(&shared, &mut state);
    reason
}

fn merge_stats(shared: &Shared, state: &mut ConnState) {
    if state.stats.is_empty() {
        return;
    }
    let mut all = shared.cmdstats.lock().unwrap_or_else(|p| p.into_inner());
    for (k, v) in state.stats.drain() {
        let e = all.entry(k.to_string()).or_default();
        for i in 0..4 {
            e[i] += v[i];
        }
    }
}

fn stat_name(req: &Request) -> &'static str {
    req.args
        .first()
        .and_then(|n| protocol::lookup(n))
        .map(|c| c.0)
        .unwrap_or("unknown")
}

/// Answers a batch in order; returns `Some(reason)` when the connection must
/// close after it.
async fn run_batch(
    shared: &Arc<Shared>,
    state: &mut ConnState,
    conn: &mut Connection<RespCodec>,
    batch: Vec<Request>,
) -> Result<Option<CloseReason>, FrameError<ProtocolError>> {
    shared
        .counters
        .total_commands
        .fetch_add(batch.len() as u64, Ordering::Relaxed);
    let mut pending: Vec<(Call, &'static str)> = Vec::new();
    let mut close = None;
    for req in &batch {
        let started = Instant::now();
        let name = stat_name(req);
        let action = protocol::parse(req, &mut state.session, super::now_ms());
        if let Action::Call(call) = &action {
            if call.is_plain_write() {
                pending.push((call.clone(), name));
                continue;
            }
        }
        flush_writes(shared, state, conn, &mut pending).await?;
        let reply = match action {
            Action::Reply(r) => {
                if matches!(r, Reply::Error(_)) {
                    count(state, name, 0, false, true);
                } else {
                    count(
                        state,
                        name,
                        started.elapsed().as_micros() as u64,
                        false,
                        false,
                    );
                }
                r
            }
            Action::Close(r) => {
                close = Some(CloseReason::PeerClosed);
                match r {
                    Some(r) => r,
                    None => {
                        close = Some(CloseReason::Protocol(
                            "HTTP request on the RESP port".into(),
                        ));
                        break;
                    }
                }
            }
            Action::Auth(pw) => auth(shared, &mut state.session, &pw),
            Action::Reset => {
                state.cursors.clear();
                Reply::Simple("RESET".into())
            }
            Action::Call(call) => {
                let r = exec(shared, state, call).await;
                count(
                    state,
                    name,
                    started.elapsed().as_micros() as u64,
                    false,
                    matches!(r, Reply::Error(_)),
                );
                r
            }
        };
        conn.codec_mut().proto = state.session.proto;
        conn.feed(&reply).await?;
        if close.is_some() {
            break;
        }
    }
    flush_writes(shared, state, conn, &mut pending).await?;
    Ok(close)
}

fn count(state: &mut ConnState, name: &'static str, usec: u64, rejected: bool, failed: bool) {
    let e = state.stats.entry(name).or_default();
    e[0] += 1;
    e[1] += usec;
    e[2] += u64::from(rejected);
    e[3] += u64::from(failed);
}

/// Sends a run of plain writes to the backend together and answers them in order.
async fn flush_writes(
    shared: &Arc<Shared>,
    state: &mut ConnState,
    conn: &mut Connection<RespCodec>,
    pending: &mut Vec<(Call, &'static str)>,
) -> Result<(), FrameError<ProtocolError>> {
    if pending.is_empty() {
        return Ok(());
    }
    let started = Instant::now();
    let calls: Vec<(Call, &'static str)> = std::mem::take(pending);
    let futures = calls.iter().map(|(call, _)| {
        let shared = Arc::clone(shared);
        async move {
            match call {
                Call::Set {
                    alias,
                    content,
                    expiry,
                    ..
                }
                | Call::Hive(HiveCall::Update(alias, content, expiry)) => {
                    match shared.backend.update(alias, content.clone(), *expiry).await {
                        Ok(()) => Reply::ok(),
                        Err(e) => e.into_reply(),
                    }
                }
                _ => Reply::err("internal not a plain write"),
            }
        }
    });
    let replies = futures::future::join_all(futures).await;
    let per = started.elapsed().as_micros() as u64 / calls.len().max(1) as u64;
    for ((_, name), reply) in calls.iter().zip(replies) {
        count(state, name, per, false, matches!(reply, Reply::Error(_)));
        conn.feed(&reply).await?;
    }
    Ok(())
}

fn auth(shared: &Shared, session: &mut Session, pw: &[u8]) -> Reply {
    let Some(expected) = &shared.config.requirepass else {
        return Reply::err("AUTH <password> called without any password configured for the default user. Are you sure your configuration is correct?");
    };
    let expected = expected.as_bytes();
    // compare every byte so the time taken does not leak the matching prefix
    let mut diff = expected.len() ^ pw.len();
    for (i, b) in expected.iter().enumerate() {
        diff |= usize::from(b ^ pw.get(i).copied().unwrap_or(0));
    }
    if diff == 0 {
        session.authed = true;
        Reply::ok()
    } else {
        Reply::Error("WRONGPASS invalid username-password pair or user is disabled.".into())
    }
}

fn hive_reply<T>(r: Result<T, HiveError>, ok: impl FnOnce(T) -> Reply) -> Reply {
    match r {
        Ok(v) => ok(v),
        Err(e) => e.into_reply(),
    }
}

fn is_code<T>(r: &Result<T, HiveError>, code: ErrorCode) -> bool {
    matches!(r, Err(e) if e.code == code)
}

async fn set(
    b: &Backend,
    alias: &Bytes,
    content: &Bytes,
    cond: SetCond,
    get: bool,
    expiry: Expiry,
) -> Reply {
    match (cond, get) {
        (SetCond::Always, false) => {
            hive_reply(b.update(alias, content.clone(), expiry).await, |_| {
                Reply::ok()
            })
        }
        (SetCond::Nx, false) => {
            let r = b.put(alias, content.clone(), expiry).await;
            if is_code(&r, ErrorCode::AliasAlreadyExists) {
                return Reply::Nil;
            }
            hive_reply(r, |_| Reply::ok())
        }
        (SetCond::Xx, _) => {
            let r = b.get_and_update(alias, content.clone(), expiry).await;
            if is_code(&r, ErrorCode::AliasNotFound) {
                return Reply::Nil;
            }
            hive_reply(r, |old| if get { Reply::Bulk(old) } else { Reply::ok() })
        }
        (SetCond::Always, true) => {
            // get_and_update needs the alias to exist; put needs it absent. A
            // racing writer can flip between the two, so retry a few times.
            for _ in 0..8 {
                let r = b.get_and_update(alias, content.clone(), expiry).await;
                if !is_code(&r, ErrorCode::AliasNotFound) {
                    return hive_reply(r, Reply::Bulk);
                }
                let r = b.put(alias, content.clone(), expiry).await;
                if !is_code(&r, ErrorCode::AliasAlreadyExists) {
                    return hive_reply(r, |_| Reply::Nil);
                }
            }
            HiveError::new(ErrorCode::TryAgain, "contended alias").into_reply()
        }
        (SetCond::Nx, true) => {
            for _ in 0..8 {
                let r = b.put(alias, content.clone(), expiry).await;
                if !is_code(&r, ErrorCode::AliasAlreadyExists) {
                    return hive_reply(r, |_| Reply::Nil);
                }
                let r = b.get(alias).await;
                if !is_code(&r, ErrorCode::AliasNotFound) {
                    return hive_reply(r, Reply::Bulk);
                }
            }
            HiveError::new(ErrorCode::TryAgain, "contended alias").into_reply()
        }
    }
}

async fn exec(shared: &Arc<Shared>, state: &mut ConnState, call: Call) -> Reply {
    let b = &shared.backend;
    let now = super::now_ms();
    match call {
        Call::Get(a) => {
            let r = b.get(&a).await;
            if is_code(&r, ErrorCode::AliasNotFound) {
                return Reply::Nil;
            }
            hive_reply(r, Reply::Bulk)
        }
        Call::Set {
            alias,
            content,
            cond,
            get,
            expiry,
        } => set(b, &alias, &content, cond, get, expiry).await,
        Call::GetDel(a) => {
            let r = b.get_and_remove(&a).await;
            if is_code(&r, ErrorCode::AliasNotFound) {
                return Reply::Nil;
            }
            hive_reply(r, Reply::Bulk)
        }
        Call::GetRange(a, s, e) => {
            let r = b.get(&a).await;
            if is_code(&r, ErrorCode::AliasNotFound) {
                return Reply::Bulk(Bytes::new());
            }
            hive_reply(r, |c| Reply::Bulk(protocol::slice_range(&c, s, e)))
        }
        Call::Strlen(a) => {
            let r = b.meta(&a).await;
            if is_code(&r, ErrorCode::AliasNotFound) {
                return Reply::Int(0);
            }
            hive_reply(r, |m| Reply::Int(m.size as i64))
        }
        Call::Del(keys) => {
            let mut n = 0;
            for k in keys {
                match b.delete(&k).await {
                    Ok(()) => n += 1,
                    Err(e) if e.code == ErrorCode::AliasNotFound => {}
                    Err(e) => return e.into_reply(),
                }
            }
            Reply::Int(n)
        }
        Call::Exists(keys) => {
            let mut n = 0;
            for k in keys {
                match b.get_expiry(&k).await {
                    Ok(_) => n += 1,
                    Err(e) if e.code == ErrorCode::AliasNotFound => {}
                    Err(e) => return e.into_reply(),
                }
            }
            Reply::Int(n)
        }
        Call::Type(a) => match b.get_expiry(&a).await {
            Ok(_) => Reply::Simple("string".into()),
            Err(e) if e.code == ErrorCode::AliasNotFound => Reply::Simple("none".into()),
            Err(e) => e.into_reply(),
        },
        Call::Expire(a, at) => {
            let r = if at <= now as i64 {
                b.delete(&a).await
            } else {
                b.expires_at(&a, Expiry::At(at as u64)).await
            };
            if is_code(&r, ErrorCode::AliasNotFound) {
                return Reply::Int(0);
            }
            hive_reply(r, |_| Reply::Int(1))
        }
        Call::Persist(a) => match b.get_expiry(&a).await {
            Ok(Expiry::At(_)) => {
                hive_reply(b.expires_at(&a, Expiry::Never).await, |_| Reply::Int(1))
            }
            Ok(_) => Reply::Int(0),
            Err(e) if e.code == ErrorCode::AliasNotFound => Reply::Int(0),
            Err(e) => e.into_reply(),
        },
        Call::Ttl {
            alias,
            unit,
            absolute,
        } => match b.get_expiry(&alias).await {
            Err(e) if e.code == ErrorCode::AliasNotFound => Reply::Int(-2),
            Err(e) => e.into_reply(),
            Ok(Expiry::Never | Expiry::Keep) => Reply::Int(-1),
            Ok(Expiry::At(t)) => {
                let ms = if absolute { t } else { t.saturating_sub(now) };
                Reply::Int(match unit {
                    Unit::Ms => ms as i64,
                    Unit::S if absolute => (ms / 1000) as i64,
                    Unit::S => ms.saturating_add(500) as i64 / 1000,
                })
            }
        },
        Call::Scan {
            cursor,
            pattern,
            count,
        } => scan(b, state, cursor, pattern, count).await,
        Call::DbSize => hive_reply(b.stats().await, |s| Reply::Int(s.live_entries as i64)),
        Call::Info(sections) => {
            merge_stats(shared, state);
            match b.stats().await {
                Ok(st) => Reply::Verbatim(protocol::info_text(&sections, &st, &facts(shared))),
                Err(e) => e.into_reply(),
            }
        }
        Call::ConfigGet(patterns) => config_get(shared, &patterns),
        Call::ConfigSet(pairs) => config_set(shared, &pairs),
        Call::ConfigResetStat => {
            if let Backend::Embedded(s) = b {
                s.reset_stats();
            }
            shared
                .cmdstats
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .clear();
            state.stats.clear();
            Reply::ok()
        }
        Call::Hive(h) => hive(b, h).await,
    }
}

async fn scan(
    b: &Backend,
    state: &mut ConnState,
    cursor: u64,
    pattern: Option<Bytes>,
    count: usize,
) -> Reply {
    let now = Instant::now();
    state
        .cursors
        .retain(|_, c| now.duration_since(c.used) < SCAN_CURSOR_IDLE);
    let (prefix, from) = if cursor == 0 {
        let prefix = pattern
            .as_deref()
            .and_then(protocol::literal_prefix)
            .map(Bytes::from)
            .unwrap_or_default();
        (prefix, None)
    } else {
        match state.cursors.remove(&cursor) {
            Some(c) => (c.prefix, Some(c.next)),
            None => return HiveError::code(ErrorCode::InvalidIterator).into_reply(),
        }
    };
    let page = match b.prefix_list(&prefix, from, count).await {
        Ok(p) => p,
        Err(e) => return e.into_reply(),
    };
    let keys: Vec<Reply> = page
        .aliases
        .into_iter()
        .filter(|a| {
            pattern
                .as_deref()
                .is_none_or(|p| protocol::glob_match(p, a))
        })
        .map(Reply::Bulk)
        .collect();
    let next = match page.next {
        Some(next) => {
            if state.cursors.len() >= MAX_SCAN_CURSORS {
                if let Some(oldest) = state.cursors.iter().min_by_key(|c| c.1.used).map(|c| *c.0) {
                    state.cursors.remove(&oldest);
                }
            }
            let mut id = rand::random::<u64>();
            while id == 0 || state.cursors.contains_key(&id) {
                id = rand::random::<u64>();
            }
            state.cursors.insert(
                id,
                ScanCursor {
                    prefix,
                    next,
                    used: now,
                },
            );
            id
        }
        None => 0,
    };
    Reply::Array(vec![Reply::text(next.to_string()), Reply::Array(keys)])
}

fn facts(shared: &Shared) -> ServerFacts {
    let c = &shared.counters;
    let rss = std::fs::read_to_string("/proc/self/statm")
        .ok()
        .and_then(|s| {
            s.split_whitespace()
                .nth(1)
                .and_then(|p| p.parse::<u64>().ok())
        })
        .unwrap_or(0)
        * 4096;
    let mut commandstats: Vec<(String, u64, u64, u64, u64)> = shared
        .cmdstats
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .iter()
        .map(|(k, v)| (k.clone(), v[0], v[1], v[2], v[3]))
        .collect();
    commandstats.sort();
    ServerFacts {
        tcp_port: shared.port,
        process_id: std::process::id(),
        uptime_s: shared.started.elapsed().as_secs(),
        connected_clients: c.connected.load(Ordering::Relaxed),
        max_clients: shared.config.max_clients as u64,
        total_connections: c.total_connections.load(Ordering::Relaxed),
        total_commands: c.total_commands.load(Ordering::Relaxed),
        ops_per_sec: c.ops_per_sec.load(Ordering::Relaxed),
        rejected_connections: c.rejected.load(Ordering::Relaxed),
        rss_bytes: rss,
        commandstats,
    }
}

fn config_values(shared: &Shared) -> Vec<(&'static str, String)> {
    let (bytes, entries, durable, flush) = match &shared.backend {
        Backend::Embedded(s) => {
            let (b, e) = s.limits();
            let flush = match s.config().durability {
                super::store::Durability::Interval(d) => d.as_secs(),
                _ => 0,
            };
            (
                b,
                e,
                s.config().durability != super::store::Durability::Transient,
                flush,
            )
        }
        Backend::Redis(_) => (0, 0, false, 0),
    };
    vec![
        ("save", String::new()),
        ("appendonly", if durable { "yes" } else { "no" }.into()),
        ("databases", "1".into()),
        ("maxmemory", "0".into()),
        ("maxmemory-policy", "noeviction".into()),
        ("limiter-max-bytes", bytes.to_string()),
        ("limiter-max-entries-count", entries.to_string()),
        ("flush-interval", flush.to_string()),
        ("max-clients", shared.config.max_clients.to_string()),
    ]
}

fn config_get(shared: &Shared, patterns: &[String]) -> Reply {
    let mut out = Vec::new();
    for (k, v) in config_values(shared) {
        if patterns
            .iter()
            .any(|p| protocol::glob_match(p.as_bytes(), k.as_bytes()))
        {
            out.push((Reply::text(k), Reply::text(v)));
        }
    }
    Reply::Map(out)
}

fn config_set(shared: &Shared, pairs: &[(String, String)]) -> Reply {
    let Backend::Embedded(store) = &shared.backend else {
        let name = pairs.first().map(|p| p.0.clone()).unwrap_or_default();
        return HiveError::new(ErrorCode::InvalidOption, name).into_reply();
    };
    let mut bytes = None;
    let mut entries = None;
    for (k, v) in pairs {
        let Ok(n) = v.parse::<u64>() else {
            return Reply::err(format!("CONFIG SET failed (possibly related to argument '{k}') - argument couldn't be parsed into an integer"));
        };
        match k.as_str() {
            "limiter-max-bytes" => bytes = Some(n),
            "limiter-max-entries-count" => entries = Some(n),
            other => return HiveError::new(ErrorCode::InvalidOption, other).into_reply(),
        }
    }
    store.set_limits(bytes, entries);
    Reply::ok()
}

async fn hive(b: &Backend, call: HiveCall) -> Reply {
    match call {
        HiveCall::Put(a, c, e) => hive_reply(b.put(&a, c, e).await, |_| Reply::ok()),
        HiveCall::Update(a, c, e) => hive_reply(b.update(&a, c, e).await, |_| Reply::ok()),
        HiveCall::Get(a) => hive_reply(b.get(&a).await, Reply::Bulk),
        HiveCall::Delete(a) => hive_reply(b.delete(&a).await, |_| Reply::ok()),
        HiveCall::GetUpdate(a, c, e) => hive_reply(b.get_and_update(&a, c, e).await, Reply::Bulk),
        HiveCall::GetRemove(a) => hive_reply(b.get_and_remove(&a).await, Reply::Bulk),
        HiveCall::Cas(a, n, c, e) => {
            hive_reply(b.compare_and_swap(&a, n, &c, e).await, protocol::cas_reply)
        }
        HiveCall::RemoveIf(a, c) => hive_reply(b.remove_if(&a, &c).await, |_| Reply::ok()),
        HiveCall::ExpireAt(a, e) => hive_reply(b.expires_at(&a, e).await, |_| Reply::ok()),
        HiveCall::ExpiresIn(a, ms) => hive_reply(b.expires_from_now(&a, ms).await, |_| Reply::ok()),
        HiveCall::GetExpiry(a) => {
            hive_reply(b.get_expiry(&a).await, |e| Reply::Int(e.as_ms() as i64))
        }
        HiveCall::Meta(a) => hive_reply(b.meta(&a).await, |m| protocol::meta_reply(&m)),
        HiveCall::Prefix {
            prefix,
            cursor,
            count,
            meta,
        } => {
            let from = (!cursor.is_empty()).then_some(Cursor(cursor));
            let page = match b.prefix_list(&prefix, from, count).await {
                Ok(p) => p,
                Err(e) => return e.into_reply(),
            };
            let mut items = Vec::with_capacity(page.aliases.len());
            for a in page.aliases {
                if meta {
                    // an alias deleted since the listing is simply left out
                    if let Ok(m) = b.meta(&a).await {
                        items.push(Reply::Array(vec![
                            Reply::Bulk(a),
                            Reply::Int(m.size as i64),
                            Reply::Int(m.expiry.as_ms() as i64),
                        ]));
                    }
                } else {
                    items.push(Reply::Bulk(a));
                }
            }
            let next = page.next.map(|c| c.0).unwrap_or_default();
            Reply::Array(vec![Reply::Bulk(next), Reply::Array(items)])
        }
    }
}
