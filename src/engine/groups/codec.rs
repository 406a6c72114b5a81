//! Spread client-protocol wire format (groups spec sections 2, 4, 5, 6, 7, 8, 9).
//!
//! Sans-IO layer: constants, the connect handshake pieces, the 48-byte message
//! header in either byte order, and [`FrameCodec`], a `tokio_util` decoder and
//! encoder of whole messages (header, names, reject `old_type`, body). Nothing
//! here knows about sessions or groups; see `protocol.rs` for meaning.

use bytes::{Buf, BufMut, Bytes, BytesMut};
use tokio_util::codec::{Decoder, Encoder};

use super::Error;

// Section 2.1: service-type word.
/// Service level: may be lost, no order.
pub const UNRELIABLE_MESS: u32 = 0x0000_0001;
/// Service level: reliable, unordered.
pub const RELIABLE_MESS: u32 = 0x0000_0002;
/// Service level: reliable, per-sender order.
pub const FIFO_MESS: u32 = 0x0000_0004;
/// Service level: causal order.
pub const CAUSAL_MESS: u32 = 0x0000_0008;
/// Service level: one total order.
pub const AGREED_MESS: u32 = 0x0000_0010;
/// Service level: total order plus stability.
pub const SAFE_MESS: u32 = 0x0000_0020;
/// Mask of the six service levels.
pub const REGULAR_MESS: u32 = 0x0000_003f;
/// Do not deliver to the sending connection.
pub const SELF_DISCARD: u32 = 0x0000_0040;
/// Membership cause: a join.
pub const CAUSED_BY_JOIN: u32 = 0x0000_0100;
/// Membership cause: a leave (alone: self-leave).
pub const CAUSED_BY_LEAVE: u32 = 0x0000_0200;
/// Membership cause: a disconnect.
pub const CAUSED_BY_DISCONNECT: u32 = 0x0000_0400;
/// Membership cause: daemon membership changed.
pub const CAUSED_BY_NETWORK: u32 = 0x0000_0800;
/// Regular membership message.
pub const REG_MEMB_MESS: u32 = 0x0000_1000;
/// Transitional membership message.
pub const TRANSITION_MESS: u32 = 0x0000_2000;
/// Mask of the membership bits.
pub const MEMBERSHIP_MESS: u32 = 0x0000_3f00;
/// Daemon refused a request.
pub const REJECT_MESS: u32 = 0x0040_0000;
/// Receive flag (never on the wire): discard what does not fit.
pub const DROP_RECV: u32 = 0x0100_0000;
/// Byte-order marker bits, set by little-endian writers.
pub const ENDIAN_RESERVED: u32 = 0x8000_0080;

// Section 2.2: request bits.
/// Join request.
pub const JOIN_MESS: u32 = 0x0001_0000;
/// Leave request.
pub const LEAVE_MESS: u32 = 0x0002_0000;
/// Disconnect request.
pub const KILL_MESS: u32 = 0x0004_0000;

// Section 2.4: return codes.
/// Handshake accepted.
pub const ACCEPT_SESSION: i32 = 1;
/// Bad daemon address.
pub const ILLEGAL_SPREAD: i32 = -1;
/// Could not connect.
pub const COULD_NOT_CONNECT: i32 = -2;
/// Too many connections.
pub const REJECT_QUOTA: i32 = -3;
/// No name supplied (never sent by 5.0.1).
pub const REJECT_NO_NAME: i32 = -4;
/// Illegal private name.
pub const REJECT_ILLEGAL_NAME: i32 = -5;
/// Private name already in use.
pub const REJECT_NOT_UNIQUE: i32 = -6;
/// Library version not accepted.
pub const REJECT_VERSION: i32 = -7;
/// The daemon closed the connection.
pub const CONNECTION_CLOSED: i32 = -8;
/// Authentication failed.
pub const REJECT_AUTH: i32 = -9;
/// Illegal session.
pub const ILLEGAL_SESSION: i32 = -11;
/// Illegal service request.
pub const ILLEGAL_SERVICE: i32 = -12;
/// Illegal message.
pub const ILLEGAL_MESSAGE: i32 = -13;
/// Illegal group.
pub const ILLEGAL_GROUP: i32 = -14;
/// Receive buffer too short.
pub const BUFFER_TOO_SHORT: i32 = -15;
/// Receive group array too short.
pub const GROUPS_TOO_SHORT: i32 = -16;
/// Message (body + group names) too large.
pub const MESSAGE_TOO_LONG: i32 = -17;
/// Socket error on the session.
pub const NET_ERROR_ON_SESSION: i32 = -18;
/// Internal Spread bug.
pub const SP_BUG: i32 = -19;
/// Illegal time (5.0 only).
pub const ILLEGAL_TIME: i32 = -20;

