//! Tokio side of the pool TCP protocol (plasma spec 7.1, 7.2, 7.7): the server
//! that serves a local pools directory over `net::server`, one task per
//! connection, and the client for `tcp://` / `tcps://` / `tcpo://` URIs.
//!
//! Awaits on the server sleep on the pool's notification FIFOs through the
//! local pool engine's tail, so deposits by libPlasma processes on the same
//! machine and by other network clients wake them alike.

use std::path::PathBuf;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;

use super::codec::{Arg, Codec, Inbound, Message, Mode, Outbound, DEFAULT_PORT};
use super::protocol::{
    self, negotiate, op, retort::*, retort_from_wire, Action, Await, Backend, Found, Session,
};
use super::{Error, Result, Retort};
use crate::engine::pool::io::{From as TailFrom, Tail, TailItem};
use crate::engine::pool::store::{now_seconds, ChangeOptions, CreateOptions, TimeMatch};
use crate::engine::pool::{self, Pool, Pools};
use crate::engine::slaw::{self, Slaw};
use crate::net::framing::{Connection, FrameError, Limits};
use crate::net::shutdown::{CloseReason, Shutdown};
use crate::net::tls;
use crate::net::transport::{self, Listener, Peer, Stream, Target};

// ---------------------------------------------------------------- server --

/// Configuration of the pool server.
#[derive(Clone)]
pub struct ServerConfig {
    /// The pools served.
    pub pools: Pools,
    /// TLS for STARTTLS (op 30); `None` = no TLS offered.
    pub tls: Option<Arc<rustls::ServerConfig>>,
    /// Refuse everything but STARTTLS on plain sessions.
    pub require_tls: bool,
    /// Idle timeout between requests (not applied while a client awaits).
    pub idle_timeout: Option<Duration>,
    /// Cap on one message.
    pub max_message_bytes: usize,
    /// Connections served at once.
    pub max_connections: usize,
}

impl ServerConfig {
    /// Plain server for `pools` with default limits.
    pub fn new(pools: Pools) -> Self {
        ServerConfig {
            pools,
            tls: None,
            require_tls: false,
            idle_timeout: Some(Duration::from_secs(600)),
            max_message_bytes: super::codec::DEFAULT_MAX_MESSAGE_BYTES,
            max_connections: 1024,
        }
    }
}

/// Serves pools on `listener` until `shutdown`.
pub async fn serve(listener: Listener, shutdown: Shutdown, config: ServerConfig) {
    let mut options = crate::net::server::Options::new("pools");
    options.max_connections = config.max_connections;
    let config = Arc::new(config);
    crate::net::server::serve(listener, shutdown, options, move |stream, peer, sd| {
        let config = config.clone();
        async move { connection(stream, peer, sd, config).await }
    })
    .await;
}

fn limits(config: &ServerConfig) -> Limits {
    Limits {
        // The idle timeout is the connection loop's watchdog, not a timer per
        // read: arming a timer on every request costs a clock read and two
        // timer-wheel operations on the hot path.
        idle_timeout: None,
        max_buffer_bytes: config.max_message_bytes.saturating_add(64),
        ..Limits::default()
    }
}

fn codec(mode: Mode, config: &ServerConfig) -> Codec {
    Codec {
        mode,
        max_message_bytes: config.max_message_bytes,
    }
}

fn frame_reason(e: FrameError<super::codec::CodecError>) -> CloseReason {
    e.close_reason()
}

/// Reads the greeting on a fresh (or freshly TLS-wrapped) stream and answers
/// the hello. Returns the negotiated protocol version.
async fn handshake(
    conn: &mut Connection<Codec>,
    session: Option<&Session>,
    tls_available: bool,
    require_tls: bool,
) -> std::result::Result<Session, CloseReason> {
    let greeting = match conn.read_frame().await {
        Ok(Some(g)) => g,
        Ok(None) => return Err(CloseReason::PeerClosed),
        Err(e) => return Err(frame_reason(e)),
    };
    let (pv, sv) = match greeting {
        Inbound::Greeting { pv, sv } => (pv, sv),
        _ => {
            return Err(CloseReason::Protocol(
                "not a pool protocol greeting (protocol-0 client or garbage)".into(),
            ))
        }
    };
    let Some((pv, sv)) = negotiate(pv, sv) else {
        let _ = conn
            .send(Outbound::Raw(Bytes::from_static(&[0xff, 0xff])))
            .await;
        return Err(CloseReason::Protocol(format!(
            "no common version with client pv {pv} sv {sv}"
        )));
    };
    let mut s = Session::new(pv, tls_available, require_tls);
    if let Some(prev) = session {
        s.tls = true;
        s.tls_available = prev.tls_available;
    }
    conn.codec_mut().mode = Mode::Messages;
    if let Err(e) = conn
        .send(Outbound::Hello {
            pv,
            sv,
            mask: s.mask(),
        })
        .await
    {
        return Err(frame_reason(e));
    }
    Ok(s)
}

