//! Graceful shutdown shared by servers and clients: stop accepting, let open
//! connections drain, then close them with a reason.
//!
//! A [`Shutdown`] is cloned into every task. The owner calls [`Shutdown::trigger`]
//! (SIGTERM/SIGINT in `serve`, the end of a test), tasks notice through
//! [`Shutdown::requested`], and [`Shutdown::drain`] waits for tracked tasks with a
//! deadline.

use std::future::Future;
use std::time::Duration;

use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

/// Why a connection was closed; logged with the peer on every close.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CloseReason {
    /// The peer closed the connection.
    PeerClosed,
    /// The server is shutting down.
    Shutdown,
    /// No traffic within the idle timeout.
    Idle,
    /// The peer broke the protocol; the text says how.
    Protocol(String),
    /// An I/O error.
    Io(String),
    /// A limit was exceeded (connections, message size, hoses…).
    Limit(String),
}

impl std::fmt::Display for CloseReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            CloseReason::PeerClosed => f.write_str("peer closed"),
            CloseReason::Shutdown => f.write_str("server shutting down"),
            CloseReason::Idle => f.write_str("idle timeout"),
            CloseReason::Protocol(why) => write!(f, "protocol error: {why}"),
            CloseReason::Io(why) => write!(f, "i/o error: {why}"),
            CloseReason::Limit(why) => write!(f, "limit exceeded: {why}"),
        }
    }
}

/// A cloneable shutdown signal plus a tracker of the tasks that must drain.
#[derive(Clone, Debug, Default)]
pub struct Shutdown {
    token: CancellationToken,
    tracker: TaskTracker,
}

impl Shutdown {
    /// A new, untriggered shutdown.
    pub fn new() -> Self {
        Self::default()
    }

    /// Asks every task to stop: listeners stop accepting, connections finish the
    /// request in hand and close.
    pub fn trigger(&self) {
        self.token.cancel();
    }

    /// Whether shutdown was triggered.
    pub fn is_triggered(&self) -> bool {
        self.token.is_cancelled()
    }

    /// Resolves once shutdown is triggered; use in `tokio::select!`.
    pub fn requested(&self) -> impl Future<Output = ()> + Send + 'static {
        self.token.clone().cancelled_owned()
    }

    /// A child signal: triggered with this one, or on its own (one connection).
    pub fn child(&self) -> Shutdown {
        Shutdown {
            token: self.token.child_token(),
            tracker: self.tracker.clone(),
        }
    }

    /// Spawns a task that [`drain`](Self::drain) waits for.
    pub fn spawn<F>(&self, fut: F) -> tokio::task::JoinHandle<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        self.tracker.spawn(fut)
    }

    /// Triggers shutdown and waits up to `deadline` for tracked tasks to finish.
    /// Returns `false` when some were still running at the deadline.
    pub async fn drain(&self, deadline: Duration) -> bool {
        self.trigger();
        self.tracker.close();
        tokio::time::timeout(deadline, self.tracker.wait())
            .await
            .is_ok()
    }
}

/// Resolves on SIGTERM, SIGINT or SIGHUP, naming the signal.
pub async fn termination_signal() -> &'static str {
    use tokio::signal::unix::{signal, SignalKind};
    let mut term = signal(SignalKind::terminate()).ok();
    let mut int = signal(SignalKind::interrupt()).ok();
    let mut hup = signal(SignalKind::hangup()).ok();
    async fn recv(s: &mut Option<tokio::signal::unix::Signal>) {
        match s {
            Some(s) => {
                s.recv().await;
            }
            None => std::future::pending::<()>().await,
        }
    }
    tokio::select! {
        _ = recv(&mut term) => "SIGTERM",
        _ = recv(&mut int) => "SIGINT",
        _ = recv(&mut hup) => "SIGHUP",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn drain_waits_for_tasks_that_watch_the_signal() {
        let shutdown = Shutdown::new();
        let watcher = shutdown.clone();
        shutdown.spawn(async move {
            watcher.requested().await;
        });
        assert!(shutdown.drain(Duration::from_secs(5)).await);
    }

    #[tokio::test(start_paused = true)]
    async fn drain_gives_up_at_the_deadline() {
        let shutdown = Shutdown::new();
        shutdown.spawn(std::future::pending::<()>());
        assert!(!shutdown.drain(Duration::from_millis(50)).await);
    }

    #[test]
    fn child_follows_parent() {
        let parent = Shutdown::new();
        let child = parent.child();
        parent.trigger();
        assert!(child.is_triggered());
    }
}
