//! Pool TCP wire framing (plasma spec 7.2, 7.3): the fixed 88-byte client
//! greeting, the server's `pv sv nn mask` hello, the 2-byte greeting inside TLS
//! (7.7), and the bare slaw-v2 proteins `{op, args}` exchanged after the
//! handshake. Sans-IO: tokio-util `Decoder`/`Encoder` over byte buffers.
//!
//! Messages keep nested proteins as byte slices of the received frame, so a
//! deposit goes from the socket buffer to the pool without a slaw tree.

use bytes::{Buf, Bytes, BytesMut};
use tokio_util::codec::{Decoder, Encoder};

use crate::engine::slaw::{self, Endian, Kind, Slaw, SlawView};

/// Default TCP port of a pool server.
pub const DEFAULT_PORT: u16 = 65456;

/// Highest protocol version spoken (spec 7.2: always send 3).
pub const PROTOCOL_VERSION: u8 = 3;

/// Highest slaw version spoken.
pub const SLAW_VERSION: u8 = 2;

/// Offset of pv in the greeting (sv follows).
pub const GREETING_PV_AT: usize = 76;

/// The client greeting with pv = sv = 0 (spec 7.2; vector
/// `wire-tcp-client-greeting-pv3-sv2` with its two version bytes zeroed).
pub const GREETING: [u8; 88] = [
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x50, 0x93, 0x93, 0x00, 0x80, 0x18, 0x00, 0x00, 0x02,
    0x00, 0x00, 0x00, 0x10, 0x40, 0x00, 0x00, 0x04, 0x20, 0x00, 0x00, 0x01, 0x6f, 0x70, 0x00, 0x00,
    0x08, 0x00, 0x00, 0x03, 0x00, 0x00, 0x00, 0x01, 0x40, 0x00, 0x00, 0x08, 0x20, 0x00, 0x00, 0x02,
    0x61, 0x72, 0x67, 0x73, 0x00, 0x00, 0x00, 0x00, 0x10, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x05,
    0x20, 0x00, 0x00, 0x02, 0x5e, 0x2f, 0x5e, 0x2f, 0x5e, 0x2f, 0x5e, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
];

/// Default cap on one message (a deposit carries a whole protein).
pub const DEFAULT_MAX_MESSAGE_BYTES: usize = 64 * 1024 * 1024;

/// Most mask bytes a hello may carry; libPlasma sends 4 (ops 0-31).
const MAX_MASK_BYTES: usize = 32;

