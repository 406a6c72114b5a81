//! Connections on tokio: one task per connection runs both directions of
//! calls (simpyio spec §2.1: either peer may send requests at any time), over
//! any [`Stream`] — TCP, TLS, in-memory, or the simulated network of the tests.
//!
//! The task owns the sans-IO [`protocol::Peer`]; callers reach it through a
//! bounded command channel ([`Client`]). Methods that wait or call the peer
//! back run as futures inside the same task, so a method can call the client
//! that is calling it (the `callback`/`ping` pattern of the interop kit).

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::future::BoxFuture;
use futures::stream::FuturesUnordered;
use futures::StreamExt;
use tokio::sync::{mpsc, oneshot, watch};

use super::codec::{Encoded, Message, MessageCodec, MAX_PACKET_SIZE};
use super::json::Json;
use super::protocol::{self, Body, Call, Event, Failure, Reply, Router};
use super::Error;
use crate::net::framing::{Connection, Limits};
use crate::net::shutdown::{CloseReason, Shutdown};
use crate::net::transport::{self, Listener, Peer, Stream, Target};

/// A method body that answers later (waits, or calls the peer back through
/// [`Context::peer`]).
pub type AsyncBody =
    Arc<dyn Fn(Context, Vec<Json>) -> BoxFuture<'static, Result<Json, Failure>> + Send + Sync>;

/// The object tree one side exposes to its peer.
pub type Service = Router<AsyncBody>;

/// What an asynchronous method gets besides its arguments.
#[derive(Clone)]
pub struct Context {
    /// The peer on the same connection, for call-backs.
    pub peer: Client,
}

/// Connection options.
#[derive(Clone, Debug)]
pub struct Options {
    /// Largest packet payload, both directions (both peers must agree).
    pub max_packet_size: usize,
    /// Outstanding requests allowed each way.
    pub message_limit: usize,
    /// Default timeout of our calls; `None` waits forever as simpy.io does.
    pub call_timeout: Option<Duration>,
    /// Close after this long without any message; `None` never.
    pub idle_timeout: Option<Duration>,
    /// Capacity of the command channel of a [`Client`].
    pub command_queue: usize,
    /// Application custom types registered on both peers (spec §2.4); the
    /// default has none, so proxies are id 0 and exposed objects id 1.
    pub types: Arc<protocol::TypeIds>,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            max_packet_size: MAX_PACKET_SIZE,
            message_limit: protocol::MESSAGE_LIMIT,
            call_timeout: None,
            idle_timeout: None,
            command_queue: 1024,
            types: Arc::default(),
        }
    }
}

/// Counters of one connection, published through a `watch` channel.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Stats {
    /// Requests we sent.
    pub calls: u64,
    /// SUCCESS replies we received.
    pub succeeded: u64,
    /// FAILURE replies we received.
    pub failed: u64,
    /// Our calls that timed out or were abandoned.
    pub abandoned: u64,
    /// Replies that came after we gave up on the call.
    pub late: u64,
    /// Requests of the peer we answered.
    pub served: u64,
    /// Of those, answered with FAILURE.
    pub served_failed: u64,
    /// Our requests waiting for replies now.
    pub in_flight: u64,
    /// Latency of the last reply.
    pub last_latency: Option<Duration>,
    /// Sum of reply latencies, for the mean.
    pub latency_total: Duration,
    /// Whether the connection is up.
    pub connected: bool,
    /// Why it closed, once it has.
    pub closed: Option<String>,
}

/// Where a reply goes.
pub(crate) enum Done {
    /// To an awaiting [`Client::call`].
    Oneshot(oneshot::Sender<Result<Reply, Error>>),
    /// As an event of the connection's observer, tagged with a caller token.
    Token(u64),
}

/// Requests to the connection task.
pub(crate) enum Command {
    Call {
        call: Call,
        timeout: Option<Duration>,
        done: Done,
    },
    Abandon(u64),
}

