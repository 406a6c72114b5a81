//! `tidepool version`.

use crate::cli::Global;
use crate::error::Report;

/// Arguments of `tidepool version`.
#[derive(Debug, clap::Args)]
pub struct Args {}

/// Prints the version, the supported platform and the protocol versions spoken.
pub fn run(_global: &Global, _args: Args) -> Result<(), Report> {
    println!("tidepool {}", env!("CARGO_PKG_VERSION"));
    println!("platform: linux (pools need System V semaphores and FIFOs)");
    Ok(())
}