/// Codec errors: the stream is not the pool protocol (the connection closes).
#[derive(Debug, thiserror::Error)]
pub enum CodecError {
    /// A message is not a valid protein.
    #[error("malformed message: {0}")]
    Slaw(#[from] slaw::Error),
    /// A protein that is not `{op, args}`.
    #[error("malformed message: {0}")]
    Shape(&'static str),
    /// A message longer than the configured cap.
    #[error("message of {len} bytes exceeds the {max}-byte limit")]
    TooLong {
        /// Declared length.
        len: usize,
        /// The cap.
        max: usize,
    },
    /// Socket failure (needed by tokio-util's framing).
    #[error("i/o: {0}")]
    Io(#[from] std::io::Error),
}

/// An argument or result value of a message (spec 7.3 type codes).
#[derive(Debug, Clone, PartialEq)]
pub enum Arg {
    /// nil (absent string or protein).
    Nil,
    /// An integer (`i`, `r`); unt64 retorts of old servers land here too.
    Int(i64),
    /// A float64 (`t`).
    Float(f64),
    /// A string (`s`).
    Str(String),
    /// A protein (`p`), exactly its bytes in the message's byte order.
    Protein(Bytes),
    /// Any other slaw (`x`: patterns, option maps, lists).
    Slaw(Slaw),
}

impl Arg {
    /// The integer, if this is one.
    pub fn as_i64(&self) -> Option<i64> {
        match self {
            Arg::Int(i) => Some(*i),
            _ => None,
        }
    }

    /// The number as f64 (ints are accepted where libPlasma accepts them).
    pub fn as_f64(&self) -> Option<f64> {
        match self {
            Arg::Float(f) => Some(*f),
            Arg::Int(i) => Some(*i as f64),
            _ => None,
        }
    }

    /// The string, if this is one.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Arg::Str(s) => Some(s),
            _ => None,
        }
    }

    /// The protein bytes, if this is one.
    pub fn as_protein(&self) -> Option<&Bytes> {
        match self {
            Arg::Protein(p) => Some(p),
            _ => None,
        }
    }

    fn to_slaw(&self) -> Slaw {
        match self {
            Arg::Nil => Slaw::Nil,
            Arg::Int(i) => Slaw::i64(*i),
            Arg::Float(f) => Slaw::f64(*f),
            Arg::Str(s) => Slaw::str(s.clone()),
            // Embedded verbatim: the bytes are already one protein (validated on
            // receipt or produced by our pool), in the message's byte order.
            Arg::Protein(p) => Slaw::Nonstd(p.to_vec()),
            Arg::Slaw(s) => s.clone(),
        }
    }

    fn from_view(v: SlawView<'_>, frame: &Bytes) -> Arg {
        match v.kind() {
            Kind::Nil => Arg::Nil,
            Kind::String => match v.as_str() {
                Some(s) => Arg::Str(s.to_string()),
                None => Arg::Slaw(v.to_slaw()),
            },
            Kind::Num => {
                // Fast path for the int64 and float64 scalars every reply
                // carries; anything else goes through the slaw tree.
                let b = v.bytes();
                if b.len() == 16 {
                    let word = |at: usize| {
                        b.get(at..at + 8)
                            .and_then(|x| <[u8; 8]>::try_from(x).ok())
                            .map(|x| match v.endian() {
                                Endian::Little => u64::from_le_bytes(x),
                                Endian::Big => u64::from_be_bytes(x),
                            })
                    };
                    let w = words(v.endian());
                    match (word(0), word(8)) {
                        (Some(h), Some(x)) if h == w.int64 => return Arg::Int(x as i64),
                        (Some(h), Some(x)) if h == w.float64 => {
                            return Arg::Float(f64::from_bits(x))
                        }
                        _ => {}
                    }
                }
                let s = v.to_slaw();
                match &s {
                    Slaw::Num(n) if n.format.ty.is_float() && n.breadth() == 1 => {
                        s.as_f64().map(Arg::Float).unwrap_or(Arg::Slaw(s))
                    }
                    _ => match s.as_i64().or_else(|| s.as_u64().map(|u| u as i64)) {
                        Some(i) => Arg::Int(i),
                        None => Arg::Slaw(s),
                    },
                }
            }
            Kind::Protein | Kind::Nonstd => {
                let base = frame.as_ptr() as usize;
                let at = (v.bytes().as_ptr() as usize).wrapping_sub(base);
                match at.checked_add(v.bytes().len()) {
                    Some(end) if end <= frame.len() => Arg::Protein(frame.slice(at..end)),
                    _ => Arg::Protein(Bytes::copy_from_slice(v.bytes())),
                }
            }
            _ => Arg::Slaw(v.to_slaw()),
        }
    }
}

/// One request or response: `{op: int32, args: [...]}` as a protein's ingests.
#[derive(Debug, Clone, PartialEq)]
pub struct Message {
    /// Operation (requests) or response code (14, 64-66).
    pub op: i64,
    /// Arguments or results.
    pub args: Vec<Arg>,
}

impl Message {
    /// A message.
    pub fn new(op: i64, args: Vec<Arg>) -> Self {
        Message { op, args }
    }

    /// Argument `i`, if present.
    pub fn arg(&self, i: usize) -> Option<&Arg> {
        self.args.get(i)
    }