async fn connection(
    stream: Stream,
    peer: Peer,
    shutdown: Shutdown,
    config: Arc<ServerConfig>,
) -> CloseReason {
    let mut conn = Connection::new(
        stream,
        peer.clone(),
        codec(Mode::Greeting, &config),
        limits(&config),
    );
    let tls_available = config.tls.is_some();
    let stop = shutdown.requested();
    tokio::pin!(stop);
    let mut session = tokio::select! {
        _ = &mut stop => return CloseReason::Shutdown,
        // libPlasma's server waits 15 s for the first command; the greeting
        // gets no longer.
        _ = tokio::time::sleep(FIRST_COMMAND_TIMEOUT) => return CloseReason::Idle,
        s = handshake(&mut conn, None, tls_available, config.require_tls) => match s {
            Ok(s) => s,
            Err(reason) => return reason,
        },
    };
    let first_deadline = tokio::time::sleep(FIRST_COMMAND_TIMEOUT);
    tokio::pin!(first_deadline);
    // Idle watchdog: fires every `idle`; a connection that read no request
    // since the previous firing is closed (so after idle to 2 × idle of
    // silence). One clock read per period instead of one per request.
    let idle = config.idle_timeout;
    let watchdog = tokio::time::sleep(idle.unwrap_or(Duration::from_secs(3600)));
    tokio::pin!(watchdog);
    let mut active = false;
    let mut backend = PoolBackend {
        pools: config.pools.clone(),
        pool: None,
    };
    let mut waiter = Waiter::default();
    let mut pending: Option<Message> = None;
    loop {
        let msg = match pending.take() {
            Some(m) => m,
            None => {
                let first = session.state == protocol::State::Initial;
                let frame = loop {
                    tokio::select! {
                        _ = &mut stop => return CloseReason::Shutdown,
                        // libPlasma's server waits 15 s for the first command.
                        _ = &mut first_deadline, if first => return CloseReason::Idle,
                        _ = &mut watchdog, if idle.is_some() => {
                            if !std::mem::take(&mut active) {
                                return CloseReason::Idle;
                            }
                            let period = idle.unwrap_or(Duration::from_secs(3600));
                            watchdog.as_mut().reset(tokio::time::Instant::now() + period);
                        }
                        f = conn.read_frame() => break f,
                    }
                };
                active = true;
                match frame {
                    Ok(Some(Inbound::Message(m))) => m,
                    Ok(Some(_)) => {
                        return CloseReason::Protocol("unexpected handshake bytes".into())
                    }
                    Ok(None) => return CloseReason::PeerClosed,
                    Err(FrameError::Codec(e)) => {
                        // The protocol's error retort where one exists, then close.
                        let code = match e {
                            super::codec::CodecError::Slaw(_) => SLAW_CORRUPT_PROTEIN,
                            _ => POOL_PROTOCOL_ERROR,
                        };
                        let reply = protocol::result(
                            session.pv,
                            vec![Arg::Int(protocol::retort_to_wire(code, session.pv))],
                        );
                        let _ = conn.send(Outbound::Message(reply)).await;
                        return CloseReason::Protocol(e.to_string());
                    }
                    Err(e) => return frame_reason(e),
                }
            }
        };
        // Only a deposit needs the time; other ops skip the clock read.
        let now = if msg.op == op::DEPOSIT {
            now_seconds()
        } else {
            0.0
        };
        match session.handle(&msg, &mut backend, now) {
            Action::Nothing => {}
            Action::Drop(why) => return CloseReason::Protocol(format!("op {}: {why}", msg.op)),
            Action::Reply(replies) => {
                if let Err(e) = send_all(&mut conn, replies).await {
                    return frame_reason(e);
                }
            }
            Action::Close(reply) => {
                let failed = reply
                    .args
                    .first()
                    .and_then(Arg::as_i64)
                    .is_some_and(|r| r < 0);
                let _ = conn.send(Outbound::Message(reply)).await;
                return if failed {
                    CloseReason::Protocol(format!("op {} refused", msg.op))
                } else {
                    CloseReason::PeerClosed
                };
            }
            Action::StartTls(reply) => {
                let Some(tls_config) = config.tls.clone() else {
                    return CloseReason::Protocol("starttls without a certificate".into());
                };
                if let Err(e) = conn.send(Outbound::Message(reply)).await {
                    return frame_reason(e);
                }
                let (stream, rest, peer) = conn.into_parts();
                if !rest.is_empty() {
                    return CloseReason::Protocol(
                        "data after STARTTLS before the handshake".into(),
                    );
                }
                let stream = match tls::accept(stream, tls_config).await {
                    Ok(s) => s,
                    Err(e) => return CloseReason::Protocol(format!("tls handshake: {e}")),
                };
                conn = Connection::new(
                    stream,
                    peer,
                    codec(Mode::TlsGreeting, &config),
                    limits(&config),
                );
                session = tokio::select! {
                    _ = &mut stop => return CloseReason::Shutdown,
                    _ = tokio::time::sleep(FIRST_COMMAND_TIMEOUT) => return CloseReason::Idle,
                    s = handshake(&mut conn, Some(&session), tls_available, config.require_tls) => match s {
                        Ok(s) => s,
                        Err(reason) => return reason,
                    },
                };
            }
            Action::Await(first, kind) => {
                if let Some(m) = first {
                    if let Err(e) = conn.send(Outbound::Message(m)).await {
                        return frame_reason(e);
                    }
                }
                let (outcome, held) = waiter
                    .wait(&mut conn, &mut backend, &config.pools, &kind, &shutdown)
                    .await;
                pending = held;
                let got = match outcome {
                    WaitOutcome::Got(f) => Ok(f),
                    WaitOutcome::Retort(code) => Err(code),
                    // libPlasma's server answers an interrupted await with
                    // POOL_NO_SUCH_PROTEIN, then serves the new request.
                    WaitOutcome::Interrupted => Err(POOL_NO_SUCH_PROTEIN),
                    WaitOutcome::Close(reason) => return reason,
                };
                let replies = session.await_reply(&kind, got);
                if let Err(e) = send_all(&mut conn, replies).await {
                    return frame_reason(e);
                }
            }
        }
    }
}

