//! The tokio side of AMP (spec sections 4.1-4.5): one task per connection that
//! reads boxes, dispatches answers to waiting calls and requests to a
//! [`Responder`], writes batched boxes, enforces per-call timeouts and runs
//! StartTLS. Client and server are the same peer: either side may call the
//! other on one connection, with any number of calls outstanding.

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use futures::stream::FuturesUnordered;
use futures::{FutureExt, StreamExt};
use tokio::sync::{mpsc, oneshot};

use super::catalog::Command;
use super::codec::{AmpBox, BoxCodec, CodecError, DEFAULT_MAX_BOX_BYTES};
use super::protocol::{self, Incoming, Outcome, Peer, Request, STARTTLS, TLS_ERROR};
use super::types::{self, Record};
use super::Error;
use crate::net::framing::{Connection, FrameError, Limits};
use crate::net::server;
use crate::net::shutdown::{CloseReason, Shutdown};
use crate::net::transport::{self, Listener, Stream, Target};

/// How long a closing connection keeps answering requests already in hand.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(2);

/// A boxed future, as responders return.
pub type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send + 'static>>;

/// Answers requests from the peer. `caller` calls back the peer on the same
/// connection (spec section 4.4).
pub trait Responder: Send + Sync + 'static {
    /// Decides the outcome of one request.
    fn respond(&self, caller: Client, request: Request) -> BoxFuture<Outcome>;
}

/// A responder that knows no commands: every request is `UNHANDLED`.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoCommands;

impl Responder for NoCommands {
    fn respond(&self, _caller: Client, _request: Request) -> BoxFuture<Outcome> {
        Box::pin(async { Outcome::Unhandled })
    }
}

/// The result of a call that reached the peer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reply {
    /// `_answer` with the response fields.
    Answer(AmpBox),
    /// `_error`: the remote side reported a failure.
    Remote {
        /// `_error_code` (`UNHANDLED`, `UNKNOWN`, an application code).
        code: String,
        /// `_error_description`.
        description: String,
    },
}

/// Connection settings shared by clients and servers.
#[derive(Clone)]
pub struct Options {
    /// Default per-call timeout (`None`: wait as long as the connection lives).
    pub call_timeout: Option<Duration>,
    /// Largest box accepted from the peer.
    pub max_box_bytes: usize,
    /// Requests answered concurrently on one connection; reading pauses above.
    pub max_concurrent_requests: usize,
    /// Framing limits (idle timeout, write batching).
    pub limits: Limits,
    /// Server certificate for answering the peer's StartTLS.
    pub tls_server: Option<Arc<rustls::ServerConfig>>,
    /// Client config and server name for calling StartTLS.
    pub tls_client: Option<(Arc<rustls::ClientConfig>, String)>,
    /// Connect timeout for clients.
    pub connect_timeout: Duration,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            call_timeout: None,
            max_box_bytes: DEFAULT_MAX_BOX_BYTES,
            max_concurrent_requests: 1024,
            limits: Limits {
                max_buffer_bytes: DEFAULT_MAX_BOX_BYTES + 64 * 1024,
                ..Limits::default()
            },
            tls_server: None,
            tls_client: None,
            connect_timeout: Duration::from_secs(10),
        }
    }
}

/// Counters of one connection or server, read by the console.
#[derive(Debug, Default)]
pub struct Counters {
    /// Calls sent by us.
    pub calls: AtomicU64,
    /// `_answer`s received.
    pub answers: AtomicU64,
    /// `_error`s received.
    pub remote_errors: AtomicU64,
    /// Calls that timed out locally.
    pub timeouts: AtomicU64,
    /// Requests received from the peer.
    pub requests: AtomicU64,
    /// Requests we answered with an error or could not parse.
    pub requests_failed: AtomicU64,
    /// Connections closed for a protocol violation.
    pub violations: AtomicU64,
    /// Bytes written (box sizes).
    pub bytes_out: AtomicU64,
    /// Bytes read (box sizes).
    pub bytes_in: AtomicU64,
}

/// Options of one call.
#[derive(Debug, Clone, Copy, Default)]
pub struct CallOptions {
    /// Overrides the connection's default timeout.
    pub timeout: Option<Duration>,
}

/// Identifies a call for [`Client::abandon`].
pub type CallId = u64;