    /// Decodes one whole message protein (either byte order).
    pub fn decode(frame: Bytes) -> Result<Message, CodecError> {
        let view = slaw::validate_protein(&frame)?;
        let ingests = view
            .ingests()
            .ok_or(CodecError::Shape("protein has no ingests"))?;
        if ingests.kind() != Kind::Map {
            return Err(CodecError::Shape("ingests are not a map"));
        }
        let op = ingests
            .get("op")
            .and_then(|o| o.as_i64())
            .ok_or(CodecError::Shape("no integer op"))?;
        let args = match ingests.get("args") {
            None => Vec::new(),
            Some(a) if a.kind() == Kind::List => {
                a.children().map(|c| Arg::from_view(c, &frame)).collect()
            }
            Some(a) if a.is_nil() => Vec::new(),
            Some(_) => return Err(CodecError::Shape("args are not a list")),
        };
        Ok(Message { op, args })
    }

    /// The byte order of the message: that of its first nested protein (spec
    /// 7.3: nested proteins share the message's order), else little-endian.
    fn endian(&self) -> Endian {
        self.args
            .iter()
            .find_map(|a| match a {
                Arg::Protein(p) => p
                    .get(..8)
                    .and_then(|b| <[u8; 8]>::try_from(b).ok())
                    .and_then(slaw::protein_endian),
                _ => None,
            })
            .unwrap_or(Endian::Little)
    }

    /// Appends the message as a protein, written straight into `out`: no slaw
    /// tree is built and a nested protein is copied once (the bytes equal
    /// [`Message::encode_tree_into`]'s, which the tests check).
    pub fn encode_into(&self, out: &mut Vec<u8>) {
        self.encode_to(out);
    }

    fn encode_to(&self, out: &mut impl Sink) {
        let e = self.endian();
        let w = words(e);
        let start = out.len();
        out.put(&[0u8; 16]);
        let pairs = if self.args.is_empty() { 1 } else { 2 };
        let map = open(out, pairs);
        let cons = open(out, 2);
        out.put(&w.op_key);
        // libPlasma writes op as int32: a one-word numeric whose value is the
        // header word's low 32 bits (its special bytes) in either byte order.
        out.put(&e.u64_to(w.int32 | u64::from(self.op as i32 as u32)));
        close(out, cons, 0x6, 2, e);
        if !self.args.is_empty() {
            let cons = open(out, 2);
            out.put(&w.args_key);
            let list = open(out, self.args.len());
            for a in &self.args {
                put_arg(a, e, w, out);
            }
            close(out, list, 0x4, self.args.len(), e);
            close(out, cons, 0x6, 2, e);
        }
        close(out, map, 0x5, pairs, e);
        let octlen = ((out.len() - start) / 8) as u64;
        let hdr = 0x1000_0000_0000_0000 | (octlen & 0xf) | ((octlen & !0xf) << 4);
        out.set(start, e.u64_to(hdr));
        out.set(start + 8, e.u64_to(slaw::codec::PROTEIN_INGESTS));
    }

    /// The reference encoder: builds the slaw tree and encodes it with the
    /// slaw engine. Kept to check [`Message::encode_into`] against.
    pub fn encode_tree_into(&self, out: &mut Vec<u8>) {
        let endian = self.endian();
        // libPlasma writes op as int32; a request without arguments omits args
        // (vector tcp-req-newest-index).
        let mut pairs = vec![(Slaw::str("op"), Slaw::i32(self.op as i32))];
        if !self.args.is_empty() {
            pairs.push((
                Slaw::str("args"),
                Slaw::List(self.args.iter().map(Arg::to_slaw).collect()),
            ));
        }
        let p = slaw::Protein {
            descrips: None,
            ingests: Some(Slaw::Map(pairs)),
            rude: Vec::new(),
        };
        slaw::encode_protein_into(&p, endian, out);
    }

    /// The message as bytes.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::new();
        self.encode_into(&mut out);
        out
    }
}

/// Where a message is encoded: a `Vec` or the connection's write buffer.
trait Sink {
    fn len(&self) -> usize;
    fn put(&mut self, bytes: &[u8]);
    fn set(&mut self, at: usize, word: [u8; 8]);
}