// Section 2.5: sizes and limits.
/// Default client port.
pub const DEFAULT_SPREAD_PORT: u16 = 4803;
/// Size of every name field, NUL included.
pub const MAX_GROUP_NAME: usize = 32;
/// Longest private name.
pub const MAX_PRIVATE_NAME: usize = 10;
/// Daemon name size including NUL (names hold at most 19 characters).
pub const MAX_PROC_NAME: usize = 20;
/// Longest message body.
pub const MAX_MESSAGE_BODY_LEN: usize = 144_000;
/// Most destinations per multicast.
pub const MAX_GROUPS_PER_MESSAGE: usize = 100;
/// Queued undelivered messages per connection before the daemon drops it.
pub const DEFAULT_MAX_SESSION_MESSAGES: usize = 1000;
/// Size of the auth-choice block (3 slots of 30 bytes).
pub const AUTH_CHOICE_LEN: usize = 90;
/// Size of one auth-choice slot.
pub const MAX_AUTH_NAME: usize = 30;
/// Connection limit of the reference daemon.
pub const MAX_SESSIONS: usize = 997;
/// Members of one group on one daemon.
pub const MAX_LOCAL_GROUP_MEMBERS: usize = 3122;
/// Size of the fixed message header.
pub const HEADER_LEN: usize = 48;

/// Upper bound on a daemon→client frame a client accepts. Membership messages
/// are not bound by the request limit (a group may have thousands of members
/// across daemons), so the client allows more than 144000 but still refuses to
/// allocate for an absurd length field.
pub const MAX_CLIENT_FRAME: usize = 4 << 20;

/// Byte order of a writer (section 5).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Endian {
    /// Marker bits `0x80000080` set.
    Little,
    /// Marker bits clear.
    Big,
}

impl Endian {
    /// This machine's order, used when writing.
    pub const NATIVE: Endian = if cfg!(target_endian = "big") {
        Endian::Big
    } else {
        Endian::Little
    };

    /// The order a word was written in, from its marker bits (read as LE).
    /// Anything other than both bits set counts as big-endian, as in libspread's
    /// `Same_endian` seen from a little-endian reader.
    pub fn of_le_word(word_le: u32) -> Endian {
        if word_le & ENDIAN_RESERVED == ENDIAN_RESERVED {
            Endian::Little
        } else {
            Endian::Big
        }
    }

    fn get_u32(self, b: &[u8]) -> u32 {
        let a = [b[0], b[1], b[2], b[3]];
        match self {
            Endian::Little => u32::from_le_bytes(a),
            Endian::Big => u32::from_be_bytes(a),
        }
    }

    fn put_u32(self, out: &mut BytesMut, v: u32) {
        match self {
            Endian::Little => out.put_u32_le(v),
            Endian::Big => out.put_u32(v),
        }
    }

    /// Marks a word for this order.
    pub fn mark(self, v: u32) -> u32 {
        match self {
            Endian::Little => v | ENDIAN_RESERVED,
            Endian::Big => v & !ENDIAN_RESERVED,
        }
    }
}

/// Reads a 4-byte word whose order is told by its own marker bits; returns the
/// value without marker bits and the order.
fn get_marked(b: &[u8]) -> (u32, Endian) {
    let le = u32::from_le_bytes([b[0], b[1], b[2], b[3]]);
    let endian = Endian::of_le_word(le);
    (endian.get_u32(b) & !ENDIAN_RESERVED, endian)
}

/// A 32-byte name field: at most 31 bytes, read up to the first NUL.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Name(Bytes);

impl Name {
    /// A name from text; `None` when longer than 31 bytes or holding a NUL.
    pub fn new(s: &str) -> Option<Name> {
        Name::from_bytes(s.as_bytes())
    }

    /// A name from bytes; `None` when longer than 31 bytes or holding a NUL.
    pub fn from_bytes(b: &[u8]) -> Option<Name> {
        if b.len() >= MAX_GROUP_NAME || b.contains(&0) {
            return None;
        }
        Some(Name(Bytes::copy_from_slice(b)))
    }

    /// Reads a 32-byte field: bytes up to the first NUL. Byte 31 is always
    /// treated as NUL, as the daemon forces it (section 6.2 rule 2).
    pub fn from_field(field: &[u8]) -> Name {
        Name(Bytes::copy_from_slice(&field[..field_end(field)]))
    }

    /// Like [`Name::from_field`] but shares `field`'s buffer instead of copying.
    pub fn from_field_shared(field: Bytes) -> Name {
        let end = field_end(&field);
        Name(field.slice(..end))
    }

    /// The raw bytes.
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    /// Text form (lossy for non-UTF-8 bytes, which legal names never hold).
    pub fn as_str(&self) -> std::borrow::Cow<'_, str> {
        String::from_utf8_lossy(&self.0)
    }

    /// Whether the name is empty.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Whether this is a private group name (`#priv#daemon`).
    pub fn is_private(&self) -> bool {
        self.0.first() == Some(&b'#')
    }

    /// Writes the NUL-padded 32-byte field.
    pub fn put_field(&self, out: &mut BytesMut) {
        out.put_slice(&self.0);
        out.put_bytes(0, MAX_GROUP_NAME - self.0.len());
    }
}

impl std::fmt::Debug for Name {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:?}", self.as_str())
    }
}