enum Cmd {
    Call {
        id: CallId,
        command: String,
        args: AmpBox,
        requires_answer: bool,
        timeout: Option<Duration>,
        reply: oneshot::Sender<Result<Reply, Error>>,
    },
    Abandon(CallId),
    StartTls(oneshot::Sender<Result<(), Error>>),
    Close,
}

struct Waiter {
    id: CallId,
    timeout: Option<Duration>,
    reply: oneshot::Sender<Result<Reply, Error>>,
    starttls: Option<oneshot::Sender<Result<(), Error>>>,
}

/// A cheap, cloneable sender of calls on one connection.
#[derive(Clone)]
pub struct Client {
    tx: mpsc::Sender<Cmd>,
    next_id: Arc<AtomicU64>,
    peer: Arc<str>,
    counters: Arc<Counters>,
}

/// A call in flight; await it for the reply.
pub struct PendingCall {
    /// Its id, for [`Client::abandon`].
    pub id: CallId,
    rx: oneshot::Receiver<Result<Reply, Error>>,
    peer: Arc<str>,
}

impl Future for PendingCall {
    type Output = Result<Reply, Error>;

    fn poll(
        mut self: Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Self::Output> {
        Pin::new(&mut self.rx).poll(cx).map(|r| {
            r.unwrap_or_else(|_| {
                Err(Error::Closed {
                    peer: self.peer.to_string(),
                    reason: "connection task ended".into(),
                })
            })
        })
    }
}

/// Result of a typed call: decoded fields, or the remote error.
#[derive(Debug, Clone, PartialEq)]
pub enum TypedReply {
    /// Decoded response fields.
    Answer(Record),
    /// Remote error code and description.
    Remote {
        /// Code.
        code: String,
        /// Description.
        description: String,
    },
}

impl Client {
    fn closed(&self) -> Error {
        Error::Closed {
            peer: self.peer.to_string(),
            reason: "connection closed".into(),
        }
    }

    /// Who the client talks to.
    pub fn peer(&self) -> &str {
        &self.peer
    }

    /// The connection's counters.
    pub fn counters(&self) -> &Arc<Counters> {
        &self.counters
    }

    /// Whether the connection is gone.
    pub fn is_closed(&self) -> bool {
        self.tx.is_closed()
    }

    /// Queues a call and returns at once with a [`PendingCall`]. `args` must
    /// not contain reserved keys; `requires_answer = false` sends no `_ask`
    /// and the pending call completes with an empty answer once queued.
    pub async fn start_call(
        &self,
        command: &str,
        args: AmpBox,
        requires_answer: bool,
        opts: CallOptions,
    ) -> Result<PendingCall, Error> {
        // Refuse oversized boxes here so a bad call never reaches the wire.
        let mut probe = args.clone();
        probe.insert(
            Bytes::from_static(protocol::COMMAND),
            Bytes::copy_from_slice(command.as_bytes()),
        );
        probe.check()?;
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let (reply, rx) = oneshot::channel();
        self.tx
            .send(Cmd::Call {
                id,
                command: command.to_string(),
                args,
                requires_answer,
                timeout: opts.timeout,
                reply,
            })
            .await
            .map_err(|_| self.closed())?;
        Ok(PendingCall {
            id,
            rx,
            peer: self.peer.clone(),
        })
    }

    /// Calls `command` and waits for the reply.
    pub async fn call(&self, command: &str, args: AmpBox) -> Result<Reply, Error> {
        self.start_call(command, args, true, CallOptions::default())
            .await?
            .await
    }

    /// Calls with explicit options.
    pub async fn call_with(
        &self,
        command: &str,
        args: AmpBox,
        opts: CallOptions,
    ) -> Result<Reply, Error> {
        self.start_call(command, args, true, opts).await?.await
    }

    /// Sends a request without `_ask` (`requiresAnswer = False`); returns once
    /// it is queued on the connection's write buffer.
    pub async fn send(&self, command: &str, args: AmpBox) -> Result<(), Error> {
        self.start_call(command, args, false, CallOptions::default())
            .await?
            .await
            .map(|_| ())
    }

