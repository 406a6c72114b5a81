//! Await and notify through a pool's notification FIFOs (plasma spec 6.7), so
//! libPlasma depositors wake tidepool awaiters and the reverse; blocking awaits
//! for the CLI, an async tail stream for the console, and gangs (several pools
//! awaited at once, libPlasma's pool gangs).
//!
//! Awaiter: create `notification/iton-XXXXXXXXXXXX` under the notification lock,
//! open it read-write non-blocking, re-check the pool, then wait on it.
//! Depositor: after releasing the deposit lock, take the notification lock and
//! write one byte to every FIFO in the directory (ENXIO: stale, unlink; EACCES:
//! skip). The directory listing is cached and re-read whenever the directory's
//! mtime changes or is recent, which the issue allows; a libPlasma awaiter that
//! adds a FIFO changes the mtime, so it is always found.

use std::fs::{self, File, OpenOptions};
use std::io::{Read, Write};
use std::os::fd::AsFd;
use std::os::unix::fs::{FileTypeExt, OpenOptionsExt};
use std::path::PathBuf;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant, SystemTime};

use futures::Stream;
use nix::poll::{PollFd, PollFlags, PollTimeout};
use tokio::net::unix::pipe;
use tokio::sync::mpsc;

use super::store::{Entry, Pool, Pools};
use super::{Error, Result};

/// Cached listing of the notification directory.
#[derive(Debug, Default)]
pub struct NotifyCache {
    mtime: Option<SystemTime>,
    fifos: Vec<PathBuf>,
    /// The notification directory, kept open: `fstat` on it costs no path
    /// lookup, which is most of a single deposit's wake-up check.
    dir: Option<File>,
}

/// A directory modified this recently is always re-read: file timestamps are
/// coarse (a jiffy or so), so two changes inside one tick share an mtime.
const MTIME_SLACK: Duration = Duration::from_millis(50);

fn fifo_err<'a>(pool: &'a str, op: &'static str) -> impl FnOnce(std::io::Error) -> Error + 'a {
    move |source| Error::Fifo {
        pool: pool.to_string(),
        op,
        source,
    }
}

/// Wakes every awaiter of the pool (after a deposit).
pub fn wake_awaiters(pool: &mut Pool) -> Result<()> {
    if pool.notify_cache.dir.is_none() {
        pool.notify_cache.dir = File::open(&pool.paths().notify_dir).ok();
    }
    let mtime = match &pool.notify_cache.dir {
        Some(d) => d.metadata(),
        None => fs::metadata(&pool.paths().notify_dir),
    }
    .and_then(|m| m.modified())
    .ok();
    let fresh = match (mtime, pool.notify_cache.mtime) {
        (Some(now), Some(cached)) => {
            now == cached
                && SystemTime::now()
                    .duration_since(now)
                    .is_ok_and(|d| d > MTIME_SLACK)
        }
        _ => false,
    };
    if fresh && pool.notify_cache.fifos.is_empty() {
        return Ok(());
    }
    let dir = pool.paths().notify_dir.clone();
    pool.with_notify_lock(|pool| {
        if !fresh {
            let mut fifos = Vec::new();
            if let Ok(rd) = fs::read_dir(&dir) {
                for e in rd.flatten() {
                    fifos.push(e.path());
                }
            }
            pool.notify_cache.mtime = mtime;
            pool.notify_cache.fifos = fifos;
        }
        let mut stale = false;
        for path in &pool.notify_cache.fifos {
            let f = OpenOptions::new()
                .write(true)
                .custom_flags(libc::O_NONBLOCK | libc::O_NOFOLLOW)
                .open(path);
            match f {
                Ok(mut f) => {
                    // Only FIFOs: a regular file planted in the world-writable directory is ignored.
                    if f.metadata()
                        .map(|m| m.file_type().is_fifo())
                        .unwrap_or(false)
                    {
                        let _ = f.write(&[0u8]);
                    }
                }
                Err(e) if e.raw_os_error() == Some(libc::EACCES) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => stale = true,
                Err(_) => {
                    // ENXIO: nobody reads it any more (an awaiter died); remove it as libPlasma does.
                    let _ = fs::remove_file(path);
                    stale = true;
                }
            }
        }
        if stale {
            pool.notify_cache.mtime = None;
        }
    })
}

/// An awaiter's FIFO; unlinked on drop.
#[derive(Debug)]
pub struct Awaiter {
    path: PathBuf,
    file: File,
    woken: Arc<std::sync::atomic::AtomicBool>,
}

