//! [`Handle`]: what the console and the CLI use to watch, join, leave and send
//! to Spread groups (groups spec section 13).
//!
//! A background task owns the [`Client`]; the handle talks to it through a
//! bounded command channel and gets [`Event`]s on a bounded channel and
//! [`Stats`] on a watch channel. Handle methods never block or await the
//! network: a full command queue is an error for the caller to show, and a
//! full event queue drops events and counts them. The task reconnects with
//! backoff and rejoins its groups when the daemon goes away.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use bytes::Bytes;
use tokio::sync::{mpsc, watch};

use super::codec::{Name, SELF_DISCARD};
use super::io::{Client, ConnectOptions, DaemonAddr};
use super::protocol::{Message, Service, View};
use super::Error;
use crate::net::transport::Backoff;

/// Commands to the client task.
#[derive(Clone, Debug)]
enum Command {
    Join(String),
    Leave(String),
    Send {
        service: u32,
        groups: Vec<String>,
        msg_type: i16,
        data: Bytes,
    },
    Disconnect,
}

/// What the client task reports.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Event {
    /// Connected (again); groups asked for so far are being joined.
    Connected {
        /// Our private group.
        private_group: Name,
        /// The daemon's version.
        daemon_version: (u8, u8, u8),
    },
    /// A message from the daemon.
    Message(Message),
    /// A request was refused before it was sent (bad group name, too long…).
    Refused {
        /// What was asked.
        what: String,
        /// Why it was refused.
        error: String,
    },
    /// The connection ended; the task retries after `retry_in` unless the
    /// handle asked to disconnect.
    Disconnected {
        /// Why.
        reason: String,
        /// Next attempt, if any.
        retry_in: Option<Duration>,
    },
}

/// Connection state for the console's status badge.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum ConnState {
    /// Connecting or waiting to retry.
    #[default]
    Connecting,
    /// Connected.
    Connected,
    /// Stopped for good.
    Closed,
}

/// Counters and views, published on every change.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Stats {
    /// Connection state.
    pub state: ConnState,
    /// The daemon address.
    pub daemon: String,
    /// Our private group while connected.
    pub private_group: Option<Name>,
    /// Regular messages received.
    pub messages_in: u64,
    /// Payload bytes received.
    pub bytes_in: u64,
    /// Messages sent.
    pub messages_out: u64,
    /// Payload bytes sent.
    pub bytes_out: u64,
    /// Membership, transitional and self-leave messages received.
    pub memberships: u64,
    /// Rejects received.
    pub rejects: u64,
    /// Events dropped because the consumer did not keep up.
    pub events_dropped: u64,
    /// Connection attempts that failed or ended.
    pub errors: u64,
    /// Groups the handle asked to be in.
    pub joined: BTreeSet<String>,
    /// Latest view of each group.
    pub views: BTreeMap<Name, View>,
}

/// Capacity of the command and event channels.
const CHANNEL: usize = 1024;

/// The console's and CLI's handle on one Spread connection.
pub struct Handle {
    cmd: mpsc::Sender<Command>,
    events: mpsc::Receiver<Event>,
    stats: watch::Receiver<Stats>,
}

impl Handle {
    /// Starts a client task for `addr`; must be called inside a tokio runtime.
    /// Returns at once; [`Event::Connected`] tells when the link is up.
    pub fn spawn(addr: DaemonAddr, opts: ConnectOptions) -> Handle {
        let (cmd, cmd_rx) = mpsc::channel(CHANNEL);
        let (ev_tx, events) = mpsc::channel(CHANNEL);
        let (st_tx, stats) = watch::channel(Stats {
            daemon: addr.to_string(),
            ..Stats::default()
        });
        tokio::spawn(run(addr, opts, cmd_rx, ev_tx, st_tx));
        Handle { cmd, events, stats }
    }

    fn push(&self, c: Command) -> Result<(), Error> {
        self.cmd.try_send(c).map_err(|e| match e {
            mpsc::error::TrySendError::Full(_) => Error::Busy,
            mpsc::error::TrySendError::Closed(_) => Error::Closed,
        })
    }

    /// Joins a group (kept across reconnects).
    pub fn join(&self, group: &str) -> Result<(), Error> {
        super::protocol::group_name(group)?;
        self.push(Command::Join(group.to_string()))
    }

    /// Joins several groups to watch their membership.
    pub fn watch(&self, groups: &[String]) -> Result<(), Error> {
        groups.iter().try_for_each(|g| self.join(g))
    }

    /// Leaves a group.
    pub fn leave(&self, group: &str) -> Result<(), Error> {
        super::protocol::group_name(group)?;
        self.push(Command::Leave(group.to_string()))
    }

    /// Multicasts `data` to `groups` with `service` (and SELF_DISCARD when
    /// `self_discard`).
    pub fn send(
        &self,
        groups: &[String],
        service: Service,
        self_discard: bool,
        msg_type: i16,
        data: Bytes,
    ) -> Result<(), Error> {
        for g in groups {
            super::protocol::destination(g)?;
        }
        let service = service.bits() | if self_discard { SELF_DISCARD } else { 0 };
        self.push(Command::Send {
            service,
            groups: groups.to_vec(),
            msg_type,
            data,
        })
    }

    /// Disconnects for good (sends KILL).
    pub fn disconnect(&self) -> Result<(), Error> {
        self.push(Command::Disconnect)
    }

    /// The next event without waiting.
    pub fn try_event(&mut self) -> Option<Event> {
        self.events.try_recv().ok()
    }

    /// Waits for the next event; `None` once the task has stopped.
    pub async fn next_event(&mut self) -> Option<Event> {
        self.events.recv().await
    }