    /// Calls a schema command with typed arguments and decodes the answer.
    pub async fn call_typed(
        &self,
        command: &Command,
        args: &Record,
        opts: CallOptions,
    ) -> Result<TypedReply, Error> {
        let value_err = |source| Error::Value {
            command: command.name.clone(),
            source,
        };
        let b = types::encode_fields(&command.arguments, args).map_err(value_err)?;
        let reply = self
            .start_call(&command.name, b, command.requires_answer, opts)
            .await?
            .await?;
        match reply {
            Reply::Answer(fields) => Ok(TypedReply::Answer(
                types::decode_fields(&command.response, &fields).map_err(value_err)?,
            )),
            Reply::Remote { code, description } => Ok(TypedReply::Remote { code, description }),
        }
    }

    /// Stops waiting for call `id`; it completes with [`Error::Abandoned`] and
    /// a late answer is dropped without disturbing the connection.
    pub async fn abandon(&self, id: CallId) {
        let _ = self.tx.send(Cmd::Abandon(id)).await;
    }

    /// Runs Twisted's in-band StartTLS: further calls wait until the answer
    /// arrives, then the connection continues inside TLS. Needs
    /// [`Options::tls_client`].
    pub async fn start_tls(&self) -> Result<(), Error> {
        let (tx, rx) = oneshot::channel();
        self.tx
            .send(Cmd::StartTls(tx))
            .await
            .map_err(|_| self.closed())?;
        rx.await.map_err(|_| self.closed())?
    }

    /// Closes the connection after writing what is queued.
    pub async fn close(&self) {
        let _ = self.tx.send(Cmd::Close).await;
    }
}

/// Connects to `target` (TCP `host:port` or `unix:/path`), optionally TLS from
/// the start, and runs the connection on its own task.
pub async fn connect(
    target: &Target,
    tls: Option<(Arc<rustls::ClientConfig>, String)>,
    responder: Arc<dyn Responder>,
    opts: Options,
) -> Result<Client, Error> {
    let io_err = |source| Error::Io {
        target: target.to_string(),
        source,
    };
    let (stream, peer) = transport::connect(target, opts.connect_timeout)
        .await
        .map_err(io_err)?;
    let (stream, tls_done) = match tls {
        Some((config, name)) => (
            crate::net::tls::connect(stream, &name, config)
                .await
                .map_err(|e| Error::Tls {
                    peer: target.to_string(),
                    reason: e.to_string(),
                })?,
            true,
        ),
        None => (stream, false),
    };
    let (client, fut) = spawn_parts(stream, peer, responder, opts, None, tls_done, true);
    tokio::spawn(fut);
    Ok(client)
}

/// Runs one accepted connection until it closes; the server side of
/// [`serve`]. Returns the close reason for the log line.
pub async fn run_accepted(
    stream: Stream,
    peer: transport::Peer,
    responder: Arc<dyn Responder>,
    opts: Options,
    shutdown: Shutdown,
    counters: Arc<Counters>,
) -> CloseReason {
    let tls_done = false;
    let (_client, fut) = spawn_parts_with(
        stream,
        peer,
        responder,
        opts,
        Some(shutdown),
        tls_done,
        false,
        counters,
    );
    fut.await
}

/// Serves AMP on `listener` until `shutdown`, using the shared accept loop.
pub async fn serve(
    listener: Listener,
    shutdown: Shutdown,
    server_opts: server::Options,
    responder: Arc<dyn Responder>,
    opts: Options,
    counters: Arc<Counters>,
) {
    server::serve(listener, shutdown, server_opts, move |stream, peer, sd| {
        run_accepted(
            stream,
            peer,
            responder.clone(),
            opts.clone(),
            sd,
            counters.clone(),
        )
    })
    .await
}

/// Wraps an already connected stream (tests, in-memory pairs) as a peer; the
/// returned future drives it and must be spawned.
pub fn spawn_parts(
    stream: Stream,
    peer: transport::Peer,
    responder: Arc<dyn Responder>,
    opts: Options,
    shutdown: Option<Shutdown>,
    tls_done: bool,
    client_owned: bool,
) -> (Client, BoxFuture<CloseReason>) {
    spawn_parts_with(
        stream,
        peer,
        responder,
        opts,
        shutdown,
        tls_done,
        client_owned,
        Arc::new(Counters::default()),
    )
}

#[allow(clippy::too_many_arguments)]
fn spawn_parts_with(
    stream: Stream,
    peer: transport::Peer,
    responder: Arc<dyn Responder>,
    opts: Options,
    shutdown: Option<Shutdown>,
    tls_done: bool,
    client_owned: bool,
    counters: Arc<Counters>,
) -> (Client, BoxFuture<CloseReason>) {
    let (tx, rx) = mpsc::channel(1024);
    let peer_name: Arc<str> = Arc::from(peer.to_string());
    let client = Client {
        tx,
        next_id: Arc::new(AtomicU64::new(1)),
        peer: peer_name,
        counters,
    };
    let conn = Connection::new(
        stream,
        peer,
        BoxCodec::new(opts.max_box_bytes),
        opts.limits.clone(),
    );
    let task = Task {
        conn: Some(conn),
        rx,
        // A server connection keeps its own sender so callbacks from
        // responders always work; a client connection ends when the last
        // user-held `Client` is dropped.
        own: if client_owned {
            None
        } else {
            Some(client.clone())
        },
        weak: client.tx.downgrade(),
        template: client.clone(),
        responder,
        opts,
        shutdown,
        peer: Peer::new(),
        tls_done,
        starttls_tag: None,
        epoch: Instant::now(),
    };
    (client, Box::pin(task.run()))
}

type Done = (Request, Outcome);

struct Task {
    conn: Option<Connection<BoxCodec>>,
    rx: mpsc::Receiver<Cmd>,
    own: Option<Client>,
    weak: mpsc::WeakSender<Cmd>,
    template: Client,
    responder: Arc<dyn Responder>,
    opts: Options,
    shutdown: Option<Shutdown>,
    peer: Peer<Waiter>,
    tls_done: bool,
    starttls_tag: Option<Bytes>,
    /// Origin of the protocol layer's clock.
    epoch: Instant,
}

enum Step {
    Continue,
    Close(CloseReason),
}

async fn wait_shutdown(s: &Option<Shutdown>) {
    match s {
        Some(s) => s.requested().await,
        None => std::future::pending().await,
    }
}

async fn wait_until(deadline: Option<Instant>) {
    match deadline {
        Some(d) => tokio::time::sleep_until(d.into()).await,
        None => std::future::pending().await,
    }
}

impl Task {
    fn peer_name(&self) -> String {
        self.template.peer.to_string()
    }