/// Cancels a blocking await from another thread (`pool_hose_wake_up`): the
/// await returns POOL_AWAIT_WOKEN.
#[derive(Debug, Clone)]
pub struct Waker {
    fifo: Arc<File>,
    woken: Arc<std::sync::atomic::AtomicBool>,
}

impl Waker {
    /// Wakes the await (or the next one, if none is in progress).
    pub fn wake(&self) {
        self.woken.store(true, Ordering::Release);
        let _ = (&*self.fifo).write(&[0u8]);
    }
}

/// A [`Waker`] for blocking awaits on `pool` (`pool_hose_enable_wakeup`).
pub fn waker(pool: &mut Pool) -> Result<Waker> {
    ensure_awaiter(pool)?;
    let name = pool.name().to_string();
    let a = pool
        .awaiter
        .as_ref()
        .ok_or_else(|| fifo_err(&name, "wakeup")(std::io::Error::other("no awaiter fifo")))?;
    let fifo = a.file.try_clone().map_err(fifo_err(&name, "dup fifo"))?;
    Ok(Waker {
        fifo: Arc::new(fifo),
        woken: a.woken.clone(),
    })
}

impl Drop for Awaiter {
    fn drop(&mut self) {
        let _ = fs::remove_file(&self.path);
    }
}

impl Awaiter {
    /// Drains pending wake-up bytes.
    fn drain(&mut self) {
        let mut buf = [0u8; 512];
        while matches!(self.file.read(&mut buf), Ok(n) if n > 0) {}
    }
}

fn random_name() -> String {
    let mut r: u64 = rand::random();
    (0..12)
        .map(|_| {
            let n = (r % 36) as u8;
            r /= 36;
            (if n < 10 { b'0' + n } else { b'A' + n - 10 }) as char
        })
        .collect()
}

/// Makes sure the pool has an awaiter FIFO (created under the notification lock).
pub fn ensure_awaiter(pool: &mut Pool) -> Result<()> {
    if pool.awaiter.is_some() {
        return Ok(());
    }
    let name = pool.name().to_string();
    let dir = pool.paths().notify_dir.clone();
    let made = pool.with_notify_lock(|_| -> Result<Awaiter> {
        for _ in 0..16 {
            let path = dir.join(format!("iton-{}", random_name()));
            match nix::unistd::mkfifo(&path, nix::sys::stat::Mode::from_bits_truncate(0o622)) {
                Ok(()) => {}
                Err(nix::errno::Errno::EEXIST) => continue,
                Err(e) => return Err(fifo_err(&name, "mkfifo")(std::io::Error::from(e))),
            }
            // World-writable so depositors of any user can wake us (umask would narrow it).
            let _ = fs::set_permissions(&path, std::os::unix::fs::PermissionsExt::from_mode(0o622));
            let file = OpenOptions::new()
                .read(true)
                .write(true)
                .custom_flags(libc::O_NONBLOCK | libc::O_NOFOLLOW | libc::O_CLOEXEC)
                .open(&path)
                .map_err(fifo_err(&name, "open fifo"))?;
            let is_fifo = file
                .metadata()
                .map(|m| m.file_type().is_fifo())
                .unwrap_or(false);
            if !is_fifo {
                return Err(fifo_err(&name, "open fifo")(std::io::Error::other(
                    "not a fifo",
                )));
            }
            return Ok(Awaiter {
                path,
                file,
                woken: Default::default(),
            });
        }
        Err(fifo_err(&name, "mkfifo")(std::io::Error::other(
            "no free fifo name",
        )))
    })??;
    pool.awaiter = Some(made);
    Ok(())
}

/// How long an await may wait (libPlasma: −1 forever, 0 no wait, else seconds).
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Wait {
    /// POOL_WAIT_FOREVER.
    Forever,
    /// POOL_NO_WAIT.
    NoWait,
    /// A timeout.
    For(Duration),
}