async fn send_all(
    conn: &mut Connection<Codec>,
    replies: Vec<Message>,
) -> std::result::Result<(), FrameError<super::codec::CodecError>> {
    for m in replies {
        conn.feed(Outbound::Message(m)).await?;
    }
    conn.flush::<Outbound>().await
}

enum WaitOutcome {
    Got(Found),
    Retort(i64),
    Interrupted,
    Close(CloseReason),
}

/// A connection's await state: the tail it sleeps on, kept between awaits so a
/// client looping on AWAIT_NEXT_SINGLE does not reopen the pool each time.
#[derive(Default)]
struct Waiter {
    tail: Option<(Tail, i64)>,
}

impl Waiter {
    async fn wait(
        &mut self,
        conn: &mut Connection<Codec>,
        backend: &mut PoolBackend,
        pools: &Pools,
        kind: &Await,
        shutdown: &Shutdown,
    ) -> (WaitOutcome, Option<Message>) {
        let mut held: Option<Message> = None;
        let outcome = self
            .wait_inner(conn, backend, pools, kind, shutdown, &mut held)
            .await;
        (outcome, held)
    }

    async fn wait_inner(
        &mut self,
        conn: &mut Connection<Codec>,
        backend: &mut PoolBackend,
        pools: &Pools,
        kind: &Await,
        shutdown: &Shutdown,
        held: &mut Option<Message>,
    ) -> WaitOutcome {
        let (index, timeout, pattern, interruptible) = match kind {
            Await::Single { index, timeout } => (*index, *timeout, None, false),
            Await::Multi { index } => (*index, None, None, true),
            Await::Fancy { index, pattern } => (*index, None, Some(pattern), true),
        };
        // Fast path: the protein is already there.
        if pattern.is_none() {
            match backend.first_at_or_after(index) {
                Ok(Some(f)) => return WaitOutcome::Got(f),
                Ok(None) => {}
                Err(code) => return WaitOutcome::Retort(code),
            }
            if timeout == Some(0.0) {
                return WaitOutcome::Retort(POOL_AWAIT_TIMEDOUT);
            }
        }
        let Some(name) = backend.pool.as_ref().map(|p| p.name().to_string()) else {
            return WaitOutcome::Retort(POOL_NULL_HOSE_RETORT);
        };
        let reuse = matches!(&self.tail, Some((_, next)) if *next == index);
        if !reuse {
            self.tail = Some((
                Tail::spawn(pools, &name, TailFrom::Index(index), 1, true),
                index,
            ));
        }
        let deadline = timeout
            .map(|t| tokio::time::Instant::now() + Duration::from_secs_f64(t.clamp(0.0, 1e9)));
        let mut reading = true;
        loop {
            let Some((tail, next)) = self.tail.as_mut() else {
                return WaitOutcome::Retort(OB_UNKNOWN_ERR);
            };
            let sleep = async {
                match deadline {
                    Some(d) => tokio::time::sleep_until(d).await,
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                _ = shutdown.requested() => return WaitOutcome::Close(CloseReason::Shutdown),
                _ = sleep => return WaitOutcome::Retort(POOL_AWAIT_TIMEDOUT),
                item = tail.next() => match item {
                    Some(TailItem::Protein(e)) => {
                        *next = e.index + 1;
                        let found = Found {
                            index: e.index,
                            timestamp: e.timestamp,
                            protein: Bytes::from(e.protein),
                        };
                        if let Some(p) = pattern {
                            if !protocol::matches(&found.protein, p) {
                                continue;
                            }
                        }
                        return WaitOutcome::Got(found);
                    }
                    Some(TailItem::Skipped(n)) => *next += n as i64,
                    Some(TailItem::Failed(_)) | None => {
                        self.tail = None;
                        return WaitOutcome::Retort(OB_UNKNOWN_ERR);
                    }
                },
                frame = conn.read_frame(), if reading => match frame {
                    Ok(Some(Inbound::Message(m))) if interruptible => {
                        *held = Some(m);
                        return WaitOutcome::Interrupted;
                    }
                    Ok(Some(Inbound::Message(m))) => {
                        // AWAIT_NEXT_SINGLE is not interruptible: the request
                        // waits its turn.
                        *held = Some(m);
                        reading = false;
                    }
                    Ok(Some(_)) => return WaitOutcome::Close(CloseReason::Protocol("unexpected handshake bytes".into())),
                    Ok(None) => return WaitOutcome::Close(CloseReason::PeerClosed),
                    // An awaiting client is not idle.
                    Err(FrameError::Idle(_)) => {}
                    Err(e) => return WaitOutcome::Close(frame_reason(e)),
                },
            }
        }
    }
}

/// How long a connection may wait before its first command.
const FIRST_COMMAND_TIMEOUT: Duration = Duration::from_secs(15);

/// POOL_NULL_HOSE: an await without a pool.
const POOL_NULL_HOSE_RETORT: i64 = -200505;

/// The server's [`Backend`]: the served pools directory and the connection's
/// open pool. Pool calls run on the connection's task: reads are lock-free and
/// a deposit holds the pool lock for microseconds.
struct PoolBackend {
    pools: Pools,
    pool: Option<Pool>,
}

fn code(e: pool::Error) -> i64 {
    e.retort()
}

fn opt_u64(m: &Slaw, key: &str) -> Option<u64> {
    m.get(key)
        .and_then(|v| v.as_u64().or_else(|| v.as_i64().map(|i| i.max(0) as u64)))
}

fn opt_bool(m: &Slaw, key: &str) -> Option<bool> {
    m.get(key).and_then(|v| {
        v.as_bool()
            .or_else(|| v.as_i64().map(|i| i != 0))
            .or_else(|| v.as_str().map(|s| s == "true" || s == "1"))
    })
}

fn create_options(opts: &protocol::Options) -> CreateOptions {
    let mut c = CreateOptions::default();
    if let Some(m) = opts {
        if let Some(s) = opt_u64(m, "size") {
            c.size = s;
        }
        if let Some(t) = opt_u64(m, "toc-capacity").or_else(|| opt_u64(m, "index-capacity")) {
            c.toc_capacity = t;
        }
        for (key, slot) in [
            ("stop-when-full", &mut c.stop_when_full),
            ("frozen", &mut c.frozen),
            ("sync", &mut c.sync),
            ("flock", &mut c.flock),
            ("checksum", &mut c.checksum),
            ("single-file", &mut c.single_file),
        ] {
            if let Some(b) = opt_bool(m, key) {
                *slot = b;
            }
        }
    }
    c
}

impl PoolBackend {
    fn hose(&mut self) -> std::result::Result<&mut Pool, i64> {
        self.pool.as_mut().ok_or(POOL_NULL_HOSE_RETORT)
    }

