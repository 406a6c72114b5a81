//! [`Handle`]: what the console (and any UI) uses to reach a hive (hive spec
//! section 9). Commands go in on a bounded channel, replies and refreshed stats
//! come back as events and on a watch channel; no method blocks or awaits the
//! network on the caller's task.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use tokio::sync::{mpsc, watch};

use super::{
    Backend, CasOutcome, Cursor, EntryMeta, Expiry, Hive, HiveError, HiveStats, PrefixPage,
};

/// Commands queued at most; beyond this [`Handle::send`] refuses at once.
pub const COMMAND_QUEUE: usize = 256;
/// Events buffered for the UI; beyond this they are dropped and counted.
pub const EVENT_QUEUE: usize = 1024;

/// A request from the UI. `tag` comes back in the matching [`Event`].
#[derive(Debug, Clone, PartialEq)]
#[allow(missing_docs)]
pub enum Command {
    Get {
        alias: Bytes,
    },
    Meta {
        alias: Bytes,
    },
    Put {
        alias: Bytes,
        content: Bytes,
        expiry: Expiry,
    },
    Update {
        alias: Bytes,
        content: Bytes,
        expiry: Expiry,
    },
    Delete {
        alias: Bytes,
    },
    CompareAndSwap {
        alias: Bytes,
        new: Bytes,
        comparand: Bytes,
        expiry: Expiry,
    },
    ExpiresAt {
        alias: Bytes,
        expiry: Expiry,
    },
    List {
        prefix: Bytes,
        cursor: Option<Cursor>,
        limit: usize,
    },
    RefreshStats,
}

/// A reply to a [`Command`].
#[derive(Debug, Clone, PartialEq)]
#[allow(missing_docs)]
pub enum Reply {
    Content(Bytes),
    Meta(EntryMeta),
    Done,
    Cas(CasOutcome),
    Page(PrefixPage),
    Stats,
}

/// What the engine reports back.
#[derive(Debug, Clone, PartialEq)]
pub struct Event {
    /// The tag given to [`Handle::send`].
    pub tag: u64,
    /// The result; a wrpme error is data to show in place.
    pub result: Result<Reply, HiveError>,
}

/// Snapshot for gauges: backend stats plus the handle's own counters.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Snapshot {
    /// Last stats read from the backend.
    pub stats: HiveStats,
    /// Operations completed through this handle.
    pub ops: u64,
    /// Operations that failed.
    pub errors: u64,
    /// Events dropped because the UI did not keep up.
    pub dropped_events: u64,
}

/// The name the console code uses.
pub type HiveHandle = Handle;

/// A cheap, cloneable front end to a hive backend.
#[derive(Clone)]
pub struct Handle {
    commands: mpsc::Sender<(u64, Command)>,
    snapshot: watch::Receiver<Snapshot>,
    next_tag: Arc<AtomicU64>,
}

/// Why [`Handle::send`] refused a command.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SendError {
    /// The command queue is full.
    #[error("hive command queue full")]
    Full,
    /// The engine task has stopped.
    #[error("hive engine stopped")]
    Closed,
}

