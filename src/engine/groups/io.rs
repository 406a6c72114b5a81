//! Tokio side of the groups engine (groups spec sections 3, 4, 10, 14).
//!
//! [`Daemon`]: the embedded single-node daemon on TCP and on the Unix socket
//! `<dir>/<port>` that `spuser -s PORT` and libspread's `"PORT"` form connect
//! to. Each connection runs one task that does the handshake, then reads
//! requests into the shared [`DaemonCore`] and writes what the core queued for
//! it. [`Client`]: a Spread client over `PORT@HOST` (TCP) or `PORT` (Unix).

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use futures::FutureExt;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::{mpsc, watch};
use tokio_util::sync::CancellationToken;

use super::codec::{
    self, decode_hello, Accept, AuthOffer, Frame, FrameCodec, Hello, HelloOutcome, Name, Role,
    DEFAULT_MAX_SESSION_MESSAGES, DEFAULT_SPREAD_PORT,
};
use super::protocol::{self, ClientState, CoreStats, DaemonCore, Limits, Message, Outbox, Verdict};
use super::store::ConnId;
use super::Error;
use crate::net::framing::{self, Connection, FrameError};
use crate::net::server::{self, Options};
use crate::net::shutdown::{CloseReason, Shutdown};
use crate::net::transport::{self, Listener, LocalAddr, Peer, Stream, Target};

/// The version the daemon announces and the client sends (libspread 5.0.1).
pub const VERSION: (u8, u8, u8) = (5, 0, 1);

/// How long a connecting client gets for each handshake step (the reference
/// daemon waits 1 s).
pub const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(1);

/// The directory of the daemon's Unix sockets (`SP_UNIX_SOCKET`: the
/// reference build uses /tmp).
pub fn default_unix_dir() -> PathBuf {
    PathBuf::from("/tmp")
}

// ------------------------------------------------------------------ daemon

/// Configuration of the embedded daemon.
#[derive(Clone, Debug)]
pub struct DaemonConfig {
    /// The daemon's name in private groups (`#priv#<name>`).
    pub name: String,
    /// TCP listen address (`None`: Unix socket only).
    pub tcp: Option<std::net::SocketAddr>,
    /// Directory for the Unix socket named after the port (`None`: TCP only).
    pub unix_dir: Option<PathBuf>,
    /// Port for the Unix socket name when TCP is off or bound to port 0.
    pub unix_port: Option<u16>,
    /// Session and group limits.
    pub limits: Limits,
    /// Queued messages per connection before the daemon drops it.
    pub max_queued: usize,
    /// Timeout of each handshake step.
    pub handshake_timeout: Duration,
}

impl Default for DaemonConfig {
    fn default() -> Self {
        DaemonConfig {
            name: "localhost".into(),
            tcp: Some(std::net::SocketAddr::from((
                [127, 0, 0, 1],
                DEFAULT_SPREAD_PORT,
            ))),
            unix_dir: Some(default_unix_dir()),
            unix_port: None,
            limits: Limits::default(),
            max_queued: DEFAULT_MAX_SESSION_MESSAGES,
            handshake_timeout: HANDSHAKE_TIMEOUT,
        }
    }
}

/// Live figures of the daemon, published about four times a second.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DaemonStats {
    /// Connected sessions.
    pub sessions: usize,
    /// Groups with members.
    pub groups: usize,
    /// Core counters.
    pub core: CoreStats,
    /// Connections dropped for not reading.
    pub slow_kills: u64,
    /// Connections dropped for protocol violations.
    pub protocol_kills: u64,
    /// Handshakes refused.
    pub refused: u64,
}

struct Queue {
    tx: mpsc::Sender<Bytes>,
    kill: CancellationToken,
}

/// Shared daemon state. A std mutex, not a tokio one: the critical sections
/// never await, and holding one lock while a request is applied and its output
/// queued is what makes the delivery order global.
struct State {
    core: DaemonCore,
    queues: HashMap<ConnId, Queue>,
    slow_kills: u64,
    protocol_kills: u64,
    refused: u64,
}

/// Queues output for connections; notes which ones overflowed.
struct Queues<'a> {
    queues: &'a mut HashMap<ConnId, Queue>,
    overflowed: Vec<ConnId>,
}

