//! RESP2/RESP3 framing for the front door (hive spec section 8.2), sans-IO.
//!
//! [`RequestDecoder`] turns bytes into requests (arrays of bulk strings or inline
//! commands) incrementally: a partial frame is `Ok(None)` and the bulk already
//! parsed is kept, so a 512 MiB value is not re-scanned on every read. Every
//! length is checked against its cap before anything is sized by it.
//! [`encode_reply`] writes replies in RESP2 or RESP3; [`decode_reply`] parses
//! replies (client side and tests).

use bytes::{Buf, BufMut, Bytes, BytesMut};
use tokio_util::codec::{Decoder, Encoder};

/// Redis's `PROTO_INLINE_MAX_SIZE`: inline lines and count lines.
pub const DEFAULT_INLINE_MAX: usize = 64 * 1024;
/// Most elements in one request array (Redis allows `INT_MAX`; the hive is stricter).
pub const MAX_ARRAY_LEN: usize = 1_048_576;
/// Nesting bound of [`decode_reply`].
const MAX_REPLY_DEPTH: usize = 64;

/// A framing violation. `Display` is the exact text after `-ERR ` that Redis
/// sends before closing the connection.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProtocolError {
    /// Inline line longer than the cap without a newline.
    #[error("Protocol error: too big inline request")]
    TooBigInline,
    /// Quotes not closed in an inline line.
    #[error("Protocol error: unbalanced quotes in request")]
    UnbalancedQuotes,
    /// `*` line longer than the cap.
    #[error("Protocol error: too big mbulk count string")]
    TooBigMbulkCount,
    /// `*` count not a number or above the cap.
    #[error("Protocol error: invalid multibulk length")]
    InvalidMultibulkLength,
    /// An element that is not a bulk string.
    #[error("Protocol error: expected '$', got '{0}'")]
    ExpectedDollar(char),
    /// `$` length line longer than the cap.
    #[error("Protocol error: too big bulk count string")]
    TooBigBulkCount,
    /// `$` length not a number, negative or above the cap.
    #[error("Protocol error: invalid bulk length")]
    InvalidBulkLength,
    /// Bulk payload not followed by CRLF (the hive is stricter than Redis here).
    #[error("Protocol error: expected CRLF after bulk")]
    ExpectedCrlf,
    /// Unparsed input over `--client-query-buffer-limit` (closed without reply).
    #[error("query buffer limit exceeded")]
    QueryBufferLimit,
    /// Transport failure while reading (only from the tokio-util adapter).
    #[error("i/o error: {0}")]
    Io(String),
}

impl From<std::io::Error> for ProtocolError {
    fn from(e: std::io::Error) -> Self {
        ProtocolError::Io(e.to_string())
    }
}

/// One request: the command name and its arguments, binary-safe.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    /// `args[0]` is the command name; never empty.
    pub args: Vec<Bytes>,
    /// Whether it came as an inline command.
    pub inline: bool,
}

struct Partial {
    remaining: usize,
    args: Vec<Bytes>,
    bulk: Option<usize>,
}

/// Incremental request decoder with the section 8.2 caps.
pub struct RequestDecoder {
    max_bulk: usize,
    inline_max: usize,
    partial: Option<Partial>,
}

impl RequestDecoder {
    /// A decoder with a bulk cap (`--max-entry-bytes`) and inline cap.
    pub fn new(max_bulk: u64, inline_max: usize) -> Self {
        Self {
            max_bulk: usize::try_from(max_bulk).unwrap_or(usize::MAX),
            inline_max,
            partial: None,
        }
    }

    /// Whether a request is partly parsed (a half-sent request).
    pub fn is_mid_request(&self) -> bool {
        self.partial.is_some()
    }
}

impl Default for RequestDecoder {
    fn default() -> Self {
        Self::new(super::DEFAULT_MAX_ENTRY_BYTES, DEFAULT_INLINE_MAX)
    }
}

fn find_crlf(buf: &[u8], limit: usize) -> Option<usize> {
    let end = buf.len().min(limit.saturating_add(2));
    buf[..end].windows(2).position(|w| w == b"\r\n")
}

