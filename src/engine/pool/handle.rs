//! [`PoolHandle`]: how the console (and anything else async) uses local pools.
//! Commands go over a bounded channel to a worker task that does the file work
//! on tokio's blocking pool; results come back as [`Event`]s; a `watch` channel
//! carries the list of pools with their stats, refreshed periodically. Handle
//! methods never block and never wait on a pool's lock on the caller's task.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{mpsc, watch};

use super::io::{From, Tail};
use super::store::{ChangeOptions, CreateOptions, Info, Pool, Pools};
use super::Error;

/// One pool in the list the console shows.
#[derive(Debug, Clone, PartialEq)]
pub struct PoolSummary {
    /// Pool name.
    pub name: String,
    /// Ring size in bytes (conf.file_size).
    pub size: u64,
    /// Bytes used by live entries.
    pub used: u64,
    /// `used / (size - header)` in 0..=1.
    pub fill: f64,
    /// Oldest index, if not empty.
    pub oldest: Option<i64>,
    /// Newest index, if not empty.
    pub newest: Option<i64>,
    /// Full info (flags, TOC).
    pub info: Option<Info>,
    /// Why the pool could not be read, if it could not.
    pub error: Option<String>,
}

/// Snapshot published on the watch channel.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Snapshot {
    /// The pools directory.
    pub dir: PathBuf,
    /// Pools, sorted by name.
    pub pools: Vec<PoolSummary>,
    /// Why listing failed, if it did.
    pub error: Option<String>,
}

/// Results of commands.
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
    /// Options changed or resized.
    Changed {
        /// Pool name.
        pool: String,
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
    /// Info of a pool.
    Info {
        /// Pool name.
        pool: String,
        /// The info.
        info: Box<Info>,
    },
    /// A command failed; `op` names it.
    Failed {
        /// Which command.
        op: &'static str,
        /// Pool name.
        pool: String,
        /// The error (with its retort).
        error: Error,
    },
}

#[derive(Debug)]
enum Cmd {
    Refresh,
    Create(String, CreateOptions),
    Dispose(String),
    Rename(String, String),
    Change(String, ChangeOptions),
    Deposit(String, Vec<u8>),
    Info(String),
}

/// Why a command was not queued.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SendError {
    /// The command queue is full; try again later.
    #[error("pool engine busy (command queue full)")]
    Busy,
    /// The worker ended.
    #[error("pool engine stopped")]
    Stopped,
}

/// The console's handle on a pools directory.
#[derive(Debug, Clone)]
pub struct PoolHandle {
    pools: Pools,
    tx: mpsc::Sender<Cmd>,
    snapshot: watch::Receiver<Snapshot>,
}

impl PoolHandle {
    /// Starts the worker for the pools directory `dir` (inside a tokio runtime).
    /// The list refreshes every `refresh`; events arrive on the returned receiver
    /// (bounded; events are dropped, not queued without limit, if nobody reads).
    pub fn spawn(
        dir: impl Into<PathBuf>,
        refresh: Duration,
    ) -> (PoolHandle, mpsc::Receiver<Event>) {
        let pools = Pools::new(dir);
        let (tx, rx) = mpsc::channel(64);
        let (etx, erx) = mpsc::channel(256);
        let (stx, srx) = watch::channel(Snapshot {
            dir: pools.dir().to_path_buf(),
            ..Default::default()
        });
        tokio::spawn(worker(pools.clone(), rx, etx, stx, refresh));
        (
            PoolHandle {
                pools,
                tx,
                snapshot: srx,
            },
            erx,
        )
    }

    /// The pools directory.
    pub fn dir(&self) -> &Path {
        self.pools.dir()
    }

