//! Spread semantics, both sides (groups spec sections 6.2, 7, 8, 9, 10, 11, 13,
//! 14).
//!
//! Client side: building requests with libspread's checks (plus the stricter
//! ones the spec asks of a Rust client) and turning received frames into
//! [`Message`]s. Daemon side: [`DaemonCore`], the single global sequencer of
//! one embedded daemon. It is fed admitted sessions, decoded requests and
//! disconnects, and answers with bytes for connections through an [`Outbox`];
//! because every request passes through it in one order, every receiver sees
//! regular messages and membership changes in the same relative order, which
//! is all six service levels promise on a single daemon (section 11.1).
//!
//! Sans-IO: no sockets, no clock (the start-up time is an argument).

use std::collections::{BTreeSet, HashMap};

use bytes::{Bytes, BytesMut};

use super::codec::{
    self, split_private, Endian, Frame, GroupId, Header, Hello, MembershipBody, Name, AGREED_MESS,
    CAUSAL_MESS, CAUSED_BY_DISCONNECT, CAUSED_BY_JOIN, CAUSED_BY_LEAVE, CAUSED_BY_NETWORK,
    FIFO_MESS, HEADER_LEN, JOIN_MESS, KILL_MESS, LEAVE_MESS, MAX_GROUPS_PER_MESSAGE,
    MAX_GROUP_NAME, MAX_LOCAL_GROUP_MEMBERS, MAX_MESSAGE_BODY_LEN, MEMBERSHIP_MESS, REGULAR_MESS,
    REG_MEMB_MESS, REJECT_MESS, RELIABLE_MESS, SAFE_MESS, SELF_DISCARD, TRANSITION_MESS,
    UNRELIABLE_MESS,
};
use super::store::{Change, ConnId, GroupTable};
use super::Error;

// ------------------------------------------------------------ predicates

/// `Is_regular_mess` (section 2.3).
pub fn is_regular(t: u32) -> bool {
    t & REGULAR_MESS != 0 && t & REJECT_MESS == 0
}

/// `Is_membership_mess`.
pub fn is_membership(t: u32) -> bool {
    t & MEMBERSHIP_MESS != 0 && t & REJECT_MESS == 0
}

/// `Is_reg_memb_mess`.
pub fn is_reg_memb(t: u32) -> bool {
    t & REG_MEMB_MESS != 0
}

/// `Is_transition_mess`.
pub fn is_transition(t: u32) -> bool {
    t & TRANSITION_MESS != 0
}

/// `Is_self_leave`.
pub fn is_self_leave(t: u32) -> bool {
    t & CAUSED_BY_LEAVE != 0 && t & (REG_MEMB_MESS | TRANSITION_MESS) == 0
}

/// `Is_reject_mess`.
pub fn is_reject(t: u32) -> bool {
    t & REJECT_MESS != 0
}

// ------------------------------------------------------------ client side

/// The six service levels (section 11.1).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Service {
    /// May be lost.
    Unreliable,
    /// Reliable, unordered.
    Reliable,
    /// Per-sender order.
    Fifo,
    /// Causal order.
    Causal,
    /// Total order.
    Agreed,
    /// Total order and stability.
    Safe,
}

impl Service {
    /// Every level, weakest first.
    pub const ALL: [Service; 6] = [
        Service::Unreliable,
        Service::Reliable,
        Service::Fifo,
        Service::Causal,
        Service::Agreed,
        Service::Safe,
    ];

    /// The wire bit.
    pub fn bits(self) -> u32 {
        match self {
            Service::Unreliable => UNRELIABLE_MESS,
            Service::Reliable => RELIABLE_MESS,
            Service::Fifo => FIFO_MESS,
            Service::Causal => CAUSAL_MESS,
            Service::Agreed => AGREED_MESS,
            Service::Safe => SAFE_MESS,
        }
    }

    /// The level of a type word, when exactly one level bit is set.
    pub fn from_bits(t: u32) -> Option<Service> {
        Service::ALL
            .into_iter()
            .find(|s| t & REGULAR_MESS == s.bits())
    }

    /// Lower-case name as the CLI spells it.
    pub fn name(self) -> &'static str {
        match self {
            Service::Unreliable => "unreliable",
            Service::Reliable => "reliable",
            Service::Fifo => "fifo",
            Service::Causal => "causal",
            Service::Agreed => "agreed",
            Service::Safe => "safe",
        }
    }
}

impl std::str::FromStr for Service {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Service::ALL
            .into_iter()
            .find(|l| l.name().eq_ignore_ascii_case(s))
            .ok_or_else(|| {
                format!("unknown service {s:?}: unreliable, reliable, fifo, causal, agreed or safe")
            })
    }
}