    async fn run(mut self) -> CloseReason {
        let mut responders: FuturesUnordered<BoxFuture<Done>> = FuturesUnordered::new();
        let reason = loop {
            let Some(conn) = self.conn.as_mut() else {
                break CloseReason::Io("connection lost during tls upgrade".into());
            };
            let can_read = responders.len() < self.opts.max_concurrent_requests;
            let can_cmd = self.starttls_tag.is_none();
            let deadline = self.peer.next_deadline().map(|d| self.epoch + d);
            let step = tokio::select! {
                _ = wait_shutdown(&self.shutdown) => Step::Close(CloseReason::Shutdown),
                frame = conn.read_frame(), if can_read => match frame {
                    Ok(Some(b)) => self.on_box(b, &mut responders).await,
                    Ok(None) => Step::Close(CloseReason::PeerClosed),
                    Err(e) => Step::Close(frame_reason(&e)),
                },
                done = responders.next(), if !responders.is_empty() => match done {
                    Some((req, outcome)) => self.on_outcome(req, outcome).await,
                    None => Step::Continue,
                },
                cmd = self.rx.recv(), if can_cmd => match cmd {
                    Some(cmd) => self.on_cmd(cmd).await,
                    None => Step::Close(CloseReason::Shutdown),
                },
                _ = wait_until(deadline) => {
                    self.expire();
                    Step::Continue
                }
            };
            let step = match step {
                Step::Continue => self.drain_ready(&mut responders).await,
                s => s,
            };
            if let Step::Close(reason) = step {
                break reason;
            }
            if let Err(reason) = self.flush().await {
                break reason;
            }
        };
        if reason == CloseReason::Shutdown {
            // Drain: answer the requests already in hand (bounded), read no more.
            let grace = tokio::time::Instant::now() + SHUTDOWN_GRACE;
            while !responders.is_empty() {
                match tokio::time::timeout_at(grace, responders.next()).await {
                    Ok(Some((req, outcome))) => {
                        if let Step::Close(_) = self.on_outcome(req, outcome).await {
                            break;
                        }
                    }
                    _ => break,
                }
            }
        }
        let _ = self.flush().await;
        if reason == CloseReason::Shutdown {
            // Let the peer see a clean close before the socket drops.
            if let Some(conn) = self.conn.take() {
                let (mut stream, _, _) = conn.into_parts();
                let _ = tokio::io::AsyncWriteExt::shutdown(&mut stream).await;
            }
        }
        let peer = self.peer_name();
        for p in self.peer.fail_all() {
            let _ = p.waiter.reply.send(Err(Error::Closed {
                peer: peer.clone(),
                reason: reason.to_string(),
            }));
        }
        // Calls still queued (e.g. behind a StartTLS) fail with the same reason.
        self.rx.close();
        while let Ok(cmd) = self.rx.try_recv() {
            match cmd {
                Cmd::Call { reply, .. } => {
                    let _ = reply.send(Err(Error::Closed {
                        peer: peer.clone(),
                        reason: reason.to_string(),
                    }));
                }
                Cmd::StartTls(done) => {
                    let _ = done.send(Err(Error::Closed {
                        peer: peer.clone(),
                        reason: reason.to_string(),
                    }));
                }
                Cmd::Abandon(_) | Cmd::Close => {}
            }
        }
        drop(self.own.take());
        reason
    }