impl Handle {
    /// Spawns the engine task for `backend` (on the current tokio runtime) and
    /// returns the handle plus the event receiver. Stats refresh every
    /// `stats_every` (and on [`Command::RefreshStats`]).
    pub fn spawn(backend: Backend, stats_every: Duration) -> (Self, mpsc::Receiver<Event>) {
        let (cmd_tx, mut cmd_rx) = mpsc::channel::<(u64, Command)>(COMMAND_QUEUE);
        let (ev_tx, ev_rx) = mpsc::channel(EVENT_QUEUE);
        let (snap_tx, snap_rx) = watch::channel(Snapshot::default());
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(stats_every);
            let mut snap = Snapshot::default();
            loop {
                tokio::select! {
                    cmd = cmd_rx.recv() => {
                        let Some((tag, cmd)) = cmd else { break };
                        let result = run(&backend, cmd).await;
                        snap.ops += 1;
                        if result.is_err() {
                            snap.errors += 1;
                        }
                        if matches!(result, Ok(Reply::Stats)) {
                            if let Ok(st) = backend.stats().await {
                                snap.stats = st;
                            }
                        }
                        if ev_tx.try_send(Event { tag, result }).is_err() {
                            snap.dropped_events += 1;
                        }
                        snap_tx.send_replace(snap.clone());
                    }
                    _ = tick.tick() => {
                        if let Ok(st) = backend.stats().await {
                            snap.stats = st;
                            snap_tx.send_replace(snap.clone());
                        }
                    }
                }
            }
        });
        (
            Self {
                commands: cmd_tx,
                snapshot: snap_rx,
                next_tag: Arc::new(AtomicU64::new(1)),
            },
            ev_rx,
        )
    }

    /// Queues a command without waiting; returns its tag.
    pub fn send(&self, cmd: Command) -> Result<u64, SendError> {
        let tag = self.next_tag.fetch_add(1, Ordering::Relaxed);
        self.commands.try_send((tag, cmd)).map_err(|e| match e {
            mpsc::error::TrySendError::Full(_) => SendError::Full,
            mpsc::error::TrySendError::Closed(_) => SendError::Closed,
        })?;
        Ok(tag)
    }

    /// The latest snapshot (never blocks).
    pub fn snapshot(&self) -> Snapshot {
        self.snapshot.borrow().clone()
    }

    /// A receiver that wakes when the snapshot changes.
    pub fn watch(&self) -> watch::Receiver<Snapshot> {
        self.snapshot.clone()
    }
}

async fn run(b: &Backend, cmd: Command) -> Result<Reply, HiveError> {
    Ok(match cmd {
        Command::Get { alias } => Reply::Content(b.get(&alias).await?),
        Command::Meta { alias } => Reply::Meta(b.meta(&alias).await?),
        Command::Put {
            alias,
            content,
            expiry,
        } => {
            b.put(&alias, content, expiry).await?;
            Reply::Done
        }
        Command::Update {
            alias,
            content,
            expiry,
        } => {
            b.update(&alias, content, expiry).await?;
            Reply::Done
        }
        Command::Delete { alias } => {
            b.delete(&alias).await?;
            Reply::Done
        }
        Command::CompareAndSwap {
            alias,
            new,
            comparand,
            expiry,
        } => Reply::Cas(b.compare_and_swap(&alias, new, &comparand, expiry).await?),
        Command::ExpiresAt { alias, expiry } => {
            b.expires_at(&alias, expiry).await?;
            Reply::Done
        }
        Command::List {
            prefix,
            cursor,
            limit,
        } => Reply::Page(b.prefix_list(&prefix, cursor, limit).await?),
        Command::RefreshStats => Reply::Stats,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::hive::store::{Config, Store};

    #[tokio::test]
    async fn handle_round_trips_commands_as_events() {
        let store = Store::open(Config::transient()).unwrap();
        let (h, mut events) = Handle::spawn(Backend::Embedded(store), Duration::from_secs(60));
        let put = h
            .send(Command::Put {
                alias: Bytes::from("a"),
                content: Bytes::from("1"),
                expiry: Expiry::Never,
            })
            .unwrap();
        let get = h
            .send(Command::Get {
                alias: Bytes::from("a"),
            })
            .unwrap();
        let missing = h
            .send(Command::Get {
                alias: Bytes::from("b"),
            })
            .unwrap();
        let e1 = events.recv().await.unwrap();
        assert_eq!((e1.tag, e1.result), (put, Ok(Reply::Done)));
        let e2 = events.recv().await.unwrap();
        assert_eq!(
            (e2.tag, e2.result),
            (get, Ok(Reply::Content(Bytes::from("1"))))
        );
        let e3 = events.recv().await.unwrap();
        assert_eq!(e3.tag, missing);
        assert_eq!(
            e3.result.unwrap_err().code,
            crate::engine::hive::ErrorCode::AliasNotFound
        );
        assert_eq!(h.snapshot().errors, 1);
    }
}
