//! Groups: Spread-compatible group communication (groups spec,
//! /work/shared/specs/groups.md, Spread 3.16–5.0.1 client protocol).
//!
//! Layers:
//! - `codec`: constants, handshake pieces, the 48-byte header and whole frames
//!   in both byte orders (sans-IO).
//! - `protocol`: the client's view of messages and requests, and the embedded
//!   daemon's semantics: sessions, joins/leaves, membership views, ordering,
//!   SELF_DISCARD, limits and rejects (sans-IO, time passed in).
//! - `store`: the daemon's group table.
//! - `io`: the daemon on TCP and on the Unix socket named after the port, and
//!   the async client over `PORT@HOST` or `PORT`.
//! - `handle`: [`handle::Handle`] for the console and the CLI.

pub mod codec;
pub mod handle;
pub mod io;
pub mod protocol;
pub mod store;

pub use codec::{Endian, GroupId, Name};
pub use handle::Handle;
pub use io::{Client, ConnectOptions, Daemon, DaemonAddr, DaemonConfig};
pub use protocol::{Cause, Message, Service};

/// Errors of the groups engine. Rejects from the daemon during the handshake
/// carry the Spread code; messages the daemon rejects later arrive as
/// [`Message::Reject`] data, not as errors.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Bytes that do not form a valid message.
    #[error("malformed spread message: {0}")]
    Malformed(String),
    /// A request larger than the 144000-byte limit.
    #[error("message of {len} bytes exceeds 144000 (MESSAGE_TOO_LONG)")]
    TooLong {
        /// Header + names + payload.
        len: usize,
    },
    /// The handshake went wrong locally (bad offer, bad accept).
    #[error("spread handshake: {0}")]
    Handshake(String),
    /// The daemon refused the connection with a Spread code.
    #[error("daemon refused the connection: {} ({code}) {}", codec::code_name(*code), codec::code_text(*code))]
    Rejected {
        /// The negative Spread code.
        code: i32,
    },
    /// A request the client library refuses before sending.
    #[error("{what}: {} ({code})", codec::code_name(*code))]
    Illegal {
        /// ILLEGAL_GROUP, ILLEGAL_SERVICE, MESSAGE_TOO_LONG, …
        code: i32,
        /// What was wrong.
        what: String,
    },
    /// The caller's limits are too small for the next message (section 7); the
    /// message stays queued for the next receive.
    #[error("{} ({code}): need {needed}", codec::code_name(*code))]
    TooShort {
        /// BUFFER_TOO_SHORT or GROUPS_TOO_SHORT.
        code: i32,
        /// Bytes or group slots needed.
        needed: usize,
    },
    /// The daemon address does not parse (ILLEGAL_SPREAD).
    #[error("daemon address {0:?}: expected PORT@HOST or PORT (ILLEGAL_SPREAD)")]
    Address(String),
    /// The handle's command queue is full; try again.
    #[error("groups engine busy: command queue full")]
    Busy,
    /// The connection is closed (CONNECTION_CLOSED).
    #[error("connection closed by spread daemon (CONNECTION_CLOSED)")]
    Closed,
    /// No reply within the deadline.
    #[error("timed out after {0:?}")]
    Timeout(std::time::Duration),
    /// Transport failure on an established connection.
    #[error("spread connection: {0}")]
    Transport(#[from] std::io::Error),
    /// Transport failure while connecting.
    #[error("spread connection to {addr}: {source}")]
    Io {
        /// The daemon address.
        addr: String,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
}

impl Error {
    /// The Spread return code closest to this error (for exit messages).
    pub fn code(&self) -> i32 {
        match self {
            Error::Malformed(_) => codec::ILLEGAL_MESSAGE,
            Error::TooLong { .. } => codec::MESSAGE_TOO_LONG,
            Error::Handshake(_) | Error::Closed | Error::Busy | Error::Timeout(_) => {
                codec::CONNECTION_CLOSED
            }
            Error::Rejected { code }
            | Error::Illegal { code, .. }
            | Error::TooShort { code, .. } => *code,
            Error::Address(_) => codec::ILLEGAL_SPREAD,
            Error::Io { .. } | Error::Transport(_) => codec::NET_ERROR_ON_SESSION,
        }
    }
}