fn parse_int(digits: &[u8]) -> Option<i64> {
    if digits.is_empty() || digits.len() > 20 {
        return None;
    }
    std::str::from_utf8(digits).ok()?.parse().ok()
}

impl Decoder for RequestDecoder {
    type Item = Request;
    type Error = ProtocolError;

    fn decode(&mut self, buf: &mut BytesMut) -> Result<Option<Request>, ProtocolError> {
        loop {
            let Some(partial) = self.partial.as_mut() else {
                if buf.is_empty() {
                    return Ok(None);
                }
                if buf[0] == b'*' {
                    let Some(pos) = find_crlf(buf, self.inline_max) else {
                        if buf.len() > self.inline_max {
                            return Err(ProtocolError::TooBigMbulkCount);
                        }
                        return Ok(None);
                    };
                    let n = parse_int(&buf[1..pos]).ok_or(ProtocolError::InvalidMultibulkLength)?;
                    if n > MAX_ARRAY_LEN as i64 {
                        return Err(ProtocolError::InvalidMultibulkLength);
                    }
                    buf.advance(pos + 2);
                    if n <= 0 {
                        // `*0` and `*-1` are ignored without a reply, as Redis does
                        continue;
                    }
                    let n = n as usize;
                    self.partial = Some(Partial {
                        remaining: n,
                        args: Vec::with_capacity(n.min(64)),
                        bulk: None,
                    });
                    continue;
                }
                let Some(pos) = buf
                    .iter()
                    .take(self.inline_max.saturating_add(1))
                    .position(|b| *b == b'\n')
                else {
                    if buf.len() > self.inline_max {
                        return Err(ProtocolError::TooBigInline);
                    }
                    return Ok(None);
                };
                let line = buf.split_to(pos + 1);
                let line = line.strip_suffix(b"\n").unwrap_or(&line);
                let line = line.strip_suffix(b"\r").unwrap_or(line);
                let args = split_inline(line)?;
                if args.is_empty() {
                    continue;
                }
                return Ok(Some(Request { args, inline: true }));
            };
            while partial.remaining > 0 {
                let len = match partial.bulk {
                    Some(len) => len,
                    None => {
                        let Some(&first) = buf.first() else {
                            return Ok(None);
                        };
                        if first != b'$' {
                            return Err(ProtocolError::ExpectedDollar(char::from(first)));
                        }
                        let Some(pos) = find_crlf(buf, self.inline_max) else {
                            if buf.len() > self.inline_max {
                                return Err(ProtocolError::TooBigBulkCount);
                            }
                            return Ok(None);
                        };
                        let len = parse_int(&buf[1..pos])
                            .and_then(|n| usize::try_from(n).ok())
                            .filter(|n| *n <= self.max_bulk)
                            .ok_or(ProtocolError::InvalidBulkLength)?;
                        buf.advance(pos + 2);
                        partial.bulk = Some(len);
                        len
                    }
                };
                let need = len.saturating_add(2);
                if buf.len() < need {
                    // grow toward the frame in steps; the cap above bounds `len`
                    let want = need - buf.len();
                    buf.reserve(want.min(1 << 20));
                    return Ok(None);
                }
                if &buf[len..need] != b"\r\n" {
                    return Err(ProtocolError::ExpectedCrlf);
                }
                let arg = buf.split_to(len).freeze();
                buf.advance(2);
                partial.args.push(arg);
                partial.bulk = None;
                partial.remaining -= 1;
            }
            let done = self.partial.take().map(|p| p.args).unwrap_or_default();
            return Ok(Some(Request {
                args: done,
                inline: false,
            }));
        }
    }
}

/// Decodes every complete request in `data` (tests and fuzzing).
pub fn decode_requests(
    data: &[u8],
    max_bulk: u64,
    inline_max: usize,
) -> Result<Vec<Request>, ProtocolError> {
    let mut decoder = RequestDecoder::new(max_bulk, inline_max);
    let mut buf = BytesMut::from(data);
    let mut out = Vec::new();
    while let Some(r) = decoder.decode(&mut buf)? {
        out.push(r);
    }
    Ok(out)
}

/// Encodes a request into a fresh buffer.
pub fn request_bytes(args: &[Bytes]) -> Vec<u8> {
    let mut out = BytesMut::new();
    encode_request(args, &mut out);
    out.to_vec()
}