    /// The list of pools with stats (a watch receiver: `borrow()` or `changed()`).
    pub fn snapshot(&self) -> watch::Receiver<Snapshot> {
        self.snapshot.clone()
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

    /// Creates a pool.
    pub fn create(&self, name: &str, opts: CreateOptions) -> Result<(), SendError> {
        self.send(Cmd::Create(name.into(), opts))
    }

    /// Disposes a pool.
    pub fn dispose(&self, name: &str) -> Result<(), SendError> {
        self.send(Cmd::Dispose(name.into()))
    }

    /// Renames a pool.
    pub fn rename(&self, from: &str, to: &str) -> Result<(), SendError> {
        self.send(Cmd::Rename(from.into(), to.into()))
    }

    /// Resizes a pool.
    pub fn resize(&self, name: &str, size: u64) -> Result<(), SendError> {
        self.change(
            name,
            ChangeOptions {
                size: Some(size),
                ..Default::default()
            },
        )
    }

    /// Changes options of a pool.
    pub fn change(&self, name: &str, opts: ChangeOptions) -> Result<(), SendError> {
        self.send(Cmd::Change(name.into(), opts))
    }

    /// Deposits protein bytes (one encoded protein).
    pub fn deposit(&self, name: &str, protein: Vec<u8>) -> Result<(), SendError> {
        self.send(Cmd::Deposit(name.into(), protein))
    }

    /// Asks for a pool's info (answer: [`Event::Info`]).
    pub fn info(&self, name: &str) -> Result<(), SendError> {
        self.send(Cmd::Info(name.into()))
    }

    /// Opens a tail of `name` from `from`, following new deposits, buffering at
    /// most `cap` items (then reporting skipped proteins).
    pub fn tail(&self, name: &str, from: From, cap: usize) -> Tail {
        Tail::spawn(&self.pools, name, from, cap, true)
    }
}

fn summarize(pool: &mut Pool) -> PoolSummary {
    match pool.info() {
        Ok(info) => {
            let room = info.size.saturating_sub(info.header_size).max(1);
            PoolSummary {
                name: info.name.clone(),
                size: info.size,
                used: info.size_used,
                fill: info.size_used as f64 / room as f64,
                oldest: info.oldest_index,
                newest: info.newest_index,
                info: Some(info),
                error: None,
            }
        }
        Err(e) => PoolSummary {
            name: pool.name().to_string(),
            size: 0,
            used: 0,
            fill: 0.0,
            oldest: None,
            newest: None,
            info: None,
            error: Some(e.to_string()),
        },
    }
}

fn scan(pools: &Pools, open: &mut HashMap<String, Pool>) -> Snapshot {
    let mut snap = Snapshot {
        dir: pools.dir().to_path_buf(),
        ..Default::default()
    };
    let names = match pools.list() {
        Ok(n) => n,
        Err(e) => {
            snap.error = Some(e.to_string());
            return snap;
        }
    };
    open.retain(|k, _| names.contains(k));
    for name in names {
        if !open.contains_key(&name) {
            match pools.open(&name) {
                Ok(p) => {
                    open.insert(name.clone(), p);
                }
                Err(e) => {
                    snap.pools.push(PoolSummary {
                        name,
                        size: 0,
                        used: 0,
                        fill: 0.0,
                        oldest: None,
                        newest: None,
                        info: None,
                        error: Some(e.to_string()),
                    });
                    continue;
                }
            }
        }
        if let Some(p) = open.get_mut(&name) {
            snap.pools.push(summarize(p));
        }
    }
    snap.pools.sort_by(|a, b| a.name.cmp(&b.name));
    snap
}

fn run_cmd(pools: &Pools, open: &mut HashMap<String, Pool>, cmd: Cmd) -> Option<Event> {
    let fail = |op, pool: &str, error| {
        Some(Event::Failed {
            op,
            pool: pool.to_string(),
            error,
        })
    };
    match cmd {
        Cmd::Refresh => None,
        Cmd::Create(name, opts) => match pools.create(&name, &opts) {
            Ok(()) => Some(Event::Created { pool: name }),
            Err(e) => fail("create", &name, e),
        },
        Cmd::Dispose(name) => {
            open.remove(&name);
            match pools.dispose(&name) {
                Ok(()) => Some(Event::Disposed { pool: name }),
                Err(e) => fail("dispose", &name, e),
            }
        }
        Cmd::Rename(from, to) => {
            open.remove(&from);
            match pools.rename(&from, &to) {
                Ok(()) => Some(Event::Renamed { from, to }),
                Err(e) => fail("rename", &from, e),
            }
        }
        Cmd::Change(name, opts) => match with_pool(pools, open, &name, |p| p.change_options(&opts))
        {
            Ok(()) => Some(Event::Changed { pool: name }),
            Err(e) => fail("change", &name, e),
        },
        Cmd::Deposit(name, bytes) => {
            let now = super::store::now_seconds();
            match with_pool(pools, open, &name, |p| p.deposit(&bytes, now)) {
                Ok((index, timestamp)) => Some(Event::Deposited {
                    pool: name,
                    index,
                    timestamp,
                }),
                Err(e) => fail("deposit", &name, e),
            }
        }
        Cmd::Info(name) => match with_pool(pools, open, &name, |p| p.info()) {
            Ok(info) => Some(Event::Info {
                pool: name,
                info: Box::new(info),
            }),
            Err(e) => fail("info", &name, e),
        },
    }
}

fn with_pool<R>(
    pools: &Pools,
    open: &mut HashMap<String, Pool>,
    name: &str,
    f: impl FnOnce(&mut Pool) -> super::Result<R>,
) -> super::Result<R> {
    if !open.contains_key(name) {
        let p = pools.open(name)?;
        open.insert(name.to_string(), p);
    }
    match open.get_mut(name) {
        Some(p) => f(p),
        None => Err(Error::NoSuchPool { pool: name.into() }),
    }
}

async fn worker(
    pools: Pools,
    mut rx: mpsc::Receiver<Cmd>,
    events: mpsc::Sender<Event>,
    snapshot: watch::Sender<Snapshot>,
    refresh: Duration,
) {
    // Open pools live on one blocking thread at a time; the mutex is never
    // contended (commands run one after another) and only exists to move the
    // map into spawn_blocking.
    let open = Arc::new(std::sync::Mutex::new(HashMap::<String, Pool>::new()));
    let mut tick = tokio::time::interval(refresh.max(Duration::from_millis(10)));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    loop {
        let cmd = tokio::select! {
            c = rx.recv() => match c { Some(c) => Some(c), None => return },
            _ = tick.tick() => None,
        };
        let p = pools.clone();
        let o = open.clone();
        let res = tokio::task::spawn_blocking(move || {
            let mut guard = match o.lock() {
                Ok(g) => g,
                Err(poisoned) => poisoned.into_inner(),
            };
            let ev = cmd.map(|c| run_cmd(&p, &mut guard, c));
            (ev.flatten(), scan(&p, &mut guard))
        })
        .await;
        let Ok((ev, snap)) = res else { continue };
        if let Some(ev) = ev {
            // Bounded: a console that stops reading loses events, never stalls the engine.
            let _ = events.try_send(ev);
        }
        snapshot.send_if_modified(|s| {
            if *s != snap {
                *s = snap;
                true
            } else {
                false
            }
        });
        if snapshot.is_closed() && events.is_closed() {
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn handle_creates_lists_deposits_and_tails() {
        let tmp = tempfile::tempdir().unwrap();
        let (h, mut ev) = PoolHandle::spawn(tmp.path(), Duration::from_millis(20));
        h.create(
            "p",
            CreateOptions {
                size: 65536,
                flock: true,
                ..Default::default()
            },
        )
        .unwrap();
        assert!(matches!(ev.recv().await, Some(Event::Created { .. })));
        let mut tail = h.tail("p", From::Oldest, 16);
        let prot = {
            let mut v = vec![2u8, 0, 0, 0, 0, 0, 0, 0x10];
            v.extend_from_slice(&[0; 8]);
            v
        };
        h.deposit("p", prot.clone()).unwrap();
        match ev.recv().await {
            Some(Event::Deposited { index, .. }) => assert_eq!(index, 0),
            other => panic!("{other:?}"),
        }
        let got = tokio::time::timeout(Duration::from_secs(10), tail.next())
            .await
            .unwrap();
        match got {
            Some(super::super::io::TailItem::Protein(e)) => assert_eq!(e.protein, prot),
            other => panic!("{other:?}"),
        }
        let mut snap = h.snapshot();
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        loop {
            if snap
                .borrow()
                .pools
                .first()
                .is_some_and(|p| p.newest == Some(0))
            {
                break;
            }
            assert!(tokio::time::Instant::now() < deadline);
            let _ = tokio::time::timeout(Duration::from_millis(200), snap.changed()).await;
        }
    }
}
