//! [`RemoteHandle`]: the console's handle on a remote pool server, shaped like
//! the local [`PoolHandle`](crate::engine::pool::PoolHandle): a bounded command
//! queue, bounded events, a `watch` snapshot of the pools with their stats, and
//! tails that yield the same [`TailItem`]s as local tails. Connections are
//! retried with backoff; the connection state is visible in the snapshot.

use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use tokio::sync::{mpsc, watch};

use super::io::{Client, ClientOptions, PoolUri};
use super::protocol::retort::POOL_NO_SUCH_PROTEIN;
use super::Retort;
use crate::engine::pool::handle::{PoolSummary, Snapshot};
use crate::engine::pool::io::{From, Tail, TailItem};
use crate::engine::pool::Entry;
use crate::engine::slaw::Slaw;
use crate::net::transport::Backoff;

/// Connection state of the handle's server.
#[derive(Debug, Clone, PartialEq, Default)]
pub enum Status {
    /// Not tried yet.
    #[default]
    Connecting,
    /// The last refresh reached the server.
    Connected,
    /// The last attempt failed; the next is due after `retry_in`.
    Down {
        /// Why.
        error: String,
        /// Delay before the next attempt.
        retry_in: Duration,
    },
}

/// Results of commands (the remote twin of the local handle's events).
#[derive(Debug)]
pub enum Event {
    /// A pool was created.
    Created {
        /// Pool name.
        pool: String,
    },
    /// A pool was disposed.
    Disposed {
        /// Pool name.
        pool: String,
    },
    /// A pool was renamed.
    Renamed {
        /// Old name.
        from: String,
        /// New name.
        to: String,
    },
    /// A deposit landed.
    Deposited {
        /// Pool name.
        pool: String,
        /// Its index.
        index: i64,
        /// Its timestamp.
        timestamp: f64,
    },
    /// The server refused a command.
    Refused {
        /// Which command.
        op: &'static str,
        /// Pool name.
        pool: String,
        /// The retort.
        retort: Retort,
    },
    /// A command could not reach the server.
    Failed {
        /// Which command.
        op: &'static str,
        /// Pool name.
        pool: String,
        /// The transport error.
        error: String,
    },
}

#[derive(Debug)]
enum Cmd {
    Refresh,
    Create(String, Slaw),
    Dispose(String),
    Rename(String, String),
    Deposit(String, Bytes),
}

pub use crate::engine::pool::handle::SendError;

/// The console's handle on one remote pool server.
#[derive(Debug, Clone)]
pub struct RemoteHandle {
    server: PoolUri,
    options: ClientOptions,
    tx: mpsc::Sender<Cmd>,
    snapshot: watch::Receiver<Snapshot>,
    status: watch::Receiver<Status>,
}

impl RemoteHandle {
    /// Starts the worker for the server of `server` (its pool part is ignored).
    pub fn spawn(
        server: PoolUri,
        options: ClientOptions,
        refresh: Duration,
    ) -> (RemoteHandle, mpsc::Receiver<Event>) {
        let (tx, rx) = mpsc::channel(64);
        let (etx, erx) = mpsc::channel(256);
        let mut base = server.clone();
        base.pool.clear();
        let (stx, srx) = watch::channel(Snapshot {
            dir: PathBuf::from(base.to_string()),
            ..Default::default()
        });
        let (htx, hrx) = watch::channel(Status::Connecting);
        tokio::spawn(worker(
            base.clone(),
            options.clone(),
            rx,
            etx,
            stx,
            htx,
            refresh,
        ));
        (
            RemoteHandle {
                server: base,
                options,
                tx,
                snapshot: srx,
                status: hrx,
            },
            erx,
        )
    }

    /// The pool list with stats.
    pub fn snapshot(&self) -> watch::Receiver<Snapshot> {
        self.snapshot.clone()
    }

    /// The connection state.
    pub fn status(&self) -> watch::Receiver<Status> {
        self.status.clone()
    }

    fn send(&self, c: Cmd) -> Result<(), SendError> {
        self.tx.try_send(c).map_err(|e| match e {
            mpsc::error::TrySendError::Full(_) => SendError::Busy,
            mpsc::error::TrySendError::Closed(_) => SendError::Stopped,
        })
    }

    /// Re-reads the list now.
    pub fn refresh(&self) -> Result<(), SendError> {
        self.send(Cmd::Refresh)
    }

    /// Creates a pool with options (a map such as `{size: 1048576}`).
    pub fn create(&self, name: &str, options: Slaw) -> Result<(), SendError> {
        self.send(Cmd::Create(name.into(), options))
    }

