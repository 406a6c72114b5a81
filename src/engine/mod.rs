//! Protocol engines. Each engine keeps a sans-IO core (codec, protocol state,
//! store) apart from its tokio I/O, and is reached by the console only through a
//! small handle (bounded channels for events, watch channels for counters).
//!
//! No module under `engine` imports `crate::tui` or `crate::cli`.

pub mod amp;
pub mod groups;
pub mod hive;
pub mod pool;
pub mod pool_tcp;
pub mod simpyio;
pub mod slaw;
pub mod stats;
