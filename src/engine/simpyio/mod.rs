//! simpy.io packets, JSON messages and RPC (simpyio spec).
//!
//! Not implemented yet.