    /// Handles everything already available without waiting: queued
    /// commands, finished responders and boxes already received, so that
    /// pipelined traffic shares one flush (one write) per batch. Bounded so
    /// a busy peer cannot starve the other branches.
    async fn drain_ready(&mut self, responders: &mut FuturesUnordered<BoxFuture<Done>>) -> Step {
        for _ in 0..512 {
            let mut progress = false;
            if self.starttls_tag.is_none() {
                if let Ok(cmd) = self.rx.try_recv() {
                    progress = true;
                    if let Step::Close(r) = self.on_cmd(cmd).await {
                        return Step::Close(r);
                    }
                }
            }
            if !responders.is_empty() {
                if let Some(Some((req, outcome))) = responders.next().now_or_never() {
                    progress = true;
                    if let Step::Close(r) = self.on_outcome(req, outcome).await {
                        return Step::Close(r);
                    }
                }
            }
            if responders.len() < self.opts.max_concurrent_requests {
                // `Framed` keeps partial input across polls, so a read that is
                // not ready can be dropped safely.
                let ready = match self.conn.as_mut() {
                    Some(conn) => conn.read_frame().now_or_never(),
                    None => None,
                };
                match ready {
                    Some(Ok(Some(b))) => {
                        progress = true;
                        if let Step::Close(r) = self.on_box(b, responders).await {
                            return Step::Close(r);
                        }
                    }
                    Some(Ok(None)) => return Step::Close(CloseReason::PeerClosed),
                    Some(Err(e)) => return Step::Close(frame_reason(&e)),
                    None => {}
                }
            }
            if !progress {
                break;
            }
        }
        Step::Continue
    }

    async fn flush(&mut self) -> Result<(), CloseReason> {
        if let Some(conn) = self.conn.as_mut() {
            conn.flush::<AmpBox>().await.map_err(|e| frame_reason(&e))?;
        }
        Ok(())
    }

    async fn write(&mut self, b: AmpBox) -> Result<(), CloseReason> {
        let len = b.encoded_len() as u64;
        let Some(conn) = self.conn.as_mut() else {
            return Err(CloseReason::Io("no connection".into()));
        };
        conn.feed(b).await.map_err(|e| frame_reason(&e))?;
        self.template
            .counters
            .bytes_out
            .fetch_add(len, Ordering::Relaxed);
        Ok(())
    }

    fn expire(&mut self) {
        for (_, p) in self.peer.expire(self.epoch.elapsed()) {
            self.template
                .counters
                .timeouts
                .fetch_add(1, Ordering::Relaxed);
            let _ = p.waiter.reply.send(Err(Error::Timeout {
                command: p.command,
                after: p.waiter.timeout.unwrap_or_default(),
            }));
        }
    }