impl Outbox for Queues<'_> {
    fn deliver(&mut self, conn: ConnId, bytes: Bytes) {
        if let Some(q) = self.queues.get(&conn) {
            if q.tx.try_send(bytes).is_err() {
                self.overflowed.push(conn);
            }
        }
    }
}

impl State {
    /// Runs `f` against the core, then drops every connection whose queue
    /// overflowed (which may overflow others in turn).
    fn apply<R>(&mut self, f: impl FnOnce(&mut DaemonCore, &mut Queues<'_>) -> R) -> R {
        let mut out = Queues {
            queues: &mut self.queues,
            overflowed: Vec::new(),
        };
        let r = f(&mut self.core, &mut out);
        while let Some(conn) = out.overflowed.pop() {
            if let Some(q) = out.queues.remove(&conn) {
                tracing::info!(conn, "killing session for not reading");
                self.slow_kills += 1;
                q.kill.cancel();
                self.core.disconnect(conn, &mut out);
            }
        }
        r
    }

    fn end(&mut self, conn: ConnId) {
        self.apply(|core, out| {
            out.queues.remove(&conn);
            core.disconnect(conn, out);
        });
    }

    fn stats(&self) -> DaemonStats {
        DaemonStats {
            sessions: self.core.session_count(),
            groups: self.core.groups().len(),
            core: self.core.stats().clone(),
            slow_kills: self.slow_kills,
            protocol_kills: self.protocol_kills,
            refused: self.refused,
        }
    }
}

struct Shared {
    state: Mutex<State>,
    next_conn: AtomicU64,
    config: DaemonConfig,
}

impl Shared {
    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        // A panic while holding the lock is a bug already reported; the state
        // is still consistent enough to keep serving the other connections.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// A running embedded daemon.
pub struct Daemon {
    /// Bound TCP address.
    pub tcp_addr: Option<std::net::SocketAddr>,
    /// Bound Unix socket.
    pub unix_path: Option<PathBuf>,
    stats: watch::Receiver<DaemonStats>,
    shared: Arc<Shared>,
}

impl Daemon {
    /// Binds the listeners and spawns the daemon on `shutdown`; returns once
    /// it listens. `time` is the start-up time used in group ids.
    pub async fn start(
        config: DaemonConfig,
        shutdown: &Shutdown,
        time: i32,
    ) -> Result<Daemon, Error> {
        let io = |addr: String| move |source| Error::Io { addr, source };
        let tcp = match config.tcp {
            Some(addr) => Some(
                Listener::bind_tcp(addr)
                    .await
                    .map_err(io(addr.to_string()))?,
            ),
            None => None,
        };
        let tcp_addr = match &tcp {
            Some(l) => match l.local_addr().map_err(io("tcp".into()))? {
                LocalAddr::Tcp(a) => Some(a),
                LocalAddr::Unix(_) => None,
            },
            None => None,
        };
        let port = config
            .unix_port
            .or(tcp_addr.map(|a| a.port()))
            .unwrap_or(DEFAULT_SPREAD_PORT);
        let unix = match &config.unix_dir {
            Some(dir) => {
                let path = dir.join(port.to_string());
                Some((
                    Listener::bind_unix(&path).map_err(io(path.display().to_string()))?,
                    path,
                ))
            }
            None => None,
        };
        // A stable daemon id derived from the port, like the reference's
        // VirtualID derived from its address.
        let proc_id = 0x7f00_0001_i32.wrapping_add(i32::from(port) << 8);
        let core = DaemonCore::new(&config.name, proc_id, time, config.limits.clone())?;
        let shared = Arc::new(Shared {
            state: Mutex::new(State {
                core,
                queues: HashMap::new(),
                slow_kills: 0,
                protocol_kills: 0,
                refused: 0,
            }),
            next_conn: AtomicU64::new(1),
            config,
        });
        // The accept loop's own cap sits above the Spread quota so that
        // clients over the quota get REJECT_QUOTA instead of a bare close.
        let options = Options {
            max_connections: shared.config.limits.max_sessions + 64,
            ..Options::new("groups")
        };
        let mut unix_path = None;
        for listener in [
            tcp,
            unix.map(|(l, p)| {
                unix_path = Some(p);
                l
            }),
        ]
        .into_iter()
        .flatten()
        {
            let s = shared.clone();
            shutdown.spawn(server::serve(
                listener,
                shutdown.clone(),
                options.clone(),
                move |stream, peer, sd| session(s.clone(), stream, peer, sd),
            ));
        }
        let (tx, stats) = watch::channel(DaemonStats::default());
        let s = shared.clone();
        let sd = shutdown.clone();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_millis(250));
            loop {
                tokio::select! {
                    _ = sd.requested() => break,
                    _ = tick.tick() => {
                        let now = s.lock().stats();
                        tx.send_if_modified(|old| if *old != now { *old = now; true } else { false });
                    }
                }
            }
        });
        Ok(Daemon {
            tcp_addr,
            unix_path,
            stats,
            shared,
        })
    }

    /// Live figures.
    pub fn stats(&self) -> watch::Receiver<DaemonStats> {
        self.stats.clone()
    }

    /// Figures right now.
    pub fn stats_now(&self) -> DaemonStats {
        self.shared.lock().stats()
    }

    /// Groups and their members right now.
    pub fn groups_now(&self) -> Vec<(Name, Vec<Name>)> {
        let st = self.shared.lock();
        st.core
            .groups()
            .iter()
            .map(|(n, g)| (n.clone(), g.members.keys().cloned().collect()))
            .collect()
    }

    /// The `PORT@HOST` address clients use for the TCP listener.
    pub fn spread_name(&self) -> Option<String> {
        self.tcp_addr.map(|a| match a.ip() {
            std::net::IpAddr::V6(ip) => format!("{}@{ip}", a.port()),
            std::net::IpAddr::V4(ip) => format!("{}@{ip}", a.port()),
        })
    }
}

