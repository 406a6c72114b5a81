//! Remote pools: the pool TCP protocol, server and client, plain and TLS
//! (plasma spec section 7), wire-compatible with libPlasma's `pool_tcp_server`
//! and its clients.
//!
//! | file | layer | spec |
//! |---|---|---|
//! | `codec.rs` | greeting, hello, `{op, args}` message proteins (sans-IO) | 7.2, 7.3 |
//! | `protocol.rs` | negotiation, retorts and their pre-3 translation, op states, server dispatch (sans-IO) | 7.2-7.7 |
//! | `io.rs` | tokio server over `net::server`, client connections, STARTTLS | 7.1, 7.7 |
//! | `handle.rs` | [`handle::RemoteHandle`]: the console's view of a remote server | — |
//! | `zeroconf.rs` | `_pool-server._tcp` records (sans-IO); announce/browse with the `zeroconf` feature | 10 |
//!
//! Remote failures (retorts) are data: client calls return
//! `Result<Result<T, Retort>, Error>`, where [`Error`] is a transport failure.

pub mod codec;
pub mod handle;
pub mod io;
pub mod protocol;
pub mod zeroconf;

use std::fmt;

/// A retort a server answered with (spec 7.5), in protocol-3 values.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Retort(pub i64);

impl Retort {
    /// The retort's libPlasma name.
    pub fn name(self) -> &'static str {
        protocol::retort_name(self.0)
    }
}

impl fmt::Display for Retort {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({})", self.name(), self.0)
    }
}

/// Transport and protocol failures of the pool TCP engine.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A `tcp://` URI that does not parse.
    #[error("pool uri {uri:?}: {reason}")]
    Uri {
        /// The URI.
        uri: String,
        /// What is wrong.
        reason: String,
    },
    /// Connecting failed.
    #[error("{server}: connect")]
    Connect {
        /// host:port.
        server: String,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
    /// TLS configuration could not be built.
    #[error("{server}: tls configuration")]
    TlsConfig {
        /// host:port.
        server: String,
        /// Why.
        #[source]
        source: crate::net::tls::Error,
    },
    /// The TLS handshake failed.
    #[error("{server}: tls handshake (POOL_TLS_ERROR)")]
    Tls {
        /// host:port.
        server: String,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// `tcps://` against a server that does not offer STARTTLS.
    #[error("{server}: server does not offer TLS (POOL_NO_TLS)")]
    NoTls {
        /// host:port.
        server: String,
    },
    /// The server speaks protocol 0 (pre-2011), which tidepool does not.
    #[error("{server}: protocol-0 server is not supported (OB_VERSION_MISMATCH)")]
    Protocol0 {
        /// host:port.
        server: String,
    },
    /// No common protocol version.
    #[error("{server}: no common protocol version (OB_VERSION_MISMATCH)")]
    NoCommonVersion {
        /// host:port.
        server: String,
    },
    /// The server does not advertise an op.
    #[error("{server}: server does not support op {op} (POOL_UNSUPPORTED_OPERATION)")]
    Unsupported {
        /// host:port.
        server: String,
        /// The op.
        op: i64,
    },
    /// A frame could not be read or written, or the connection broke.
    #[error("{server}: {detail} (POOL_SOCK_BADTH)")]
    Transport {
        /// host:port.
        server: String,
        /// What happened.
        detail: String,
    },
    /// The server closed the connection.
    #[error("{server}: connection closed by the server (POOL_UNEXPECTED_CLOSE)")]
    Closed {
        /// host:port.
        server: String,
    },
    /// A reply that does not fit the op.
    #[error("{server}: op {op}: unexpected reply: {detail} (POOL_PROTOCOL_ERROR)")]
    BadReply {
        /// host:port.
        server: String,
        /// The op asked.
        op: i64,
        /// What is wrong.
        detail: String,
    },
}

/// Result alias of the engine.
pub type Result<T, E = Error> = std::result::Result<T, E>;
