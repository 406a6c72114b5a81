//! The Groups view's state (console spec section 3.5): what the groups engine's
//! [`Handle`] reports, folded into a group list, a membership timeline and a
//! bounded message pane, plus the link the main loop polls and the `--demo`
//! source (an embedded daemon with a few scripted clients).

use std::collections::{BTreeMap, VecDeque};
use std::time::Duration;

use bytes::Bytes;

use crate::engine::groups::handle::{ConnState, Event, Handle, Stats};
use crate::engine::groups::io::{ConnectOptions, Daemon, DaemonAddr, DaemonConfig};
use crate::engine::groups::protocol::{Cause, Message, Service};
use crate::net::shutdown::Shutdown;
use crate::tui::app::Spark;
use crate::tui::text::sanitize;

/// Rows kept in the timeline and in the message pane.
pub const GROUPS_RING: usize = 1000;

/// One membership event as the timeline shows it.
#[derive(Debug, Clone, PartialEq)]
pub struct TimelineRow {
    /// Seconds since the epoch (arrival).
    pub time: f64,
    /// The group (sanitised).
    pub group: String,
    /// `JOIN`, `LEAVE`, `DISCONNECT`, `NETWORK`, `TRANSITION`, `SELF-LEAVE`.
    pub cause: &'static str,
    /// Members that changed; for `NETWORK`, the members that moved with us.
    pub changed: Vec<String>,
    /// Member count after the change.
    pub members: usize,
    /// The view id as `proc:time:index`, when there is one.
    pub group_id: Option<String>,
}

/// One regular message received on a joined group.
#[derive(Debug, Clone, PartialEq)]
pub struct MessageRow {
    /// Seconds since the epoch (arrival).
    pub time: f64,
    /// The sender's private group.
    pub sender: String,
    /// Destination groups, comma-separated.
    pub groups: String,
    /// Service level name.
    pub service: &'static str,
    /// The sender's message type.
    pub msg_type: i16,
    /// Payload length.
    pub size: usize,
    /// Payload as sanitised text, or hex when it is not UTF-8.
    pub preview: String,
}

/// One group in the list.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct GroupRow {
    /// Members in the daemon's order (sanitised).
    pub members: Vec<String>,
    /// When each member was first seen joining (seconds since the epoch).
    pub joined_at: BTreeMap<String, f64>,
    /// Last change.
    pub changed_at: Option<f64>,
    /// Whether this client joined it (as opposed to only watching).
    pub joined: bool,
}

/// Requests the view queues for the main loop.
#[derive(Debug, Clone, PartialEq)]
pub enum GroupsCmd {
    /// Join a group.
    Join(String),
    /// Leave a group.
    Leave(String),
    /// Multicast UTF-8 text with AGREED service.
    Send {
        /// Destination group.
        group: String,
        /// Payload.
        text: String,
    },
}

impl GroupsCmd {
    /// What it does, for messages.
    pub fn describe(&self) -> String {
        match self {
            GroupsCmd::Join(g) => format!("join {g}"),
            GroupsCmd::Leave(g) => format!("leave {g}"),
            GroupsCmd::Send { group, text } => format!("send {} B to {group}", text.len()),
        }
    }
}

/// The Groups view's whole state.
#[derive(Debug, Clone, Default)]
pub struct Groups {
    /// Whether a daemon is configured at all.
    pub attached: bool,
    /// Latest counters from the handle.
    pub stats: Stats,
    /// Groups by name.
    pub groups: BTreeMap<String, GroupRow>,
    /// Selected group (index into `groups`).
    pub sel: usize,
    /// Membership timeline, oldest first.
    pub timeline: VecDeque<TimelineRow>,
    /// Whether the timeline follows new events (`f` pauses).
    pub paused: bool,
    /// Events that arrived while paused.
    pub paused_new: usize,
    /// Timeline rows scrolled back from the newest while paused.
    pub scroll_back: usize,
    /// Regular messages, oldest first.
    pub messages: VecDeque<MessageRow>,
    /// Whether the message pane is shown (`m`).
    pub show_messages: bool,
    /// Last connection problem or reject.
    pub last_error: Option<String>,
    /// Membership + message events per second.
    pub rate: Spark,
    /// Requests for the main loop.
    pub outbox: Vec<GroupsCmd>,
}