/// What a connection tells its observer (the console's handle).
#[derive(Clone, Debug)]
pub enum Notice {
    /// A call tagged with `token` finished.
    Finished {
        /// The caller's token.
        token: u64,
        /// The method.
        path: String,
        /// Time to the reply (zero when there was none).
        latency: Duration,
        /// The reply, or why there is none.
        outcome: Result<Reply, String>,
    },
    /// The peer called one of our methods.
    Served {
        /// The method.
        path: String,
        /// Whether we answered with FAILURE.
        failed: bool,
    },
    /// The connection ended.
    Closed(String),
}

pub(crate) struct Observer {
    pub(crate) notices: mpsc::Sender<Notice>,
    pub(crate) stats: watch::Sender<Stats>,
    pub(crate) dropped: Arc<std::sync::atomic::AtomicU64>,
}

impl Observer {
    pub(crate) fn notify_finished(&self, token: u64, path: String, error: String) {
        self.notify(Notice::Finished {
            token,
            path,
            latency: Duration::ZERO,
            outcome: Err(error),
        });
    }

    pub(crate) fn notify_closed(&self, reason: String) {
        self.notify(Notice::Closed(reason));
    }

    fn notify(&self, n: Notice) {
        // Never stall the socket for a slow console: count and drop instead.
        if self.notices.try_send(n).is_err() {
            self.dropped
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        }
    }
}

/// The calling side of a connection; cheap to clone. Dropping every clone of a
/// client that opened the connection closes it once its calls are answered.
#[derive(Clone)]
pub struct Client {
    tx: mpsc::Sender<Command>,
    timeout: Option<Duration>,
}

impl Client {
    /// Calls `path` on the peer and waits for the reply. A FAILURE is
    /// `Ok(Reply::Failure)`.
    pub async fn call(&self, call: Call) -> Result<Reply, Error> {
        let path = call.path.clone();
        let (done, rx) = oneshot::channel();
        let cmd = Command::Call {
            call,
            timeout: self.timeout,
            done: Done::Oneshot(done),
        };
        if self.tx.send(cmd).await.is_err() {
            return Err(Error::Closed {
                path,
                reason: "connection task ended".into(),
            });
        }
        rx.await.unwrap_or_else(|_| {
            Err(Error::Closed {
                path,
                reason: "connection task ended".into(),
            })
        })
    }

    /// Shorthand for a call with positional arguments.
    pub async fn call_args(&self, path: &str, args: Vec<Json>) -> Result<Reply, Error> {
        self.call(Call::new(path, args)).await
    }

    /// The same client with another call timeout.
    pub fn with_timeout(&self, timeout: Option<Duration>) -> Client {
        Client {
            tx: self.tx.clone(),
            timeout,
        }
    }
}

/// A method answering later: the request id, the path, the outcome.
type Answering = BoxFuture<'static, (Json, String, Result<Json, Failure>)>;

struct Waiter {
    path: String,
    timeout: Option<Duration>,
    done: Done,
}