/// Waits for the protein with index `idx` (`pool_await_next` when `idx` is the
/// next index). Returns POOL_AWAIT_TIMEDOUT on timeout.
pub fn await_index(pool: &mut Pool, idx: i64, wait: Wait) -> Result<Entry> {
    let deadline = match wait {
        Wait::For(d) => Some(Instant::now() + d),
        _ => None,
    };
    loop {
        match pool.nth(idx) {
            Err(Error::NoSuchProtein { .. }) if pool.newest_index()?.is_none_or(|n| n < idx) => {}
            other => return other,
        }
        if wait == Wait::NoWait {
            return Err(Error::Timeout {
                pool: pool.name().to_string(),
            });
        }
        ensure_awaiter(pool)?;
        // Re-check after the FIFO exists: a deposit in between has woken nobody.
        match pool.nth(idx) {
            Err(Error::NoSuchProtein { .. }) if pool.newest_index()?.is_none_or(|n| n < idx) => {}
            other => return other,
        }
        let timeout = match deadline {
            None => PollTimeout::NONE,
            Some(d) => {
                let left = d.saturating_duration_since(Instant::now());
                if left.is_zero() {
                    return Err(Error::Timeout {
                        pool: pool.name().to_string(),
                    });
                }
                PollTimeout::try_from(left.as_millis().clamp(1, i32::MAX as u128) as i32)
                    .unwrap_or(PollTimeout::MAX)
            }
        };
        let name = pool.name().to_string();
        if let Some(a) = pool.awaiter.as_mut() {
            let mut fds = [PollFd::new(a.file.as_fd(), PollFlags::POLLIN)];
            match nix::poll::poll(&mut fds, timeout) {
                Ok(_) | Err(nix::errno::Errno::EINTR) => {}
                Err(e) => return Err(fifo_err(&name, "poll")(std::io::Error::from(e))),
            }
            a.drain();
            if a.woken.swap(false, Ordering::AcqRel) {
                return Err(Error::Woken { pool: name });
            }
        }
    }
}

/// Awaits the protein at the hose position and moves past it
/// (`pool_await_next`): returns at once when it is there; a position already
/// overwritten reads the oldest protein instead, as [`Pool::next`] does. POOL_AWAIT_TIMEDOUT
/// when nothing arrives in time (also for [`Wait::NoWait`] on an empty
/// position, as libPlasma reports it), POOL_AWAIT_WOKEN after a [`Waker`].
pub fn await_next(pool: &mut Pool, wait: Wait) -> Result<Entry> {
    let deadline = match wait {
        Wait::For(d) => Some(Instant::now() + d),
        _ => None,
    };
    loop {
        match pool.next() {
            Err(Error::NoSuchProtein { .. }) => {}
            other => return other,
        }
        let left = match (wait, deadline) {
            (Wait::NoWait, _) => Wait::NoWait,
            (_, Some(d)) => Wait::For(d.saturating_duration_since(Instant::now())),
            (w, None) => w,
        };
        if left == Wait::NoWait || left == Wait::For(Duration::ZERO) {
            return Err(Error::Timeout {
                pool: pool.name().to_string(),
            });
        }
        let want = pool.index().max(0);
        match await_index(pool, want, left) {
            Ok(e) => {
                pool.seekto(e.index + 1);
                return Ok(e);
            }
            // overwritten before we read it: next() moves up to the oldest
            Err(Error::NoSuchProtein { .. }) => {}
            Err(e) => return Err(e),
        }
    }
}

/// Where a tail starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum From {
    /// The oldest protein still in the pool.
    Oldest,
    /// The newest protein (then everything after it).
    Newest,
    /// Only proteins deposited after the tail starts.
    Next,
    /// A given index (clamped to the oldest when already overwritten).
    Index(i64),
}

/// One item of a tail.
#[derive(Debug, Clone, PartialEq)]
pub enum TailItem {
    /// A protein.
    Protein(Entry),
    /// `n` proteins were overwritten before the tail could read them.
    Skipped(u64),
    /// The tail stopped with an error (the stream ends after it).
    Failed(String),
}