impl std::fmt::Display for Name {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.as_str())
    }
}

fn field_end(field: &[u8]) -> usize {
    let field = &field[..field.len().min(MAX_GROUP_NAME - 1)];
    field.iter().position(|b| *b == 0).unwrap_or(field.len())
}

/// Whether a byte may appear in a private, daemon or group name (0x24..0x7E).
pub fn is_name_byte(b: u8) -> bool {
    (0x24..=0x7e).contains(&b)
}

/// Splits `#priv#proc` with the daemon's rules (section 6.2 rule 2).
pub fn split_private(name: &Name) -> Option<(&[u8], &[u8])> {
    let b = name.as_bytes();
    let rest = b.strip_prefix(b"#")?;
    let hash = rest.iter().position(|c| *c == b'#')?;
    let (private, proc) = (&rest[..hash], &rest[hash + 1..]);
    let ok = (1..=MAX_PRIVATE_NAME).contains(&private.len())
        && (1..MAX_PROC_NAME).contains(&proc.len())
        && private.iter().all(|c| is_name_byte(*c))
        && proc.iter().all(|c| is_name_byte(*c) && *c != b'#');
    ok.then_some((private, proc))
}

/// The 48-byte header with its byte orders made explicit (section 6.1).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Header {
    /// `type` without the marker bits.
    pub ty: u32,
    /// Order of `type`, `num_groups` and `data_len`.
    pub endian: Endian,
    /// `private_group_name`: sender, or group name for membership messages.
    pub sender: Name,
    /// `num_groups`.
    pub num_groups: i32,
    /// `hint` without the marker bits.
    pub hint: u32,
    /// Order of `hint` (the original sender's, for regular messages).
    pub hint_endian: Endian,
    /// `data_len`.
    pub data_len: i32,
}

impl Header {
    /// Decodes the 48 bytes at the front of `b` (which must hold at least 48).
    pub fn decode(b: &[u8]) -> Header {
        let (ty, endian) = get_marked(&b[0..4]);
        let (hint, hint_endian) = get_marked(&b[40..44]);
        Header {
            ty,
            endian,
            sender: Name::from_field(&b[4..36]),
            num_groups: endian.get_u32(&b[36..40]) as i32,
            hint,
            hint_endian,
            data_len: endian.get_u32(&b[44..48]) as i32,
        }
    }

    /// Appends the 48 bytes.
    pub fn encode(&self, out: &mut BytesMut) {
        self.endian.put_u32(out, self.endian.mark(self.ty));
        self.sender.put_field(out);
        self.endian.put_u32(out, self.num_groups as u32);
        self.hint_endian
            .put_u32(out, self.hint_endian.mark(self.hint));
        self.endian.put_u32(out, self.data_len as u32);
    }

    /// `msg_type`: the signed 16 bits 8..23 of `hint`.
    pub fn msg_type(&self) -> i16 {
        ((self.hint >> 8) & 0xffff) as u16 as i16
    }
}

/// The `hint` word for a `msg_type` (without marker).
pub fn hint_for(msg_type: i16) -> u32 {
    ((msg_type as u16 as u32) << 8) & 0x00ff_ff00
}

/// One whole message after the handshake, either direction.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Frame {
    /// The header; `num_groups` and `data_len` are recomputed on encode.
    pub header: Header,
    /// A reject's original `type` (section 8), without marker bits.
    pub old_type: Option<u32>,
    /// The names after the header.
    pub groups: Vec<Name>,
    /// The body.
    pub data: Bytes,
}

impl Frame {
    /// Encodes the frame; `num_groups`/`data_len` come from the contents.
    pub fn encode(&self, out: &mut BytesMut) {
        let mut header = self.header.clone();
        header.num_groups = self.groups.len() as i32;
        header.data_len = self.data.len() as i32;
        out.reserve(self.encoded_len());
        header.encode(out);
        if let Some(old) = self.old_type {
            self.header
                .endian
                .put_u32(out, self.header.endian.mark(old));
        }
        for g in &self.groups {
            g.put_field(out);
        }
        out.put_slice(&self.data);
    }

    /// Bytes [`Frame::encode`] writes.
    pub fn encoded_len(&self) -> usize {
        HEADER_LEN
            + if self.old_type.is_some() { 4 } else { 0 }
            + MAX_GROUP_NAME * self.groups.len()
            + self.data.len()
    }

    /// The encoded bytes.
    pub fn to_bytes(&self) -> Bytes {
        let mut out = BytesMut::with_capacity(self.encoded_len());
        self.encode(&mut out);
        out.freeze()
    }
}

/// Read-buffer room the codec keeps available (bytes).
const READ_RESERVE: usize = 64 * 1024;

/// Which side reads with a [`FrameCodec`]: the limits differ.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    /// Reads daemon→client messages (membership lists may be long; rejects
    /// carry `old_type`).
    Client,
    /// Reads client→daemon requests (section 6.2 rules 3, 5, 6).
    Daemon,
}