/// Why a regular membership message was sent.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Cause {
    /// A member joined.
    Join,
    /// A member left.
    Leave,
    /// A member disconnected.
    Disconnect,
    /// The daemon membership changed (partition, merge, crash).
    Network,
}

impl Cause {
    /// The wire bit.
    pub fn bits(self) -> u32 {
        match self {
            Cause::Join => CAUSED_BY_JOIN,
            Cause::Leave => CAUSED_BY_LEAVE,
            Cause::Disconnect => CAUSED_BY_DISCONNECT,
            Cause::Network => CAUSED_BY_NETWORK,
        }
    }

    fn from_bits(t: u32) -> Option<Cause> {
        [Cause::Join, Cause::Leave, Cause::Disconnect, Cause::Network]
            .into_iter()
            .find(|c| t & c.bits() != 0)
    }

    /// Upper-case name as Spread tools print it.
    pub fn name(self) -> &'static str {
        match self {
            Cause::Join => "JOIN",
            Cause::Leave => "LEAVE",
            Cause::Disconnect => "DISCONNECT",
            Cause::Network => "NETWORK",
        }
    }
}

/// A message received from a daemon (section 13's Rust-native surface).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Message {
    /// A data message.
    Regular {
        /// Service bits as sent (level, SELF_DISCARD), without marker.
        service: u32,
        /// The sender's private group.
        sender: Name,
        /// The complete destination list as the sender wrote it.
        groups: Vec<Name>,
        /// The sender's message type.
        msg_type: i16,
        /// Whether the sender's byte order differs from ours.
        endian_mismatch: bool,
        /// Payload.
        data: Bytes,
    },
    /// A new view of a group.
    Membership {
        /// The group.
        group: Name,
        /// Why the view changed.
        cause: Cause,
        /// The new view's id.
        group_id: GroupId,
        /// Every member, in the daemons' order.
        members: Vec<Name>,
        /// The vs_sets in wire order.
        vs_sets: Vec<Vec<Name>>,
        /// Index of our own vs_set in `vs_sets`.
        local_set: Option<usize>,
    },
    /// A transitional view: deliveries until the next membership happen among
    /// the survivors only.
    Transitional {
        /// The group.
        group: Name,
        /// The previous view's id, when the daemon sent it (5.0.1 does).
        group_id: Option<GroupId>,
    },
    /// We left the group; nothing more arrives for it.
    SelfLeave {
        /// The group.
        group: Name,
    },
    /// The daemon refused a request of ours (section 8).
    Reject {
        /// `old_type | REJECT_MESS` without marker bits.
        service: u32,
        /// Our private group.
        sender: Name,
        /// The refused request's names (our private group appended).
        groups: Vec<Name>,
        /// Its message type.
        msg_type: i16,
        /// Its payload.
        data: Bytes,
    },
}

impl Message {
    /// Members of the receiver's own vs_set (the Python wrapper's `extra`).
    pub fn extra(&self) -> &[Name] {
        match self {
            Message::Membership {
                vs_sets, local_set, ..
            } => local_set
                .and_then(|i| vs_sets.get(i))
                .map_or(&[][..], Vec::as_slice),
            _ => &[],
        }
    }

    /// The member a JOIN/LEAVE/DISCONNECT is about (libspread's
    /// `changed_member`: first name of the first vs_set; none for NETWORK).
    pub fn changed_member(&self) -> Option<&Name> {
        match self {
            Message::Membership { cause, vs_sets, .. } if *cause != Cause::Network => {
                vs_sets.first().and_then(|s| s.first())
            }
            _ => None,
        }
    }

    /// libspread's `mess_type` for a membership message: the receiver's index
    /// in the member list (−1 if absent).
    pub fn member_index(&self, me: &Name) -> i32 {
        match self {
            Message::Membership { members, .. } => members
                .iter()
                .position(|m| m == me)
                .map_or(-1, |i| i as i32),
            _ => -1,
        }
    }
}

