//! [`AmpHandle`]: what the console (Calls view) and other front ends use. A
//! driver task owns the connection; the handle only sends commands through a
//! bounded channel, receives events through a bounded channel and reads
//! counters through a `watch`. No handle method blocks or awaits the network.

use std::collections::HashMap;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::{mpsc, watch};

use super::catalog::Catalog;
use super::codec::AmpBox;
use super::io::{self, CallOptions, NoCommands, Reply};
use super::Error;
use crate::net::transport::Target;

/// Identifies a call made through the handle.
pub type CallId = u64;

/// What the handle asks the driver to do.
#[derive(Debug)]
enum Command {
    Call {
        id: CallId,
        command: String,
        args: AmpBox,
        requires_answer: bool,
        timeout: Option<Duration>,
    },
    Abandon(CallId),
    Close,
}

/// Something that happened, for the console to show.
#[derive(Debug)]
pub enum Event {
    /// The connection is up.
    Connected {
        /// Peer address.
        peer: String,
    },
    /// The connection is down (or could not be made).
    Disconnected {
        /// Why.
        reason: String,
    },
    /// A call finished: reply (answer or remote error) or local failure.
    Finished {
        /// Call id from [`AmpHandle::call`].
        id: CallId,
        /// Command name.
        command: String,
        /// Time from queueing to completion.
        latency: Duration,
        /// The outcome.
        result: Result<Reply, Error>,
    },
}

/// Counters for the Overview card and the Calls view.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Stats {
    /// Whether the connection is up.
    pub connected: bool,
    /// Calls sent.
    pub calls: u64,
    /// Answers received.
    pub answers: u64,
    /// Remote errors received.
    pub remote_errors: u64,
    /// Local failures (timeouts, closed connection, …).
    pub failures: u64,
    /// Calls waiting now.
    pub outstanding: u64,
    /// Latency of the last finished call.
    pub last_latency: Option<Duration>,
    /// Events dropped because the console did not keep up.
    pub dropped_events: u64,
}

/// Options of a handle's connection.
#[derive(Clone, Default)]
pub struct HandleOptions {
    /// Connection options (timeouts, TLS for StartTLS, limits).
    pub io: io::Options,
    /// TLS from the start: client config and server name.
    pub tls: Option<(Arc<rustls::ClientConfig>, String)>,
}

/// The console's handle on one AMP target.
pub struct AmpHandle {
    commands: mpsc::Sender<Command>,
    events: mpsc::Receiver<Event>,
    stats: watch::Receiver<Stats>,
    next_id: CallId,
    catalog: Arc<Catalog>,
}

const COMMAND_QUEUE: usize = 256;
const EVENT_QUEUE: usize = 1024;

impl AmpHandle {
    /// Starts a driver task connecting to `target`; must be called inside a
    /// tokio runtime. Connection progress arrives as events.
    pub fn spawn(target: Target, catalog: Catalog, opts: HandleOptions) -> AmpHandle {
        let (cmd_tx, cmd_rx) = mpsc::channel(COMMAND_QUEUE);
        let (ev_tx, ev_rx) = mpsc::channel(EVENT_QUEUE);
        let (st_tx, st_rx) = watch::channel(Stats::default());
        tokio::spawn(drive(target, opts, cmd_rx, ev_tx, st_tx));
        AmpHandle {
            commands: cmd_tx,
            events: ev_rx,
            stats: st_rx,
            next_id: 1,
            catalog: Arc::new(catalog),
        }
    }

    /// The schema the handle was created with (command list, forms).
    pub fn catalog(&self) -> &Catalog {
        &self.catalog
    }

    /// Queues a call of `command` with raw argument values; returns its id at
    /// once, or [`Error::Busy`] when the queue is full.
    pub fn call(
        &mut self,
        command: &str,
        args: AmpBox,
        timeout: Option<Duration>,
    ) -> Result<CallId, Error> {
        let id = self.next_id;
        let requires_answer = self
            .catalog
            .get(command)
            .map(|c| c.requires_answer)
            .unwrap_or(true);
        self.commands
            .try_send(Command::Call {
                id,
                command: command.to_string(),
                args,
                requires_answer,
                timeout,
            })
            .map_err(|_| Error::Busy)?;
        self.next_id += 1;
        Ok(id)
    }