    async fn on_cmd(&mut self, cmd: Cmd) -> Step {
        match cmd {
            Cmd::Call {
                id,
                command,
                args,
                requires_answer,
                timeout,
                reply,
            } => {
                let now = self.epoch.elapsed();
                let timeout = timeout.or(self.opts.call_timeout);
                let waiter = Waiter {
                    id,
                    timeout,
                    reply,
                    starttls: None,
                };
                let (b, tag) = self.peer.call(
                    &command,
                    args,
                    requires_answer,
                    now,
                    timeout.map(|t| now + t),
                    waiter,
                );
                self.template.counters.calls.fetch_add(1, Ordering::Relaxed);
                let written = self.write(b).await;
                if let Err(waiter) = tag {
                    // Nothing will answer: the call is done once queued.
                    let _ = waiter.reply.send(Ok(Reply::Answer(AmpBox::new())));
                }
                match written {
                    Ok(()) => Step::Continue,
                    Err(r) => Step::Close(r),
                }
            }
            Cmd::Abandon(id) => {
                if let Some(tag) = self.peer.find(|w| w.id == id) {
                    if let Some(p) = self.peer.abandon(&tag) {
                        let _ = p.waiter.reply.send(Err(Error::Abandoned(p.command)));
                    }
                }
                Step::Continue
            }
            Cmd::StartTls(done) => {
                if self.tls_done {
                    let _ = done.send(Err(Error::Tls {
                        peer: self.peer_name(),
                        reason: "TLS is already running on this connection (OnlyOneTLS)".into(),
                    }));
                    return Step::Continue;
                }
                if self.opts.tls_client.is_none() {
                    let _ = done.send(Err(Error::Tls {
                        peer: self.peer_name(),
                        reason: "no client TLS configuration".into(),
                    }));
                    return Step::Continue;
                }
                let (reply, _rx) = oneshot::channel();
                let waiter = Waiter {
                    id: 0,
                    timeout: None,
                    reply,
                    starttls: Some(done),
                };
                let (b, tag) = self.peer.call(
                    STARTTLS,
                    AmpBox::new(),
                    true,
                    self.epoch.elapsed(),
                    None,
                    waiter,
                );
                self.starttls_tag = tag.ok();
                match self.write(b).await {
                    Ok(()) => Step::Continue,
                    Err(r) => Step::Close(r),
                }
            }
            Cmd::Close => Step::Close(CloseReason::Shutdown),
        }
    }

    async fn on_box(
        &mut self,
        b: AmpBox,
        responders: &mut FuturesUnordered<BoxFuture<Done>>,
    ) -> Step {
        let counters = self.template.counters.clone();
        counters
            .bytes_in
            .fetch_add(b.encoded_len() as u64, Ordering::Relaxed);
        match self.peer.receive(b) {
            Err(v) => {
                counters.violations.fetch_add(1, Ordering::Relaxed);
                Step::Close(CloseReason::Protocol(v.to_string()))
            }
            Ok(Incoming::Late) => Step::Continue,
            Ok(Incoming::Answer { pending, fields }) => {
                counters.answers.fetch_add(1, Ordering::Relaxed);
                if let Some(done) = pending.waiter.starttls {
                    return self.upgrade_client(done).await;
                }
                let _ = pending.waiter.reply.send(Ok(Reply::Answer(fields)));
                Step::Continue
            }
            Ok(Incoming::Error {
                pending,
                code,
                description,
            }) => {
                counters.remote_errors.fetch_add(1, Ordering::Relaxed);
                if let Some(done) = pending.waiter.starttls {
                    self.starttls_tag = None;
                    let _ = done.send(Err(Error::Tls {
                        peer: self.peer_name(),
                        reason: format!("StartTLS refused: {code}: {description}"),
                    }));
                    return Step::Continue;
                }
                let _ = pending
                    .waiter
                    .reply
                    .send(Ok(Reply::Remote { code, description }));
                Step::Continue
            }
            Ok(Incoming::Request(req)) => {
                counters.requests.fetch_add(1, Ordering::Relaxed);
                if req.command.as_ref() == STARTTLS.as_bytes() {
                    return self.upgrade_server(req).await;
                }
                let caller = match self.weak.upgrade() {
                    Some(tx) => Client {
                        tx,
                        ..self.template.clone()
                    },
                    None => self.template.clone(),
                };
                let responder = self.responder.clone();
                responders.push(Box::pin(async move {
                    let outcome = responder.respond(caller, req.clone()).await;
                    (req, outcome)
                }));
                Step::Continue
            }
        }
    }

