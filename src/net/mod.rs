//! Networking shared by every engine: framed connections, transports (TCP, TLS,
//! a simulated in-memory network), listeners and graceful shutdown.
//!
//! `net` never imports `engine`.

pub mod framing;
pub mod server;
pub mod shutdown;
pub mod tls;
pub mod transport;