fn cause_name(c: Cause) -> &'static str {
    match c {
        Cause::Join => "JOIN",
        Cause::Leave => "LEAVE",
        Cause::Disconnect => "DISCONNECT",
        Cause::Network => "NETWORK",
    }
}

/// Service level name of wire service bits.
pub fn service_name(bits: u32) -> &'static str {
    Service::ALL
        .iter()
        .rev()
        .find(|s| bits & s.bits() != 0)
        .map(|s| match s {
            Service::Unreliable => "unreliable",
            Service::Reliable => "reliable",
            Service::Fifo => "fifo",
            Service::Causal => "causal",
            Service::Agreed => "agreed",
            Service::Safe => "safe",
        })
        .unwrap_or("unreliable")
}

/// Payload preview: sanitised text, or the first bytes in hex.
pub fn preview(data: &[u8]) -> String {
    const MAX: usize = 200;
    let head = &data[..data.len().min(MAX)];
    match std::str::from_utf8(head) {
        Ok(s) => sanitize(s),
        Err(_) => head
            .iter()
            .take(48)
            .map(|b| format!("{b:02x}"))
            .collect::<Vec<_>>()
            .join(" "),
    }
}

fn name_text(n: &crate::engine::groups::codec::Name) -> String {
    sanitize(&String::from_utf8_lossy(n.as_bytes()))
}

impl Groups {
    /// Names in list order.
    pub fn names(&self) -> Vec<&String> {
        self.groups.keys().collect()
    }

    /// The selected group's name.
    pub fn selected(&self) -> Option<&String> {
        self.groups.keys().nth(self.sel)
    }

    fn push_timeline(&mut self, row: TimelineRow) {
        if self.timeline.len() >= GROUPS_RING {
            self.timeline.pop_front();
        }
        self.timeline.push_back(row);
        if self.paused {
            self.paused_new += 1;
        }
    }

    /// Applies one engine event at time `now`.
    pub fn apply(&mut self, ev: Event, now: f64) {
        match ev {
            Event::Connected { private_group, .. } => {
                self.last_error = None;
                self.push_timeline(TimelineRow {
                    time: now,
                    group: "—".into(),
                    cause: "CONNECTED",
                    changed: vec![name_text(&private_group)],
                    members: 0,
                    group_id: None,
                });
            }
            Event::Disconnected { reason, retry_in } => {
                let reason = sanitize(&reason);
                let msg = match retry_in {
                    Some(d) => format!("{reason} (retry in {:.1}s)", d.as_secs_f64()),
                    None => reason,
                };
                self.last_error = Some(msg.clone());
                // Views are stale once the link is gone; they come back on rejoin.
                for g in self.groups.values_mut() {
                    g.members.clear();
                }
                self.push_timeline(TimelineRow {
                    time: now,
                    group: "—".into(),
                    cause: "DISCONNECTED",
                    changed: vec![msg],
                    members: 0,
                    group_id: None,
                });
            }
            Event::Refused { what, error } => {
                self.last_error =
                    Some(format!("{} refused: {}", sanitize(&what), sanitize(&error)));
            }
            Event::Message(m) => self.apply_message(m, now),
        }
    }