impl Sink for Vec<u8> {
    fn len(&self) -> usize {
        Vec::len(self)
    }
    fn put(&mut self, bytes: &[u8]) {
        self.extend_from_slice(bytes);
    }
    fn set(&mut self, at: usize, word: [u8; 8]) {
        if let Some(dst) = self.get_mut(at..at + 8) {
            dst.copy_from_slice(&word);
        }
    }
}

impl Sink for BytesMut {
    fn len(&self) -> usize {
        BytesMut::len(self)
    }
    fn put(&mut self, bytes: &[u8]) {
        self.extend_from_slice(bytes);
    }
    fn set(&mut self, at: usize, word: [u8; 8]) {
        if let Some(dst) = self.get_mut(at..at + 8) {
            dst.copy_from_slice(&word);
        }
    }
}

/// Header words and fixed encodings a message needs, per byte order, taken
/// once from the slaw engine's own encoder so they cannot drift from it.
struct Words {
    int32: u64,
    int64: u64,
    float64: u64,
    op_key: Vec<u8>,
    args_key: Vec<u8>,
}

fn header_of(s: &Slaw) -> u64 {
    let mut v = Vec::new();
    slaw::encode_into(s, Endian::Little, &mut v);
    v.get(..8)
        .and_then(|b| <[u8; 8]>::try_from(b).ok())
        .map(u64::from_le_bytes)
        .unwrap_or(0)
}

fn words(e: Endian) -> &'static Words {
    static LE: std::sync::OnceLock<Words> = std::sync::OnceLock::new();
    static BE: std::sync::OnceLock<Words> = std::sync::OnceLock::new();
    let cell = match e {
        Endian::Little => &LE,
        Endian::Big => &BE,
    };
    cell.get_or_init(|| {
        let key = |k: &str| {
            let mut v = Vec::new();
            slaw::encode_into(&Slaw::str(k), e, &mut v);
            v
        };
        Words {
            // An int32's value sits in the header's special bytes: zero them.
            int32: header_of(&Slaw::i32(0)),
            int64: header_of(&Slaw::i64(0)),
            float64: header_of(&Slaw::f64(0.0)),
            op_key: key("op"),
            args_key: key("args"),
        }
    })
}

/// Starts a container: its header word (and a count word for 15 or more
/// children), filled in by [`close`].
fn open(out: &mut impl Sink, count: usize) -> usize {
    let at = out.len();
    out.put(&[0u8; 8]);
    if count >= 15 {
        out.put(&[0u8; 8]);
    }
    at
}

fn close(out: &mut impl Sink, at: usize, kind: u64, count: usize, e: Endian) {
    let octlen = ((out.len() - at) / 8) as u64;
    let big = count >= 15;
    let field = if big { 15 } else { count as u64 };
    let hdr = (kind << 60) | (field << 56) | (octlen & slaw::codec::OCTLEN_MASK);
    out.set(at, e.u64_to(hdr));
    if big {
        out.set(at + 8, e.u64_to(count as u64));
    }
}

fn pad8(out: &mut impl Sink) {
    let rem = out.len() % 8;
    if rem != 0 {
        out.put(&[0u8; 8][..8 - rem]);
    }
}

fn put_arg(a: &Arg, e: Endian, w: &Words, out: &mut impl Sink) {
    match a {
        Arg::Nil => out.put(&e.u64_to(0x2000_0000_0000_0002)),
        Arg::Int(i) => {
            out.put(&e.u64_to(w.int64));
            out.put(&e.u64_to(*i as u64));
        }
        Arg::Float(f) => {
            out.put(&e.u64_to(w.float64));
            out.put(&e.u64_to(f.to_bits()));
        }
        Arg::Protein(p) => {
            out.put(p);
            pad8(out);
        }
        Arg::Str(_) | Arg::Slaw(_) => {
            let mut v = Vec::new();
            slaw::encode_into(&a.to_slaw(), e, &mut v);
            out.put(&v);
        }
    }
}

