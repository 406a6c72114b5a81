//! Box framing (amp spec section 1): sans-IO encoder and incremental decoder.
//!
//! A box is a run of `u16 BE key length, key, u16 BE value length, value` pairs
//! ended by a zero key length. Keys are 1..=255 bytes, values 0..=65535 bytes;
//! both limits are enforced when decoding and when encoding.

use std::collections::BTreeMap;

use bytes::{Buf, BufMut, Bytes, BytesMut};
use tokio_util::codec::{Decoder, Encoder};

/// Longest key Twisted sends or accepts (`MAX_KEY_LENGTH`).
pub const MAX_KEY_LENGTH: usize = 0xFF;
/// Longest value (`MAX_VALUE_LENGTH`); exactly this many bytes is legal.
pub const MAX_VALUE_LENGTH: usize = 0xFFFF;
/// Default cap on one whole box. Twisted has none, but a box with unbounded
/// pairs would let one peer grow our buffer forever; 16 MiB is 256 maximal values.
pub const DEFAULT_MAX_BOX_BYTES: usize = 16 * 1024 * 1024;

/// Framing errors. Each closes the connection, as Twisted does.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CodecError {
    /// A received key length field over 255.
    #[error("key length {0} exceeds the maximum of 255")]
    KeyTooLong(usize),
    /// A box to send has a key over 255 bytes (Twisted: `local key too long`).
    #[error("local key too long: {0}")]
    LocalKeyTooLong(usize),
    /// A box to send has an empty key, which would end the box early.
    #[error("local key is empty")]
    EmptyKey,
    /// A box to send has a value over 65535 bytes.
    #[error("local value {key:?} too long: {len}")]
    LocalValueTooLong {
        /// The key, lossily as text.
        key: String,
        /// The value length.
        len: usize,
    },
    /// A received box grew beyond the configured cap before its terminator.
    #[error("box exceeds {limit} bytes without a terminator")]
    BoxTooLarge {
        /// The configured cap.
        limit: usize,
    },
    /// The stream ended inside a box.
    #[error("connection closed inside a box ({0} bytes buffered)")]
    Truncated(usize),
    /// An I/O error from the transport under a `Framed`.
    #[error("i/o: {0}")]
    Io(String),
}

impl From<std::io::Error> for CodecError {
    fn from(e: std::io::Error) -> Self {
        CodecError::Io(e.to_string())
    }
}

/// One AMP box: unique keys, kept sorted bytewise because Twisted sends them
/// sorted and byte-identical output needs the same order. A repeated key on
/// receipt keeps the last value, as Twisted's dict does.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct AmpBox(pub BTreeMap<Bytes, Bytes>);

impl AmpBox {
    /// An empty box.
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets `key` to `value`, replacing an earlier value.
    pub fn insert(&mut self, key: impl Into<Bytes>, value: impl Into<Bytes>) -> &mut Self {
        self.0.insert(key.into(), value.into());
        self
    }

    /// Builder form of [`insert`](Self::insert).
    pub fn with(mut self, key: impl Into<Bytes>, value: impl Into<Bytes>) -> Self {
        self.insert(key, value);
        self
    }

    /// The value of `key`.
    pub fn get(&self, key: &[u8]) -> Option<&Bytes> {
        self.0.get(key)
    }

    /// Removes and returns the value of `key`.
    pub fn remove(&mut self, key: &[u8]) -> Option<Bytes> {
        self.0.remove(key)
    }

    /// Whether the box has `key`.
    pub fn contains(&self, key: &[u8]) -> bool {
        self.0.contains_key(key)
    }

    /// Number of pairs.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether the box has no pairs.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Pairs in wire order.
    pub fn iter(&self) -> impl Iterator<Item = (&Bytes, &Bytes)> {
        self.0.iter()
    }

    /// Bytes this box occupies on the wire.
    pub fn encoded_len(&self) -> usize {
        self.0
            .iter()
            .map(|(k, v)| 4 + k.len() + v.len())
            .sum::<usize>()
            + 2
    }