/// Runs one connection until it closes and returns why. `commands` carries
/// our calls; `service` answers the peer's.
// Internal plumbing shared by the three public entry points below; a struct
// for these would only be unpacked again on the next line.
#[allow(clippy::too_many_arguments)]
pub(crate) async fn drive(
    stream: Stream,
    peer_addr: Peer,
    service: Arc<Service>,
    opts: Options,
    mut commands: mpsc::Receiver<Command>,
    self_client: Client,
    close_when_unused: bool,
    shutdown: Shutdown,
    observer: Option<Observer>,
) -> CloseReason {
    let limits = Limits {
        idle_timeout: opts.idle_timeout,
        // The codec refuses oversized headers itself; this backstop only has to
        // exceed one frame plus what one read can bring in behind it.
        max_buffer_bytes: opts
            .max_packet_size
            .saturating_mul(2)
            .saturating_add(64 * 1024),
        ..Limits::default()
    };
    let max = opts.max_packet_size;
    let mut conn = Connection::new(stream, peer_addr, MessageCodec::new(max), limits);
    let mut peer = protocol::Peer::with_types(opts.message_limit, opts.types.clone());
    let mut waiters: HashMap<u64, Waiter> = HashMap::new();
    let mut tokens: HashMap<u64, u64> = HashMap::new();
    let mut running: FuturesUnordered<Answering> = FuturesUnordered::new();
    // A client-side connection closes when its last client is dropped, so call-backs
    // hold only a weak sender there; a server keeps one to hand to its methods.
    let weak = self_client.tx.downgrade();
    let keep = (!close_when_unused).then_some(self_client);
    let mut commands_open = true;
    let mut dirty = false;
    let mut stats = Stats {
        connected: true,
        ..Stats::default()
    };
    let publish = |stats: &Stats| {
        if let Some(o) = &observer {
            o.stats.send_replace(stats.clone());
        }
    };
    publish(&stats);

    let reason = loop {
        let deadline = peer.next_deadline();
        let sleep = async move {
            match deadline {
                Some(d) => tokio::time::sleep_until(tokio::time::Instant::from_std(d)).await,
                None => std::future::pending().await,
            }
        };
        let mut outgoing: Option<Message> = None;
        tokio::select! {
            biased;
            _ = shutdown.requested() => break CloseReason::Shutdown,
            frame = conn.read_frame() => {
                let msg = match frame {
                    Ok(Some(msg)) => msg,
                    Ok(None) => break CloseReason::PeerClosed,
                    Err(e) => break e.close_reason(),
                };
                let now = now();
                match peer.receive(msg, now) {
                    Err(v) => break CloseReason::Protocol(v.to_string()),
                    Ok(Event::Late { .. }) => stats.late += 1,
                    Ok(Event::Reply { id, reply, latency }) => {
                        match &reply {
                            Reply::Success(_) => stats.succeeded += 1,
                            Reply::Failure(_) => stats.failed += 1,
                        }
                        stats.last_latency = Some(latency);
                        stats.latency_total += latency;
                        if let Some(w) = waiters.remove(&id) {
                            finish(w, &mut tokens, &observer, latency, Ok(reply));
                        }
                    }
                    Ok(Event::Request { id, call }) => {
                        let resolved = call.and_then(|c| {
                            let path = c.path.clone();
                            service.resolve(c).map(|r| (path, r))
                        });
                        match resolved {
                            Err(f) => outgoing = Some(peer.reply(id, Err(f))),
                            Ok((path, (method, args))) => match &method.body {
                                Body::Sync(f) => {
                                    let out = f(args).map(protocol::swap_refs);
                                    note_served(&mut stats, &observer, &path, out.is_err());
                                    outgoing = Some(peer.reply(id, out));
                                }
                                Body::Async(body) => {
                                    let ctx = Context {
                                        peer: Client {
                                            tx: keep
                                                .as_ref()
                                                .map(|c| c.tx.clone())
                                                .or_else(|| weak.upgrade())
                                                .unwrap_or_else(|| mpsc::channel(1).0),
                                            timeout: opts.call_timeout,
                                        },
                                    };
                                    let fut = body(ctx, args);
                                    running.push(Box::pin(async move {
                                        (id, path, fut.await.map(protocol::swap_refs))
                                    }));
                                }
                            },
                        }
                    }
                }
            }
            Some((id, path, out)) = running.next(), if !running.is_empty() => {
                note_served(&mut stats, &observer, &path, out.is_err());
                outgoing = Some(peer.reply(id, out));
            }
            cmd = commands.recv(), if commands_open => match cmd {
                None => {
                    commands_open = false;
                    if close_when_unused && waiters.is_empty() {
                        break CloseReason::Shutdown;
                    }
                }
                Some(Command::Abandon(token)) => {
                    if let Some(id) = tokens.remove(&token) {
                        if peer.abandon(id) {
                            stats.abandoned += 1;
                            if let Some(w) = waiters.remove(&id) {
                                let err = Error::Abandoned { path: w.path.clone() };
                                finish(w, &mut tokens, &observer, Duration::ZERO, Err(err));
                            }
                        }
                    }
                }
                Some(Command::Call { call, timeout, done }) => {
                    let path = call.path.clone();
                    match peer.request(&call, now(), timeout) {
                        Err(source) => {
                            let w = Waiter { path: path.clone(), timeout, done };
                            finish(w, &mut tokens, &observer, Duration::ZERO, Err(Error::Overflow { path, source }));
                        }
                        Ok((id, msg)) => {
                            let text = msg.to_text();
                            if text.len() > max {
                                peer.abandon(id);
                                let w = Waiter { path: path.clone(), timeout, done };
                                let err = Error::TooLarge { path, size: text.len(), max };
                                finish(w, &mut tokens, &observer, Duration::ZERO, Err(err));
                            } else {
                                if let Done::Token(t) = &done {
                                    tokens.insert(*t, id);
                                }
                                waiters.insert(id, Waiter { path, timeout, done });
                                stats.calls += 1;
                                if let Err(e) = conn.feed(Encoded(text)).await {
                                    break e.close_reason();
                                }
                                dirty = true;
                            }
                        }
                    }
                }
            },
            _ = sleep => {
                for id in peer.expire(now()) {
                    stats.abandoned += 1;
                    if let Some(w) = waiters.remove(&id) {
                        let err = Error::Timeout {
                            path: w.path.clone(),
                            after: w.timeout.unwrap_or_default(),
                        };
                        finish(w, &mut tokens, &observer, Duration::ZERO, Err(err));
                    }
                }
            }
            _ = std::future::ready(()), if dirty => {
                if let Err(e) = conn.flush::<Encoded>().await {
                    break e.close_reason();
                }
                dirty = false;
                stats.in_flight = peer.pending() as u64;
                publish(&stats);
            }
        }
        if let Some(msg) = outgoing {
            let mut text = msg.to_text();
            if text.len() > max {
                // Python raises locally when a reply does not fit; a FAILURE
                // tells the caller instead of leaving it waiting forever.
                let f = Failure::new(
                    "ValueError",
                    format!(
                        "reply of {} bytes exceeds max_packet_size {max}",
                        text.len()
                    ),
                );
                text = Message {
                    kind: super::codec::Kind::Failure,
                    id: msg.id,
                    content: Json::Str(f.to_text()),
                }
                .to_text();
            }
            if let Err(e) = conn.feed(Encoded(text)).await {
                break e.close_reason();
            }
            dirty = true;
        }
        if !dirty && observer.is_some() {
            // Nothing left to flush: the batch is done, show its effect.
            stats.in_flight = peer.pending() as u64;
            publish(&stats);
        }
        if !commands_open && close_when_unused && waiters.is_empty() && running.is_empty() {
            break CloseReason::Shutdown;
        }
    };
    if dirty {
        let _ = conn.flush::<Encoded>().await;
    }
    let text = reason.to_string();
    for id in peer.close() {
        if let Some(w) = waiters.remove(&id) {
            let err = Error::Closed {
                path: w.path.clone(),
                reason: text.clone(),
            };
            finish(w, &mut tokens, &observer, Duration::ZERO, Err(err));
        }
    }
    stats.connected = false;
    stats.in_flight = 0;
    stats.closed = Some(text.clone());
    publish(&stats);
    if let Some(o) = &observer {
        o.notify(Notice::Closed(text));
    }
    reason
}

