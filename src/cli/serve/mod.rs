//! `tidepool serve`: run one or more engine servers in one process.
//!
//! Each engine's flags and start-up live in their own file here (`pools.rs`,
//! `hive.rs`, …) and are flattened into one command line. Every server binds
//! 127.0.0.1 by default, warns when bound wider without TLS/auth, and drains
//! gracefully on SIGTERM/SIGINT.

use crate::cli::Global;
use crate::error::Report;

pub mod amp;
pub mod groups;
pub mod hive;
pub mod pools;
pub mod rpc;

/// Arguments of `tidepool serve`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Listen address when exactly one engine is served (short for --<engine>-listen).
    #[arg(long, value_name = "ADDR:PORT")]
    pub listen: Option<String>,

    /// Pool server options.
    #[command(flatten, next_help_heading = "Pools")]
    pub pools: pools::Opts,

    /// Hive server options.
    #[command(flatten, next_help_heading = "Hive")]
    pub hive: hive::Opts,

    /// AMP server options.
    #[command(flatten, next_help_heading = "AMP")]
    pub amp: amp::Opts,

    /// simpy.io RPC server options.
    #[command(flatten, next_help_heading = "simpy.io RPC")]
    pub rpc: rpc::Opts,

    /// Groups daemon options.
    #[command(flatten, next_help_heading = "Groups")]
    pub groups: groups::Opts,
}

/// Runs the selected servers until SIGTERM/SIGINT.
pub fn run(_global: &Global, args: Args) -> Result<(), Report> {
    let selected = [
        args.pools.enabled,
        args.hive.enabled,
        args.amp.enabled,
        args.rpc.enabled,
        args.groups.enabled,
    ];
    if !selected.iter().any(|s| *s) {
        return Err(Report::usage(
            "serve: choose at least one of --pools, --hive, --amp, --rpc, --groups",
        ));
    }
    Err(crate::cli::not_built("tidepool serve"))
}