    /// Checks the limits a sender must respect (spec section 1).
    pub fn check(&self) -> Result<(), CodecError> {
        for (k, v) in &self.0 {
            if k.is_empty() {
                return Err(CodecError::EmptyKey);
            }
            if k.len() > MAX_KEY_LENGTH {
                return Err(CodecError::LocalKeyTooLong(k.len()));
            }
            if v.len() > MAX_VALUE_LENGTH {
                return Err(CodecError::LocalValueTooLong {
                    key: String::from_utf8_lossy(k).into_owned(),
                    len: v.len(),
                });
            }
        }
        Ok(())
    }

    /// Appends the wire form to `out` after checking the limits; on error
    /// nothing is written.
    pub fn encode(&self, out: &mut BytesMut) -> Result<(), CodecError> {
        self.check()?;
        out.reserve(self.encoded_len());
        for (k, v) in &self.0 {
            // Lengths fit u16: checked above.
            out.put_u16(k.len() as u16);
            out.put_slice(k);
            out.put_u16(v.len() as u16);
            out.put_slice(v);
        }
        out.put_u16(0);
        Ok(())
    }

    /// The wire form as a new buffer.
    pub fn to_bytes(&self) -> Result<Bytes, CodecError> {
        let mut out = BytesMut::new();
        self.encode(&mut out)?;
        Ok(out.freeze())
    }

    /// Parses exactly one complete box from `bytes` (as nested in an `AmpList`
    /// value); returns the box and the bytes consumed, or `None` if incomplete.
    pub fn parse_prefix(bytes: &Bytes) -> Result<Option<(AmpBox, usize)>, CodecError> {
        match scan(bytes, 0, usize::MAX)? {
            Scan::Complete(end) => {
                let b = collect(&bytes.slice(..end));
                Ok(Some((b, end)))
            }
            Scan::Partial(_) => Ok(None),
        }
    }
}

impl<K: Into<Bytes>, V: Into<Bytes>> FromIterator<(K, V)> for AmpBox {
    fn from_iter<I: IntoIterator<Item = (K, V)>>(iter: I) -> Self {
        AmpBox(
            iter.into_iter()
                .map(|(k, v)| (k.into(), v.into()))
                .collect(),
        )
    }
}

enum Scan {
    /// The box ends at this offset (after its terminator).
    Complete(usize),
    /// The box is incomplete; every pair before this offset is whole.
    Partial(usize),
}

/// Walks pairs from `from` (a pair boundary) without copying.
fn scan(buf: &[u8], mut pos: usize, limit: usize) -> Result<Scan, CodecError> {
    loop {
        if pos > limit {
            return Err(CodecError::BoxTooLarge { limit });
        }
        let Some(kl) = buf.get(pos..pos + 2) else {
            return Ok(Scan::Partial(pos));
        };
        let klen = u16::from_be_bytes([kl[0], kl[1]]) as usize;
        if klen == 0 {
            return Ok(Scan::Complete(pos + 2));
        }
        if klen > MAX_KEY_LENGTH {
            return Err(CodecError::KeyTooLong(klen));
        }
        let vl_at = pos + 2 + klen;
        let Some(vl) = buf.get(vl_at..vl_at + 2) else {
            return Ok(Scan::Partial(pos));
        };
        let vlen = u16::from_be_bytes([vl[0], vl[1]]) as usize;
        let end = vl_at + 2 + vlen;
        if end > buf.len() {
            if end > limit.saturating_add(2) {
                return Err(CodecError::BoxTooLarge { limit });
            }
            return Ok(Scan::Partial(pos));
        }
        pos = end;
    }
}