/// Turns a received frame into a [`Message`] (sections 7, 8, 9).
pub fn classify(frame: Frame) -> Result<Message, Error> {
    let h = &frame.header;
    let t = h.ty;
    if is_reject(t) {
        return Ok(Message::Reject {
            service: frame.old_type.unwrap_or(0) | REJECT_MESS,
            sender: h.sender.clone(),
            msg_type: h.msg_type(),
            groups: frame.groups,
            data: frame.data,
        });
    }
    if is_regular(t) {
        return Ok(Message::Regular {
            service: t & (REGULAR_MESS | SELF_DISCARD),
            sender: h.sender.clone(),
            msg_type: h.msg_type(),
            endian_mismatch: h.hint_endian != Endian::NATIVE,
            groups: frame.groups,
            data: frame.data,
        });
    }
    if is_transition(t) {
        return Ok(Message::Transitional {
            group: h.sender.clone(),
            group_id: codec::decode_trans_gid(h.endian, &frame.data),
        });
    }
    if is_self_leave(t) {
        return Ok(Message::SelfLeave {
            group: h.sender.clone(),
        });
    }
    if is_reg_memb(t) {
        let cause = Cause::from_bits(t).ok_or_else(|| {
            Error::Malformed(format!("membership type {t:#010x} without a cause"))
        })?;
        let body = MembershipBody::decode(h.endian, &frame.data)?;
        return Ok(Message::Membership {
            group: h.sender.clone(),
            cause,
            group_id: body.group_id,
            members: frame.groups,
            local_set: body.local_set(),
            vs_sets: body.vs_sets,
        });
    }
    Err(Error::Malformed(format!("unknown message type {t:#010x}")))
}

/// Checks a group name for join/leave/multicast as libspread does: 1..31
/// bytes, each 0x24..0x7E (so `#` private names cannot be joined).
pub fn group_name(s: &str) -> Result<Name, Error> {
    let ok = !s.is_empty()
        && s.len() < MAX_GROUP_NAME
        && s.bytes().all(codec::is_name_byte)
        && !s.starts_with('#');
    let illegal = || Error::Illegal {
        code: codec::ILLEGAL_GROUP,
        what: format!("group name {s:?} (1..31 bytes of 0x24..0x7e, not starting with '#')"),
    };
    if !ok {
        return Err(illegal());
    }
    Name::new(s).ok_or_else(illegal)
}

/// A destination: an ordinary group or a private group `#priv#daemon`.
pub fn destination(s: &str) -> Result<Name, Error> {
    if s.starts_with('#') {
        let n = Name::new(s).ok_or_else(|| Error::Illegal {
            code: codec::ILLEGAL_GROUP,
            what: format!("destination {s:?}"),
        })?;
        if split_private(&n).is_some() {
            return Ok(n);
        }
        return Err(Error::Illegal {
            code: codec::ILLEGAL_GROUP,
            what: format!("private group {s:?} (expected #name#daemon)"),
        });
    }
    group_name(s)
}

/// A frame whose header lengths match its contents.
fn frame(mut header: Header, groups: Vec<Name>, data: Bytes) -> Frame {
    header.num_groups = groups.len() as i32;
    header.data_len = data.len() as i32;
    Frame {
        header,
        old_type: None,
        groups,
        data,
    }
}

fn request_header(me: &Name, ty: u32, msg_type: i16) -> Header {
    Header {
        ty,
        endian: Endian::NATIVE,
        sender: me.clone(),
        num_groups: 0,
        hint: codec::hint_for(msg_type),
        hint_endian: Endian::NATIVE,
        data_len: 0,
    }
}

/// The join request for `group` from the connection `me`.
pub fn join_request(me: &Name, group: &Name) -> Frame {
    frame(
        request_header(me, JOIN_MESS, 0),
        vec![group.clone()],
        Bytes::new(),
    )
}

/// The leave request.
pub fn leave_request(me: &Name, group: &Name) -> Frame {
    frame(
        request_header(me, LEAVE_MESS, 0),
        vec![group.clone()],
        Bytes::new(),
    )
}

/// The disconnect request (one name: our own private group).
pub fn kill_request(me: &Name) -> Frame {
    frame(
        request_header(me, KILL_MESS, 0),
        vec![me.clone()],
        Bytes::new(),
    )
}

/// A multicast with libspread's checks plus the daemon's size rule 6 and the
/// "exactly one service level" rule the daemon would otherwise kill us for.
pub fn multicast_request(
    me: &Name,
    service_type: u32,
    groups: Vec<Name>,
    msg_type: i16,
    data: Bytes,
) -> Result<Frame, Error> {
    if Service::from_bits(service_type).is_none()
        || service_type & !(REGULAR_MESS | SELF_DISCARD) != 0
    {
        return Err(Error::Illegal {
            code: codec::ILLEGAL_SERVICE,
            what: format!(
                "service type {service_type:#x} (exactly one level, optionally SELF_DISCARD)"
            ),
        });
    }
    if groups.is_empty() || groups.len() > MAX_GROUPS_PER_MESSAGE {
        return Err(Error::Illegal {
            code: codec::ILLEGAL_GROUP,
            what: format!("{} destinations (1..100)", groups.len()),
        });
    }
    let len = HEADER_LEN + MAX_GROUP_NAME * groups.len() + data.len();
    if len > MAX_MESSAGE_BODY_LEN {
        return Err(Error::Illegal {
            code: codec::MESSAGE_TOO_LONG,
            what: format!("message of {len} bytes with header and names (max 144000)"),
        });
    }
    Ok(frame(
        request_header(me, service_type, msg_type),
        groups,
        data,
    ))
}

