//! [`RpcHandle`]: what the console and the CLI use to talk to a simpy.io peer.
//!
//! Every method returns at once: calls go into a bounded command queue, replies
//! come back as [`Notice`] events on a bounded channel, counters through a
//! `watch` channel. The connection runs on its own task (see `io.rs`).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use tokio::sync::{mpsc, watch};

use super::io::{self, Command, Done, Notice, Observer, Options, Service, Stats};
use super::json::Json;
use super::protocol::Call;
use crate::net::shutdown::Shutdown;
use crate::net::transport::Target;

/// Capacity of the event channel towards the console.
pub const EVENT_QUEUE: usize = 1024;

/// Why the handle refused a command without sending anything.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HandleError {
    /// The command queue is full; try again after some replies.
    #[error("rpc command queue full ({0} queued)")]
    Busy(usize),
    /// The connection is gone.
    #[error("rpc connection closed")]
    Closed,
}

/// A simpy.io connection as the console sees it.
pub struct RpcHandle {
    target: String,
    commands: mpsc::Sender<Command>,
    events: mpsc::Receiver<Notice>,
    stats: watch::Receiver<Stats>,
    dropped: Arc<AtomicU64>,
    next_token: u64,
    shutdown: Shutdown,
}

impl RpcHandle {
    /// Starts connecting to `target` in the background and returns at once;
    /// calls made before the connection is up wait in the queue. `service` is
    /// what the peer may call back. Must be called inside a tokio runtime.
    pub fn connect(
        target: Target,
        tls: Option<Arc<rustls::ClientConfig>>,
        service: Arc<Service>,
        opts: Options,
        shutdown: &Shutdown,
    ) -> Self {
        let (tx, rx) = mpsc::channel(opts.command_queue.max(1));
        let (events_tx, events) = mpsc::channel(EVENT_QUEUE);
        let (stats_tx, stats) = watch::channel(Stats::default());
        let dropped = Arc::new(AtomicU64::new(0));
        let observer = Observer {
            notices: events_tx,
            stats: stats_tx,
            dropped: dropped.clone(),
        };
        let shutdown = shutdown.child();
        let client = io::client_from(tx.clone(), opts.call_timeout);
        let task_shutdown = shutdown.clone();
        let name = target.to_string();
        let target_text = name.clone();
        tokio::spawn(async move {
            match io::open(&target, tls).await {
                Ok((stream, peer)) => {
                    let reason = io::spawn_observed(
                        stream,
                        peer.clone(),
                        service,
                        opts,
                        rx,
                        client,
                        task_shutdown,
                        observer,
                    )
                    .await;
                    tracing::info!(engine = "rpc", %peer, %reason, "connection closed");
                }
                Err(e) => refuse_all(rx, &observer, &e, &name),
            }
        });
        Self {
            target: target_text,
            commands: tx,
            events,
            stats,
            dropped,
            next_token: 0,
            shutdown,
        }
    }

    /// The peer's address as given.
    pub fn target(&self) -> &str {
        &self.target
    }

    /// Sends a call; the reply arrives as [`Notice::Finished`] with the
    /// returned token.
    pub fn call(&mut self, call: Call) -> Result<u64, HandleError> {
        let token = self.next_token;
        let cmd = Command::Call {
            call,
            timeout: None,
            done: Done::Token(token),
        };
        self.try_send(cmd)?;
        self.next_token += 1;
        Ok(token)
    }

    /// Gives up on a call: its reply, if it comes, is dropped; a
    /// [`Notice::Finished`] with an "abandoned" outcome follows.
    pub fn abandon(&self, token: u64) -> Result<(), HandleError> {
        self.try_send(Command::Abandon(token))
    }

    fn try_send(&self, cmd: Command) -> Result<(), HandleError> {
        self.commands.try_send(cmd).map_err(|e| match e {
            mpsc::error::TrySendError::Full(_) => HandleError::Busy(self.commands.max_capacity()),
            mpsc::error::TrySendError::Closed(_) => HandleError::Closed,
        })
    }

    /// The next event if one is queued.
    pub fn try_event(&mut self) -> Option<Notice> {
        self.events.try_recv().ok()
    }

    /// Waits for the next event (`None` once the connection is gone and every
    /// event has been read).
    pub async fn event(&mut self) -> Option<Notice> {
        self.events.recv().await
    }

    /// The connection's counters.
    pub fn stats(&self) -> watch::Receiver<Stats> {
        self.stats.clone()
    }

    /// Events dropped because the console did not read them in time.
    pub fn dropped_events(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }

    /// Closes the connection (pending calls end with "server shutting down").
    pub fn close(&self) {
        self.shutdown.trigger();
    }
}

fn refuse_all(
    mut rx: mpsc::Receiver<Command>,
    observer: &Observer,
    err: &super::Error,
    target: &str,
) {
    let text = crate_error_chain(err);
    tracing::warn!(engine = "rpc", target, error = %text, "connect failed");
    rx.close();
    while let Ok(cmd) = rx.try_recv() {
        if let Command::Call { call, done, .. } = cmd {
            match done {
                Done::Token(token) => observer.notify_finished(token, call.path, text.clone()),
                Done::Oneshot(tx) => {
                    let _ = tx.send(Err(super::Error::Closed {
                        path: call.path,
                        reason: text.clone(),
                    }));
                }
            }
        }
    }
    observer
        .stats
        .send_modify(|s| s.closed = Some(text.clone()));
    observer.notify_closed(text);
}

fn crate_error_chain(err: &super::Error) -> String {
    let mut text = err.to_string();
    let mut source = std::error::Error::source(err);
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}

/// Parses the console's or the CLI's text inputs into a call: `args` must be
/// a JSON array (empty text means `[]`), `kwargs` a JSON object (empty means
/// `{}`). The error says which field is wrong and why.
pub fn parse_call(path: &str, args: &str, kwargs: &str) -> Result<Call, String> {
    let args = match args.trim() {
        "" => Vec::new(),
        text => match Json::parse(text) {
            Ok(Json::Array(a)) => a,
            Ok(other) => {
                return Err(format!(
                    "arguments must be a JSON array, not {}",
                    other.type_name()
                ))
            }
            Err(e) => return Err(format!("arguments: {e}")),
        },
    };
    let kwargs = match kwargs.trim() {
        "" => Vec::new(),
        text => match Json::parse(text) {
            Ok(Json::Object(k)) => k,
            Ok(other) => {
                return Err(format!(
                    "keyword arguments must be a JSON object, not {}",
                    other.type_name()
                ))
            }
            Err(e) => return Err(format!("keyword arguments: {e}")),
        },
    };
    Ok(Call {
        path: path.trim_matches('/').to_owned(),
        args,
        kwargs,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn call_text_is_validated() {
        let c = parse_call("math/mul", "[6, 7]", "").unwrap();
        assert_eq!(c.to_content().to_text(), "[\"math/mul\", [6, 7], {}]");
        assert!(parse_call("x", "{}", "").unwrap_err().contains("array"));
        assert!(parse_call("x", "[", "")
            .unwrap_err()
            .starts_with("arguments"));
        assert!(parse_call("x", "", "[]").unwrap_err().contains("object"));
    }
}