async fn write_reject(stream: &mut Stream, code: i32) {
    // Best effort: the client may already be gone.
    let _ = stream.write_all(&[code as i8 as u8]).await;
    let _ = stream.shutdown().await;
}

async fn read_some(
    stream: &mut Stream,
    buf: &mut BytesMut,
    limit: usize,
    timeout: Duration,
) -> Result<(), CloseReason> {
    let mut chunk = [0u8; 128];
    let want = limit.saturating_sub(buf.len()).clamp(1, chunk.len());
    match tokio::time::timeout(timeout, stream.read(&mut chunk[..want])).await {
        Err(_) => Err(CloseReason::Idle),
        Ok(Ok(0)) => Err(CloseReason::PeerClosed),
        Ok(Ok(n)) => {
            buf.extend_from_slice(&chunk[..n]);
            Ok(())
        }
        Ok(Err(e)) => Err(CloseReason::Io(e.to_string())),
    }
}

/// Handshake (section 4.6); returns the hello or why the connection ended.
async fn handshake(shared: &Shared, stream: &mut Stream) -> Result<Hello, CloseReason> {
    let timeout = shared.config.handshake_timeout;
    let mut buf = BytesMut::with_capacity(16);
    // Never read past 5 + L: read at most what the hello can still need.
    let hello = loop {
        let need = match decode_hello(&buf) {
            HelloOutcome::Done(h, _) => break h,
            HelloOutcome::Reject(code) => {
                write_reject(stream, code).await;
                return Err(CloseReason::Protocol(format!(
                    "hello refused with {}",
                    codec::code_name(code)
                )));
            }
            HelloOutcome::Partial => match buf.len() {
                0 | 1 => 2,
                _ => {
                    let at = if codec::sends_patch(buf[0], buf[1]) {
                        3
                    } else {
                        2
                    };
                    match buf.get(at + 1) {
                        Some(len) => at + 2 + usize::from(*len).min(codec::MAX_PRIVATE_NAME),
                        None => at + 2,
                    }
                }
            },
        };
        let limit = need.max(buf.len() + 1);
        read_some(stream, &mut buf, limit, timeout).await?;
    };
    let private = &hello.name;
    if !private.is_empty() {
        let taken = shared.lock().core_has_private(private);
        if taken {
            write_reject(stream, codec::REJECT_NOT_UNIQUE).await;
            return Err(CloseReason::Protocol("private name not unique".into()));
        }
    }
    if codec::version_number(hello.version) >= 31600 {
        let mut offer = BytesMut::new();
        codec::encode_auth_offer(&["NULL"], &mut offer);
        stream
            .write_all(&offer)
            .await
            .map_err(|e| CloseReason::Io(e.to_string()))?;
        let mut choice = BytesMut::with_capacity(codec::AUTH_CHOICE_LEN);
        while choice.len() < codec::AUTH_CHOICE_LEN {
            read_some(stream, &mut choice, codec::AUTH_CHOICE_LEN, timeout).await?;
        }
        let ok = codec::decode_auth_choice(&choice)
            .is_some_and(|m| !m.is_empty() && m.iter().all(|m| &m[..] == b"NULL"));
        if !ok {
            write_reject(stream, codec::REJECT_AUTH).await;
            return Err(CloseReason::Protocol("authentication refused".into()));
        }
    }
    Ok(hello)
}