/// A tail of one pool: a bounded stream of [`TailItem`]s fed by a tokio task
/// that sleeps on the pool's notification FIFO (no busy polling). When the
/// consumer is slower than the depositors, the buffer fills, the task waits, the
/// ring overwrites, and the gap is reported as `Skipped`.
#[derive(Debug)]
pub struct Tail {
    pool: Arc<str>,
    rx: mpsc::Receiver<TailItem>,
    skipped: Arc<AtomicU64>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Tail {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Tail {
    /// A tail fed by an already spawned task; the remote pool engine builds its
    /// tails this way so local and remote tails are one type.
    pub(crate) fn from_task(
        pool: Arc<str>,
        rx: mpsc::Receiver<TailItem>,
        skipped: Arc<AtomicU64>,
        task: tokio::task::JoinHandle<()>,
    ) -> Tail {
        Tail {
            pool,
            rx,
            skipped,
            task,
        }
    }

    /// Starts tailing `name` in `pools` from `from`, buffering at most `cap`
    /// items. Must be called inside a tokio runtime; never blocks.
    pub fn spawn(pools: &Pools, name: &str, from: From, cap: usize, follow: bool) -> Tail {
        let (tx, rx) = mpsc::channel(cap.max(1));
        let skipped = Arc::new(AtomicU64::new(0));
        let pools = pools.clone();
        let owned = name.to_string();
        let sk = skipped.clone();
        let task = tokio::spawn(async move {
            let done = tx.clone();
            if let Err(e) = run_tail(&pools, &owned, from, follow, tx, sk).await {
                let _ = done.send(TailItem::Failed(e.to_string())).await;
            }
        });
        Tail {
            pool: Arc::from(name),
            rx,
            skipped,
            task,
        }
    }

    /// The pool's name.
    pub fn pool(&self) -> &Arc<str> {
        &self.pool
    }

    /// Total proteins skipped so far.
    pub fn skipped(&self) -> u64 {
        self.skipped.load(Ordering::Relaxed)
    }

    /// Next item; `None` when the tail ended.
    pub async fn next(&mut self) -> Option<TailItem> {
        self.rx.recv().await
    }

    /// Next item if one is ready (for a UI frame loop).
    pub fn try_next(&mut self) -> Option<TailItem> {
        self.rx.try_recv().ok()
    }
}

impl Stream for Tail {
    type Item = TailItem;
    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<TailItem>> {
        self.rx.poll_recv(cx)
    }
}

async fn run_tail(
    pools: &Pools,
    name: &str,
    from: From,
    follow: bool,
    tx: mpsc::Sender<TailItem>,
    skipped: Arc<AtomicU64>,
) -> Result<()> {
    let mut pool = pools.open(name)?;
    let range = pool.index_range()?;
    let mut next = match (from, range) {
        (From::Oldest, Some((o, _))) => o,
        (From::Newest, Some((_, n))) => n,
        (From::Index(i), Some((o, _))) => i.max(o),
        (From::Index(i), None) => i.max(pool.next_index()?),
        _ => pool.next_index()?,
    };
    let mut fd: Option<pipe::Receiver> = None;
    loop {
        match pool.nth(next) {
            Ok(e) => {
                next += 1;
                if tx.send(TailItem::Protein(e)).await.is_err() {
                    return Ok(());
                }
                continue;
            }
            Err(Error::NoSuchProtein { .. }) => {}
            Err(e) => return Err(e),
        }
        if let Some((o, _)) = pool.index_range()? {
            if next < o {
                let n = (o - next) as u64;
                skipped.fetch_add(n, Ordering::Relaxed);
                next = o;
                if tx.send(TailItem::Skipped(n)).await.is_err() {
                    return Ok(());
                }
                continue;
            }
        }
        if !follow {
            return Ok(());
        }
        if fd.is_none() {
            ensure_awaiter(&mut pool)?;
            let dup = pool
                .awaiter
                .as_ref()
                .map(|a| a.file.try_clone())
                .transpose()
                .map_err(fifo_err(name, "dup fifo"))?;
            if let Some(f) = dup {
                fd = Some(pipe::Receiver::from_file(f).map_err(fifo_err(name, "register fifo"))?);
            }
            // The FIFO exists now: re-check before sleeping.
            continue;
        }
        let Some(afd) = fd.as_ref() else { continue };
        tokio::select! {
            _ = tx.closed() => return Ok(()),
            ready = afd.readable() => {
                ready.map_err(fifo_err(name, "await fifo"))?;
                let mut buf = [0u8; 512];
                while matches!(afd.try_read(&mut buf), Ok(n) if n > 0) {}
            }
        }
    }
}

/// Several tails merged: `pool_await_next_multi` in stream form. Items carry the
/// pool they came from.
pub struct Gang {
    streams: futures::stream::SelectAll<futures::stream::BoxStream<'static, (Arc<str>, TailItem)>>,
}

impl Gang {
    /// A gang of tails (at least one).
    pub fn new(tails: Vec<Tail>) -> Result<Gang> {
        use futures::StreamExt;
        if tails.is_empty() {
            return Err(Error::EmptyGang);
        }
        let mut streams = futures::stream::SelectAll::new();
        for t in tails {
            let name = t.pool().clone();
            streams.push(t.map(move |item| (name.clone(), item)).boxed());
        }
        Ok(Gang { streams })
    }

    /// Next item from whichever pool has one; `None` when all tails ended.
    pub async fn next(&mut self) -> Option<(Arc<str>, TailItem)> {
        use futures::StreamExt;
        self.streams.next().await
    }
}