fn hex(b: u8) -> Option<u8> {
    char::from(b).to_digit(16).map(|d| d as u8)
}

/// Splits an inline command the way `redis-cli` quotes: `"…"` with `\n \r \t
/// \b \a \\ \" \xHH` escapes, `'…'` with only `\'`.
pub fn split_inline(line: &[u8]) -> Result<Vec<Bytes>, ProtocolError> {
    let mut args = Vec::new();
    let mut i = 0;
    while i < line.len() {
        while i < line.len() && line[i].is_ascii_whitespace() {
            i += 1;
        }
        if i >= line.len() {
            break;
        }
        let mut cur = Vec::new();
        match line[i] {
            b'"' => {
                i += 1;
                loop {
                    let Some(&c) = line.get(i) else {
                        return Err(ProtocolError::UnbalancedQuotes);
                    };
                    if c == b'\\' && i + 3 < line.len() && line[i + 1] == b'x' {
                        if let (Some(h), Some(l)) = (hex(line[i + 2]), hex(line[i + 3])) {
                            cur.push(h * 16 + l);
                            i += 4;
                            continue;
                        }
                    }
                    if c == b'\\' && i + 1 < line.len() {
                        cur.push(match line[i + 1] {
                            b'n' => b'\n',
                            b'r' => b'\r',
                            b't' => b'\t',
                            b'b' => 8,
                            b'a' => 7,
                            o => o,
                        });
                        i += 2;
                        continue;
                    }
                    if c == b'"' {
                        i += 1;
                        // a closing quote must be followed by a space or the end
                        if line.get(i).is_some_and(|c| !c.is_ascii_whitespace()) {
                            return Err(ProtocolError::UnbalancedQuotes);
                        }
                        break;
                    }
                    cur.push(c);
                    i += 1;
                }
            }
            b'\'' => {
                i += 1;
                loop {
                    let Some(&c) = line.get(i) else {
                        return Err(ProtocolError::UnbalancedQuotes);
                    };
                    if c == b'\\' && line.get(i + 1) == Some(&b'\'') {
                        cur.push(b'\'');
                        i += 2;
                        continue;
                    }
                    if c == b'\'' {
                        i += 1;
                        if line.get(i).is_some_and(|c| !c.is_ascii_whitespace()) {
                            return Err(ProtocolError::UnbalancedQuotes);
                        }
                        break;
                    }
                    cur.push(c);
                    i += 1;
                }
            }
            _ => {
                while i < line.len() && !line[i].is_ascii_whitespace() {
                    cur.push(line[i]);
                    i += 1;
                }
            }
        }
        args.push(Bytes::from(cur));
    }
    Ok(args)
}

/// Writes a request as an array of bulk strings.
pub fn encode_request(args: &[Bytes], out: &mut BytesMut) {
    out.put_u8(b'*');
    out.put_slice(args.len().to_string().as_bytes());
    out.put_slice(b"\r\n");
    for a in args {
        put_bulk(a, out);
    }
}

/// A RESP reply.
#[derive(Debug, Clone, PartialEq)]
pub enum Reply {
    /// `+text`.
    Simple(String),
    /// `-text` (the full text, e.g. `ERR alias_not_found`).
    Error(String),
    /// `:n`.
    Int(i64),
    /// `$len` bulk string.
    Bulk(Bytes),
    /// nil: `$-1` in RESP2, `_` in RESP3.
    Nil,
    /// `*n`.
    Array(Vec<Reply>),
    /// `%n` in RESP3, a flat array of pairs in RESP2.
    Map(Vec<(Reply, Reply)>),
    /// `=len txt:…` in RESP3, a bulk string in RESP2.
    Verbatim(String),
}

impl Reply {
    /// `+OK`.
    pub fn ok() -> Self {
        Reply::Simple("OK".into())
    }
    /// `-ERR <text>`.
    pub fn err(text: impl std::fmt::Display) -> Self {
        Reply::Error(format!("ERR {text}"))
    }
    /// A bulk string from text.
    pub fn text(s: impl Into<String>) -> Self {
        Reply::Bulk(Bytes::from(s.into()))
    }
}