    fn first_at_or_after(&mut self, index: i64) -> std::result::Result<Option<Found>, i64> {
        let Some((old, new)) = self.range()? else {
            return Ok(None);
        };
        let mut k = index.max(old);
        while k <= new {
            match self.nth(k) {
                Ok(f) => return Ok(Some(f)),
                Err(POOL_NO_SUCH_PROTEIN) => k += 1,
                Err(c) => return Err(c),
            }
        }
        Ok(None)
    }
}

impl Backend for PoolBackend {
    fn create(
        &mut self,
        name: &str,
        kind: &str,
        options: &protocol::Options,
    ) -> std::result::Result<(), i64> {
        if kind != "mmap" {
            return Err(-200540);
        }
        self.pools
            .create(name, &create_options(options))
            .map_err(code)
    }

    fn dispose(&mut self, name: &str) -> std::result::Result<(), i64> {
        self.pools.dispose(name).map_err(code)
    }

    fn rename(&mut self, from: &str, to: &str) -> std::result::Result<(), i64> {
        self.pools.rename(from, to).map_err(code)
    }

    fn list(&mut self, prefix: Option<&str>) -> std::result::Result<Vec<String>, i64> {
        let all = self.pools.list().map_err(code)?;
        Ok(match prefix {
            Some(p) if !p.is_empty() => all.into_iter().filter(|n| n.starts_with(p)).collect(),
            _ => all,
        })
    }

    fn sleep(&mut self, name: &str) -> std::result::Result<(), i64> {
        // Nothing to free: tidepool holds no semaphores for idle pools.
        if self.pools.exists(name) {
            Ok(())
        } else {
            Err(POOL_NO_SUCH_POOL)
        }
    }

    fn participate(
        &mut self,
        name: &str,
        create: Option<&protocol::Options>,
    ) -> std::result::Result<bool, i64> {
        let (pool, created) = match create {
            Some(opts) => self
                .pools
                .open_or_create(name, &create_options(opts))
                .map_err(code)?,
            None => (self.pools.open(name).map_err(code)?, false),
        };
        self.pool = Some(pool);
        Ok(created)
    }

    fn withdraw(&mut self) {
        self.pool = None;
    }

    fn deposit(&mut self, protein: &[u8], now: f64) -> std::result::Result<(i64, f64), i64> {
        // No second validation: the protein came out of a message whose whole
        // body, nested proteins included, was validated on receipt.
        self.hose()?.deposit(protein, now).map_err(code)
    }

    fn nth(&mut self, index: i64) -> std::result::Result<Found, i64> {
        let e = self.hose()?.nth(index).map_err(code)?;
        Ok(Found {
            index: e.index,
            timestamp: e.timestamp,
            protein: Bytes::from(e.protein),
        })
    }

    fn range(&mut self) -> std::result::Result<Option<(i64, i64)>, i64> {
        self.hose()?.index_range().map_err(code)
    }

    fn info(&mut self) -> std::result::Result<Vec<u8>, i64> {
        let i = self.hose()?.info().map_err(code)?;
        Ok(slaw::encode_protein(&info_protein(&i)))
    }

    fn index_lookup(&mut self, t: f64, mode: i64) -> std::result::Result<i64, i64> {
        let m = match mode {
            1 => TimeMatch::AtOrBelow,
            2 => TimeMatch::AtOrAbove,
            _ => TimeMatch::Closest,
        };
        match self.hose()?.seek_time(t, m).map_err(code)? {
            Some(i) => Ok(i),
            None => Err(POOL_NO_SUCH_PROTEIN),
        }
    }

    fn change_options(&mut self, options: &protocol::Options) -> std::result::Result<(), i64> {
        let Some(m) = options else {
            return Ok(());
        };
        let c = ChangeOptions {
            size: opt_u64(m, "size"),
            stop_when_full: opt_bool(m, "stop-when-full"),
            frozen: opt_bool(m, "frozen"),
            auto_dispose: opt_bool(m, "auto-dispose"),
            sync: opt_bool(m, "sync"),
        };
        self.hose()?.change_options(&c).map_err(code)
    }