impl State {
    fn core_has_private(&self, private: &[u8]) -> bool {
        self.core.session_by_private(private).is_some()
    }
}

/// One client connection of the daemon, from accept to close.
async fn session(
    shared: Arc<Shared>,
    mut stream: Stream,
    peer: Peer,
    shutdown: Shutdown,
) -> CloseReason {
    let full = {
        let mut st = shared.lock();
        let full = st.core.is_full();
        if full {
            st.refused += 1;
        }
        full
    };
    if full {
        write_reject(&mut stream, codec::REJECT_QUOTA).await;
        return CloseReason::Limit(format!(
            "{} sessions (REJECT_QUOTA)",
            shared.config.limits.max_sessions
        ));
    }
    // Each step has its own timeout; the whole handshake is bounded too, so a
    // client trickling one byte per step cannot hold a slot for long.
    let overall = shared.config.handshake_timeout * 3;
    let outcome = tokio::time::timeout(overall, handshake(&shared, &mut stream))
        .await
        .unwrap_or(Err(CloseReason::Idle));
    let hello = match outcome {
        Ok(h) => h,
        Err(reason) => {
            shared.lock().refused += 1;
            return reason;
        }
    };
    let conn = shared.next_conn.fetch_add(1, Ordering::Relaxed);
    let (tx, mut rx) = mpsc::channel(shared.config.max_queued.max(1));
    let kill = CancellationToken::new();
    let admitted = {
        let mut st = shared.lock();
        let r = st.core.admit(conn, &hello, rand::random());
        match r {
            Ok(g) => {
                st.queues.insert(
                    conn,
                    Queue {
                        tx,
                        kill: kill.clone(),
                    },
                );
                Ok(g)
            }
            Err(code) => {
                st.refused += 1;
                Err(code)
            }
        }
    };
    let private_group = match admitted {
        Ok(g) => g,
        Err(code) => {
            write_reject(&mut stream, code).await;
            return CloseReason::Protocol(format!("refused with {}", codec::code_name(code)));
        }
    };
    let mut accept = BytesMut::new();
    Accept {
        version: VERSION,
        private_group: private_group.clone(),
    }
    .encode(codec::version_number(hello.version) >= 31500, &mut accept);
    if let Err(e) = stream.write_all(&accept).await {
        shared.lock().end(conn);
        return CloseReason::Io(e.to_string());
    }
    tracing::debug!(%peer, group = %private_group, "session admitted");
    let limits = framing::Limits {
        idle_timeout: None,
        max_buffer_bytes: codec::MAX_MESSAGE_BODY_LEN + codec::HEADER_LEN,
        write_batch_bytes: 64 * 1024,
    };
    let mut conn_io = Connection::new(stream, peer, FrameCodec::new(Role::Daemon), limits);
    let reason = loop {
        tokio::select! {
            biased;
            _ = kill.cancelled() => break CloseReason::Limit(format!("{} messages queued: killed for not reading", shared.config.max_queued)),
            _ = shutdown.requested() => break CloseReason::Shutdown,
            out = rx.recv() => {
                let Some(first) = out else {
                    break CloseReason::Protocol("session ended".into());
                };
                if let Err(e) = write_batch(&mut conn_io, &mut rx, first).await {
                    break e.close_reason();
                }
            }
            frame = conn_io.read_frame() => {
                // Apply every request already readable before writing, so a
                // burst of requests costs one write of their replies rather
                // than one system call each.
                let mut next = Some(frame);
                let mut budget = 256;
                let mut outcome = None;
                while let Some(frame) = next.take() {
                    match on_frame(&shared, conn, frame) {
                        Step::Continue => {}
                        Step::Killed => {
                            // Whatever was queued before the kill still goes out.
                            shared.lock().queues.remove(&conn);
                            while let Ok(b) = rx.try_recv() {
                                if conn_io.feed(b).await.is_err() {
                                    break;
                                }
                            }
                            let _ = conn_io.flush::<Bytes>().await;
                            return CloseReason::PeerClosed;
                        }
                        Step::Close(reason) => {
                            outcome = Some(reason);
                            break;
                        }
                    }
                    budget -= 1;
                    if budget > 0 {
                        next = conn_io.read_frame().now_or_never();
                    }
                }
                if let Some(reason) = outcome {
                    break reason;
                }
            }
        }
    };
    shared.lock().end(conn);
    reason
}