/// Builds the box from a complete, already validated frame.
fn collect(frame: &Bytes) -> AmpBox {
    let mut map = BTreeMap::new();
    let mut pos = 0;
    while pos + 2 <= frame.len() {
        let klen = u16::from_be_bytes([frame[pos], frame[pos + 1]]) as usize;
        if klen == 0 {
            break;
        }
        let key = frame.slice(pos + 2..pos + 2 + klen);
        let vl_at = pos + 2 + klen;
        let vlen = u16::from_be_bytes([frame[vl_at], frame[vl_at + 1]]) as usize;
        let value = frame.slice(vl_at + 2..vl_at + 2 + vlen);
        map.insert(key, value);
        pos = vl_at + 2 + vlen;
    }
    AmpBox(map)
}

/// Incremental box decoder/encoder for `tokio_util`'s `Framed`.
///
/// Remembers how far the current partial box was validated, so a large box
/// arriving in small pieces is scanned once, not once per read.
#[derive(Debug, Clone)]
pub struct BoxCodec {
    scanned: usize,
    max_box_bytes: usize,
}

impl Default for BoxCodec {
    fn default() -> Self {
        Self::new(DEFAULT_MAX_BOX_BYTES)
    }
}

impl BoxCodec {
    /// A codec refusing boxes larger than `max_box_bytes`.
    pub fn new(max_box_bytes: usize) -> Self {
        Self {
            scanned: 0,
            max_box_bytes,
        }
    }
}

impl Decoder for BoxCodec {
    type Item = AmpBox;
    type Error = CodecError;

    fn decode(&mut self, src: &mut BytesMut) -> Result<Option<AmpBox>, CodecError> {
        match scan(src, self.scanned, self.max_box_bytes)? {
            Scan::Complete(end) => {
                self.scanned = 0;
                let frame = src.split_to(end).freeze();
                Ok(Some(collect(&frame)))
            }
            Scan::Partial(pos) => {
                self.scanned = pos;
                Ok(None)
            }
        }
    }

    fn decode_eof(&mut self, src: &mut BytesMut) -> Result<Option<AmpBox>, CodecError> {
        match self.decode(src)? {
            Some(b) => Ok(Some(b)),
            None if src.is_empty() => Ok(None),
            None => Err(CodecError::Truncated(src.len())),
        }
    }
}

impl Encoder<AmpBox> for BoxCodec {
    type Error = CodecError;

    fn encode(&mut self, item: AmpBox, dst: &mut BytesMut) -> Result<(), CodecError> {
        item.encode(dst)
    }
}

impl Encoder<&AmpBox> for BoxCodec {
    type Error = CodecError;

    fn encode(&mut self, item: &AmpBox, dst: &mut BytesMut) -> Result<(), CodecError> {
        item.encode(dst)
    }
}