/// Decoder/encoder of [`Frame`]s; partial input is `Ok(None)`.
#[derive(Clone, Copy, Debug)]
pub struct FrameCodec {
    role: Role,
}

impl FrameCodec {
    /// A codec for one side.
    pub fn new(role: Role) -> Self {
        FrameCodec { role }
    }

    /// Checks a header's lengths and returns the total frame size, before any
    /// allocation is sized by them.
    pub fn frame_len(&self, h: &Header) -> Result<usize, Error> {
        let bad = |why: &str| Error::Malformed(format!("{why} in {h:?}"));
        if h.num_groups < 0 || h.data_len < 0 {
            return Err(bad("negative length"));
        }
        let (n, len) = (h.num_groups as usize, h.data_len as usize);
        let reject = self.role == Role::Client && h.ty & REJECT_MESS != 0;
        match self.role {
            Role::Daemon => {
                if n > MAX_GROUPS_PER_MESSAGE {
                    return Err(bad("more than 100 groups"));
                }
                if len > MAX_MESSAGE_BODY_LEN {
                    return Err(bad("data_len above 144000"));
                }
                if HEADER_LEN + MAX_GROUP_NAME * n + len > MAX_MESSAGE_BODY_LEN {
                    return Err(Error::TooLong {
                        len: HEADER_LEN + MAX_GROUP_NAME * n + len,
                    });
                }
            }
            Role::Client => {
                if n > MAX_CLIENT_FRAME / MAX_GROUP_NAME || len > MAX_CLIENT_FRAME {
                    return Err(bad("frame larger than the client accepts"));
                }
            }
        }
        Ok(HEADER_LEN + if reject { 4 } else { 0 } + MAX_GROUP_NAME * n + len)
    }
}

impl Decoder for FrameCodec {
    type Item = Frame;
    type Error = Error;

    fn decode(&mut self, src: &mut BytesMut) -> Result<Option<Frame>, Error> {
        if src.len() < HEADER_LEN {
            return Ok(None);
        }
        let mut header = Header::decode(&src[..HEADER_LEN]);
        let total = self.frame_len(&header)?;
        if src.len() < total {
            src.reserve(total.max(READ_RESERVE) - src.len());
            return Ok(None);
        }
        let mut frame = src.split_to(total).freeze();
        // Keep room for many frames per read: tokio-util's buffer would
        // otherwise shrink to what is left of its first 8 KiB and read a few
        // 1 KiB messages per system call.
        if src.capacity() - src.len() < READ_RESERVE / 4 {
            src.reserve(READ_RESERVE);
        }
        header.sender = Name::from_field_shared(frame.slice(4..4 + MAX_GROUP_NAME));
        frame.advance(HEADER_LEN);
        let old_type = if self.role == Role::Client && header.ty & REJECT_MESS != 0 {
            let old = get_marked(&frame[..4]).0;
            frame.advance(4);
            Some(old)
        } else {
            None
        };
        let n = header.num_groups as usize;
        let groups = (0..n)
            .map(|i| {
                Name::from_field_shared(frame.slice(i * MAX_GROUP_NAME..(i + 1) * MAX_GROUP_NAME))
            })
            .collect();
        frame.advance(n * MAX_GROUP_NAME);
        Ok(Some(Frame {
            header,
            old_type,
            groups,
            data: frame,
        }))
    }
}

impl Encoder<Frame> for FrameCodec {
    type Error = Error;

    fn encode(&mut self, item: Frame, dst: &mut BytesMut) -> Result<(), Error> {
        item.encode(dst);
        Ok(())
    }
}

impl Encoder<Bytes> for FrameCodec {
    type Error = Error;

    fn encode(&mut self, item: Bytes, dst: &mut BytesMut) -> Result<(), Error> {
        dst.put_slice(&item);
        Ok(())
    }
}

// ---------------------------------------------------------------- handshake

/// Client→daemon hello (section 4.1).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Hello {
    /// Library version (major, minor, patch); patch is 0 when not sent.
    pub version: (u8, u8, u8),
    /// Bit 0 of flags.
    pub membership: bool,
    /// `flags / 16`: the priority (only ≥ 1 matters).
    pub priority: u8,
    /// Requested private name; empty asks the daemon to invent one.
    pub name: Bytes,
}

/// Whether a library version sends the patch byte (newer than 3.14).
pub fn sends_patch(major: u8, minor: u8) -> bool {
    u32::from(major) * 10000 + u32::from(minor) * 100 > 31400
}

/// Numeric version as the daemon compares them.
pub fn version_number(v: (u8, u8, u8)) -> u32 {
    u32::from(v.0) * 10000 + u32::from(v.1) * 100 + u32::from(v.2)
}

impl Hello {
    /// Encodes the hello (send it in one write: section 4.1).
    pub fn encode(&self, out: &mut BytesMut) {
        out.put_u8(self.version.0);
        out.put_u8(self.version.1);
        if sends_patch(self.version.0, self.version.1) {
            out.put_u8(self.version.2);
        }
        out.put_u8(u8::from(self.membership) | (self.priority.min(15) << 4));
        let name = &self.name[..self.name.len().min(MAX_PRIVATE_NAME)];
        out.put_u8(name.len() as u8);
        out.put_slice(name);
    }
}