enum Step {
    Continue,
    Killed,
    Close(CloseReason),
}

fn on_frame(shared: &Shared, conn: ConnId, frame: FrameResult) -> Step {
    match frame {
        Ok(Some(frame)) => {
            let verdict = shared
                .lock()
                .apply(|core, out| core.handle(conn, frame, out));
            match verdict {
                Ok(Verdict::Continue) => Step::Continue,
                Ok(Verdict::Killed) => Step::Killed,
                Err(why) => {
                    shared.lock().protocol_kills += 1;
                    Step::Close(CloseReason::Protocol(why))
                }
            }
        }
        Ok(None) => Step::Close(CloseReason::PeerClosed),
        Err(e) => {
            if matches!(
                e,
                FrameError::Codec(_) | FrameError::TooLarge(_) | FrameError::Truncated(_)
            ) {
                shared.lock().protocol_kills += 1;
            }
            Step::Close(e.close_reason())
        }
    }
}

type FrameResult = Result<Option<Frame>, FrameError<Error>>;

async fn write_batch(
    conn: &mut Connection<FrameCodec>,
    rx: &mut mpsc::Receiver<Bytes>,
    first: Bytes,
) -> Result<(), FrameError<Error>> {
    conn.feed(first).await?;
    // Drain what is already queued so one flush carries many messages.
    for _ in 0..256 {
        match rx.try_recv() {
            Ok(b) => conn.feed(b).await?,
            Err(_) => break,
        }
    }
    conn.flush::<Bytes>().await
}

// ------------------------------------------------------------------ client

/// Where a daemon is (section 3).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DaemonAddr {
    /// `PORT@HOST`.
    Tcp {
        /// Host name or address.
        host: String,
        /// Port.
        port: u16,
    },
    /// `PORT`: the Unix socket `<dir>/<port>`.
    Unix(PathBuf),
}

impl DaemonAddr {
    /// Parses `PORT@HOST`, `PORT` (Unix socket in `unix_dir`) or `""` (the
    /// default Unix socket, as libspread does).
    pub fn parse(s: &str, unix_dir: &Path) -> Result<DaemonAddr, Error> {
        let bad = || Error::Address(s.to_string());
        if s.is_empty() {
            return Ok(DaemonAddr::Unix(
                unix_dir.join(DEFAULT_SPREAD_PORT.to_string()),
            ));
        }
        match s.split_once('@') {
            Some((port, host)) => {
                let port: u16 = port.parse().map_err(|_| bad())?;
                let host = host.trim_start_matches('[').trim_end_matches(']');
                if host.is_empty() {
                    return Err(bad());
                }
                Ok(DaemonAddr::Tcp {
                    host: host.to_string(),
                    port,
                })
            }
            None => {
                let port: u16 = s.parse().map_err(|_| bad())?;
                Ok(DaemonAddr::Unix(unix_dir.join(port.to_string())))
            }
        }
    }

