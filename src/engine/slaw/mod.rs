//! Slaw: the binary encoding of every protein (plasma spec sections 1-4).
//!
//! Not implemented yet.