    fn advance_oldest(&mut self, index: i64) -> std::result::Result<i64, i64> {
        match self.hose()?.advance_oldest(index).map_err(code)? {
            true => Ok(OB_OK),
            false => Ok(protocol::retort::OB_NOTHING_TO_DO),
        }
    }
}

/// The info protein of an mmap pool (spec 6.10).
pub fn info_protein(i: &pool::Info) -> slaw::Protein {
    let ingests = Slaw::map([
        ("type", Slaw::str(i.pool_type)),
        ("terminal", Slaw::bool(i.terminal)),
        ("size", Slaw::u64(i.size)),
        ("size-used", Slaw::u64(i.size_used)),
        ("mmap-pool-version", Slaw::u32(i.mmap_version as u32)),
        ("slaw-version", Slaw::u32(i.slaw_version as u32)),
        ("index-capacity", Slaw::u64(i.toc_capacity)),
        ("index-step", Slaw::u64(i.toc_step)),
        ("index-count", Slaw::u64(i.toc_count)),
        ("toc-capacity", Slaw::u64(i.toc_capacity)),
        ("toc-step", Slaw::u64(i.toc_step)),
        ("toc-count", Slaw::u64(i.toc_count)),
        ("auto-dispose", Slaw::bool(i.auto_dispose)),
        ("checksum", Slaw::bool(i.checksum)),
        ("flock", Slaw::bool(i.flock)),
        ("frozen", Slaw::bool(i.frozen)),
        ("stop-when-full", Slaw::bool(i.stop_when_full)),
        ("sync", Slaw::bool(i.sync)),
    ]);
    slaw::Protein {
        descrips: None,
        ingests: Some(ingests),
        rude: Vec::new(),
    }
}

// ---------------------------------------------------------------- client --

/// How a URI asks for TLS (spec 7.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Security {
    /// `tcp://`: plain.
    Plain,
    /// `tcps://`: TLS required, certificate verified.
    Required,
    /// `tcpo://`: TLS when the server offers it, else plain. rustls has no
    /// anonymous suites, so a server without a certificate means plain.
    Opportunistic,
}

/// A parsed `tcp://host[:port]/pool` URI; `pool` is empty for a server URI.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PoolUri {
    /// Plain or TLS.
    pub security: Security,
    /// Where the server is.
    pub target: Target,
    /// Pool name (may contain slashes; empty for `tcp://host/`).
    pub pool: String,
}

/// Whether a pool argument names a remote pool.
pub fn is_uri(s: &str) -> bool {
    s.starts_with("tcp://") || s.starts_with("tcps://") || s.starts_with("tcpo://")
}

impl FromStr for PoolUri {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self> {
        let bad = |reason: &str| Error::Uri {
            uri: s.to_string(),
            reason: reason.to_string(),
        };
        let (security, rest) = if let Some(r) = s.strip_prefix("tcp://") {
            (Security::Plain, r)
        } else if let Some(r) = s.strip_prefix("tcps://") {
            (Security::Required, r)
        } else if let Some(r) = s.strip_prefix("tcpo://") {
            (Security::Opportunistic, r)
        } else {
            return Err(bad("expected tcp://, tcps:// or tcpo://"));
        };
        let (authority, pool) = rest.split_once('/').unwrap_or((rest, ""));
        if authority.is_empty() {
            return Err(bad("no host"));
        }
        let target = Target::parse_with_default_port(authority, DEFAULT_PORT)
            .map_err(|e| bad(&e.to_string()))?;
        if matches!(target, Target::Unix(_)) {
            return Err(bad("no host"));
        }
        Ok(PoolUri {
            security,
            target,
            pool: pool.to_string(),
        })
    }
}

impl std::fmt::Display for PoolUri {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let scheme = match self.security {
            Security::Plain => "tcp",
            Security::Required => "tcps",
            Security::Opportunistic => "tcpo",
        };
        write!(f, "{scheme}://{}/{}", self.target, self.pool)
    }
}

/// Client settings.
#[derive(Debug, Clone)]
pub struct ClientOptions {
    /// Which certificates to trust for TLS.
    pub trust: tls::Trust,
    /// Client certificate chain and key (mutual TLS).
    pub client_cert: Option<(PathBuf, PathBuf)>,
    /// Connect timeout.
    pub connect_timeout: Duration,
    /// Cap on one reply.
    pub max_message_bytes: usize,
}

impl Default for ClientOptions {
    fn default() -> Self {
        ClientOptions {
            trust: tls::Trust::System,
            client_cert: None,
            connect_timeout: Duration::from_secs(10),
            max_message_bytes: super::codec::DEFAULT_MAX_MESSAGE_BYTES,
        }
    }
}

/// A client connection after the handshake (and STARTTLS if asked for).
pub struct Client {
    conn: Connection<Codec>,
    server: String,
    /// Negotiated protocol version.
    pub pv: u8,
    /// Ops the server advertises.
    pub mask: u64,
    /// Whether the session runs inside TLS.
    pub tls: bool,
}

fn transport_err(server: &str) -> impl Fn(FrameError<super::codec::CodecError>) -> Error + '_ {
    move |e| Error::Transport {
        server: server.to_string(),
        detail: e.to_string(),
    }
}