    /// Stops waiting for call `id`; a late answer is ignored.
    pub fn abandon(&self, id: CallId) -> Result<(), Error> {
        self.commands
            .try_send(Command::Abandon(id))
            .map_err(|_| Error::Busy)
    }

    /// Closes the connection; the driver ends.
    pub fn close(&self) {
        let _ = self.commands.try_send(Command::Close);
    }

    /// The next event if one is ready (never waits).
    pub fn try_event(&mut self) -> Option<Event> {
        self.events.try_recv().ok()
    }

    /// Waits for the next event (for headless users and tests).
    pub async fn next_event(&mut self) -> Option<Event> {
        self.events.recv().await
    }

    /// The latest counters.
    pub fn stats(&self) -> Stats {
        self.stats.borrow().clone()
    }

    /// A receiver that changes whenever the counters do.
    pub fn watch_stats(&self) -> watch::Receiver<Stats> {
        self.stats.clone()
    }
}

struct Driver {
    events: mpsc::Sender<Event>,
    stats: watch::Sender<Stats>,
    dropped: u64,
}

impl Driver {
    fn emit(&mut self, ev: Event) {
        if self.events.try_send(ev).is_err() {
            self.dropped += 1;
            let dropped = self.dropped;
            self.stats.send_modify(|s| s.dropped_events = dropped);
        }
    }
}

async fn drive(
    target: Target,
    opts: HandleOptions,
    mut commands: mpsc::Receiver<Command>,
    events: mpsc::Sender<Event>,
    stats: watch::Sender<Stats>,
) {
    let mut d = Driver {
        events,
        stats,
        dropped: 0,
    };
    let client = match io::connect(&target, opts.tls.clone(), Arc::new(NoCommands), opts.io).await {
        Ok(c) => c,
        Err(e) => {
            d.emit(Event::Disconnected {
                reason: e.to_string(),
            });
            // Fail every call queued meanwhile so the console is not left waiting.
            while let Some(cmd) = commands.recv().await {
                if let Command::Call { id, command, .. } = cmd {
                    d.emit(Event::Finished {
                        id,
                        command,
                        latency: Duration::ZERO,
                        result: Err(Error::Closed {
                            peer: target.to_string(),
                            reason: e.to_string(),
                        }),
                    });
                }
            }
            return;
        }
    };
    d.emit(Event::Connected {
        peer: client.peer().to_string(),
    });
    d.stats.send_modify(|s| s.connected = true);
    let (done_tx, mut done_rx) =
        mpsc::channel::<(CallId, String, Instant, Result<Reply, Error>)>(64);
    let mut in_flight: HashMap<CallId, io::CallId> = HashMap::new();
    loop {
        tokio::select! {
            cmd = commands.recv() => match cmd {
                Some(Command::Call { id, command, args, requires_answer, timeout }) => {
                    let started = Instant::now();
                    match client.start_call(&command, args, requires_answer, CallOptions { timeout }).await {
                        Ok(pending) => {
                            in_flight.insert(id, pending.id);
                            let done = done_tx.clone();
                            tokio::spawn(async move {
                                let r = pending.await;
                                let _ = done.send((id, command, started, r)).await;
                            });
                        }
                        Err(e) => d.emit(Event::Finished { id, command, latency: started.elapsed(), result: Err(e) }),
                    }
                }
                Some(Command::Abandon(id)) => {
                    if let Some(cid) = in_flight.get(&id) {
                        client.abandon(*cid).await;
                    }
                }
                Some(Command::Close) | None => {
                    client.close().await;
                    break;
                }
            },
            Some((id, command, started, result)) = done_rx.recv() => {
                in_flight.remove(&id);
                let latency = started.elapsed();
                if let Err(Error::Closed { reason, .. }) = &result {
                    if client.is_closed() {
                        let reason = reason.clone();
                        d.stats.send_modify(|s| s.connected = false);
                        d.emit(Event::Disconnected { reason });
                    }
                }
                d.emit(Event::Finished { id, command, latency, result });
                let c = client.counters();
                let outstanding = in_flight.len() as u64;
                d.stats.send_modify(|s| {
                    s.calls = c.calls.load(Ordering::Relaxed);
                    s.answers = c.answers.load(Ordering::Relaxed);
                    s.remote_errors = c.remote_errors.load(Ordering::Relaxed);
                    s.outstanding = outstanding;
                    s.last_latency = Some(latency);
                });
            }
        }
    }
    d.stats.send_modify(|s| s.connected = false);
}
