//! AMP: Twisted's Asynchronous Messaging Protocol (`shared/specs/amp.md`).
//!
//! Layers:
//! - [`codec`]: box framing (spec section 1), sans-IO `Decoder`/`Encoder`.
//! - [`types`]: argument types and their exact value bytes (section 3).
//! - [`protocol`]: tags, outstanding calls, dispatch order, error semantics
//!   (sections 2 and 4), sans-IO with time passed in.
//! - [`catalog`]: command schemas from TOML or Rust ([`catalog::CommandDef`]).
//! - [`responder`]: turning requests into outcomes from a schema (typed
//!   decoding, canned and echoed answers) or Rust closures.
//! - [`chunked`]: the opt-in big-value convention (section 3.8).
//! - [`io`]: the tokio peer: one task per connection, calls in both
//!   directions, timeouts, StartTLS, TLS, TCP and UNIX sockets.
//! - [`handle`]: [`handle::AmpHandle`], what the console uses.

pub mod catalog;
pub mod chunked;
pub mod codec;
pub mod handle;
pub mod io;
pub mod protocol;
pub mod responder;
pub mod types;

use std::time::Duration;

pub use codec::AmpBox;

/// Errors of the AMP engine. Remote `_error` answers are not errors: they are
/// [`io::Reply::Remote`] values.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A box could not be framed (limits, truncation).
    #[error("amp framing: {0}")]
    Codec(#[from] codec::CodecError),
    /// An argument or answer value did not match its declared type.
    #[error("amp command {command:?}: {source}")]
    Value {
        /// The command.
        command: String,
        /// What was wrong.
        #[source]
        source: types::ValueError,
    },
    /// A schema file or text is invalid.
    #[error("amp schema {origin}: {reason}")]
    Schema {
        /// File or source name.
        origin: String,
        /// What was wrong.
        reason: String,
    },
    /// A command name not in the loaded schema where one is required.
    #[error("amp command {0:?} is not in the schema")]
    UnknownCommand(String),
    /// A `name=value` argument that does not parse.
    #[error("amp argument {0:?}: expected name=value")]
    Argument(String),
    /// The peer broke the protocol; the connection was closed.
    #[error("amp peer {peer}: protocol violation: {reason}")]
    Protocol {
        /// The peer.
        peer: String,
        /// What happened.
        reason: String,
    },
    /// Connecting or the socket failed.
    #[error("amp {target}: {source}")]
    Io {
        /// Target or peer.
        target: String,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// TLS set-up or StartTLS failed.
    #[error("amp tls with {peer}: {reason}")]
    Tls {
        /// The peer.
        peer: String,
        /// What failed.
        reason: String,
    },
    /// The call got no answer in time; the connection is still usable.
    #[error("amp command {command:?}: no answer within {after:?}")]
    Timeout {
        /// The command.
        command: String,
        /// The timeout.
        after: Duration,
    },
    /// The call was abandoned locally before its answer arrived.
    #[error("amp command {0:?}: abandoned")]
    Abandoned(String),
    /// The connection closed before the answer arrived.
    #[error("amp connection to {peer} closed: {reason}")]
    Closed {
        /// The peer.
        peer: String,
        /// Why.
        reason: String,
    },
    /// A bounded queue is full; try again later.
    #[error("amp: too many queued requests")]
    Busy,
}