async fn read_hello(conn: &mut Connection<Codec>, server: &str) -> Result<(u8, u64)> {
    conn.codec_mut().mode = Mode::Hello;
    match conn.read_frame().await.map_err(transport_err(server))? {
        Some(Inbound::Hello { pv: 0, sv: 0, .. }) => Err(Error::Protocol0 {
            server: server.into(),
        }),
        Some(Inbound::Hello { pv: 0xff, .. }) => Err(Error::NoCommonVersion {
            server: server.into(),
        }),
        Some(Inbound::Hello { pv, mask, .. }) => {
            conn.codec_mut().mode = Mode::Messages;
            Ok((pv, mask))
        }
        Some(_) => Err(Error::Transport {
            server: server.into(),
            detail: "unexpected bytes instead of the hello".into(),
        }),
        None => Err(Error::Closed {
            server: server.into(),
        }),
    }
}

impl Client {
    /// Connects to the server of `uri` and runs the handshake.
    pub async fn connect(uri: &PoolUri, options: &ClientOptions) -> Result<Client> {
        let server = uri.target.to_string();
        let (stream, peer) = transport::connect(&uri.target, options.connect_timeout)
            .await
            .map_err(|source| Error::Connect {
                server: server.clone(),
                source,
            })?;
        let codec = Codec {
            mode: Mode::Hello,
            max_message_bytes: options.max_message_bytes,
        };
        let mut conn = Connection::new(stream, peer, codec, Limits::default());
        conn.send(Outbound::Greeting {
            pv: super::codec::PROTOCOL_VERSION,
            sv: super::codec::SLAW_VERSION,
        })
        .await
        .map_err(transport_err(&server))?;
        let (pv, mask) = read_hello(&mut conn, &server).await?;
        let mut client = Client {
            conn,
            server,
            pv,
            mask,
            tls: false,
        };
        let offered = protocol::supports(mask, op::STARTTLS);
        match uri.security {
            Security::Plain => {}
            Security::Required if !offered => {
                return Err(Error::NoTls {
                    server: client.server,
                })
            }
            Security::Opportunistic if !offered => {}
            _ => client = client.starttls(uri, options).await?,
        }
        Ok(client)
    }

    async fn starttls(mut self, uri: &PoolUri, options: &ClientOptions) -> Result<Client> {
        let reply = self
            .call(op::STARTTLS, vec![Arg::Slaw(Slaw::Map(vec![]))])
            .await?;
        let r = self.retort_at(&reply, 0)?;
        if r < 0 {
            return Err(Error::NoTls {
                server: self.server,
            });
        }
        let server = self.server.clone();
        let trust = match uri.security {
            // tcpo:// asks for encryption, not authentication.
            Security::Opportunistic => tls::Trust::Insecure,
            _ => options.trust.clone(),
        };
        let cert = options
            .client_cert
            .as_ref()
            .map(|(c, k)| (c.as_path(), k.as_path()));
        let config = tls::client_config(&trust, cert).map_err(|source| Error::TlsConfig {
            server: server.clone(),
            source,
        })?;
        let codec = self.conn.codec_mut().clone();
        let (stream, _rest, peer) = self.conn.into_parts();
        let stream = tls::connect(stream, uri.target.server_name(), config)
            .await
            .map_err(|source| Error::Tls {
                server: server.clone(),
                source,
            })?;
        let mut conn = Connection::new(stream, peer, codec, Limits::default());
        conn.send(Outbound::TlsGreeting {
            pv: super::codec::PROTOCOL_VERSION,
            sv: super::codec::SLAW_VERSION,
        })
        .await
        .map_err(transport_err(&server))?;
        let (pv, mask) = read_hello(&mut conn, &server).await?;
        Ok(Client {
            conn,
            server,
            pv,
            mask,
            tls: true,
        })
    }

    /// host:port of the server.
    pub fn server(&self) -> &str {
        &self.server
    }

    fn check(&self, o: i64) -> Result<()> {
        if protocol::supports(self.mask, o) {
            Ok(())
        } else {
            Err(Error::Unsupported {
                server: self.server.clone(),
                op: o,
            })
        }
    }

    /// Sends a request without waiting for a reply.
    pub async fn send(&mut self, o: i64, args: Vec<Arg>) -> Result<()> {
        self.check(o)?;
        self.conn
            .send(Outbound::Message(Message::new(o, args)))
            .await
            .map_err(transport_err(&self.server))
    }

    /// Reads the next message from the server.
    pub async fn recv(&mut self) -> Result<Message> {
        match self
            .conn
            .read_frame()
            .await
            .map_err(transport_err(&self.server))?
        {
            Some(Inbound::Message(m)) => Ok(m),
            Some(_) => Err(Error::Transport {
                server: self.server.clone(),
                detail: "unexpected handshake bytes".into(),
            }),
            None => Err(Error::Closed {
                server: self.server.clone(),
            }),
        }
    }

    /// One request, one reply.
    pub async fn call(&mut self, o: i64, args: Vec<Arg>) -> Result<Message> {
        self.send(o, args).await?;
        self.recv().await
    }

    fn bad(&self, o: i64, detail: impl Into<String>) -> Error {
        Error::BadReply {
            server: self.server.clone(),
            op: o,
            detail: detail.into(),
        }
    }

    fn retort_at(&self, m: &Message, k: usize) -> Result<i64> {
        m.arg(k)
            .and_then(Arg::as_i64)
            .map(|r| retort_from_wire(r, self.pv))
            .ok_or_else(|| self.bad(m.op, format!("no retort at {k}")))
    }

    fn int_at(&self, m: &Message, k: usize) -> Result<i64> {
        m.arg(k)
            .and_then(Arg::as_i64)
            .ok_or_else(|| self.bad(m.op, format!("no integer at {k}")))
    }

    fn float_at(&self, m: &Message, k: usize) -> f64 {
        m.arg(k).and_then(Arg::as_f64).unwrap_or(-1.0)
    }

