//! Hive: the wrpme key-value engine, embedded and Redis backends, RESP server (hive spec).
//!
//! Not implemented yet.