/// What a daemon makes of the bytes of a hello so far.
#[derive(Debug, PartialEq, Eq)]
pub enum HelloOutcome {
    /// Need more bytes.
    Partial,
    /// A whole hello, and how many bytes it took.
    Done(Hello, usize),
    /// Reject with this code (one byte, then close).
    Reject(i32),
}

/// Decodes a hello incrementally with the daemon's checks (section 4.2);
/// never looks past `5 + L` bytes.
pub fn decode_hello(b: &[u8]) -> HelloOutcome {
    if b.len() < 2 {
        return HelloOutcome::Partial;
    }
    let (major, minor) = (b[0], b[1]);
    let mut at = 2;
    let patch = if sends_patch(major, minor) {
        let Some(p) = b.get(2) else {
            return HelloOutcome::Partial;
        };
        at = 3;
        *p
    } else {
        0
    };
    if version_number((major, minor, patch)) < 30100 {
        return HelloOutcome::Reject(REJECT_VERSION);
    }
    let (Some(flags), Some(len)) = (b.get(at), b.get(at + 1)) else {
        return HelloOutcome::Partial;
    };
    let len = *len as i8;
    if !(0..=MAX_PRIVATE_NAME as i8).contains(&len) {
        return HelloOutcome::Reject(REJECT_ILLEGAL_NAME);
    }
    let start = at + 2;
    let end = start + len as usize;
    let Some(name) = b.get(start..end) else {
        return HelloOutcome::Partial;
    };
    if !name.iter().all(|c| is_name_byte(*c)) {
        return HelloOutcome::Reject(REJECT_ILLEGAL_NAME);
    }
    HelloOutcome::Done(
        Hello {
            version: (major, minor, patch),
            membership: flags % 2 == 1,
            priority: flags / 16,
            name: Bytes::copy_from_slice(name),
        },
        end,
    )
}

/// Encodes the daemon's auth offer: the method list, each followed by a space.
pub fn encode_auth_offer(methods: &[&str], out: &mut BytesMut) {
    let list: String = methods.iter().map(|m| format!("{m} ")).collect();
    out.put_u8(list.len().min(255) as u8);
    out.put_slice(&list.as_bytes()[..list.len().min(255)]);
}

/// A decoded auth offer, or the reject that came in its place.
#[derive(Debug, PartialEq, Eq)]
pub enum AuthOffer {
    /// Method names offered.
    Methods(Vec<String>),
    /// A negative length: the daemon's reject code.
    Reject(i32),
}

/// Decodes an auth offer (section 4.3); `Ok(None)` = need more bytes.
pub fn decode_auth_offer(b: &[u8]) -> Result<Option<(AuthOffer, usize)>, Error> {
    let Some(&n) = b.first() else {
        return Ok(None);
    };
    let n = n as i8;
    if n < 0 {
        return Ok(Some((AuthOffer::Reject(i32::from(n)), 1)));
    }
    let n = n as usize;
    if n > AUTH_CHOICE_LEN {
        return Err(Error::Handshake(format!(
            "auth list of {n} bytes exceeds {AUTH_CHOICE_LEN}"
        )));
    }
    let Some(list) = b.get(1..1 + n) else {
        return Ok(None);
    };
    let methods = String::from_utf8_lossy(list)
        .split(' ')
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect();
    Ok(Some((AuthOffer::Methods(methods), 1 + n)))
}

/// Encodes the 90-byte auth choice for up to three methods.
pub fn encode_auth_choice(methods: &[&str], out: &mut BytesMut) {
    for slot in 0..3 {
        let m = methods.get(slot).map_or(&b""[..], |m| m.as_bytes());
        let m = &m[..m.len().min(MAX_AUTH_NAME - 1)];
        out.put_slice(m);
        out.put_bytes(0, MAX_AUTH_NAME - m.len());
    }
}

/// Decodes the 90-byte auth choice into its non-empty slots.
pub fn decode_auth_choice(b: &[u8]) -> Option<Vec<Bytes>> {
    let b = b.get(..AUTH_CHOICE_LEN)?;
    Some(
        b.chunks(MAX_AUTH_NAME)
            .map(|slot| Name::from_field(slot).0)
            .filter(|m| !m.is_empty())
            .collect(),
    )
}

/// The daemon's accept (section 4.5).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Accept {
    /// Daemon version; patch is 0 when it was not sent.
    pub version: (u8, u8, u8),
    /// The connection's private group `#priv#daemon`.
    pub private_group: Name,
}

impl Accept {
    /// Encodes the accept; the patch byte is sent iff `with_patch`.
    pub fn encode(&self, with_patch: bool, out: &mut BytesMut) {
        out.put_u8(ACCEPT_SESSION as u8);
        out.put_u8(self.version.0);
        out.put_u8(self.version.1);
        if with_patch {
            out.put_u8(self.version.2);
        }
        let g = self.private_group.as_bytes();
        out.put_u8(g.len() as u8);
        out.put_slice(g);
    }
}