/// A group's view as a client last saw it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct View {
    /// View id.
    pub group_id: GroupId,
    /// Members.
    pub members: Vec<Name>,
    /// Why it was installed.
    pub cause: Cause,
    /// Whether a transitional message arrived since.
    pub is_transitional: bool,
}

/// Client-side record of the groups this connection is in and their views.
#[derive(Clone, Debug, Default)]
pub struct ClientState {
    /// Views by group, updated from membership messages.
    pub views: std::collections::BTreeMap<Name, View>,
}

impl ClientState {
    /// Applies a received message to the views.
    pub fn apply(&mut self, m: &Message) {
        match m {
            Message::Membership {
                group,
                cause,
                group_id,
                members,
                ..
            } => {
                self.views.insert(
                    group.clone(),
                    View {
                        group_id: *group_id,
                        members: members.clone(),
                        cause: *cause,
                        is_transitional: false,
                    },
                );
            }
            Message::Transitional { group, .. } => {
                if let Some(v) = self.views.get_mut(group) {
                    v.is_transitional = true;
                }
            }
            Message::SelfLeave { group } => {
                self.views.remove(group);
            }
            Message::Regular { .. } | Message::Reject { .. } => {}
        }
    }
}

// ------------------------------------------------------------ daemon side

/// Where the daemon's output goes; the io layer queues bytes per connection.
pub trait Outbox {
    /// Queues `bytes` for `conn`. A full queue is the io layer's business (it
    /// disconnects the slow reader afterwards).
    fn deliver(&mut self, conn: ConnId, bytes: Bytes);
}

impl Outbox for Vec<(ConnId, Bytes)> {
    fn deliver(&mut self, conn: ConnId, bytes: Bytes) {
        self.push((conn, bytes));
    }
}

/// One admitted connection.
#[derive(Clone, Debug)]
pub struct Session {
    /// Private name.
    pub private: Bytes,
    /// `#private#daemon`.
    pub private_group: Name,
    /// Whether it asked for membership messages.
    pub membership: bool,
    /// Priority from the hello.
    pub priority: u8,
    /// Groups it is in.
    pub groups: BTreeSet<Name>,
}

/// Limits of the embedded daemon.
#[derive(Clone, Debug)]
pub struct Limits {
    /// Connections accepted at once (REJECT_QUOTA above).
    pub max_sessions: usize,
    /// Members of one group (a join above is rejected).
    pub max_group_members: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_sessions: codec::MAX_SESSIONS,
            max_group_members: MAX_LOCAL_GROUP_MEMBERS,
        }
    }
}

/// Counters of the daemon core.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CoreStats {
    /// Regular messages multicast.
    pub multicasts: u64,
    /// Copies delivered (regular + membership).
    pub deliveries: u64,
    /// Joins that changed a group.
    pub joins: u64,
    /// Leaves that changed a group.
    pub leaves: u64,
    /// Sessions ended.
    pub disconnects: u64,
    /// Requests refused with a reject message.
    pub rejects: u64,
}

/// What the daemon decided about a request.
#[derive(Debug, PartialEq, Eq)]
pub enum Verdict {
    /// Processed; keep reading.
    Continue,
    /// The client asked to disconnect (KILL); its session is gone.
    Killed,
}

/// The embedded daemon's sequencer and session table.
#[derive(Debug)]
pub struct DaemonCore {
    name: Bytes,
    endian: Endian,
    limits: Limits,
    sessions: HashMap<ConnId, Session>,
    by_private: HashMap<Bytes, ConnId>,
    groups: GroupTable,
    stats: CoreStats,
}

impl DaemonCore {
    /// A daemon named `name` (1..19 legal bytes), with group ids
    /// `(proc_id, time, k)`.
    pub fn new(name: &str, proc_id: i32, time: i32, limits: Limits) -> Result<Self, Error> {
        if name.is_empty()
            || name.len() >= codec::MAX_PROC_NAME
            || !name.bytes().all(|b| codec::is_name_byte(b) && b != b'#')
        {
            return Err(Error::Illegal {
                code: codec::ILLEGAL_SPREAD,
                what: format!("daemon name {name:?} (1..19 bytes of 0x24..0x7e, no '#')"),
            });
        }
        Ok(DaemonCore {
            name: Bytes::copy_from_slice(name.as_bytes()),
            endian: Endian::NATIVE,
            limits,
            sessions: HashMap::new(),
            by_private: HashMap::new(),
            groups: GroupTable::new(proc_id, time),
            stats: CoreStats::default(),
        })
    }

