//! Remote pools: the pool TCP protocol, server and client, plain and TLS (plasma spec section 7).
//!
//! Not implemented yet.