    fn target(&self) -> Target {
        match self {
            DaemonAddr::Tcp { host, port } => Target::Tcp {
                host: host.clone(),
                port: *port,
            },
            DaemonAddr::Unix(p) => Target::Unix(p.clone()),
        }
    }
}

impl std::fmt::Display for DaemonAddr {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            DaemonAddr::Tcp { host, port } => write!(f, "{port}@{host}"),
            DaemonAddr::Unix(p) => write!(f, "{}", p.display()),
        }
    }
}

/// Options of [`Client::connect`] (the Python `connect` arguments).
#[derive(Clone, Debug)]
pub struct ConnectOptions {
    /// Private name (≤ 10 characters; empty: the daemon invents one).
    pub name: String,
    /// Priority (only ≥ 1 matters).
    pub priority: u8,
    /// Whether to receive membership messages.
    pub membership: bool,
    /// Connect and handshake timeout.
    pub timeout: Duration,
}

impl Default for ConnectOptions {
    fn default() -> Self {
        ConnectOptions {
            name: String::new(),
            priority: 0,
            membership: true,
            timeout: Duration::from_secs(5),
        }
    }
}

/// Limits of one receive, for callers that mimic `SP_receive`'s fixed buffers.
#[derive(Clone, Copy, Debug)]
pub struct RecvLimits {
    /// Group slots.
    pub max_groups: usize,
    /// Payload bytes.
    pub max_data: usize,
    /// DROP_RECV: cut what does not fit instead of failing.
    pub drop: bool,
}

/// A connected Spread client (mailbox).
pub struct Client {
    conn: Connection<FrameCodec>,
    addr: DaemonAddr,
    private_group: Name,
    daemon_version: (u8, u8, u8),
    pending: Option<Frame>,
    state: ClientState,
    closed: bool,
}

async fn read_more(
    stream: &mut Stream,
    buf: &mut BytesMut,
    addr: &DaemonAddr,
) -> Result<(), Error> {
    let mut chunk = [0u8; 256];
    let n = stream.read(&mut chunk).await.map_err(|source| Error::Io {
        addr: addr.to_string(),
        source,
    })?;
    if n == 0 {
        return Err(Error::Rejected {
            code: codec::CONNECTION_CLOSED,
        });
    }
    buf.extend_from_slice(&chunk[..n]);
    Ok(())
}

impl Client {
    /// Connects and runs the handshake (section 4) with NULL authentication.
    pub async fn connect(addr: &DaemonAddr, opts: &ConnectOptions) -> Result<Client, Error> {
        if opts.name.len() > codec::MAX_PRIVATE_NAME || !opts.name.bytes().all(codec::is_name_byte)
        {
            return Err(Error::Illegal {
                code: codec::REJECT_ILLEGAL_NAME,
                what: format!("private name {:?} (≤ 10 bytes of 0x24..0x7e)", opts.name),
            });
        }
        let fut = Self::connect_inner(addr, opts);
        tokio::time::timeout(opts.timeout, fut)
            .await
            .map_err(|_| Error::Timeout(opts.timeout))?
    }

