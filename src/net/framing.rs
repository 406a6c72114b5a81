//! The framed-connection helper every engine uses: a [`Stream`] plus a sans-IO
//! codec (tokio-util's `Decoder`/`Encoder`, which are pure: bytes in, frames out),
//! with a read buffer, incremental decoding, write batching, an idle timeout and
//! a cap on the read buffer.
//!
//! Codecs must themselves reject a frame whose declared length exceeds their
//! limit before waiting for it; [`Limits::max_buffer_bytes`] is the backstop for
//! codecs that cannot know a frame's length up front.

use std::io;
use std::time::Duration;

use bytes::BytesMut;
use futures::{SinkExt, StreamExt};
use tokio_util::codec::{Decoder, Encoder, Framed};

use crate::net::shutdown::CloseReason;
use crate::net::transport::{Peer, Stream};

/// Limits of one framed connection.
#[derive(Clone, Debug)]
pub struct Limits {
    /// Close the connection when no frame arrives for this long.
    pub idle_timeout: Option<Duration>,
    /// Close the connection when the read buffer holds more than this without a
    /// complete frame.
    pub max_buffer_bytes: usize,
    /// Flush the write buffer once it holds this much, even mid-batch.
    pub write_batch_bytes: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            idle_timeout: None,
            max_buffer_bytes: 64 * 1024 * 1024,
            write_batch_bytes: 64 * 1024,
        }
    }
}

/// Why reading or writing a frame failed.
#[derive(Debug, thiserror::Error)]
pub enum FrameError<E> {
    /// The codec rejected the bytes (malformed or oversized frame).
    #[error("{0}")]
    Codec(E),
    /// The socket failed.
    #[error("i/o: {0}")]
    Io(#[source] io::Error),
    /// No frame within the idle timeout.
    #[error("idle for {0:?}")]
    Idle(Duration),
    /// The read buffer grew past its cap without yielding a frame.
    #[error("frame larger than {0} bytes")]
    TooLarge(usize),
    /// The peer closed mid-frame.
    #[error("peer closed mid-frame with {0} bytes unread")]
    Truncated(usize),
}

impl<E: std::fmt::Display> FrameError<E> {
    /// The reason to log when this error ends a connection.
    pub fn close_reason(&self) -> CloseReason {
        match self {
            FrameError::Codec(e) => CloseReason::Protocol(e.to_string()),
            FrameError::Io(e) => CloseReason::Io(e.to_string()),
            FrameError::Idle(_) => CloseReason::Idle,
            FrameError::TooLarge(n) => CloseReason::Limit(format!("frame larger than {n} bytes")),
            FrameError::Truncated(n) => {
                CloseReason::Protocol(format!("peer closed mid-frame with {n} bytes unread"))
            }
        }
    }
}

/// Wraps a codec to notice a close mid-frame instead of getting tokio-util's
/// generic "bytes remaining on stream" error.
struct EofAware<C> {
    inner: C,
    truncated: Option<usize>,
}

impl<C: Decoder> Decoder for EofAware<C> {
    type Item = C::Item;
    type Error = C::Error;

    fn decode(&mut self, src: &mut BytesMut) -> Result<Option<C::Item>, C::Error> {
        self.inner.decode(src)
    }

    fn decode_eof(&mut self, src: &mut BytesMut) -> Result<Option<C::Item>, C::Error> {
        let frame = self.inner.decode(src)?;
        if frame.is_none() && !src.is_empty() {
            self.truncated = Some(src.len());
            src.clear();
        }
        Ok(frame)
    }
}

impl<I, C: Encoder<I>> Encoder<I> for EofAware<C> {
    type Error = C::Error;