/// Decodes an accept as a ≥ 3.15 library reads it (patch byte present);
/// a first byte other than 1 is the reject code.
pub fn decode_accept(b: &[u8]) -> Result<Option<(Accept, usize)>, Error> {
    let Some(&first) = b.first() else {
        return Ok(None);
    };
    if i32::from(first as i8) != ACCEPT_SESSION {
        return Err(Error::Rejected {
            code: i32::from(first as i8),
        });
    }
    if b.len() < 5 {
        return Ok(None);
    }
    if (b[1] as i8) < 0 || (b[2] as i8) < 0 || (b[3] as i8) < 0 {
        return Err(Error::Rejected {
            code: CONNECTION_CLOSED,
        });
    }
    if b[1] < 3 {
        return Err(Error::Rejected {
            code: REJECT_VERSION,
        });
    }
    let p = b[4] as usize;
    if p >= MAX_GROUP_NAME {
        return Err(Error::Rejected {
            code: CONNECTION_CLOSED,
        });
    }
    let Some(name) = b.get(5..5 + p) else {
        return Ok(None);
    };
    let private_group = Name::from_bytes(name).ok_or(Error::Rejected {
        code: CONNECTION_CLOSED,
    })?;
    Ok(Some((
        Accept {
            version: (b[1], b[2], b[3]),
            private_group,
        },
        5 + p,
    )))
}

/// The name of a return code as `sp.h` spells it.
pub fn code_name(code: i32) -> &'static str {
    match code {
        ACCEPT_SESSION => "ACCEPT_SESSION",
        ILLEGAL_SPREAD => "ILLEGAL_SPREAD",
        COULD_NOT_CONNECT => "COULD_NOT_CONNECT",
        REJECT_QUOTA => "REJECT_QUOTA",
        REJECT_NO_NAME => "REJECT_NO_NAME",
        REJECT_ILLEGAL_NAME => "REJECT_ILLEGAL_NAME",
        REJECT_NOT_UNIQUE => "REJECT_NOT_UNIQUE",
        REJECT_VERSION => "REJECT_VERSION",
        CONNECTION_CLOSED => "CONNECTION_CLOSED",
        REJECT_AUTH => "REJECT_AUTH",
        ILLEGAL_SESSION => "ILLEGAL_SESSION",
        ILLEGAL_SERVICE => "ILLEGAL_SERVICE",
        ILLEGAL_MESSAGE => "ILLEGAL_MESSAGE",
        ILLEGAL_GROUP => "ILLEGAL_GROUP",
        BUFFER_TOO_SHORT => "BUFFER_TOO_SHORT",
        GROUPS_TOO_SHORT => "GROUPS_TOO_SHORT",
        MESSAGE_TOO_LONG => "MESSAGE_TOO_LONG",
        NET_ERROR_ON_SESSION => "NET_ERROR_ON_SESSION",
        SP_BUG => "SP_BUG",
        ILLEGAL_TIME => "ILLEGAL_TIME",
        _ => "UNKNOWN",
    }
}

/// The text libspread's `SP_error` prints for a code.
pub fn code_text(code: i32) -> &'static str {
    match code {
        ILLEGAL_SPREAD => "Illegal spread name provided.",
        COULD_NOT_CONNECT => "Could not connect.",
        REJECT_QUOTA => "Connection rejected, too many users.",
        REJECT_NO_NAME => "Connection rejected, no name was supplied.",
        REJECT_ILLEGAL_NAME => "Connection rejected, illegal name.",
        REJECT_NOT_UNIQUE => "Connection rejected, name not unique.",
        REJECT_VERSION => "Connection rejected, client library incompatible with daemon.",
        CONNECTION_CLOSED => "Connection closed by Spread.",
        REJECT_AUTH => "Connection rejected, authentication failed.",
        ILLEGAL_SESSION => "Illegal session was supplied.",
        ILLEGAL_SERVICE => "Illegal service request.",
        ILLEGAL_MESSAGE => "Illegal message.",
        ILLEGAL_GROUP => "Illegal group.",
        BUFFER_TOO_SHORT => "Buffer too short.",
        GROUPS_TOO_SHORT => "Groups list too short.",
        MESSAGE_TOO_LONG => "Message (body + group names) too large.",
        NET_ERROR_ON_SESSION => "Network socket error. SP_kill() the mailbox.",
        SP_BUG => "Internal Spread bug detected.",
        ILLEGAL_TIME => "Illegal time.",
        _ => "Unknown error.",
    }
}

/// A group id: equality only (section 9.2).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub struct GroupId {
    /// Daemon identifier.
    pub proc_id: i32,
    /// Membership time.
    pub time: i32,
    /// Index within the membership.
    pub index: i32,
}

impl std::fmt::Display for GroupId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{:08X}:{:08X}:{:08X}",
            self.proc_id as u32, self.time as u32, self.index as u32
        )
    }
}