    async fn connect_inner(addr: &DaemonAddr, opts: &ConnectOptions) -> Result<Client, Error> {
        let (mut stream, peer) = transport::connect(&addr.target(), opts.timeout)
            .await
            .map_err(|source| Error::Io {
                addr: addr.to_string(),
                source,
            })?;
        let io_err = |source| Error::Io {
            addr: addr.to_string(),
            source,
        };
        let mut out = BytesMut::new();
        Hello {
            version: VERSION,
            membership: opts.membership,
            priority: u8::from(opts.priority >= 1),
            name: Bytes::copy_from_slice(opts.name.as_bytes()),
        }
        .encode(&mut out);
        // One write per handshake piece: the reference daemon reads each with
        // a single non-blocking read (section 4.1).
        stream.write_all(&out).await.map_err(io_err)?;
        let mut buf = BytesMut::new();
        let methods = loop {
            if let Some((offer, used)) = codec::decode_auth_offer(&buf)? {
                bytes::Buf::advance(&mut buf, used);
                match offer {
                    AuthOffer::Methods(m) => break m,
                    AuthOffer::Reject(code) => return Err(Error::Rejected { code }),
                }
            }
            read_more(&mut stream, &mut buf, addr).await?;
        };
        if !methods.iter().any(|m| m == "NULL") {
            return Err(Error::Rejected {
                code: codec::REJECT_AUTH,
            });
        }
        out.clear();
        codec::encode_auth_choice(&["NULL"], &mut out);
        stream.write_all(&out).await.map_err(io_err)?;
        let accept = loop {
            if let Some((accept, used)) = codec::decode_accept(&buf)? {
                bytes::Buf::advance(&mut buf, used);
                break accept;
            }
            read_more(&mut stream, &mut buf, addr).await?;
        };
        let conn = Connection::with_read_buffer(
            stream,
            peer,
            FrameCodec::new(Role::Client),
            framing::Limits::default(),
            buf,
        );
        Ok(Client {
            conn,
            addr: addr.clone(),
            private_group: accept.private_group,
            daemon_version: accept.version,
            pending: None,
            state: ClientState::default(),
            closed: false,
        })
    }

    /// Our private group `#name#daemon`.
    pub fn private_group(&self) -> &Name {
        &self.private_group
    }

    /// The daemon's version from the accept.
    pub fn daemon_version(&self) -> (u8, u8, u8) {
        self.daemon_version
    }

    /// The daemon address.
    pub fn addr(&self) -> &DaemonAddr {
        &self.addr
    }

    /// Views of the groups this connection has seen membership for.
    pub fn state(&self) -> &ClientState {
        &self.state
    }

    fn check_open(&self) -> Result<(), Error> {
        if self.closed {
            Err(Error::Closed)
        } else {
            Ok(())
        }
    }

    async fn send(&mut self, frame: Frame) -> Result<(), Error> {
        self.check_open()?;
        self.conn.send(frame).await.map_err(frame_error)
    }

    /// Joins a group.
    pub async fn join(&mut self, group: &str) -> Result<(), Error> {
        let g = protocol::group_name(group)?;
        let f = protocol::join_request(&self.private_group, &g);
        self.send(f).await
    }

    /// Leaves a group.
    pub async fn leave(&mut self, group: &str) -> Result<(), Error> {
        let g = protocol::group_name(group)?;
        let f = protocol::leave_request(&self.private_group, &g);
        self.send(f).await
    }

    /// Multicasts to one or more groups (ordinary or private); returns the
    /// payload length, as `SP_multicast` does.
    pub async fn multicast(
        &mut self,
        service_type: u32,
        groups: &[&str],
        msg_type: i16,
        data: Bytes,
    ) -> Result<usize, Error> {
        let names = groups
            .iter()
            .map(|g| protocol::destination(g))
            .collect::<Result<Vec<_>, _>>()?;
        let len = data.len();
        let f =
            protocol::multicast_request(&self.private_group, service_type, names, msg_type, data)?;
        self.send(f).await?;
        Ok(len)
    }

    /// Queues a multicast without flushing (for bursts); call [`Client::flush`].
    pub async fn multicast_feed(
        &mut self,
        service_type: u32,
        groups: &[Name],
        msg_type: i16,
        data: Bytes,
    ) -> Result<(), Error> {
        self.check_open()?;
        let f = protocol::multicast_request(
            &self.private_group,
            service_type,
            groups.to_vec(),
            msg_type,
            data,
        )?;
        self.conn.feed(f).await.map_err(frame_error)
    }

    /// Queues any request frame (join, leave, …) without flushing; the
    /// frame's sender must be [`Client::private_group`].
    pub async fn feed(&mut self, frame: Frame) -> Result<(), Error> {
        self.check_open()?;
        self.conn.feed(frame).await.map_err(frame_error)
    }

    /// Flushes queued requests.
    pub async fn flush(&mut self) -> Result<(), Error> {
        self.conn.flush::<Frame>().await.map_err(frame_error)
    }

