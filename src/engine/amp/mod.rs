//! AMP: Twisted's Asynchronous Messaging Protocol (amp spec).
//!
//! Not implemented yet.