    fn apply_message(&mut self, m: Message, now: f64) {
        match m {
            Message::Regular {
                service,
                sender,
                groups,
                msg_type,
                data,
                ..
            } => {
                if self.messages.len() >= GROUPS_RING {
                    self.messages.pop_front();
                }
                self.messages.push_back(MessageRow {
                    time: now,
                    sender: name_text(&sender),
                    groups: groups.iter().map(name_text).collect::<Vec<_>>().join(","),
                    service: service_name(service),
                    msg_type,
                    size: data.len(),
                    preview: preview(&data),
                });
            }
            Message::Membership {
                group,
                cause,
                group_id,
                members,
                vs_sets,
                local_set,
            } => {
                let name = name_text(&group);
                let members: Vec<String> = members.iter().map(name_text).collect();
                let row = self.groups.entry(name.clone()).or_default();
                row.joined = true;
                let changed: Vec<String> = match cause {
                    // the members that moved with us through the partition or merge
                    Cause::Network => local_set
                        .and_then(|i| vs_sets.get(i))
                        .map(|s| s.iter().map(name_text).collect())
                        .unwrap_or_default(),
                    Cause::Join => members
                        .iter()
                        .filter(|m| !row.members.contains(m))
                        .cloned()
                        .collect(),
                    Cause::Leave | Cause::Disconnect => row
                        .members
                        .iter()
                        .filter(|m| !members.contains(m))
                        .cloned()
                        .collect(),
                };
                for m in &members {
                    row.joined_at.entry(m.clone()).or_insert(now);
                }
                row.joined_at.retain(|k, _| members.contains(k));
                row.members = members;
                row.changed_at = Some(now);
                let count = row.members.len();
                self.push_timeline(TimelineRow {
                    time: now,
                    group: name,
                    cause: cause_name(cause),
                    changed,
                    members: count,
                    group_id: Some(format!(
                        "{}:{}:{}",
                        group_id.proc_id, group_id.time, group_id.index
                    )),
                });
            }
            Message::Transitional { group, .. } => {
                let name = name_text(&group);
                let count = self.groups.get(&name).map(|g| g.members.len()).unwrap_or(0);
                self.push_timeline(TimelineRow {
                    time: now,
                    group: name,
                    cause: "TRANSITION",
                    changed: Vec::new(),
                    members: count,
                    group_id: None,
                });
            }
            Message::SelfLeave { group } => {
                let name = name_text(&group);
                self.groups.remove(&name);
                self.sel = self.sel.min(self.groups.len().saturating_sub(1));
                self.push_timeline(TimelineRow {
                    time: now,
                    group: name,
                    cause: "SELF-LEAVE",
                    changed: Vec::new(),
                    members: 0,
                    group_id: None,
                });
            }
            Message::Reject { groups, .. } => {
                let gs: Vec<String> = groups.iter().map(name_text).collect();
                self.last_error = Some(format!("daemon rejected a request for {}", gs.join(",")));
            }
        }
    }

    /// New counters from the watch channel.
    pub fn set_stats(&mut self, s: Stats) {
        for g in &s.joined {
            let name = sanitize(g);
            self.groups.entry(name).or_default().joined = true;
        }
        self.stats = s;
    }

    /// Samples the event rate (the 1 Hz tick).
    pub fn tick(&mut self) {
        self.rate
            .sample_total(self.stats.messages_in + self.stats.memberships);
    }

    /// Whether the link is up.
    pub fn connected(&self) -> bool {
        self.stats.state == ConnState::Connected
    }
}

/// What the main loop holds: the engine handle when a daemon is configured.
pub struct Link {
    /// The engine handle.
    pub handle: Option<Handle>,
    /// Its counters.
    pub stats: Option<tokio::sync::watch::Receiver<Stats>>,
}

/// The next engine event (pending forever without a daemon). A free function
/// so the loop can wait on events and counters at once.
pub async fn next_event(handle: &mut Option<Handle>) -> Option<Event> {
    match handle {
        Some(h) => h.next_event().await,
        None => std::future::pending().await,
    }
}

/// Waits for new counters; `None` when there are none to come.
pub async fn next_stats(stats: &mut Option<tokio::sync::watch::Receiver<Stats>>) -> Option<Stats> {
    match stats {
        Some(rx) => {
            if rx.changed().await.is_err() {
                return None;
            }
            Some(rx.borrow_and_update().clone())
        }
        None => std::future::pending().await,
    }
}

impl Link {
    /// No daemon: the view says so.
    pub fn none() -> Link {
        Link {
            handle: None,
            stats: None,
        }
    }