    async fn next_frame(&mut self) -> Result<Frame, Error> {
        self.check_open()?;
        if let Some(f) = self.pending.take() {
            return Ok(f);
        }
        match self.conn.read_frame().await {
            Ok(Some(f)) => Ok(f),
            Ok(None) => {
                self.closed = true;
                Err(Error::Closed)
            }
            Err(e) => {
                self.closed = true;
                Err(frame_error(e))
            }
        }
    }

    /// Receives the next message (blocks until one arrives).
    pub async fn receive(&mut self) -> Result<Message, Error> {
        let f = self.next_frame().await?;
        let m = protocol::classify(f)?;
        self.state.apply(&m);
        Ok(m)
    }

    /// Receives with a deadline; `Ok(None)` when nothing arrived in time. The
    /// stream stays in sync: a frame half-read at the deadline is kept.
    pub async fn receive_timeout(&mut self, timeout: Duration) -> Result<Option<Message>, Error> {
        match tokio::time::timeout(timeout, self.next_frame()).await {
            Err(_) => Ok(None),
            Ok(f) => {
                let m = protocol::classify(f?)?;
                self.state.apply(&m);
                Ok(Some(m))
            }
        }
    }

    /// Receives within caller limits (section 7). When the next message does
    /// not fit and `drop` is off, it stays queued and the error says how much
    /// is needed (GROUPS_TOO_SHORT first); with `drop`, what does not fit is
    /// cut and the message returned with the flag `truncated`.
    pub async fn receive_limited(&mut self, limits: RecvLimits) -> Result<(Message, bool), Error> {
        let mut f = self.next_frame().await?;
        let groups_short = f.groups.len() > limits.max_groups;
        let data_short = f.data.len() > limits.max_data;
        if !limits.drop && (groups_short || data_short) {
            let err = if groups_short {
                Error::TooShort {
                    code: codec::GROUPS_TOO_SHORT,
                    needed: f.groups.len(),
                }
            } else {
                Error::TooShort {
                    code: codec::BUFFER_TOO_SHORT,
                    needed: f.data.len(),
                }
            };
            self.pending = Some(f);
            return Err(err);
        }
        let is_regular = protocol::is_regular(f.header.ty) || protocol::is_reject(f.header.ty);
        if is_regular {
            f.groups.truncate(limits.max_groups);
            f.data.truncate(limits.max_data);
        }
        let m = protocol::classify(f)?;
        self.state.apply(&m);
        Ok((m, data_short))
    }

    /// Bytes of the next message available without blocking (0: nothing yet,
    /// or the daemon closed the connection, as `SP_poll` reports it).
    pub fn poll(&mut self) -> usize {
        if self.closed {
            return 0;
        }
        if self.pending.is_none() {
            match self.conn.read_frame().now_or_never() {
                Some(Ok(Some(f))) => self.pending = Some(f),
                Some(Ok(None)) | Some(Err(_)) => {
                    self.closed = true;
                    return 0;
                }
                None => {}
            }
        }
        match &self.pending {
            Some(f) => f.encoded_len(),
            None => self.conn.read_buffer().len(),
        }
    }

    /// Sends KILL and closes (`SP_disconnect`); further use is an error.
    pub async fn disconnect(&mut self) -> Result<(), Error> {
        self.check_open()?;
        let f = protocol::kill_request(&self.private_group);
        let r = self.conn.send(f).await.map_err(frame_error);
        self.closed = true;
        r
    }

    /// The messages of this client as a stream (ends after an error or close).
    pub fn into_stream(self) -> impl futures::Stream<Item = Result<Message, Error>> {
        futures::stream::unfold(Some(self), |client| async move {
            let mut client = client?;
            match client.receive().await {
                Ok(m) => Some((Ok(m), Some(client))),
                Err(e) => Some((Err(e), None)),
            }
        })
    }
}

fn frame_error(e: FrameError<Error>) -> Error {
    match e {
        FrameError::Codec(e) => e,
        FrameError::Io(e) => Error::Transport(e),
        FrameError::Idle(d) => Error::Timeout(d),
        FrameError::TooLarge(n) => Error::Malformed(format!("frame larger than {n} bytes")),
        FrameError::Truncated(n) => {
            Error::Malformed(format!("daemon closed mid-message with {n} bytes unread"))
        }
    }
}