    fn protein_at(&self, m: &Message, k: usize) -> Result<Bytes> {
        m.arg(k)
            .and_then(Arg::as_protein)
            .cloned()
            .ok_or_else(|| self.bad(m.op, format!("no protein at {k}")))
    }

    async fn simple(&mut self, o: i64, args: Vec<Arg>) -> Result<Result<i64, Retort>> {
        let m = self.call(o, args).await?;
        let r = self.retort_at(&m, 0)?;
        Ok(if r < 0 { Err(Retort(r)) } else { Ok(r) })
    }

    /// PARTICIPATE (or PARTICIPATE_CREATINGLY with `create`): becomes a hose.
    /// Success carries POOL_CREATED or OB_OK.
    pub async fn participate(
        &mut self,
        pool: &str,
        create: Option<&Slaw>,
    ) -> Result<Result<i64, Retort>> {
        match create {
            None => {
                self.simple(op::PARTICIPATE, vec![Arg::Str(pool.into()), Arg::Nil])
                    .await
            }
            Some(opts) => {
                self.simple(
                    op::PARTICIPATE_CREATINGLY,
                    vec![
                        Arg::Str(pool.into()),
                        Arg::Str("mmap".into()),
                        options_arg(opts),
                        Arg::Nil,
                    ],
                )
                .await
            }
        }
    }

    /// DEPOSIT: index and timestamp.
    pub async fn deposit(&mut self, protein: Bytes) -> Result<Result<(i64, f64), Retort>> {
        let m = self.call(op::DEPOSIT, vec![Arg::Protein(protein)]).await?;
        let r = self.retort_at(&m, 1)?;
        if r < 0 {
            return Ok(Err(Retort(r)));
        }
        Ok(Ok((self.int_at(&m, 0)?, self.float_at(&m, 2))))
    }

    /// NTH_PROTEIN.
    pub async fn nth(&mut self, index: i64) -> Result<Result<Found, Retort>> {
        let m = self.call(op::NTH_PROTEIN, vec![Arg::Int(index)]).await?;
        let r = self.retort_at(&m, 2)?;
        if r < 0 {
            return Ok(Err(Retort(r)));
        }
        Ok(Ok(Found {
            index,
            timestamp: self.float_at(&m, 1),
            protein: self.protein_at(&m, 0)?,
        }))
    }

    async fn positional(&mut self, o: i64, args: Vec<Arg>) -> Result<Result<Found, Retort>> {
        let m = self.call(o, args).await?;
        let r = self.retort_at(&m, 3)?;
        if r < 0 {
            return Ok(Err(Retort(r)));
        }
        Ok(Ok(Found {
            index: self.int_at(&m, 2)?,
            timestamp: self.float_at(&m, 1),
            protein: self.protein_at(&m, 0)?,
        }))
    }

    /// NEXT: the first protein at or after `index`.
    pub async fn next(&mut self, index: i64) -> Result<Result<Found, Retort>> {
        self.positional(op::NEXT, vec![Arg::Int(index)]).await
    }

    /// PREV: the protein before `index`.
    pub async fn prev(&mut self, index: i64) -> Result<Result<Found, Retort>> {
        self.positional(op::PREV, vec![Arg::Int(index)]).await
    }

    /// PROBE_FRWD: first match at or after `index`.
    pub async fn probe_frwd(&mut self, index: i64, pattern: Slaw) -> Result<Result<Found, Retort>> {
        self.positional(op::PROBE_FRWD, vec![Arg::Int(index), Arg::Slaw(pattern)])
            .await
    }

    /// PROBE_BACK: last match before `index`.
    pub async fn probe_back(&mut self, index: i64, pattern: Slaw) -> Result<Result<Found, Retort>> {
        self.positional(op::PROBE_BACK, vec![Arg::Int(index), Arg::Slaw(pattern)])
            .await
    }

    async fn index_op(&mut self, o: i64) -> Result<Result<i64, Retort>> {
        let m = self.call(o, vec![]).await?;
        let r = self.retort_at(&m, 1)?;
        if r < 0 {
            return Ok(Err(Retort(r)));
        }
        Ok(Ok(self.int_at(&m, 0)?))
    }

    /// NEWEST_INDEX.
    pub async fn newest_index(&mut self) -> Result<Result<i64, Retort>> {
        self.index_op(op::NEWEST_INDEX).await
    }

    /// OLDEST_INDEX.
    pub async fn oldest_index(&mut self) -> Result<Result<i64, Retort>> {
        self.index_op(op::OLDEST_INDEX).await
    }

    /// AWAIT_NEXT_SINGLE: the hose's next protein; `None` waits forever.
    pub async fn await_next(&mut self, timeout: Option<f64>) -> Result<Result<Found, Retort>> {
        let t = match (timeout, self.pv >= 2) {
            (None, true) => -1.0,
            (None, false) => 0.0,
            (Some(t), true) => t.max(0.0),
            (Some(t), false) if t <= 0.0 => -1.0,
            (Some(t), false) => t,
        };
        let m = self
            .call(op::AWAIT_NEXT_SINGLE, vec![Arg::Float(t)])
            .await?;
        let r = self.retort_at(&m, 0)?;
        if r < 0 {
            return Ok(Err(Retort(r)));
        }
        Ok(Ok(Found {
            index: self.int_at(&m, 3)?,
            timestamp: self.float_at(&m, 2),
            protein: self.protein_at(&m, 1)?,
        }))
    }

