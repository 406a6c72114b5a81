//! Local mmap pools, byte-compatible with libPlasma (plasma spec sections 5-6).
//!
//! Not implemented yet.