    fn encode(&mut self, item: I, dst: &mut BytesMut) -> Result<(), C::Error> {
        self.inner.encode(item, dst)
    }
}

/// A connection that reads and writes whole frames of codec `C`.
pub struct Connection<C> {
    framed: Framed<Stream, EofAware<C>>,
    peer: Peer,
    limits: Limits,
}

impl<C> Connection<C> {
    /// Wraps `stream` with `codec`.
    pub fn new(stream: Stream, peer: Peer, codec: C, limits: Limits) -> Self {
        let codec = EofAware {
            inner: codec,
            truncated: None,
        };
        let mut framed = Framed::new(stream, codec);
        framed.set_backpressure_boundary(limits.write_batch_bytes);
        Self {
            framed,
            peer,
            limits,
        }
    }

    /// Wraps `stream` with bytes already read from it (after a protocol switch).
    pub fn with_read_buffer(
        stream: Stream,
        peer: Peer,
        codec: C,
        limits: Limits,
        read: BytesMut,
    ) -> Self {
        let mut conn = Self::new(stream, peer, codec, limits);
        conn.framed.read_buffer_mut().extend_from_slice(&read);
        conn
    }

    /// Who is on the other end.
    pub fn peer(&self) -> &Peer {
        &self.peer
    }

    /// The codec, for protocol state kept in it.
    pub fn codec_mut(&mut self) -> &mut C {
        &mut self.framed.codec_mut().inner
    }

    /// Bytes read but not yet decoded.
    pub fn read_buffer(&self) -> &BytesMut {
        self.framed.read_buffer()
    }

    /// Takes the stream back with any undecoded bytes, for an in-band TLS
    /// upgrade or a switch of codec. Unflushed writes are lost: flush first.
    pub fn into_parts(self) -> (Stream, BytesMut, Peer) {
        let parts = self.framed.into_parts();
        (parts.io, parts.read_buf, self.peer)
    }

    /// Replaces the codec, keeping buffered bytes.
    pub fn map_codec<D>(self, map: impl FnOnce(C) -> D) -> Connection<D> {
        let Connection {
            framed,
            peer,
            limits,
        } = self;
        Connection {
            framed: framed.map_codec(|c| EofAware {
                inner: map(c.inner),
                truncated: c.truncated,
            }),
            peer,
            limits,
        }
    }
}

impl<C> Connection<C>
where
    C: Decoder,
    C::Error: From<io::Error>,
{
    /// Reads the next frame; `Ok(None)` is a clean close by the peer between
    /// frames.
    pub async fn read_frame(&mut self) -> Result<Option<C::Item>, FrameError<C::Error>> {
        let next = match self.limits.idle_timeout {
            Some(idle) => match tokio::time::timeout(idle, self.framed.next()).await {
                Ok(next) => next,
                Err(_) => return Err(FrameError::Idle(idle)),
            },
            None => self.framed.next().await,
        };
        match next {
            Some(Ok(frame)) => Ok(Some(frame)),
            Some(Err(e)) if self.buffer_over_limit() => {
                drop(e);
                Err(FrameError::TooLarge(self.limits.max_buffer_bytes))
            }
            Some(Err(e)) => Err(FrameError::Codec(e)),
            None => match self.framed.codec_mut().truncated.take() {
                Some(unread) => Err(FrameError::Truncated(unread)),
                None => Ok(None),
            },
        }
    }

    /// Whether the read buffer exceeds its cap; call when a codec keeps
    /// returning `Ok(None)` for an unbounded frame.
    pub fn buffer_over_limit(&self) -> bool {
        self.framed.read_buffer().len() > self.limits.max_buffer_bytes
    }
}

impl<C> Connection<C> {
    /// Queues a frame without flushing; call [`flush`](Self::flush) after a batch.
    pub async fn feed<I>(&mut self, item: I) -> Result<(), FrameError<C::Error>>
    where
        C: Encoder<I>,
        C::Error: From<io::Error>,
    {
        self.framed.feed(item).await.map_err(FrameError::Codec)
    }

    /// Writes a frame and flushes.
    pub async fn send<I>(&mut self, item: I) -> Result<(), FrameError<C::Error>>
    where
        C: Encoder<I>,
        C::Error: From<io::Error>,
    {
        self.framed.send(item).await.map_err(FrameError::Codec)
    }