    /// Disposes a pool.
    pub fn dispose(&self, name: &str) -> Result<(), SendError> {
        self.send(Cmd::Dispose(name.into()))
    }

    /// Renames a pool.
    pub fn rename(&self, from: &str, to: &str) -> Result<(), SendError> {
        self.send(Cmd::Rename(from.into(), to.into()))
    }

    /// Deposits protein bytes.
    pub fn deposit(&self, name: &str, protein: Vec<u8>) -> Result<(), SendError> {
        self.send(Cmd::Deposit(name.into(), Bytes::from(protein)))
    }

    /// Tails a remote pool like [`PoolHandle::tail`](crate::engine::pool::PoolHandle::tail).
    pub fn tail(&self, name: &str, from: From, cap: usize) -> RemoteTail {
        let mut uri = self.server.clone();
        uri.pool = name.to_string();
        spawn_tail(uri, self.options.clone(), from, cap, true)
    }
}

async fn run_cmd(server: &PoolUri, options: &ClientOptions, cmd: Cmd) -> Option<Event> {
    let (op, pool) = match &cmd {
        Cmd::Refresh => return None,
        Cmd::Create(p, _) => ("create", p.clone()),
        Cmd::Dispose(p) => ("dispose", p.clone()),
        Cmd::Rename(p, _) => ("rename", p.clone()),
        Cmd::Deposit(p, _) => ("deposit", p.clone()),
    };
    let result = async {
        let mut c = Client::connect(server, options).await?;
        Ok::<_, super::Error>(match cmd {
            Cmd::Refresh => None,
            Cmd::Create(p, o) => Some(c.create(&p, &o).await?.map(|_| Event::Created { pool: p })),
            Cmd::Dispose(p) => Some(c.dispose(&p).await?.map(|_| Event::Disposed { pool: p })),
            Cmd::Rename(a, b) => Some(
                c.rename(&a, &b)
                    .await?
                    .map(|_| Event::Renamed { from: a, to: b }),
            ),
            Cmd::Deposit(p, bytes) => match c.participate(&p, None).await? {
                Err(r) => Some(Err(r)),
                Ok(_) => Some(
                    c.deposit(bytes)
                        .await?
                        .map(|(index, timestamp)| Event::Deposited {
                            pool: p,
                            index,
                            timestamp,
                        }),
                ),
            },
        })
    }
    .await;
    match result {
        Ok(Some(Ok(ev))) => Some(ev),
        Ok(Some(Err(retort))) => Some(Event::Refused { op, pool, retort }),
        Ok(None) => None,
        Err(e) => Some(Event::Failed {
            op,
            pool,
            error: e.to_string(),
        }),
    }
}

/// Most pools summarised per refresh (one connection each).
const MAX_SUMMARIES: usize = 64;

async fn scan(server: &PoolUri, options: &ClientOptions) -> super::Result<Vec<PoolSummary>> {
    let names: Vec<String> = Client::connect(server, options)
        .await?
        .list()
        .await?
        .unwrap_or_default();
    let mut out = Vec::new();
    for name in names.into_iter().take(MAX_SUMMARIES) {
        let mut s = PoolSummary {
            name: name.clone(),
            size: 0,
            used: 0,
            fill: 0.0,
            oldest: None,
            newest: None,
            info: None,
            error: None,
        };
        let mut c = Client::connect(server, options).await?;
        match c.participate(&name, None).await? {
            Err(r) => s.error = Some(r.to_string()),
            Ok(_) => {
                s.oldest = c.oldest_index().await?.ok();
                s.newest = c.newest_index().await?.ok();
                if let Ok(info) = c.info().await? {
                    let get = |k: &str| info.ingest(k).and_then(Slaw::as_u64).unwrap_or(0);
                    s.size = get("size");
                    s.used = get("size-used");
                    s.fill = s.used as f64 / s.size.max(1) as f64;
                }
            }
        }
        out.push(s);
    }
    Ok(out)
}