fn put_len(prefix: u8, n: usize, out: &mut BytesMut) {
    out.put_u8(prefix);
    out.put_slice(itoa::Buffer::new().format(n).as_bytes());
    out.put_slice(b"\r\n");
}

fn put_bulk(b: &[u8], out: &mut BytesMut) {
    out.put_u8(b'$');
    out.put_slice(itoa::Buffer::new().format(b.len()).as_bytes());
    out.put_slice(b"\r\n");
    out.put_slice(b);
    out.put_slice(b"\r\n");
}

fn put_line(prefix: u8, text: &str, out: &mut BytesMut) {
    out.put_u8(prefix);
    // a CR or LF inside a status line would split the frame
    for b in text.bytes() {
        out.put_u8(if b == b'\r' || b == b'\n' { b' ' } else { b });
    }
    out.put_slice(b"\r\n");
}

/// Writes `reply` for protocol version `proto` (2 or 3).
pub fn encode_reply(reply: &Reply, proto: u8, out: &mut BytesMut) {
    match reply {
        Reply::Simple(s) => put_line(b'+', s, out),
        Reply::Error(s) => put_line(b'-', s, out),
        Reply::Int(n) => {
            out.put_u8(b':');
            out.put_slice(itoa::Buffer::new().format(*n).as_bytes());
            out.put_slice(b"\r\n");
        }
        Reply::Bulk(b) => put_bulk(b, out),
        Reply::Nil if proto >= 3 => out.put_slice(b"_\r\n"),
        Reply::Nil => out.put_slice(b"$-1\r\n"),
        Reply::Array(items) => {
            put_len(b'*', items.len(), out);
            for i in items {
                encode_reply(i, proto, out);
            }
        }
        Reply::Map(pairs) => {
            if proto >= 3 {
                out.put_u8(b'%');
                out.put_slice(pairs.len().to_string().as_bytes());
            } else {
                out.put_u8(b'*');
                out.put_slice((pairs.len() * 2).to_string().as_bytes());
            }
            out.put_slice(b"\r\n");
            for (k, v) in pairs {
                encode_reply(k, proto, out);
                encode_reply(v, proto, out);
            }
        }
        Reply::Verbatim(s) if proto >= 3 => {
            out.put_u8(b'=');
            out.put_slice((s.len() + 4).to_string().as_bytes());
            out.put_slice(b"\r\ntxt:");
            out.put_slice(s.as_bytes());
            out.put_slice(b"\r\n");
        }
        Reply::Verbatim(s) => put_bulk(s.as_bytes(), out),
    }
}

/// Server-side encoder for `Framed`: the protocol version is fixed per call site.
pub struct ReplyEncoder {
    /// 2 or 3.
    pub proto: u8,
}

impl Encoder<&Reply> for ReplyEncoder {
    type Error = std::io::Error;
    fn encode(&mut self, item: &Reply, dst: &mut BytesMut) -> Result<(), std::io::Error> {
        encode_reply(item, self.proto, dst);
        Ok(())
    }
}