    /// The daemon's name.
    pub fn name(&self) -> &[u8] {
        &self.name
    }

    /// Counters so far.
    pub fn stats(&self) -> &CoreStats {
        &self.stats
    }

    /// The group table (for status displays).
    pub fn groups(&self) -> &GroupTable {
        &self.groups
    }

    /// Number of sessions.
    pub fn session_count(&self) -> usize {
        self.sessions.len()
    }

    /// A session by connection.
    pub fn session(&self, conn: ConnId) -> Option<&Session> {
        self.sessions.get(&conn)
    }

    /// The connection using a private name.
    pub fn session_by_private(&self, private: &[u8]) -> Option<ConnId> {
        self.by_private.get(private).copied()
    }

    /// Whether another connection would exceed the quota (checked right after
    /// accept, before reading the hello).
    pub fn is_full(&self) -> bool {
        self.sessions.len() >= self.limits.max_sessions
    }

    /// Admits a connection after its hello (section 4.2's uniqueness and quota
    /// checks); `rand` seeds a daemon-assigned name when the hello has none.
    /// Returns the private group or the reject code.
    pub fn admit(&mut self, conn: ConnId, hello: &Hello, mut rand: u32) -> Result<Name, i32> {
        if self.is_full() {
            return Err(codec::REJECT_QUOTA);
        }
        let private = if hello.name.is_empty() {
            // The reference daemon's `r<rand>-<fd>` shape, cut to 9 characters.
            loop {
                let mut s = format!("r{}-{}", rand % 9999, conn % 1000);
                s.truncate(9);
                if !self.by_private.contains_key(s.as_bytes()) {
                    break Bytes::from(s);
                }
                rand = rand.wrapping_mul(1_103_515_245).wrapping_add(12345);
            }
        } else {
            hello.name.clone()
        };
        if self.by_private.contains_key(&private) {
            return Err(codec::REJECT_NOT_UNIQUE);
        }
        let mut g = Vec::with_capacity(2 + private.len() + self.name.len());
        g.push(b'#');
        g.extend_from_slice(&private);
        g.push(b'#');
        g.extend_from_slice(&self.name);
        g.truncate(MAX_GROUP_NAME - 1);
        let private_group = Name::from_bytes(&g).ok_or(codec::REJECT_ILLEGAL_NAME)?;
        self.by_private.insert(private.clone(), conn);
        self.sessions.insert(
            conn,
            Session {
                private,
                private_group: private_group.clone(),
                membership: hello.membership,
                priority: hello.priority,
                groups: BTreeSet::new(),
            },
        );
        Ok(private_group)
    }

    /// Validates a request against section 6.2; the error says why the
    /// connection must be killed.
    fn validate(&self, session: &Session, f: &Frame) -> Result<(), String> {
        let t = f.header.ty;
        let selectors = t & (REGULAR_MESS | JOIN_MESS | LEAVE_MESS | KILL_MESS);
        if selectors.count_ones() != 1 {
            return Err(format!(
                "type {t:#010x} selects {} services",
                selectors.count_ones()
            ));
        }
        let Some((private, proc)) = split_private(&f.header.sender) else {
            return Err(format!("sender {:?} is not #name#daemon", f.header.sender));
        };
        if proc != &self.name[..] || private != &session.private[..] {
            return Err(format!(
                "sender {:?} is not this connection ({:?})",
                f.header.sender, session.private_group
            ));
        }
        if f.header.hint & !0x00ff_ff00 != 0 {
            return Err(format!("hint {:#010x} has reserved bits", f.header.hint));
        }
        if t & (JOIN_MESS | LEAVE_MESS) != 0 && f.groups.len() != 1 {
            return Err(format!("join/leave with {} groups", f.groups.len()));
        }
        Ok(())
    }

    /// Applies one request from `conn` in the global order. `Err` means the
    /// request broke a rule that makes the daemon kill the connection: the
    /// caller then calls [`DaemonCore::disconnect`].
    pub fn handle(
        &mut self,
        conn: ConnId,
        f: Frame,
        out: &mut impl Outbox,
    ) -> Result<Verdict, String> {
        let Some(session) = self.sessions.get(&conn) else {
            return Err("request from a connection without a session".into());
        };
        self.validate(session, &f)?;
        let t = f.header.ty;
        if t & KILL_MESS != 0 {
            self.disconnect(conn, out);
            return Ok(Verdict::Killed);
        }
        if t & JOIN_MESS != 0 {
            self.join(conn, f, out);
        } else if t & LEAVE_MESS != 0 {
            self.leave(conn, &f.groups[0], out);
        } else {
            self.multicast(conn, f, out);
        }
        Ok(Verdict::Continue)
    }