fn now() -> Instant {
    // tokio's clock, so paused-time tests and the simulated network drive timeouts.
    tokio::time::Instant::now().into_std()
}

fn note_served(stats: &mut Stats, observer: &Option<Observer>, path: &str, failed: bool) {
    stats.served += 1;
    if failed {
        stats.served_failed += 1;
    }
    if let Some(o) = observer {
        o.notify(Notice::Served {
            path: path.to_owned(),
            failed,
        });
    }
}

fn finish(
    w: Waiter,
    tokens: &mut HashMap<u64, u64>,
    observer: &Option<Observer>,
    latency: Duration,
    outcome: Result<Reply, Error>,
) {
    match w.done {
        Done::Oneshot(tx) => {
            let _ = tx.send(outcome);
        }
        Done::Token(token) => {
            tokens.remove(&token);
            if let Some(o) = observer {
                o.notify(Notice::Finished {
                    token,
                    path: w.path,
                    latency,
                    outcome: outcome.map_err(|e| e.to_string()),
                });
            }
        }
    }
}

/// Starts a connection over an already connected `stream` (TCP, TLS, memory
/// or simulated) and returns its client and the task's join handle.
pub fn start(
    stream: Stream,
    peer: Peer,
    service: Arc<Service>,
    opts: Options,
    shutdown: Shutdown,
) -> (Client, tokio::task::JoinHandle<CloseReason>) {
    let (tx, rx) = mpsc::channel(opts.command_queue.max(1));
    let client = Client {
        tx,
        timeout: opts.call_timeout,
    };
    let task = tokio::spawn(drive(
        stream,
        peer,
        service,
        opts,
        rx,
        client.clone(),
        true,
        shutdown,
        None,
    ));
    (client, task)
}