    /// Live counters and views.
    pub fn stats(&self) -> watch::Receiver<Stats> {
        self.stats.clone()
    }
}

struct Task {
    events: mpsc::Sender<Event>,
    stats: watch::Sender<Stats>,
}

impl Task {
    fn emit(&self, e: Event) {
        if self.events.try_send(e).is_err() {
            self.stats.send_modify(|s| s.events_dropped += 1);
        }
    }
}

async fn run(
    addr: DaemonAddr,
    opts: ConnectOptions,
    mut cmds: mpsc::Receiver<Command>,
    events: mpsc::Sender<Event>,
    stats: watch::Sender<Stats>,
) {
    let task = Task { events, stats };
    let mut backoff = Backoff::new(Duration::from_millis(200), Duration::from_secs(10));
    let mut joined: BTreeSet<String> = BTreeSet::new();
    loop {
        let mut client = match Client::connect(&addr, &opts).await {
            Ok(c) => c,
            Err(e) => {
                let delay = backoff.next_delay();
                task.stats.send_modify(|s| {
                    s.errors += 1;
                    s.state = ConnState::Connecting;
                });
                task.emit(Event::Disconnected {
                    reason: e.to_string(),
                    retry_in: Some(delay),
                });
                // Commands keep working while we wait: joins are remembered.
                let deadline = tokio::time::sleep(delay);
                tokio::pin!(deadline);
                loop {
                    tokio::select! {
                        _ = &mut deadline => break,
                        c = cmds.recv() => match c {
                            None | Some(Command::Disconnect) => return stop(&task),
                            Some(Command::Join(g)) => { joined.insert(g); }
                            Some(Command::Leave(g)) => { joined.remove(&g); }
                            Some(Command::Send { .. }) => task.emit(Event::Refused {
                                what: "send".into(),
                                error: "not connected".into(),
                            }),
                        }
                    }
                }
                continue;
            }
        };
        backoff.reset();
        let me = client.private_group().clone();
        task.stats.send_modify(|s| {
            s.state = ConnState::Connected;
            s.private_group = Some(me.clone());
            s.views.clear();
        });
        task.emit(Event::Connected {
            private_group: me,
            daemon_version: client.daemon_version(),
        });
        let mut failure = None;
        for g in &joined {
            if let Err(e) = client.join(g).await {
                failure = Some(e);
                break;
            }
        }
        let reason = match failure {
            Some(e) => e.to_string(),
            None => loop {
                tokio::select! {
                    c = cmds.recv() => {
                        let c = match c {
                            None | Some(Command::Disconnect) => {
                                let _ = client.disconnect().await;
                                return stop(&task);
                            }
                            Some(c) => c,
                        };
                        if let Err(e) = apply(&task, &mut client, &mut joined, c).await {
                            break e.to_string();
                        }
                    }
                    m = client.receive() => match m {
                        Ok(m) => {
                            task.stats.send_modify(|s| {
                                match &m {
                                    Message::Regular { data, .. } => {
                                        s.messages_in += 1;
                                        s.bytes_in += data.len() as u64;
                                    }
                                    Message::Reject { .. } => s.rejects += 1,
                                    _ => {
                                        s.memberships += 1;
                                        // Views change only with membership messages;
                                        // copying them per data message would cost
                                        // the console at high rates.
                                        s.views.clone_from(&client.state().views);
                                    }
                                }
                            });
                            task.emit(Event::Message(m));
                        }
                        Err(e) => break e.to_string(),
                    }
                }
            },
        };
        let delay = backoff.next_delay();
        task.stats.send_modify(|s| {
            s.errors += 1;
            s.state = ConnState::Connecting;
            s.private_group = None;
        });
        task.emit(Event::Disconnected {
            reason,
            retry_in: Some(delay),
        });
        tokio::time::sleep(delay).await;
    }
}

fn stop(task: &Task) {
    task.stats.send_modify(|s| {
        s.state = ConnState::Closed;
        s.private_group = None;
    });
    task.emit(Event::Disconnected {
        reason: "disconnected by request".into(),
        retry_in: None,
    });
}

/// Applies one command; `Err` only for transport failures (local refusals
/// become [`Event::Refused`]).
async fn apply(
    task: &Task,
    client: &mut Client,
    joined: &mut BTreeSet<String>,
    c: Command,
) -> Result<(), Error> {
    let (what, r) = match c {
        Command::Join(g) => {
            let r = client.join(&g).await;
            if r.is_ok() {
                joined.insert(g.clone());
            }
            (format!("join {g}"), r.map(|_| 0))
        }
        Command::Leave(g) => {
            joined.remove(&g);
            (format!("leave {g}"), client.leave(&g).await.map(|_| 0))
        }
        Command::Send {
            service,
            groups,
            msg_type,
            data,
        } => {
            let refs: Vec<&str> = groups.iter().map(String::as_str).collect();
            let r = client.multicast(service, &refs, msg_type, data).await;
            (format!("send to {}", groups.join(",")), r)
        }
        Command::Disconnect => return Ok(()),
    };
    match r {
        Ok(n) => {
            task.stats.send_modify(|s| {
                s.joined.clone_from(joined);
                if what.starts_with("send") {
                    s.messages_out += 1;
                    s.bytes_out += n as u64;
                }
            });
            Ok(())
        }
        Err(e @ (Error::Illegal { .. } | Error::TooLong { .. })) => {
            task.emit(Event::Refused {
                what,
                error: e.to_string(),
            });
            Ok(())
        }
        Err(e) => Err(e),
    }
}