/// Decodes every complete box in `bytes` (tests, tools); the remainder must be
/// empty or an error is returned.
pub fn decode_all(bytes: &[u8]) -> Result<Vec<AmpBox>, CodecError> {
    let mut codec = BoxCodec::default();
    let mut buf = BytesMut::from(bytes);
    let mut out = Vec::new();
    while let Some(b) = codec.decode(&mut buf)? {
        out.push(b);
    }
    if buf.has_remaining() {
        return Err(CodecError::Truncated(buf.len()));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn sample() -> AmpBox {
        AmpBox::new()
            .with(&b"_ask"[..], &b"1"[..])
            .with(&b"_command"[..], &b"Sum"[..])
            .with(&b"a"[..], &b"13"[..])
    }

    #[test]
    fn every_split_of_two_boxes_decodes() {
        let mut wire = sample().to_bytes().unwrap().to_vec();
        wire.extend_from_slice(&sample().to_bytes().unwrap());
        for cut in 0..=wire.len() {
            let mut codec = BoxCodec::default();
            let mut buf = BytesMut::new();
            let mut got = Vec::new();
            for part in [&wire[..cut], &wire[cut..]] {
                buf.extend_from_slice(part);
                while let Some(b) = codec.decode(&mut buf).unwrap() {
                    got.push(b);
                }
            }
            assert_eq!(got, vec![sample(), sample()], "cut at {cut}");
        }
    }

    #[test]
    fn key_length_over_255_is_refused() {
        let mut buf = BytesMut::from(&[0x01, 0x00, b'x'][..]);
        assert_eq!(
            BoxCodec::default().decode(&mut buf),
            Err(CodecError::KeyTooLong(256))
        );
    }

    #[test]
    fn limits_are_enforced_when_sending() {
        let long_key = AmpBox::new().with(vec![b'k'; 256], &b""[..]);
        assert_eq!(long_key.check(), Err(CodecError::LocalKeyTooLong(256)));
        let ok_key = AmpBox::new().with(vec![b'k'; 255], vec![0u8; MAX_VALUE_LENGTH]);
        assert!(ok_key.check().is_ok());
        let long_value = AmpBox::new().with(&b"k"[..], vec![0u8; 65536]);
        assert!(matches!(
            long_value.check(),
            Err(CodecError::LocalValueTooLong { len: 65536, .. })
        ));
        assert_eq!(
            AmpBox::new().with(Bytes::new(), &b"v"[..]).check(),
            Err(CodecError::EmptyKey)
        );
    }

    #[test]
    fn duplicate_key_keeps_last_value() {
        let wire = [0, 1, b'a', 0, 1, b'1', 0, 1, b'a', 0, 1, b'2', 0, 0];
        let boxes = decode_all(&wire).unwrap();
        assert_eq!(boxes[0].get(b"a").unwrap().as_ref(), b"2");
    }

    #[test]
    fn oversized_box_is_refused_before_buffering_it() {
        let mut codec = BoxCodec::new(100);
        let mut buf = BytesMut::new();
        for _ in 0..10 {
            buf.extend_from_slice(&[0, 1, b'k', 0, 20]);
            buf.extend_from_slice(&[b'v'; 20]);
        }
        assert_eq!(
            codec.decode(&mut buf),
            Err(CodecError::BoxTooLarge { limit: 100 })
        );
    }

    #[test]
    fn truncated_stream_is_an_error_at_eof() {
        let wire = sample().to_bytes().unwrap();
        let mut buf = BytesMut::from(&wire[..wire.len() - 1]);
        let mut codec = BoxCodec::default();
        assert_eq!(codec.decode(&mut buf), Ok(None));
        assert!(matches!(
            codec.decode_eof(&mut buf),
            Err(CodecError::Truncated(_))
        ));
    }

    fn arb_box() -> impl Strategy<Value = AmpBox> {
        prop::collection::btree_map(
            prop::collection::vec(any::<u8>(), 1..=255).prop_map(Bytes::from),
            prop::collection::vec(any::<u8>(), 0..300).prop_map(Bytes::from),
            0..8,
        )
        .prop_map(AmpBox)
    }

    proptest! {
        #[test]
        fn decoder_never_panics(data in prop::collection::vec(any::<u8>(), 0..2048), cut in 0usize..2048) {
            let mut codec = BoxCodec::new(4096);
            let mut buf = BytesMut::new();
            let cut = cut.min(data.len());
            for part in [&data[..cut], &data[cut..]] {
                buf.extend_from_slice(part);
                while let Ok(Some(_)) = codec.decode(&mut buf) {}
            }
        }

        #[test]
        fn encode_decode_round_trips(b in arb_box(), cut in 0usize..4096) {
            let wire = b.to_bytes().unwrap();
            let cut = cut.min(wire.len());
            let mut codec = BoxCodec::default();
            let mut buf = BytesMut::from(&wire[..cut]);
            let first = codec.decode(&mut buf).unwrap();
            buf.extend_from_slice(&wire[cut..]);
            let got = match first {
                Some(x) => x,
                None => codec.decode(&mut buf).unwrap().unwrap(),
            };
            prop_assert_eq!(got, b);
            prop_assert!(buf.is_empty());
        }
    }
}