/// A malformed reply (client side).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("malformed RESP reply: {0}")]
pub struct ReplyError(pub &'static str);

/// Parses one reply from the front of `buf`; `Ok(None)` means incomplete.
/// Returns the reply and the bytes it used.
pub fn decode_reply(buf: &[u8], max_bulk: usize) -> Result<Option<(Reply, usize)>, ReplyError> {
    decode_at(buf, 0, max_bulk, 0)
}

fn line_at(buf: &[u8], at: usize) -> Option<(&[u8], usize)> {
    let rest = buf.get(at..)?;
    let pos = rest.windows(2).position(|w| w == b"\r\n")?;
    Some((&rest[..pos], at + pos + 2))
}

fn decode_at(
    buf: &[u8],
    at: usize,
    max_bulk: usize,
    depth: usize,
) -> Result<Option<(Reply, usize)>, ReplyError> {
    if depth > MAX_REPLY_DEPTH {
        return Err(ReplyError("nested too deep"));
    }
    let Some(&kind) = buf.get(at) else {
        return Ok(None);
    };
    let Some((line, next)) = line_at(buf, at + 1) else {
        if buf.len() - at > DEFAULT_INLINE_MAX {
            return Err(ReplyError("header line too long"));
        }
        return Ok(None);
    };
    let text = || String::from_utf8_lossy(line).into_owned();
    let int = || parse_int(line).ok_or(ReplyError("bad integer"));
    match kind {
        b'+' => Ok(Some((Reply::Simple(text()), next))),
        b'-' => Ok(Some((Reply::Error(text()), next))),
        b':' => Ok(Some((Reply::Int(int()?), next))),
        b'_' => Ok(Some((Reply::Nil, next))),
        b'$' | b'=' => {
            let n = int()?;
            if n < 0 {
                return Ok(Some((Reply::Nil, next)));
            }
            let n = usize::try_from(n).map_err(|_| ReplyError("bad length"))?;
            if n > max_bulk {
                return Err(ReplyError("bulk over the cap"));
            }
            let end = next.saturating_add(n);
            if buf.len() < end.saturating_add(2) {
                return Ok(None);
            }
            if &buf[end..end + 2] != b"\r\n" {
                return Err(ReplyError("missing CRLF after bulk"));
            }
            let body = &buf[next..end];
            let reply = if kind == b'=' {
                let body = body.get(4..).unwrap_or_default();
                Reply::Verbatim(String::from_utf8_lossy(body).into_owned())
            } else {
                Reply::Bulk(Bytes::copy_from_slice(body))
            };
            Ok(Some((reply, end + 2)))
        }
        b'*' | b'%' => {
            let n = int()?;
            if n < 0 {
                return Ok(Some((Reply::Nil, next)));
            }
            let n = usize::try_from(n).map_err(|_| ReplyError("bad length"))?;
            if n > MAX_ARRAY_LEN {
                return Err(ReplyError("array over the cap"));
            }
            let count = if kind == b'%' { n * 2 } else { n };
            let mut items = Vec::with_capacity(count.min(64));
            let mut pos = next;
            for _ in 0..count {
                match decode_at(buf, pos, max_bulk, depth + 1)? {
                    Some((r, p)) => {
                        items.push(r);
                        pos = p;
                    }
                    None => return Ok(None),
                }
            }
            if kind == b'%' {
                let mut pairs = Vec::with_capacity(n);
                let mut it = items.into_iter();
                while let (Some(k), Some(v)) = (it.next(), it.next()) {
                    pairs.push((k, v));
                }
                Ok(Some((Reply::Map(pairs), pos)))
            } else {
                Ok(Some((Reply::Array(items), pos)))
            }
        }
        _ => Err(ReplyError("unknown type byte")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn decode_all(input: &[u8]) -> Result<Vec<Request>, ProtocolError> {
        let mut d = RequestDecoder::new(1024, 64);
        let mut buf = BytesMut::from(input);
        let mut out = Vec::new();
        while let Some(r) = d.decode(&mut buf)? {
            out.push(r);
        }
        Ok(out)
    }

    #[test]
    fn decodes_array_and_inline_requests() {
        let r = decode_all(b"*2\r\n$3\r\nGET\r\n$1\r\na\r\nPING\r\n").unwrap();
        assert_eq!(r.len(), 2);
        assert_eq!(r[0].args, vec![Bytes::from("GET"), Bytes::from("a")]);
        assert_eq!(r[1].args, vec![Bytes::from("PING")]);
        assert!(r[1].inline);
    }

    #[test]
    fn empty_frames_are_ignored() {
        assert!(decode_all(b"*0\r\n*-1\r\n\r\n\n").unwrap().is_empty());
    }

    #[test]
    fn truncated_frames_wait_for_more() {
        let full = b"*2\r\n$3\r\nSET\r\n$5\r\nhello\r\n";
        for cut in 0..full.len() {
            assert!(decode_all(&full[..cut]).unwrap().is_empty(), "cut {cut}");
        }
        let mut d = RequestDecoder::new(1024, 64);
        let mut buf = BytesMut::new();
        let mut got = None;
        for b in full {
            buf.put_u8(*b);
            if let Some(r) = d.decode(&mut buf).unwrap() {
                got = Some(r);
            }
        }
        assert_eq!(got.unwrap().args.len(), 2);
    }

    #[test]
    fn malformed_frames_get_redis_texts() {
        let cases: &[(&[u8], &str)] = &[
            (b"*x\r\n", "Protocol error: invalid multibulk length"),
            (b"*99999999\r\n", "Protocol error: invalid multibulk length"),
            (b"*1\r\n+GET\r\n", "Protocol error: expected '$', got '+'"),
            (b"*1\r\n$-3\r\n", "Protocol error: invalid bulk length"),
            (b"*1\r\n$2000\r\n", "Protocol error: invalid bulk length"),
            (
                b"*1\r\n$1\r\nab\r\n",
                "Protocol error: expected CRLF after bulk",
            ),
            (
                b"SET \"a b\r\n",
                "Protocol error: unbalanced quotes in request",
            ),
        ];
        for (input, text) in cases {
            let e = decode_all(input).unwrap_err();
            assert_eq!(e.to_string(), *text, "{input:?}");
        }
        assert_eq!(
            decode_all(&[b'a'; 100]).unwrap_err(),
            ProtocolError::TooBigInline
        );
        let mut long = b"*".to_vec();
        long.extend_from_slice(&[b'1'; 100]);
        assert_eq!(
            decode_all(&long).unwrap_err(),
            ProtocolError::TooBigMbulkCount
        );
    }

    #[test]
    fn inline_quoting_follows_redis_cli() {
        let args = split_inline(br#"set "a\x41\n" 'it\'s' plain"#).unwrap();
        assert_eq!(args[1], Bytes::from_static(b"aA\n"));
        assert_eq!(args[2], Bytes::from_static(b"it's"));
        assert_eq!(args[3], Bytes::from_static(b"plain"));
        assert!(split_inline(br#""abc"def"#).is_err());
    }

    #[test]
    fn replies_encode_per_protocol() {
        let mut out = BytesMut::new();
        encode_reply(&Reply::Nil, 2, &mut out);
        encode_reply(&Reply::Nil, 3, &mut out);
        encode_reply(
            &Reply::Map(vec![(Reply::text("a"), Reply::Int(1))]),
            3,
            &mut out,
        );
        assert_eq!(&out[..], b"$-1\r\n_\r\n%1\r\n$1\r\na\r\n:1\r\n");
    }

    fn arb_reply() -> impl Strategy<Value = Reply> {
        let leaf = prop_oneof![
            "[a-zA-Z0-9 ]{0,20}".prop_map(Reply::Simple),
            "[a-zA-Z0-9 ]{0,20}".prop_map(Reply::Error),
            any::<i64>().prop_map(Reply::Int),
            proptest::collection::vec(any::<u8>(), 0..64).prop_map(|v| Reply::Bulk(v.into())),
            Just(Reply::Nil),
        ];
        leaf.prop_recursive(3, 32, 8, |inner| {
            prop_oneof![
                proptest::collection::vec(inner.clone(), 0..8).prop_map(Reply::Array),
                proptest::collection::vec((inner.clone(), inner), 0..4).prop_map(Reply::Map),
            ]
        })
    }

    proptest! {
        #[test]
        fn request_decoder_never_panics(input in proptest::collection::vec(any::<u8>(), 0..512)) {
            let _ = decode_all(&input);
        }

        #[test]
        fn reply_decoder_never_panics(input in proptest::collection::vec(any::<u8>(), 0..512)) {
            let _ = decode_reply(&input, 1024);
        }

        #[test]
        fn requests_round_trip(args in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..100), 1..8)) {
            let args: Vec<Bytes> = args.into_iter().map(Bytes::from).collect();
            let mut buf = BytesMut::new();
            encode_request(&args, &mut buf);
            let mut d = RequestDecoder::new(1024, 64);
            let got = d.decode(&mut buf).unwrap().unwrap();
            prop_assert_eq!(got.args, args);
            prop_assert!(buf.is_empty());
        }

        #[test]
        fn replies_round_trip_resp3(reply in arb_reply()) {
            let mut buf = BytesMut::new();
            encode_reply(&reply, 3, &mut buf);
            let (got, used) = decode_reply(&buf, 1 << 20).unwrap().unwrap();
            prop_assert_eq!(used, buf.len());
            prop_assert_eq!(got, reply);
        }
    }
}