async fn worker(
    server: PoolUri,
    options: ClientOptions,
    mut rx: mpsc::Receiver<Cmd>,
    events: mpsc::Sender<Event>,
    snapshot: watch::Sender<Snapshot>,
    status: watch::Sender<Status>,
    refresh: Duration,
) {
    let mut backoff = Backoff::default();
    let mut wait = Duration::ZERO;
    loop {
        tokio::select! {
            c = rx.recv() => match c {
                Some(c) => {
                    if let Some(ev) = run_cmd(&server, &options, c).await {
                        let _ = events.try_send(ev);
                    }
                }
                None => return,
            },
            _ = tokio::time::sleep(wait) => {}
        }
        match scan(&server, &options).await {
            Ok(pools) => {
                backoff.reset();
                wait = refresh.max(Duration::from_millis(50));
                status.send_if_modified(|s| {
                    let changed = *s != Status::Connected;
                    *s = Status::Connected;
                    changed
                });
                snapshot.send_if_modified(|s| {
                    let changed = s.pools != pools || s.error.is_some();
                    s.pools = pools;
                    s.error = None;
                    changed
                });
            }
            Err(e) => {
                wait = backoff.next_delay();
                let _ = status.send(Status::Down {
                    error: e.to_string(),
                    retry_in: wait,
                });
                snapshot.send_modify(|s| s.error = Some(e.to_string()));
            }
        }
        if snapshot.is_closed() && events.is_closed() && status.is_closed() {
            return;
        }
    }
}

/// A tail of a remote pool: the local engine's tail type itself, so the
/// console cannot tell the two apart. Reconnects with backoff and
/// resumes from the next index.
pub type RemoteTail = Tail;

/// Starts tailing `uri` from `from`, buffering at most `cap` items. The tail is
/// the local engine's [`Tail`] type, fed by a task speaking the pool protocol.
pub fn spawn_tail(
    uri: PoolUri,
    options: ClientOptions,
    from: From,
    cap: usize,
    follow: bool,
) -> RemoteTail {
    let (tx, rx) = mpsc::channel(cap.max(1));
    let skipped = Arc::new(AtomicU64::new(0));
    let sk = skipped.clone();
    let name: Arc<str> = Arc::from(uri.to_string());
    let task = tokio::spawn(async move {
        let done = tx.clone();
        if let Err(e) = run_tail(uri, options, from, follow, tx, sk).await {
            let _ = done.send(TailItem::Failed(e)).await;
        }
    });
    Tail::from_task(name, rx, skipped, task)
}

/// Retorts that end a tail instead of being retried.
fn fatal(r: Retort) -> String {
    format!("{}: {r}", "tail")
}

async fn run_tail(
    uri: PoolUri,
    options: ClientOptions,
    from: From,
    follow: bool,
    tx: mpsc::Sender<TailItem>,
    skipped: Arc<AtomicU64>,
) -> Result<(), String> {
    let mut backoff = Backoff::default();
    let mut next: Option<i64> = match from {
        From::Index(i) => Some(i),
        _ => None,
    };
    loop {
        let attempt = async {
            let mut c = Client::connect(&uri, &options).await?;
            if let Err(r) = c.participate(&uri.pool, None).await? {
                return Ok(Err(r));
            }
            let mut idx = match next {
                Some(i) => i,
                None => {
                    let newest = c.newest_index().await?.ok();
                    let oldest = c.oldest_index().await?.ok();
                    match (from, oldest, newest) {
                        (From::Oldest, Some(o), _) => o,
                        (From::Newest, _, Some(n)) => n,
                        (_, _, Some(n)) => n + 1,
                        _ => 0,
                    }
                }
            };
            next = Some(idx);
            loop {
                let got = match c.next(idx).await? {
                    Ok(f) => f,
                    Err(Retort(POOL_NO_SUCH_PROTEIN)) if !follow => return Ok(Ok(())),
                    Err(Retort(POOL_NO_SUCH_PROTEIN)) => match c.await_next(None).await? {
                        Ok(f) => f,
                        Err(Retort(POOL_NO_SUCH_PROTEIN)) => continue,
                        Err(r) => return Ok(Err(r)),
                    },
                    Err(r) => return Ok(Err(r)),
                };
                if got.index > idx {
                    let n = (got.index - idx) as u64;
                    skipped.fetch_add(n, Ordering::Relaxed);
                    if tx.send(TailItem::Skipped(n)).await.is_err() {
                        return Ok(Ok(()));
                    }
                }
                idx = got.index + 1;
                next = Some(idx);
                let entry = Entry {
                    index: got.index,
                    timestamp: got.timestamp,
                    protein: got.protein.to_vec(),
                };
                if tx.send(TailItem::Protein(entry)).await.is_err() {
                    return Ok(Ok(()));
                }
                backoff.reset();
            }
        };
        let result: super::Result<Result<(), Retort>> = attempt.await;
        match result {
            Ok(Ok(())) => return Ok(()),
            Ok(Err(r)) => return Err(fatal(r)),
            Err(e) => {
                tracing::warn!(pool = %uri, error = %e, "remote tail: reconnecting");
                tokio::select! {
                    _ = tx.closed() => return Ok(()),
                    _ = tokio::time::sleep(backoff.next_delay()) => {}
                }
            }
        }
    }
}