    fn join(&mut self, conn: ConnId, f: Frame, out: &mut impl Outbox) {
        let group = &f.groups[0];
        let Some(session) = self.sessions.get(&conn) else {
            return;
        };
        let me = session.private_group.clone();
        // The daemon does not re-check group characters (section 6.2), but a
        // name starting with '#' is always private and cannot be joined.
        if group.is_empty() || group.is_private() {
            return;
        }
        if let Some(g) = self.groups.get(group) {
            if !g.members.contains_key(&me) && g.members.len() >= self.limits.max_group_members {
                self.stats.rejects += 1;
                let reject = self.reject_bytes(&me, &f, JOIN_MESS, CAUSED_BY_JOIN);
                out.deliver(conn, reject);
                return;
            }
        }
        if self.groups.join(group, &me, conn) == Change::None {
            return;
        }
        self.stats.joins += 1;
        if let Some(s) = self.sessions.get_mut(&conn) {
            s.groups.insert(group.clone());
        }
        self.announce(group, Cause::Join, &me, out);
    }

    fn leave(&mut self, conn: ConnId, group: &Name, out: &mut impl Outbox) {
        let Some(session) = self.sessions.get_mut(&conn) else {
            return;
        };
        let me = session.private_group.clone();
        let membership = session.membership;
        let change = self.groups.leave(group, &me);
        if change == Change::None {
            return;
        }
        session.groups.remove(group);
        self.stats.leaves += 1;
        if membership {
            // The self-leave goes out before the others learn of the leave
            // (section 12.1 steps 10 and 11).
            out.deliver(conn, self.self_leave_bytes(group));
            self.stats.deliveries += 1;
        }
        if change == Change::Changed {
            self.announce(group, Cause::Leave, &me, out);
        }
    }

    /// Ends a session (KILL, EOF, socket error, protocol violation, slow
    /// reader): removes it from every group in name order and tells the
    /// remaining members. Unknown connections are ignored.
    pub fn disconnect(&mut self, conn: ConnId, out: &mut impl Outbox) {
        let Some(session) = self.sessions.remove(&conn) else {
            return;
        };
        self.by_private.remove(&session.private);
        self.stats.disconnects += 1;
        for group in &session.groups {
            if self.groups.leave(group, &session.private_group) == Change::Changed {
                self.announce(group, Cause::Disconnect, &session.private_group, out);
            }
        }
    }

    fn multicast(&mut self, conn: ConnId, f: Frame, out: &mut impl Outbox) {
        let self_discard = f.header.ty & SELF_DISCARD != 0;
        let mut targets: Vec<ConnId> = Vec::new();
        for g in &f.groups {
            if g.is_private() {
                // Private groups of other daemons do not exist here; ours map
                // to one connection.
                if let Some((private, proc)) = split_private(g) {
                    if proc == &self.name[..] {
                        if let Some(c) = self.by_private.get(private) {
                            targets.push(*c);
                        }
                    }
                }
            } else if let Some(group) = self.groups.get(g) {
                targets.extend(group.members.values().copied());
            }
        }
        targets.sort_unstable();
        targets.dedup();
        if self_discard {
            targets.retain(|c| *c != conn);
        }
        self.stats.multicasts += 1;
        if targets.is_empty() {
            return;
        }
        let bytes = self.forward_bytes(&f);
        self.stats.deliveries += targets.len() as u64;
        for c in targets {
            out.deliver(c, bytes.clone());
        }
    }

    /// The delivered form of a request: `type` re-marked in the daemon's order,
    /// lengths in the daemon's order, `hint` kept in the sender's (section 7).
    fn forward_bytes(&self, f: &Frame) -> Bytes {
        let mut header = f.header.clone();
        header.endian = self.endian;
        let frame = Frame {
            header,
            old_type: None,
            groups: f.groups.clone(),
            data: f.data.clone(),
        };
        frame.to_bytes()
    }

    fn self_leave_bytes(&self, group: &Name) -> Bytes {
        Frame {
            header: self.membership_header(group, CAUSED_BY_LEAVE),
            old_type: None,
            groups: Vec::new(),
            data: Bytes::new(),
        }
        .to_bytes()
    }

    fn membership_header(&self, group: &Name, ty: u32) -> Header {
        Header {
            ty,
            endian: self.endian,
            sender: group.clone(),
            num_groups: 0,
            hint: 0,
            hint_endian: self.endian,
            data_len: 0,
        }
    }