    async fn on_outcome(&mut self, req: Request, outcome: Outcome) -> Step {
        if !matches!(outcome, Outcome::Answer(_)) {
            self.template
                .counters
                .requests_failed
                .fetch_add(1, Ordering::Relaxed);
        }
        let mut reply = req.reply(outcome);
        if let Some(b) = &reply.send {
            if let Err(e) = b.check() {
                // An answer that cannot be framed is an undeclared failure.
                tracing::warn!(peer = %self.peer_name(), command = %req.command_text(), error = %e, "answer too large");
                reply = req.reply(Outcome::Unknown);
            }
        }
        if let Some(b) = reply.send {
            if let Err(r) = self.write(b).await {
                return Step::Close(r);
            }
        }
        if reply.close {
            let why = format!(
                "request {:?} failed; closing as Twisted does",
                req.command_text()
            );
            return Step::Close(CloseReason::Protocol(why));
        }
        Step::Continue
    }

    async fn upgrade_client(&mut self, done: oneshot::Sender<Result<(), Error>>) -> Step {
        self.starttls_tag = None;
        let Some((config, name)) = self.opts.tls_client.clone() else {
            let _ = done.send(Err(Error::Tls {
                peer: self.peer_name(),
                reason: "no client TLS configuration".into(),
            }));
            return Step::Close(CloseReason::Protocol("StartTLS without config".into()));
        };
        if let Err(r) = self.flush().await {
            let _ = done.send(Err(Error::Tls {
                peer: self.peer_name(),
                reason: r.to_string(),
            }));
            return Step::Close(r);
        }
        let Some(conn) = self.conn.take() else {
            return Step::Close(CloseReason::Io("no connection".into()));
        };
        let (stream, buffered, peer) = conn.into_parts();
        match crate::net::tls::connect(stream, &name, config).await {
            Ok(tls) => {
                self.conn = Some(Connection::with_read_buffer(
                    tls,
                    peer,
                    BoxCodec::new(self.opts.max_box_bytes),
                    self.opts.limits.clone(),
                    buffered,
                ));
                self.tls_done = true;
                let _ = done.send(Ok(()));
                Step::Continue
            }
            Err(e) => {
                let reason = format!("tls handshake: {e}");
                let _ = done.send(Err(Error::Tls {
                    peer: self.peer_name(),
                    reason: reason.clone(),
                }));
                Step::Close(CloseReason::Protocol(reason))
            }
        }
    }

    async fn upgrade_server(&mut self, req: Request) -> Step {
        let config = match (&self.opts.tls_server, self.tls_done) {
            (Some(c), false) => c.clone(),
            _ => {
                let outcome = Outcome::Error {
                    code: TLS_ERROR.into(),
                    description: "TLS not available".into(),
                    fatal: false,
                };
                return self.on_outcome(req, outcome).await;
            }
        };
        let reply = req.reply(Outcome::Answer(AmpBox::new()));
        if let Some(b) = reply.send {
            if let Err(r) = self.write(b).await {
                return Step::Close(r);
            }
        }
        if let Err(r) = self.flush().await {
            return Step::Close(r);
        }
        let Some(conn) = self.conn.take() else {
            return Step::Close(CloseReason::Io("no connection".into()));
        };
        let (stream, buffered, peer) = conn.into_parts();
        if !buffered.is_empty() {
            // Bytes after StartTLS but before the handshake cannot be TLS
            // records we have consumed; refuse rather than guess.
            return Step::Close(CloseReason::Protocol(
                "data after StartTLS before the TLS handshake".into(),
            ));
        }
        match crate::net::tls::accept(stream, config).await {
            Ok(tls) => {
                self.conn = Some(Connection::new(
                    tls,
                    peer,
                    BoxCodec::new(self.opts.max_box_bytes),
                    self.opts.limits.clone(),
                ));
                self.tls_done = true;
                Step::Continue
            }
            Err(e) => Step::Close(CloseReason::Protocol(format!("tls handshake: {e}"))),
        }
    }
}

fn frame_reason(e: &FrameError<CodecError>) -> CloseReason {
    match e {
        FrameError::Codec(CodecError::Io(s)) => CloseReason::Io(s.clone()),
        other => other.close_reason(),
    }
}