    /// FANCY_ADD_AWAITER: the first protein matching `pattern` at or after
    /// `index`, waiting for it when needed.
    pub async fn fancy_await(
        &mut self,
        index: i64,
        pattern: Slaw,
    ) -> Result<Result<Found, Retort>> {
        let mut m = self
            .call(
                op::FANCY_ADD_AWAITER,
                vec![Arg::Int(index), Arg::Slaw(pattern)],
            )
            .await?;
        loop {
            match m.op {
                op::FANCY_RESULT_1 | op::FANCY_RESULT_2 => {
                    let r = self.retort_at(&m, 0)?;
                    if r < 0 && !(m.op == op::FANCY_RESULT_1 && r == POOL_NO_SUCH_PROTEIN) {
                        return Ok(Err(Retort(r)));
                    }
                }
                op::FANCY_RESULT_3 => {
                    return Ok(Ok(Found {
                        index: self.int_at(&m, 1)?,
                        timestamp: self.float_at(&m, 0),
                        protein: self.protein_at(&m, 2)?,
                    }))
                }
                other => return Err(self.bad(other, "not a fancy result")),
            }
            m = self.recv().await?;
        }
    }

    /// INFO: the pool's info protein.
    pub async fn info(&mut self) -> Result<Result<slaw::Protein, Retort>> {
        let m = self.call(op::INFO, vec![Arg::Int(-1)]).await?;
        let r = self.retort_at(&m, 0)?;
        if r < 0 {
            return Ok(Err(Retort(r)));
        }
        let p = self.protein_at(&m, 1)?;
        slaw::decode_protein(&p)
            .map(Ok)
            .map_err(|e| self.bad(op::INFO, e.to_string()))
    }

    /// SET_HOSE_NAME (no reply).
    pub async fn set_hose_name(&mut self, name: &str, program: &str, pid: i64) -> Result<()> {
        self.send(
            op::SET_HOSE_NAME,
            vec![
                Arg::Str(name.into()),
                Arg::Str(program.into()),
                Arg::Int(pid),
            ],
        )
        .await
    }

    /// CHANGE_OPTIONS.
    pub async fn change_options(&mut self, options: &Slaw) -> Result<Result<i64, Retort>> {
        self.simple(op::CHANGE_OPTIONS, vec![options_arg(options)])
            .await
    }

    /// ADVANCE_OLDEST: erases the proteins older than `index`. Success is
    /// OB_OK, or OB_NOTHING_TO_DO when they were already gone.
    pub async fn advance_oldest(&mut self, index: i64) -> Result<Result<i64, Retort>> {
        self.simple(op::ADVANCE_OLDEST, vec![Arg::Int(index)]).await
    }

    /// INDEX_LOOKUP by absolute time; `mode` 0 closest, 1 at or below, 2 at or above.
    pub async fn index_lookup(&mut self, t: f64, mode: i64) -> Result<Result<i64, Retort>> {
        let m = self
            .call(
                op::INDEX_LOOKUP,
                vec![Arg::Float(t), Arg::Int(-1), Arg::Int(mode)],
            )
            .await?;
        let r = self.retort_at(&m, 1)?;
        if r < 0 {
            return Ok(Err(Retort(r)));
        }
        Ok(Ok(self.int_at(&m, 0)?))
    }

    /// WITHDRAW (the server closes afterwards).
    pub async fn withdraw(mut self) -> Result<Result<i64, Retort>> {
        self.simple(op::WITHDRAW, vec![]).await
    }

    /// LIST (final).
    pub async fn list(mut self) -> Result<Result<Vec<String>, Retort>> {
        let m = self.call(op::LIST, vec![]).await?;
        let r = self.retort_at(&m, 0)?;
        if r < 0 {
            return Ok(Err(Retort(r)));
        }
        let names = match m.arg(1) {
            Some(Arg::Slaw(Slaw::List(items))) => items
                .iter()
                .filter_map(|s| s.as_str().map(str::to_string))
                .collect(),
            Some(Arg::Str(s)) => vec![s.clone()],
            _ => Vec::new(),
        };
        Ok(Ok(names))
    }

    /// CREATE (final).
    pub async fn create(mut self, pool: &str, options: &Slaw) -> Result<Result<i64, Retort>> {
        self.simple(
            op::CREATE,
            vec![
                Arg::Str(pool.into()),
                Arg::Str("mmap".into()),
                options_arg(options),
            ],
        )
        .await
    }

    /// DISPOSE (final).
    pub async fn dispose(mut self, pool: &str) -> Result<Result<i64, Retort>> {
        self.simple(op::DISPOSE, vec![Arg::Str(pool.into())]).await
    }

    /// RENAME (final).
    pub async fn rename(mut self, from: &str, to: &str) -> Result<Result<i64, Retort>> {
        self.simple(op::RENAME, vec![Arg::Str(from.into()), Arg::Str(to.into())])
            .await
    }
}

/// Pool options travel as the ingests of a protein (spec 7.3).
fn options_arg(options: &Slaw) -> Arg {
    let p = slaw::Protein {
        descrips: None,
        ingests: Some(options.clone()),
        rude: Vec::new(),
    };
    Arg::Protein(Bytes::from(slaw::encode_protein(&p)))
}

/// Opens `uri` as a hose: connect, handshake, PARTICIPATE.
pub async fn open(uri: &PoolUri, options: &ClientOptions) -> Result<Result<Client, Retort>> {
    let mut c = Client::connect(uri, options).await?;
    Ok(c.participate(&uri.pool, None).await?.map(|_| c))
}