    /// A client of the daemon at `addr` that joins `watch` (must run inside a
    /// tokio runtime).
    pub fn connect(addr: DaemonAddr, name: &str, watch: &[String]) -> Link {
        let handle = Handle::spawn(
            addr,
            ConnectOptions {
                name: name.to_string(),
                ..ConnectOptions::default()
            },
        );
        for g in watch {
            if let Err(e) = handle.join(g) {
                tracing::warn!("groups: cannot watch {g}: {e}");
            }
        }
        let stats = Some(handle.stats());
        Link {
            handle: Some(handle),
            stats,
        }
    }

    /// Whether a daemon is configured.
    pub fn attached(&self) -> bool {
        self.handle.is_some()
    }

    /// An already queued event.
    pub fn try_event(&mut self) -> Option<Event> {
        self.handle.as_mut().and_then(Handle::try_event)
    }

    /// Sends one queued request without waiting.
    pub fn send(&self, cmd: &GroupsCmd) -> Result<(), String> {
        let Some(h) = &self.handle else {
            return Err("no groups daemon configured (--groups-daemon)".into());
        };
        let r = match cmd {
            GroupsCmd::Join(g) => h.join(g),
            GroupsCmd::Leave(g) => h.leave(g),
            GroupsCmd::Send { group, text } => h.send(
                std::slice::from_ref(group),
                Service::Agreed,
                false,
                0,
                Bytes::copy_from_slice(text.as_bytes()),
            ),
        };
        r.map_err(|e| format!("{}: {e}", cmd.describe()))
    }
}

/// Groups the demo clients use.
pub const DEMO_GROUPS: &[&str] = &["ops", "telemetry", "render-farm"];

/// Starts the `--demo` groups source: an embedded daemon on a loopback port
/// chosen by the OS, and a few clients that join, leave and send. Returns the
/// daemon's address for the console's own client.
pub async fn spawn_demo(shutdown: &Shutdown) -> Result<DaemonAddr, String> {
    let config = DaemonConfig {
        name: "demo".into(),
        tcp: Some(std::net::SocketAddr::from(([127, 0, 0, 1], 0))),
        unix_dir: None,
        ..DaemonConfig::default()
    };
    let time = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i32)
        .unwrap_or(0);
    let daemon = Daemon::start(config, shutdown, time)
        .await
        .map_err(|e| format!("demo daemon: {e}"))?;
    let Some(addr) = daemon.tcp_addr else {
        return Err("demo daemon has no TCP address".into());
    };
    let addr = DaemonAddr::Tcp {
        host: addr.ip().to_string(),
        port: addr.port(),
    };
    let stop = shutdown.requested();
    let daemon_addr = addr.clone();
    tokio::spawn(async move {
        // keep the daemon alive as long as the demo runs
        let _daemon = daemon;
        tokio::select! {
            _ = demo_clients(daemon_addr) => {}
            _ = stop => {}
        }
    });
    Ok(addr)
}

/// Three scripted members: a steady one that reports, a flapping one that
/// joins and leaves, and a render node that comes and goes.
async fn demo_clients(addr: DaemonAddr) {
    let spawn = |name: &str| {
        Handle::spawn(
            addr.clone(),
            ConnectOptions {
                name: name.to_string(),
                membership: false,
                ..ConnectOptions::default()
            },
        )
    };
    let steady = spawn("sensor1");
    let flapper = spawn("worker7");
    let _ = steady.join("ops");
    let _ = steady.join("telemetry");
    let _ = flapper.join("render-farm");
    let mut node: Option<Handle> = None;
    let mut tick = tokio::time::interval(Duration::from_millis(700));
    let mut n: u64 = 0;
    loop {
        tick.tick().await;
        n += 1;
        let reading = format!(
            "{{\"celsius\": {:.1}, \"seq\": {n}}}",
            20.0 + ((n % 17) as f64) * 0.3
        );
        let _ = steady.send(
            &["telemetry".to_string()],
            Service::Fifo,
            false,
            1,
            Bytes::from(reading),
        );
        match n % 12 {
            3 => {
                let _ = flapper.join("ops");
            }
            7 => {
                let _ = flapper.send(
                    &["ops".to_string()],
                    Service::Agreed,
                    false,
                    2,
                    Bytes::from_static(b"frame 4411 rendered"),
                );
            }
            9 => {
                let _ = flapper.leave("ops");
            }
            _ => {}
        }
        if n % 20 == 5 {
            let h = spawn("node3");
            let _ = h.join("render-farm");
            node = Some(h);
        } else if n % 20 == 15 {
            // dropping the handle disconnects: a DISCONNECT in the timeline
            node = None;
        }
        let _ = &node;
    }
}

