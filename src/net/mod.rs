//! Networking shared by every engine: framed connections, transports (TCP, TLS,
//! a simulated in-memory network), listeners and graceful shutdown.
//!
//! `net` never imports `engine`.

pub mod shutdown;