    /// Flushes queued frames.
    pub async fn flush<I>(&mut self) -> Result<(), FrameError<C::Error>>
    where
        C: Encoder<I>,
        C::Error: From<io::Error>,
    {
        SinkExt::<I>::flush(&mut self.framed)
            .await
            .map_err(FrameError::Codec)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::{Buf, BufMut};
    use tokio::io::AsyncWriteExt;

    /// A 2-byte length-prefixed test codec, capped at 100 bytes a frame.
    struct Short;

    impl Decoder for Short {
        type Item = Vec<u8>;
        type Error = io::Error;
        fn decode(&mut self, src: &mut BytesMut) -> io::Result<Option<Vec<u8>>> {
            if src.len() < 2 {
                return Ok(None);
            }
            let len = u16::from_be_bytes([src[0], src[1]]) as usize;
            if len > 100 {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidData,
                    "frame over 100 bytes",
                ));
            }
            if src.len() < 2 + len {
                return Ok(None);
            }
            src.advance(2);
            Ok(Some(src.split_to(len).to_vec()))
        }
    }

    impl Encoder<&[u8]> for Short {
        type Error = io::Error;
        fn encode(&mut self, item: &[u8], dst: &mut BytesMut) -> io::Result<()> {
            dst.put_u16(item.len() as u16);
            dst.put_slice(item);
            Ok(())
        }
    }

    fn pair() -> (Connection<Short>, Stream) {
        let (a, b) = crate::net::transport::memory_pair(1024);
        (
            Connection::new(a, Peer::Memory("test".into()), Short, Limits::default()),
            b,
        )
    }

    #[tokio::test]
    async fn frames_split_anywhere_are_reassembled() {
        let (mut conn, mut raw) = pair();
        tokio::spawn(async move {
            for chunk in [&[0u8][..], &[3, b'a'], &[b'b', b'c', 0, 1], b"z"] {
                raw.write_all(chunk).await.unwrap();
                raw.flush().await.unwrap();
            }
        });
        assert_eq!(conn.read_frame().await.unwrap(), Some(b"abc".to_vec()));
        assert_eq!(conn.read_frame().await.unwrap(), Some(b"z".to_vec()));
        assert_eq!(conn.read_frame().await.unwrap(), None);
    }

    #[tokio::test]
    async fn truncated_and_oversized_frames_are_errors() {
        let (mut conn, mut raw) = pair();
        raw.write_all(&[0, 5, b'a']).await.unwrap();
        drop(raw);
        let err = conn.read_frame().await.unwrap_err();
        assert!(matches!(err, FrameError::Truncated(3)), "{err:?}");

        let (mut conn, mut raw) = pair();
        raw.write_all(&[1, 0]).await.unwrap();
        let err = conn.read_frame().await.unwrap_err();
        assert!(
            matches!(err.close_reason(), CloseReason::Protocol(_)),
            "{err:?}"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn idle_connections_time_out() {
        let (a, _b) = crate::net::transport::memory_pair(1024);
        let limits = Limits {
            idle_timeout: Some(Duration::from_secs(30)),
            ..Limits::default()
        };
        let mut conn = Connection::new(a, Peer::Memory("idle".into()), Short, limits);
        let err = conn.read_frame().await.unwrap_err();
        assert_eq!(err.close_reason(), CloseReason::Idle);
    }

    #[tokio::test]
    async fn batched_writes_arrive_in_order() {
        let (a, b) = crate::net::transport::memory_pair(1 << 16);
        let mut writer = Connection::new(a, Peer::Memory("w".into()), Short, Limits::default());
        let mut reader = Connection::new(b, Peer::Memory("r".into()), Short, Limits::default());
        for i in 0..50u8 {
            writer.feed(&[i][..]).await.unwrap();
        }
        writer.flush::<&[u8]>().await.unwrap();
        for i in 0..50u8 {
            assert_eq!(reader.read_frame().await.unwrap(), Some(vec![i]));
        }
    }
}