/// Seeds the screenshot/snapshot fixture: a console connected to a daemon
/// watching three groups, with joins, a disconnect, a partition and messages.
pub fn fixture(app: &mut crate::tui::app::App) {
    use crate::engine::groups::codec::{GroupId, Name};
    let t0 = crate::tui::demo::FIXED_NOW - 50.0;
    let name = |s: &str| Name::new(s).unwrap_or_default();
    let view = |g: &str, cause: Cause, index: i32, members: &[&str]| {
        let members: Vec<Name> = members.iter().map(|m| name(m)).collect();
        Event::Message(Message::Membership {
            group: name(g),
            cause,
            group_id: GroupId {
                proc_id: 2_130_706_433,
                time: 1_795_442_000,
                index,
            },
            vs_sets: vec![members.clone()],
            local_set: Some(0),
            members,
        })
    };
    let me = "#console#demo";
    let g = &mut app.groups;
    g.attached = true;
    g.apply(
        Event::Connected {
            private_group: name(me),
            daemon_version: (5, 0, 1),
        },
        t0,
    );
    g.apply(
        view("ops", Cause::Join, 1, &["#sensor1#demo", me]),
        t0 + 1.0,
    );
    g.apply(
        view("telemetry", Cause::Join, 2, &["#sensor1#demo", me]),
        t0 + 1.2,
    );
    g.apply(
        view(
            "render-farm",
            Cause::Join,
            3,
            &["#worker7#demo", "#node3#demo", me],
        ),
        t0 + 2.0,
    );
    g.apply(
        view(
            "ops",
            Cause::Join,
            4,
            &["#sensor1#demo", me, "#worker7#demo"],
        ),
        t0 + 9.5,
    );
    for (i, (sender, group, service, text)) in [
        (
            "#sensor1#demo",
            "telemetry",
            Service::Fifo.bits(),
            "{\"celsius\": 21.5, \"seq\": 14}",
        ),
        (
            "#worker7#demo",
            "ops",
            Service::Agreed.bits(),
            "frame 4411 rendered",
        ),
        (
            "#sensor1#demo",
            "telemetry",
            Service::Fifo.bits(),
            "{\"celsius\": 21.8, \"seq\": 15}",
        ),
    ]
    .into_iter()
    .enumerate()
    {
        g.apply(
            Event::Message(Message::Regular {
                service,
                sender: name(sender),
                groups: vec![name(group)],
                msg_type: 1,
                endian_mismatch: false,
                data: Bytes::copy_from_slice(text.as_bytes()),
            }),
            t0 + 10.0 + i as f64,
        );
    }
    g.apply(
        Event::Message(Message::Transitional {
            group: name("render-farm"),
            group_id: None,
        }),
        t0 + 20.0,
    );
    g.apply(
        view("render-farm", Cause::Disconnect, 5, &["#worker7#demo", me]),
        t0 + 20.1,
    );
    g.apply(
        view("ops", Cause::Leave, 6, &["#sensor1#demo", me]),
        t0 + 30.0,
    );
    g.apply(
        view("telemetry", Cause::Network, 7, &["#sensor1#demo", me]),
        t0 + 40.0,
    );
    g.stats = Stats {
        state: ConnState::Connected,
        daemon: "4803@127.0.0.1".into(),
        private_group: Name::new(me),
        messages_in: 1843,
        bytes_in: 61_120,
        messages_out: 12,
        bytes_out: 410,
        memberships: 7,
        ..Stats::default()
    };
    for v in [3, 5, 2, 4, 6, 3, 4] {
        g.rate.push(v);
    }
}
