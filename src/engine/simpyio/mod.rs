//! simpy.io packets, JSON messages and RPC (spec: `specs/simpyio.md`).
//!
//! Layers, each in its own file:
//! - [`json`]: JSON exactly as Python's `json` module reads and writes it
//!   (§2.3), with the `__type__` boxes of §2.4 (sans-IO);
//! - [`codec`]: 4-byte big-endian packets (§1) and `[type, id, content]`
//!   messages (§2) as tokio-util `Decoder`/`Encoder`s (sans-IO);
//! - [`protocol`]: ids, the pending table, `message_limit`, timeouts with time
//!   passed in, and RPC `[path, args, kwargs]` dispatch to nested handlers (§3)
//!   (sans-IO);
//! - [`io`]: one tokio task per connection running both peers' calls over any
//!   [`crate::net::transport::Stream`] (TCP, TLS, in-memory, simulated);
//! - [`mock`]: the echo/mock service `tidepool serve --rpc` exposes;
//! - [`handle`]: [`handle::RpcHandle`], what the console uses.

pub mod codec;
pub mod handle;
pub mod io;
pub mod json;
pub mod mock;
pub mod protocol;

use std::time::Duration;

pub use codec::{Message, MessageCodec, PacketCodec};
pub use io::{Client, Options, Service};
pub use json::Json;
pub use protocol::{Call, Failure, Reply};

/// Errors of the simpy.io engine. A FAILURE reply is not an error: it is a
/// [`Reply::Failure`].
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Could not reach the peer.
    #[error("connecting to {target}")]
    Connect {
        /// Where we tried to connect.
        target: String,
        /// Why it failed.
        #[source]
        source: std::io::Error,
    },
    /// The TLS handshake failed.
    #[error("tls with {target}")]
    Tls {
        /// The peer.
        target: String,
        /// Why it failed.
        #[source]
        source: std::io::Error,
    },
    /// The connection ended before the reply came.
    #[error("connection closed ({reason}) while calling {path:?}")]
    Closed {
        /// The method that was pending.
        path: String,
        /// Why the connection closed.
        reason: String,
    },
    /// No reply within the timeout; the request was abandoned.
    #[error("no reply to {path:?} within {after:?}")]
    Timeout {
        /// The method.
        path: String,
        /// The timeout.
        after: Duration,
    },
    /// Too many outstanding requests (simpy.io's `MessageOverflowError`).
    #[error("calling {path:?}: {source}")]
    Overflow {
        /// The method.
        path: String,
        /// The limit hit.
        #[source]
        source: protocol::Overflow,
    },
    /// The request would not fit in one packet; nothing was sent.
    #[error("calling {path:?}: request of {size} bytes exceeds max_packet_size {max}")]
    TooLarge {
        /// The method.
        path: String,
        /// Encoded size.
        size: usize,
        /// The limit.
        max: usize,
    },
    /// The call was abandoned by the caller.
    #[error("call to {path:?} abandoned")]
    Abandoned {
        /// The method.
        path: String,
    },
}