    /// Sends a lightweight membership (section 9.3) for `group`'s current view
    /// to every member that asked for membership messages.
    fn announce(&mut self, group: &Name, cause: Cause, changed: &Name, out: &mut impl Outbox) {
        let Some(g) = self.groups.get(group) else {
            return;
        };
        let body = MembershipBody {
            group_id: g.gid,
            vs_sets: vec![vec![changed.clone()]],
            local_offset: 0,
        };
        let mut data = BytesMut::with_capacity(56);
        body.encode(self.endian, &mut data);
        let bytes = Frame {
            header: self.membership_header(group, REG_MEMB_MESS | cause.bits()),
            old_type: None,
            groups: g.members.keys().cloned().collect(),
            data: data.freeze(),
        }
        .to_bytes();
        let mut count = 0;
        for c in g.members.values() {
            if self.sessions.get(c).is_some_and(|s| s.membership) {
                out.deliver(*c, bytes.clone());
                count += 1;
            }
        }
        self.stats.deliveries += count;
    }

    /// A reject message for a refused request (section 8).
    fn reject_bytes(&self, me: &Name, f: &Frame, request: u32, cause: u32) -> Bytes {
        let mut groups = f.groups.clone();
        if groups.len() >= MAX_GROUPS_PER_MESSAGE {
            groups.pop();
        }
        groups.push(me.clone());
        let mut header = f.header.clone();
        header.endian = self.endian;
        header.ty = REJECT_MESS | (f.header.ty & SELF_DISCARD);
        let old = (f.header.ty & !request) | if f.header.ty & request != 0 { cause } else { 0 };
        Frame {
            header,
            old_type: Some(old),
            groups,
            data: f.data.clone(),
        }
        .to_bytes()
    }

