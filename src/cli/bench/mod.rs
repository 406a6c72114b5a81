//! `tidepool bench <engine>`: measure an engine against its baseline in the same
//! run, with the same CPU pinning on both sides, and print a table.

use crate::cli::Global;

pub mod amp;
pub mod console;
pub mod groups;
pub mod hive;
pub mod pool;
pub mod pool_tcp;
pub mod rpc;
pub mod slaw;
use crate::error::Report;

/// Arguments of `tidepool bench`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Which engine to measure.
    #[arg(value_enum)]
    pub engine: Engine,

    /// Shorter runs (for smoke tests); figures are then only indicative.
    #[arg(long)]
    pub quick: bool,
}

/// Engines with a benchmark.
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum Engine {
    /// Slaw encode/decode/view against memcpy.
    Slaw,
    /// Local mmap pools.
    Pool,
    /// Pool TCP server and client.
    PoolTcp,
    /// The console's render and tail path.
    Console,
    /// Hive server against redis-server.
    Hive,
    /// AMP against Twisted.
    Amp,
    /// simpy.io RPC against the Python peer.
    Rpc,
    /// Groups daemon.
    Groups,
}

/// Runs one benchmark.
pub fn run(_global: &Global, args: Args) -> Result<(), Report> {
    match args.engine {
        Engine::Slaw => slaw::run(args.quick),
        Engine::Pool => pool::run(args.quick),
        Engine::PoolTcp => pool_tcp::run(args.quick),
        other => Err(crate::cli::not_built(
            &format!("tidepool bench {other:?}").to_lowercase(),
        )),
    }
}