/// What the codec expects next on the stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Server: the 88-byte client greeting.
    Greeting,
    /// Server after STARTTLS: the 2-byte `pv sv` greeting inside TLS.
    TlsGreeting,
    /// Client: the server's `pv sv nn mask` hello.
    Hello,
    /// Both: bare proteins.
    Messages,
}

/// Everything the codec can read.
#[derive(Debug, Clone, PartialEq)]
pub enum Inbound {
    /// A client greeting with its highest versions.
    Greeting {
        /// Protocol version.
        pv: u8,
        /// Slaw version.
        sv: u8,
    },
    /// The first bytes are not a greeting: a protocol-0 client or garbage.
    NotGreeting,
    /// The server's hello.
    Hello {
        /// Chosen protocol version (`00` = protocol-0 server, `ff` = no common version).
        pv: u8,
        /// Chosen slaw version.
        sv: u8,
        /// Supported-op bitmask (bit k = op k).
        mask: u64,
    },
    /// A message.
    Message(Message),
}

/// Everything the codec can write.
#[derive(Debug, Clone, PartialEq)]
pub enum Outbound {
    /// The client greeting with versions.
    Greeting {
        /// Protocol version.
        pv: u8,
        /// Slaw version.
        sv: u8,
    },
    /// The 2-byte greeting inside TLS.
    TlsGreeting {
        /// Protocol version.
        pv: u8,
        /// Slaw version.
        sv: u8,
    },
    /// The server hello.
    Hello {
        /// Protocol version.
        pv: u8,
        /// Slaw version.
        sv: u8,
        /// Supported-op bitmask.
        mask: u64,
    },
    /// A message.
    Message(Message),
    /// Pre-encoded message bytes (hot paths build these without a tree).
    Raw(Bytes),
}

/// The pool TCP codec; switch [`Codec::mode`] as the handshake proceeds.
#[derive(Debug, Clone)]
pub struct Codec {
    /// What is expected next.
    pub mode: Mode,
    /// Cap on one message.
    pub max_message_bytes: usize,
}

impl Codec {
    /// A codec in `mode` with the default message cap.
    pub fn new(mode: Mode) -> Self {
        Codec {
            mode,
            max_message_bytes: DEFAULT_MAX_MESSAGE_BYTES,
        }
    }
}

/// The mask bytes, least significant first, as many as needed for the highest
/// set bit (at least one).
pub fn mask_bytes(mask: u64) -> Vec<u8> {
    let n = (8 - (mask.leading_zeros() / 8) as usize).max(1);
    mask.to_le_bytes()[..n].to_vec()
}

impl Decoder for Codec {
    type Item = Inbound;
    type Error = CodecError;

    fn decode(&mut self, src: &mut BytesMut) -> Result<Option<Inbound>, CodecError> {
        match self.mode {
            Mode::Greeting => {
                // Compare as bytes arrive so garbage is refused without waiting
                // for 88 of them.
                let n = src.len().min(GREETING.len());
                let bad = src[..n]
                    .iter()
                    .zip(GREETING.iter())
                    .enumerate()
                    .any(|(i, (a, b))| i != GREETING_PV_AT && i != GREETING_PV_AT + 1 && a != b);
                if bad {
                    return Ok(Some(Inbound::NotGreeting));
                }
                if src.len() < GREETING.len() {
                    return Ok(None);
                }
                let pv = src[GREETING_PV_AT];
                let sv = src[GREETING_PV_AT + 1];
                src.advance(GREETING.len());
                Ok(Some(Inbound::Greeting { pv, sv }))
            }
            Mode::TlsGreeting => {
                if src.len() < 2 {
                    return Ok(None);
                }
                let (pv, sv) = (src[0], src[1]);
                src.advance(2);
                Ok(Some(Inbound::Greeting { pv, sv }))
            }
            Mode::Hello => {
                if src.len() < 2 {
                    return Ok(None);
                }
                let (pv, sv) = (src[0], src[1]);
                if (pv, sv) == (0, 0) || (pv, sv) == (0xff, 0xff) {
                    src.advance(2);
                    return Ok(Some(Inbound::Hello { pv, sv, mask: 0 }));
                }
                if src.len() < 3 {
                    return Ok(None);
                }
                let nn = src[2] as usize;
                if nn > MAX_MASK_BYTES {
                    return Err(CodecError::Shape("hello mask longer than 32 bytes"));
                }
                if src.len() < 3 + nn {
                    return Ok(None);
                }
                let mut mask = 0u64;
                for (i, b) in src[3..3 + nn].iter().take(8).enumerate() {
                    mask |= u64::from(*b) << (8 * i);
                }
                src.advance(3 + nn);
                Ok(Some(Inbound::Hello { pv, sv, mask }))
            }
            Mode::Messages => {
                let Some((_, len)) = slaw::protein_frame_len(src)? else {
                    return Ok(None);
                };
                if len > self.max_message_bytes {
                    return Err(CodecError::TooLong {
                        len,
                        max: self.max_message_bytes,
                    });
                }
                if src.len() < len {
                    src.reserve(len - src.len());
                    return Ok(None);
                }
                let frame = src.split_to(len).freeze();
                Message::decode(frame).map(|m| Some(Inbound::Message(m)))
            }
        }
    }
}