    /// A transitional message for `group` carrying `previous` (only for
    /// tests and demos: a single daemon never sends one).
    pub fn transitional_bytes(&self, group: &Name, previous: &GroupId) -> Bytes {
        let mut data = BytesMut::with_capacity(12);
        codec::encode_gid(previous, self.endian, &mut data);
        Frame {
            header: self.membership_header(group, TRANSITION_MESS),
            old_type: None,
            groups: Vec::new(),
            data: data.freeze(),
        }
        .to_bytes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn n(s: &str) -> Name {
        Name::new(s).unwrap()
    }

    fn hello(name: &str, membership: bool) -> Hello {
        Hello {
            version: (5, 0, 1),
            membership,
            priority: 0,
            name: Bytes::copy_from_slice(name.as_bytes()),
        }
    }

    fn decode_all(out: &[(ConnId, Bytes)], conn: ConnId) -> Vec<Message> {
        use tokio_util::codec::Decoder;
        let mut codec = codec::FrameCodec::new(codec::Role::Client);
        out.iter()
            .filter(|(c, _)| *c == conn)
            .map(|(_, b)| {
                let mut buf = BytesMut::from(&b[..]);
                classify(codec.decode(&mut buf).unwrap().unwrap()).unwrap()
            })
            .collect()
    }

    #[test]
    fn names_must_be_unique_and_daemon_invents_one() {
        let mut d = DaemonCore::new("localhost", 1, 2, Limits::default()).unwrap();
        assert_eq!(d.admit(1, &hello("a", true), 0).unwrap(), n("#a#localhost"));
        assert_eq!(
            d.admit(2, &hello("a", true), 0),
            Err(codec::REJECT_NOT_UNIQUE)
        );
        let g = d.admit(3, &hello("", true), 9794).unwrap();
        assert!(g.as_str().starts_with("#r9794-3#"), "{g}");
        let g2 = d.admit(4, &hello("", true), 9794).unwrap();
        assert_ne!(g, g2);
    }

    #[test]
    fn quota_rejects_above_the_limit() {
        let limits = Limits {
            max_sessions: 1,
            ..Limits::default()
        };
        let mut d = DaemonCore::new("d", 1, 2, limits).unwrap();
        d.admit(1, &hello("a", true), 0).unwrap();
        assert!(d.is_full());
        assert_eq!(d.admit(2, &hello("b", true), 0), Err(codec::REJECT_QUOTA));
    }

    #[test]
    fn sender_must_be_this_connection() {
        let mut d = DaemonCore::new("d", 1, 2, Limits::default()).unwrap();
        d.admit(1, &hello("a", true), 0).unwrap();
        let mut out = Vec::new();
        let f = join_request(&n("#b#d"), &n("g"));
        assert!(d.handle(1, f, &mut out).is_err());
        let f = join_request(&n("#a#x"), &n("g"));
        assert!(d.handle(1, f, &mut out).is_err());
        let mut f = join_request(&n("#a#d"), &n("g"));
        f.header.ty |= AGREED_MESS;
        assert!(d.handle(1, f, &mut out).is_err());
    }

    #[test]
    fn group_size_limit_sends_reject() {
        let limits = Limits {
            max_group_members: 1,
            ..Limits::default()
        };
        let mut d = DaemonCore::new("d", 1, 2, limits).unwrap();
        d.admit(1, &hello("a", true), 0).unwrap();
        d.admit(2, &hello("b", true), 0).unwrap();
        let mut out = Vec::new();
        d.handle(1, join_request(&n("#a#d"), &n("g")), &mut out)
            .unwrap();
        out.clear();
        d.handle(2, join_request(&n("#b#d"), &n("g")), &mut out)
            .unwrap();
        let msgs = decode_all(&out, 2);
        assert_eq!(
            msgs,
            [Message::Reject {
                service: REJECT_MESS | CAUSED_BY_JOIN,
                sender: n("#b#d"),
                groups: vec![n("g"), n("#b#d")],
                msg_type: 0,
                data: Bytes::new(),
            }]
        );
        assert!(decode_all(&out, 1).is_empty());
    }

    #[test]
    fn membership_flag_off_gets_regular_only() {
        let mut d = DaemonCore::new("d", 1, 2, Limits::default()).unwrap();
        d.admit(1, &hello("a", false), 0).unwrap();
        let mut out = Vec::new();
        d.handle(1, join_request(&n("#a#d"), &n("g")), &mut out)
            .unwrap();
        let f =
            multicast_request(&n("#a#d"), FIFO_MESS, vec![n("g")], 3, Bytes::from("x")).unwrap();
        d.handle(1, f, &mut out).unwrap();
        d.handle(1, leave_request(&n("#a#d"), &n("g")), &mut out)
            .unwrap();
        let msgs = decode_all(&out, 1);
        assert_eq!(msgs.len(), 1);
        assert!(matches!(msgs[0], Message::Regular { msg_type: 3, .. }));
    }

    #[test]
    fn multicast_reaches_each_connection_once() {
        let mut d = DaemonCore::new("d", 1, 2, Limits::default()).unwrap();
        d.admit(1, &hello("a", true), 0).unwrap();
        d.admit(2, &hello("b", true), 0).unwrap();
        let mut out = Vec::new();
        for (c, me) in [(1, "#a#d"), (2, "#b#d")] {
            for g in ["g1", "g2"] {
                d.handle(c, join_request(&n(me), &n(g)), &mut out).unwrap();
            }
        }
        out.clear();
        let dests = vec![n("g1"), n("g2"), n("#b#d"), n("nosuch"), n("#z#other")];
        let f = multicast_request(
            &n("#a#d"),
            AGREED_MESS | SELF_DISCARD,
            dests.clone(),
            0,
            Bytes::from("m"),
        )
        .unwrap();
        d.handle(1, f, &mut out).unwrap();
        assert!(decode_all(&out, 1).is_empty());
        let got = decode_all(&out, 2);
        assert_eq!(got.len(), 1);
        match &got[0] {
            Message::Regular {
                groups, service, ..
            } => {
                assert_eq!(groups, &dests);
                assert_eq!(*service, AGREED_MESS | SELF_DISCARD);
            }
            other => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn client_checks_requests() {
        let me = n("#a#d");
        assert!(group_name("#x").is_err());
        assert!(group_name("").is_err());
        assert!(group_name(&"g".repeat(32)).is_err());
        assert!(group_name("a b").is_err());
        assert!(group_name(&"g".repeat(31)).is_ok());
        assert!(destination("#a#d").is_ok());
        assert!(destination("#a").is_err());
        assert!(
            multicast_request(&me, AGREED_MESS | SAFE_MESS, vec![n("g")], 0, Bytes::new()).is_err()
        );
        assert!(multicast_request(&me, JOIN_MESS, vec![n("g")], 0, Bytes::new()).is_err());
        assert!(multicast_request(&me, SAFE_MESS, vec![], 0, Bytes::new()).is_err());
        let big = Bytes::from(vec![0u8; MAX_MESSAGE_BODY_LEN - HEADER_LEN - 32]);
        assert!(multicast_request(&me, SAFE_MESS, vec![n("g")], 0, big.clone()).is_ok());
        let too_big = Bytes::from(vec![0u8; big.len() + 1]);
        let err = multicast_request(&me, SAFE_MESS, vec![n("g")], 0, too_big).unwrap_err();
        assert_eq!(err.code(), codec::MESSAGE_TOO_LONG);
    }

    #[test]
    fn service_names_parse() {
        for s in Service::ALL {
            assert_eq!(s.name().parse::<Service>().unwrap(), s);
            assert_eq!(Service::from_bits(s.bits()), Some(s));
        }
        assert!("fast".parse::<Service>().is_err());
    }
}