/// Connects to `target` (with TLS when `tls` is given) and starts the
/// connection; `service` answers the server's call-backs.
pub async fn connect(
    target: &Target,
    tls: Option<Arc<rustls::ClientConfig>>,
    service: Arc<Service>,
    opts: Options,
    shutdown: Shutdown,
) -> Result<(Client, tokio::task::JoinHandle<CloseReason>), Error> {
    let (stream, peer) = open(target, tls).await?;
    Ok(start(stream, peer, service, opts, shutdown))
}

/// Opens the transport (TCP or Unix, then TLS when configured).
pub(crate) async fn open(
    target: &Target,
    tls: Option<Arc<rustls::ClientConfig>>,
) -> Result<(Stream, Peer), Error> {
    let (stream, peer) = transport::connect(target, Duration::from_secs(10))
        .await
        .map_err(|source| Error::Connect {
            target: target.to_string(),
            source,
        })?;
    let stream = match tls {
        Some(config) => crate::net::tls::connect(stream, target.server_name(), config)
            .await
            .map_err(|source| Error::Tls {
                target: target.to_string(),
                source,
            })?,
        None => stream,
    };
    Ok((stream, peer))
}

/// Serves `service` on one accepted connection until it closes; the accept
/// loop of [`serve`] runs one per connection.
pub async fn serve_connection(
    stream: Stream,
    peer: Peer,
    service: Arc<Service>,
    opts: Options,
    shutdown: Shutdown,
) -> CloseReason {
    let (tx, rx) = mpsc::channel(opts.command_queue.max(1));
    let client = Client {
        tx,
        timeout: opts.call_timeout,
    };
    drive(
        stream, peer, service, opts, rx, client, false, shutdown, None,
    )
    .await
}

/// Serves `service` on `listener` until `shutdown`, through the shared accept
/// loop (connection cap, optional TLS, a log line per close).
pub async fn serve(
    listener: Listener,
    shutdown: Shutdown,
    server: crate::net::server::Options,
    service: Arc<Service>,
    opts: Options,
) {
    crate::net::server::serve(listener, shutdown, server, move |stream, peer, sd| {
        serve_connection(stream, peer, service.clone(), opts.clone(), sd)
    })
    .await
}

#[allow(clippy::too_many_arguments)]
pub(crate) fn spawn_observed(
    stream: Stream,
    peer: Peer,
    service: Arc<Service>,
    opts: Options,
    rx: mpsc::Receiver<Command>,
    client: Client,
    shutdown: Shutdown,
    observer: Observer,
) -> impl std::future::Future<Output = CloseReason> {
    drive(
        stream,
        peer,
        service,
        opts,
        rx,
        client,
        false,
        shutdown,
        Some(observer),
    )
}

pub(crate) fn client_from(tx: mpsc::Sender<Command>, timeout: Option<Duration>) -> Client {
    Client { tx, timeout }
}