impl Encoder<Outbound> for Codec {
    type Error = CodecError;

    fn encode(&mut self, item: Outbound, dst: &mut BytesMut) -> Result<(), CodecError> {
        match item {
            Outbound::Greeting { pv, sv } => {
                let mut g = GREETING;
                g[GREETING_PV_AT] = pv;
                g[GREETING_PV_AT + 1] = sv;
                dst.extend_from_slice(&g);
            }
            Outbound::TlsGreeting { pv, sv } => dst.extend_from_slice(&[pv, sv]),
            Outbound::Hello { pv, sv, mask } => {
                let m = mask_bytes(mask);
                dst.extend_from_slice(&[pv, sv, m.len() as u8]);
                dst.extend_from_slice(&m);
            }
            Outbound::Message(m) => m.encode_to(dst),
            Outbound::Raw(b) => dst.extend_from_slice(&b),
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn decode_all(mode: Mode, bytes: &[u8]) -> Result<Vec<Inbound>, CodecError> {
        let mut c = Codec::new(mode);
        c.max_message_bytes = 1 << 20;
        let mut buf = BytesMut::from(bytes);
        let mut out = Vec::new();
        while let Some(item) = c.decode(&mut buf)? {
            let stop = matches!(item, Inbound::NotGreeting);
            out.push(item);
            if stop || buf.is_empty() {
                break;
            }
        }
        Ok(out)
    }

    #[test]
    fn mask_bytes_are_lsb_first_and_minimal() {
        assert_eq!(mask_bytes(0x3bff_9fff), vec![0xff, 0x9f, 0xff, 0x3b]);
        assert_eq!(mask_bytes(0x019fff), vec![0xff, 0x9f, 0x01]);
        assert_eq!(mask_bytes(0), vec![0]);
    }

    #[test]
    fn greeting_prefix_mismatch_is_refused_early() {
        let got = decode_all(Mode::Greeting, b"GET / HTTP/1.1\r\n").unwrap();
        assert_eq!(got, vec![Inbound::NotGreeting]);
        let got = decode_all(Mode::Greeting, &GREETING[..40]).unwrap();
        assert!(got.is_empty());
    }

    #[test]
    fn oversized_message_is_refused_before_it_arrives() {
        // A protein header claiming 2^40 octs.
        let hdr: u64 = 0x1000_0000_0000_0000 | (1u64 << 44);
        let mut c = Codec::new(Mode::Messages);
        let mut buf = BytesMut::from(&hdr.to_le_bytes()[..]);
        assert!(matches!(
            c.decode(&mut buf),
            Err(CodecError::TooLong { .. }) | Err(CodecError::Slaw(_))
        ));
    }

    #[test]
    fn message_without_op_is_a_shape_error() {
        let p = slaw::Protein::new(Slaw::strings(["x"]), Slaw::map([("a", Slaw::i32(1))]));
        let b = slaw::encode_protein(&p);
        assert!(matches!(
            Message::decode(Bytes::from(b)),
            Err(CodecError::Shape(_))
        ));
    }

    #[test]
    fn truncated_message_waits_for_more() {
        let m = Message::new(5, vec![Arg::Int(1), Arg::Str("pool".into())]);
        let b = m.to_bytes();
        for cut in 0..b.len() {
            let mut c = Codec::new(Mode::Messages);
            let mut buf = BytesMut::from(&b[..cut]);
            assert!(c.decode(&mut buf).unwrap().is_none(), "cut {cut}");
        }
    }

    fn arg_strategy() -> impl Strategy<Value = Arg> {
        prop_oneof![
            Just(Arg::Nil),
            any::<i64>().prop_map(Arg::Int),
            (-1e12f64..1e12).prop_map(Arg::Float),
            "[a-z/]{0,20}".prop_map(Arg::Str),
            proptest::collection::vec(any::<u8>(), 0..40).prop_map(|rude| {
                let p = slaw::Protein::new(Slaw::strings(["d"]), Slaw::map([("k", Slaw::i64(1))]))
                    .with_rude(rude);
                Arg::Protein(Bytes::from(slaw::encode_protein(&p)))
            }),
        ]
    }

    proptest! {
        #[test]
        fn messages_round_trip(op in 0i64..100, args in proptest::collection::vec(arg_strategy(), 0..6)) {
            let m = Message::new(op, args);
            let mut c = Codec::new(Mode::Messages);
            let mut buf = BytesMut::new();
            c.encode(Outbound::Message(m.clone()), &mut buf).unwrap();
            let got = c.decode(&mut buf).unwrap();
            prop_assert_eq!(got, Some(Inbound::Message(m)));
            prop_assert!(buf.is_empty());
        }

        #[test]
        fn direct_encoding_equals_the_slaw_tree_encoding(
            op in -70i64..100_000,
            args in proptest::collection::vec(prop_oneof![
                arg_strategy(),
                any::<f64>().prop_map(Arg::Float),
                ".{0,30}".prop_map(Arg::Str),
                proptest::collection::vec(any::<u8>(), 0..40).prop_map(|rude| {
                    let p = slaw::Protein::new(Slaw::strings(["be"]), Slaw::map([("k", Slaw::f64(1.5))]))
                        .with_rude(rude);
                    let mut v = Vec::new();
                    slaw::encode_protein_into(&p, Endian::Big, &mut v);
                    Arg::Protein(Bytes::from(v))
                }),
                "[a-z]{0,8}".prop_map(|k| Arg::Slaw(Slaw::map([(k.as_str(), Slaw::i64(3))]))),
            ], 0..20),
        ) {
            let m = Message::new(op, args);
            let mut direct = Vec::new();
            m.encode_into(&mut direct);
            let mut tree = Vec::new();
            m.encode_tree_into(&mut tree);
            prop_assert_eq!(&direct, &tree);
            let mut buf = BytesMut::new();
            Codec::new(Mode::Messages).encode(Outbound::Message(m), &mut buf).unwrap();
            prop_assert_eq!(&buf[..], &tree[..]);
        }

        #[test]
        fn decoder_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
            for mode in [Mode::Greeting, Mode::TlsGreeting, Mode::Hello, Mode::Messages] {
                let _ = decode_all(mode, &bytes);
            }
        }

        #[test]
        fn hello_round_trips(pv in 1u8..4, sv in 1u8..3, mask in 1u64..u64::MAX) {
            let mut c = Codec::new(Mode::Hello);
            let mut buf = BytesMut::new();
            c.encode(Outbound::Hello { pv, sv, mask }, &mut buf).unwrap();
            prop_assert_eq!(c.decode(&mut buf).unwrap(), Some(Inbound::Hello { pv, sv, mask }));
        }
    }
}