impl GroupId {
    fn decode(endian: Endian, b: &[u8]) -> GroupId {
        GroupId {
            proc_id: endian.get_u32(&b[0..4]) as i32,
            time: endian.get_u32(&b[4..8]) as i32,
            index: endian.get_u32(&b[8..12]) as i32,
        }
    }

    fn encode(&self, endian: Endian, out: &mut BytesMut) {
        endian.put_u32(out, self.proc_id as u32);
        endian.put_u32(out, self.time as u32);
        endian.put_u32(out, self.index as u32);
    }
}

/// A 4.x/5.x membership body (section 9.2).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MembershipBody {
    /// The new view's id.
    pub group_id: GroupId,
    /// The vs_sets in wire order.
    pub vs_sets: Vec<Vec<Name>>,
    /// Byte offset (from body offset 20) of the receiver's own vs_set.
    pub local_offset: u32,
}

impl MembershipBody {
    /// Decodes a body written in `endian`.
    pub fn decode(endian: Endian, b: &[u8]) -> Result<MembershipBody, Error> {
        let short = || Error::Malformed(format!("membership body of {} bytes", b.len()));
        if b.len() < 20 {
            return Err(short());
        }
        let group_id = GroupId::decode(endian, &b[0..12]);
        let count = endian.get_u32(&b[12..16]) as usize;
        let local_offset = endian.get_u32(&b[16..20]);
        let mut rest = &b[20..];
        // Each vs_set takes at least 4 bytes, which bounds the allocation.
        if count > rest.len() / 4 {
            return Err(short());
        }
        let mut vs_sets = Vec::with_capacity(count);
        for _ in 0..count {
            if rest.len() < 4 {
                return Err(short());
            }
            let n = endian.get_u32(&rest[0..4]) as usize;
            rest = &rest[4..];
            if n > rest.len() / MAX_GROUP_NAME {
                return Err(short());
            }
            vs_sets.push(
                rest[..n * MAX_GROUP_NAME]
                    .chunks(MAX_GROUP_NAME)
                    .map(Name::from_field)
                    .collect(),
            );
            rest = &rest[n * MAX_GROUP_NAME..];
        }
        Ok(MembershipBody {
            group_id,
            vs_sets,
            local_offset,
        })
    }

    /// Encodes the body in `endian`.
    pub fn encode(&self, endian: Endian, out: &mut BytesMut) {
        self.group_id.encode(endian, out);
        endian.put_u32(out, self.vs_sets.len() as u32);
        endian.put_u32(out, self.local_offset);
        for set in &self.vs_sets {
            endian.put_u32(out, set.len() as u32);
            for n in set {
                n.put_field(out);
            }
        }
    }

    /// Index of the receiver's own vs_set, found through `local_offset`.
    pub fn local_set(&self) -> Option<usize> {
        let mut at = 0u64;
        for (i, set) in self.vs_sets.iter().enumerate() {
            if at == u64::from(self.local_offset) {
                return Some(i);
            }
            at += 4 + (MAX_GROUP_NAME * set.len()) as u64;
        }
        None
    }
}

/// Decodes the 12-byte group id of a transitional message (swapping it, which
/// libspread 5.0.1 forgets to do: section 5).
pub fn decode_trans_gid(endian: Endian, b: &[u8]) -> Option<GroupId> {
    b.get(..12).map(|b| GroupId::decode(endian, b))
}

