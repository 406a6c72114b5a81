//! tidepool: a terminal monitoring console for Plasma pools, a wrpme-style hive,
//! AMP and simpy.io command endpoints and Spread-style process groups, with the
//! protocol engines it monitors built in.
//!
//! Dependency direction (see `shared/style.md` section 3):
//! `cli` → `tui` → `engine::*` → `net`. Engines never import the console or the CLI.

pub mod cli;
pub mod engine;
pub mod error;
pub mod net;
pub mod tui;
