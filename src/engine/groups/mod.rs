//! Groups: the Spread client protocol, client and embedded daemon (groups spec).
//!
//! Not implemented yet.