/// Encodes a group id alone (the transitional body).
pub fn encode_gid(gid: &GroupId, endian: Endian, out: &mut BytesMut) {
    gid.encode(endian, out);
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn name() -> impl Strategy<Value = Name> {
        proptest::collection::vec(0x24u8..=0x7e, 0..31).prop_map(|b| Name::from_bytes(&b).unwrap())
    }

    fn endian() -> impl Strategy<Value = Endian> {
        prop_oneof![Just(Endian::Little), Just(Endian::Big)]
    }

    fn frame(role: Role) -> impl Strategy<Value = Frame> {
        (
            0u32..0x0040_0000,
            endian(),
            endian(),
            name(),
            any::<i16>(),
            proptest::collection::vec(name(), 0..8),
            proptest::collection::vec(any::<u8>(), 0..600),
            any::<bool>(),
        )
            .prop_map(move |(ty, e, he, sender, msg_type, groups, data, reject)| {
                let reject = reject && role == Role::Client;
                let ty = (ty & !ENDIAN_RESERVED) | if reject { REJECT_MESS } else { 0 };
                Frame {
                    header: Header {
                        ty,
                        endian: e,
                        sender,
                        num_groups: groups.len() as i32,
                        hint: hint_for(msg_type),
                        hint_endian: he,
                        data_len: data.len() as i32,
                    },
                    old_type: reject.then_some(ty & 0x3fff),
                    groups,
                    data: Bytes::from(data),
                }
            })
    }

    proptest! {
        #[test]
        fn decoders_never_panic_on_arbitrary_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..2048)) {
            for role in [Role::Client, Role::Daemon] {
                let mut buf = BytesMut::from(&bytes[..]);
                let mut codec = FrameCodec::new(role);
                while let Ok(Some(f)) = codec.decode(&mut buf) {
                    let _ = super::super::protocol::classify(f);
                }
            }
            let _ = decode_hello(&bytes);
            let _ = decode_auth_offer(&bytes);
            let _ = decode_accept(&bytes);
            let _ = decode_auth_choice(&bytes);
            for e in [Endian::Little, Endian::Big] {
                let _ = MembershipBody::decode(e, &bytes);
            }
        }

        #[test]
        fn frames_round_trip_in_both_byte_orders(f in frame(Role::Client), split in 0usize..2000) {
            for role in [Role::Client, Role::Daemon] {
                if role == Role::Daemon && f.old_type.is_some() {
                    continue;
                }
                let bytes = f.to_bytes();
                // Fed in two pieces: the first is "need more" unless whole.
                let cut = split.min(bytes.len());
                let mut buf = BytesMut::from(&bytes[..cut]);
                let mut codec = FrameCodec::new(role);
                let first = codec.decode(&mut buf).unwrap();
                if cut < bytes.len() {
                    prop_assert!(first.is_none());
                    buf.extend_from_slice(&bytes[cut..]);
                    let got = codec.decode(&mut buf).unwrap().unwrap();
                    prop_assert_eq!(&got, &f);
                } else {
                    prop_assert_eq!(first.as_ref(), Some(&f));
                }
                prop_assert_eq!(got_msg_type(&f), f.header.msg_type());
            }
        }

        #[test]
        fn membership_bodies_round_trip(
            e in endian(),
            gid in (any::<i32>(), any::<i32>(), any::<i32>()),
            sets in proptest::collection::vec(proptest::collection::vec(name(), 0..4), 0..4),
        ) {
            let body = MembershipBody {
                group_id: GroupId { proc_id: gid.0, time: gid.1, index: gid.2 },
                vs_sets: sets,
                local_offset: 0,
            };
            let mut out = BytesMut::new();
            body.encode(e, &mut out);
            prop_assert_eq!(MembershipBody::decode(e, &out).unwrap(), body);
        }

        #[test]
        fn hellos_round_trip(
            v in (3u8..=6, 0u8..=20, 0u8..=20),
            membership in any::<bool>(),
            priority in 0u8..2,
            name in proptest::collection::vec(0x24u8..=0x7e, 0..=10),
        ) {
            let hello = Hello { version: v, membership, priority, name: Bytes::from(name) };
            let mut out = BytesMut::new();
            hello.encode(&mut out);
            match decode_hello(&out) {
                HelloOutcome::Done(mut h, used) => {
                    prop_assert_eq!(used, out.len());
                    if !sends_patch(v.0, v.1) {
                        h.version.2 = v.2;
                    }
                    prop_assert_eq!(h, hello);
                }
                HelloOutcome::Reject(code) => {
                    prop_assert_eq!(code, REJECT_VERSION);
                    let patch = if sends_patch(v.0, v.1) { v.2 } else { 0 };
                    prop_assert!(version_number((v.0, v.1, patch)) < 30100);
                }
                HelloOutcome::Partial => prop_assert!(false, "whole hello reported partial"),
            }
        }
    }

    fn got_msg_type(f: &Frame) -> i16 {
        Header::decode(&f.to_bytes()).msg_type()
    }

    #[test]
    fn oversized_lengths_are_refused_before_buffering() {
        let mut h = Header {
            ty: AGREED_MESS,
            endian: Endian::Little,
            sender: Name::new("#a#d").unwrap(),
            num_groups: 1,
            hint: 0,
            hint_endian: Endian::Little,
            data_len: 144_001,
        };
        let mut buf = BytesMut::new();
        h.encode(&mut buf);
        assert!(FrameCodec::new(Role::Daemon)
            .decode(&mut buf.clone())
            .is_err());
        h.data_len = i32::MAX;
        buf.clear();
        h.encode(&mut buf);
        let mut b = buf.clone();
        assert!(FrameCodec::new(Role::Client).decode(&mut b).is_err());
        assert!(
            b.capacity() < 1 << 20,
            "no allocation sized by the bad length"
        );
        h.num_groups = 101;
        h.data_len = 0;
        buf.clear();
        h.encode(&mut buf);
        assert!(FrameCodec::new(Role::Daemon).decode(&mut buf).is_err());
    }

    #[test]
    fn msg_type_sign_and_marker_bits() {
        assert_eq!(Endian::Little.mark(hint_for(-2)), 0x80ff_fe80);
        let h = Header::decode(&{
            let mut b = BytesMut::new();
            Header {
                ty: SAFE_MESS,
                endian: Endian::Big,
                sender: Name::default(),
                num_groups: 0,
                hint: hint_for(-2),
                hint_endian: Endian::Big,
                data_len: 0,
            }
            .encode(&mut b);
            b
        });
        assert_eq!(h.msg_type(), -2);
        assert_eq!(h.endian, Endian::Big);
        assert_eq!(h.ty, SAFE_MESS);
    }
}
