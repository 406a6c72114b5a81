//! Packets and messages on the wire (simpyio spec §1 and §2).
//!
//! Sans-IO. [`PacketCodec`] frames payloads with a 4-byte big-endian length
//! and checks the limit as soon as the header is in (§1); [`MessageCodec`]
//! adds the `PacketUTF8` + JSON `[type, id, content]` layer (§2) on top. Both
//! implement tokio-util's pure `Decoder`/`Encoder` traits, so the same code
//! runs on TCP, TLS and the simulated network.

use bytes::{Buf, BufMut, Bytes, BytesMut};
use tokio_util::codec::{Decoder, Encoder};

use super::json::{Json, ParseError};

/// Default `max_packet_size` of simpy.io's `Packet` (a payload of exactly this
/// many bytes is accepted).
pub const MAX_PACKET_SIZE: usize = 16384;

/// Bytes of the length header (`struct '!L'`).
pub const HEADER_LEN: usize = 4;

/// Message type `REQUEST`.
pub const REQUEST: i64 = 0;
/// Message type `SUCCESS` (reply).
pub const SUCCESS: i64 = 1;
/// Message type `FAILURE` (reply).
pub const FAILURE: i64 = 2;

/// A framing or message-shape violation. Any of these ends the connection it
/// came from (spec §4: a new implementation closes just that connection).
#[derive(Debug, thiserror::Error)]
pub enum CodecError {
    /// A length header above the limit (the text is simpy.io's own).
    #[error("Packet too large. Allowed {max} bytes but got {got} bytes")]
    TooLarge {
        /// The configured limit.
        max: usize,
        /// The announced or attempted length.
        got: usize,
    },
    /// A `PacketUTF8` payload that is not UTF-8.
    #[error("packet payload is not valid UTF-8 (at byte {0})")]
    Utf8(usize),
    /// A payload that is not JSON.
    #[error("message is not JSON: {0}")]
    Json(#[from] ParseError),
    /// JSON that is not `[type, id, content]`.
    #[error("message is not [type, id, content]: {0}")]
    Shape(&'static str),
    /// A type other than 0, 1 or 2.
    #[error("invalid message type {0}")]
    Type(String),
    /// The socket failed underneath (needed by tokio-util's codec traits).
    #[error(transparent)]
    Io(#[from] std::io::Error),
}

/// 4-byte big-endian length-prefixed packets with a payload limit.
#[derive(Clone, Copy, Debug)]
pub struct PacketCodec {
    max: usize,
}

impl Default for PacketCodec {
    fn default() -> Self {
        Self::new(MAX_PACKET_SIZE)
    }
}

impl PacketCodec {
    /// A codec accepting payloads up to `max_packet_size` bytes (both peers must
    /// agree on it, spec §1).
    pub fn new(max_packet_size: usize) -> Self {
        Self {
            max: max_packet_size,
        }
    }

    /// The payload limit.
    pub fn max_packet_size(&self) -> usize {
        self.max
    }

    /// Appends one frame; refuses payloads over the limit before writing anything.
    pub fn encode_payload(&self, payload: &[u8], out: &mut BytesMut) -> Result<(), CodecError> {
        let len = self.checked_len(payload.len())?;
        out.reserve(HEADER_LEN + payload.len());
        out.put_u32(len);
        out.put_slice(payload);
        Ok(())
    }

    fn checked_len(&self, len: usize) -> Result<u32, CodecError> {
        match u32::try_from(len) {
            Ok(l) if len <= self.max => Ok(l),
            _ => Err(CodecError::TooLarge {
                max: self.max,
                got: len,
            }),
        }
    }
}

impl Decoder for PacketCodec {
    type Item = Bytes;
    type Error = CodecError;

    fn decode(&mut self, src: &mut BytesMut) -> Result<Option<Bytes>, CodecError> {
        let Some(header) = src.get(..HEADER_LEN) else {
            return Ok(None);
        };
        let len = u32::from_be_bytes([header[0], header[1], header[2], header[3]]) as usize;
        if len > self.max {
            return Err(CodecError::TooLarge {
                max: self.max,
                got: len,
            });
        }
        if src.len() < HEADER_LEN + len {
            // Bounded by the check above, so the reservation cannot be abused.
            src.reserve(HEADER_LEN + len - src.len());
            return Ok(None);
        }
        src.advance(HEADER_LEN);
        Ok(Some(src.split_to(len).freeze()))
    }
}

impl Encoder<&[u8]> for PacketCodec {
    type Error = CodecError;

    fn encode(&mut self, item: &[u8], dst: &mut BytesMut) -> Result<(), CodecError> {
        self.encode_payload(item, dst)
    }
}

/// The kind of a message (field `type`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Kind {
    /// 0: a request.
    Request,
    /// 1: a successful reply.
    Success,
    /// 2: a failed reply; the content is the failure text.
    Failure,
}

impl Kind {
    /// The wire number.
    pub fn code(self) -> i64 {
        match self {
            Kind::Request => REQUEST,
            Kind::Success => SUCCESS,
            Kind::Failure => FAILURE,
        }
    }
}

/// One `[type, id, content]` message.
#[derive(Clone, Debug, PartialEq)]
pub struct Message {
    /// Request, success or failure.
    pub kind: Kind,
    /// Chosen by the requester, echoed verbatim by the replier (any JSON value).
    pub id: Json,
    /// Request payload, result, or failure text.
    pub content: Json,
}

impl Message {
    /// Parses a `PacketUTF8` payload into a message.
    pub fn from_payload(payload: &[u8]) -> Result<Message, CodecError> {
        let text = std::str::from_utf8(payload).map_err(|e| CodecError::Utf8(e.valid_up_to()))?;
        Self::from_text(text)
    }

    /// Parses the JSON text of a message.
    pub fn from_text(text: &str) -> Result<Message, CodecError> {
        let Json::Array(items) = Json::parse(text)? else {
            return Err(CodecError::Shape("not an array"));
        };
        let Ok::<[Json; 3], _>([kind, id, content]) = items.try_into() else {
            return Err(CodecError::Shape("not three elements"));
        };
        // Python compares with `==`, so it would also take `1.0` or `true` for
        // SUCCESS; no real peer sends those, and refusing them keeps the rule simple.
        let kind = match kind {
            Json::Int(0) => Kind::Request,
            Json::Int(1) => Kind::Success,
            Json::Int(2) => Kind::Failure,
            other => return Err(CodecError::Type(other.to_text())),
        };
        Ok(Message { kind, id, content })
    }

    /// The JSON text, byte-identical to what Python's `json.dumps` produces.
    pub fn to_text(&self) -> String {
        let mut s = String::with_capacity(64);
        s.push('[');
        s.push(match self.kind {
            Kind::Request => '0',
            Kind::Success => '1',
            Kind::Failure => '2',
        });
        s.push_str(", ");
        self.id.write_to(&mut s);
        s.push_str(", ");
        self.content.write_to(&mut s);
        s.push(']');
        s
    }
}

/// Messages over packets: the codec a connection runs.
#[derive(Clone, Copy, Debug, Default)]
pub struct MessageCodec {
    packets: PacketCodec,
}

impl MessageCodec {
    /// A message codec with the given packet limit.
    pub fn new(max_packet_size: usize) -> Self {
        Self {
            packets: PacketCodec::new(max_packet_size),
        }
    }

    /// The packet limit.
    pub fn max_packet_size(&self) -> usize {
        self.packets.max
    }
}

impl Decoder for MessageCodec {
    type Item = Message;
    type Error = CodecError;

    fn decode(&mut self, src: &mut BytesMut) -> Result<Option<Message>, CodecError> {
        match self.packets.decode(src)? {
            Some(payload) => Message::from_payload(&payload).map(Some),
            None => Ok(None),
        }
    }
}

impl Encoder<&Message> for MessageCodec {
    type Error = CodecError;

    fn encode(&mut self, item: &Message, dst: &mut BytesMut) -> Result<(), CodecError> {
        let text = item.to_text();
        self.packets.encode_payload(text.as_bytes(), dst)
    }
}

impl Encoder<Message> for MessageCodec {
    type Error = CodecError;

    fn encode(&mut self, item: Message, dst: &mut BytesMut) -> Result<(), CodecError> {
        self.encode(&item, dst)
    }
}

/// A message already turned into its JSON text, so the sender can check its
/// size against the limit (and answer differently) before queueing it.
#[derive(Clone, Debug)]
pub struct Encoded(pub String);

impl Encoder<Encoded> for MessageCodec {
    type Error = CodecError;

    fn encode(&mut self, item: Encoded, dst: &mut BytesMut) -> Result<(), CodecError> {
        self.packets.encode_payload(item.0.as_bytes(), dst)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn split_and_joined_frames() {
        let mut codec = PacketCodec::default();
        let mut buf = BytesMut::new();
        codec.encode_payload(b"ohai", &mut buf).unwrap();
        codec.encode_payload(b"", &mut buf).unwrap();
        let wire = buf.clone();
        // all at once
        assert_eq!(codec.decode(&mut buf).unwrap().unwrap(), &b"ohai"[..]);
        assert_eq!(codec.decode(&mut buf).unwrap().unwrap(), &b""[..]);
        assert!(codec.decode(&mut buf).unwrap().is_none());
        // byte by byte
        let mut buf = BytesMut::new();
        let mut got = Vec::new();
        for b in wire.iter() {
            buf.put_u8(*b);
            while let Some(p) = codec.decode(&mut buf).unwrap() {
                got.push(p);
            }
        }
        assert_eq!(got, vec![Bytes::from_static(b"ohai"), Bytes::new()]);
    }

    #[test]
    fn limit_is_inclusive_and_checked_on_the_header() {
        let mut codec = PacketCodec::default();
        let mut out = BytesMut::new();
        assert!(codec
            .encode_payload(&[b'x'; MAX_PACKET_SIZE], &mut out)
            .is_ok());
        assert!(matches!(
            codec.encode_payload(&[b'x'; MAX_PACKET_SIZE + 1], &mut BytesMut::new()),
            Err(CodecError::TooLarge { got: 16385, .. })
        ));
        assert_eq!(
            codec.decode(&mut out).unwrap().unwrap().len(),
            MAX_PACKET_SIZE
        );
        let mut header_only = BytesMut::from(&[0u8, 0, 0x40, 0x01][..]);
        let err = codec.decode(&mut header_only).unwrap_err();
        assert_eq!(
            err.to_string(),
            "Packet too large. Allowed 16384 bytes but got 16385 bytes"
        );
        let mut huge = BytesMut::from(&[0xffu8, 0xff, 0xff, 0xff][..]);
        assert!(codec.decode(&mut huge).is_err());
    }

    #[test]
    fn message_shapes() {
        assert!(matches!(
            Message::from_text("[7, 0, null]"),
            Err(CodecError::Type(_))
        ));
        assert!(matches!(
            Message::from_text("[0, 0]"),
            Err(CodecError::Shape(_))
        ));
        assert!(matches!(
            Message::from_text("{}"),
            Err(CodecError::Shape(_))
        ));
        assert!(matches!(
            Message::from_text("nope"),
            Err(CodecError::Json(_))
        ));
        assert!(matches!(
            Message::from_payload(b"[0, 0, \"\xff\"]"),
            Err(CodecError::Utf8(8))
        ));
        let m = Message::from_text("[0,\"abc\",{}]").unwrap();
        assert_eq!(m.id, Json::str("abc"));
    }

    fn json_leaf() -> impl Strategy<Value = Json> {
        prop_oneof![
            Just(Json::Null),
            any::<bool>().prop_map(Json::Bool),
            any::<i64>().prop_map(|i| Json::Int(i.into())),
            any::<u64>().prop_map(|i| Json::Int(i.into())),
            any::<f64>()
                .prop_filter("NaN never compares equal", |f| !f.is_nan())
                .prop_map(Json::Float),
            ".*".prop_map(Json::Str),
        ]
    }

    fn json_value() -> impl Strategy<Value = Json> {
        json_leaf().prop_recursive(4, 32, 6, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..6).prop_map(Json::Array),
                prop::collection::vec(("[a-z_]{0,6}", inner.clone()), 0..6).prop_map(|kv| {
                    let mut items: Vec<(String, Json)> = Vec::new();
                    for (k, v) in kv {
                        if k != super::super::json::CUSTOM_TYPEID
                            && !items.iter().any(|(x, _)| *x == k)
                        {
                            items.push((k, v));
                        }
                    }
                    Json::Object(items)
                }),
                (0u64..4, inner).prop_map(|(typeid, data)| Json::Custom {
                    typeid,
                    data: Box::new(data)
                }),
            ]
        })
    }

    proptest! {
        #[test]
        fn packet_decoder_never_panics(chunks in prop::collection::vec(prop::collection::vec(any::<u8>(), 0..64), 0..8)) {
            let mut codec = MessageCodec::new(256);
            let mut buf = BytesMut::new();
            for c in chunks {
                buf.extend_from_slice(&c);
                while let Ok(Some(_)) = codec.decode(&mut buf) {}
            }
        }

        #[test]
        fn json_parser_never_panics(s in ".{0,200}") {
            let _ = Json::parse(&s);
        }

        #[test]
        fn messages_round_trip(id in json_value(), content in json_value(), kind in 0usize..3) {
            let kind = [Kind::Request, Kind::Success, Kind::Failure][kind];
            let m = Message { kind, id, content };
            let mut codec = MessageCodec::new(1 << 20);
            let mut buf = BytesMut::new();
            codec.encode(&m, &mut buf).unwrap();
            let back = codec.decode(&mut buf).unwrap().unwrap();
            prop_assert_eq!(back, m);
            prop_assert!(buf.is_empty());
        }
    }
}
